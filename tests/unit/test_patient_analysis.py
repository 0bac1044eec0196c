"""Downstream patient analysis: drugshift.patient_analysis and plots.plot_bicluster."""

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from drugshift.patient_analysis import (
    bicluster,
    cluster_zscores,
    extreme_labels,
    labels_at_threshold,
    parse_targets,
    response_matrix,
    target_association,
)


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """k-means inside SpectralBiclustering starts OpenMP threads; on a shared 2-core machine one
    thread is several times faster for these tiny matrices."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def checkerboard(seed=0, n=90, m=16, noise=0.05):
    """Patients in 3 clusters × drugs in 2 clusters with distinct block means."""
    rng = np.random.default_rng(seed)
    rows = np.repeat([0, 1, 2], n // 3)
    cols = np.repeat([0, 1], m // 2)
    rng.shuffle(rows)
    rng.shuffle(cols)
    levels = np.array([[0.2, 0.8], [0.7, 0.3], [0.45, 0.55]])
    x = levels[rows][:, cols] + noise * rng.standard_normal((n, m))
    matrix = pd.DataFrame(x, index=[f"TCGA-{i:03d}" for i in range(n)], columns=[f"drug{j:02d}" for j in range(m)])
    return matrix, rows, cols, levels


def test_response_matrix_from_long_and_mapping():
    long = pd.DataFrame({"sample": ["b", "a", "a", "b"], "drug": ["x", "x", "y", "y"],
                         "sens_prob": [0.1, 0.2, 0.3, 0.4]})
    wide = response_matrix(long)
    assert list(wide.index) == ["a", "b"] and list(wide.columns) == ["x", "y"]
    assert wide.loc["b", "y"] == 0.4
    same = response_matrix({"y": pd.Series([0.3, 0.4], index=["a", "b"]), "x": pd.Series([0.1], index=["b"])})
    assert same.loc["b", "x"] == 0.1 and np.isnan(same.loc["a", "x"])
    with pytest.raises(ValueError, match="duplicated"):
        response_matrix(pd.concat([long, long.iloc[:1]]))
    with pytest.raises(ValueError, match="lack"):
        response_matrix(long.drop(columns="drug"))


def test_label_helpers():
    m = pd.DataFrame({"d": np.linspace(0, 1, 40), "e": [np.nan] + [0.5] * 39})
    t = labels_at_threshold(m)
    assert t["d"].tolist() == [0.0] * 20 + [1.0] * 20  # linspace(0, 1, 40) crosses 0.5 between 19 and 20
    assert np.isnan(t.loc[0, "e"]) and (t["e"].iloc[1:] == 1).all()  # exactly 0.5 is sensitive; missing stays NaN
    assert labels_at_threshold(m, 0.99)["d"].sum() == 1
    ext = extreme_labels(m, fraction=0.1)
    assert (ext["d"] == 1).sum() == 4 and (ext["d"] == 0).sum() == 4 and ext["d"].isna().sum() == 32
    assert ext["d"].iloc[-4:].eq(1).all() and ext["d"].iloc[:4].eq(0).all()


def test_bicluster_recovers_a_planted_checkerboard():
    matrix, rows, cols, levels = checkerboard()
    r, c = bicluster(matrix, 3, 2, seed=0)
    assert adjusted_rand_score(rows, r.to_numpy()) == 1.0
    assert adjusted_rand_score(cols, c.to_numpy()) == 1.0
    assert list(r.index) == list(matrix.index) and list(c.index) == list(matrix.columns)
    # clusters are numbered by decreasing mean response
    means = matrix.groupby(r.to_numpy()).mean().mean(axis=1)
    assert list(means.index) == [0, 1, 2] and means.is_monotonic_decreasing
    # same seed, same labels
    r2, c2 = bicluster(matrix, 3, 2, seed=0)
    assert r.equals(r2) and c.equals(c2)


def test_bicluster_clips_cluster_counts_with_a_warning(caplog):
    matrix, *_ = checkerboard(n=12, m=4)
    with caplog.at_level(logging.WARNING):
        r, c = bicluster(matrix, 50, 30, seed=1)
    assert "using 12 × 4" in caplog.text
    assert r.nunique() <= 12 and c.nunique() <= 4
    with pytest.raises(ValueError, match="missing"):
        bad = matrix.copy()
        bad.iloc[0, 0] = np.nan
        bicluster(bad, 2, 2, seed=0)
    with pytest.raises(ValueError, match="at least 2"):
        bicluster(matrix.iloc[:, :1], 2, 1, seed=0)


def test_cluster_zscores_standardise_block_means():
    matrix, rows, cols, levels = checkerboard(noise=0.0)
    r = pd.Series(rows, index=matrix.index)
    c = pd.Series(cols, index=matrix.columns)
    z = cluster_zscores(matrix, r, c)
    assert len(z) == 6 and list(z.columns) == ["patient_cluster", "drug_cluster", "n_patients", "n_drugs",
                                               "mean_response", "zscore"]
    np.testing.assert_allclose(z["mean_response"], levels.ravel())
    expected = (levels.ravel() - levels.mean()) / levels.std()
    np.testing.assert_allclose(z["zscore"], expected)
    assert (z["n_patients"] == 30).all() and (z["n_drugs"] == 8).all()
    # the most sensitive block (0.8) has the highest z-score
    assert z.loc[z["zscore"].idxmax(), "mean_response"] == pytest.approx(0.8)
    per_drug = cluster_zscores(matrix, r)
    assert len(per_drug) == 3 * matrix.shape[1] and "drug" in per_drug.columns
    with pytest.raises(ValueError, match="no cluster label"):
        cluster_zscores(matrix, r.iloc[1:], c)


def association_world(seed=0, n=60):
    """Predicted sensitive patients express the target gene higher; a null gene does not differ."""
    rng = np.random.default_rng(seed)
    patients = [f"P{i:02d}" for i in range(n)]
    label = np.r_[np.ones(n // 2), np.zeros(n // 2)]
    expression = pd.DataFrame({
        "EGFR": rng.normal(0, 1, n) + 1.5 * label,   # planted: target of drug A
        "NULL1": rng.normal(0, 1, n),                # target of drug A with no association
        "TP53": rng.normal(0, 1, n),
    }, index=patients)
    labels = pd.DataFrame({"drugA": label, "drugB": rng.permutation(label)}, index=patients)
    labels.iloc[:3, 1] = np.nan
    return expression, labels


def test_target_association_finds_the_planted_target():
    expression, labels = association_world()
    targets = {"drugA": ["EGFR", "NULL1", "ABSENT1"], "drugB": ["TP53"], "drugC": ["EGFR"]}
    res = target_association(expression, labels, targets)
    assert list(res.columns) == ["drug", "gene", "n_sensitive", "n_resistant", "mean_sensitive", "mean_resistant",
                                 "difference", "statistic", "p", "fdr"]
    assert list(zip(res["drug"], res["gene"])) == [("drugA", "EGFR"), ("drugA", "NULL1"), ("drugB", "TP53")]
    egfr = res.set_index(["drug", "gene"]).loc[("drugA", "EGFR")]
    null = res.set_index(["drug", "gene"]).loc[("drugA", "NULL1")]
    assert egfr["fdr"] < 0.05 and egfr["difference"] > 0
    assert null["fdr"] > 0.05
    drug_b = res.set_index("drug").loc["drugB"]
    assert drug_b["n_sensitive"] + drug_b["n_resistant"] == 57  # three unlabelled patients left out
    # BH adjustment over all three tests
    from scipy.stats import false_discovery_control

    np.testing.assert_allclose(res["fdr"], false_discovery_control(res["p"], method="bh"))
    reasons = {(s["drug"], s["gene"]): s["reason"] for s in res.attrs["skipped"]}
    assert "not in the expression" in reasons[("drugA", "ABSENT1")]
    assert "no predictions" in reasons[("drugC", None)]


@pytest.mark.parametrize("spoil, match", [
    (lambda expression, labels: (expression, labels * 2), "1, 0 or missing"),
    (lambda expression, labels: (expression.set_axis([f"X{i}" for i in range(len(expression))]), labels),
     "share no patient"),
], ids=["labels not 0/1", "disjoint patients"])
def test_target_association_rejects(spoil, match):
    expression, labels = spoil(*association_world())
    with pytest.raises(ValueError, match=match):
        target_association(expression, labels, {"drugA": ["EGFR"]})


def test_target_association_skips_a_drug_with_too_few_patients_per_group():
    expression, labels = association_world()
    few = labels.copy()
    few.loc[few.index[2:], "drugA"] = 0.0
    out = target_association(expression, few, {"drugA": ["EGFR"]})
    assert out.empty and "sensitive" in out.attrs["skipped"][0]["reason"]


def test_parse_targets():
    table = pd.DataFrame({"DRUG_NAME": ["Erlotinib", "Lapatinib", "Lapatinib", "X"],
                          "PUTATIVE_TARGET": ["EGFR", "EGFR, ERBB2", "ERBB2", np.nan]})
    assert parse_targets(table) == {"Erlotinib": ["EGFR"], "Lapatinib": ["EGFR", "ERBB2"]}


def test_plot_bicluster_is_deterministic(tmp_path):
    from drugshift.plots import plot_bicluster, save_figure

    matrix, *_ = checkerboard()
    r, c = bicluster(matrix, 3, 2, seed=0)
    z = cluster_zscores(matrix, r, c)
    a, b = tmp_path / "a" / "bicluster.png", tmp_path / "b" / "bicluster.png"
    save_figure(plot_bicluster(matrix, r, c, zscores=z, title="demo"), a)
    save_figure(plot_bicluster(matrix, r, c, zscores=z, title="demo"), b)
    for suffix in (".png", ".pdf"):
        pa, pb = a.with_suffix(suffix), b.with_suffix(suffix)
        assert pa.stat().st_size > 1000
        assert pa.read_bytes() == pb.read_bytes()
    save_figure(plot_bicluster(matrix * 3 - 1, r, c), tmp_path / "unscaled.png")  # values outside [0, 1]
    assert (tmp_path / "unscaled.pdf").exists()
