"""CODE-AE: context-aware deconfounding autoencoder (He et al., 2022, Nature Machine Intelligence).

Three stages (paper, Fig. 1b and Methods):

1. **Pretraining** on unlabelled expression of both domains, cell lines (source, ``c``) and
   patients / tumour models (target, ``t``): a shared encoder ``Es``, one private encoder per
   domain ``Ec_p``, ``Et_p``, and one decoder ``D`` on ``concat(private, shared)``;
   ``L_base = L_recon + α·L_diff`` with ``L_recon`` the per-domain MSE and ``L_diff`` the soft
   orthogonality of shared and private embeddings; every embedding is L2-normalised per sample.
   Variants (:data:`VARIANTS`) add a domain-alignment term on the embeddings:

   * ``base``: none;
   * ``mmd``: ``β·MMD(z_c, z_t)`` with multi-bandwidth Gaussian kernels on ``z = concat(private, shared)``;
   * ``adv``: WGAN-GP (Procedure 1): ``epochs_warmup`` epochs of ``L_base``, then each step updates a
     critic ``F`` with ``mean F(z_t) − mean F(z_c) + λ_gp·GP`` and every ``n_critic``-th step the
     encoders and decoder with ``L_base − β·mean F(z_t)``;
   * ``dsn_mmd`` / ``dsn_dann``: the domain separation network baselines of the paper (same
     architecture; alignment of the *shared* embedding only, by MMD or by a domain classifier
     behind a gradient-reversal layer).

   Both domains reach every loss term (the reference loader iterated the cell lines only).

2. **Fine-tuning** per drug (:func:`finetune_cv`): any encoder (CODE-AE's ``Es``, a baseline's
   pretrained encoder, or a fresh random one — the ``mlp`` baseline) plus a classifier
   ``(64, 32) → 1`` trained with BCE on labelled cell lines, stratified 5-fold CV, each fold's
   held-out part used for early stopping on AUROC; gradual unfreezing: the head first, then one
   encoder layer at a time from the top, learning rate × ``lr_decay`` at each unfreeze, each
   stage restarting from the best weights so far.

3. **Zero-shot inference** (:func:`predict_proba`) on patients / PDTC models, whose labels are
   never used for training or model selection (they only enter :func:`benchmark_rows`).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drugshift.evaluate import classification_metrics
from drugshift.nn.blocks import Decoder, NormalisedEncoder, Predictor, mlp
from drugshift.nn.losses import gaussian_mmd, gradient_penalty, orthogonality_loss
from drugshift.train import as_float_matrix, fit, History, load_checkpoint, resolve_device, seed_everything

__all__ = [
    "ALIGNMENT",
    "CODEAE_METHODS",
    "UNFREEZE",
    "VARIANTS",
    "CodeAE",
    "CodeAEParams",
    "CodeAEResult",
    "DrugClassifier",
    "FinetuneParams",
    "FoldResult",
    "benchmark_rows",
    "cohort_labels",
    "cross_validate_method",
    "cv_folds",
    "domain_auroc",
    "encoder_spec",
    "load_folds",
    "predict_folds",
    "save_folds",
    "finetune",
    "finetune_cv",
    "known_methods",
    "load_codeae",
    "load_encoder",
    "method_kind",
    "predict_proba",
    "pretrain_method",
    "pretrain_codeae",
    "random_encoder",
    "rank_summary",
    "save_codeae",
    "save_encoder",
]

#: variant → (alignment term, embedding it acts on).
ALIGNMENT = {
    "base": ("none", "concat"),
    "mmd": ("mmd", "concat"),
    "adv": ("wgan", "concat"),
    "dsn_mmd": ("mmd", "shared"),
    "dsn_dann": ("dann", "shared"),
}
VARIANTS = tuple(ALIGNMENT)
UNFREEZE = ("gradual", "all", "head")
_FORMAT = "drugshift-codeae"
_FORMAT_VERSION = 1
_CHUNK = 4096

_log = logging.getLogger(__name__)


def _int_list(name: str, v) -> list[int]:
    v = [v] if isinstance(v, (int, np.integer)) else list(v)
    v = [int(x) for x in v]
    if not v or any(x <= 0 for x in v):
        raise ValueError(f"{name} must hold positive layer sizes, got {v}")
    return v


class _Params:
    """from_dict / to_dict shared by the two parameter classes."""

    @classmethod
    def from_dict(cls, d: Mapping | None):
        d = dict(d or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**d)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class CodeAEParams(_Params):
    """Pretraining hyperparameters (defaults: METHODS.md "CODE-AE model").

    Attributes:
        variant: one of :data:`VARIANTS`.
        encoder_hidden: hidden widths of the shared and private encoders.
        latent: width of each embedding (shared and private).
        decoder_hidden: hidden widths of the decoder (input ``2 × latent``).
        critic_hidden: hidden widths of the critic / domain classifier.
        dropout: dropout after every hidden layer.
        batchnorm: BatchNorm in hidden layers (the paper's ablation "hidden layer normalization").
        normalise: L2-normalise every embedding (the paper's instance normalisation).
        lr: AdamW learning rate (encoders, decoder and critic).
        weight_decay: AdamW weight decay.
        batch_size: samples per domain in a step.
        epochs_warmup: epochs of ``L_base`` before alignment starts (``adv``: Procedure 1 ``nw``;
            other variants add them to ``epochs``).
        epochs: epochs of the variant's full loss (Procedure 1 ``nt``). One epoch = one pass over
            the source (cell-line) training rows, each step paired with a random target batch.
        n_critic: critic steps per encoder step (``adv``).
        gp_weight: λ of the gradient penalty (``adv``).
        diff_weight: α, weight of ``L_diff``.
        align_weight: β, weight of the alignment term (MMD, generator or domain-classifier loss).
        val_fraction: share of each domain held out to report reconstruction error per epoch.
        seed: seed of initialisation, splits and minibatch order.
        log_every: epochs between progress lines.
    """

    variant: str = "adv"
    encoder_hidden: list[int] = field(default_factory=lambda: [512, 256])
    latent: int = 128
    decoder_hidden: list[int] = field(default_factory=lambda: [256, 512])
    critic_hidden: list[int] = field(default_factory=lambda: [64, 32])
    dropout: float = 0.1
    batchnorm: bool = False
    normalise: bool = True
    lr: float = 1e-4
    weight_decay: float = 0.01
    batch_size: int = 64
    epochs_warmup: int = 100
    epochs: int = 400
    n_critic: int = 5
    gp_weight: float = 10.0
    diff_weight: float = 1.0
    align_weight: float = 1.0
    val_fraction: float = 0.1
    seed: int = 42
    log_every: int = 50

    def __post_init__(self) -> None:
        self.encoder_hidden = _int_list("encoder_hidden", self.encoder_hidden)
        self.decoder_hidden = _int_list("decoder_hidden", self.decoder_hidden)
        self.critic_hidden = _int_list("critic_hidden", self.critic_hidden)
        problems = []
        if self.variant not in VARIANTS:
            problems.append(f"variant must be one of {VARIANTS} (got {self.variant!r})")
        if self.latent <= 0:
            problems.append(f"latent must be > 0 (got {self.latent})")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1) (got {self.dropout})")
        if not self.lr > 0 or self.weight_decay < 0:
            problems.append(f"lr must be > 0 and weight_decay >= 0 (got {self.lr}, {self.weight_decay})")
        if self.batch_size < 2:
            problems.append(f"batch_size must be >= 2 (got {self.batch_size})")
        for name in ("epochs_warmup", "epochs", "log_every"):
            if int(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        if self.n_critic < 1:
            problems.append(f"n_critic must be >= 1 (got {self.n_critic})")
        if min(self.gp_weight, self.diff_weight, self.align_weight) < 0:
            problems.append("gp_weight, diff_weight and align_weight must be >= 0")
        if not 0 < self.val_fraction < 0.5:
            problems.append(f"val_fraction must be in (0, 0.5) (got {self.val_fraction})")
        if problems:
            raise ValueError("invalid CODE-AE parameters: " + "; ".join(problems))


@dataclass
class FinetuneParams(_Params):
    """Fine-tuning hyperparameters (paper: classifier (64, 32), BCE, 5-fold stratified CV, early
    stopping on validation AUROC, gradual unfreezing with learning-rate decay).

    Attributes:
        classifier_hidden: hidden widths of the classifier head (one sigmoid output).
        dropout: dropout in the head.
        lr: AdamW learning rate of the first stage.
        weight_decay: AdamW weight decay.
        batch_size: minibatch size.
        epochs: maximum epochs per unfreezing stage.
        patience: epochs without a better validation AUROC before a stage ends.
        n_folds: folds of the stratified cross-validation.
        unfreeze: ``gradual`` (head first, then one encoder layer per stage from the top),
            ``all`` (everything trainable from the start: the no-pretraining ``mlp`` baseline) or
            ``head`` (the encoder stays frozen).
        lr_decay: learning-rate factor at each unfreeze.
        seed: seed of folds, initialisation and minibatch order.
        log_every: epochs between progress lines.
    """

    classifier_hidden: list[int] = field(default_factory=lambda: [64, 32])
    dropout: float = 0.1
    lr: float = 1e-4
    weight_decay: float = 0.01
    batch_size: int = 64
    epochs: int = 100
    patience: int = 10
    n_folds: int = 5
    unfreeze: str = "gradual"
    lr_decay: float = 0.1
    seed: int = 42
    log_every: int = 50

    def __post_init__(self) -> None:
        self.classifier_hidden = _int_list("classifier_hidden", self.classifier_hidden)
        problems = []
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1) (got {self.dropout})")
        if not self.lr > 0 or self.weight_decay < 0:
            problems.append(f"lr must be > 0 and weight_decay >= 0 (got {self.lr}, {self.weight_decay})")
        if self.batch_size < 2:
            problems.append(f"batch_size must be >= 2 (got {self.batch_size})")
        if self.epochs < 0 or self.patience < 0 or self.log_every < 0:
            problems.append("epochs, patience and log_every must be >= 0")
        if self.n_folds < 2:
            problems.append(f"n_folds must be >= 2 (got {self.n_folds})")
        if self.unfreeze not in UNFREEZE:
            problems.append(f"unfreeze must be one of {UNFREEZE} (got {self.unfreeze!r})")
        if not 0 < self.lr_decay <= 1:
            problems.append(f"lr_decay must be in (0, 1] (got {self.lr_decay})")
        if problems:
            raise ValueError("invalid fine-tuning parameters: " + "; ".join(problems))


# --------------------------------------------------------------------------- modules


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class CodeAE(nn.Module):
    """Shared encoder ``Es``, private encoders ``Ec_p`` (source) and ``Et_p`` (target), decoder
    ``D`` on ``concat(private, shared)``, and (``adv``, ``dsn_dann``) a critic ``F`` with one
    linear output.

    Shapes: ``(batch, n_genes)`` in; embeddings ``(batch, latent)``; reconstruction
    ``(batch, n_genes)``.
    """

    def __init__(self, n_genes: int, p: CodeAEParams):
        super().__init__()
        self.n_genes = int(n_genes)
        self.align, self.align_on = ALIGNMENT[p.variant]

        def encoder() -> NormalisedEncoder:
            return NormalisedEncoder(n_genes, p.encoder_hidden, p.latent, p.dropout, p.batchnorm,
                                     normalise=p.normalise)

        self.shared_encoder = encoder()
        self.private_source = encoder()
        self.private_target = encoder()
        self.decoder = Decoder(2 * p.latent, p.decoder_hidden, n_genes, p.dropout, p.batchnorm)
        z_dim = 2 * p.latent if self.align_on == "concat" else p.latent
        self.critic = mlp([z_dim, *p.critic_hidden, 1]) if self.align in ("wgan", "dann") else None

    def autoencoder_parameters(self):
        return itertools.chain(self.shared_encoder.parameters(), self.private_source.parameters(),
                               self.private_target.parameters(), self.decoder.parameters())

    def encode(self, x: Tensor) -> Tensor:
        """``Es(x)``: the shared (deconfounded) embedding, the input of fine-tuning."""
        return self.shared_encoder(x)

    def parts(self, x: Tensor, domain: str) -> tuple[Tensor, Tensor, Tensor]:
        """``(shared, private, reconstruction)`` of samples of ``domain`` (``source``/``target``)."""
        private_encoder = self.private_source if domain == "source" else self.private_target
        s, p = self.shared_encoder(x), private_encoder(x)
        return s, p, self.decoder(torch.cat([p, s], dim=1))

    def aligned(self, s: Tensor, p: Tensor) -> Tensor:
        """The embedding the alignment term compares: ``concat(private, shared)`` or ``shared``."""
        return torch.cat([p, s], dim=1) if self.align_on == "concat" else s


@dataclass(eq=False)
class CodeAEResult:
    """A pretrained CODE-AE: parameters, the modules (eval mode), per-stage histories, the
    held-out rows of each domain, and the device."""

    params: CodeAEParams
    model: CodeAE
    history: dict[str, History] = field(default_factory=dict)
    split: dict[str, np.ndarray] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def encoder(self) -> NormalisedEncoder:
        """The shared encoder ``Es`` (attribute ``latent_dim``), to fine-tune per drug."""
        return self.model.shared_encoder

    def embed(self, X, domain: str | None = None) -> np.ndarray:
        """Shared embeddings ``Es(X)`` (``domain=None``) or ``concat(private, shared)`` of
        ``domain``; ``(n, latent)`` or ``(n, 2·latent)`` float32."""
        X = as_float_matrix(X, "X", self.model.n_genes)
        self.model.eval()
        out = []
        with torch.no_grad():
            for s in range(0, X.shape[0], _CHUNK):
                x = torch.as_tensor(X[s : s + _CHUNK], device=self.device)
                if domain is None:
                    out.append(self.model.encode(x).cpu().numpy())
                else:
                    sh, pr, _ = self.model.parts(x, domain)
                    out.append(torch.cat([pr, sh], 1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.params.latent), np.float32)


def random_encoder(n_genes: int, params: CodeAEParams | Mapping | None = None, seed: int = 42) -> NormalisedEncoder:
    """A freshly initialised encoder of CODE-AE's shared-encoder architecture, without embedding
    normalisation: fine-tuned with ``unfreeze='all'`` it is the paper's ``MLP`` baseline."""
    p = params if isinstance(params, CodeAEParams) else CodeAEParams.from_dict(params)
    torch.manual_seed(seed)
    return NormalisedEncoder(n_genes, p.encoder_hidden, p.latent, p.dropout, p.batchnorm, normalise=False)


# --------------------------------------------------------------------------- helpers


def _holdout(n: int, frac: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(n)
    n_val = min(max(1, int(round(frac * n))), n - 2)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


# --------------------------------------------------------------------------- pretraining


def pretrain_codeae(
    source,
    target,
    params: CodeAEParams | Mapping | None = None,
    log: logging.Logger | None = None,
    device: str | torch.device = "auto",
) -> CodeAEResult:
    """Pretrain CODE-AE (or a DSN baseline) on unlabelled source and target expression.

    Args:
        source: ``(cell_lines, genes)`` expression (float, e.g. per-gene z-scores).
        target: ``(patients, genes)`` expression, same genes in the same order.
        params: :class:`CodeAEParams` or a mapping for it.
        log: logger for progress lines.
        device: ``auto``, ``cpu`` or ``cuda``.

    Each step draws a source minibatch (one epoch = one pass over the source training rows) and
    a target minibatch of the same size (without replacement; all target rows when fewer).
    Training runs for a fixed number of epochs (the paper fixes ``N`` by downstream validation)
    and keeps the last weights; the per-epoch validation value is the held-out reconstruction
    MSE of both domains.

    Returns:
        :class:`CodeAEResult` with modules in eval mode on ``device``.
    """
    p = params if isinstance(params, CodeAEParams) else CodeAEParams.from_dict(params)
    log = log or _log
    dev = resolve_device(device)
    Xc = as_float_matrix(source, "source")
    Xt = as_float_matrix(target, "target", Xc.shape[1])
    if Xc.shape[0] < 10 or Xt.shape[0] < 10:
        raise ValueError(f"pretraining needs at least 10 samples per domain, got {Xc.shape[0]} source and "
                         f"{Xt.shape[0]} target")
    seed_everything(p.seed)
    gen = torch.Generator().manual_seed(p.seed)
    gp_gen = torch.Generator(device=dev).manual_seed(p.seed + 1)
    rng = np.random.default_rng(p.seed)
    c_tr, c_va = _holdout(Xc.shape[0], p.val_fraction, rng)
    t_tr, t_va = _holdout(Xt.shape[0], p.val_fraction, rng)
    model = CodeAE(Xc.shape[1], p).to(dev)
    Xc_t, Xt_t = torch.as_tensor(Xc, device=dev), torch.as_tensor(Xt, device=dev)
    c_tr_t, t_tr_t = torch.as_tensor(c_tr, device=dev), torch.as_tensor(t_tr, device=dev)
    Xc_va, Xt_va = Xc_t[c_va], Xt_t[t_va]
    n_t = len(t_tr)
    t_batch = min(p.batch_size, n_t)
    log.info("CODE-AE (%s): %d source rows (train %d), %d target rows (train %d), %d genes, device %s",
             p.variant, Xc.shape[0], len(c_tr), Xt.shape[0], n_t, Xc.shape[1], dev)

    align, _ = ALIGNMENT[p.variant]
    opt_ae = torch.optim.AdamW(model.autoencoder_parameters(), lr=p.lr, weight_decay=p.weight_decay)
    opt_critic = None
    if align == "wgan":
        opt_critic = torch.optim.AdamW(model.critic.parameters(), lr=p.lr, weight_decay=p.weight_decay)
    elif align == "dann":
        opt_ae.add_param_group({"params": list(model.critic.parameters())})

    def target_batch() -> Tensor:
        return t_tr_t[torch.randperm(n_t, generator=gen)[:t_batch].to(dev)]

    def base_terms(xc: Tensor, xt: Tensor):
        sc, pc, rc = model.parts(xc, "source")
        st, pt, rt = model.parts(xt, "target")
        recon = F.mse_loss(rc, xc) + F.mse_loss(rt, xt)
        diff = orthogonality_loss(sc, pc) + orthogonality_loss(st, pt)
        return recon, diff, model.aligned(sc, pc), model.aligned(st, pt)

    def validate() -> float:
        _, _, rc = model.parts(Xc_va, "source")
        _, _, rt = model.parts(Xt_va, "target")
        return (F.mse_loss(rc, Xc_va) + F.mse_loss(rt, Xt_va)).item()

    def step_base(idx: Tensor, alignment: bool) -> dict[str, float]:
        opt_ae.zero_grad(set_to_none=True)
        recon, diff, zc, zt = base_terms(Xc_t[c_tr_t[idx]], Xt_t[target_batch()])
        loss = recon + p.diff_weight * diff
        out = {"recon": recon.item(), "diff": diff.item()}
        if alignment and align == "mmd":
            mmd = gaussian_mmd(zc, zt)
            loss = loss + p.align_weight * mmd
            out["mmd"] = mmd.item()
        elif alignment and align == "dann":
            z = _GradReverse.apply(torch.cat([zc, zt]))
            dom = torch.cat([torch.ones(len(zc), device=dev), torch.zeros(len(zt), device=dev)])
            dann = F.binary_cross_entropy_with_logits(model.critic(z).squeeze(1), dom)
            loss = loss + p.align_weight * dann
            out["domain_bce"] = dann.item()
        loss.backward()
        opt_ae.step()
        out["loss"] = loss.item()
        return out

    counter = {"step": 0}

    def step_adv(idx: Tensor) -> dict[str, float]:
        xc, xt = Xc_t[c_tr_t[idx]], Xt_t[target_batch()]
        # Critic: F(z_c) high, F(z_t) low, gradient norm 1 on interpolates (embeddings fixed).
        opt_critic.zero_grad(set_to_none=True)
        with torch.no_grad():
            sc, pc, _ = model.parts(xc, "source")
            st, pt, _ = model.parts(xt, "target")
            zc, zt = model.aligned(sc, pc), model.aligned(st, pt)
        gp = gradient_penalty(model.critic, zc, zt, gp_gen)
        critic_loss = model.critic(zt).mean() - model.critic(zc).mean() + p.gp_weight * gp
        critic_loss.backward()
        opt_critic.step()
        out = {"critic": critic_loss.item(), "gp": gp.item()}
        counter["step"] += 1
        if counter["step"] % p.n_critic == 0:
            opt_ae.zero_grad(set_to_none=True)
            recon, diff, _, zt = base_terms(xc, xt)
            gen_loss = -model.critic(zt).mean()
            loss = recon + p.diff_weight * diff + p.align_weight * gen_loss
            loss.backward()
            opt_ae.step()
            out.update(recon=recon.item(), diff=diff.item(), gen=gen_loss.item())
        out["loss"] = critic_loss.item()
        return out

    history: dict[str, History] = {}
    modules = [model]
    common = dict(modules=modules, n_train=len(c_tr), batch_size=p.batch_size, patience=None, generator=gen,
                  log=log, log_every=p.log_every, device=dev, restore_best=False)
    if align == "wgan":
        history["warmup"] = fit(lambda idx: step_base(idx, False), validate, epochs=p.epochs_warmup,
                                name="CODE-AE warm-up", **common)
        history["adversarial"] = fit(step_adv, validate, epochs=p.epochs, name="CODE-AE adversarial", **common)
    else:
        if p.epochs_warmup:
            history["warmup"] = fit(lambda idx: step_base(idx, False), validate, epochs=p.epochs_warmup,
                                    name=f"CODE-AE {p.variant} warm-up", **common)
        history["train"] = fit(lambda idx: step_base(idx, True), validate, epochs=p.epochs,
                               name=f"CODE-AE {p.variant}", **common)
    model.eval()
    return CodeAEResult(params=p, model=model, history=history,
                        split={"source_val": c_va, "target_val": t_va}, device=dev)


def save_codeae(result: CodeAEResult, path: str | Path) -> Path:
    """Write a pretrained model (state dict on CPU, parameters, ``n_genes``, histories, split)
    to one ``torch.save`` file readable with ``weights_only=True``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({
        "format": _FORMAT,
        "version": _FORMAT_VERSION,
        "params": result.params.to_dict(),
        "n_genes": int(result.model.n_genes),
        "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        "history": {k: h.to_dict() for k, h in result.history.items()},
        "split": {k: np.asarray(v).tolist() for k, v in result.split.items()},
    }, path)
    return path


def load_codeae(path: str | Path, device: str | torch.device = "cpu") -> CodeAEResult:
    """Read a model written by :func:`save_codeae` onto ``device`` (eval mode)."""
    dev = resolve_device(device)
    payload = load_checkpoint(path, _FORMAT, _FORMAT_VERSION, "CODE-AE", dev)
    p = CodeAEParams.from_dict(payload["params"])
    model = CodeAE(int(payload["n_genes"]), p)
    model.load_state_dict(payload["state_dict"])
    model.to(dev).eval()
    return CodeAEResult(params=p, model=model,
                        history={k: History.from_dict(h) for k, h in payload.get("history", {}).items()},
                        split={k: np.asarray(v, dtype=np.int64) for k, v in payload.get("split", {}).items()},
                        device=dev)


def domain_auroc(source, target, seed: int = 42, n_folds: int = 5, n_trees: int = 200) -> float:
    """How well a domain classifier tells source from target rows: cross-validated AUROC of a
    random forest (sklearn, ``n_trees`` trees, stratified ``n_folds``-fold, out-of-fold scores).

    0.5 means the domains are indistinguishable in this representation (deconfounded), 1.0
    that they are perfectly separable. A forest, not a linear model, because after per-domain
    standardisation the domains differ in the shape of their distributions (tumour-type and sex
    sub-populations), not in their means. Used to compare model inputs with embeddings.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    X = np.vstack([np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)])
    y = np.r_[np.ones(len(source)), np.zeros(len(target))]
    clf = RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=3, random_state=seed, n_jobs=1)
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    score = cross_val_predict(clf, X, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, score))


