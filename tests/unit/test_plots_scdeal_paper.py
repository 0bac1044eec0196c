"""The scDEAL paper's figures (drugshift.plots.scdeal_paper) on tiny generated inputs: what each
panel draws, its labels, and the errors on bad input."""

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from scipy import stats

from drugshift.plots import scdeal_paper as P
from drugshift.plots.style import DIVERGING, RESISTANT, SENSITIVE


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def colourbar_labels(fig):
    return [ax.get_ylabel() for ax in fig.axes if hasattr(ax, "_colorbar")]


def bars(ax):
    return [patch for c in ax.containers if isinstance(c, BarContainer) for patch in c]


def scatter_offsets(ax):
    return np.vstack([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])


# --------------------------------------------------------------------------- inputs


def summary_table():
    rng = np.random.default_rng(0)
    rows = []
    for ds, drug in (("D1", "cisplatin"), ("D2", "gefitinib"), ("D3", "ibet")):
        for setting in ("transfer", "no_transfer"):
            rows.append({"dataset": ds, "drug": drug, "setting": setting, **dict(zip(P.PAPER_METRICS, rng.random(7))),
                         "f1_weighted": 0.5, "n": 100, "n_sensitive": 40})
    return pd.DataFrame(rows)


def runs_table(settings=("scdeal", "no_transfer", "ae", "dae", "gdsc_only"), datasets=("D1", "D2"), seeds=3, subs=4):
    rng = np.random.default_rng(1)
    rows = []
    for ds in datasets:
        for s in settings:
            for rep in [f"seed{k}" for k in range(seeds)] + [f"sub{k}" for k in range(subs)]:
                rows.append({"dataset": ds, "setting": s, "replicate": rep, "model_seed": 42, "subsample_seed": None,
                             "n_cells": 100, **{m: rng.uniform(0.3, 0.9) for m in (*P.PAPER_METRICS, "f1_weighted")},
                             "signature_r": 0.1})
    return pd.DataFrame(rows)


