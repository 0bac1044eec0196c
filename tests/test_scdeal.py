"""scDEAL model: drugshift.models.scdeal (tiny synthetic data, a few epochs)."""

import logging

import numpy as np
import pytest
import torch

from drugshift.evaluate import classification_metrics
from drugshift.models.scdeal import (
    ScDEALParams,
    cell_clusters,
    fit_scdeal,
    load_scdeal,
    resample,
    save_scdeal,
    split_bulk,
)


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
    return fit_scdeal(Xb, yb, Xc, tiny(), device="cpu")


@pytest.fixture(scope="module")
def reference(world):
    Xb, yb, Xc, yc = world
    return fit_scdeal(Xb, yb, Xc, tiny(mode="reference", epochs_joint=10), device="cpu", clusters=yc)


# --------------------------------------------------------------------------- parameters


def test_params_defaults_and_from_dict():
    p = ScDEALParams()
    assert p.bulk_hidden == [512, 256] and p.bulk_bottleneck == 32 and p.predictor_hidden == [16, 8]
    assert p.lr == 1e-3 and p.mmd_weight == 0.25 and p.leiden_resolution == 0.2 and p.seed == 42
    assert p.mode == "corrected" and p.resolved_sc_init() == "bulk"
    assert ScDEALParams(mode="reference").resolved_sc_init() == "random"
    assert ScDEALParams(sc_hidden=[64]).resolved_sc_init() == "random"
    q = ScDEALParams.from_dict({"sampling": "smote", "bulk_hidden": [64, 32], "lr": 0.01})
    assert q.sampling == "smote" and q.bulk_hidden == [64, 32] and q.lr == 0.01
    assert ScDEALParams.from_dict(q.to_dict()) == q


def test_params_reject_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match="unknown scDEAL parameter.*bogus, learning_rate"):
        ScDEALParams.from_dict({"learning_rate": 1, "bogus": 2, "lr": 0.1})
    with pytest.raises(ValueError, match="sampling"):
        ScDEALParams(sampling="oversample")
    with pytest.raises(ValueError, match="mode"):
        ScDEALParams(mode="paper")
    with pytest.raises(ValueError, match="sc_init"):
        ScDEALParams(sc_init="bulk", sc_hidden=[64])


# --------------------------------------------------------------------------- data handling


def test_split_bulk_is_64_16_20_and_stratified():
    y = np.array([1] * 60 + [0] * 140)
    tr, va, te = split_bulk(y, seed=1)
    assert (len(tr), len(va), len(te)) == (128, 32, 40)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(200))
    for part in (tr, va, te):
        assert abs(y[part].mean() - 0.3) < 0.02
    again = split_bulk(y, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), again))
    with pytest.raises(ValueError, match="stratified"):
        split_bulk(np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]))


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


# --------------------------------------------------------------------------- training


def test_fit_transfers_a_learnable_signal_to_cells(corrected, world):
    Xb, yb, Xc, yc = world
    m = classification_metrics(yc, corrected.predict_cells(Xc))
    assert m["auroc"] > 0.8, m
    assert corrected.bulk_metrics["test"]["auroc"] > 0.8
    assert set(corrected.bulk_metrics) == {"val", "test", "source_val", "source_test"}
    assert set(corrected.history) == {"bulk_dae", "predictor", "sc_dae", "joint"}
    joint = corrected.history["joint"]
    assert {"loss", "ce", "mmd", "reg"} <= set(joint.components)
    assert joint.best_epoch >= 1
    assert corrected.clusters is not None and corrected.clusters.shape == (len(Xc),)
    assert len(corrected.split["bulk_test"]) == 24
    base = corrected.predict_bulk_model_on_cells(Xc)
    assert base.shape == (len(Xc),) and ((0 <= base) & (base <= 1)).all()
    assert corrected.embed_cells(Xc).shape == (len(Xc), 8)
    probs = corrected.cell_model()(torch.as_tensor(Xc[:5]))
    assert torch.allclose(probs[:, 1].double(), torch.as_tensor(corrected.predict_cells(Xc[:5])), atol=1e-6)


