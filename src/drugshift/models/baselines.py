"""Baselines of the CODE-AE benchmark (paper, Methods, "Baseline models"; Table 1).

Two families, both trained on exactly the data CODE-AE sees:

* **No pretraining, shallow** (``SHALLOW``): Elastic Net and Random Forest classifiers fitted on
  the labelled cell lines of one drug (one outer fold) by :func:`fit_shallow`. Their
  hyperparameters come from a small stratified inner cross-validation on those cell lines only
  (AUROC), so no patient / PDTC label ever reaches model selection. The MLP (also no
  pretraining) is CODE-AE's fine-tuning head on a randomly initialised encoder and lives in
  :mod:`drugshift.models.codeae`.
* **Unlabelled pretraining** (``PRETRAINED``): an encoder pretrained by :func:`pretrain_encoder`
  on the unlabelled expression of the source (cell lines) **and** target (patients / PDTC)
  domains, then fine-tuned per drug exactly like CODE-AE's shared encoder:

  ========  ===================================================================================
  ``ae``    plain autoencoder, ``MSE(x, D(E(x)))``
  ``dae``   denoising autoencoder: binomial mask ``B(x, p)`` on the input, clean target
            ``MSE(x, D(E(B(x, p))))`` (Vincent et al., 2008)
  ``vae``   variational autoencoder (Kingma & Welling, 2014); the returned encoder outputs the
            posterior mean ``μ(x)``
  ``adae``  adversarial deconfounding autoencoder (Dincer et al., 2020): a domain discriminator
            ``F`` on the embedding learns which domain a sample comes from while the autoencoder
            minimises ``MSE − λ·BCE(F(E(x)), domain)``; AE warm-up, discriminator warm-up, then
            alternating updates (``adv_steps`` discriminator updates per autoencoder update),
            as in ADAE and the CODE-AE reference ``train_adae``
  ``coral`` autoencoder + Deep CORAL (Sun & Saenko, 2016): ``MSE + w·CORAL(E(x_s), E(x_t))``
            aligns the two domains' embedding covariances
  ========  ===================================================================================

  DSN-MMD and DSN-DANN share CODE-AE's architecture and are options of
  :mod:`drugshift.models.codeae`.

Training procedure (the same for every pretrained baseline, and the CODE-AE reference's): AdamW,
each epoch one pass over the source training rows in minibatches of ``batch_size``, every
minibatch paired with an equally large random minibatch of target rows; the reconstruction term
is the mean of the two domains' MSEs, so both domains weigh the same whatever their sizes.
``val_fraction`` of each domain's rows (unlabelled expression only) is held out; the epoch with
the lowest held-out objective is kept (early stopping with ``patience``), through
:func:`drugshift.train.fit`.

Public API:

* ``SHALLOW``, ``fit_shallow(method, x, y, seed, ...)`` → fitted ``GridSearchCV`` (has
  ``predict_proba``; ``best_params_``, ``best_score_`` = inner-CV AUROC).
* ``PRETRAINED``, :class:`BaselineParams`, ``pretrain_encoder(method, source, target, params,
  seed, device)`` → ``(encoder, history)``; ``encoder`` maps ``(n, genes)`` float tensors to
  ``(n, latent_dim)`` embeddings and has ``latent_dim``; it is a
  :class:`drugshift.nn.blocks.NormalisedEncoder` with ``normalise=False`` (state-dict keys
  ``net.*``), so ``build_encoder(n_genes, params)`` + ``load_state_dict`` restores a saved one.
* ``embed(encoder, x)`` → numpy embeddings; ``domain_gap(source_emb, target_emb, seed)`` → how
  distinguishable the two domains are in an embedding (domain-classifier AUROC, CORAL, MMD).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drugshift.nn.blocks import Decoder, NormalisedEncoder, binomial_mask, mlp
from drugshift.nn.losses import coral_loss, gaussian_mmd
from drugshift.train import as_float_matrix, fit, History, resolve_device, seed_everything

__all__ = [
    "ENET_GRID",
    "PRETRAINED",
    "RF_GRID",
    "SHALLOW",
    "BaselineParams",
    "build_encoder",
    "domain_gap",
    "embed",
    "fit_shallow",
    "pretrain_encoder",
]

SHALLOW = ("elasticnet", "random_forest")
PRETRAINED = ("ae", "dae", "vae", "adae", "coral")

#: Inner-CV grid of the Elastic Net (inverse penalty strength ``C``, L1 share ``l1_ratio``).
#: Strong penalties only: with ~1.4k genes and ~1k cell lines weaker ones overfit and make saga
#: converge slowly (C = 1 takes ~4 s per fit versus ~0.5 s at C = 0.01).
ENET_GRID = {"C": (0.01, 0.1), "l1_ratio": (0.2, 0.8)}
#: Inner-CV grid of the Random Forest.
RF_GRID = {"min_samples_leaf": (1, 5)}

_PREDICT_CHUNK = 4096
_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- shallow baselines


def fit_shallow(
    method: str,
    x,
    y,
    seed: int,
    *,
    n_inner_folds: int = 3,
    grid: Mapping[str, Sequence] | None = None,
    n_estimators: int = 200,
    n_jobs: int = 1,
    log: logging.Logger | None = None,
):
    """Fit a no-pretraining shallow baseline on labelled cell lines of one drug.

    ``elasticnet``: ``StandardScaler`` → ``LogisticRegression`` with an elastic-net penalty
    (``l1_ratio`` in (0, 1)) and the ``saga`` solver, i.e. the penalised maximum-likelihood
    optimum itself. The CODE-AE reference used ``SGDClassifier(loss="log")``; on 800 × 1426
    z-scored profiles with a planted signal, SGD needed up to its 1000-iteration limit for the
    weak penalties and reached held-out AUROC 0.55–0.81 depending on the step size, where saga
    reached 0.84 at comparable cost, with a result that does not depend on a learning-rate
    schedule. ``random_forest``: ``RandomForestClassifier`` (``n_estimators`` trees, √genes
    features per split).

    Class imbalance: ``class_weight="balanced"`` (Elastic Net) and ``"balanced_subsample"``
    (Random Forest), so both classes weigh the same in the loss / the split criterion.

    Hyperparameters: ``GridSearchCV`` over ``grid`` (default :data:`ENET_GRID` /
    :data:`RF_GRID`), stratified ``n_inner_folds``-fold CV of ``x, y`` only (fewer folds when the
    minority class is smaller), scored by AUROC, refit on all of ``x, y``.

    Args:
        method: one of :data:`SHALLOW`.
        x: ``(n, genes)`` expression of the training cell lines.
        y: ``(n,)`` labels, 1 = sensitive, 0 = resistant.
        seed: ``random_state`` of the folds, the solver and the forest.
        n_inner_folds: inner CV folds (≥ 2).
        grid: parameter grid with the estimator's own parameter names (``C``, ``l1_ratio``;
            ``min_samples_leaf``, ``max_features``, …).
        n_estimators: trees of the forest.
        n_jobs: parallel fits of the grid search.
        log: logger for one summary line.

    Returns:
        The fitted ``GridSearchCV``: ``predict_proba(x)[:, 1]`` is the probability of
        sensitivity; ``best_params_`` and ``best_score_`` (inner-CV AUROC) describe the choice.

    Raises:
        ValueError: unknown method, mismatched shapes, non-finite values, labels outside {0, 1},
            or fewer than 2 samples of a class.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    log = log or _log
    if method not in SHALLOW:
        raise ValueError(f"unknown shallow baseline {method!r}; expected one of {SHALLOW}")
    X = as_float_matrix(x, "x")
    y = np.asarray(y).ravel()
    if y.size != X.shape[0]:
        raise ValueError(f"y has {y.size} labels but x has {X.shape[0]} rows")
    if not np.isin(y, [0, 1]).all():
        raise ValueError(f"y must be 0/1 (1 = sensitive); found {np.unique(y)[:10].tolist()}")
    y = y.astype(np.int64)
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise ValueError(f"need at least 2 samples of each class; got {counts[0]} resistant and {counts[1]} sensitive")
    if int(n_inner_folds) < 2:
        raise ValueError(f"n_inner_folds must be >= 2, got {n_inner_folds}")
    folds = int(min(n_inner_folds, counts.min()))
    if method == "elasticnet":
        estimator = Pipeline([
            ("scale", StandardScaler()),
            ("model", LogisticRegression(solver="saga", class_weight="balanced", max_iter=1000, tol=1e-3,
                                         random_state=seed)),
        ])
        space = {f"model__{k}": list(v) for k, v in dict(grid or ENET_GRID).items()}
    else:
        estimator = RandomForestClassifier(n_estimators=int(n_estimators), max_features="sqrt",
                                           class_weight="balanced_subsample", random_state=seed, n_jobs=1)
        space = {k: list(v) for k, v in dict(grid or RF_GRID).items()}
    search = GridSearchCV(estimator, space, scoring="roc_auc", refit=True, n_jobs=n_jobs, error_score="raise",
                          cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        search.fit(X, y)
    not_converged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    best = {k.removeprefix("model__"): v for k, v in search.best_params_.items()}
    log.info("%s: %d samples (%d sensitive), %d-fold inner CV AUROC %.3f with %s%s", method, y.size, counts[1],
             folds, search.best_score_, best,
             f"; saga stopped at max_iter in {not_converged} fit(s)" if not_converged else "")
    return search


# --------------------------------------------------------------------------- pretrained baselines


@dataclass
class BaselineParams:
    """Hyperparameters of :func:`pretrain_encoder` (defaults: CODE-AE's architecture and
    optimiser, METHODS.md "CODE-AE model": encoder 512,256 → 128, decoder 256,512, critic /
    discriminator 64,32, dropout 0.1, AdamW lr 1e-4, batch 64, 500 pretraining epochs).

    Attributes:
        hidden: encoder hidden widths.
        latent: embedding width (``encoder.latent_dim``).
        decoder_hidden: decoder hidden widths (``None``: ``hidden`` reversed).
        dropout: dropout after every hidden layer.
        batchnorm: BatchNorm in hidden layers (off, as CODE-AE's encoders).
        lr: AdamW learning rate (autoencoder and discriminator).
        weight_decay: AdamW weight decay (torch's default 0.01).
        batch_size: rows per domain per minibatch.
        epochs: maximum epochs (passes over the source training rows); for ``adae`` the
            alternating phase, which follows ``warmup_epochs`` of AE and of discriminator
            training.
        patience: early-stopping patience in epochs (0: none, the best epoch is still kept).
        val_fraction: share of each domain's rows held out for the early-stopping objective.
        noise_p: ``dae`` masking probability.
        kl_weight: ``vae`` weight of the KL term. The loss is ``MSE + kl_weight · KL / genes``
            with ``MSE`` the mean over genes and ``KL`` summed over latent dimensions; at 1 this
            is the negative ELBO of a unit-variance Gaussian decoder up to a factor 2 and a
            constant, divided by the number of genes.
        adv_weight: ``adae`` λ, weight of the adversarial term.
        adv_hidden: hidden widths of the ``adae`` domain discriminator.
        warmup_epochs: ``adae`` epochs of plain-AE training and then of discriminator-only
            training before the alternating phase (the reference's ``pretrain_num_epochs``).
        adv_steps: ``adae`` discriminator updates per autoencoder update in the alternating
            phase. An adversary kept near its optimum makes ``−BCE`` a useful signal: on a
            planted mean + covariance shift (3 worlds × 2 seeds, 60 epochs) the embedding's
            domain AUROC fell below plain AE's in 6 of 6 runs with 3 steps, 4 of 6 with 1.
        coral_weight: ``coral`` weight of the CORAL term.
        log_every: epochs between progress lines.
    """

    hidden: list[int] = field(default_factory=lambda: [512, 256])
    latent: int = 128
    decoder_hidden: list[int] | None = None
    dropout: float = 0.1
    batchnorm: bool = False
    lr: float = 1e-4
    weight_decay: float = 0.01
    batch_size: int = 64
    epochs: int = 500
    patience: int = 50
    val_fraction: float = 0.1
    noise_p: float = 0.2
    kl_weight: float = 1.0
    adv_weight: float = 1.0
    adv_hidden: list[int] = field(default_factory=lambda: [64, 32])
    warmup_epochs: int = 50
    adv_steps: int = 3
    coral_weight: float = 1.0
    log_every: int = 10

    def __post_init__(self) -> None:
        for name in ("hidden", "decoder_hidden", "adv_hidden"):
            v = getattr(self, name)
            if v is None:
                continue
            v = [int(x) for x in ([v] if isinstance(v, (int, np.integer)) else v)]
            if any(x <= 0 for x in v):
                raise ValueError(f"baseline parameter {name} must hold positive layer sizes, got {v}")
            setattr(self, name, v)
        problems = []
        if int(self.latent) <= 0:
            problems.append(f"latent must be > 0 (got {self.latent})")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1) (got {self.dropout})")
        if not 0 <= self.noise_p < 1:
            problems.append(f"noise_p must be in [0, 1) (got {self.noise_p})")
        if not self.lr > 0:
            problems.append(f"lr must be > 0 (got {self.lr})")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0 (got {self.weight_decay})")
        if int(self.batch_size) < 2:
            problems.append(f"batch_size must be >= 2 (got {self.batch_size})")
        if int(self.adv_steps) < 1:
            problems.append(f"adv_steps must be >= 1 (got {self.adv_steps})")
        for name in ("epochs", "patience", "warmup_epochs", "log_every"):
            if int(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        if not 0 < self.val_fraction < 1:
            problems.append(f"val_fraction must be in (0, 1) (got {self.val_fraction})")
        for name in ("kl_weight", "adv_weight", "coral_weight"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        if problems:
            raise ValueError("invalid baseline parameters: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, d: Mapping | None) -> BaselineParams:
        """Build from a config mapping; missing keys take defaults, unknown keys are an error."""
        d = dict(d or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown baseline parameter(s): {', '.join(unknown)}; "
                             f"known parameters: {', '.join(sorted(known))}")
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def build_encoder(n_genes: int, params: BaselineParams | Mapping | None = None) -> NormalisedEncoder:
    """The encoder every pretrained baseline returns, untrained: ``(n, n_genes) → (n, latent)``
    with a linear output layer and no embedding normalisation; ``latent_dim`` = ``params.latent``.
    Use it with ``load_state_dict`` to restore a saved encoder."""
    p = params if isinstance(params, BaselineParams) else BaselineParams.from_dict(params)
    return NormalisedEncoder(int(n_genes), p.hidden, p.latent, p.dropout, p.batchnorm, normalise=False)


def embed(encoder: nn.Module, x) -> np.ndarray:
    """``encoder(x)`` in eval mode, chunked, as a float32 numpy array ``(n, latent)``."""
    X = as_float_matrix(x, "x")
    dev = next(encoder.parameters()).device
    encoder.eval()
    with torch.no_grad():
        parts = [encoder(torch.as_tensor(X[s : s + _PREDICT_CHUNK], device=dev)).cpu().numpy()
                 for s in range(0, X.shape[0], _PREDICT_CHUNK)]
    return np.concatenate(parts) if parts else np.zeros((0, int(encoder.latent_dim)), np.float32)


def domain_gap(source_emb, target_emb, seed: int = 0, max_per_domain: int = 2000) -> dict[str, float]:
    """How well two domains can be told apart in an embedding (lower = better aligned).

    Both embeddings are standardised together (pooled mean and SD per dimension), so the
    numbers do not depend on the embedding's scale; at most ``max_per_domain`` rows of each
    domain are used (a seeded subsample).

    Returns:
        ``domain_auroc``: out-of-fold AUROC of a 5-fold stratified logistic-regression domain
        classifier (0.5 = indistinguishable, 1 = separable; the CODE-AE paper's deconfounding
        check); ``coral``: :func:`~drugshift.nn.losses.coral_loss` of the standardised
        embeddings (covariance mismatch); ``mmd``: :func:`~drugshift.nn.losses.gaussian_mmd`
        (median-heuristic bandwidths) on at most 500 rows per domain.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    a = as_float_matrix(source_emb, "source_emb").astype(np.float64)
    b = as_float_matrix(target_emb, "target_emb").astype(np.float64)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embeddings differ in width: {a.shape[1]} and {b.shape[1]}")
    if min(len(a), len(b)) < 5:
        raise ValueError(f"domain_gap needs at least 5 rows per domain, got {len(a)} and {len(b)}")
    rng = np.random.default_rng(seed)
    a = a[np.sort(rng.permutation(len(a))[:max_per_domain])]
    b = b[np.sort(rng.permutation(len(b))[:max_per_domain])]
    z = np.vstack([a, b])
    sd = z.std(0)
    z = (z - z.mean(0)) / np.where(sd > 0, sd, 1.0)
    d = np.r_[np.zeros(len(a)), np.ones(len(b))].astype(int)
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separable domains: lbfgs may warn about convergence
        prob = cross_val_predict(clf, z, d, method="predict_proba",
                                 cv=StratifiedKFold(5, shuffle=True, random_state=seed))[:, 1]
    za, zb = torch.as_tensor(z[d == 0]), torch.as_tensor(z[d == 1])
    return {
        "domain_auroc": float(roc_auc_score(d, prob)),
        "coral": float(coral_loss(za, zb)),
        "mmd": float(gaussian_mmd(za[:500], zb[:500])),
    }


class _Autoencoder(nn.Module):
    """Encoder + decoder (+ VAE log-variance head) trained by :func:`pretrain_encoder`."""

    def __init__(self, n_genes: int, p: BaselineParams, variational: bool):
        super().__init__()
        self.encoder = build_encoder(n_genes, p)
        dec_hidden = p.decoder_hidden if p.decoder_hidden is not None else list(p.hidden)[::-1]
        self.decoder = Decoder(p.latent, dec_hidden, n_genes, p.dropout, p.batchnorm)
        # log σ² from the last hidden layer, beside the mean (the encoder's output layer).
        self.logvar = nn.Linear(p.hidden[-1] if p.hidden else n_genes, p.latent) if variational else None

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder.net[:-1](x)
        return self.encoder.net[-1](h), self.logvar(h)


def _holdout(n: int, frac: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    n_val = min(max(2, int(round(frac * n))), n - 2)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def pretrain_encoder(
    method: str,
    source,
    target,
    params: BaselineParams | Mapping | None = None,
    seed: int = 42,
    device: str | torch.device = "cpu",
    log: logging.Logger | None = None,
    measure_domain_gap: bool = True,
) -> tuple[NormalisedEncoder, dict]:
    """Pretrain a baseline encoder on unlabelled source **and** target expression.

    Args:
        method: one of :data:`PRETRAINED` (see the module docstring for each objective).
        source: ``(n_s, genes)`` unlabelled source expression (cell lines), same gene order as
            ``target``.
        target: ``(n_t, genes)`` unlabelled target expression (patients, PDTC models).
        params: :class:`BaselineParams` or a mapping of its fields.
        seed: seed of the held-out split, the initialisation, the minibatches and the noise;
            the same seed gives bit-identical weights on CPU.
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
        log: logger for progress lines.
        measure_domain_gap: add :func:`domain_gap` of the held-out rows' embeddings to the
            history (a logistic regression; seconds on ~1000 rows per domain).

    Returns:
        ``(encoder, history)``. ``encoder`` (eval mode, on ``device``) maps ``(n, genes)`` float
        tensors to ``(n, latent_dim)`` embeddings (``vae``: the posterior mean). ``history``:
        ``method``, ``seed``, ``n_genes``, ``n_source``, ``n_target``, ``params``, ``phases``
        (name → :meth:`History.to_dict` per training phase: ``pretrain``, or for ``adae``
        ``ae_warmup``, ``discriminator_warmup``, ``adversarial``), ``val_reconstruction`` (MSE of
        the held-out rows of both domains, mean of the two) and ``domain_gap`` (held-out rows).

    Raises:
        ValueError: unknown method, shapes that do not match, non-finite values, or fewer than
            4 rows in a domain.
    """
    if method not in PRETRAINED:
        raise ValueError(f"unknown pretrained baseline {method!r}; expected one of {PRETRAINED}")
    p = params if isinstance(params, BaselineParams) else BaselineParams.from_dict(params)
    log = log or _log
    Xs, Xt = as_float_matrix(source, "source"), as_float_matrix(target, "target")
    if Xs.shape[1] != Xt.shape[1]:
        raise ValueError(f"source has {Xs.shape[1]} genes but target has {Xt.shape[1]}; "
                         "align both to the same gene order first")
    if min(len(Xs), len(Xt)) < 4:
        raise ValueError(f"need at least 4 rows per domain, got {len(Xs)} source and {len(Xt)} target")
    dev = resolve_device(device)
    n_genes = Xs.shape[1]

    seed_everything(seed)
    rng = np.random.default_rng(seed)
    s_tr, s_va = _holdout(len(Xs), p.val_fraction, rng)
    t_tr, t_va = _holdout(len(Xt), p.val_fraction, rng)
    gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator(device=dev).manual_seed(seed + 1)
    S = torch.as_tensor(Xs[s_tr], device=dev)
    T = torch.as_tensor(Xt[t_tr], device=dev)
    S_va = torch.as_tensor(Xs[s_va], device=dev)
    T_va = torch.as_tensor(Xt[t_va], device=dev)
    # A fixed mask for the held-out rows, so that DAE epochs are compared on the same noise.
    S_va_noisy = binomial_mask(S_va, p.noise_p, noise_gen) if method == "dae" else S_va
    T_va_noisy = binomial_mask(T_va, p.noise_p, noise_gen) if method == "dae" else T_va

    torch.manual_seed(seed)
    ae = _Autoencoder(n_genes, p, variational=method == "vae").to(dev)
    opt = torch.optim.AdamW(ae.parameters(), lr=p.lr, weight_decay=p.weight_decay)

    def target_batch(k: int) -> Tensor:
        k = min(k, len(T))
        return T[torch.randperm(len(T), generator=gen)[:k].to(dev)]

    def recon(x_in: Tensor, x_clean: Tensor) -> Tensor:
        return F.mse_loss(ae.decoder(ae.encoder(x_in)), x_clean)

    def ae_loss(xs: Tensor, xt: Tensor) -> tuple[Tensor, dict[str, float]]:
        """The method's objective on one paired minibatch (training mode: noise, sampling)."""
        parts: dict[str, float] = {}
        if method == "vae":
            terms = []
            kls = []
            for x in (xs, xt):
                mu, logvar = ae.posterior(x)
                eps = torch.randn(mu.shape, generator=noise_gen, device=dev, dtype=mu.dtype)
                z = mu + eps * torch.exp(0.5 * logvar)
                terms.append(F.mse_loss(ae.decoder(z), x))
                kls.append((-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean() / n_genes)
            rec, kl = (terms[0] + terms[1]) / 2, (kls[0] + kls[1]) / 2
            parts["kl"] = kl.item()
            loss = rec + p.kl_weight * kl
        elif method == "dae":
            rec = (recon(binomial_mask(xs, p.noise_p, noise_gen), xs)
                   + recon(binomial_mask(xt, p.noise_p, noise_gen), xt)) / 2
            loss = rec
        else:
            zs, zt = ae.encoder(xs), ae.encoder(xt)
            rec = (F.mse_loss(ae.decoder(zs), xs) + F.mse_loss(ae.decoder(zt), xt)) / 2
            loss = rec
            if method == "coral":
                c = coral_loss(zs, zt)
                parts["coral"] = c.item()
                loss = rec + p.coral_weight * c
        parts["reconstruction"] = rec.item()
        return loss, parts

    def val_reconstruction() -> float:
        return 0.5 * (recon(S_va_noisy, S_va).item() + recon(T_va_noisy, T_va).item())

    def validate_ae() -> float:
        """Held-out objective: reconstruction, + the KL (vae) or CORAL (coral) term."""
        v = val_reconstruction()
        if method == "vae":
            kl = 0.0
            for x in (S_va, T_va):
                mu, logvar = ae.posterior(x)
                kl += 0.5 * (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean().item() / n_genes
            v += p.kl_weight * kl
        elif method == "coral":
            v += p.coral_weight * coral_loss(ae.encoder(S_va), ae.encoder(T_va)).item()
        return v

    def step_ae(idx: Tensor) -> dict[str, float]:
        opt.zero_grad(set_to_none=True)
        xs = S[idx]
        loss, parts = ae_loss(xs, target_batch(len(idx)))
        loss.backward()
        opt.step()
        return {"loss": loss.item(), **parts}

    phases: dict[str, History] = {}
    n_s = len(S)
    common = dict(batch_size=p.batch_size, patience=p.patience, generator=gen, log=log, log_every=p.log_every,
                  device=dev)
    if method != "adae":
        phases["pretrain"] = fit(step_ae, validate_ae, [ae], n_train=n_s, epochs=p.epochs, name=f"{method} pretrain",
                                 **common)
    else:
        disc = mlp([p.latent, *p.adv_hidden, 1], p.dropout).to(dev)
        opt_d = torch.optim.AdamW(disc.parameters(), lr=p.lr, weight_decay=p.weight_decay)
        log2 = math.log(2.0)

        def domain_bce(zs: Tensor, zt: Tensor) -> Tensor:
            # 0 = source (cell lines), 1 = target (patients), as in the reference.
            logits = disc(torch.cat([zs, zt])).squeeze(1)
            truth = torch.cat([torch.zeros(len(zs), device=dev), torch.ones(len(zt), device=dev)])
            return F.binary_cross_entropy_with_logits(logits, truth)

        def step_disc(idx: Tensor) -> dict[str, float]:
            with torch.no_grad():
                zs, zt = ae.encoder(S[idx]), ae.encoder(target_batch(len(idx)))
            opt_d.zero_grad(set_to_none=True)
            loss = domain_bce(zs, zt)
            loss.backward()
            opt_d.step()
            return {"loss": loss.item()}

        def validate_disc() -> float:
            return domain_bce(ae.encoder(S_va), ae.encoder(T_va)).item()

        def step_adversarial(idx: Tensor) -> dict[str, float]:
            d_loss = sum(step_disc(idx)["loss"] for _ in range(p.adv_steps)) / p.adv_steps
            xs, xt = S[idx], target_batch(len(idx))
            disc.eval()  # the adversary is fixed (no dropout) while the autoencoder moves
            opt.zero_grad(set_to_none=True)
            zs, zt = ae.encoder(xs), ae.encoder(xt)
            rec = (F.mse_loss(ae.decoder(zs), xs) + F.mse_loss(ae.decoder(zt), xt)) / 2
            adv = domain_bce(zs, zt)
            loss = rec - p.adv_weight * adv
            loss.backward()
            opt.step()
            disc.train()
            return {"loss": loss.item(), "reconstruction": rec.item(), "domain_bce": adv.item(),
                    "discriminator": d_loss}

        def validate_adversarial() -> float:
            # Reconstruction plus how much domain information the current discriminator still
            # finds in held-out embeddings (BCE below chance, log 2); not recon − λ·BCE, which
            # is unbounded below once the discriminator is fooled into confident mistakes.
            return val_reconstruction() + p.adv_weight * max(0.0, log2 - validate_disc())

        phases["ae_warmup"] = fit(step_ae, validate_ae, [ae], n_train=n_s, epochs=p.warmup_epochs,
                                  name="adae AE warm-up", **common)
        phases["discriminator_warmup"] = fit(step_disc, validate_disc, [disc], n_train=n_s, epochs=p.warmup_epochs,
                                             name="adae discriminator warm-up", **common)
        phases["adversarial"] = fit(step_adversarial, validate_adversarial, [ae, disc], n_train=n_s, epochs=p.epochs,
                                    name="adae adversarial", **common)

    ae.eval()
    with torch.no_grad():
        val_rec = val_reconstruction()
    encoder = ae.encoder.eval()
    history = {
        "method": method,
        "seed": int(seed),
        "n_genes": int(n_genes),
        "n_source": int(len(Xs)),
        "n_target": int(len(Xt)),
        "params": p.to_dict(),
        "phases": {k: h.to_dict() for k, h in phases.items()},
        "val_reconstruction": float(val_rec),
    }
    if measure_domain_gap and min(len(s_va), len(t_va)) >= 5:
        history["domain_gap"] = domain_gap(embed(encoder, Xs[s_va]), embed(encoder, Xt[t_va]), seed)
    log.info("%s: held-out reconstruction MSE %.4f%s", method, val_rec,
             f", held-out domain AUROC {history['domain_gap']['domain_auroc']:.3f}" if "domain_gap" in history else "")
    return encoder, history
