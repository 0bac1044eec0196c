"""CODE-AE benchmark baselines: drugshift.models.baselines (pretrained autoencoders, shallow models)."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from drugshift.deconfounding import domain_auroc
from drugshift.methods import PRETRAINED_BASELINES, SHALLOW_BASELINES
from drugshift.models.baselines import build_encoder, embed, fit_shallow, pretrain_encoder
from drugshift.nn.losses import coral_loss
from drugshift.params import BaselineParams

TINY = dict(hidden=[16], latent=4, max_epochs=20, patience=0, batch_size=16, lr=3e-3, warmup_epochs=4, dropout=0.1,
            log_every=1000)


def params(**changes) -> BaselineParams:
    return BaselineParams.from_dict({**TINY, **changes})


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


@pytest.mark.parametrize("method", PRETRAINED_BASELINES)
def test_each_pretraining_method_runs_and_learns_to_reconstruct(method):
    source, target = shifted_domains(n_s=96, n_t=120, genes=30)
    encoder, history = pretrain_encoder(method, source, target, params(seed=0))
    assert encoder.latent_dim == 4 and not encoder.training
    z = embed(encoder, target)
    assert z.shape == (120, 4) and np.isfinite(z).all()
    # eval-mode embeddings are deterministic (the VAE encoder returns the posterior mean)
    np.testing.assert_array_equal(embed(encoder, target), z)
    assert history["method"] == method and history["n_source"] == 96 and history["n_target"] == 120
    phases = history["phases"]
    assert list(phases) == (["ae_warmup", "discriminator_warmup", "adversarial"] if method == "adae" else ["pretrain"])
    first = next(iter(phases.values()))["components"]["reconstruction"][0]
    assert history["val_reconstruction"] < 0.8 * first


def test_target_domain_reaches_the_loss():
    source, target = shifted_domains(n_s=64, n_t=64, genes=20)
    other = np.random.default_rng(5).standard_normal(target.shape).astype(np.float32)
    a, _ = pretrain_encoder("ae", source, target, params(max_epochs=3, seed=0))
    b, _ = pretrain_encoder("ae", source, other, params(max_epochs=3, seed=0))
    assert not torch.equal(a.net[0].weight, b.net[0].weight)


@pytest.mark.parametrize("method", ["dae", "adae"])
def test_pretraining_is_deterministic_with_a_seed(method):
    source, target = shifted_domains(n_s=64, n_t=80, genes=20)
    p = params(max_epochs=4, warmup_epochs=2, seed=3)
    a, ha = pretrain_encoder(method, source, target, p)
    b, hb = pretrain_encoder(method, source, target, p)
    c, _ = pretrain_encoder(method, source, target, p.replace(seed=4))
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert ha["phases"] == hb["phases"]
    assert not torch.equal(a.net[0].weight, c.net[0].weight)


def _standardised_coral(a: np.ndarray, b: np.ndarray) -> float:
    """CORAL of two embeddings standardised together (so that scale does not count)."""
    z = np.vstack([a, b]).astype(np.float64)
    z = (z - z.mean(0)) / np.where(z.std(0) > 0, z.std(0), 1.0)
    return float(coral_loss(torch.as_tensor(z[: len(a)]), torch.as_tensor(z[len(a):])))


def test_adae_and_coral_reduce_the_planted_domain_gap():
    source, target = shifted_domains(seed=0)
    p = BaselineParams.from_dict(dict(hidden=[32], latent=8, max_epochs=60, patience=0, batch_size=64, lr=1e-3,
                                      warmup_epochs=10, dropout=0.0, log_every=1000, seed=0))
    assert domain_auroc(source, target, n_trees=100) > 0.95
    emb = {m: [embed(pretrain_encoder(m, source, target, p)[0], x) for x in (source, target)]
           for m in ("ae", "adae", "coral")}
    auroc = {m: domain_auroc(*e, n_trees=100) for m, e in emb.items()}
    # plain AE keeps the confounder; the adversary removes much of it from the embedding
    assert auroc["ae"] > 0.9
    assert auroc["adae"] < auroc["ae"] - 0.1
    # CORAL aligns the two domains' embedding covariances
    assert _standardised_coral(*emb["coral"]) < 0.5 * _standardised_coral(*emb["ae"])


def test_encoder_round_trips_through_a_state_dict():
    source, target = shifted_domains(n_s=64, n_t=64, genes=20)
    p = params(max_epochs=2, seed=0)
    encoder, _ = pretrain_encoder("vae", source, target, p)
    restored = build_encoder(20, p)
    restored.load_state_dict(encoder.state_dict())
    np.testing.assert_array_equal(embed(restored, source), embed(encoder, source))


def _nan_source(source):
    bad = source.copy()
    bad[2, 3] = np.nan
    return bad


@pytest.mark.parametrize(("method", "source", "target", "message"), [
    ("pca", lambda s: s, lambda t: t, "unknown pretrained baseline"),
    ("ae", lambda s: s, lambda t: t[:, :5], "genes"),
    ("ae", _nan_source, lambda t: t, "non-finite"),
    ("ae", lambda s: s[:3], lambda t: t, "at least 4 rows"),
])
def test_pretraining_inputs_are_validated(method, source, target, message):
    s, t = shifted_domains(n_s=20, n_t=20, genes=10)
    with pytest.raises(ValueError, match=message):
        pretrain_encoder(method, source(s), target(t), params())


def planted_labels(seed=0, n=240, genes=50, positive_rate=0.35):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, genes)).astype(np.float32)
    score = x[:, :4].sum(1) + rng.standard_normal(n)
    y = (score > np.quantile(score, 1 - positive_rate)).astype(int)
    return x, y


@pytest.mark.parametrize("method", SHALLOW_BASELINES)
def test_shallow_models_beat_chance_on_a_planted_signal(method):
    x, y = planted_labels()
    train, test = np.arange(180), np.arange(180, 240)
    kwargs = {"n_estimators": 50} if method == "random_forest" else {}
    model = fit_shallow(method, x[train], y[train], seed=0, **kwargs)
    prob = model.predict_proba(x[test])[:, 1]
    assert roc_auc_score(y[test], prob) > 0.8
    assert model.best_score_ > 0.5  # inner-CV AUROC on the training cell lines
    # balanced class weights: the minority (sensitive) class is predicted, not ignored
    assert (model.predict(x[test]) == 1).sum() > 0
    again = fit_shallow(method, x[train], y[train], seed=0, **kwargs)
    np.testing.assert_array_equal(again.predict_proba(x[test]), model.predict_proba(x[test]))


@pytest.mark.parametrize(("method", "labels", "message"), [
    ("svm", lambda y: y, "unknown shallow"),
    ("elasticnet", lambda y: y + 1, "0/1"),
    ("elasticnet", lambda y: np.r_[1, np.zeros(len(y) - 1, dtype=int)], "at least 2"),
])
def test_shallow_inputs_are_validated(method, labels, message):
    x, y = planted_labels(n=40)
    with pytest.raises(ValueError, match=message):
        fit_shallow(method, x, labels(y), 0)


def test_a_tiny_minority_class_lowers_the_number_of_inner_folds():
    x, _ = planted_labels(n=40)
    two_positive = np.r_[1, 1, np.zeros(38, dtype=int)]
    model = fit_shallow("elasticnet", x, two_positive, 0, n_inner_folds=5)
    assert model.n_splits_ == 2
