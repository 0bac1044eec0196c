"""scDEAL model: drugshift.models.scdeal (tiny synthetic data, a few epochs)."""

import logging
import subprocess
import sys
import textwrap

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch

from drugshift.cards import write_json
from drugshift.evaluate import classification_metrics
from drugshift.models.scdeal import ScDEAL, ScDEALModule, ScDEALParams, TrainingData, TrainingPlan, cell_clusters
from drugshift.models.scdeal import data as scdeal_data
from drugshift.models.scdeal import resample, validation_cells
from drugshift.splits import train_val_test


def make_world(seed=0, n_bulk=120, n_cells=200, n_genes=50, frac=0.6, scale=0.6, offset=0.2, gene_shift=0.0):
    """Bulk and cells share a planted response signal (16 genes up/down in sensitive samples);
    cells are bulk-like profiles with a global scale and offset shift, plus optionally a random
    per-gene offset (a batch effect) of standard deviation ``gene_shift``."""
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.2, 0.8, n_genes)
    signal = np.zeros(n_genes)
    signal[:8], signal[8:16] = 1.0, -1.0
    yb = (rng.random(n_bulk) < frac).astype(int)
    yc = (rng.random(n_cells) < frac).astype(int)
    Xb = mu + 0.25 * (yb[:, None] - 0.5) * signal + rng.normal(0, 0.1, (n_bulk, n_genes))
    Xc = scale * (mu + 0.25 * (yc[:, None] - 0.5) * signal + rng.normal(0, 0.1, (n_cells, n_genes))) + offset
    Xc = Xc + rng.normal(0, gene_shift, n_genes) if gene_shift else Xc
    return Xb.astype(np.float32), yb, Xc.astype(np.float32), yc


def tiny(**kw):
    base = dict(
        bulk_hidden=[32, 16], sc_hidden=[32, 16], bulk_bottleneck=8, predictor_hidden=[8], dropout=0.1,
        batch_size=32, lr=3e-3, epochs_dae=30, epochs_predictor=30, epochs_joint=30, patience=10,
        lr_decay_patience=None, log_every=1000, leiden_neighbors="gauss",
    )
    base.update(kw)
    return ScDEALParams(**base)


def fit(Xb, yb, Xc, params, **kw):
    return ScDEAL(params, device="cpu").fit(Xb, yb, Xc, **kw)


def params_of(module):
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def world():
    return make_world()


@pytest.fixture(scope="module")
def corrected(world):
    Xb, yb, Xc, _ = world
    # no clusters passed: exercises the internal Leiden clustering
    return fit(Xb, yb, Xc, tiny())


@pytest.fixture(scope="module")
def reference(world):
    Xb, yb, Xc, yc = world
    return fit(Xb, yb, Xc, tiny(mode="reference", epochs_joint=10), clusters=yc)


# --------------------------------------------------------------------------- parameters


def test_sc_init_auto_starts_from_the_bulk_dae_only_where_it_can():
    assert ScDEALParams().resolved_sc_init() == "bulk"
    assert ScDEALParams(mode="reference").resolved_sc_init() == "random"
    assert ScDEALParams(sc_hidden=[64]).resolved_sc_init() == "random"


@pytest.mark.parametrize("changes, message", [
    ({"sampling": "oversample"}, "sampling"),
    ({"mode": "paper"}, "mode"),
    ({"sc_init": "bulk", "sc_hidden": [64]}, "sc_init"),
    ({"consistency_weight": -1.0}, "consistency_weight"),
    ({"predictor_noise_p": 1.0}, "predictor_noise_p"),
    ({"epochs_sc_dae": -1}, "epochs_sc_dae"),
])
def test_params_reject_bad_values(changes, message):
    with pytest.raises(ValueError, match=message):
        ScDEALParams.from_dict(changes)


# --------------------------------------------------------------------------- data handling


def test_bulk_split_is_the_papers_64_16_20(corrected):
    y = np.array([1] * 60 + [0] * 140)
    tr, va, te = train_val_test(y, seed=1)
    assert (len(tr), len(va), len(te)) == (128, 32, 40)
    assert all(abs(y[part].mean() - 0.3) < 0.02 for part in (tr, va, te))
    # The model splits its 120 cell lines the same way.
    assert [len(corrected.split[k]) for k in ("bulk_train", "bulk_val", "bulk_test")] == [76, 20, 24]


