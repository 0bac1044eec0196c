"""scDEAL ensembles, transfer diagnostics, reliability verdicts and label-free thresholds
(drugshift.models.scdeal.ensemble / .diagnostics; tiny synthetic data, a few epochs)."""

import logging

import numpy as np
import pytest
import torch
from test_scdeal import make_world, tiny

from drugshift.models.scdeal import ScDEAL, ScDEALEnsemble, load_scdeal, member_params, new_scdeal
from drugshift.models.scdeal import diagnostics as diag
from drugshift.models.scdeal.data import bulk_split
from drugshift.predict import annotate_predictions, scdeal_probabilities, transfer_metrics
from drugshift.splits import fold_train_val_test


@pytest.fixture(scope="module")
def world():
    return make_world(seed=3)


@pytest.fixture(scope="module")
def ensemble(world):
    Xb, yb, Xc, _ = world
    return ScDEALEnsemble(tiny(ensemble=3, epochs_dae=15, epochs_predictor=15, epochs_joint=15),
                          device="cpu").fit(Xb, yb, Xc)


# ----------------------------------------------------------------------------- splits and members


def test_fold_splits_validate_and_test_every_line_once():
    y = np.r_[np.zeros(40, int), np.ones(25, int)]
    splits = [fold_train_val_test(y, i, 5, seed=7) for i in range(5)]
    for train, val, test in splits:
        assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
        assert len(train) + len(val) + len(test) == y.size
        assert 0.3 < y[val].mean() < 0.5  # stratified (25/65 = 0.38)
    assert sorted(np.concatenate([v for _, v, _ in splits]).tolist()) == list(range(y.size))
    assert sorted(np.concatenate([t for _, _, t in splits]).tolist()) == list(range(y.size))
    with pytest.raises(ValueError, match="at least 3 folds"):
        fold_train_val_test(y, 0, 2)


def test_members_differ_in_seed_and_fold_and_share_the_split_seed():
    p = tiny(ensemble=3, seed=11)
    members = [member_params(p, i) for i in range(3)]
    assert len({m.seed for m in members}) == 3 and 11 not in {m.seed for m in members}
    assert [m.bulk_fold for m in members] == [0, 1, 2] and {m.bulk_folds for m in members} == {5}
    assert {m.split_seed for m in members} == {11} and {m.ensemble for m in members} == {1}
    # The next ensemble seed gives other member seeds (no shared initial weights).
    assert not {m.seed for m in members} & {member_params(p.replace(seed=12), i).seed for i in range(3)}
    y = np.r_[np.zeros(30, int), np.ones(20, int)]
    vals = [set(bulk_split(y, m)[1]) for m in members]
    assert not vals[0] & vals[1] and not vals[1] & vals[2]
    with pytest.raises(ValueError, match="bulk_fold must be below"):
        tiny(bulk_fold=5, bulk_folds=5)


def test_new_scdeal_picks_the_class():
    assert type(new_scdeal(tiny(), device="cpu")) is ScDEAL
    assert type(new_scdeal(tiny(ensemble=2), device="cpu")) is ScDEALEnsemble
    with pytest.raises(ValueError, match="at least 2 members"):
        ScDEALEnsemble(tiny(), device="cpu")


# ----------------------------------------------------------------------------- the ensemble


def test_ensemble_predicts_the_members_mean_and_spread(ensemble, world):
    _, _, Xc, _ = world
    members = ensemble.predict_members(Xc)
    assert members.shape == (len(Xc), 3)
    assert np.allclose(ensemble.predict(Xc), members.mean(axis=1))
    assert np.allclose(ensemble.predict_sd(Xc), members.std(axis=1, ddof=1))
    assert not np.allclose(members[:, 0], members[:, 1])  # the members differ
    with torch.no_grad():
        via_module = ensemble.cell_model()(torch.as_tensor(Xc))[:, 1].numpy()
    assert np.allclose(via_module, ensemble.predict(Xc), atol=1e-6)
    with torch.no_grad():
        bulk_module = ensemble.bulk_model()(torch.as_tensor(world[0]))[:, 1].numpy()
    assert np.allclose(bulk_module, ensemble.predict_bulk(world[0]), atol=1e-6)


