"""Binarise drug-response AUCs into sensitive (1) / resistant (0) labels.

Two families, both per drug:

* ``waterfall_labels`` — the CCLE 2012 waterfall method used by scDEAL.
* ``threshold_labels`` — a fixed statistic of the AUC distribution (mean, median) or the GDSC
  z-score sign, used by CODE-AE (its paper uses the mean AUC, its code ``Z_SCORE < 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Pearson |r| of the waterfall curve with its linear fit above which the curve counts as linear.
LINEARITY_THRESHOLD = 0.95


@dataclass(frozen=True)
class WaterfallCutoff:
    """Where a waterfall curve was cut and why."""

    cutoff: float
    linearity: float  # |Pearson r| of AUC vs rank
    branch: str  # "median" (linear curve) or "max_distance"


def waterfall_cutoff(auc: pd.Series | np.ndarray) -> WaterfallCutoff:
    """AUC cutoff of the waterfall method (Barretina et al. 2012, as used by scDEAL).

    Cell lines are sorted by AUC, descending, and AUC is plotted against rank (0, 1, …, n-1).
    If the Pearson correlation of that curve with its linear fit (|r| of AUC vs rank) is above
    0.95, the curve is linear and the cutoff is the median AUC. Otherwise the cutoff is the AUC
    of the point farthest (perpendicular distance) from the straight line joining the first
    (maximum) and last (minimum) points. Missing values are ignored.
    """
    y = np.sort(np.asarray(pd.Series(auc).dropna(), dtype=float))[::-1]
    if len(y) < 3:
        raise ValueError(f"waterfall needs at least 3 AUC values, got {len(y)}")
    x = np.arange(len(y), dtype=float)
    linearity = 1.0 if np.ptp(y) == 0 else abs(float(np.corrcoef(x, y)[0, 1]))
    if linearity > LINEARITY_THRESHOLD:
        return WaterfallCutoff(float(np.median(y)), linearity, "median")
    # Perpendicular distance of (x_i, y_i) to the line through (x_0, y_0) and (x_n, y_n).
    dx, dy = x[-1] - x[0], y[-1] - y[0]
    distance = np.abs(dy * x - dx * y + x[-1] * y[0] - y[-1] * x[0]) / np.hypot(dx, dy)
    return WaterfallCutoff(float(y[int(np.argmax(distance))]), linearity, "max_distance")


def waterfall_labels(auc: pd.Series) -> pd.Series:
    """Waterfall labels of one drug's AUCs: same index, 1 = sensitive (AUC < cutoff), 0 = resistant.

    NaN where the AUC is missing. See :func:`waterfall_cutoff` for the cutoff.
    """
    cut = waterfall_cutoff(auc).cutoff
    return _below(auc, cut)


def threshold_labels(auc: pd.Series, method: str = "mean", z_score: pd.Series | None = None) -> pd.Series:
    """CODE-AE style labels: 1 where AUC is below the drug's ``mean`` or ``median`` AUC,
    or (``method="zscore"``) where the GDSC ``Z_SCORE`` is below 0. NaN where missing."""
    if method == "zscore":
        if z_score is None:
            raise ValueError("method='zscore' needs the GDSC Z_SCORE values")
        return _below(z_score, 0.0)
    if method not in ("mean", "median"):
        raise ValueError(f"unknown threshold method {method!r}; use mean, median, zscore or waterfall")
    cut = float(getattr(auc.dropna(), method)())
    return _below(auc, cut)


def _below(values: pd.Series, cut: float) -> pd.Series:
    labels = (values < cut).astype(float)
    labels[values.isna()] = np.nan
    return labels.rename("label")


def binarise_drug(response: pd.DataFrame, drug: str, method: str = "waterfall",
                  datasets: list[str] | None = None) -> pd.DataFrame:
    """Per-cell-line labels of one drug from the tidy response table.

    ``response`` has columns ``dataset, cosmic_id, cell_line_name, drug, auc, z_score``.
    Where a cell line was screened in several datasets (GDSC1 and GDSC2), the later-listed
    dataset in ``datasets`` wins (GDSC2 supersedes GDSC1). Returns one row per cell line:
    ``cell_line`` (COSMIC id as str), ``cell_line_name``, ``auc``, ``label``, ``dataset``,
    with the cutoff in ``attrs``.
    """
    rows = response[response["drug"] == drug]
    if datasets:
        rows = rows[rows["dataset"].isin(datasets)]
        order = {d: i for i, d in enumerate(datasets)}
        rows = rows.assign(_order=rows["dataset"].map(order)).sort_values("_order")
    if rows.empty:
        known = sorted(response["drug"].unique())[:20]
        raise ValueError(f"drug {drug!r} not in the response table (datasets {datasets}); e.g. {known}")
    rows = rows.drop_duplicates("cosmic_id", keep="last")
    table = pd.DataFrame({
        "cell_line": rows["cosmic_id"].astype(str).values,
        "cell_line_name": rows["cell_line_name"].values,
        "auc": rows["auc"].values,
        "z_score": rows["z_score"].values if "z_score" in rows else np.nan,
        "dataset": rows["dataset"].values,
    })
    if method == "waterfall":
        cut = waterfall_cutoff(table["auc"])
        table["label"] = _below(table["auc"], cut.cutoff).values
        table.attrs.update(cutoff=cut.cutoff, linearity=cut.linearity, branch=cut.branch)
    else:
        table["label"] = threshold_labels(table["auc"], method, table["z_score"]).values
    table.attrs.update(drug=drug, method=method)
    return table.sort_values("cell_line").reset_index(drop=True)


def _condition_key(value) -> str:
    """Compare conditions as text, with 1, 1.0 and "1" the same (0/1 columns read as float when
    they hold missing values)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if number.is_integer() else str(number)


def condition_labels(conditions: pd.Series, sensitive: list, resistant: list) -> pd.Series:
    """Ground-truth cell labels from a condition column: 1 for ``sensitive`` conditions,
    0 for ``resistant`` ones, NaN for anything else (e.g. a condition the paper leaves out)."""
    sensitive = [_condition_key(v) for v in sensitive]
    resistant = [_condition_key(v) for v in resistant]
    overlap = set(sensitive) & set(resistant)
    if overlap:
        raise ValueError(f"conditions listed as both sensitive and resistant: {sorted(overlap)}")
    values = conditions.map(_condition_key)
    labels = pd.Series(np.nan, index=conditions.index, name="response")
    labels[values.isin(sensitive)] = 1.0
    labels[values.isin(resistant)] = 0.0
    return labels
