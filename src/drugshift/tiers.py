"""Resource tiers of the workflow's rules (config ``resources``).

Every rule that runs as a job belongs to one tier, ``light``, ``medium`` or ``training``
(``workflow/rules/common.smk``: ``threads: tier_threads(name)``, ``resources: **tier(name)``).
A tier gives a job's memory (``mem_mb``), wall time (``runtime``, minutes) and CPUs; memory and
wall time grow with the size of the job's input files and with each retry::

    mem_mb  = (mem_mb  + mem_mb_per_input_mb  * input MB) * attempt
    runtime = (runtime + runtime_per_input_gb * input GB) * attempt

each capped by ``resources.max`` (a request above a partition's limit would never start).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["TIER_NAMES", "input_size_mb", "scaled_mem_mb", "scaled_runtime", "threads_of"]

TIER_NAMES = ("light", "medium", "training")


def input_size_mb(paths: Iterable[str | os.PathLike]) -> float:
    """Total size of ``paths`` in MB (2**20 bytes): files, and folders with everything in them
    (a 10x folder, a model folder). A path that does not exist yet counts 0 (a dry run; Snakemake
    evaluates the resources again when the job's inputs are there)."""
    total = 0
    for path in paths:
        path = Path(path)
        try:
            if path.is_dir():
                for root, _dirs, files in os.walk(path):
                    for name in files:
                        try:
                            total += os.path.getsize(os.path.join(root, name))
                        except OSError:
                            pass
            else:
                total += path.stat().st_size
        except OSError:
            pass
    return total / 2**20


def scaled_mem_mb(tier: Mapping, input_mb: float, attempt: int = 1, cap: int | None = None) -> int:
    """A job's memory request in MB (module docstring)."""
    mem = (tier["mem_mb"] + tier.get("mem_mb_per_input_mb", 0) * input_mb) * max(int(attempt), 1)
    mem = int(math.ceil(mem))
    return min(mem, cap) if cap else mem


def scaled_runtime(tier: Mapping, input_mb: float, attempt: int = 1, cap: int | None = None) -> int:
    """A job's wall-time request in minutes (module docstring)."""
    minutes = (tier["runtime"] + tier.get("runtime_per_input_gb", 0) * input_mb / 1024) * max(int(attempt), 1)
    minutes = int(math.ceil(minutes))
    return min(minutes, cap) if cap else minutes


def threads_of(config: Mapping, name: str) -> int:
    """A tier's CPUs: ``resources.tiers.<name>.cpus``; the training tier's are
    ``threads_per_training_job`` (the one key every training job's threads come from). Capped by
    ``resources.max.cpus``."""
    if name == "training":
        cpus = config["threads_per_training_job"]
    else:
        cpus = config["resources"]["tiers"][name]["cpus"]
    cap = config["resources"]["max"].get("cpus")
    return min(int(cpus), int(cap)) if cap else int(cpus)
