"""Metrics for binary drug-response predictions (1 = sensitive, 0 = resistant)."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import (
    adjusted_mutual_info_score,
    adjusted_rand_score,
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

__all__ = ["DEFAULT_THRESHOLD", "METRICS", "classification_metrics", "metrics_table", "predicted_labels"]

#: The seven scDEAL benchmark metrics, then weighted F1 (the reference code's "F1").
METRICS = ("f1", "auroc", "ap", "precision", "recall", "ami", "ari", "f1_weighted")

#: Probability of sensitivity from which a sample is labelled sensitive (scDEAL paper, step 5:
#: "scores in 0.5–1 are sensitive"; 0.5 itself is sensitive).
DEFAULT_THRESHOLD = 0.5


def predicted_labels(prob_sensitive, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """The one probability → label rule: 1 (sensitive) where ``prob ≥ threshold``, else 0.

    Args:
        prob_sensitive: probabilities of sensitivity, any shape (array, Series, list).
        threshold: the cut; a probability equal to it is sensitive.

    Returns:
        int array of the same shape; NaN probabilities give 0 (callers that must keep them
        unlabelled mask them, as :func:`drugshift.patient_analysis.labels_at_threshold` does).
    """
    return (np.asarray(prob_sensitive, dtype=float) >= threshold).astype(int)


def classification_metrics(y_true, prob_sensitive, threshold: float = DEFAULT_THRESHOLD) -> dict[str, float]:
    """The seven scDEAL benchmark metrics (paper, "Benchmarking metrics") plus a few counts.

    Args:
        y_true: ``(n,)`` ground truth in {0, 1}.
        prob_sensitive: ``(n,)`` predicted probability of class 1, in [0, 1].
        threshold: labels are ``prob ≥ threshold``.

    Returns:
        ``f1, auroc, ap, precision, recall`` (class 1 is positive), ``ami, ari`` (between
        ``y_true`` and the predicted labels), ``f1_weighted``, ``n``, ``n_sensitive`` (in
        ``y_true``). AUROC and AP are NaN when ``y_true`` holds a single class; precision/recall/F1
        are 0 where undefined.

    Raises:
        ValueError: mismatched lengths, empty input, labels outside {0, 1}, non-finite or
            out-of-range probabilities.
    """
    y = np.asarray(y_true).ravel()
    p = np.asarray(prob_sensitive, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_true has {y.size} values but prob_sensitive has {p.size}")
    if y.size == 0:
        raise ValueError("classification_metrics needs at least one sample")
    bad = ~np.isin(y, [0, 1])
    if bad.any():
        raise ValueError(f"y_true must be 0/1 (1 = sensitive); found {np.unique(y[bad])[:5].tolist()}")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("prob_sensitive must be finite probabilities in [0, 1]")
    y = y.astype(int)
    yhat = predicted_labels(p, threshold)
    two_classes = np.unique(y).size == 2
    return {
        "f1": float(f1_score(y, yhat, zero_division=0)),
        "auroc": float(roc_auc_score(y, p)) if two_classes else math.nan,
        "ap": float(average_precision_score(y, p)) if two_classes else math.nan,
        "precision": float(precision_score(y, yhat, zero_division=0)),
        "recall": float(recall_score(y, yhat, zero_division=0)),
        "ami": float(adjusted_mutual_info_score(y, yhat)),
        "ari": float(adjusted_rand_score(y, yhat)),
        "f1_weighted": float(f1_score(y, yhat, average="weighted", zero_division=0)),
        "n": int(y.size),
        "n_sensitive": int(y.sum()),
    }


def metrics_table(paths: dict[tuple[str, str], str]) -> "pd.DataFrame":
    """One row per (dataset, drug, setting) from ``metrics.json`` files written by
    :func:`drugshift.predict.transfer_metrics`; settings are ``transfer`` and ``no_transfer``.
    The transfer row also holds the label rule, F1 under every rule, the reliability verdict and,
    for an ensemble, its members' mean ± sd AUROC and F1."""
    import json

    import pandas as pd

    rows = []
    for (dataset, drug), path in paths.items():
        with open(path) as fh:
            metrics = json.load(fh)
        for setting in ("transfer", "no_transfer"):
            row = {"dataset": dataset, "drug": drug, "setting": setting, **metrics[setting]}
            if setting == "transfer":  # the label rule, F1 under every rule, and the verdict
                row["label_rule"] = metrics.get("label_rule", "paper")
                row.update({f"f1_{rule}": f1 for rule, f1 in metrics.get("f1_by_rule", {}).items()})
                row["verdict"] = metrics.get("verdict")
                for metric, values in metrics.get("members", {}).items():  # an ensemble's members
                    row[f"members_{metric}_mean"], row[f"members_{metric}_sd"] = np.mean(values), np.std(values, ddof=1)
            rows.append(row)
    columns = ["dataset", "drug", "setting", "f1", "auroc", "ap", "precision", "recall", "ami", "ari",
               "f1_weighted", "n", "n_sensitive", "label_rule", "f1_paper", "f1_bulk_f1", "f1_bulk_rate", "verdict", "members_auroc_mean",
               "members_auroc_sd", "members_f1_mean", "members_f1_sd"]
    table = pd.DataFrame(rows)
    return table[[c for c in columns if c in table.columns]]
