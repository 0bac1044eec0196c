"""CODE-AE: losses, pretraining on both domains, variants, fine-tuning with gradual unfreezing,
zero-shot prediction and the benchmark tables — on tiny generated data."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from drugshift.models.codeae import (
    VARIANTS,
    CodeAEParams,
    benchmark_rows,
    cross_validate_method,
    cv_folds,
    domain_auroc,
    finetune,
    finetune_cv,
    load_codeae,
    predict_proba,
    pretrain_codeae,
    random_encoder,
    rank_summary,
    save_codeae,
)
from drugshift.nn.losses import coral_loss, gradient_penalty, orthogonality_loss

SMALL = dict(encoder_hidden=[32, 16], latent=8, decoder_hidden=[16, 32], critic_hidden=[8, 8], lr=1e-3,
             batch_size=32, epochs_warmup=2, epochs=3, log_every=100)
FT = dict(classifier_hidden=[8, 4], lr=1e-2, batch_size=32, epochs=15, patience=5, n_folds=3, log_every=100)


@pytest.fixture(scope="module")
def world():
    """Cell lines and patients driven by the same 4 programs; patients carry a confounder (a
    strong bimodal sub-population shift, like tumour type) and a platform offset. Program 0
    drives response in both domains."""
    rng = np.random.default_rng(0)
    n_c, n_t, g = 240, 160, 60
    W = rng.normal(size=(4, g))
    zc, zt = rng.normal(size=(n_c, 4)), rng.normal(size=(n_t, 4))
    xc = zc @ W + rng.normal(size=(n_c, g)) * 0.5
    sub = rng.random(n_t) < 0.5
    xt = zt @ W + np.outer(sub, rng.normal(size=g) * 2.0) + rng.normal(size=(n_t, g)) * 0.5 + 0.5
    xc = ((xc - xc.mean(0)) / xc.std(0)).astype(np.float32)
    xt = ((xt - xt.mean(0)) / xt.std(0)).astype(np.float32)
    yc = (zc[:, 0] + rng.normal(size=n_c) * 0.3 > 0).astype(int)
    yt = (zt[:, 0] > 0).astype(int)
    return xc, yc, xt, yt


# --------------------------------------------------------------------------- losses


def test_coral_loss_is_zero_for_equal_covariances_and_grows_with_scale():
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(0))
    assert coral_loss(x, x + 3.0).item() == pytest.approx(0.0, abs=1e-6)  # mean shifts are ignored
    assert coral_loss(x, 2 * x).item() > coral_loss(x, 1.2 * x).item() > 0
    with pytest.raises(ValueError):
        coral_loss(x[:1], x)


def test_orthogonality_loss_is_scale_free_and_can_be_driven_to_zero():
    g = torch.Generator().manual_seed(0)
    shared = torch.randn(40, 4, generator=g)
    private = torch.randn(40, 4, generator=g).requires_grad_(True)
    start = orthogonality_loss(shared, private)
    assert start.item() > 0
    # Per-sample scale does not matter (embeddings are compared by direction).
    scale = torch.rand(40, 1, generator=g) + 0.5
    assert orthogonality_loss(shared * scale, private.detach()).item() != pytest.approx(0.0)
    assert orthogonality_loss(shared, private.detach() * scale).item() == pytest.approx(
        orthogonality_loss(shared, private.detach() * scale * 3).item())
    opt = torch.optim.Adam([private], lr=0.1)
    for _ in range(150):
        opt.zero_grad()
        loss = orthogonality_loss(shared, private)
        loss.backward()
        opt.step()
    assert orthogonality_loss(shared, private).item() < 0.01 * start.item()
    assert orthogonality_loss(shared, shared).item() > start.item()


def test_gradient_penalty_is_zero_for_a_unit_slope_critic_and_differentiable():
    critic = torch.nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.8, 0.0, 0.0]]))  # gradient norm exactly 1
    real, fake = torch.randn(16, 4), torch.randn(20, 4)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        critic.weight.mul_(3.0)
    gp = gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx(4.0, rel=1e-5)
    gp.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


# --------------------------------------------------------------------------- pretraining


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_pretrains_on_both_domains(world, variant):
    xc, _, xt, _ = world
    p = CodeAEParams(variant=variant, **SMALL)
    torch.manual_seed(p.seed)
    from drugshift.models.codeae import CodeAE

    initial = CodeAE(xc.shape[1], p).state_dict()  # same seed, same init as inside pretraining
    result = pretrain_codeae(xc, xt, p, device="cpu")
    after = result.model.state_dict()
    # The patient data reached the loss: the target's private encoder (used by no other term) moved.
    for key in ("private_target.net.0.weight", "private_source.net.0.weight", "shared_encoder.net.0.weight"):
        assert not torch.equal(initial[key], after[key]), key
    emb = result.embed(xt)
    assert emb.shape == (len(xt), 8)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)  # normalised embeddings
    hist = result.history
    assert set(hist) == ({"warmup", "adversarial"} if variant == "adv" else {"warmup", "train"})
    assert all(math.isfinite(v) for h in hist.values() for v in h.train)
    if variant == "adv":
        assert "critic" in hist["adversarial"].components and "gen" in hist["adversarial"].components
    if variant in ("mmd", "dsn_mmd"):
        assert "mmd" in hist["train"].components
    if variant == "dsn_dann":
        assert "domain_bce" in hist["train"].components


def test_pretraining_without_patients_differs_from_pretraining_with_them(world):
    """Guard against the reference loader's defect (cell lines only): replacing the patients
    changes the shared encoder."""
    xc, _, xt, _ = world
    p = CodeAEParams(variant="base", **SMALL)
    a = pretrain_codeae(xc, xt, p, device="cpu").embed(xc)
    b = pretrain_codeae(xc, xt[::-1] * 0.5, p, device="cpu").embed(xc)
    assert not np.allclose(a, b)


def test_pretraining_is_deterministic_and_survives_save_and_load(world, tmp_path):
    xc, _, xt, _ = world
    p = CodeAEParams(variant="adv", **SMALL)
    r1 = pretrain_codeae(xc, xt, p, device="cpu")
    r2 = pretrain_codeae(xc, xt, p, device="cpu")
    assert np.array_equal(r1.embed(xc), r2.embed(xc))
    path = save_codeae(r1, tmp_path / "encoder.pt")
    loaded = load_codeae(path)
    assert np.array_equal(loaded.embed(xt), r1.embed(xt))
    assert loaded.params == r1.params and loaded.encoder.latent_dim == 8
    assert loaded.history["adversarial"].train == r1.history["adversarial"].train
    with pytest.raises(ValueError, match="genes"):
        loaded.embed(xt[:, :10])


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="variant"):
        CodeAEParams(variant="gan")
    with pytest.raises(ValueError, match="unknown CodeAEParams key"):
        CodeAEParams.from_dict({"latnet": 3})


def test_adversarial_pretraining_removes_the_confounder(world):
    """Domain classifier AUROC: high on the inputs (the patient sub-population shift), clearly
    lower on CODE-AE-ADV's shared embedding."""
    xc, _, xt, _ = world
    raw = domain_auroc(xc, xt, n_trees=100)
    result = pretrain_codeae(xc, xt, CodeAEParams(variant="adv", **{**SMALL, "epochs_warmup": 20, "epochs": 40}),
                             device="cpu")
    emb = domain_auroc(result.embed(xc), result.embed(xt), n_trees=100)
    assert raw > 0.9
    assert emb < raw - 0.1