@pytest.mark.parametrize("method, n_each", [("upsampling", 40), ("downsampling", 10), ("smote", 40)])
def test_resample_balances_classes(method, n_each):
    rng = np.random.default_rng(0)
    X = rng.random((50, 6)).astype(np.float32)
    y = np.array([1] * 10 + [0] * 40)
    Xr, yr = resample(X, y, method, seed=0)
    assert np.bincount(yr).tolist() == [n_each, n_each]
    assert Xr.shape == (2 * n_each, 6) and Xr.dtype == np.float32
    if method == "smote":  # synthetic minority rows lie between real ones, not on them
        new = Xr[len(X):]
        assert not any((np.abs(X - r).sum(1) < 1e-6).any() for r in new)


def test_resample_none_and_errors():
    X, y = np.zeros((4, 2)), np.array([0, 1, 1, 1])
    Xr, yr = resample(X, y, "none")
    assert np.array_equal(Xr, X) and np.array_equal(yr, y)
    with pytest.raises(ValueError, match="single class"):
        resample(X, np.ones(4, int), "upsampling")
    with pytest.raises(ValueError, match="sampling method"):
        resample(X, y, "magic")


def test_cell_clusters_finds_separated_groups():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.1, (60, 20)), rng.normal(2, 0.1, (60, 20))]).astype(np.float32)
    cl = cell_clusters(X, resolution=0.2, seed=0, neighbors_method="gauss")
    assert cl.dtype == np.int64 and cl.shape == (120,)
    assert len(set(cl[:60])) == 1 and len(set(cl[60:])) == 1 and cl[0] != cl[-1]
    assert np.array_equal(cl, cell_clusters(X, resolution=0.2, seed=0, neighbors_method="gauss"))


