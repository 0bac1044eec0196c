"""What drugshift can run, by name: CODE-AE benchmark methods and scDEAL ablation settings.

Torch-free, so that the workflow can ask which methods need a pretraining job, and check the
names in a config, when Snakemake builds the DAG.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "CODEAE_VARIANTS",
    "PRETRAINED_BASELINES",
    "SETTINGS",
    "SHALLOW_BASELINES",
    "Setting",
    "known_methods",
    "method_kind",
    "needs_pretraining",
    "parse_replicate",
    "replicate_seeds",
]

#: CODE-AE variants and the DSN baselines, by benchmark method name → CODE-AE ``variant``.
CODEAE_VARIANTS = {"codeae_base": "base", "codeae_mmd": "mmd", "codeae_adv": "adv",
                   "dsn_mmd": "dsn_mmd", "dsn_dann": "dsn_dann"}
#: Baselines with a pretrained encoder (:mod:`drugshift.models.baselines`).
PRETRAINED_BASELINES = ("ae", "dae", "vae", "adae", "coral")
#: Baselines without a network (scikit-learn).
SHALLOW_BASELINES = ("elasticnet", "random_forest")


def known_methods() -> list[str]:
    """Every CODE-AE benchmark method name."""
    return [*CODEAE_VARIANTS, "mlp", *PRETRAINED_BASELINES, *SHALLOW_BASELINES]


def method_kind(method: str) -> str:
    """``codeae`` (a CODE-AE variant or DSN), ``pretrained`` (a baseline encoder), ``mlp`` (no
    pretraining) or ``shallow`` (Elastic Net, Random Forest).

    Raises:
        ValueError: an unknown name (the known ones are listed).
    """
    if method in CODEAE_VARIANTS:
        return "codeae"
    if method == "mlp":
        return "mlp"
    if method in PRETRAINED_BASELINES:
        return "pretrained"
    if method in SHALLOW_BASELINES:
        return "shallow"
    raise ValueError(f"unknown benchmark method {method!r}; known: {', '.join(known_methods())}")


def needs_pretraining(method: str) -> bool:
    """Whether the method has a pretraining stage (a job of its own in the workflow)."""
    return method_kind(method) in ("codeae", "pretrained")


# --------------------------------------------------------------------------- scDEAL ablation settings


@dataclass(frozen=True)
class Setting:
    """One scDEAL ablation setting.

    Attributes:
        description: one line for tables and figures.
        kind: ``scdeal`` (train scDEAL), ``linear`` (logistic regression) or ``derived``
            (read from another setting's runs: ``no_transfer``).
        params: scDEAL parameter overrides; they take precedence over every configured value.
        bulk: ``both`` (the integrated GDSC + CCLE table), ``gdsc`` or ``ccle``.
    """

    description: str
    kind: str = "scdeal"
    params: Mapping = field(default_factory=dict)
    bulk: str = "both"


SETTINGS: dict[str, Setting] = {
    "scdeal": Setting("scDEAL as configured: DAE + cluster regulariser (+ anchor), GDSC + CCLE, corrected mode"),
    "no_transfer": Setting("bulk model applied to cells without transfer", kind="derived"),
    "linear": Setting("L2 logistic regression on bulk labels, z-scored cells", kind="linear"),
    "ae": Setting("plain autoencoder, no cluster regulariser", params={"noise_p": 0.0, "reg_weight": 0.0}),
    "dae": Setting("DAE, no cluster regulariser", params={"reg_weight": 0.0}),
    "no_anchor": Setting("scDEAL without the consistency anchor (the paper's loss)", params={"consistency_weight": 0.0}),
    "reference": Setting("reference-code behaviour (mode: reference)",
                         params={"mode": "reference", "consistency_weight": 0.0}),
    "gdsc_only": Setting("bulk from GDSC only", bulk="gdsc"),
    "ccle_only": Setting("bulk from CCLE only", bulk="ccle"),
}


def parse_replicate(replicate: str) -> tuple[str, int]:
    """``'seed3'`` → ``('seed', 3)``, ``'sub0'`` → ``('sub', 0)``.

    Raises:
        ValueError: anything else.
    """
    m = re.fullmatch(r"(seed|sub)(\d+)", replicate)
    if not m:
        raise ValueError(f"replicate must look like 'seed<k>' or 'sub<k>', got {replicate!r}")
    return m.group(1), int(m.group(2))


def replicate_seeds(replicate: str, seed: int) -> tuple[int, int | None]:
    """``(model seed, subsample seed or None)`` of a replicate around the master ``seed``:
    ``seed<k>`` trains with ``seed + k`` on all cells, ``sub<k>`` with ``seed`` on the
    subsample drawn with ``seed + k``."""
    kind, k = parse_replicate(replicate)
    return (seed + k, None) if kind == "seed" else (seed, seed + k)