# --------------------------------------------------------------------------- fine-tuning


def test_cv_folds_are_stratified_and_cover_every_sample():
    y = np.r_[np.zeros(30), np.ones(15)].astype(int)
    folds = cv_folds(y, 5, seed=1)
    assert len(folds) == 5
    assert np.array_equal(np.sort(np.concatenate([va for _, va in folds])), np.arange(45))
    assert all(y[va].sum() == 3 for _, va in folds)
    with pytest.raises(ValueError, match="at least 5"):
        cv_folds(np.r_[np.zeros(10), np.ones(3)].astype(int), 5)


def test_gradual_unfreezing_opens_layers_top_down_with_decaying_lr(world):
    xc, yc, _, _ = world
    enc = random_encoder(xc.shape[1], CodeAEParams(**SMALL), seed=0)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    model, info = finetune(enc, xc[:160], yc[:160], xc[160:], yc[160:], FT, device="cpu")
    # The caller's encoder is untouched (each fold fine-tunes a copy).
    assert all(torch.equal(before[k], v) for k, v in enc.state_dict().items())
    stages = info["stages"]
    assert [s["open_layers"] for s in stages] == [0, 1, 2, 3]
    assert [s["lr"] for s in stages] == pytest.approx([1e-2, 1e-3, 1e-4, 1e-5])
    assert 0.5 < info["val_auroc"] <= 1.0
    # Head-only fine-tuning leaves the encoder exactly as pretrained.
    head_model, _ = finetune(enc, xc[:160], yc[:160], xc[160:], yc[160:], {**FT, "unfreeze": "head"}, device="cpu")
    assert all(torch.equal(before[k], v) for k, v in head_model.encoder.state_dict().items())


