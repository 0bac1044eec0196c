"""drugshift's parameter sets and the one place where the workflow's config becomes them.

Torch-free: :func:`check_config` runs when Snakemake builds the DAG.
"""

from drugshift.params.base import ConfigError, Params, coerce
from drugshift.params.codeae import ALIGNMENT, UNFREEZE, VARIANTS, BaselineParams, CodeAEParams, FinetuneParams
from drugshift.params.resolve import CodeAEMethodParams, check_config, resolve_codeae_params, resolve_scdeal_params
from drugshift.params.scdeal import MODES, SAMPLING_METHODS, SC_INIT, ScDEALParams

__all__ = [
    "ALIGNMENT",
    "MODES",
    "SAMPLING_METHODS",
    "SC_INIT",
    "UNFREEZE",
    "VARIANTS",
    "BaselineParams",
    "CodeAEMethodParams",
    "CodeAEParams",
    "ConfigError",
    "FinetuneParams",
    "Params",
    "ScDEALParams",
    "check_config",
    "coerce",
    "resolve_codeae_params",
    "resolve_scdeal_params",
]