def test_ensemble_folder_round_trip(ensemble, world, tmp_path):
    _, _, Xc, _ = world
    ensemble.save(tmp_path / "model")
    loaded = load_scdeal(tmp_path / "model")
    assert isinstance(loaded, ScDEALEnsemble) and len(loaded.members) == 3
    assert np.array_equal(loaded.predict_members(Xc), ensemble.predict_members(Xc))
    assert loaded.diagnostics == ensemble.diagnostics and loaded.thresholds == ensemble.thresholds
    card = ensemble.card()
    assert card["members"] == 3 and len(card["member_cards"]) == 3
    assert {c["params"]["bulk_fold"] for c in card["member_cards"]} == {0, 1, 2}
    # The bulk training data are stored once, and every member can retrain from them.
    assert all(m._bulk is not None for m in loaded.members)
    import json

    (tmp_path / "model" / "model.json").write_text(
        json.dumps({**json.loads((tmp_path / "model" / "model.json").read_text()), "members": 4}))
    with pytest.raises(ValueError, match="lists 4 members"):
        ScDEALEnsemble.load(tmp_path / "model")


def test_ensemble_spread_is_larger_far_from_the_bulk_data(ensemble, world):
    """Cells like the training data get consistent answers; profiles far outside anything the
    members saw (every gene pushed 1.5 above the data's range) get scattered ones."""
    _, _, Xc, _ = world
    near = ensemble.predict_sd(Xc)
    far = ensemble.predict_sd(Xc + 1.5)
    print(f"mean ensemble sd: near {near.mean():.3f}, far {far.mean():.3f}")
    assert far.mean() > 1.5 * near.mean()


def test_ensemble_retrain_keeps_every_members_bulk_stage(ensemble, world):
    _, _, Xc, _ = world
    new = ensemble.retrain(Xc[:80])
    assert isinstance(new, ScDEALEnsemble) and len(new.members) == 3
    for old, member in zip(ensemble.members, new.members):
        assert all(torch.equal(a, b) for a, b in zip(old.source_predictor.state_dict().values(),
                                                      member.source_predictor.state_dict().values()))
    assert new.diagnostics["members"] == 3


def test_killed_ensemble_fit_resumes_with_the_finished_members(world, tmp_path, monkeypatch, caplog):
    Xb, yb, Xc, _ = world
    p = tiny(ensemble=2, epochs_dae=4, epochs_predictor=4, epochs_joint=4, checkpoint_every=2)
    whole = ScDEALEnsemble(p, device="cpu").fit(Xb, yb, Xc)
    original, calls = ScDEAL.fit, []

    def dies_on_the_second_member(self, *args, **kwargs):
        calls.append(self.params.bulk_fold)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ScDEAL, "fit", dies_on_the_second_member)
    with pytest.raises(KeyboardInterrupt):
        ScDEALEnsemble(p, device="cpu").fit(Xb, yb, Xc, checkpoints=tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / "member0" / "model.json").is_file()
    monkeypatch.setattr(ScDEAL, "fit", original)
    with caplog.at_level(logging.INFO, logger="drugshift.models.scdeal"):
        resumed = ScDEALEnsemble(p, device="cpu").fit(Xb, yb, Xc, checkpoints=tmp_path / "ckpt")
    assert "member 1 resumed from" in caplog.text
    assert np.array_equal(resumed.predict_members(Xc), whole.predict_members(Xc))
    assert not (tmp_path / "ckpt").exists()


# ----------------------------------------------------------------------------- diagnostics


def test_diagnostics_in_the_card_and_predictions(ensemble, world):
    _, _, Xc, yc = world
    d = ensemble.diagnostics
    assert d["members"] == 3 and len(d["bulk_val_auroc"]) == 3
    assert -1 <= d["member_agreement"] <= 1 and 0 <= d["uncertain_fraction"] <= 1
    assert 0 <= d["domain_auroc"] <= 1 and d["verdict"] in diag.VERDICTS
    assert set(ensemble.thresholds) == {"paper", "bulk_f1", "bulk_rate"}
    import anndata as ad

    cells = ad.AnnData(Xc)
    cells.obs["response"] = yc
    frame = scdeal_probabilities(ensemble, Xc)
    out = annotate_predictions(cells, frame, ensemble.predict_no_transfer(Xc), ensemble.embed(Xc),
                               {"rule": "bulk_f1", "threshold": ensemble.thresholds["bulk_f1"],
                                "thresholds": ensemble.thresholds}, d)
    assert {"sens_prob", "sens_prob_sd", "sens_uncertain", "sens_label"} <= set(out.obs)
    assert out.obsm["sens_prob_members"].shape == (len(Xc), 3)
    metrics = transfer_metrics(out)
    assert metrics["verdict"] == d["verdict"] and metrics["label_rule"] == "bulk_f1"
    assert set(metrics["f1_by_rule"]) == {"paper", "bulk_f1", "bulk_rate"}
    from sklearn.metrics import roc_auc_score

    members = ensemble.predict_members(Xc)
    assert metrics["members"]["auroc"] == pytest.approx([roc_auc_score(yc, members[:, i]) for i in range(3)])


