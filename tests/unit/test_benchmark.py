"""The CODE-AE benchmark tables: rows from model cards and zero-shot predictions, rank summary."""

import numpy as np
import pandas as pd
import pytest

from drugshift.benchmark import COLUMNS, benchmark_table, rank_summary


def test_rank_summary_averages_folds_then_ranks_methods_per_drug():
    rows = []
    for drug, scores in {"d1": {"a": 0.8, "b": 0.6}, "d2": {"a": 0.5, "b": 0.7}, "d3": {"a": 0.9, "b": 0.9}}.items():
        for method, auc in scores.items():
            for fold in range(2):
                rows.append({"method": method, "cohort": "pdtc", "drug": drug, "fold": fold,
                             "AUROC": auc + (0.05 if fold else -0.05), "AUPRC": auc})
    out = rank_summary(pd.DataFrame(rows)).set_index("method")
    assert out.loc["a", "AUROC_mean"] == pytest.approx((0.8 + 0.5 + 0.9) / 3)
    assert out.loc["a", "AUROC_rank"] == pytest.approx((1 + 2 + 1.5) / 3)
    assert out.loc["b", "AUROC_rank"] == pytest.approx((2 + 1 + 1.5) / 3)
    assert (out["n_drugs"] == 3).all()
    # A method missing on d2 (a partial run): the common-drug summary compares d1 and d3 only.
    partial = pd.DataFrame([r for r in rows if not (r["method"] == "b" and r["drug"] == "d2")])
    assert rank_summary(partial).set_index("method").loc["a", "n_drugs"] == 3
    common = rank_summary(partial, common_drugs=True).set_index("method")
    assert (common["n_drugs"] == 2).all()
    assert common.loc["a", "AUROC_mean"] == pytest.approx((0.8 + 0.9) / 2)
    assert common.loc["b", "AUROC_rank"] == pytest.approx((2 + 1.5) / 2)


def test_benchmark_table_scores_cards_and_zero_shot_predictions():
    card = {"method": "m", "drug": "Drug A", "cv": [
        {"fold": 0, "auroc": 0.7, "ap": 0.6, "n": 10, "n_sensitive": 4},
        {"fold": 1, "auroc": 0.8, "ap": 0.5, "n": 10, "n_sensitive": 5}]}
    samples = ["p1", "p2", "p3", "p4", "q1", "q2"]
    predictions = pd.DataFrame({"sample": samples, "cohort": ["tcga"] * 4 + ["pdtc"] * 2, "method": "m",
                                "drug": "Drug A", "fold_0": [0.9, 0.1, 0.8, 0.2, 0.3, 0.6],
                                "fold_1": [0.1, 0.9, 0.8, 0.2, 0.3, 0.6]})
    labels = {
        # p4 unlabelled for Drug A; the Drug B label of p1 is not used.
        "tcga": pd.DataFrame({"sample": ["p3", "p1", "p2", "p1"], "drug": ["Drug A", "Drug A", "Drug A", "Drug B"],
                              "label": [1, 1, 0, 0]}),
        "pdtc": pd.DataFrame({"sample": ["q1", "q2"], "drug": "Drug A", "label": [1, 1]}),  # one class: skipped
    }
    table = benchmark_table([card], [predictions], labels)
    assert list(table.columns) == COLUMNS
    assert table["cohort"].tolist() == ["gdsc_cv", "gdsc_cv", "tcga", "tcga"]
    tcga = table[table["cohort"] == "tcga"]
    assert tcga["n"].tolist() == [3, 3] and tcga["n_sensitive"].tolist() == [2, 2]
    assert tcga["AUROC"].tolist() == pytest.approx([1.0, 0.0])  # fold 0 ranks p1, p3 above p2; fold 1 below
    assert np.isfinite(table["AUPRC"]).all()
