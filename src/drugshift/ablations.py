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

The settings and replicates are named in :mod:`drugshift.methods` (``SETTINGS``,
``replicate_seeds``); a run's parameters come from
:func:`drugshift.params.resolve_scdeal_params`, which applies the setting's switches last.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from drugshift.evaluate import METRICS, classification_metrics
from drugshift.methods import SETTINGS, parse_replicate
from drugshift.params import ScDEALParams

__all__ = [
    "linear_baseline",
    "run_setting",
    "runs_table",
    "signature_agreement",
    "single_source_bulk",
    "summarise_runs",
    "zscore_genes",
]

_log = logging.getLogger(__name__)

#: What every run reports: the metrics, then :func:`signature_agreement`.
RUN_COLUMNS = (*METRICS, "signature_r")


def single_source_bulk(bulk: pd.DataFrame, genes) -> pd.DataFrame:
    """One bulk source alone (``gdsc_only``, ``ccle_only``): its profiles of the cells' ``genes``,
    min-max scaled within that source as :func:`drugshift.preprocess.align_to_bulk` scales the
    integrated table."""
    from drugshift.preprocess import minmax_apply, minmax_fit

    genes = list(genes)
    x = bulk[genes].to_numpy("float32")
    lo, hi = minmax_fit(x)
    return pd.DataFrame(minmax_apply(x, lo, hi), index=bulk.index, columns=genes)


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
                truth, params: ScDEALParams, log: logging.Logger | None = None, device: str = "auto",
                linear_C: float = 1.0) -> dict:
    """Train one setting on one replicate's data and score it against the cells' ground truth.

    Args:
        setting: a key of :data:`drugshift.methods.SETTINGS` whose kind is not ``derived``.
        bulk, y: bulk profiles (scaled like ``cells``) and their 0/1 labels.
        cells: ``(cells, genes)`` min-max scaled cells (scDEAL's input).
        cells_lognorm: the same cells before scaling (the linear baseline z-scores them).
        truth: ``(cells,)`` ground truth (NaN = unlabelled, excluded from the metrics).
        params: the run's parameters from :func:`drugshift.params.resolve_scdeal_params` (the
            setting's switches applied, the replicate's seed).

    Returns:
        ``{"transfer": metrics, "no_transfer": metrics or None, "bulk": bulk metrics or None,
        "params": parameters used}``.

    Raises:
        ValueError: a derived setting, or ``params`` without the setting's switches.
    """
    from drugshift.models.scdeal import ScDEAL

    spec = SETTINGS[setting]
    if spec.kind == "derived":
        raise ValueError(f"setting {setting!r} is read from another setting's runs, not trained")
    differ = {k: getattr(params, k) for k, v in spec.params.items() if getattr(params, k) != v}
    if differ:
        raise ValueError(f"setting {setting!r} needs {dict(spec.params)}, the parameters have {differ}: resolve them "
                         "with drugshift.params.resolve_scdeal_params(config, dataset, setting, replicate)")
    truth = pd.Series(truth).to_numpy(dtype=float)
    labelled = ~np.isnan(truth)
    y_cells = truth[labelled].astype(int)

    def scores(prob: np.ndarray) -> dict:
        return {**classification_metrics(y_cells, prob[labelled]),
                "signature_r": signature_agreement(cells_lognorm, prob, truth)}

    if spec.kind == "linear":
        prob = linear_baseline(bulk, y, cells_lognorm, C=linear_C, seed=params.seed)
        return {"transfer": scores(prob), "no_transfer": None, "bulk": None, "params": {"C": linear_C}}
    model = ScDEAL(params, device=device).fit(bulk, y, cells, log=log)
    return {"transfer": scores(model.predict(cells)), "no_transfer": scores(model.predict_no_transfer(cells)),
            "bulk": model.bulk_metrics, "params": params.to_dict()}


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