# --------------------------------------------------------------------------- fine-tuning


class DrugClassifier(nn.Module):
    """``sigmoid(head(encoder(x)))``: a (pretrained) encoder with a classifier head whose single
    output is the logit of sensitivity (1 = sensitive). ``forward`` returns logits ``(batch,)``."""

    def __init__(self, encoder: nn.Module, hidden: Sequence[int], dropout: float = 0.1):
        super().__init__()
        latent = getattr(encoder, "latent_dim", None)
        if latent is None:
            raise ValueError("the encoder needs a 'latent_dim' attribute (its embedding width)")
        self.encoder = encoder
        self.head = Predictor(int(latent), hidden, 1, dropout, batchnorm=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x)).squeeze(1)


def cv_folds(y, n_folds: int = 5, seed: int = 42) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified ``n_folds``-fold split (sklearn ``StratifiedKFold``, shuffled with ``seed``):
    ``[(train_idx, val_idx), …]``. Every method of a benchmark uses the same folds."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y).ravel()
    counts = np.bincount(y.astype(int), minlength=2)
    if counts.min() < n_folds:
        raise ValueError(f"need at least {n_folds} cell lines of each class for {n_folds}-fold CV; "
                         f"got {counts[0]} resistant and {counts[1]} sensitive")
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(np.sort(tr), np.sort(va)) for tr, va in skf.split(np.zeros(len(y)), y)]


