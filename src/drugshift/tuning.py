"""Hyperparameter selection for scDEAL on bulk validation data only.

The paper searched 480 combinations of six hyperparameters (sampling, predictor widths, learning
rate, encoder widths, dropout, bottleneck). Choosing among them with the cells' ground truth
would report a best case no user can reproduce on unlabelled cells, so here every combination
trains only the bulk model (:func:`drugshift.models.scdeal.fit_bulk_model`: steps 1–2, no cell
is seen) and is scored on the bulk validation split; the winner is then used for the full model
(:func:`drugshift.params.resolve_scdeal_params` takes it as ``tuned``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from drugshift.params import ScDEALParams

__all__ = ["expand_grid", "select_setting", "tune_bulk_model"]

_log = logging.getLogger(__name__)
# Per-epoch progress of hundreds of fits would drown the log; one line per combination is kept.
_fits_log = logging.getLogger(__name__ + ".fits")
_fits_log.setLevel(logging.WARNING)


def expand_grid(grid: Mapping[str, list]) -> list[dict]:
    """All combinations of a ``{parameter: [values]}`` grid, the last parameter varying fastest.

    ``bulk_hidden`` also sets ``sc_hidden`` when the grid does not name ``sc_hidden`` (the
    paper's "encoder dims" are those of both encoders).

    Raises:
        ValueError: an empty value list.
    """
    empty = [k for k, v in grid.items() if not isinstance(v, list) or not v]
    if empty:
        raise ValueError(f"tuning grid entries need a non-empty list of values: {empty}")
    keys = list(grid)
    combos = []
    for values in itertools.product(*(grid[k] for k in keys)):
        combo = dict(zip(keys, values))
        if "bulk_hidden" in combo and "sc_hidden" not in grid:
            combo["sc_hidden"] = combo["bulk_hidden"]
        combos.append(combo)
    return combos


def tune_bulk_model(X_bulk, y_bulk, base_params: ScDEALParams, grid: Mapping[str, list], seeds: int = 1,
                    metric: str = "auroc", log: logging.Logger | None = None, device: str = "auto") -> pd.DataFrame:
    """Score every grid combination by the bulk model's validation ``metric``.

    Args:
        X_bulk, y_bulk: scaled bulk profiles and 0/1 labels.
        base_params: the dataset's resolved scDEAL parameters, which the grid overrides.
        grid: ``{parameter: [values]}`` (see :func:`expand_grid`).
        seeds: each combination is trained with seeds ``seed .. seed + seeds - 1`` (each a
            different 64/16/20 split) and scored by the mean.
        metric: a key of :func:`drugshift.evaluate.classification_metrics`.

    Returns:
        One row per combination: ``combination`` (index in grid order), the parameters (lists as
        strings), ``val_<metric>`` (mean), ``val_<metric>_sd``, ``test_<metric>`` (mean; reported,
        never used to select).
    """
    from drugshift.models.scdeal import fit_bulk_model

    log = log or _log
    combos = expand_grid(grid)
    base_seed = base_params.seed
    rows = []
    for i, combo in enumerate(combos):
        val, test = [], []
        for k in range(seeds):
            metrics = fit_bulk_model(X_bulk, y_bulk, base_params.replace(**combo, seed=base_seed + k),
                                     log=_fits_log, device=device)
            val.append(metrics["source_val"][metric])
            test.append(metrics["source_test"][metric])
        row = {"combination": i, **{k: str(v) if isinstance(v, list) else v for k, v in combo.items()},
               f"val_{metric}": float(np.mean(val)), f"val_{metric}_sd": float(np.std(val, ddof=1)) if seeds > 1
               else float("nan"), f"test_{metric}": float(np.mean(test))}
        rows.append(row)
        log.info("tuning %d/%d %s: validation %s %.3f", i + 1, len(combos), combo, metric, row[f"val_{metric}"])
    return pd.DataFrame(rows)


def select_setting(table: pd.DataFrame, grid: Mapping[str, list], metric: str = "auroc") -> dict:
    """The combination with the best validation ``metric`` (ties and NaN: earliest in grid order),
    as parameter overrides."""
    scores = table[f"val_{metric}"].to_numpy(dtype=float)
    if np.isnan(scores).all():
        raise ValueError(f"no grid combination has a finite validation {metric}")
    best = int(table["combination"].iloc[int(np.nanargmax(scores))])
    return expand_grid(grid)[best]
