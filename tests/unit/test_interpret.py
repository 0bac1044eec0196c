"""Interpretation: drugshift.interpret (IG completeness, critical genes, DEG scores, pseudotime) and
the planted-gene recovery on the demo world."""

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch

from drugshift import interpret as I
from drugshift.enrich import enrich_critical_genes, term_ranks
from drugshift.models.scdeal import ScDEAL

# --------------------------------------------------------------------------- a tiny trained model


def tiny_world(seed=0, n_bulk=120, n_cells=160, n_genes=40):
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.2, 0.8, n_genes)
    signal = np.zeros(n_genes)
    signal[:6], signal[6:12] = 1.0, -1.0
    yb = (rng.random(n_bulk) < 0.5).astype(int)
    yc = (rng.random(n_cells) < 0.5).astype(int)
    Xb = np.clip(mu + 0.3 * (yb[:, None] - 0.5) * signal + rng.normal(0, 0.1, (n_bulk, n_genes)), 0, 1)
    Xc = np.clip(0.8 * (mu + 0.3 * (yc[:, None] - 0.5) * signal + rng.normal(0, 0.1, (n_cells, n_genes))), 0, 1)
    return Xb.astype(np.float32), yb, Xc.astype(np.float32), yc


@pytest.fixture(scope="module")
def tiny():
    Xb, yb, Xc, yc = tiny_world()
    params = dict(bulk_hidden=[16, 8], sc_hidden=[16, 8], bulk_bottleneck=4, predictor_hidden=[4], dropout=0.1,
                  batch_size=32, lr=3e-3, epochs_dae=15, epochs_predictor=25, epochs_joint=10, patience=0,
                  lr_decay_patience=None, log_every=1000, reg_weight=0.0)
    return ScDEAL(params, device="cpu").fit(Xb, yb, Xc), Xb, Xc, yc


def test_ig_completeness_cells_and_bulk(tiny):
    model, Xb, Xc, _ = tiny
    Xb, Xc = Xb[:40], Xc[:40]
    for network, X in ((I.cell_path(model), Xc), (I.bulk_path(model), Xb)):
        attr = I.integrated_gradients(network, X, n_steps=300, batch_size=64)
        assert set(attr) == {"sensitive", "resistant"} and attr["sensitive"].shape == X.shape
        err = I.completeness_error(network, X, attr)
        with torch.no_grad():
            f = network(torch.as_tensor(X)).numpy()
            f0 = network(torch.zeros(1, X.shape[1])).numpy()
        delta = np.abs(f - f0)
        assert delta[:, 1].max() > 0.05  # the outputs move, so the check is not vacuous
        assert I.baseline_probability(network, X.shape[1]) == pytest.approx(float(f0[0, 1]), abs=1e-6)
        # ReLU networks have piecewise-constant gradients, so quadrature error falls as 1/steps:
        # at 300 steps it is a few thousandths of an output that moves by up to ~1.
        for name in ("sensitive", "resistant"):
            assert err[name].mean() < 0.003 and err[name].max() < 0.03, (err[name].mean(), err[name].max())
        # two-class softmax: F0 = 1 - F1, so the attributions are opposite
        np.testing.assert_allclose(attr["resistant"], -attr["sensitive"], atol=1e-9)
    # with few steps the error is larger: the check measures the integration, not a constant
    coarse = I.integrated_gradients(network, X, n_steps=3)
    assert I.completeness_error(network, X, coarse)["sensitive"].mean() > 2 * err["sensitive"].mean()


def test_ig_zero_input_has_zero_attribution_and_batches_agree(tiny):
    model, _, Xc, _ = tiny
    X = Xc[:20].copy()
    X[0] = 0.0
    X[1, :5] = 0.0
    a = I.integrated_gradients(I.cell_path(model), X, n_steps=20, batch_size=7)
    b = I.integrated_gradients(I.cell_path(model), X, n_steps=20, batch_size=64)
    assert np.all(a["sensitive"][0] == 0) and np.all(a["sensitive"][1, :5] == 0)
    np.testing.assert_allclose(a["sensitive"], b["sensitive"], rtol=1e-10, atol=1e-12)