def test_joint_validation_cells_come_from_every_condition():
    """Bug: the joint validation used the first 2,000 held-out cells of a sorted index; cells
    come grouped by condition, so on a large dataset they were all of the first condition."""
    n = 20_000  # cells 0..9,999 are condition A, 10,000..19,999 condition B
    data = TrainingData.build(np.zeros((40, 3), np.float32), np.repeat([0, 1], 20), np.zeros((n, 3), np.float32),
                              ScDEALParams(seed=3), torch.device("cpu"))
    chosen = data.cells_val_joint
    assert len(data.cells_val) == 4000 and len(chosen) == scdeal_data.MAX_VALIDATION_CELLS == 2000
    assert set(chosen) <= set(data.cells_val) and np.all(np.diff(chosen) > 0)
    assert 0.4 < np.mean(chosen >= n // 2) < 0.6  # both conditions, in proportion
    again = TrainingData.build(np.zeros((40, 3), np.float32), np.repeat([0, 1], 20), np.zeros((n, 3), np.float32),
                               ScDEALParams(seed=3), torch.device("cpu"))
    assert np.array_equal(again.cells_val_joint, chosen)  # seeded
    few = np.arange(10)
    assert np.array_equal(validation_cells(few, 2000, np.random.default_rng(0)), few)  # under the cap: all


def test_fit_records_a_seeded_random_validation_draw(world, monkeypatch):
    Xb, yb, Xc, yc = world
    monkeypatch.setattr(scdeal_data, "MAX_VALIDATION_CELLS", 10)
    model = fit(Xb, yb, Xc, tiny(epochs_dae=1, epochs_predictor=1, epochs_joint=1), clusters=yc)
    held_out, chosen = model.split["cells_val"], model.split["cells_val_joint"]
    assert len(held_out) == 40 and len(chosen) == 10 and set(chosen) <= set(held_out)
    assert chosen.min() < 100 <= chosen.max()  # not the first 10 held-out cells (all below 100)


def test_joint_validation_measures_every_epoch_with_one_kernel(world):
    """Bug: the joint validation loss re-derived the MMD bandwidth from each call's embeddings,
    so early stopping compared epochs measured with different kernels; with the median
    heuristic recomputed, spreading both embeddings apart by a factor 3 left the validation
    MMD unchanged. The kernel is now fixed when the joint stage starts."""
    Xb, yb, Xc, yc = world
    p = tiny(epochs_dae=2, epochs_predictor=2, epochs_sc_dae=2, reg_weight=0.0)
    module = ScDEALModule(Xb.shape[1], p)
    plan = TrainingPlan(module, TrainingData.build(Xb, yb, Xc, p, torch.device("cpu")), p)
    plan.bulk_dae()
    plan.predictor()
    plan.sc_dae()
    validate = plan.joint_validation()
    before = validate()
    with torch.no_grad():  # scale both embeddings by 3 and P's first layer by 1/3: CE is unchanged
        for encoder in (module.bulk_encoder, module.sc_encoder):
            encoder.net[-1].weight.mul_(3.0)
            encoder.net[-1].bias.mul_(3.0)
        module.predictor.net[0].weight.div_(3.0)
    after = validate()
    assert after != pytest.approx(before, rel=1e-3)
    assert validate() == after  # and the same weights measure the same
    assert len(plan.validation_bandwidths) == 5 and all(s > 0 for s in plan.validation_bandwidths)


# --------------------------------------------------------------------------- training


def test_fit_transfers_a_learnable_signal_to_cells(corrected, world):
    Xb, yb, Xc, yc = world
    m = classification_metrics(yc, corrected.predict(Xc))
    assert m["auroc"] > 0.8, m
    assert corrected.bulk_metrics["test"]["auroc"] > 0.8
    assert set(corrected.bulk_metrics) == {"val", "test", "source_val", "source_test"}
    assert set(corrected.history) == {"bulk_dae", "predictor", "sc_dae", "joint"}
    assert {"loss", "ce", "mmd", "reg"} <= set(corrected.history["joint"].components)
    assert corrected.clusters is not None and len(np.unique(corrected.clusters)) >= 2
    assert corrected.embed(Xc).shape == (len(Xc), 8)
    probs = corrected.cell_model()(torch.as_tensor(Xc[:5]))
    assert torch.allclose(probs[:, 1].double(), torch.as_tensor(corrected.predict(Xc[:5])), atol=1e-6)


def test_transfer_survives_a_gene_wise_batch_shift():
    # A per-gene offset moves all cells across the bulk model's decision boundary; aligning
    # the embeddings (MMD) is what puts them back.
    Xb, yb, Xc, yc = make_world(seed=0, offset=0.0, gene_shift=0.3)
    res = fit(Xb, yb, Xc, tiny(), clusters=yc)
    transfer = classification_metrics(yc, res.predict(Xc))
    no_transfer = classification_metrics(yc, res.predict_no_transfer(Xc))
    assert transfer["f1"] > 0.9 and transfer["auroc"] > 0.9, transfer
    assert transfer["f1"] >= no_transfer["f1"]


def test_corrected_joint_training_updates_bulk_encoder_and_predictor(corrected):
    # source_* are the step-2 modules. P gets gradient from the CE term only, so a changed P
    # shows that the joint optimiser applies the CE gradient (the reference's did not).
    assert not same(params_of(corrected.source_encoder), params_of(corrected.bulk_encoder))
    assert not same(params_of(corrected.source_predictor), params_of(corrected.predictor))


def test_reference_joint_training_leaves_bulk_encoder_and_predictor_alone(reference):
    assert same(params_of(reference.source_encoder), params_of(reference.bulk_encoder))
    assert same(params_of(reference.source_predictor), params_of(reference.predictor))
    assert "reg" in reference.history["joint"].components
    # the sc encoder did train (it is the only thing the reference optimiser holds)
    assert reference.history["joint"].best_epoch >= 1


def test_seeded_fit_is_reproducible(world):
    Xb, yb, Xc, yc = world
    p = tiny(epochs_dae=2, epochs_predictor=2, epochs_joint=3, sampling="smote")
    a = fit(Xb, yb, Xc, p, clusters=yc % 2)
    b = fit(Xb, yb, Xc, p, clusters=yc % 2)
    assert same(dict(a.module.state_dict()), dict(b.module.state_dict()))
    assert a.history["joint"].val == b.history["joint"].val
    c = fit(Xb, yb, Xc, p.replace(seed=7), clusters=yc % 2)
    assert not torch.equal(a.sc_encoder.net[0].weight, c.sc_encoder.net[0].weight)


def test_fit_rejects_mismatched_inputs(world):
    Xb, yb, Xc, _ = world
    with pytest.raises(ValueError, match="genes"):
        fit(Xb, yb, Xc[:, :-1], tiny())
    with pytest.raises(ValueError, match="0/1"):
        fit(Xb, yb * 2, Xc, tiny())
    with pytest.raises(ValueError, match="labels"):
        fit(Xb, yb[:-1], Xc, tiny())
    with pytest.raises(RuntimeError, match="not trained"):
        ScDEAL(tiny()).predict(Xc)


def test_fit_logs_stage_progress(world, caplog):
    Xb, yb, Xc, yc = world
    log = logging.getLogger("test.scdeal")
    with caplog.at_level(logging.INFO, logger="test.scdeal"):
        fit(Xb, yb, Xc, tiny(epochs_dae=2, epochs_predictor=2, epochs_joint=2, log_every=1), log=log, clusters=yc)
    for stage in ("[bulk DAE] epoch 2/2", "[predictor] epoch 1/2", "[sc DAE]", "[joint] epoch 2/2"):
        assert stage in caplog.text


def test_sc_dae_epochs_zero_keeps_the_bulk_initialisation(world):
    Xb, yb, Xc, yc = world
    p = tiny(epochs_dae=2, epochs_predictor=2, epochs_sc_dae=0, epochs_joint=0, sc_init="bulk")
    result = fit(Xb, yb, Xc, p, clusters=yc % 2)
    assert result.history["sc_dae"].epochs_run == 0
    # With neither sc pretraining nor joint training, Es is still the bulk encoder it was copied from.
    assert same(params_of(result.source_encoder), params_of(result.sc_encoder))


def test_predictor_noise_masks_bulk_inputs(world):
    Xb, yb, Xc, yc = world
    base = dict(epochs_dae=2, epochs_predictor=3, epochs_joint=2)
    clean = fit(Xb, yb, Xc, tiny(**base), clusters=yc % 2)
    noisy = fit(Xb, yb, Xc, tiny(predictor_noise_p=0.5, **base), clusters=yc % 2)
    # Same seed and data: only the masking differs, so the predictors must differ.
    assert not torch.equal(clean.source_predictor.net[0].weight, noisy.source_predictor.net[0].weight)


def test_consistency_anchor_keeps_the_bulk_models_orientation_at_every_seed(world):
    """From the paper's random initialisation of Es, MMD aligns the embedding distributions but
    can swap the classes; the anchor to the frozen bulk model's predictions (no cell label)
    keeps the orientation: at every seed the anchored transfer ranks the cells well and agrees
    with the bulk model."""
    from sklearn.metrics import roc_auc_score

    Xb, yb, Xc, yc = world
    for seed in range(4):
        r = fit(Xb, yb, Xc, tiny(sc_init="random", consistency_weight=1.0, reg_weight=0.0, seed=seed))
        prob = r.predict(Xc)
        assert "consistency" in r.history["joint"].components
        assert roc_auc_score(yc, prob) > 0.9, seed
        assert np.corrcoef(prob, r.predict_no_transfer(Xc))[0, 1] > 0.8, seed


def test_reference_mode_ignores_the_consistency_anchor(world, reference):
    """The reference code has no anchor: a configured γ must not change a reference-mode model."""
    Xb, yb, Xc, yc = world
    anchored = fit(Xb, yb, Xc, tiny(mode="reference", epochs_joint=10, consistency_weight=1.0), clusters=yc)
    np.testing.assert_array_equal(anchored.predict(Xc), reference.predict(Xc))
    assert "consistency" not in anchored.history["joint"].components


# --------------------------------------------------------------------------- named inputs and the card


def named_world(world):
    """The world as the workflow holds it: bulk as a DataFrame, cells as processed AnnData."""
    Xb, yb, Xc, yc = world
    genes = [f"G{i:02d}" for i in range(Xb.shape[1])]
    bulk = pd.DataFrame(Xb, index=[f"line{i}" for i in range(len(Xb))], columns=genes)
    cells = ad.AnnData(Xc, obs=pd.DataFrame(index=[f"c{i}" for i in range(len(Xc))]), var=pd.DataFrame(index=genes))
    for col, value in (("sc_min", 0.1), ("sc_max", 0.9), ("bulk_min", -1.0), ("bulk_max", 1.0)):
        cells.var[col] = value
    cells.uns["values"] = "counts"
    cells.uns["qc"] = {"normalised_input": False, "cells_out": len(Xc)}
    return bulk, yb, cells


def test_named_inputs_are_matched_by_gene_name(world, tmp_path):
    bulk, yb, cells = named_world(world)
    (tmp_path / "labels.tsv").write_text("line\tlabel\n")
    model = ScDEAL(tiny(epochs_dae=2, epochs_predictor=2, epochs_joint=2), device="cpu").fit(
        bulk, yb, cells, drug="Demotinib", dataset="DEMO", clusters=np.zeros(cells.n_obs),
        training_files={"labels": tmp_path / "labels.tsv"})
    shuffled = cells[:, cells.var_names[::-1]]
    np.testing.assert_array_equal(model.predict(shuffled), model.predict(np.asarray(cells.X)))
    with pytest.raises(ValueError, match="lacks 1 of the model's genes"):
        model.predict(cells[:, 1:])
    card = model.card()
    assert card["genes"] == list(cells.var_names) and card["drug"] == "Demotinib" and card["seed"] == 42
    data = card["training_data"]
    assert data["n_cell_lines"] == 120 and data["n_sensitive"] == int(yb.sum()) and data["n_cells"] == 200
    assert data["cell_lines"][:2] == ["line0", "line1"] and data["cells"] == "DEMO"
    assert len(data["files"]["labels"]["sha256"]) == 64 and len(data["sha256"]["cells"]) == 64
    assert card["preprocessing"]["cells_scaler"]["max"].tolist() == [0.9] * 50
    assert card["preprocessing"]["bulk_scaler"]["min"].tolist() == [-1.0] * 50
    assert card["preprocessing"]["cells"]["values"] == "counts"
    assert card["training"]["joint"]["epochs_run"] == 2 and card["params"] == model.params.to_dict()


# --------------------------------------------------------------------------- persistence


def test_save_load_round_trip_predicts_identically(corrected, world, tmp_path):
    Xb, _, Xc, _ = world
    folder = corrected.save(tmp_path / "sub" / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "weights.pt"]
    loaded = ScDEAL.load(folder)
    assert loaded.params == corrected.params
    np.testing.assert_array_equal(loaded.predict(Xc), corrected.predict(Xc))
    np.testing.assert_array_equal(loaded.predict_no_transfer(Xc), corrected.predict_no_transfer(Xc))
    np.testing.assert_array_equal(loaded.predict_bulk(Xb), corrected.predict_bulk(Xb))
    np.testing.assert_array_equal(loaded.embed(Xc), corrected.embed(Xc))
    assert loaded.history["joint"].val == corrected.history["joint"].val
    write_json(loaded.card(), tmp_path / "loaded.json")
    write_json(corrected.card(), tmp_path / "trained.json")
    assert (tmp_path / "loaded.json").read_text() == (tmp_path / "trained.json").read_text()
    assert loaded.bulk_metrics["test"]["f1"] == corrected.bulk_metrics["test"]["f1"]
    assert all(np.array_equal(loaded.split[k], corrected.split[k]) for k in corrected.split)
    assert np.array_equal(loaded.clusters, corrected.clusters)
    with pytest.raises(ValueError, match="genes"):
        loaded.predict(Xc[:, :10])


def test_a_saved_model_predicts_identically_in_a_fresh_process(corrected, world, tmp_path):
    """The folder alone is the model: a new interpreter that imports drugshift and reads only
    the folder reproduces the in-process predictions exactly."""
    _, _, Xc, _ = world
    folder = corrected.save(tmp_path / "model")
    np.save(tmp_path / "cells.npy", Xc)
    script = textwrap.dedent("""
        import sys
        import numpy as np
        from drugshift.models.scdeal import ScDEAL

        folder, cells, out = sys.argv[1:]
        model = ScDEAL.load(folder)
        X = np.load(cells)
        np.save(out, np.stack([model.predict(X), model.predict_no_transfer(X)]))
    """)
    subprocess.run([sys.executable, "-c", script, str(folder), str(tmp_path / "cells.npy"),
                    str(tmp_path / "out.npy")], check=True, capture_output=True, text=True)
    fresh = np.load(tmp_path / "out.npy")
    assert np.array_equal(fresh[0], corrected.predict(Xc))
    assert np.array_equal(fresh[1], corrected.predict_no_transfer(Xc))


def test_load_rejects_other_folders(corrected, tmp_path):
    from drugshift.checkpoint import save_model_dir

    with pytest.raises(FileNotFoundError, match="no such model folder"):
        ScDEAL.load(tmp_path / "missing")
    save_model_dir(tmp_path / "other", kind="codeae-drug", card={})
    with pytest.raises(ValueError, match="not a 'scdeal' model"):
        ScDEAL.load(tmp_path / "other")
    folder = corrected.save(tmp_path / "model")
    (folder / "weights.pt").write_text("not weights")
    with pytest.raises(ValueError, match="weights.pt"):
        ScDEAL.load(folder)
