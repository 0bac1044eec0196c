"""The parameter tables of ``config/README.md``, generated from the parameter classes.

Defaults and descriptions live once, in the dataclasses and their docstrings' ``Attributes:``
sections; ``config/README.md`` carries their rendering between marker comments, and a test
checks that it is current. Regenerate with ``python -m drugshift.params.docs config/README.md``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from pathlib import Path

from drugshift.params.base import Params
from drugshift.params.codeae import BaselineParams, CodeAEParams, FinetuneParams
from drugshift.params.scdeal import ScDEALParams

__all__ = ["TABLES", "attribute_docs", "parameter_table", "update_readme"]

#: marker name → (config path, class, keys the config may not set there and why).
TABLES: dict[str, tuple[str, type[Params], dict[str, str]]] = {
    "scdeal": ("scdeal.params", ScDEALParams, {"seed": "top-level `seed`", "mode": "`scdeal.mode`",
                                               **dict.fromkeys(("bulk_fold", "bulk_folds", "split_seed"),
                                                             "ensemble for each member")}),
    "codeae": ("codeae.params", CodeAEParams, {"seed": "top-level `seed`", "variant": "the method's name"}),
    "finetune": ("codeae.finetune", FinetuneParams, {"seed": "top-level `seed`"}),
    "baselines": ("codeae.baselines", BaselineParams, {"seed": "top-level `seed`"}),
}


def attribute_docs(cls: type) -> dict[str, str]:
    """``{attribute: description}`` from the ``Attributes:`` section of ``cls``'s docstring
    (Google style; continuation lines joined)."""
    doc = inspect.getdoc(cls) or ""
    section = doc.split("Attributes:", 1)[1] if "Attributes:" in doc else ""
    out: dict[str, str] = {}
    current: list[str] | None = None
    for line in section.splitlines():
        m = re.match(r"^    (\w+(?:, \w+)*): (.*)$", line)
        if m:
            current = [m.group(2).strip()]
            for name in m.group(1).split(", "):
                out[name] = current  # type: ignore[assignment]
        elif line.startswith("        ") and current is not None:
            current.append(line.strip())
        elif line.strip() and not line.startswith(" "):
            break
    return {k: " ".join(v) for k, v in out.items()}  # type: ignore[arg-type]


def _markdown(text: str) -> str:
    """reStructuredText roles and literals of a docstring as markdown code spans."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _default(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`" if isinstance(value, (list, str)) else str(value)


def _allowed(f: dataclasses.Field) -> str:
    r = f.metadata.get("rule")
    if r is None:
        return ""
    if r.widths:
        return "list of positive int"
    if r.choices is not None:
        return ", ".join(r.choices)
    low = f"≥ {r.ge}" if r.ge is not None else f"> {r.gt}" if r.gt is not None else ""
    high = f"≤ {r.le}" if r.le is not None else f"< {r.lt}" if r.lt is not None else ""
    return ", ".join(x for x in (low, high) if x)


def parameter_table(name: str) -> str:
    """The markdown table of one parameter class: key, meaning, allowed values, default."""
    path, cls, reserved = TABLES[name]
    docs = attribute_docs(cls)
    defaults = cls.defaults()
    rows = ["| key | meaning | allowed | default |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        meaning = _markdown(docs.get(f.name, "")).replace("|", "\\|")
        if f.name in reserved:
            meaning = f"set by the {reserved[f.name]}, not here. {meaning}"
        rows.append(f"| `{path}.{f.name}` | {meaning} | {_allowed(f)} | {_default(defaults[f.name])} |")
    return "\n".join(rows)


def _block(name: str) -> tuple[str, str]:
    return f"<!-- generated: {name} parameters -->", f"<!-- end generated: {name} parameters -->"


def update_readme(text: str) -> str:
    """``text`` with every generated block replaced by the current tables."""
    for name in TABLES:
        start, end = _block(name)
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise ValueError(f"config/README.md has no block {start} … {end}")
        text = pattern.sub(lambda _m: f"{start}\n{parameter_table(name)}\n{end}", text)
    return text


if __name__ == "__main__":  # python -m drugshift.params.docs config/README.md
    readme = Path(sys.argv[1])
    readme.write_text(update_readme(readme.read_text()))
