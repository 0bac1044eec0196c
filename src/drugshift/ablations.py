"""scDEAL's evaluation (paper, "Ablations" and "Robustness"): which part of the method matters,
over how many seeds, and how stable it is on subsamples of the cells.

Every *setting* is one switch away from the full method as configured (``reference`` also
drops the consistency anchor, which the reference code does not have):

=============  =====================================================================
setting        what changes
=============  =====================================================================
``scdeal``     nothing: DAE + cluster regulariser (+ anchor if ``consistency_weight``
               > 0), both bulk sources, corrected mode
``no_transfer``the bulk model ``P(Eb(x))`` applied to cells (read from ``scdeal``'s runs)
``no_anchor``  ``consistency_weight: 0``, the paper's loss (only informative when the
               configuration sets it above 0)
``linear``     L2 logistic regression on the bulk labels, applied to z-scored cells
``ae``         plain autoencoder (no masking), no cluster regulariser
``dae``        DAE without the cluster regulariser
``reference``  the reference code's behaviour (``mode: reference``; METHODS.md)
``gdsc_only``  bulk training data from GDSC only
``ccle_only``  bulk training data from CCLE only
=============  =====================================================================

A *replicate* is ``seed<k>`` (all cells, model seed ``seed + k``) or ``sub<k>`` (a stratified
80 % subsample of the cells drawn with seed ``seed + k``, model seed ``seed``), so seeds measure
training variance and subsamples data variance, each on its own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from drugshift.evaluate import METRICS, classification_metrics

__all__ = [
    "SETTINGS",
    "Setting",
    "linear_baseline",
    "parse_replicate",
    "replicate_seeds",
    "run_setting",
    "runs_table",
    "signature_agreement",
    "stratified_subsample",
    "summarise_runs",
    "zscore_genes",
]

_log = logging.getLogger(__name__)

#: What every run reports: the metrics, then :func:`signature_agreement`.
RUN_COLUMNS = (*METRICS, "signature_r")


@dataclass(frozen=True)
class Setting:
    """One ablation setting.

    Attributes:
        description: one line for tables and figures.
        kind: ``scdeal`` (train scDEAL), ``linear`` (logistic regression) or ``derived``
            (read from another setting's runs: ``no_transfer``).
        params: scDEAL parameter overrides.
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
    """``(model seed, subsample seed or None)`` of a replicate around the master ``seed``."""
    kind, k = parse_replicate(replicate)
    return (seed + k, None) if kind == "seed" else (seed, seed + k)


def stratified_subsample(labels, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified subsample without replacement (``sklearn.utils.resample``
    with ``stratify``, as the paper's robustness analysis); unlabelled entries (NaN) form their
    own stratum so cells without ground truth are subsampled too.

    Args:
        labels: ``(n,)`` ground-truth labels (NaN allowed).
        fraction: kept fraction in (0, 1].
        seed: random state.
    """
    from sklearn.utils import resample

    if not 0 < fraction <= 1:
        raise ValueError(f"subsample fraction must be in (0, 1], got {fraction}")
    strata = pd.Series(labels).astype("object").where(pd.Series(labels).notna(), "unlabelled").astype(str)
    n = len(strata)
    k = max(2, int(round(fraction * n)))
    if k >= n:
        return np.arange(n)
    idx = resample(np.arange(n), replace=False, n_samples=k, stratify=strata.to_numpy(), random_state=seed)
    return np.sort(idx)


def zscore_genes(x: np.ndarray) -> np.ndarray:
    """Per-gene (column) z-scores; constant genes become 0."""
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(axis=0)
    return np.where(sd > 0, (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)


def linear_baseline(bulk: np.ndarray, y: np.ndarray, cells: np.ndarray, C: float = 1.0, seed: int = 42) -> np.ndarray:
    """The linear baseline: L2 logistic regression on z-scored bulk profiles and their labels,
    applied to per-gene z-scored cells (same genes, same order).

    Classes are weighted (``class_weight='balanced'``) so that the decision threshold 0.5 is
    meaningful on cells whose class balance differs from the bulk screen's.

    Returns:
        ``(cells,)`` probability of sensitive.
    """
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, random_state=seed)
    model.fit(zscore_genes(bulk), np.asarray(y).astype(int))
    return model.predict_proba(zscore_genes(cells))[:, 1]


def signature_agreement(cells_lognorm: np.ndarray, prob: np.ndarray, truth) -> float:
    """Does the model look at the genes that separate the cells' ground-truth classes?

    Pearson r, across genes, between the model's signature on the cells (each gene's correlation
    with the predicted probability of sensitivity) and the cells' sensitive-minus-resistant
    difference of mean z-scored expression. Near 0: what the model learnt from bulk labels is
    unrelated to what distinguishes these cells; the sign tells whether it points the right way.
    Cells without ground truth are ignored; NaN when a vector is constant.
    """
    truth = pd.Series(truth).to_numpy(dtype=float)
    keep = ~np.isnan(truth)
    z = zscore_genes(np.asarray(cells_lognorm)[keep])
    p = np.asarray(prob, dtype=float)[keep]
    y = truth[keep].astype(int)
    if p.std() == 0 or y.min() == y.max():
        return float("nan")
    pz = (p - p.mean()) / p.std()
    signature = z.T @ pz / len(pz)  # per-gene correlation with the prediction
    difference = z[y == 1].mean(axis=0) - z[y == 0].mean(axis=0)
    if signature.std() == 0 or difference.std() == 0:
        return float("nan")
    return float(np.corrcoef(signature, difference)[0, 1])


def run_setting(setting: str, bulk: np.ndarray, y: np.ndarray, cells: np.ndarray, cells_lognorm: np.ndarray,
                truth, params: Mapping, log: logging.Logger | None = None, device: str = "auto",
                linear_C: float = 1.0) -> dict:
    """Train one setting on one replicate's data and score it against the cells' ground truth.

    Args:
        setting: a key of :data:`SETTINGS` whose kind is not ``derived``.
        bulk, y: bulk profiles (scaled like ``cells``) and their 0/1 labels.
        cells: ``(cells, genes)`` min-max scaled cells (scDEAL's input).
        cells_lognorm: the same cells before scaling (the linear baseline z-scores them).
        truth: ``(cells,)`` ground truth (NaN = unlabelled, excluded from the metrics).
        params: scDEAL parameters before the setting's overrides (seed included).

    Returns:
        ``{"transfer": metrics, "no_transfer": metrics or None, "bulk": bulk metrics or None,
        "params": parameters used}``.
    """
    from drugshift.models.scdeal import ScDEALParams, fit_scdeal

    spec = SETTINGS[setting]
    if spec.kind == "derived":
        raise ValueError(f"setting {setting!r} is read from another setting's runs, not trained")
    truth = pd.Series(truth).to_numpy(dtype=float)
    labelled = ~np.isnan(truth)
    y_cells = truth[labelled].astype(int)
    if spec.kind == "linear":
        prob = linear_baseline(bulk, y, cells_lognorm, C=linear_C, seed=int(params.get("seed", 42)))
        return {"transfer": {**classification_metrics(y_cells, prob[labelled]),
                             "signature_r": signature_agreement(cells_lognorm, prob, truth)},
                "no_transfer": None, "bulk": None, "params": {"C": linear_C}}
    p = ScDEALParams.from_dict({**params, **spec.params})
    result = fit_scdeal(bulk, y, cells, p, log=log, device=device)
    prob, prob_bulk = result.predict_cells(cells), result.predict_bulk_model_on_cells(cells)
    return {
        "transfer": {**classification_metrics(y_cells, prob[labelled]),
                     "signature_r": signature_agreement(cells_lognorm, prob, truth)},
        "no_transfer": {**classification_metrics(y_cells, prob_bulk[labelled]),
                        "signature_r": signature_agreement(cells_lognorm, prob_bulk, truth)},
        "bulk": result.bulk_metrics,
        "params": p.to_dict(),
    }


def runs_table(runs: list[Mapping], settings: list[str]) -> pd.DataFrame:
    """One row per (dataset, setting, replicate) from run records of :func:`run_setting` (plus
    ``dataset, setting, replicate, model_seed, subsample_seed, n_cells``).

    ``no_transfer`` rows come from the ``scdeal`` runs' bulk-model predictions; only the
    ``settings`` asked for are kept, in that order.
    """
    rows = []
    for run in runs:
        ident = {k: run.get(k) for k in ("dataset", "setting", "replicate", "model_seed", "subsample_seed", "n_cells")}
        rows.append({**ident, **{m: run["transfer"].get(m) for m in RUN_COLUMNS}})
        if run["setting"] == "scdeal" and run.get("no_transfer"):
            rows.append({**ident, "setting": "no_transfer", **{m: run["no_transfer"].get(m) for m in RUN_COLUMNS}})
    table = pd.DataFrame(rows)
    table = table[table["setting"].isin(settings)]
    order = {s: i for i, s in enumerate(settings)}
    table = table.assign(_o=table["setting"].map(order)).sort_values(["dataset", "_o", "replicate"], kind="stable")
    return table.drop(columns="_o").reset_index(drop=True)


def summarise_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of every metric per (dataset, setting, replicate kind).

    ``runs`` has one row per run with columns ``dataset, setting, replicate`` and the metrics.
    Returns columns ``dataset, setting, kind, n`` and ``<metric>_mean``, ``<metric>_sd`` (sample
    standard deviation, NaN for a single run).
    """
    runs = runs.assign(kind=runs["replicate"].map(lambda r: parse_replicate(r)[0]))
    grouped = runs.groupby(["dataset", "setting", "kind"], sort=False)
    out = grouped.size().rename("n").to_frame()
    for metric in RUN_COLUMNS:
        out[f"{metric}_mean"] = grouped[metric].mean()
        out[f"{metric}_sd"] = grouped[metric].std(ddof=1)
    return out.reset_index()
