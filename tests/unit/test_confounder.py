"""The sex-confounder experiment (drugshift.confounder, paper Fig. 2d–g) on tiny generated data with
a planted sex effect and a tumour-type signal: class choice, the result table, determinism,
input errors, the tests table and the figure."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from drugshift.confounder import choose_classes, confounder_tests, prepare_inputs, sex_confounder_experiment
from drugshift.params import resolve_codeae_params
from drugshift.plots.confounder import confounder_performance

SMALL = {"encoder_hidden": [16], "latent": 4, "decoder_hidden": [16], "critic_hidden": [8], "lr": 1e-3,
         "batch_size": 16, "warmup_epochs": 1, "pretrain_epochs": 2, "log_every": 100}
BASELINE = {"hidden": [16], "latent": 4, "max_epochs": 2, "log_every": 100}
CONFIG = {"seed": 0, "codeae": {"params": SMALL, "baselines": BASELINE}}
METHODS = ["raw", "ae", "codeae_adv"]
GRID = {"C": [0.1], "l1_ratio": [0.5]}
#: tumour type → (female, male) samples: prostate is the most frequent in males but male-only.
COUNTS = {"alpha": (14, 13), "beta": (12, 12), "gamma": (10, 11), "prostate": (0, 20)}


def make_cohort(counts=COUNTS, n_genes=30, seed=0):
    """Expression (samples × genes, log-like) and the sample table: genes 0-3 carry the tumour
    type, genes 4-6 a strong sex effect (XIST-like up in females, Y-like down)."""
    rng = np.random.default_rng(seed)
    rows = [(t, sex) for t, (nf, nm) in counts.items() for sex, n in (("Female", nf), ("Male", nm)) for _ in range(n)]
    types = np.array([t for t, _ in rows])
    sexes = np.array([s for _, s in rows])
    x = rng.normal(5.0, 1.0, size=(len(rows), n_genes))
    shift = {"alpha": 1.5, "beta": -1.5, "gamma": 0.0, "prostate": 3.0}
    x[:, :4] += np.array([shift[t] for t in types])[:, None]
    female = (sexes == "Female")[:, None]
    x[:, 4:5] += np.where(female, 4.0, 0.0)
    x[:, 5:7] += np.where(female, -4.0, 0.0)
    ids = [f"S{i:03d}" for i in range(len(rows))]
    expression = pd.DataFrame(x, index=pd.Index(ids, name="sample"), columns=[f"G{i:02d}" for i in range(n_genes)])
    samples = pd.DataFrame({"sample": ids, "tumour_type": types, "sample_type": "Primary Tumor", "sex": sexes})
    return expression, samples


def run(expression, samples, methods=METHODS, **kwargs):
    params = {m: resolve_codeae_params(CONFIG, m) for m in methods if m != "raw"}
    kwargs = {"n_folds": 3, "seed": 0, "features": {"method": "variance", "k": 20}, "enet_grid": GRID, **kwargs}
    return sex_confounder_experiment(expression, samples, methods, params, **kwargs)


@pytest.fixture(scope="module")
def cohort():
    return make_cohort()


@pytest.fixture(scope="module")
def results(cohort):
    return run(*cohort)


def test_choose_classes_needs_each_type_in_both_sexes(cohort):
    _, samples = cohort
    assert choose_classes(samples, 10) == ["alpha", "beta"]  # prostate (20 male, 0 female) falls out
    assert choose_classes(samples.assign(sex=samples["sex"].str.upper()), 10) == ["alpha", "beta"]
    assert choose_classes(samples, 11) == ["alpha", "beta"]  # gamma (10 female) no longer qualifies
    with pytest.raises(ValueError, match="two tumour types with at least 13 samples in each sex; 1 qualify"):
        choose_classes(samples, 13)
    with pytest.raises(ValueError, match="lack the column"):
        choose_classes(samples.drop(columns="sex"), 10)


def test_choose_classes_breaks_ties_by_name():
    samples = pd.DataFrame({"tumour_type": ["b"] * 20 + ["a"] * 20 + ["c"] * 24,
                            "sex": (["Female", "Male"] * 32)})
    assert choose_classes(samples, 10) == ["c", "a"]


def test_inputs_pool_both_sexes_and_keep_sex_genes(cohort):
    expression, samples = cohort
    X, table = prepare_inputs(expression, samples, {"method": "variance", "k": 8})
    assert {"G04", "G05", "G06"} <= set(X.columns)  # selected over the pooled cohort, not per sex
    assert np.allclose(X.mean(), 0, atol=1e-5) and len(table) == len(expression)


def test_result_table(results, cohort):
    _, samples = cohort
    assert len(results) == len(METHODS) * 2 * 3
    assert list(results.columns[:8]) == ["method", "direction", "fold", "AUROC", "AUPRC", "n_train", "n_test",
                                         "n_test_positive"]
    assert set(results["direction"]) == {"male_to_female", "female_to_male"}
    assert (results.groupby(["method", "direction"]).size() == 3).all()
    assert set(results["classes"]) == {"alpha vs beta"}
    m2f = results[results["direction"] == "male_to_female"]
    assert (m2f["n_test"] == 14 + 12).all() and (m2f["n_test_positive"] == 14).all()
    assert m2f["n_train"].sum() == 2 * (13 + 12) * len(METHODS)  # each male sample trains in 2 of 3 folds
    assert results[["AUROC", "AUPRC"]].apply(lambda c: c.between(0, 1)).all().all()
    raw = results[results["method"] == "raw"]
    assert raw["AUROC"].min() > 0.9  # a strong tumour-type signal transfers across sexes
    assert results.attrs["classes"] == ["alpha", "beta"]


def test_same_seed_same_results(results, cohort):
    again = run(*cohort)
    pd.testing.assert_frame_equal(results, again)


@pytest.mark.parametrize("change, message", [
    (lambda e, s: (e, s.drop(columns="tumour_type")), "lack the column"),
    (lambda e, s: (e, s[(s["sex"] == "Male") | (s.index < 8)]), "at least 10 samples of each sex"),
    (lambda e, s: (e, s), "3-fold cross-validation needs at least 3 samples of each class"),
])
def test_bad_inputs(change, message):
    counts = dict(COUNTS)
    if "cross-validation" in message:
        counts = {"alpha": (12, 12), "beta": (12, 2), "gamma": (2, 12)}
    expression, samples = change(*make_cohort(counts))
    with pytest.raises(ValueError, match=message):
        run(expression, samples, ["raw"], min_per_class=1)


def test_unknown_method(cohort):
    with pytest.raises(ValueError, match="unknown sex-confounder method 'mlp'"):
        run(*cohort, methods=["raw", "mlp"])


def test_tests_table():
    folds = np.arange(5)
    results = pd.concat([
        pd.DataFrame({"method": m, "direction": d, "fold": folds, "AUROC": base + 0.01 * folds,
                      "AUPRC": base + 0.01 * folds})
        for d in ("male_to_female", "female_to_male") for m, base in (("a", 0.8), ("b", 0.6), ("c", 0.8))
    ])
    tests = confounder_tests(results)
    assert len(tests) == 2 * 2 * 2
    first = tests.iloc[0]
    assert (first["direction"], first["metric"], first["best"], first["other"]) == ("male_to_female", "AUPRC", "a", "c")
    assert bool(first["runner_up"]) and first["t_p"] == pytest.approx(1.0) and np.isnan(first["wilcoxon_p"])  # a tie
    vs_b = tests[(tests["other"] == "b")].iloc[0]
    assert vs_b["t_p"] < 1e-3 and vs_b["wilcoxon_p"] == pytest.approx(0.0625)  # 5 paired folds, all better


def test_figure_has_four_labelled_panels(results):
    fig = confounder_performance(results)
    try:
        assert len(fig.axes) == 4
        for ax in fig.axes:
            assert ax.get_xlabel() == "method" and ax.get_ylabel().split()[0] in ("AUROC", "AUPRC")
            assert "test 26 female" in ax.get_title(loc="left") or "test 25 male" in ax.get_title(loc="left")
        titles = [ax.get_title(loc="left") for ax in fig.axes]
        assert [t[0] for t in titles] == ["d", "e", "f", "g"]
        assert "male → female: AUPRC" in titles[0] and "female → male: AUROC" in titles[3]
    finally:
        plt.close(fig)