def cells(n=60, n_genes=8, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.poisson(2, (n, n_genes)).astype(np.float32)
    obs = pd.DataFrame({
        "condition": pd.Categorical(rng.choice(["DMSO", "drug"], n)),
        "response": rng.choice([0.0, 1.0, np.nan], n),
        "sens_label": rng.integers(0, 2, n).astype(np.int8),
        "sens_prob": rng.random(n),
        "pseudotime": np.r_[rng.random(n - 2), np.inf, np.nan],
    }, index=[f"c{i}" for i in range(n)])
    a = ad.AnnData(X, obs=obs, var=pd.DataFrame(index=[f"G{j}" for j in range(n_genes)]))
    a.layers["lognorm"] = np.log1p(X)
    a.obsm["X_umap"] = rng.normal(size=(n, 2))
    a.obsm["X_diffmap"] = rng.normal(size=(n, 4))
    return a


def critical_table(genes, per_group=3):
    rows = []
    for g, chosen in (("sensitive", genes[:per_group]), ("resistant", genes[per_group:2 * per_group])):
        rows += [{"gene": x, "group": g, "score": 5.0 - k, "logFC": 1.0, "p": 1e-5, "p_adj": 1e-4, "frac_group": 0.5,
                  "critical": True, "rank": k + 1} for k, x in enumerate(chosen)]
    rows.append({"gene": genes[-1], "group": "sensitive", "score": 0.1, "logFC": 0.0, "p": 0.9, "p_adj": 0.9,
                 "frac_group": 0.5, "critical": False, "rank": per_group + 1})
    return pd.DataFrame(rows)


def attribution(n=40, n_genes=10, seed=3):
    rng = np.random.default_rng(seed)
    prob = rng.random(n)
    obs = pd.DataFrame({"sens_prob": prob, "predicted": np.where(prob >= 0.5, "sensitive", "resistant")},
                       index=[f"c{i}" for i in range(n)])
    a = ad.AnnData(np.zeros((n, n_genes), np.float32), obs=obs,
                   var=pd.DataFrame(index=[f"G{j}" for j in range(n_genes)]))
    a.layers["sensitive"] = rng.normal(0, 1, (n, n_genes)).astype(np.float32)
    a.layers["resistant"] = rng.normal(0, 1, (n, n_genes)).astype(np.float32)
    return a


# --------------------------------------------------------------------------- Fig. 2


def test_metrics_by_dataset_draws_transfer_rows_only():
    fig = P.metrics_by_dataset(summary_table())
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(bars(ax)) == 3 * 7
    table = summary_table()
    expected = table[table["setting"] == "transfer"]["f1"].to_numpy()
    assert np.allclose([p.get_height() for p in bars(ax)[:3]], expected)  # the F1 bars, one per dataset
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["F1", "AUROC", "AP", "precision", "recall", "AMI",
                                                                     "ARI"]
    assert ax.get_ylabel() == "score" and "3 datasets" in ax.get_title()
    assert "n = 100 cells" in ax.get_xticklabels()[0].get_text()


def test_metrics_by_dataset_without_setting_uses_all_rows_and_names_missing_column():
    table = summary_table().drop(columns="setting")
    assert len(bars(P.metrics_by_dataset(table).axes[0])) == 6 * 7
    with pytest.raises(ValueError, match="'ari'"):
        P.metrics_by_dataset(summary_table().drop(columns="ari"))


def test_setting_comparison_bars_dots_and_skipped_settings():
    runs = runs_table()
    fig = P.setting_comparison(runs, ["gdsc_only", "ccle_only", "scdeal"], labels={"scdeal": "both"}, title="bulk")
    ax = fig.axes[0]
    assert len(bars(ax)) == 2 * 2  # ccle_only absent: skipped
    seeds = runs[runs["replicate"].str.startswith("seed")]
    expected = seeds[(seeds["dataset"] == "D1") & (seeds["setting"] == "gdsc_only")]["f1"]
    assert bars(ax)[0].get_height() == pytest.approx(expected.mean())
    assert len(scatter_offsets(ax)) == 2 * 2 * 3  # one dot per seed run, sub<k> runs left out
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["GDSC only (n = 3 runs)", "both (n = 3 runs)"]
    assert ax.get_ylabel() == "F1" and ax.get_title().startswith("bulk")


def test_setting_comparison_errors():
    runs = runs_table()
    with pytest.raises(ValueError, match="none of the settings"):
        P.setting_comparison(runs, ["linear"])
    with pytest.raises(ValueError, match="seed<k>"):
        P.setting_comparison(runs[runs["replicate"].str.startswith("sub")], ["scdeal"])
    with pytest.raises(ValueError, match="'auroc'"):
        P.setting_comparison(runs.drop(columns="auroc"), ["scdeal"], metric="auroc")


def test_fig2_panels_name_known_settings():
    from drugshift.methods import SETTINGS

    for kwargs in P.FIG2_PANELS.values():
        assert set(kwargs["settings"]) <= set(SETTINGS)
        P.setting_comparison(runs_table(settings=tuple(SETTINGS)), **kwargs)


def test_subsampling_robustness_one_box_per_dataset_and_setting():
    runs = runs_table(settings=("scdeal", "linear"), datasets=("D1", "D2", "D3"))
    fig = P.subsampling_robustness(runs, metric="auroc")
    ax = fig.axes[0]
    assert len([p for p in ax.patches if isinstance(p, PathPatch)]) == 3 * 2
    medians = [line.get_ydata()[0] for line in ax.lines if len(line.get_xdata()) == 2
               and line.get_xdata()[0] != line.get_xdata()[1] and line.get_color() == "k"]
    subs = runs[runs["replicate"].str.startswith("sub")]
    first = subs[(subs["dataset"] == "D1") & (subs["setting"] == "scdeal")]
    assert medians[0] == pytest.approx(first["auroc"].median())
    assert ax.get_ylabel() == "AUROC" and "80 %" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["scDEAL (n = 4)", "linear (n = 4)"]
    with pytest.raises(ValueError, match="sub<k>"):
        P.subsampling_robustness(runs[runs["replicate"].str.startswith("seed")])


# --------------------------------------------------------------------------- embeddings


def test_umap_panels_labels_categories_and_probability():
    a = cells()
    panels = [("condition", "treatment"), ("response", "ground truth"), ("sens_label", "predicted"),
              ("sens_prob", "probability"), ("pseudotime", "pseudotime")]
    fig = P.umap_panels(a, panels, ncols=3)
    axes = fig.axes[:6]
    assert [ax.get_title().split("\n")[0] for ax in axes[:5]] == [t for _, t in panels]
    assert not axes[5].axison  # the sixth slot of the 2 × 3 grid is empty
    for ax in axes[:5]:
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("UMAP1", "UMAP2")
        assert len(scatter_offsets(ax)) == a.n_obs
    truth = [t.get_text() for t in axes[1].get_legend().get_texts()]
    r = a.obs["response"]
    assert truth == [f"sensitive ({(r == 1).sum()})", f"resistant ({(r == 0).sum()})", f"unlabelled ({r.isna().sum()})"]
    colours = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in axes[2].collections}
    from matplotlib.colors import to_rgb
    assert colours == {tuple(np.round(to_rgb(SENSITIVE), 3)), tuple(np.round(to_rgb(RESISTANT), 3))}
    assert "DMSO" in axes[0].get_legend().get_texts()[0].get_text()
    assert colourbar_labels(fig) == ["P(sensitive)", "diffusion pseudotime"]
    prob = axes[3].collections[0]
    assert prob.get_clim() == (0, 1) and prob.get_cmap().name == DIVERGING
    assert "2 cells without a value" in axes[4].get_title()
    assert f"n = {a.n_obs} cells" in fig._suptitle.get_text()