def test_ig_leaves_the_model_alone_and_uses_eval_mode(tiny):
    model, _, Xc, _ = tiny
    net = I.cell_path(model)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()  # even a module left in train mode is attributed in eval mode (BatchNorm running stats)
    a = I.integrated_gradients(net, Xc[:30], n_steps=10)
    b = I.integrated_gradients(net, Xc[:5], n_steps=10)
    np.testing.assert_allclose(a["sensitive"][:5], b["sensitive"], atol=1e-12)  # no batch dependence
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert next(net.parameters()).dtype == torch.float32
    net.eval()


def test_bulk_path_is_the_bulk_prediction(tiny):
    model, Xb, _, _ = tiny
    with torch.no_grad():
        p = I.bulk_path(model)(torch.as_tensor(Xb))[:, 1].numpy()
    np.testing.assert_allclose(p, model.predict_bulk(Xb), atol=1e-6)


def test_attribution_anndata_layers_and_obs(tiny, tmp_path):
    model, _, Xc, yc = tiny
    attr = I.integrated_gradients(I.cell_path(model), Xc, n_steps=10)
    prob = model.predict(Xc)
    obs = pd.DataFrame({"response": yc.astype(float)}, index=[f"c{i}" for i in range(len(yc))])
    a = I.attribution_anndata(attr, obs, [f"g{i}" for i in range(Xc.shape[1])], prob, {"ig": {"n_steps": 10}})
    a.write_h5ad(tmp_path / "attr.h5ad")
    b = ad.read_h5ad(tmp_path / "attr.h5ad")
    assert set(b.layers) == {"sensitive", "resistant"} and b.shape == Xc.shape
    np.testing.assert_allclose(b.X, b.layers["sensitive"])
    assert {"response", "sens_prob", "sens_label", "predicted"} <= set(b.obs)
    assert (b.obs["predicted"].astype(str) == np.where(prob >= 0.5, "sensitive", "resistant")).all()
    assert b.uns["ig"]["n_steps"] == 10


def test_attribution_anndata_labels_exactly_one_half_sensitive():
    attr = {"sensitive": np.zeros((3, 2)), "resistant": np.zeros((3, 2))}
    a = I.attribution_anndata(attr, pd.DataFrame(index=["a", "b", "c"]), ["g0", "g1"], [0.4999, 0.5, 0.9])
    assert a.obs["sens_label"].tolist() == [0, 1, 1] and a.obs["sens_label"].dtype == np.int8
    assert a.obs["predicted"].astype(str).tolist() == ["resistant", "sensitive", "sensitive"]


# --------------------------------------------------------------------------- critical genes


def planted_attr(seed=0, n=200, g=30):
    """IG layers with planted genes: 0–4 push to 'sensitive' in sensitive cells, 5–9 push to
    'resistant' (negative IG to 'sensitive') in resistant cells, gene 10 differs but is non-zero in only 10 % of cells, gene
    11 differs by only 2 % (below the log-fold-change threshold)."""
    rng = np.random.default_rng(seed)
    sens = np.arange(n) < n // 2
    s = rng.normal(0.01, 0.002, (n, g))
    s[sens, :5] += 0.02
    s[:, 5:10] = rng.normal(-0.002, 0.0005, (n, 5))  # resistance genes push away from 'sensitive' ...
    s[~sens, 5:10] -= 0.02  # ... most where they are expressed: in resistant cells
    s[:, 10] = 0.0
    s[rng.random(n) < 0.1, 10] = 0.05
    s[:, 11] = np.where(sens, 0.0102, 0.0100) + rng.normal(0, 1e-5, n)
    obs = pd.DataFrame(index=[f"c{i}" for i in range(n)])
    return I.attribution_anndata({"sensitive": s, "resistant": -s}, obs, [f"g{i}" for i in range(g)],
                                 np.where(sens, 0.9, 0.1))


