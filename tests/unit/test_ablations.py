"""scDEAL evaluation: ablation settings, replicates, subsampling, linear baseline, tuning grid."""

import numpy as np
import pandas as pd
import pytest
from test_scdeal import make_world, tiny

from drugshift.ablations import (
    linear_baseline,
    run_setting,
    runs_table,
    signature_agreement,
    single_source_bulk,
    summarise_runs,
    zscore_genes,
)
from drugshift.evaluate import METRICS
from drugshift.methods import SETTINGS, parse_replicate, replicate_seeds
from drugshift.models.scdeal import ScDEAL, fit_bulk_model
from drugshift.params import resolve_scdeal_params
from drugshift.splits import stratified_subsample
from drugshift.tuning import expand_grid, select_setting, tune_bulk_model


@pytest.fixture(scope="module")
def world():
    return make_world(seed=3)


def test_replicates_separate_training_and_data_variance():
    assert parse_replicate("seed12") == ("seed", 12)
    assert replicate_seeds("seed2", 42) == (44, None)
    assert replicate_seeds("sub2", 42) == (42, 44)
    for bad in ("seed", "sub-1", "fold1", "seed1x"):
        with pytest.raises(ValueError):
            parse_replicate(bad)


def test_stratified_subsample_keeps_class_balance_and_unlabelled_cells():
    labels = pd.Series([1.0] * 60 + [0.0] * 30 + [np.nan] * 10)
    idx = stratified_subsample(labels, 0.8, seed=1)
    assert len(idx) == 80 and len(np.unique(idx)) == 80  # without replacement
    kept = labels.iloc[idx]
    assert (kept == 1).sum() == 48 and (kept == 0).sum() == 24 and kept.isna().sum() == 8
    assert np.array_equal(idx, stratified_subsample(labels, 0.8, seed=1))
    assert not np.array_equal(idx, stratified_subsample(labels, 0.8, seed=2))
    assert len(stratified_subsample(labels, 1.0, seed=1)) == 100
    with pytest.raises(ValueError):
        stratified_subsample(labels, 0.0, seed=1)


def test_zscore_genes_handles_constant_genes():
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    z = zscore_genes(x)
    assert np.allclose(z[:, 0], [-1, 1]) and np.allclose(z[:, 1], 0)


def test_linear_baseline_transfers_a_shared_linear_signal(world):
    Xb, yb, Xc, yc = world
    prob = linear_baseline(Xb, yb, Xc)
    assert prob.shape == (len(yc),)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(yc, prob) > 0.9
    # Labels permuted in bulk: the baseline has nothing to learn.
    rng = np.random.default_rng(0)
    assert abs(roc_auc_score(yc, linear_baseline(Xb, rng.permutation(yb), Xc)) - 0.5) < 0.2


def test_settings_differ_from_the_full_method_by_one_switch():
    assert SETTINGS["ae"].params == {"noise_p": 0.0, "reg_weight": 0.0}
    assert SETTINGS["dae"].params == {"reg_weight": 0.0}
    assert SETTINGS["no_anchor"].params == {"consistency_weight": 0.0}
    assert SETTINGS["reference"].params == {"mode": "reference", "consistency_weight": 0.0}
    assert SETTINGS["gdsc_only"].bulk == "gdsc" and SETTINGS["ccle_only"].bulk == "ccle"
    assert SETTINGS["scdeal"].params == {} and SETTINGS["scdeal"].bulk == "both"


def resolved(setting, replicate, seed=5, **overrides):
    """The parameters the workflow gives an evaluation run: tiny widths in ``scdeal.params``."""
    reserved = ("seed", "mode", "bulk_fold", "bulk_folds", "split_seed")  # set by the resolver and the ensemble
    params = {k: v for k, v in tiny(**overrides).to_dict().items() if k not in reserved}
    config = {"seed": seed, "sc": {"datasets": {"D": {}}}, "scdeal": {"mode": "corrected", "params": params}}
    return resolve_scdeal_params(config, "D", setting, replicate)


def test_run_setting_scores_transfer_and_no_transfer(world):
    Xb, yb, Xc, yc = world
    truth = pd.Series(yc.astype(float))
    truth.iloc[:5] = np.nan  # unlabelled cells are not scored
    params = resolved("dae", "seed2")
    run = run_setting("dae", Xb, yb, Xc, Xc, truth, params)
    assert run["transfer"]["n"] == len(yc) - 5
    assert run["params"]["reg_weight"] == 0.0 and run["params"]["seed"] == 7
    assert set(METRICS) <= set(run["transfer"]) and set(METRICS) <= set(run["no_transfer"])
    assert run["bulk"]["source_val"]["n"] > 0
    linear = run_setting("linear", Xb, yb, Xc, Xc, truth, resolved("linear", "seed0"))
    assert linear["no_transfer"] is None and linear["transfer"]["auroc"] > 0.9
    with pytest.raises(ValueError, match="read from another setting"):
        run_setting("no_transfer", Xb, yb, Xc, Xc, truth, params)
    # Parameters that lack the setting's switch were not resolved for it: an error, not a silent merge.
    with pytest.raises(ValueError, match="resolve_scdeal_params"):
        run_setting("dae", Xb, yb, Xc, Xc, truth, resolved("scdeal", "seed0"))