def test_transfer_survives_a_gene_wise_batch_shift():
    # A per-gene offset moves all cells across the bulk model's decision boundary; aligning
    # the embeddings (MMD) is what puts them back.
    Xb, yb, Xc, yc = make_world(seed=0, offset=0.0, gene_shift=0.3)
    res = fit_scdeal(Xb, yb, Xc, tiny(), device="cpu", clusters=yc)
    transfer = classification_metrics(yc, res.predict_cells(Xc))
    no_transfer = classification_metrics(yc, res.predict_bulk_model_on_cells(Xc))
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
    joint = reference.history["joint"]
    assert joint.epochs_run >= 1 and "reg" in joint.components
    # the sc encoder did train (it is the only thing the reference optimiser holds)
    assert joint.best_epoch >= 1


def test_seeded_fit_is_reproducible(world):
    Xb, yb, Xc, yc = world
    p = tiny(epochs_dae=2, epochs_predictor=2, epochs_joint=3, sampling="smote")
    a = fit_scdeal(Xb, yb, Xc, p, device="cpu", clusters=yc % 2)
    b = fit_scdeal(Xb, yb, Xc, p, device="cpu", clusters=yc % 2)
    for name, m in a._modules().items():
        sa, sb = m.state_dict(), b._modules()[name].state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), name
    assert a.history["joint"].val == b.history["joint"].val
    c = fit_scdeal(Xb, yb, Xc, tiny(epochs_dae=2, epochs_predictor=2, epochs_joint=3, sampling="smote", seed=7),
                   device="cpu", clusters=yc % 2)
    assert not torch.equal(a.sc_encoder.net[0].weight, c.sc_encoder.net[0].weight)


def test_fit_rejects_mismatched_inputs(world):
    Xb, yb, Xc, _ = world
    with pytest.raises(ValueError, match="genes"):
        fit_scdeal(Xb, yb, Xc[:, :-1], tiny(), device="cpu")
    with pytest.raises(ValueError, match="0/1"):
        fit_scdeal(Xb, yb * 2, Xc, tiny(), device="cpu")
    with pytest.raises(ValueError, match="labels"):
        fit_scdeal(Xb, yb[:-1], Xc, tiny(), device="cpu")


def test_fit_logs_stage_progress(world, caplog):
    Xb, yb, Xc, yc = world
    log = logging.getLogger("test.scdeal")
    with caplog.at_level(logging.INFO, logger="test.scdeal"):
        fit_scdeal(Xb, yb, Xc, tiny(epochs_dae=2, epochs_predictor=2, epochs_joint=2, log_every=1), log=log,
                   device="cpu", clusters=yc)
    text = caplog.text
    for stage in ("[bulk DAE] epoch 2/2", "[predictor] epoch 1/2", "[sc DAE]", "[joint] epoch 2/2"):
        assert stage in text


# --------------------------------------------------------------------------- persistence


def test_save_load_round_trip_predicts_identically(corrected, world, tmp_path):
    Xb, _, Xc, _ = world
    path = save_scdeal(corrected, tmp_path / "sub" / "model.pt")
    loaded = load_scdeal(path)
    assert loaded.params == corrected.params
    np.testing.assert_array_equal(loaded.predict_cells(Xc), corrected.predict_cells(Xc))
    np.testing.assert_array_equal(loaded.predict_bulk_model_on_cells(Xc), corrected.predict_bulk_model_on_cells(Xc))
    np.testing.assert_array_equal(loaded.predict_bulk(Xb), corrected.predict_bulk(Xb))
    assert loaded.history["joint"].val == corrected.history["joint"].val
    assert loaded.bulk_metrics["test"]["f1"] == corrected.bulk_metrics["test"]["f1"]
    assert np.array_equal(loaded.split["bulk_val"], corrected.split["bulk_val"])
    with pytest.raises(ValueError, match="genes"):
        loaded.predict_cells(Xc[:, :10])


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(ValueError, match="not a drugshift scDEAL model"):
        load_scdeal(bad)
    junk = tmp_path / "junk.pt"
    junk.write_text("not a model")
    with pytest.raises(ValueError, match="junk.pt"):
        load_scdeal(junk)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_scdeal(tmp_path / "missing.pt")


