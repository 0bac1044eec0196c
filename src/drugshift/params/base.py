"""The one base class of drugshift's parameter sets: typed dataclasses built from config mappings.

A parameter set is a ``@dataclass`` that inherits :class:`Params`. :meth:`Params.from_dict`
checks every key against the fields and every value against the field's annotation *before*
the dataclass runs its own range checks, so that a misspelled or ill-typed key fails with the
key's path in the config (``scdeal.params.epochs_dae: expected an integer, got 2.5``).

This module imports neither torch nor numpy: the workflow calls it when Snakemake builds the DAG.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

__all__ = ["ConfigError", "Params", "Rule", "coerce", "rule"]


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type; the message names its path."""


def _is_integral(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or (
        hasattr(value, "__index__") and not isinstance(value, (bool, float, str)))


def coerce(value: Any, annotation: Any, path: str) -> Any:
    """``value`` converted to ``annotation`` where the conversion loses nothing, else
    :class:`ConfigError` naming ``path``.

    * ``int``: integers (and integral floats such as ``500.0``); not ``2.5``, not ``true``.
    * ``float``: any real number, and numeric strings, because YAML 1.1 reads ``1e-4`` (no
      decimal point) as the string ``"1e-4"``.
    * ``bool``, ``str``: exactly that type.
    * ``list[int]``: a list of integers; a single integer is a list of one.
    * ``X | None``: ``None`` (YAML ``null``) or an ``X``.
    """
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        errors = []
        for a in inner:
            try:
                return coerce(value, a, path)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{path}: {value!r} matches none of {inner}")
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        items = [value] if _is_integral(value) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        return [coerce(v, item, f"{path}[{i}]") for i, v in enumerate(items)]
    if annotation is Any:
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: expected true or false, got {value!r}")
    if annotation is int:
        if _is_integral(value):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{path}: expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        if isinstance(value, (int, float)) or _is_integral(value):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{path}: expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{path}: expected a string, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Rule:
    """The allowed values of one parameter: bounds, a set of choices, or layer widths."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple | None = None
    widths: bool = False

    def problem(self, name: str, value) -> str | None:
        """A sentence saying what is wrong with ``value``, or ``None`` (``None`` values pass:
        a nullable parameter is off)."""
        if value is None:
            return None
        if self.widths:
            return None if value and all(w > 0 for w in value) else f"{name} must hold positive layer sizes (got {value})"
        if self.choices is not None:
            return None if value in self.choices else f"{name} must be one of {self.choices} (got {value!r})"
        low = f"[{self.ge}" if self.ge is not None else f"({self.gt}" if self.gt is not None else None
        high = f"{self.le}]" if self.le is not None else f"{self.lt})" if self.lt is not None else None
        ok = ((self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
              and (self.le is None or value <= self.le) and (self.lt is None or value < self.lt))
        if ok:
            return None
        if low and high:
            return f"{name} must be in {low}, {high} (got {value})"
        bound = f">= {self.ge}" if self.ge is not None else f"> {self.gt}" if self.gt is not None else \
            f"<= {self.le}" if self.le is not None else f"< {self.lt}"
        return f"{name} must be {bound} (got {value})"


def rule(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING, **bounds) -> Any:
    """A dataclass field with a :class:`Rule` (``ge``, ``gt``, ``le``, ``lt``, ``choices``,
    ``widths=True``), checked by :meth:`Params.__post_init__`."""
    if "choices" in bounds:
        bounds["choices"] = tuple(bounds["choices"])
    return dataclasses.field(default=default, default_factory=factory, metadata={"rule": Rule(**bounds)})


class Params:
    """Mixin of every parameter dataclass: :meth:`from_dict`, :meth:`to_dict`, :meth:`replace`.

    Fields declared with :func:`rule` are range-checked after construction; rules that relate
    two fields go in :meth:`cross_checks`. Every problem is reported at once.
    """

    #: Name used in messages (``scDEAL``, ``CODE-AE pretraining``, …).
    label: typing.ClassVar[str] = "parameter"

    def __post_init__(self) -> None:
        problems = [r.problem(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)
                    if (r := f.metadata.get("rule")) is not None]
        problems = [p for p in problems if p] + self.cross_checks()
        if problems:
            raise ValueError(f"invalid {self.label} parameters: " + "; ".join(problems))

    def cross_checks(self) -> list[str]:
        """Problems that involve several fields (none by default)."""
        return []

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def defaults(cls) -> dict:
        """Every field's default value (the documented defaults live here and nowhere else)."""
        return cls().to_dict()

    @classmethod
    def from_dict(cls, d: Mapping | None, path: str | None = None):
        """Build from a mapping; missing keys take their defaults.

        Args:
            d: ``{field: value}``.
            path: where ``d`` sits in the config (``scdeal.params``); prefixes every message.

        Raises:
            ConfigError: an unknown key (all are named, with the known ones), a value of the
                wrong type, or a value out of range.
        """
        if isinstance(d, cls):
            return d
        if d is not None and not isinstance(d, Mapping):
            raise ConfigError(f"{path or cls.label}: expected a mapping of {cls.label} parameters, got {d!r}")
        d = dict(d or {})
        where = path or cls.__name__
        hints = typing.get_type_hints(cls)
        known = cls.field_names()
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ConfigError(
                "; ".join(f"{where}.{k}: unknown {cls.label} parameter" for k in unknown)
                + f" (known: {', '.join(sorted(known))})")
        values = {k: coerce(v, hints[k], f"{where}.{k}") for k, v in d.items()}
        try:
            return cls(**values)
        except ConfigError:
            raise
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{where}: {e}") from e

    def to_dict(self) -> dict:
        """Plain-Python form (JSON, YAML and ``torch.load(weights_only=True)`` friendly)."""
        return dataclasses.asdict(self)

    def replace(self, **changes):
        """A copy with ``changes`` applied and checked like :meth:`from_dict`."""
        return type(self).from_dict({**self.to_dict(), **changes})