def test_umap_panels_gene_on_diffmap():
    a = cells()
    fig = P.umap_panels(a, [("G3", "G3")], basis="X_diffmap")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("DC1", "DC2")
    points = ax.collections[0]
    assert np.allclose(points.get_offsets(), a.obsm["X_diffmap"][:, [1, 2]])  # component 0 is trivial
    assert np.allclose(points.get_array(), a.layers["lognorm"][:, 3])
    assert colourbar_labels(fig) == ["log-normalised expression"]
    a.obsm["X_diffmap"] = a.obsm["X_diffmap"][:, 1:3]  # the two non-trivial components only
    ax = P.umap_panels(a, [("G3", "G3")], basis="X_diffmap").axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("DC1", "DC2")
    assert np.allclose(ax.collections[0].get_offsets(), a.obsm["X_diffmap"])


def test_umap_panels_bad_input():
    a = cells()
    with pytest.raises(ValueError, match="'nope'"):
        P.umap_panels(a, [("nope", "x")])
    with pytest.raises(ValueError, match="X_tsne"):
        P.umap_panels(a, [("sens_prob", "x")], basis="X_tsne")
    a.obs["sens_label"] = a.obs["sens_label"].astype(int) + 5
    with pytest.raises(ValueError, match="1/0 or sensitive/resistant"):
        P.umap_panels(a, [("sens_label", "x")])


# --------------------------------------------------------------------------- Fig. 3c–d


def deg_scores(n=80, seed=4):
    rng = np.random.default_rng(seed)
    truth = rng.random(n)
    return pd.DataFrame({"cell": [f"c{i}" for i in range(n)], "sensitive_truth_degs": truth,
                         "sensitive_predicted_degs": truth + rng.normal(0, 0.3, n),
                         "resistant_truth_degs": rng.random(n), "resistant_predicted_degs": rng.random(n)})


def test_deg_score_scatter_one_tailed_test_in_title():
    scores = deg_scores()
    scores.loc[0, "sensitive_truth_degs"] = np.nan
    fig = P.deg_score_scatter(scores, "sensitive")
    ax = fig.axes[0]
    ok = scores.dropna()
    res = stats.pearsonr(ok["sensitive_truth_degs"], ok["sensitive_predicted_degs"], alternative="greater")
    title = ax.get_title()
    assert f"r = {res.statistic:.2f}" in title and f"p = {res.pvalue:.2g}" in title and "n = 79 cells" in title
    assert len(ax.collections[0].get_offsets()) == 79
    assert ax.get_xlabel() == "score of ground-truth sensitive DEGs"
    assert ax.get_ylabel() == "score of predicted sensitive DEGs"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cells", "95 % CI", "OLS fit"]


def test_deg_score_scatter_bad_input():
    with pytest.raises(ValueError, match="'resistant_truth_degs'"):
        P.deg_score_scatter(deg_scores().drop(columns="resistant_truth_degs"), "resistant")
    with pytest.raises(ValueError, match="sensitive' or 'resistant"):
        P.deg_score_scatter(deg_scores(), "both")


def test_null_distribution_marks_observed_r():
    null = np.random.default_rng(5).normal(0, 0.1, 200)
    fig = P.null_distribution(null, 0.25, "resistant")
    ax = fig.axes[0]
    line = ax.lines[0]
    assert np.allclose(line.get_xdata(), 0.25)
    p = (1 + np.sum(null >= 0.25)) / 201
    assert f"p = {p:.3g}" in ax.get_title() and "n = 200 random gene sets" in ax.get_title()
    assert ax.get_xlim()[1] > 0.25
    assert sum(patch.get_height() for patch in ax.patches) == 200
    assert "p = 0.001" in P.null_distribution(null, 0.9, "sensitive", p_empirical=0.001).axes[0].get_title()
    with pytest.raises(ValueError, match="null_r"):
        P.null_distribution([np.nan], 0.5, "sensitive")


# --------------------------------------------------------------------------- Fig. 4b–c