def test_single_source_bulk_is_scaled_within_the_source():
    bulk = pd.DataFrame({"A": [1.0, 3.0, 5.0], "B": [0.0, 0.0, 0.0], "C": [2.0, 4.0, 6.0]}, index=["x", "y", "z"])
    out = single_source_bulk(bulk, ["C", "A"])
    assert list(out.columns) == ["C", "A"] and list(out.index) == ["x", "y", "z"]
    assert np.allclose(out.to_numpy(), [[0, 0], [0.5, 0.5], [1, 1]])


def test_runs_table_derives_no_transfer_and_summary_has_mean_and_sd():
    def run(setting, rep, auroc):
        m = {k: auroc for k in METRICS}
        return {"dataset": "D", "setting": setting, "replicate": rep, "model_seed": 1, "subsample_seed": None,
                "n_cells": 10, "transfer": m, "no_transfer": {k: auroc - 0.2 for k in METRICS}}

    runs = [run("scdeal", "seed0", 0.9), run("scdeal", "seed1", 0.8), run("linear", "seed0", 0.7),
            run("scdeal", "sub0", 0.85)]
    table = runs_table(runs, ["scdeal", "no_transfer", "linear"])
    assert list(dict.fromkeys(table["setting"])) == ["scdeal", "no_transfer", "linear"]
    assert np.allclose(table.loc[table["setting"] == "no_transfer", "auroc"].sort_values(), [0.6, 0.65, 0.7])
    # A setting not asked for is dropped (scdeal ran only to provide no_transfer).
    assert set(runs_table(runs, ["no_transfer"])["setting"]) == {"no_transfer"}
    summary = summarise_runs(table)
    row = summary[(summary["setting"] == "scdeal") & (summary["kind"] == "seed")].iloc[0]
    assert row["n"] == 2 and np.isclose(row["auroc_mean"], 0.85) and np.isclose(row["auroc_sd"], np.std([0.9, 0.8], ddof=1))
    assert np.isnan(summary[(summary["setting"] == "scdeal") & (summary["kind"] == "sub")]["auroc_sd"].iloc[0])


def test_bulk_model_alone_is_the_bulk_model_scdeal_transfers(world):
    Xb, yb, Xc, _ = world
    p = tiny(seed=7, reg_weight=0.0)
    alone = fit_bulk_model(Xb, yb, p)
    full = ScDEAL(p).fit(Xb, yb, Xc).bulk_metrics
    assert alone["source_val"] == full["source_val"] and alone["source_test"] == full["source_test"]


def test_expand_grid_orders_combinations_and_ties_encoder_widths():
    grid = {"lr": [0.1, 0.01], "bulk_hidden": [[8], [16]]}
    combos = expand_grid(grid)
    assert combos == [
        {"lr": 0.1, "bulk_hidden": [8], "sc_hidden": [8]}, {"lr": 0.1, "bulk_hidden": [16], "sc_hidden": [16]},
        {"lr": 0.01, "bulk_hidden": [8], "sc_hidden": [8]}, {"lr": 0.01, "bulk_hidden": [16], "sc_hidden": [16]},
    ]
    with pytest.raises(ValueError, match="non-empty list"):
        expand_grid({"lr": []})


def test_tuning_selects_on_bulk_validation_only(world):
    Xb, yb, _, _ = world
    # A learning rate too small to learn anything in 30 epochs against a workable one.
    grid = {"lr": [1e-7, 3e-3]}
    table = tune_bulk_model(Xb, yb, tiny(seed=1), grid, seeds=2)
    assert list(table["combination"]) == [0, 1] and table["val_auroc_sd"].notna().all()
    assert table.loc[1, "val_auroc"] > table.loc[0, "val_auroc"]
    assert select_setting(table, grid) == {"lr": 3e-3}
    # Ties go to the earliest combination; selection reads validation, never test, scores.
    tied = table.assign(val_auroc=[0.7, 0.7], test_auroc=[0.1, 0.9])
    assert select_setting(tied, grid) == {"lr": 1e-7}


def test_signature_agreement_tells_a_relevant_model_from_an_irrelevant_one():
    rng = np.random.default_rng(0)
    truth = np.repeat([1.0, 0.0], 100)
    x = rng.normal(size=(200, 40))
    x[truth == 1, :5] += 1.5  # the genes that separate the classes
    relevant = 1 / (1 + np.exp(-(x[:, :5].sum(axis=1) - 3.75)))
    irrelevant = 1 / (1 + np.exp(-x[:, 20:25].sum(axis=1)))
    assert signature_agreement(x, relevant, truth) > 0.8
    assert abs(signature_agreement(x, irrelevant, truth)) < 0.3
    assert signature_agreement(x, 1 - relevant, truth) < -0.8  # pointing the wrong way
    assert np.isnan(signature_agreement(x, np.full(200, 0.5), truth))