def test_sc_dae_epochs_zero_keeps_the_bulk_initialisation(world):
    Xb, yb, Xc, yc = world
    p = tiny(epochs_dae=2, epochs_predictor=2, epochs_sc_dae=0, epochs_joint=0, sc_init="bulk")
    result = fit_scdeal(Xb, yb, Xc, p, device="cpu", clusters=yc % 2)
    assert result.history["sc_dae"].epochs_run == 0
    # With neither sc pretraining nor joint training, Es is still the bulk encoder it was copied from.
    for key, value in result.source_encoder.state_dict().items():
        assert torch.equal(value, result.sc_encoder.state_dict()[key]), key
    with pytest.raises(ValueError, match="epochs_sc_dae"):
        fit_scdeal(Xb, yb, Xc, tiny(epochs_sc_dae=-1), device="cpu")


def test_predictor_noise_masks_bulk_inputs(world):
    Xb, yb, Xc, yc = world
    base = dict(epochs_dae=2, epochs_predictor=3, epochs_joint=2)
    clean = fit_scdeal(Xb, yb, Xc, tiny(**base), device="cpu", clusters=yc % 2)
    noisy = fit_scdeal(Xb, yb, Xc, tiny(predictor_noise_p=0.5, **base), device="cpu", clusters=yc % 2)
    # Same seed and data: only the masking differs, so the predictors must differ.
    assert not torch.equal(clean.source_predictor.net[0].weight, noisy.source_predictor.net[0].weight)
    with pytest.raises(ValueError, match="predictor_noise_p"):
        fit_scdeal(Xb, yb, Xc, tiny(predictor_noise_p=1.0), device="cpu")


def test_consistency_anchor_keeps_the_bulk_models_orientation(world):
    """From the paper's random initialisation of Es, MMD aligns the embedding distributions but
    can swap the classes (on this world seeds 1 and 2 predict the cells inverted); the anchor
    to the frozen bulk model's predictions (no cell labels) keeps every seed's orientation."""
    from sklearn.metrics import roc_auc_score

    Xb, yb, Xc, yc = world
    auroc = {}
    for gamma in (0.0, 1.0):
        for seed in range(4):
            r = fit_scdeal(Xb, yb, Xc, tiny(sc_init="random", consistency_weight=gamma, reg_weight=0.0, seed=seed),
                           device="cpu")
            auroc[gamma, seed] = roc_auc_score(yc, r.predict_cells(Xc))
            if gamma:
                assert "consistency" in r.history["joint"].components
                assert np.corrcoef(r.predict_cells(Xc), r.predict_bulk_model_on_cells(Xc))[0, 1] > 0.8
    assert min(auroc[0.0, s] for s in range(4)) < 0.5  # the failure the anchor is for
    assert min(auroc[1.0, s] for s in range(4)) > 0.9


def test_consistency_weight_must_not_be_negative():
    with pytest.raises(ValueError, match="consistency_weight"):
        ScDEALParams(consistency_weight=-1.0)


def test_reference_mode_ignores_the_consistency_anchor(world, reference):
    """The reference code has no anchor: a configured γ must not change a reference-mode model."""
    Xb, yb, Xc, yc = world
    anchored = fit_scdeal(Xb, yb, Xc, tiny(mode="reference", epochs_joint=10, consistency_weight=1.0), device="cpu",
                          clusters=yc)
    np.testing.assert_array_equal(anchored.predict_cells(Xc), reference.predict_cells(Xc))
    assert "consistency" not in anchored.history["joint"].components
