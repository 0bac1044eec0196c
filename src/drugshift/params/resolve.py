"""Parameters resolved once: from the workflow's config to the parameter object of one job.

The workflow calls :func:`check_config` when Snakemake builds the DAG (so ``snakemake -n``
rejects a misspelled or ill-typed key, naming its path), and each training rule's script calls
:func:`resolve_scdeal_params` or :func:`resolve_codeae_params` for its own job. Nothing else
merges parameters.

Precedence, lowest first (a key given at two levels takes the later one; no other overwrite):

scDEAL
    :class:`~drugshift.params.ScDEALParams` defaults → ``scdeal.params`` →
    ``scdeal.datasets.<dataset>`` → ``scdeal.evaluation.params`` (evaluation runs only) → the
    tuned selection (``scdeal.tuning``) → the ablation setting's switches
    (:data:`drugshift.methods.SETTINGS`). ``mode`` is ``scdeal.mode`` (a setting may switch it)
    and ``seed`` is the top-level ``seed`` (plus the replicate's offset); neither may be set
    anywhere else.
CODE-AE
    defaults → ``codeae.params`` (pretraining of CODE-AE variants and the ``mlp`` encoder's
    architecture), ``codeae.baselines`` (pretrained baselines), ``codeae.finetune``
    (fine-tuning of every method). ``variant`` follows from the method's name, ``seed`` is the
    top-level ``seed``, and the ``mlp`` baseline fine-tunes every layer from the start
    (``unfreeze: all``), whatever ``codeae.finetune.unfreeze`` says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from drugshift.methods import SETTINGS, method_kind, parse_replicate, replicate_seeds
from drugshift.params.base import ConfigError, Params
from drugshift.params.codeae import BaselineParams, CodeAEParams, FinetuneParams
from drugshift.params.scdeal import ScDEALParams

__all__ = ["CodeAEMethodParams", "check_config", "resolve_codeae_params", "resolve_scdeal_params"]

#: Keys the config sets in one place only: key → where it is set.
_SCDEAL_RESERVED = {"seed": "the top-level `seed`", "mode": "`scdeal.mode`",
                    **dict.fromkeys(("bulk_fold", "bulk_folds", "split_seed"), "the ensemble for each member")}
_CODEAE_RESERVED = {"seed": "the top-level `seed`", "variant": "the method's name (codeae_adv → adv, …)"}


def _section(config: Mapping, path: str) -> Mapping:
    """The mapping at dotted ``path`` of ``config`` (empty when absent)."""
    node = config
    for key in path.split("."):
        node = node.get(key) if isinstance(node, Mapping) else None
        if node is None:
            return {}
    if not isinstance(node, Mapping):
        raise ConfigError(f"{path}: expected a mapping, got {node!r}")
    return node


def _overrides(config: Mapping, path: str, reserved: Mapping[str, str], cls: type[Params]) -> dict:
    """The overrides at ``path``, checked: no reserved key, every key a field of ``cls`` with a
    value of the right type (range checks come when the parameters are built)."""
    d = dict(_section(config, path))
    for key, where in reserved.items():
        if key in d:
            raise ConfigError(f"{path}.{key}: not set here; it is set by {where}")
    cls.from_dict(d, path)  # names a misspelled or ill-typed key by its path
    return d


def resolve_scdeal_params(
    config: Mapping,
    dataset: str,
    setting: str | None = None,
    replicate: str | None = None,
    tuned: Mapping | None = None,
) -> ScDEALParams:
    """The scDEAL parameters of one job (see the module docstring for the precedence).

    Args:
        config: the workflow's config (after schema validation).
        dataset: a key of ``sc.datasets``.
        setting: an ablation setting of :data:`drugshift.methods.SETTINGS`, or ``None`` for the
            dataset's main model (``scdeal.evaluation.params`` then does not apply).
        replicate: ``seed<k>`` / ``sub<k>`` (evaluation runs): the model seed becomes
            ``seed + k`` for ``seed<k>``.
        tuned: hyperparameters selected on bulk validation data (``tuned.json``'s ``selected``).

    Raises:
        ConfigError: an unknown dataset or setting, a reserved key, or a misspelled, ill-typed
            or out-of-range value; the message names the key's path.
    """
    datasets = _section(config, "sc.datasets")
    if dataset not in datasets:
        raise ConfigError(f"sc.datasets: no dataset {dataset!r} (configured: {', '.join(datasets) or 'none'})")
    merged = _overrides(config, "scdeal.params", _SCDEAL_RESERVED, ScDEALParams)
    merged.update(_overrides(config, f"scdeal.datasets.{dataset}", _SCDEAL_RESERVED, ScDEALParams))
    where = f"scdeal.datasets.{dataset} over scdeal.params"
    if setting is not None:
        if setting not in SETTINGS:
            raise ConfigError(f"scdeal.evaluation.settings: unknown setting {setting!r}; known: {', '.join(SETTINGS)}")
        merged.update(_overrides(config, "scdeal.evaluation.params", _SCDEAL_RESERVED, ScDEALParams))
        where += " and scdeal.evaluation.params"
    if tuned:
        merged.update(_overrides({"tuned": dict(tuned)}, "tuned", _SCDEAL_RESERVED, ScDEALParams))
        where += " and the tuned selection"
    seed = int(config.get("seed", ScDEALParams.seed))
    if replicate is not None:
        parse_replicate(replicate)
        seed = replicate_seeds(replicate, seed)[0]
    merged["seed"] = seed
    merged["mode"] = _section(config, "scdeal").get("mode", ScDEALParams.mode)
    if setting is not None:
        merged.update(SETTINGS[setting].params)
    return ScDEALParams.from_dict(merged, f"scDEAL parameters of {dataset} ({where})")


@dataclass(frozen=True)
class CodeAEMethodParams:
    """Everything one CODE-AE benchmark method needs.

    Attributes:
        method: the benchmark name (``codeae_adv``, ``mlp``, ``elasticnet``, …).
        kind: :func:`drugshift.methods.method_kind`.
        pretrain: :class:`CodeAEParams` (CODE-AE variants and DSN), :class:`BaselineParams`
            (pretrained baselines) or ``None`` (``mlp``, shallow baselines).
        architecture: :class:`CodeAEParams` whose encoder widths build the ``mlp``'s encoder.
        finetune: :class:`FinetuneParams`, the same budget for every method.
    """

    method: str
    kind: str
    pretrain: CodeAEParams | BaselineParams | None
    architecture: CodeAEParams
    finetune: FinetuneParams

    def to_dict(self) -> dict:
        return {"method": self.method, "kind": self.kind,
                "pretrain": None if self.pretrain is None else self.pretrain.to_dict(),
                "architecture": self.architecture.to_dict(), "finetune": self.finetune.to_dict()}


def resolve_codeae_params(config: Mapping, method: str) -> CodeAEMethodParams:
    """The parameters of one CODE-AE benchmark method (precedence: module docstring).

    Every section (``codeae.params``, ``codeae.baselines``, ``codeae.finetune``) is checked
    whichever method asks, so that a misspelled key is never silently dropped.

    Raises:
        ConfigError: an unknown method, a reserved key, or a misspelled, ill-typed or
            out-of-range value; the message names the key's path.
    """
    try:
        kind = method_kind(method)
    except ValueError as e:
        raise ConfigError(f"codeae.methods: {e}") from None
    seed = int(config.get("seed", CodeAEParams.seed))
    pre = _overrides(config, "codeae.params", _CODEAE_RESERVED, CodeAEParams)
    base = _overrides(config, "codeae.baselines", {"seed": "the top-level `seed`"}, BaselineParams)
    fine = _overrides(config, "codeae.finetune", {"seed": "the top-level `seed`"}, FinetuneParams)
    from drugshift.methods import CODEAE_VARIANTS

    architecture = CodeAEParams.from_dict({**pre, "seed": seed}, "codeae.params")
    baseline = BaselineParams.from_dict({**base, "seed": seed}, "codeae.baselines")
    finetune = FinetuneParams.from_dict({**fine, "seed": seed}, "codeae.finetune")
    pretrain: CodeAEParams | BaselineParams | None = None
    if kind == "codeae":
        pretrain = architecture.replace(variant=CODEAE_VARIANTS[method])
    elif kind == "pretrained":
        pretrain = baseline
    elif kind == "mlp":
        finetune = finetune.replace(unfreeze="all")
    return CodeAEMethodParams(method, kind, pretrain, architecture, finetune)


#: Dataset and cohort names become folder names (results/sc/<dataset>/, results/patients/<cohort>/):
#: letters, digits, "_" and "-", starting with a letter or digit — no "/", "..", space or leading dot.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _check_names(kind: str, path: str, names) -> None:
    for name in names:
        if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
            raise ConfigError(f"{path}.{name}: a {kind} name may hold only letters, digits, '_' and '-', starting "
                              f"with a letter or digit (pattern {SAFE_NAME.pattern}), since it becomes a folder "
                              f"name; got {name!r}")


def _check_drug_name(path: str, drug) -> None:
    """Drug names are matched verbatim against the response files, whose names hold spaces,
    parentheses and even '/' (GDSC1's ``VNLG/124``), and reach the file system only through the
    workflow's slug (``[a-z0-9-]``); so a drug name needs a letter or digit (a non-empty slug) and
    no control character, nothing more."""
    if not isinstance(drug, str) or not re.search(r"[A-Za-z0-9]", drug) or not drug.isprintable():
        raise ConfigError(f"{path}: a drug name must be printable text with at least one letter or digit "
                          f"(its file name keeps only those); got {drug!r}")


def _configured_drugs(config: Mapping) -> list[str]:
    """Every drug the config names: the datasets', ``labels.drugs`` and ``codeae.drugs``."""
    drugs = [d.get("drug") for d in _section(config, "sc.datasets").values() if isinstance(d, Mapping)]
    drugs += list(_section(config, "labels").get("drugs") or [])
    drugs += list(_section(config, "codeae").get("drugs") or [])
    return list(dict.fromkeys(d for d in drugs if d is not None))


def _check_keys(path: str, keys, known: list[str], what: str) -> None:
    """Keys of a per-dataset / per-drug mapping must be configured ones (an override keyed by a
    misspelled name would be ignored without a word)."""
    for key in keys:
        if key not in known:
            raise ConfigError(f"{path}.{key}: no such {what} (configured: {', '.join(map(str, known)) or 'none'})")


def check_config(config: Mapping) -> None:
    """Resolve every job's parameters once, so that a bad key fails before anything runs.

    Checks, naming the key's path on the first problem:

    * dataset (``sc.datasets``) and cohort (``patients``) names match :data:`SAFE_NAME`, and
      every drug name has a letter or digit and no control character (:func:`_check_drug_name`
      says why drug names are not restricted further);
    * the per-dataset mappings ``scdeal.datasets`` and ``interpret.pseudotime`` name only
      configured datasets, and ``codeae.drug_targets`` only configured drugs;
    * every scDEAL dataset's parameters (and, when evaluation is configured, every setting's), and
      every CODE-AE method's.

    Raises:
        ConfigError: the first problem, naming its path.
    """
    datasets = list(_section(config, "sc.datasets"))
    _check_names("dataset", "sc.datasets", datasets)
    _check_names("cohort", "patients", _section(config, "patients"))
    for name, entry in _section(config, "sc.datasets").items():
        if isinstance(entry, Mapping) and "drug" in entry:
            _check_drug_name(f"sc.datasets.{name}.drug", entry["drug"])
    for section in ("labels", "codeae"):
        for i, drug in enumerate(_section(config, section).get("drugs") or []):
            _check_drug_name(f"{section}.drugs[{i}]", drug)
    _check_keys("scdeal.datasets", _section(config, "scdeal.datasets"), datasets, "dataset in sc.datasets")
    _check_keys("interpret.pseudotime", _section(config, "interpret.pseudotime"), datasets, "dataset in sc.datasets")
    _check_keys("codeae.drug_targets", _section(config, "codeae.drug_targets"), _configured_drugs(config),
                "configured drug")
    settings = list(_section(config, "scdeal").get("evaluation", {}).get("settings", []))
    for ds in datasets:
        resolve_scdeal_params(config, ds)
        for setting in settings:
            resolve_scdeal_params(config, ds, setting, "seed0")
    codeae = _section(config, "codeae")
    if codeae.get("enabled", False) or codeae.get("methods"):
        for method in codeae.get("methods", []):
            resolve_codeae_params(config, method)
