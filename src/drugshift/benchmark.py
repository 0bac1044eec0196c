"""The CODE-AE benchmark tables: AUROC / AUPRC per (method, cohort, drug, fold) and the paper's
Table 1 as a rank summary.

Rows come from two places: each model's cross-validation on labelled cell lines (cohort
``gdsc_cv``, the held-out fold of each fold model) and each fold model's zero-shot predictions
of a labelled cohort (patients, PDTC models), whose labels are read here and nowhere in training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from drugshift.evaluate import classification_metrics

__all__ = ["COLUMNS", "CV_COHORT", "benchmark_rows", "benchmark_table", "cv_rows", "rank_summary", "zero_shot_rows"]

COLUMNS = ["method", "cohort", "drug", "fold", "AUROC", "AUPRC", "n", "n_sensitive"]
#: The cohort name of the held-out cell-line folds.
CV_COHORT = "gdsc_cv"


def benchmark_rows(method: str, cohort: str, drug: str, y_true, fold_predictions: Sequence) -> list[dict]:
    """Rows ``method, cohort, drug, fold, AUROC, AUPRC, n, n_sensitive`` of one method on one
    labelled cohort: one row per fold's prediction vector, AUROC/AUPRC from
    :func:`~drugshift.evaluate.classification_metrics` (AUPRC = average precision)."""
    y = np.asarray(y_true).ravel().astype(int)
    rows = []
    for k, prob in enumerate(fold_predictions):
        m = classification_metrics(y, np.clip(np.asarray(prob, dtype=float), 0.0, 1.0))
        rows.append({"method": method, "cohort": cohort, "drug": drug, "fold": k, "AUROC": m["auroc"],
                     "AUPRC": m["ap"], "n": m["n"], "n_sensitive": m["n_sensitive"]})
    return rows


def cv_rows(card: Mapping) -> list[dict]:
    """The cell-line CV rows (cohort ``gdsc_cv``) of a :class:`~drugshift.models.codeae.DrugResponseModel`
    card: each fold model on its own held-out fold."""
    return [{"method": card["method"], "cohort": CV_COHORT, "drug": card["drug"], "fold": f["fold"],
             "AUROC": f["auroc"], "AUPRC": f["ap"], "n": f["n"], "n_sensitive": f["n_sensitive"]} for f in card["cv"]]


def zero_shot_rows(predictions: pd.DataFrame, labels: Mapping[str, pd.DataFrame]) -> list[dict]:
    """Rows of one (method, drug) prediction table on every labelled cohort.

    Args:
        predictions: ``sample, cohort, method, drug, fold_0 … fold_k`` (one method, one drug).
        labels: cohort → ``sample, drug, label`` (:func:`drugshift.cohorts.cohort_labels`).
            A cohort where the drug has fewer than two classes among the predicted samples is
            skipped (the drug was not given there, or every patient responded alike).
    """
    method, drug = predictions["method"].iloc[0], predictions["drug"].iloc[0]
    folds = sorted((c for c in predictions.columns if c.startswith("fold_")), key=lambda c: int(c.split("_")[1]))
    rows = []
    for cohort, table in labels.items():
        part = predictions[predictions["cohort"] == cohort].set_index("sample")
        truth = table[table["drug"] == drug].drop_duplicates("sample").set_index("sample")["label"]
        y = truth.reindex(part.index).dropna()
        if y.nunique() < 2:
            continue
        rows += benchmark_rows(method, cohort, drug, y.to_numpy(), [part.loc[y.index, f].to_numpy() for f in folds])
    return rows


def benchmark_table(cards: Sequence[Mapping], predictions: Sequence[pd.DataFrame],
                    labels: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The benchmark table (:data:`COLUMNS`): the cell-line CV rows of every model card, then the
    zero-shot rows of every prediction table on every labelled cohort."""
    rows = [r for card in cards for r in cv_rows(card)]
    rows += [r for pred in predictions for r in zero_shot_rows(pred, labels)]
    return pd.DataFrame(rows, columns=COLUMNS)


def rank_summary(benchmark: pd.DataFrame, common_drugs: bool = False) -> pd.DataFrame:
    """The paper's Table 1 from a benchmark table: per (cohort, method) the mean and standard
    deviation over drugs of the fold-averaged AUROC and AUPRC, and the mean rank of the method
    among all methods per drug (1 = best; ties share the average rank).

    Args:
        benchmark: rows ``method, cohort, drug, fold, AUROC, AUPRC``.
        common_drugs: keep, per cohort, only the drugs every method of that cohort has results
            for, so that the means of a partial benchmark compare methods on the same drugs.

    Returns columns ``cohort, method, n_drugs, AUROC_mean, AUROC_sd, AUROC_rank, AUPRC_mean,
    AUPRC_sd, AUPRC_rank``, sorted by cohort and AUROC rank.
    """
    per_drug = benchmark.groupby(["cohort", "drug", "method"], as_index=False)[["AUROC", "AUPRC"]].mean()
    if common_drugs:
        n_methods = per_drug.groupby("cohort")["method"].transform("nunique")
        n_here = per_drug.groupby(["cohort", "drug"])["method"].transform("nunique")
        per_drug = per_drug[n_here == n_methods]
    for metric in ("AUROC", "AUPRC"):
        per_drug[f"{metric}_rank"] = per_drug.groupby(["cohort", "drug"])[metric].rank(ascending=False)
    out = per_drug.groupby(["cohort", "method"]).agg(
        n_drugs=("drug", "nunique"), AUROC_mean=("AUROC", "mean"), AUROC_sd=("AUROC", "std"),
        AUROC_rank=("AUROC_rank", "mean"), AUPRC_mean=("AUPRC", "mean"), AUPRC_sd=("AUPRC", "std"),
        AUPRC_rank=("AUPRC_rank", "mean")).reset_index()
    return out.sort_values(["cohort", "AUROC_rank", "method"]).reset_index(drop=True)
