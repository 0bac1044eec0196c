"""CODE-AE benchmark baselines: drugshift.models.baselines."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from drugshift.models.baselines import (
    PRETRAINED,
    SHALLOW,
    BaselineParams,
    build_encoder,
    domain_gap,
    embed,
    fit_shallow,
    pretrain_encoder,
)

TINY = dict(hidden=[16], latent=4, epochs=20, patience=0, batch_size=16, lr=3e-3, warmup_epochs=4, dropout=0.1,
            log_every=1000)


def shifted_domains(seed=0, n_s=160, n_t=160, genes=40, shift=1.0):
    """Shared biology (4 factors) in both domains; the target adds a planted confounder: a mean
    shift of ±``shift`` per gene and an extra factor with SD 1.5 that only the target has."""
    rng = np.random.default_rng(seed)
    loadings = rng.standard_normal((4, genes))
    source = rng.standard_normal((n_s, 4)) @ loadings + 0.5 * rng.standard_normal((n_s, genes))
    offset = rng.choice([-1.0, 1.0], genes) * shift
    confounder = rng.standard_normal(genes)
    target = (rng.standard_normal((n_t, 4)) @ loadings + offset + 1.5 * rng.standard_normal((n_t, 1)) * confounder
              + 0.5 * rng.standard_normal((n_t, genes)))
    return source.astype(np.float32), target.astype(np.float32)


@pytest.mark.parametrize("method", PRETRAINED)
def test_each_pretraining_method_runs_and_learns_to_reconstruct(method):
    source, target = shifted_domains(n_s=96, n_t=120, genes=30)
    encoder, history = pretrain_encoder(method, source, target, TINY, seed=0)
    assert encoder.latent_dim == 4
    z = encoder(torch.as_tensor(target))
    assert z.shape == (120, 4) and torch.isfinite(z).all()
    assert not encoder.training
    # eval-mode embeddings are deterministic (the VAE encoder returns the posterior mean)
    np.testing.assert_array_equal(embed(encoder, target), embed(encoder, target))
    assert history["method"] == method and history["n_source"] == 96 and history["n_target"] == 120
    phases = history["phases"]
    assert list(phases) == (["ae_warmup", "discriminator_warmup", "adversarial"] if method == "adae" else ["pretrain"])
    first = next(iter(phases.values()))["components"]["reconstruction"][0]
    assert history["val_reconstruction"] < 0.8 * first
    assert 0.0 <= history["domain_gap"]["domain_auroc"] <= 1.0


def test_target_domain_reaches_the_loss():
    source, target = shifted_domains(n_s=64, n_t=64, genes=20)
    other = np.random.default_rng(5).standard_normal(target.shape).astype(np.float32)
    params = dict(TINY, epochs=3)
    a, _ = pretrain_encoder("ae", source, target, params, seed=0, measure_domain_gap=False)
    b, _ = pretrain_encoder("ae", source, other, params, seed=0, measure_domain_gap=False)
    assert not torch.equal(a.net[0].weight, b.net[0].weight)


@pytest.mark.parametrize("method", ["dae", "adae"])
def test_pretraining_is_deterministic_with_a_seed(method):
    source, target = shifted_domains(n_s=64, n_t=80, genes=20)
    params = dict(TINY, epochs=4, warmup_epochs=2)
    a, ha = pretrain_encoder(method, source, target, params, seed=3, measure_domain_gap=False)
    b, hb = pretrain_encoder(method, source, target, params, seed=3, measure_domain_gap=False)
    c, _ = pretrain_encoder(method, source, target, params, seed=4, measure_domain_gap=False)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert ha["phases"] == hb["phases"]
    assert not torch.equal(a.net[0].weight, c.net[0].weight)


def test_adae_and_coral_reduce_the_planted_domain_gap():
    source, target = shifted_domains(seed=0)
    params = dict(hidden=[32], latent=8, epochs=60, patience=0, batch_size=64, lr=1e-3, warmup_epochs=10,
                  dropout=0.0, log_every=1000)
    raw = domain_gap(source, target)
    assert raw["domain_auroc"] > 0.95
    gaps = {}
    for method in ("ae", "adae", "coral"):
        encoder, _ = pretrain_encoder(method, source, target, params, seed=0, measure_domain_gap=False)
        gaps[method] = domain_gap(embed(encoder, source), embed(encoder, target))
    # plain AE keeps the confounder; the adversary removes much of it from the embedding
    assert gaps["ae"]["domain_auroc"] > 0.9
    assert gaps["adae"]["domain_auroc"] < gaps["ae"]["domain_auroc"] - 0.1
    # CORAL aligns the two domains' embedding covariances
    assert gaps["coral"]["coral"] < 0.5 * gaps["ae"]["coral"]


def test_domain_gap_separates_shifted_from_identical_domains():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((200, 6)), rng.standard_normal((200, 6))
    same = domain_gap(a, b)
    shifted = domain_gap(a, b + 1.0)
    assert abs(same["domain_auroc"] - 0.5) < 0.1
    assert shifted["domain_auroc"] > 0.95 and shifted["mmd"] > same["mmd"]
    with pytest.raises(ValueError, match="width"):
        domain_gap(a, b[:, :3])


def test_encoder_round_trips_through_a_state_dict():
    source, target = shifted_domains(n_s=64, n_t=64, genes=20)
    encoder, _ = pretrain_encoder("vae", source, target, dict(TINY, epochs=2), seed=0, measure_domain_gap=False)
    restored = build_encoder(20, dict(TINY, epochs=2))
    restored.load_state_dict(encoder.state_dict())
    np.testing.assert_array_equal(embed(restored, source), embed(encoder, source))


def test_params_and_inputs_are_validated():
    assert BaselineParams().hidden == [512, 256] and BaselineParams().latent == 128
    assert BaselineParams().lr == 1e-4 and BaselineParams().batch_size == 64 and BaselineParams().dropout == 0.1
    with pytest.raises(ValueError, match="unknown baseline parameter"):
        BaselineParams.from_dict({"latnet": 3})
    with pytest.raises(ValueError, match="dropout"):
        BaselineParams(dropout=1.5)
    source, target = shifted_domains(n_s=20, n_t=20, genes=10)
    with pytest.raises(ValueError, match="unknown pretrained baseline"):
        pretrain_encoder("pca", source, target, TINY)
    with pytest.raises(ValueError, match="genes"):
        pretrain_encoder("ae", source, target[:, :5], TINY)
    bad = source.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        pretrain_encoder("ae", bad, target, TINY)


def planted_labels(seed=0, n=240, genes=50, positive_rate=0.35):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, genes)).astype(np.float32)
    score = x[:, :4].sum(1) + rng.standard_normal(n)
    y = (score > np.quantile(score, 1 - positive_rate)).astype(int)
    return x, y


@pytest.mark.parametrize("method", SHALLOW)
def test_shallow_models_beat_chance_on_a_planted_signal(method):
    x, y = planted_labels()
    train, test = np.arange(180), np.arange(180, 240)
    kwargs = {"n_estimators": 50} if method == "random_forest" else {}
    model = fit_shallow(method, x[train], y[train], seed=0, **kwargs)
    prob = model.predict_proba(x[test])[:, 1]
    assert prob.shape == (60,)
    assert roc_auc_score(y[test], prob) > 0.8
    assert 0.5 < model.best_score_ <= 1.0  # inner-CV AUROC on the training cell lines
    # balanced class weights: the minority (sensitive) class is predicted, not ignored
    assert (model.predict(x[test]) == 1).sum() > 0
    again = fit_shallow(method, x[train], y[train], seed=0, **kwargs)
    np.testing.assert_array_equal(again.predict_proba(x[test]), model.predict_proba(x[test]))


def test_shallow_inputs_are_validated():
    x, y = planted_labels(n=40)
    with pytest.raises(ValueError, match="unknown shallow"):
        fit_shallow("svm", x, y, 0)
    with pytest.raises(ValueError, match="0/1"):
        fit_shallow("elasticnet", x, y + 1, 0)
    one_positive = np.zeros(40, dtype=int)
    one_positive[0] = 1
    with pytest.raises(ValueError, match="at least 2"):
        fit_shallow("elasticnet", x, one_positive, 0)
    # a tiny minority class lowers the number of inner folds instead of failing
    two_positive = one_positive.copy()
    two_positive[1] = 1
    model = fit_shallow("elasticnet", x, two_positive, 0, n_inner_folds=5)
    assert model.n_splits_ == 2