def test_finetune_cv_transfers_to_patients_and_ignores_their_labels(world):
    xc, yc, xt, yt = world
    result = pretrain_codeae(xc, xt, CodeAEParams(variant="mmd", **{**SMALL, "epochs": 10}), device="cpu")
    folds = finetune_cv(result.encoder, xc, yc, FT, targets={"patients": xt}, device="cpu")
    assert len(folds) == 3
    assert all(f.val_metrics["auroc"] > 0.7 for f in folds)  # program 0 is learnable on cell lines
    rows = benchmark_rows("codeae_mmd", "patients", "drug", yt, [f.predictions["patients"] for f in folds])
    assert [r["fold"] for r in rows] == [0, 1, 2]
    assert np.mean([r["AUROC"] for r in rows]) > 0.7  # the shared program transfers zero-shot
    # Predictions are a function of expression only: the same inputs give the same numbers.
    again = finetune_cv(result.encoder, xc, yc, FT, targets={"patients": xt}, device="cpu")
    assert all(np.array_equal(a.predictions["patients"], b.predictions["patients"]) for a, b in zip(folds, again))
    assert np.array_equal(predict_proba(folds[0].model, xt), folds[0].predictions["patients"])


def test_mlp_baseline_trains_a_fresh_encoder_end_to_end(world):
    xc, yc, xt, yt = world
    folds = cross_validate_method("mlp", xc, yc, finetune_params=FT, codeae_params=SMALL,
                                  targets={"patients": xt}, device="cpu")
    assert len(folds) == 3
    assert all(len(f.info["stages"]) == 1 and f.info["stages"][0]["open_layers"] == 3 for f in folds)
    assert all(f.model.encoder.normalise is False for f in folds)
    with pytest.raises(ValueError, match="pretrained encoder"):
        cross_validate_method("codeae_adv", xc, yc, finetune_params=FT, device="cpu")


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


def test_fit_can_keep_the_last_epoch_instead_of_the_best():
    """train.fit(restore_best=False), used by pretraining: the weights after the last epoch stay."""
    from drugshift.train import fit

    lin = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(lin.weight, 0.0)
    vals = iter([1.0, 2.0, 3.0])  # the first epoch is the best

    def step(idx):
        with torch.no_grad():
            lin.weight.add_(1.0)
        return {"loss": 0.0}

    hist = fit(step, lambda: next(vals), [lin], n_train=4, epochs=3, batch_size=4, patience=None,
               restore_best=False)
    assert lin.weight.item() == 3.0 and hist.best_epoch == 1


@pytest.mark.parametrize("method", ["codeae_adv", "ae", "mlp", "elasticnet"])
def test_fold_models_and_encoders_round_trip_through_files(world, tmp_path, method):
    """What the workflow rules do: pretrain (where the method has a stage), save and reload the
    encoder, cross-validate, save the fold models, reload them and predict the same numbers."""
    from drugshift.models.codeae import (
        load_encoder,
        load_folds,
        method_kind,
        predict_folds,
        pretrain_method,
        save_encoder,
        save_folds,
    )

    xc, yc, xt, _ = world
    encoder = None
    if method_kind(method) in ("codeae", "pretrained"):
        baseline = dict(hidden=[32, 16], latent=8, epochs=2, warmup_epochs=1, log_every=100)
        trained, history = pretrain_method(method, xc, xt, SMALL, baseline, seed=1, device="cpu")
        assert history
        encoder = save_encoder(trained, tmp_path / "encoder.pt")
        reloaded = load_encoder(tmp_path / "encoder.pt")
        with torch.no_grad():
            x = torch.as_tensor(xt[:5])
            assert torch.allclose(encoder.eval()(x), reloaded(x))
        encoder = reloaded
    folds = cross_validate_method(method, xc, yc, encoder, {**FT, "epochs": 3}, SMALL, targets={"t": xt},
                                  device="cpu")
    save_folds(folds, tmp_path / "model.pt", method, {**FT, "epochs": 3})
    name, models = load_folds(tmp_path / "model.pt")
    assert name == method and len(models) == 3
    probs = predict_folds(models, xt)
    assert probs.shape == (3, len(xt))
    assert np.allclose(probs, np.vstack([f.predictions["t"] for f in folds]))