def test_ig_heatmap_rows_columns_and_scale():
    attr = attribution()
    critical = critical_table(list(attr.var_names))
    fig = P.ig_heatmap(attr, critical, top=2)
    heat = next(ax for ax in fig.axes if ax.images and ax.images[0].get_cmap().name == DIVERGING)
    image = np.asarray(heat.images[0].get_array())
    assert image.shape == (4, attr.n_obs)  # top 2 of each group × all cells
    prob = attr.obs["sens_prob"].to_numpy()
    first = int(np.argmax(np.where(attr.obs["predicted"] == "sensitive", prob, -1)))
    last = int(np.argmin(np.where(attr.obs["predicted"] == "resistant", prob, 2)))
    assert image[0, 0] == pytest.approx(attr.layers["sensitive"][first, 0])  # G0: sensitive CG, own layer
    assert image[2, -1] == pytest.approx(attr.layers["resistant"][last, 3])  # G3: first resistant CG
    lo, hi = heat.images[0].get_clim()
    assert lo == -hi
    assert hi == pytest.approx(np.percentile(np.abs(image), 99))
    assert [t.get_text() for t in heat.get_yticklabels()] == ["G0", "G1", "G3", "G4"]
    assert colourbar_labels(fig) == ["integrated gradient"]
    assert f"n = {attr.n_obs}" in heat.get_xlabel()
    many = P.ig_heatmap(attr, critical, top=2, max_labels=3)
    assert not any(ax.get_yticklabels() for ax in many.axes if ax.images and ax.images[0].get_cmap().name == DIVERGING)


def test_ig_heatmap_bad_input():
    attr = attribution()
    critical = critical_table(list(attr.var_names))
    with pytest.raises(ValueError, match="'rank'"):
        P.ig_heatmap(attr, critical.drop(columns="rank"))
    del attr.layers["resistant"]
    with pytest.raises(ValueError, match="resistant"):
        P.ig_heatmap(attr, critical)


def test_critical_gene_dotplot_genes_groups_and_legends():
    a = cells()
    critical = critical_table(list(a.var_names))
    fig = P.critical_gene_dotplot(a, critical, top=2)
    assert isinstance(fig, Figure)
    texts = [t.get_text() for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()]
    assert {"G0", "G1", "G3", "G4"} <= set(texts) and "G2" not in texts  # top 2 per group only
    n_sens = int((a.obs["sens_label"] == 1).sum())
    assert f"sensitive (n = {n_sens})" in texts and f"resistant (n = {a.n_obs - n_sens})" in texts
    titles = [ax.get_title() for ax in fig.axes]
    assert any("log-normalised expression" in t for t in titles)
    assert any("fraction of cells" in t for t in titles)
    with pytest.raises(ValueError, match="'predicted'"):
        P.critical_gene_dotplot(a, critical, groupby="predicted")
    # Values normalised by the data's authors (z-scores): the legends say what is drawn.
    a.uns["values"] = "normalised"
    titles = [ax.get_title() for ax in P.critical_gene_dotplot(a, critical, top=2).axes]
    assert any("normalised expression (as given)" in t for t in titles)
    assert any("above 0" in t for t in titles) and not any("log-normalised" in t for t in titles)


# --------------------------------------------------------------------------- Fig. 5e–f


def test_correlation_matrix_values_scale_and_n():
    rng = np.random.default_rng(6)
    t = pd.DataFrame({"pseudotime": rng.random(50), "sens_prob": rng.random(50), "label": ["x"] * 50})
    t["resistant_score"] = t["pseudotime"] + rng.normal(0, 0.1, 50)
    t.loc[3, "sens_prob"] = np.nan
    fig = P.correlation_matrix(t, title="Fig. 5e")
    ax = fig.axes[0]
    numeric = t[["pseudotime", "sens_prob", "resistant_score"]].dropna()
    assert np.allclose(ax.images[0].get_array(), numeric.corr("spearman").to_numpy())
    assert ax.images[0].get_clim() == (-1, 1)
    assert len(ax.texts) == 9
    assert "n = 49 cells" in ax.get_title() and ax.get_title().startswith("Fig. 5e")
    assert colourbar_labels(fig) == ["Spearman ρ"]
    assert [x.get_text() for x in ax.get_xticklabels()] == list(numeric.columns)
    with pytest.raises(ValueError, match="'nope'"):
        P.correlation_matrix(t, columns=["pseudotime", "nope"])
    with pytest.raises(ValueError, match="at least 2 numeric"):
        P.correlation_matrix(t[["pseudotime", "label"]])