def _auroc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if np.unique(y).size == 2 else math.nan


def _linear_layers(encoder: nn.Module) -> list[nn.Module]:
    return [m for m in encoder.modules() if isinstance(m, nn.Linear)]


def finetune(
    encoder: nn.Module,
    X_train,
    y_train,
    X_val,
    y_val,
    params: FinetuneParams | Mapping | None = None,
    log: logging.Logger | None = None,
    device: str | torch.device = "auto",
    name: str = "fine-tune",
) -> tuple[DrugClassifier, dict]:
    """Fine-tune a copy of ``encoder`` with a new classifier head on one training / validation split.

    BCE on ``(X_train, y_train)``; validation AUROC on ``(X_val, y_val)`` selects the weights.
    Stages (``unfreeze='gradual'``): 0 trains the head with the encoder frozen; stage ``i``
    also unfreezes the top ``i`` linear layers of the encoder, with learning rate
    ``lr × lr_decay^i``. Each stage runs :func:`drugshift.train.fit` with early stopping
    (``patience``) from the best weights so far; a stage that does not beat the best AUROC is
    rolled back. ``unfreeze='all'`` is a single stage with everything trainable, ``'head'`` a
    single stage with the encoder frozen.

    Returns:
        ``(model, info)``: the fine-tuned :class:`DrugClassifier` (eval mode) and ``info`` with
        ``val_auroc`` (best), ``stages`` (per stage: lr, epochs_run, best_epoch, best AUROC) and
        ``history`` (per stage :class:`History` dicts).
    """
    p = params if isinstance(params, FinetuneParams) else FinetuneParams.from_dict(params)
    log = log or _log
    dev = resolve_device(device)
    Xtr = torch.as_tensor(as_float_matrix(X_train, "X_train"), device=dev)
    Xva = torch.as_tensor(as_float_matrix(X_val, "X_val", Xtr.shape[1]), device=dev)
    ytr_np, yva_np = np.asarray(y_train).ravel().astype(np.float32), np.asarray(y_val).ravel().astype(int)
    ytr = torch.as_tensor(ytr_np, device=dev)
    gen = torch.Generator().manual_seed(p.seed)
    torch.manual_seed(p.seed)
    model = DrugClassifier(copy.deepcopy(encoder), p.classifier_hidden, p.dropout).to(dev)
    layers = _linear_layers(model.encoder)
    if p.unfreeze == "gradual":
        schedule = list(range(len(layers) + 1))
    elif p.unfreeze == "all":
        schedule = [len(layers)]
    else:
        schedule = [0]

    def step(idx: Tensor, opt: torch.optim.Optimizer) -> dict[str, float]:
        opt.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy_with_logits(model(Xtr[idx]), ytr[idx])
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    def validate() -> float:
        auc = _auroc(yva_np, model(Xva).cpu().numpy())
        return -auc if math.isfinite(auc) else math.nan

    best_val, best_state = math.nan, None
    stages, histories = [], []
    for i, n_open in enumerate(schedule):
        for prm in model.encoder.parameters():
            prm.requires_grad_(False)
        for layer in layers[len(layers) - n_open:] if n_open else []:
            for prm in layer.parameters():
                prm.requires_grad_(True)
        trainable = [prm for prm in model.parameters() if prm.requires_grad]
        lr = p.lr * p.lr_decay ** i
        opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=p.weight_decay)
        hist = fit(lambda idx, opt=opt: step(idx, opt), validate, [model], n_train=len(ytr_np), epochs=p.epochs,
                   batch_size=p.batch_size, patience=p.patience, generator=gen, log=log,
                   name=f"{name} stage {i} ({n_open}/{len(layers)} encoder layers)", log_every=p.log_every, device=dev)
        improved = math.isfinite(hist.best_val) and not (hist.best_val >= best_val)
        if improved or best_state is None:
            best_val = hist.best_val if math.isfinite(hist.best_val) else best_val
            best_state = copy.deepcopy(model.state_dict())
        else:
            model.load_state_dict(best_state)
        stages.append({"lr": lr, "open_layers": n_open, "epochs_run": hist.epochs_run,
                       "best_epoch": hist.best_epoch, "best_auroc": -hist.best_val, "kept": bool(improved)})
        histories.append(hist.to_dict())
    for prm in model.parameters():
        prm.requires_grad_(True)
    model.eval()
    return model, {"val_auroc": -best_val, "stages": stages, "history": histories}