def test_critical_genes_find_planted_genes_per_group():
    table = I.critical_genes(planted_attr())
    assert list(table.columns) == ["gene", "group", "score", "logFC", "p", "p_adj", "frac_group", "frac_reference",
                                   "mean_ig_group", "mean_ig_reference", "critical", "rank"]
    crit = table[table["critical"]]
    assert set(crit.loc[crit["group"] == "sensitive", "gene"]) == {f"g{i}" for i in range(5)}
    assert set(crit.loc[crit["group"] == "resistant", "gene"]) == {f"g{i}" for i in range(5, 10)}
    assert (crit["p_adj"] < 0.05).all() and (crit["logFC"] > 0.1).all()
    assert crit.groupby("group")["rank"].apply(lambda r: sorted(r.astype(int)) == list(range(1, len(r) + 1))).all()
    g11 = table[(table["gene"] == "g11") & (table["group"] == "sensitive")].iloc[0]
    assert g11["p_adj"] < 0.05 and not g11["critical"]  # significant, but the fold change is too small
    g10 = table[table["gene"] == "g10"]
    assert (g10["frac_group"] < 0.2).all() and not g10["critical"].any()
    # Bonferroni: p_adj = min(1, p * genes)
    np.testing.assert_allclose(table["p_adj"], np.minimum(1, table["p"] * 30), rtol=1e-6)


def test_critical_gene_thresholds_come_from_the_caller():
    strict = I.critical_genes(planted_attr(), {"p_adj": 0.05, "logfc": 5.0, "min_fraction": 0.2})
    assert not strict["critical"].any()
    loose = I.critical_genes(planted_attr(), {"p_adj": 0.05, "logfc": 0.1, "min_fraction": 0.05})
    assert "g10" not in set(loose.loc[loose["critical"], "gene"])  # passes the fraction, but does not differ
    assert loose["critical"].sum() >= 10


def test_critical_genes_empty_when_one_group_is_missing(caplog):
    a = planted_attr()
    a.obs["predicted"] = pd.Categorical(["sensitive"] * a.n_obs, categories=["sensitive", "resistant"])
    assert I.critical_genes(a).empty


def test_critical_gene_overlap_counts_shared_genes():
    def t(sens, res):
        rows = [(g, "sensitive", True) for g in sens] + [(g, "resistant", True) for g in res] + [("x", "sensitive", False)]
        return pd.DataFrame(rows, columns=["gene", "group", "critical"])

    o = I.critical_gene_overlap(t(["a", "b", "c", "d"], ["e"]), t(["a", "b", "x2"], [])).set_index("group")
    assert o.loc["sensitive", "n_shared"] == 2 and o.loc["sensitive", "shared_of_single_cell"] == 0.5
    assert o.loc["sensitive", "shared_of_bulk"] == pytest.approx(2 / 3)
    assert o.loc["sensitive", "jaccard"] == pytest.approx(2 / 5) and o.loc["sensitive", "shared_genes"] == "a;b"
    assert o.loc["resistant", "n_shared"] == 0 and np.isnan(o.loc["resistant", "shared_of_bulk"])


def test_planted_recovery_precision():
    table = pd.DataFrame({"gene": [f"g{i}" for i in range(10)], "group": "sensitive",
                          "score": np.arange(10, 0, -1.0), "critical": [True] * 6 + [False] * 4})
    r = I.planted_recovery(table, ["g0", "g2", "g9"], k=4)
    assert r["precision_at_k"] == 0.5 and r["n_critical"] == 6 and r["recall"] == pytest.approx(2 / 3)
    assert r["expected_precision"] == pytest.approx(0.3)


# --------------------------------------------------------------------------- DEG scores and pseudotime


