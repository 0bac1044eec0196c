"""How CODE-AE's networks are trained: the pretraining plan and per-drug fine-tuning.

* :class:`PretrainingPlan` (paper, Methods and Procedure 1): unlabelled expression of both
  domains, ``L_base = L_recon + α·L_diff`` plus the variant's alignment term. Each step draws a
  source minibatch (one epoch = one pass over the source training rows) and a target minibatch
  of the same size, so both domains reach every loss term (the reference loader iterated the
  cell lines only). Fixed length (the paper fixes the epochs by downstream validation); the
  last weights are kept.
* :class:`FinetunePlan`: an encoder plus a classifier head, BCE on labelled cell lines, early
  stopping on validation AUROC, gradual unfreezing. Every method of a benchmark gets the same
  budget, ``FinetuneParams.max_epochs``, shared equally among its unfreezing stages.
* :func:`finetune_cv`: stratified k-fold cross-validation of :class:`FinetunePlan`.

Each step is a method returning detached tensors, so :func:`drugshift.train.fit` reads logged
values back once per epoch. On CUDA no step waits for the GPU: the target minibatch is drawn by
the CPU order generator (the same rows on every device) and its indices are copied without
waiting (``non_blocking``; a no-op on CPU). Validation reads one value per epoch (fine-tuning:
the validation logits, for the AUROC). ``precision`` (``fp32``, ``bf16``, ``fp16``) is the
arithmetic of the training steps on CUDA (:class:`~drugshift.train.MixedPrecision`); fp32
elsewhere.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from drugshift.evaluate import classification_metrics
from drugshift.models.codeae.module import CodeAEModule, DrugClassifier, linear_layers
from drugshift.nn.inference import apply_in_chunks
from drugshift.params import ALIGNMENT, CodeAEParams, FinetuneParams
from drugshift.resume import Checkpoints
from drugshift.splits import cv_folds, holdout
from drugshift.train import History, MixedPrecision, adamw, as_float_matrix, fit, resolve_device, seed_everything

__all__ = ["FinetunePlan", "FoldResult", "PretrainingPlan", "auroc_by_pairs", "finetune", "finetune_cv", "predict_proba"]

_log = logging.getLogger(__name__)


class PretrainingPlan:
    """Pretrain a :class:`CodeAEModule` (a CODE-AE variant or a DSN baseline).

    Args:
        source: ``(cell_lines, genes)`` expression (float, e.g. per-gene z-scores).
        target: ``(patients, genes)`` expression, same genes in the same order.
        params: the variant and its hyperparameters.
        device: ``auto``, ``cpu`` or ``cuda``.
        log: logger for progress lines.
        checkpoints: the job's :class:`~drugshift.resume.Checkpoints` (resume after a kill).
        precision: ``fp32``, ``bf16`` or ``fp16`` (CUDA only; see the module docstring).

    After :meth:`run`, ``module`` (eval mode) holds the last weights and ``split`` the held-out
    rows of each domain (``source_val``, ``target_val``).
    """

    def __init__(self, source, target, params: CodeAEParams, device: str | torch.device = "auto",
                 log: logging.Logger | None = None, checkpoints: Checkpoints | None = None,
                 precision: str = "fp32"):
        p = self.params = params
        self.checkpoints = checkpoints
        self.log = log or _log
        self.device = dev = resolve_device(device)
        self.amp = MixedPrecision(precision, dev)
        Xc = as_float_matrix(source, "source")
        Xt = as_float_matrix(target, "target", Xc.shape[1])
        if Xc.shape[0] < 10 or Xt.shape[0] < 10:
            raise ValueError(f"pretraining needs at least 10 samples per domain, got {Xc.shape[0]} source and "
                             f"{Xt.shape[0]} target")
        # The order of these draws fixes the run: keep it when editing.
        seed_everything(p.seed)
        self.generator = torch.Generator().manual_seed(p.seed)
        self.gp_generator = torch.Generator(device=dev).manual_seed(p.seed + 1)
        rng = np.random.default_rng(p.seed)
        c_tr, c_va = holdout(Xc.shape[0], p.val_fraction, rng)
        t_tr, t_va = holdout(Xt.shape[0], p.val_fraction, rng)
        self.split = {"source_val": c_va, "target_val": t_va}
        self.module = CodeAEModule(Xc.shape[1], p).to(dev)
        self.Xc, self.Xt = torch.as_tensor(Xc, device=dev), torch.as_tensor(Xt, device=dev)
        self.c_train = torch.as_tensor(c_tr, device=dev)
        self.t_train = torch.as_tensor(t_tr, device=dev)
        self.Xc_val, self.Xt_val = self.Xc[c_va], self.Xt[t_va]
        self.t_batch = min(p.batch_size, len(t_tr))
        self.align = ALIGNMENT[p.variant][0]
        self.opt_ae = adamw(self.module.autoencoder_parameters(), p.lr, p.weight_decay)
        self.opt_critic = None
        if self.align == "wgan":
            self.opt_critic = adamw(self.module.critic.parameters(), p.lr, p.weight_decay)
        elif self.align == "dann":
            self.opt_ae.add_param_group({"params": list(self.module.critic.parameters())})
        self.critic_steps = 0
        if checkpoints is not None:
            checkpoints.track(order=self.generator, gradient_penalty=self.gp_generator, plan=self)
            if self.amp.scaler is not None:
                checkpoints.track(loss_scale=self.amp)
        self.log.info("CODE-AE (%s): %d source rows (train %d), %d target rows (train %d), %d genes, device %s",
                      p.variant, Xc.shape[0], len(c_tr), Xt.shape[0], len(t_tr), Xc.shape[1], dev)

    def state_dict(self) -> dict:
        """The plan's own training state (for checkpoints): the critic-step counter."""
        return {"critic_steps": self.critic_steps}

    def load_state_dict(self, state: dict) -> None:
        self.critic_steps = int(state["critic_steps"])

    def batches(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        """The source rows ``idx`` of the training split and a random target minibatch of the
        same size (without replacement; every target training row when there are fewer)."""
        pick = torch.randperm(len(self.t_train), generator=self.generator)[: self.t_batch]
        pick = pick.to(self.device, non_blocking=True)
        return self.Xc[self.c_train[idx]], self.Xt[self.t_train[pick]]

    def base_step(self, idx: Tensor) -> dict[str, Tensor]:
        """One update of ``L_base`` (warm-up)."""
        return self._autoencoder_step(idx, alignment=False)

    def aligned_step(self, idx: Tensor) -> dict[str, Tensor]:
        """One update of ``L_base`` plus the MMD or domain-classifier term (``mmd``, ``dsn_*``)."""
        return self._autoencoder_step(idx, alignment=True)

    def _autoencoder_step(self, idx: Tensor, alignment: bool) -> dict[str, Tensor]:
        p, m = self.params, self.module
        self.opt_ae.zero_grad(set_to_none=True)
        recon, diff, zc, zt = m.base_terms(*self.batches(idx))
        loss = recon + p.diff_weight * diff
        out = {"recon": recon.detach(), "diff": diff.detach()}
        if alignment and self.align == "mmd":
            mmd = m.mmd(zc, zt)
            loss = loss + p.align_weight * mmd
            out["mmd"] = mmd.detach()
        elif alignment and self.align == "dann":
            dann = m.dann_loss(zc, zt)
            loss = loss + p.align_weight * dann
            out["domain_bce"] = dann.detach()
        self.amp.backward(loss)
        self.amp.step(self.opt_ae)
        out["loss"] = loss.detach()
        return out

    def adversarial_step(self, idx: Tensor) -> dict[str, Tensor]:
        """Procedure 1: a critic update on fixed embeddings (``F(z_c)`` high, ``F(z_t)`` low,
        unit gradient norm on interpolates) and, every ``n_critic``-th step, an update of the
        encoders and decoder with ``L_base − β·mean F(z_t)``. ``recon``, ``diff`` and ``gen``
        are returned by those steps only; :func:`~drugshift.train.fit` averages each key over
        the steps that returned it. ``loss`` is the critic's objective."""
        p, m = self.params, self.module
        xc, xt = self.batches(idx)
        self.opt_critic.zero_grad(set_to_none=True)
        with torch.no_grad():
            sc, pc, _ = m.parts(xc, "source")
            st, pt, _ = m.parts(xt, "target")
            zc, zt = m.aligned(sc, pc), m.aligned(st, pt)
        critic_loss, gp = m.critic_loss(zc, zt, p.gp_weight, self.gp_generator)
        self.amp.backward(critic_loss)
        self.amp.step(self.opt_critic)
        out = {"critic": critic_loss.detach(), "gp": gp.detach()}
        self.critic_steps += 1
        if self.critic_steps % p.n_critic == 0:
            self.opt_ae.zero_grad(set_to_none=True)
            recon, diff, _, zt = m.base_terms(xc, xt)
            gen = m.generator_loss(zt)
            loss = recon + p.diff_weight * diff + p.align_weight * gen
            self.amp.backward(loss)
            self.amp.step(self.opt_ae)
            out.update(recon=recon.detach(), diff=diff.detach(), gen=gen.detach())
        out["loss"] = critic_loss.detach()
        return out

    def validate(self) -> Tensor:
        """Held-out reconstruction error of both domains."""
        return self.module.reconstruction_error(self.Xc_val, self.Xt_val)

    def run(self) -> dict[str, History]:
        """Train; returns the history of each phase (``warmup`` and ``adversarial`` for ``adv``;
        ``warmup`` (when ``warmup_epochs`` > 0) and ``train`` otherwise)."""
        p = self.params
        common = dict(n_train=len(self.c_train), batch_size=p.batch_size, patience=None, generator=self.generator,
                      log=self.log, log_every=p.log_every, device=self.device, restore_best=False,
                      optimisers=[o for o in (self.opt_ae, self.opt_critic) if o is not None],
                      checkpoint=self.checkpoints, precision=self.amp)
        modules = [self.module]
        history: dict[str, History] = {}
        if self.align == "wgan":
            history["warmup"] = fit(self.base_step, self.validate, modules, epochs=p.warmup_epochs,
                                    name="CODE-AE warm-up", **common)
            history["adversarial"] = fit(self.adversarial_step, self.validate, modules, epochs=p.pretrain_epochs,
                                         name="CODE-AE adversarial", **common)
        else:
            if p.warmup_epochs:
                history["warmup"] = fit(self.base_step, self.validate, modules, epochs=p.warmup_epochs,
                                        name=f"CODE-AE {p.variant} warm-up", **common)
            history["train"] = fit(self.aligned_step, self.validate, modules, epochs=p.pretrain_epochs,
                                   name=f"CODE-AE {p.variant}", **common)
        self.module.eval()
        return history


# --------------------------------------------------------------------------- fine-tuning


def auroc_by_pairs(scores: Tensor, labels: Tensor, valid: Tensor | None = None) -> Tensor:
    """AUROC of each row of ``scores`` ``(models, samples)`` against 0/1 ``labels`` of the same
    shape, counted over (positive, negative) pairs (ties count one half): the Mann–Whitney
    statistic, equal to scikit-learn's ``roc_auc_score``. ``valid`` (bool, same shape) marks the
    samples of each row that count (padding elsewhere). Returns ``(models,)`` float64, NaN for a
    row without both classes.

    Fine-tuning validates every epoch; one exact count for one model and for many stacked
    models means both make the same early-stopping decisions, and many models are scored in one
    batched operation on the device instead of one host call each.
    """
    if valid is None:
        valid = torch.ones_like(labels, dtype=torch.bool)
    pos, neg = valid & (labels == 1), valid & (labels == 0)
    s = scores.to(torch.float64)
    above = (s.unsqueeze(2) > s.unsqueeze(1)).to(torch.float64)
    tied = (s.unsqueeze(2) == s.unsqueeze(1)).to(torch.float64)
    pairs = (pos.unsqueeze(2) & neg.unsqueeze(1)).to(torch.float64)
    count = ((above + 0.5 * tied) * pairs).sum((1, 2))
    n_pairs = pos.sum(1).to(torch.float64) * neg.sum(1).to(torch.float64)
    return torch.where(n_pairs > 0, count / n_pairs.clamp(min=1), torch.full_like(count, math.nan))


def predict_proba(model: nn.Module, X) -> np.ndarray:
    """``sigmoid(model(X))``: the probability that each sample is sensitive, ``(n,)`` float64."""
    X = as_float_matrix(X, "X")
    params = list(model.parameters())
    dev = params[0].device if params else torch.device("cpu")
    model.eval()
    return apply_in_chunks(lambda x: torch.sigmoid(model(x)), X, dev).astype(np.float64)


class FinetunePlan:
    """Fine-tune a copy of ``encoder`` with a new classifier head on one training / validation
    split (paper: BCE, early stopping on validation AUROC, gradual unfreezing).

    Stages (``unfreeze='gradual'``): 0 trains the head with the encoder frozen; stage ``i``
    also unfreezes the top ``i`` linear layers of the encoder, with learning rate
    ``lr × lr_decay^i``. ``unfreeze='all'`` is one stage with everything trainable, ``'head'``
    one stage with the encoder frozen. The budget ``max_epochs`` is shared equally among the
    stages (:meth:`FinetuneParams.epochs_per_stage`), so every method of a benchmark gets the
    same number of epochs whatever its schedule. Each stage runs :func:`drugshift.train.fit`
    with early stopping (``patience``) from the best weights so far; a stage that does not
    beat the best AUROC is rolled back.
    """

    def __init__(self, encoder: nn.Module, X_train, y_train, X_val, y_val, params: FinetuneParams,
                 device: str | torch.device = "auto", log: logging.Logger | None = None, name: str = "fine-tune",
                 checkpoints: Checkpoints | None = None, precision: str = "fp32"):
        p = self.params = params
        self.checkpoints = checkpoints
        self.log, self.name = log or _log, name
        self.device = dev = resolve_device(device)
        self.amp = MixedPrecision(precision, dev)  # a fresh loss scale per fold
        self.X_train = torch.as_tensor(as_float_matrix(X_train, "X_train"), device=dev)
        self.X_val = torch.as_tensor(as_float_matrix(X_val, "X_val", self.X_train.shape[1]), device=dev)
        y_train = np.asarray(y_train).ravel()
        self.n_train = y_train.size
        self.y_train = torch.as_tensor(y_train.astype(np.float32), device=dev)
        self.y_val = torch.as_tensor(np.asarray(y_val).ravel().astype(np.float32), device=dev)
        self.generator = torch.Generator().manual_seed(p.seed)
        torch.manual_seed(p.seed)  # the head's initialisation
        self.model = DrugClassifier(copy.deepcopy(encoder), p.classifier_hidden, p.dropout).to(dev)
        self.layers = linear_layers(self.model.encoder)
        n = len(self.layers)
        self.schedule = {"gradual": list(range(n + 1)), "all": [n], "head": [0]}[p.unfreeze]
        self.optimiser: torch.optim.Optimizer | None = None
        if checkpoints is not None and self.amp.scaler is not None:
            checkpoints.track(loss_scale=self.amp)

    def step(self, idx: Tensor) -> dict[str, Tensor]:
        self.optimiser.zero_grad(set_to_none=True)
        loss = self.model.bce(self.X_train[idx], self.y_train[idx])
        self.amp.backward(loss)
        self.amp.step(self.optimiser)
        return {"loss": loss.detach()}

    def validate(self) -> float:
        """Minus the validation AUROC (lower is better; NaN with one class), once per epoch
        (:func:`auroc_by_pairs`, on the device)."""
        auc = float(auroc_by_pairs(self.model(self.X_val).unsqueeze(0), self.y_val.unsqueeze(0))[0])
        return -auc if math.isfinite(auc) else math.nan

    def open_layers(self, n_open: int) -> list[nn.Parameter]:
        """Freeze the encoder except its top ``n_open`` linear layers; the trainable parameters."""
        for prm in self.model.encoder.parameters():
            prm.requires_grad_(False)
        for layer in self.layers[len(self.layers) - n_open:] if n_open else []:
            for prm in layer.parameters():
                prm.requires_grad_(True)
        return [prm for prm in self.model.parameters() if prm.requires_grad]

    def run(self) -> tuple[DrugClassifier, dict]:
        """Returns ``(model, info)``: the fine-tuned :class:`DrugClassifier` (eval mode) and
        ``info`` with ``val_auroc`` (best), ``stages`` (per stage: lr, open_layers, epochs_run,
        best_epoch, best AUROC, kept) and ``history`` (per stage :class:`History` dicts)."""
        p = self.params
        epochs = p.epochs_per_stage(len(self.schedule))
        best_val, best_state = math.nan, None
        stages, histories = [], []
        for i, n_open in enumerate(self.schedule):
            lr = p.lr * p.lr_decay ** i
            self.optimiser = adamw(self.open_layers(n_open), lr, p.weight_decay)
            hist = fit(self.step, self.validate, [self.model], n_train=self.n_train, epochs=epochs,
                       batch_size=p.batch_size, patience=p.patience, generator=self.generator, log=self.log,
                       name=f"{self.name} stage {i} ({n_open}/{len(self.layers)} encoder layers)",
                       log_every=p.log_every, device=self.device, optimisers=[self.optimiser],
                       checkpoint=self.checkpoints, precision=self.amp)
            improved = math.isfinite(hist.best_val) and not (hist.best_val >= best_val)
            if improved or best_state is None:
                best_val = hist.best_val if math.isfinite(hist.best_val) else best_val
                best_state = copy.deepcopy(self.model.state_dict())
            else:
                self.model.load_state_dict(best_state)
            stages.append({"lr": lr, "open_layers": n_open, "epochs_run": hist.epochs_run,
                           "best_epoch": hist.best_epoch, "best_auroc": -hist.best_val, "kept": bool(improved)})
            histories.append(hist.to_dict())
        for prm in self.model.parameters():
            prm.requires_grad_(True)
        self.model.eval()
        return self.model, {"val_auroc": -best_val, "epochs_per_stage": epochs, "stages": stages,
                            "history": histories}


def finetune(encoder: nn.Module, X_train, y_train, X_val, y_val, params: FinetuneParams, *,
             device: str | torch.device = "auto", log: logging.Logger | None = None,
             name: str = "fine-tune", checkpoints: Checkpoints | None = None,
             precision: str = "fp32") -> tuple[DrugClassifier, dict]:
    """:class:`FinetunePlan` ``(…).run()``; the caller's ``encoder`` is left untouched."""
    return FinetunePlan(encoder, X_train, y_train, X_val, y_val, params, device, log, name, checkpoints,
                        precision).run()


@dataclass(eq=False)
class FoldResult:
    """One cross-validation fold: its model (a :class:`DrugClassifier` or a scikit-learn
    estimator), its held-out cell-line metrics and training details."""

    fold: int
    model: object
    val_metrics: dict
    info: dict = field(default_factory=dict)


def finetune_cv(encoder: nn.Module | Callable[[int], nn.Module], X, y, params: FinetuneParams, *,
                device: str | torch.device = "auto", log: logging.Logger | None = None,
                name: str = "fine-tune", checkpoints: Checkpoints | None = None,
                precision: str = "fp32") -> list[FoldResult]:
    """Per-drug fine-tuning with stratified ``n_folds``-fold CV on labelled cell lines.

    Fold ``k`` trains on the other folds with seed ``params.seed + k`` and stops early on its own
    held-out fold, whose metrics (:func:`~drugshift.evaluate.classification_metrics`) are the
    cell-line CV estimate. The folds (:func:`drugshift.splits.cv_folds`) are those of every other
    method of the benchmark.

    Args:
        encoder: the encoder to fine-tune (copied per fold) or a function of the fold number
            returning a fresh one (the ``mlp`` baseline's random encoders).
        X: ``(cell_lines, genes)`` expression; ``y``: ``(cell_lines,)`` 0/1 labels (1 = sensitive).
        checkpoints: the job's :class:`~drugshift.resume.Checkpoints`; every stage of every
            fold is one of its stages.
        precision: ``fp32``, ``bf16`` or ``fp16`` (CUDA only; see the module docstring).
    """
    log = log or _log
    X = as_float_matrix(X, "X")
    y = _binary_labels(y, X.shape[0])
    results = []
    for k, (tr, va) in enumerate(cv_folds(y, params.n_folds, params.seed)):
        enc = encoder if isinstance(encoder, nn.Module) else encoder(k)
        model, info = finetune(enc, X[tr], y[tr], X[va], y[va], params.replace(seed=params.seed + k),
                               device=device, log=log, name=f"{name} fold {k}", checkpoints=checkpoints,
                               precision=precision)
        val = classification_metrics(y[va], predict_proba(model, X[va]))
        log.info("[%s] fold %d: held-out cell-line AUROC %.3f (%d lines)", name, k, val["auroc"], len(va))
        results.append(FoldResult(fold=k, model=model, val_metrics=val, info=info))
    return results


def _binary_labels(y, n: int) -> np.ndarray:
    y = np.asarray(y).ravel()
    if y.size != n or not np.isin(y, [0, 1]).all():
        raise ValueError(f"y must hold one 0/1 label per row of X ({n}), got {y.size} values "
                         f"{np.unique(y)[:5].tolist()}")
    return y.astype(int)
