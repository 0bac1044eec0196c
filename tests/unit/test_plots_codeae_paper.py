"""The CODE-AE paper figures (drugshift.plots.codeae_paper) and the domain maps behind Fig. 2
(drugshift.domain_map), on tiny generated inputs."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from scipy.stats import friedmanchisquare

from drugshift.domain_map import domain_map, embed_with_encoder
from drugshift.patient_analysis import cluster_zscores
from drugshift.plots import codeae_paper as cp


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def benchmark_table(methods=("codeae_adv", "mlp", "elasticnet"), drugs=("d1", "d2", "d3", "d4"), folds=3,
                    cohorts=("tcga", "pdtc"), seed=0):
    """One row per method, cohort, drug and fold, with random scores; 20 samples, 5 sensitive."""
    rng = np.random.default_rng(seed)
    rows = [{"method": m, "cohort": c, "drug": d, "fold": f, "AUROC": rng.uniform(0.4, 0.95),
             "AUPRC": rng.uniform(0.2, 0.9), "n": 20, "n_sensitive": 5}
            for c in cohorts for m in methods for d in drugs for f in range(folds)]
    return pd.DataFrame(rows)


def clustered_patients():
    """12 patients in clusters 0–2 with tumour types (one patient untyped)."""
    clusters = pd.Series([0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2], index=[f"P{i}" for i in range(12)])
    tumour = pd.Series(["LUSC"] * 3 + ["BRCA", None] + ["LUSC", "BRCA", "BRCA"] + ["HNSC", "LUSC", "LUSC", "HNSC"],
                       index=clusters.index)
    return clusters, tumour


def bar_containers(ax):
    return [c for c in ax.containers if isinstance(c, BarContainer)]


# --------------------------------------------------------------------------- domain maps (Fig. 2a–c)


def two_domains(n_s=30, n_t=20, genes=8, seed=0):
    rng = np.random.default_rng(seed)
    cols = [f"G{i}" for i in range(genes)]
    source = pd.DataFrame(rng.normal(size=(n_s, genes)), index=[f"CL{i}" for i in range(n_s)], columns=cols)
    target = pd.DataFrame(rng.normal(size=(n_t, genes)) + 1.0, index=[f"T{i}" for i in range(n_t)], columns=cols)
    return source, target


def test_domain_map_is_deterministic_with_one_row_per_sample():
    source, target = two_domains()
    tissue = pd.Series(["lung"] * 10 + ["skin"] * 5, index=[*source.index[:10], *target.index[:5]])
    first = domain_map(source, target[target.columns[::-1]], seed=3, tissue=tissue)
    again = domain_map(source, target, seed=3, tissue=tissue)
    pd.testing.assert_frame_equal(first, again)
    assert list(first.index) == [*source.index, *target.index]
    assert list(first.columns) == ["x", "y", "domain", "tissue"]
    assert (first["domain"].value_counts() == pd.Series({"cell line": 30, "patient": 20})).all()
    assert first["tissue"].notna().sum() == 15
    assert np.isfinite(first[["x", "y"]].to_numpy(dtype=float)).all()


@pytest.mark.parametrize("change, message", [
    (lambda s, t: (s, t.drop(columns="G0")), "same features"),
    (lambda s, t: (s, t.rename(index={"T0": "CL0"})), "appears twice"),
    (lambda s, t: (s, t.assign(G1=np.nan)), "non-finite"),
    (lambda s, t: (s, t.assign(cohort="tcga")), "non-numeric"),
    (lambda s, t: (s.iloc[:0], t), "empty"),
])
def test_domain_map_refuses_bad_inputs(change, message):
    source, target = change(*two_domains())
    with pytest.raises(ValueError, match=message):
        domain_map(source, target)


def test_domain_map_names_its_methods():
    source, target = two_domains()
    with pytest.raises(ValueError, match="tsne, umap"):
        domain_map(source, target, method="pca")


def test_embed_with_encoder_uses_the_encoders_shared_embedding():
    from drugshift.models.codeae import CodeAE, CodeAEModule
    from drugshift.params import resolve_codeae_params

    source, _ = two_domains()
    params = resolve_codeae_params({"seed": 42, "codeae": {"params": {
        "encoder_hidden": [8], "latent": 4, "decoder_hidden": [8], "critic_hidden": [4]}}}, "codeae_adv")
    encoder = CodeAE("codeae_adv", params, CodeAEModule(source.shape[1], params.pretrain), list(source.columns))
    Z = embed_with_encoder(encoder, source[source.columns[::-1]])
    assert list(Z.index) == list(source.index)
    assert list(Z.columns) == [f"latent_{i}" for i in range(4)]
    np.testing.assert_allclose(Z.to_numpy(), encoder.embed(source), rtol=1e-6)


def map_coords(tissues):
    rng = np.random.default_rng(1)
    n = len(tissues)
    return pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n),
                         "domain": ["cell line"] * (n // 2) + ["patient"] * (n - n // 2), "tissue": tissues},
                        index=[f"S{i}" for i in range(n)])


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_domain_embedding_colours_by_domain_and_by_tissue():
    coords = map_coords(["lung", "skin", None, "lung"] * 5)
    fig = cp.domain_embedding(coords, "CODE-AE-ADV embedding", domain_auroc=0.563)
    left, right = fig.axes
    assert (left.get_title(), right.get_title()) == ("coloured by domain", "coloured by tissue")
    assert left.get_xlabel() == "t-SNE 1" and right.get_ylabel() == "t-SNE 2"
    assert legend_texts(left) == ["cell line (n = 10)", "patient (n = 10)"]
    assert legend_texts(right) == ["lung (n = 10)", "skin (n = 5)", "unknown (n = 5)"]
    title = fig._suptitle.get_text()
    assert "CODE-AE-ADV embedding" in title and "AUROC = 0.56" in title and "10 cell lines" in title


def test_domain_embedding_pools_rare_tissues_and_draws_one_panel_without_tissue():
    tissues = [f"t{i:02d}" for i in range(12) for _ in range(12 - i)]  # 12 tissues, t00 most frequent
    fig = cp.domain_embedding(map_coords(tissues), "original expression", method_label="UMAP")
    labels = legend_texts(fig.axes[1])
    assert len(labels) == 10 and labels[-1] == "other (n = 6)" and labels[0] == "t00 (n = 12)"
    assert fig.axes[1].get_xlabel() == "UMAP 1"
    single = cp.domain_embedding(map_coords(tissues).drop(columns="tissue"), "x")
    assert len(single.axes) == 1
    with pytest.raises(ValueError, match="domain"):
        cp.domain_embedding(map_coords(tissues).drop(columns="domain"), "x")


# --------------------------------------------------------------------------- Figs. 3–4 and ranks


def test_metric_by_drug_draws_a_bar_per_method_and_drug_with_chance():
    bench = benchmark_table()
    fig = cp.metric_by_drug(bench, "tcga", "AUPRC")
    ax = fig.axes[0]
    bars = bar_containers(ax)
    assert len(bars) == 3 and all(len(b) == 4 for b in bars)
    expected = bench[(bench.cohort == "tcga") & (bench.method == "mlp")].groupby("drug", sort=False)["AUPRC"].mean()
    np.testing.assert_allclose([r.get_width() for r in bars[1]], expected.to_numpy())
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "d1\nn = 20 patients, 5 sensitive"
    chance = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(chance) == 4 and all(np.allclose(line.get_xdata(), 0.25) for line in chance)
    assert ax.get_title() == "TCGA patients: AUPRC per drug (4 drugs, 3 methods)"
    assert ax.get_xlabel() == "AUPRC (mean ± SD over 3 fold models)"
    assert legend_texts(ax) == ["chance", "codeae_adv", "mlp", "elasticnet"]
    auroc = cp.metric_by_drug(bench, "pdtc", methods=["mlp", "codeae_adv"]).axes[0]
    assert len(bar_containers(auroc)) == 2 and "PDTC" in auroc.get_title()
    assert all(np.allclose(line.get_xdata(), 0.5) for line in auroc.get_lines() if line.get_linestyle() == "--")


@pytest.mark.parametrize("kwargs, message", [
    ({"cohort": "gdsc_cv"}, "cohort 'gdsc_cv'"),
    ({"cohort": "tcga", "metric": "accuracy"}, "AUROC, AUPRC"),
    ({"cohort": "tcga", "methods": ["vae"]}, "vae"),
])
def test_metric_by_drug_refuses_bad_requests(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cp.metric_by_drug(benchmark_table(), **kwargs)
    with pytest.raises(ValueError, match="n_sensitive"):
        cp.metric_by_drug(benchmark_table().drop(columns="n_sensitive"), "tcga")


@pytest.mark.parametrize("round_to", [None, 1])  # 1 decimal: tied scores within drugs
def test_critical_difference_reports_the_friedman_test(round_to):
    bench = benchmark_table(methods=("a", "b", "c", "d"), drugs=[f"d{i}" for i in range(8)])
    if round_to is not None:
        bench["AUROC"] = bench["AUROC"].round(round_to)
    fig = cp.critical_difference(bench, "tcga")
    scores = bench[bench.cohort == "tcga"].groupby(["drug", "method"])["AUROC"].mean().round(12).unstack()
    p = friedmanchisquare(*scores.to_numpy().T).pvalue
    ax = fig.axes[0]
    assert f"Friedman p = {p:.3g}" in ax.get_title()
    assert "4 methods over 8 drugs" in ax.get_title()
    assert ax.get_xlabel() == "mean rank across drugs (1 = best)"
    labels = {t.get_text() for t in ax.texts}
    ranks = scores.rank(axis=1, ascending=False).mean()
    assert f"a ({ranks['a']:.2f})" in labels or f"({ranks['a']:.2f}) a" in labels


def test_critical_difference_needs_two_methods_and_two_drugs():
    assert cp.critical_difference(benchmark_table(methods=("a", "b")), "tcga").axes  # scipy needs 3; we do not
    with pytest.raises(ValueError, match="at least 2 methods and 2 drugs"):
        cp.critical_difference(benchmark_table(methods=("a",)), "tcga")
    with pytest.raises(ValueError, match="at least 2 methods and 2 drugs"):
        cp.critical_difference(benchmark_table(drugs=("d1",)), "tcga")
    with pytest.raises(ValueError, match="cohort 'pdx'"):
        cp.critical_difference(benchmark_table(), "pdx")


# --------------------------------------------------------------------------- Fig. 5


def test_cluster_drug_zscores_follows_the_paper_or_scales_per_drug():
    clusters, _ = clustered_patients()
    rng = np.random.default_rng(2)
    matrix = pd.DataFrame(rng.random((12, 3)), index=clusters.index, columns=["A", "B", "C"])
    paper = cp.cluster_drug_zscores(matrix, clusters)
    pd.testing.assert_frame_equal(paper, cluster_zscores(matrix, clusters))
    per_drug = cp.cluster_drug_zscores(matrix, clusters, per_drug=True)
    by_drug = per_drug.groupby("drug")["zscore"]
    np.testing.assert_allclose(by_drug.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(by_drug.std(ddof=0), 1)


def test_cluster_drug_heatmap_draws_negative_zscores_as_zero():
    z = pd.DataFrame({"patient_cluster": [0, 0, 1, 1, 2, 2], "drug": ["A", "B"] * 3,
                      "zscore": [1.5, -0.7, -2.0, 0.4, 0.0, 0.9], "n_patients": [5, 5, 3, 3, 4, 4]})
    fig = cp.cluster_drug_heatmap(z)
    ax, bar = fig.axes
    image = ax.get_images()[0].get_array()
    np.testing.assert_allclose(np.asarray(image), [[1.5, 0.0], [0.0, 0.4], [0.0, 0.9]])
    assert bar.get_ylabel() == "z-score of mean P(sensitive)\n(< 0 shown as 0)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0 (n = 5)", "1 (n = 3)", "2 (n = 4)"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("drug", "patient cluster")
    assert "12 patients in 3 patient clusters" in ax.get_title() and "2 drugs" in ax.get_title()
    with pytest.raises(ValueError, match="more than once"):
        cp.cluster_drug_heatmap(pd.concat([z, z]))
    with pytest.raises(ValueError, match="zscore"):
        cp.cluster_drug_heatmap(z.drop(columns="zscore"))


def test_cluster_composition_counts_one_tumours_patients_per_cluster():
    clusters, tumour = clustered_patients()
    fig = cp.cluster_composition(clusters, tumour, "LUSC")
    ax = fig.axes[0]
    assert [r.get_height() for r in bar_containers(ax)[0]] == [3, 1, 2]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert [t.get_text() for t in ax.texts] == ["50%", "17%", "33%"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("patient cluster", "patients")
    assert ax.get_title() == "LUSC: 6 patients in 3 of 3 patient clusters"
    assert any(child.get_ylabel() == "% of LUSC patients" for child in ax.child_axes)
    with pytest.raises(ValueError, match="present: \\['BRCA', 'HNSC', 'LUSC', 'unknown'\\]"):
        cp.cluster_composition(clusters, tumour, "GBM")
    with pytest.raises(ValueError, match="share no patient"):
        cp.cluster_composition(clusters, tumour.rename(lambda s: s + "x"), "LUSC")


def test_tumours_in_cluster_lists_tumour_types_largest_first():
    clusters, tumour = clustered_patients()
    fig = cp.tumours_in_cluster(clusters, tumour, 0)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["LUSC", "BRCA", "unknown"]
    assert [r.get_width() for r in bar_containers(ax)[0]] == [3, 1, 1]
    assert ax.texts[0].get_text() == "3 (60%)"
    assert ax.get_title() == "Patient cluster 0: 5 patients of 3 tumour types"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("patients", "primary tumour type")
    with pytest.raises(ValueError, match="cluster 7 has no patients"):
        cp.tumours_in_cluster(clusters, tumour, 7)


def test_critical_difference_figure_bytes_do_not_depend_on_string_hashing(tmp_path):
    """scikit-posthocs draws crossbars from Python sets; the saved figure must not follow the
    interpreter's hash seed (the workflow's outputs are byte-identical between runs)."""
    import subprocess
    import sys

    rng = np.random.default_rng(3)
    rows = [{"method": m, "cohort": "tcga", "drug": d, "fold": f, "AUROC": 0.6 + 0.01 * i + rng.normal(0, 0.01),
             "AUPRC": 0.5, "n": 40, "n_sensitive": 10}
            for i, m in enumerate(["codeae_adv", "mlp", "elasticnet", "ae"]) for d in ["A", "B"] for f in range(3)]
    table = tmp_path / "benchmark.tsv"
    pd.DataFrame(rows).to_csv(table, sep="\t", index=False)
    script = "\n".join(["import sys, pandas as pd",
                         "from drugshift.plots import save_figure",
                         "from drugshift.plots.codeae_paper import critical_difference",
                         "table = pd.read_csv(sys.argv[1], sep=chr(9))",
                         "save_figure(critical_difference(table, 'tcga'), sys.argv[2])"])
    for seed in ("1", "4"):
        subprocess.run([sys.executable, "-c", script, str(table), str(tmp_path / f"cd{seed}.png")], check=True,
                       env={**__import__("os").environ, "PYTHONHASHSEED": seed})
    for suffix in (".png", ".pdf"):
        assert (tmp_path / f"cd1{suffix}").read_bytes() == (tmp_path / f"cd4{suffix}").read_bytes()