def expression_world(seed=0, n=240, g=200):
    rng = np.random.default_rng(seed)
    truth = (np.arange(n) < n // 2).astype(int)
    X = rng.gamma(2.0, 0.5, (n, g))
    X[truth == 1, :15] += 1.5
    X[truth == 0, 15:30] += 1.5
    a = ad.AnnData(np.log1p(X).astype(np.float32), obs=pd.DataFrame(index=[f"c{i}" for i in range(n)]),
                   var=pd.DataFrame(index=[f"g{i}" for i in range(g)]))
    return a, truth, rng


def test_top_degs_find_planted_genes():
    a, truth, _ = expression_world()
    degs = I.top_degs(a, truth, n_genes=10)
    assert set(degs["sensitive"]) <= {f"g{i}" for i in range(15)} and len(degs["sensitive"]) == 10
    assert set(degs["resistant"]) <= {f"g{i}" for i in range(15, 30)}


def test_deg_scores_agree_for_good_predictions_and_not_for_random_ones():
    a, truth, rng = expression_world()
    good = truth.copy()
    flip = rng.choice(len(truth), 20, replace=False)
    good[flip] = 1 - good[flip]
    stats, scores = I.deg_score_agreement(a, good, truth, n_genes=20, n_null=30, seed=1, layer=None)
    for group in ("sensitive", "resistant"):
        assert stats[group]["pearson_r"] > 0.9
        assert stats[group]["p_empirical"] == pytest.approx(1 / 31)  # no random set does as well
        assert stats[group]["null_mean"] < 0.5
    assert list(scores.columns) == ["sensitive_predicted_degs", "sensitive_truth_degs", "resistant_predicted_degs",
                                    "resistant_truth_degs"]
    assert scores.min().min() == 0 and scores.max().max() == 1  # min-max scaled
    random_labels = rng.integers(0, 2, len(truth))
    bad, _ = I.deg_score_agreement(a, random_labels, truth, n_genes=20, n_null=30, seed=1, layer=None)
    # random labels have few or no DEGs (then r is NaN); never as good as the real ones
    assert not any(bad[g]["pearson_r"] >= stats[g]["pearson_r"] for g in ("sensitive", "resistant"))
    again, _ = I.deg_score_agreement(a, good, truth, n_genes=20, n_null=30, seed=1, layer=None)
    assert again["sensitive"]["pearson_r"] == stats["sensitive"]["pearson_r"]


def test_diffusion_pseudotime_follows_a_trajectory():
    rng = np.random.default_rng(0)
    n, g = 300, 40
    t = np.sort(rng.random(n))
    load = rng.normal(0, 1, (2, g))
    X = np.outer(t, load[0]) + np.outer(t ** 2, load[1]) + rng.normal(0, 0.05, (n, g))
    a = ad.AnnData(X.astype(np.float32), obs=pd.DataFrame(index=[f"c{i}" for i in range(n)]))
    pt = I.diffusion_pseudotime(a, t < 0.1, layer=None, n_pcs=10)
    assert pt.shape == (n,) and np.isfinite(pt).all()
    assert I.pearson(pt, t)["r"] > 0.9
    reverse = I.diffusion_pseudotime(a, t > 0.9, layer=None, n_pcs=10)
    assert I.pearson(reverse, t)["r"] < -0.9
    with pytest.raises(ValueError, match="root_cells"):
        I.diffusion_pseudotime(a, np.zeros(n, bool), layer=None)


def test_pearson_handles_constant_input():
    assert np.isnan(I.pearson([1, 1, 1, 1], [1, 2, 3, 4])["r"])
    assert I.pearson([1, 2, 3, 4], [2, 4, 6, 8.5])["r"] > 0.99


# --------------------------------------------------------------------------- the demo's planted truth


@pytest.fixture(scope="module")
def demo_interpretation(demo_world):
    """GSEDEMO1 of the demo world through the library chain, with a small scDEAL (short epochs)."""
    from drugshift.io import gdsc, geo
    from drugshift.labels import binarise_drug, condition_labels
    from drugshift.preprocess import QCParams, align_to_bulk, integrate_bulk, labelled_bulk, qc_and_normalise

    folder, truth = demo_world
    ds = "GSEDEMO1"
    info = truth["datasets"][ds]
    bulk = integrate_bulk({"gdsc": gdsc.read_gdsc_expression(folder / "gdsc/Cell_line_RMA_proc_basalExp.txt")})
    response = pd.concat([gdsc.read_gdsc_response(folder / f"gdsc/GDSC{i}_fitted_dose_response.csv") for i in (1, 2)])
    labels = binarise_drug(response, info["drug"], "waterfall", ["GDSC1", "GDSC2"])
    cells = geo.attach_metadata(geo.read_geo_counts(folder / f"geo/{ds}/{ds}_counts.txt.gz"),
                                folder / f"geo/{ds}/{ds}_cell_metadata.csv")
    cells.obs["response"] = condition_labels(cells.obs["condition"], [info["sensitive_condition"]],
                                             [info["resistant_condition"]]).to_numpy()
    cells, bulk = align_to_bulk(qc_and_normalise(cells, QCParams()), bulk)
    Xb, y = labelled_bulk(bulk, labels)
    params = dict(bulk_hidden=[128, 64], sc_hidden=[128, 64], bulk_bottleneck=32, predictor_hidden=[16, 8],
                  dropout=0.1, noise_p=0.2, predictor_noise_p=0.5, lr=1e-3, batch_size=128, epochs_dae=40,
                  epochs_predictor=40, epochs_joint=40, patience=30, mmd_weight=1.0, reg_weight=0.1,
                  sampling="upsampling", leiden_neighbors="gauss", log_every=1000)
    model = ScDEAL(params, device="cpu").fit(Xb.to_numpy(np.float32), y, cells.X)
    prob = model.predict(cells.X)
    attr = I.attribution_anndata(I.integrated_gradients(I.cell_path(model), cells.X, n_steps=32),
                                 cells.obs[["response"]], cells.var_names, prob)
    critical = I.critical_genes(attr)
    enrichment = enrich_critical_genes(critical, {"demo": folder / "genesets/demo_programs.gmt"}, cells.var_names)
    return truth["drugs"][info["drug"]], critical, enrichment


def test_planted_response_genes_are_critical_and_their_program_ranks_first(demo_interpretation):
    planted, critical, enrichment = demo_interpretation
    recovery = I.planted_recovery(critical, planted["response_genes"], k=50)
    print("planted-gene recovery on GSEDEMO1:", json.dumps(recovery))
    assert recovery["precision_at_k"] > 2 * recovery["expected_precision"]
    assert recovery["recall"] > 0.5
    ranks = term_ranks(enrichment, planted["program"])
    print("planted program in the enrichment:", json.dumps(ranks))
    assert ranks["overall_rank"] == 1 and ranks["best_group"] == "sensitive"
    assert ranks["by_group"]["sensitive"]["p_adj"] < 0.01


def test_root_mask_compares_numbers_as_numbers():
    assert I.root_mask(pd.Series([0.0, 1.0, 0.0]), 0).tolist() == [True, False, True]
    assert I.root_mask(pd.Series(["0", "24", "0"]), 0.0).tolist() == [True, False, True]
    assert I.root_mask(pd.Categorical(["DMSO", "drug"]), "DMSO").tolist() == [True, False]
    assert I.root_mask(pd.Series(["day0", "day1"]), 0).tolist() == [False, False]
    assert I.root_mask(pd.Series([True, False]), 1).tolist() == [True, False]
    assert I.root_mask(pd.Series([1, 0]), True).tolist() == [True, False]
    assert I.root_mask(pd.Series(["a", None, "nan"]), "nan").tolist() == [False, False, True]