def predict_proba(model: nn.Module, X, device: str | torch.device | None = None) -> np.ndarray:
    """Zero-shot inference: ``sigmoid(model(X))``, the probability that each sample is sensitive
    (``(n,)`` float64). ``model`` is a fine-tuned :class:`DrugClassifier`."""
    X = as_float_matrix(X, "X")
    params = list(model.parameters())
    dev = params[0].device if params else torch.device(device or "cpu")
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, X.shape[0], _CHUNK):
            out.append(torch.sigmoid(model(torch.as_tensor(X[s : s + _CHUNK], device=dev))).cpu().numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


@dataclass(eq=False)
class FoldResult:
    """One cross-validation fold: the model, its held-out cell-line metrics, and its zero-shot
    predictions per target set."""

    fold: int
    model: nn.Module
    val_metrics: dict
    info: dict
    predictions: dict[str, np.ndarray] = field(default_factory=dict)


def finetune_cv(
    encoder: nn.Module | Callable[[], nn.Module],
    X,
    y,
    params: FinetuneParams | Mapping | None = None,
    targets: Mapping[str, object] | None = None,
    log: logging.Logger | None = None,
    device: str | torch.device = "auto",
    name: str = "fine-tune",
) -> list[FoldResult]:
    """Per-drug fine-tuning with stratified ``n_folds``-fold CV on labelled cell lines.

    Each fold trains :func:`finetune` on the other folds and stops early on its own held-out
    fold; the held-out fold's metrics (:func:`~drugshift.evaluate.classification_metrics`) are
    the cell-line CV estimate. Every fold model then predicts each target set zero-shot
    (``targets``: name → ``(n, genes)``; their labels are not an argument, so they cannot
    influence training or model selection).

    Args:
        encoder: the encoder to fine-tune (copied per fold) or a zero-argument factory
            returning a fresh one (e.g. a new random encoder per fold).
        X: ``(cell_lines, genes)`` expression; ``y``: ``(cell_lines,)`` 0/1 labels (1 = sensitive).

    Returns:
        One :class:`FoldResult` per fold.
    """
    p = params if isinstance(params, FinetuneParams) else FinetuneParams.from_dict(params)
    log = log or _log
    X = as_float_matrix(X, "X")
    y = np.asarray(y).ravel()
    if y.size != X.shape[0] or not np.isin(y, [0, 1]).all():
        raise ValueError(f"y must hold one 0/1 label per row of X ({X.shape[0]}), got {y.size} values "
                         f"{np.unique(y)[:5].tolist()}")
    y = y.astype(int)
    targets = {k: as_float_matrix(v, f"target {k!r}", X.shape[1]) for k, v in (targets or {}).items()}
    results = []
    for k, (tr, va) in enumerate(cv_folds(y, p.n_folds, p.seed)):
        enc = encoder() if callable(encoder) and not isinstance(encoder, nn.Module) else encoder
        fold_p = dataclasses.replace(p, seed=p.seed + k)
        model, info = finetune(enc, X[tr], y[tr], X[va], y[va], fold_p, log, device, f"{name} fold {k}")
        val = classification_metrics(y[va], predict_proba(model, X[va]))
        log.info("[%s] fold %d: held-out cell-line AUROC %.3f (%d lines)", name, k, val["auroc"], len(va))
        preds = {t: predict_proba(model, Xt) for t, Xt in targets.items()}
        results.append(FoldResult(fold=k, model=model, val_metrics=val, info=info, predictions=preds))
    return results


# --------------------------------------------------------------------------- benchmark tables


def benchmark_rows(method: str, cohort: str, drug: str, y_true, fold_predictions: Sequence) -> list[dict]:
    """Benchmark rows (``method, cohort, drug, fold, AUROC, AUPRC``) of one method on one labelled
    cohort: one row per fold's prediction vector, AUROC/AUPRC from
    :func:`~drugshift.evaluate.classification_metrics` (AUPRC = average precision)."""
    y = np.asarray(y_true).ravel().astype(int)
    rows = []
    for k, prob in enumerate(fold_predictions):
        m = classification_metrics(y, np.clip(np.asarray(prob, dtype=float), 0.0, 1.0))
        rows.append({"method": method, "cohort": cohort, "drug": drug, "fold": k, "AUROC": m["auroc"],
                     "AUPRC": m["ap"], "n": m["n"], "n_sensitive": m["n_sensitive"]})
    return rows


def rank_summary(benchmark: pd.DataFrame, common_drugs: bool = False) -> pd.DataFrame:
    """The paper's Table 1 from a benchmark table: per (cohort, method) the mean and standard
    deviation over drugs of the fold-averaged AUROC and AUPRC, and the mean rank of the method
    among all methods per drug (1 = best; ties share the average rank).

    Args:
        benchmark: rows ``method, cohort, drug, fold, AUROC, AUPRC``.
        common_drugs: keep, per cohort, only the drugs every method of that cohort has results
            for, so that the means of a partial benchmark (a run still going, or stopped) compare
            methods on the same drugs.

    Returns columns ``cohort, method, n_drugs, AUROC_mean, AUROC_sd, AUROC_rank, AUPRC_mean,
    AUPRC_sd, AUPRC_rank``, sorted by cohort and AUROC rank.
    """
    per_drug = benchmark.groupby(["cohort", "drug", "method"], as_index=False)[["AUROC", "AUPRC"]].mean()
    if common_drugs:
        n_methods = per_drug.groupby("cohort")["method"].transform("nunique")
        n_here = per_drug.groupby(["cohort", "drug"])["method"].transform("nunique")
        per_drug = per_drug[n_here == n_methods]
    for metric in ("AUROC", "AUPRC"):
        per_drug[f"{metric}_rank"] = per_drug.groupby(["cohort", "drug"])[metric].rank(ascending=False)
    out = per_drug.groupby(["cohort", "method"]).agg(
        n_drugs=("drug", "nunique"), AUROC_mean=("AUROC", "mean"), AUROC_sd=("AUROC", "std"),
        AUROC_rank=("AUROC_rank", "mean"), AUPRC_mean=("AUPRC", "mean"), AUPRC_sd=("AUPRC", "std"),
        AUPRC_rank=("AUPRC_rank", "mean")).reset_index()
    return out.sort_values(["cohort", "AUROC_rank", "method"]).reset_index(drop=True)


# --------------------------------------------------------------------------- methods of the benchmark

#: CODE-AE variants and the DSN baselines, by benchmark method name.
CODEAE_METHODS = {"codeae_base": "base", "codeae_mmd": "mmd", "codeae_adv": "adv",
                  "dsn_mmd": "dsn_mmd", "dsn_dann": "dsn_dann"}


def method_kind(method: str) -> str:
    """``codeae`` (CODE-AE variant or DSN), ``pretrained`` (a baseline encoder of
    :mod:`drugshift.models.baselines`), ``mlp`` (no pretraining) or ``shallow`` (Elastic Net,
    Random Forest)."""
    if method in CODEAE_METHODS:
        return "codeae"
    if method == "mlp":
        return "mlp"
    from drugshift.models import baselines

    if method in baselines.PRETRAINED:
        return "pretrained"
    if method in baselines.SHALLOW:
        return "shallow"
    known = [*CODEAE_METHODS, "mlp", *baselines.PRETRAINED, *baselines.SHALLOW]
    raise ValueError(f"unknown benchmark method {method!r}; known: {', '.join(known)}")


def known_methods() -> list[str]:
    """Every benchmark method name this installation can run."""
    names = [*CODEAE_METHODS, "mlp"]
    try:
        from drugshift.models import baselines
    except ImportError:
        return names
    return names + [*getattr(baselines, "PRETRAINED", ()), *getattr(baselines, "SHALLOW", ())]


def pretrain_method(
    method: str,
    source,
    target,
    codeae_params: Mapping | None = None,
    baseline_params: Mapping | None = None,
    seed: int = 42,
    log: logging.Logger | None = None,
    device: str | torch.device = "auto",
):
    """Pretrain the encoder of one benchmark method on the same unlabelled data.

    Returns ``(encoder_or_result, history)``: a :class:`CodeAEResult` for CODE-AE/DSN methods
    (its ``encoder`` is ``Es``), the baseline's encoder for the pretrained baselines. Only
    methods of kind ``codeae`` and ``pretrained`` have a pretraining stage.
    """
    kind = method_kind(method)
    if kind == "codeae":
        params = {**dict(codeae_params or {}), "variant": CODEAE_METHODS[method], "seed": seed}
        result = pretrain_codeae(source, target, params, log, device)
        return result, {k: h.to_dict() for k, h in result.history.items()}
    if kind == "pretrained":
        from drugshift.models import baselines

        bp = baselines.BaselineParams.from_dict(dict(baseline_params or {})) \
            if hasattr(baselines.BaselineParams, "from_dict") else baselines.BaselineParams(**dict(baseline_params or {}))
        src = torch.as_tensor(as_float_matrix(source, "source"))
        tgt = torch.as_tensor(as_float_matrix(target, "target"))
        return baselines.pretrain_encoder(method, src, tgt, bp, seed, device, log=log)
    raise ValueError(f"method {method!r} ({kind}) has no pretraining stage")


def cross_validate_method(
    method: str,
    X,
    y,
    encoder: nn.Module | None = None,
    finetune_params: FinetuneParams | Mapping | None = None,
    codeae_params: Mapping | None = None,
    targets: Mapping[str, object] | None = None,
    log: logging.Logger | None = None,
    device: str | torch.device = "auto",
    name: str | None = None,
) -> list[FoldResult]:
    """Cross-validate one benchmark method on one drug's labelled cell lines, with the folds of
    :func:`cv_folds` shared by all methods, and predict every target set with each fold model.

    * ``codeae``/``pretrained``: :func:`finetune_cv` of ``encoder`` (required);
    * ``mlp``: :func:`finetune_cv` of a fresh :func:`random_encoder` per fold, all layers trained
      from the start (``unfreeze='all'``), same epochs, early stopping and head;
    * ``shallow``: ``baselines.fit_shallow`` on each fold's training part.
    """
    p = finetune_params if isinstance(finetune_params, FinetuneParams) else FinetuneParams.from_dict(finetune_params)
    kind = method_kind(method)
    name = name or method
    log = log or _log
    X = as_float_matrix(X, "X")
    if kind in ("codeae", "pretrained"):
        if encoder is None:
            raise ValueError(f"method {method!r} needs its pretrained encoder")
        return finetune_cv(encoder, X, y, p, targets, log, device, name)
    if kind == "mlp":
        counter = iter(range(10**6))
        cp = CodeAEParams.from_dict({k: v for k, v in dict(codeae_params or {}).items()
                                     if k in {f.name for f in dataclasses.fields(CodeAEParams)}})
        return finetune_cv(lambda: random_encoder(X.shape[1], cp, p.seed + next(counter)), X, y,
                           dataclasses.replace(p, unfreeze="all"), targets, log, device, name)
    from drugshift.models import baselines

    y = np.asarray(y).ravel().astype(int)
    targets = {k: as_float_matrix(v, f"target {k!r}", X.shape[1]) for k, v in (targets or {}).items()}
    results = []
    for k, (tr, va) in enumerate(cv_folds(y, p.n_folds, p.seed)):
        est = baselines.fit_shallow(method, X[tr], y[tr], p.seed + k)
        val = classification_metrics(y[va], est.predict_proba(X[va])[:, 1])
        log.info("[%s] fold %d: held-out cell-line AUROC %.3f (%d lines)", name, k, val["auroc"], len(va))
        preds = {t: est.predict_proba(Xt)[:, 1].astype(np.float64) for t, Xt in targets.items()}
        results.append(FoldResult(fold=k, model=est, val_metrics=val, info={}, predictions=preds))
    return results


# --------------------------------------------------------------------------- persistence of fold models

_FOLDS_FORMAT = "drugshift-codeae-folds"


def encoder_spec(encoder: nn.Module) -> dict:
    """Constructor arguments of a :class:`NormalisedEncoder` read from its layers, so that a
    fine-tuned copy can be rebuilt whichever method pretrained it."""
    if not isinstance(encoder, NormalisedEncoder):
        raise TypeError(f"expected a NormalisedEncoder, got {type(encoder).__name__}")
    linears = _linear_layers(encoder)
    drop = [m.p for m in encoder.modules() if isinstance(m, nn.Dropout)]
    return {"n_in": linears[0].in_features, "hidden": [m.out_features for m in linears[:-1]],
            "bottleneck": linears[-1].out_features, "dropout": float(drop[0]) if drop else 0.0,
            "batchnorm": any(isinstance(m, nn.BatchNorm1d) for m in encoder.modules()),
            "normalise": bool(encoder.normalise)}


def save_folds(folds: Sequence[FoldResult], path: str | Path, method: str, params: FinetuneParams | Mapping) -> Path:
    """Write the fold models of one (method, drug) to one file: fine-tuned networks as state
    dicts with their architecture, shallow models (sklearn) pickled."""
    p = params if isinstance(params, FinetuneParams) else FinetuneParams.from_dict(params)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    models = [f.model for f in folds]
    if all(isinstance(m, DrugClassifier) for m in models):
        payload = {"format": _FOLDS_FORMAT, "method": method, "kind": "network",
                   "encoder": encoder_spec(models[0].encoder),
                   "head": {"hidden": p.classifier_hidden, "dropout": p.dropout},
                   "folds": [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in models]}
    else:
        payload = {"format": _FOLDS_FORMAT, "method": method, "kind": "sklearn", "folds": models}
    torch.save(payload, path)
    return path


def load_folds(path: str | Path, device: str | torch.device = "cpu") -> tuple[str, list]:
    """Read :func:`save_folds` output: ``(method, [fold model, …])``; networks in eval mode."""
    path = Path(path)
    dev = resolve_device(device)
    try:
        payload = torch.load(path, map_location=dev, weights_only=False)  # sklearn models are pickled
    except Exception as e:
        raise ValueError(f"{path}: not a readable fold-model file ({e})") from e
    if not isinstance(payload, dict) or payload.get("format") != _FOLDS_FORMAT:
        raise ValueError(f"{path}: not a drugshift CODE-AE fold-model file")
    if payload["kind"] == "sklearn":
        return payload["method"], list(payload["folds"])
    spec, head = payload["encoder"], payload["head"]
    models = []
    for sd in payload["folds"]:
        enc = NormalisedEncoder(**spec)
        model = DrugClassifier(enc, head["hidden"], head["dropout"])
        model.load_state_dict(sd)
        models.append(model.to(dev).eval())
    return payload["method"], models


def predict_folds(models: Sequence, X) -> np.ndarray:
    """``(n_folds, n)`` probabilities of sensitivity, one row per fold model (network or sklearn)."""
    X = as_float_matrix(X, "X")
    rows = []
    for m in models:
        if isinstance(m, nn.Module):
            rows.append(predict_proba(m, X))
        else:
            rows.append(np.asarray(m.predict_proba(X)[:, 1], dtype=np.float64))
    return np.vstack(rows)


# --------------------------------------------------------------------------- patient labels (evaluation only)


def cohort_labels(cohort: str, table: pd.DataFrame, drug: str, samples: Sequence[str],
                  name_map: Mapping[str, str] | None = None) -> pd.Series:
    """Ground-truth labels of one drug in one cohort, for scoring zero-shot predictions only.

    Args:
        cohort: ``tcga`` (``table`` = tidy clinical table: ``patient``, ``drug`` lower-case,
            ``label`` RECIST 1/0/NaN) or ``pdtc`` (tidy response table: ``model``, ``drug``,
            ``label``).
        drug: the GDSC drug name; ``name_map`` maps it to the cohort's name (default: the GDSC
            name lower-cased for TCGA, unchanged for PDTC).
        samples: the cohort's expression sample ids (TCGA: ``TCGA-XX-XXXX-01`` sample barcodes,
            matched to patients by their first 12 characters).

    Returns:
        int Series sample → label (1 = responder / sensitive), only samples with a label; a
        patient with several records of the drug counts as a responder if any record responded.
    """
    name = (name_map or {}).get(drug)
    samples = pd.Index(samples)
    if cohort == "tcga":
        name = (name or drug).lower()
        rows = table[(table["drug"] == name) & table["label"].notna()]
        per_patient = rows.groupby("patient")["label"].max()
        key = samples.str.slice(0, 12)
        lab = pd.Series(key.map(per_patient), index=samples)
    elif cohort == "pdtc":
        name = name or drug
        rows = table[(table["drug"] == name) & table["label"].notna()]
        lab = pd.Series(samples.map(rows.drop_duplicates("model").set_index("model")["label"]), index=samples)
    else:
        raise ValueError(f"unknown cohort {cohort!r}; expected tcga or pdtc")
    return lab.dropna().astype(int).rename("label")


_ENCODER_FORMAT = "drugshift-encoder"


def save_encoder(trained, path: str | Path) -> nn.Module:
    """Save what :func:`pretrain_method` returned (a :class:`CodeAEResult`: the whole CODE-AE;
    a baseline's :class:`NormalisedEncoder`: its architecture and weights) and return the
    encoder to fine-tune."""
    if isinstance(trained, CodeAEResult):
        save_codeae(trained, path)
        return trained.encoder
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": _ENCODER_FORMAT, "spec": encoder_spec(trained),
                "state_dict": {k: v.detach().cpu() for k, v in trained.state_dict().items()}}, path)
    return trained


def load_encoder(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The encoder saved by :func:`save_encoder` (CODE-AE: its shared encoder ``Es``), eval mode."""
    path = Path(path)
    dev = resolve_device(device)
    payload = torch.load(path, map_location=dev, weights_only=True)
    fmt = payload.get("format") if isinstance(payload, dict) else None
    if fmt == _FORMAT:
        return load_codeae(path, dev).encoder
    if fmt != _ENCODER_FORMAT:
        raise ValueError(f"{path}: not a drugshift encoder file (format {fmt!r})")
    enc = NormalisedEncoder(**payload["spec"])
    enc.load_state_dict(payload["state_dict"])
    return enc.to(dev).eval()