def _numbers(**kw):
    base = {"members": 5, "bulk_val_auroc": [0.8] * 5, "bulk_auroc_out_of_fold": 0.8, "member_agreement": 0.9,
            "transfer_vs_no_transfer": 0.7, "domain_auroc": 0.6, "uncertain_sd": 0.15, "uncertain_fraction": 0.1}
    return {**base, **kw}


@pytest.mark.parametrize("numbers, verdict", [
    (_numbers(), "ok"),
    (_numbers(bulk_auroc_out_of_fold=0.55), "no-bulk-signal"),
    (_numbers(transfer_vs_no_transfer=-0.2), "orientation-flip"),
    (_numbers(member_agreement=0.3), "low-agreement"),
    (_numbers(uncertain_fraction=0.7), "low-agreement"),
    (_numbers(member_agreement=None, uncertain_fraction=None), "ok"),  # a single model
    # Precedence: no bulk signal explains the rest; a flip outranks disagreement.
    (_numbers(bulk_auroc_out_of_fold=0.5, transfer_vs_no_transfer=-0.5, member_agreement=0.1), "no-bulk-signal"),
    (_numbers(transfer_vs_no_transfer=-0.5, member_agreement=0.1), "orientation-flip"),
])
def test_reliability_rule(numbers, verdict):
    got, reasons = diag.reliability(numbers)
    assert got == verdict
    assert (reasons == []) == (verdict == "ok")


def test_transfer_diagnostics_numbers():
    rng = np.random.default_rng(0)
    base = rng.random((200, 1))
    members = np.clip(base + rng.normal(0, 0.02, (200, 4)), 0, 1)
    d = diag.transfer_diagnostics(members, np.repeat(base, 4, axis=1), [0.8] * 4, 0.8, [0.6] * 4, 0.15)
    assert d["member_agreement"] > 0.95 and d["transfer_vs_no_transfer"] > 0.95 and d["verdict"] == "ok"
    flipped = diag.transfer_diagnostics(1 - members, np.repeat(base, 4, axis=1), [0.8] * 4, 0.8, [0.6] * 4, 0.15)
    assert flipped["transfer_vs_no_transfer"] < -0.95 and flipped["verdict"] == "orientation-flip"
    # Members that keep the bulk model's orientation on average but disagree cell by cell.
    noisy = diag.transfer_diagnostics(np.clip(base + rng.normal(0, 0.4, (200, 4)), 0, 1), np.repeat(base, 4, axis=1),
                                      [0.8] * 4, 0.8, [0.6] * 4, 0.15)
    assert noisy["transfer_vs_no_transfer"] > 0.3
    assert noisy["member_agreement"] < 0.5 and noisy["uncertain_fraction"] > 0.5
    assert noisy["verdict"] == "low-agreement"


def test_domain_auroc_tells_separate_clouds_from_one():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (300, 8))
    assert diag.domain_auroc(a, rng.normal(0, 1, (200, 8))) < 0.65
    assert diag.domain_auroc(a, rng.normal(3, 1, (200, 8))) > 0.99


def test_label_thresholds():
    rng = np.random.default_rng(2)
    y = (rng.random(300) < 0.2).astype(int)
    p = np.clip(0.35 + 0.4 * y + rng.normal(0, 0.15, 300), 0, 1)
    cuts = diag.label_thresholds(y, p, 0.2, p)
    from sklearn.metrics import f1_score

    best = max(f1_score(y, p >= t) for t in np.unique(p))
    assert f1_score(y, p >= cuts["bulk_f1"]) == pytest.approx(best)
    assert np.mean(p >= cuts["bulk_rate"]) == pytest.approx(0.2, abs=0.01)
    assert cuts["paper"] == 0.5


def test_single_model_has_diagnostics_and_a_label_rule(world):
    Xb, yb, Xc, _ = world
    model = ScDEAL(tiny(epochs_dae=5, epochs_predictor=5, epochs_joint=5, label_threshold="bulk_rate"),
                   device="cpu").fit(Xb, yb, Xc)
    d = model.diagnostics
    assert d["members"] == 1 and d["member_agreement"] is None and d["uncertain_fraction"] is None
    assert model.threshold == model.thresholds["bulk_rate"]
    frame = scdeal_probabilities(model, Xc)
    assert "sens_prob_sd" not in frame
    assert np.array_equal(frame["sens_label"], (frame["sens_prob"] >= model.threshold).astype(np.int8))
