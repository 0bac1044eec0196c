"""Fine-tune many drugs (and folds) at once: stacked weights, one batched step for all.

Per-drug fine-tuning is small matrix work: a head of ``(64, 32) → 1`` on a 128-wide embedding, a
few hundred labelled cell lines, minibatches of 64. Run one drug and one fold at a time, most of
its time is Python and kernel-launch overhead, on a CPU as on a GPU. Here every *task* (one fold
of one drug) keeps its own weights, but the weights of all tasks are stacked: layer ``l`` is one
``(tasks, out, in)`` tensor, and one training step is one batched matrix product per layer for
all tasks together.

The tasks stay independent. Each keeps exactly what :class:`~drugshift.models.codeae.plan.FinetunePlan`
gives it when run alone: its copy of the encoder and its head (initialised from the task's seed),
its minibatch order (its own generator), its dropout masks (drawn in the same order from the
random stream the global generator would have had), its AdamW state, learning rate and unfreezing
stage, and its early stopping and roll-backs. Each task's loss is the mean over its own rows, and
the batched step minimises their sum, so every task gets its own gradient. On the CPU the result
is therefore that of fine-tuning each task alone, to float tolerance (a unit test compares them);
on CUDA, where :class:`torch.nn.Dropout` uses the device's generator and a fused kernel, the
dropout masks differ and the results agree in distribution only.

Not supported here (use :func:`~drugshift.models.codeae.plan.finetune_cv`): BatchNorm in the
encoder (its batch statistics would mix padded rows), training checkpoints (a group of tasks is
one unit of work), and mixed precision.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drugshift.evaluate import classification_metrics
from drugshift.models.codeae.module import DrugClassifier, linear_layers
from drugshift.models.codeae.plan import FoldResult, auroc_by_pairs, predict_proba
from drugshift.params import FinetuneParams
from drugshift.splits import cv_folds
from drugshift.train import History, as_float_matrix, iterate_minibatches, resolve_device

__all__ = ["FinetuneTask", "finetune_cv_stacked", "finetune_drugs", "finetune_stacked"]

_log = logging.getLogger(__name__)

#: Tasks trained together by default: enough to amortise per-step overhead on a CPU; a GPU can
#: take hundreds (pass ``group_size``).
GROUP_SIZE = 25

_BETAS, _EPS = (0.9, 0.999), 1e-8  # torch.optim.AdamW's defaults, as FinetunePlan uses them


@dataclass(eq=False)
class FinetuneTask:
    """One model to fine-tune: rows of the shared matrix ``X`` to train and validate on.

    Attributes:
        name: label in the log lines (e.g. ``"codeae_adv cisplatin fold 2"``).
        encoder: the encoder to fine-tune (copied, never modified).
        train, val: row indices into ``X``.
        y_train, y_val: 0/1 labels of those rows.
        seed: the task's seed (head initialisation, minibatch order, dropout masks), as
            ``FinetuneParams.seed`` of :class:`~drugshift.models.codeae.plan.FinetunePlan`.
    """

    name: str
    encoder: nn.Module
    train: np.ndarray
    val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    seed: int


@dataclass(eq=False)
class _TaskState:
    """Where one task is in :class:`FinetunePlan`'s stages and :func:`drugshift.train.fit`'s loop."""

    model: DrugClassifier
    order: torch.Generator          # minibatch order
    noise: torch.Generator          # dropout masks
    stage: int = 0
    epoch: int = 0                  # epochs run in the current stage
    since_best: int = 0
    hist: History = field(default_factory=History)
    stage_best: list[Tensor] | None = None
    best_val: float = math.nan      # over stages (minus AUROC, lower is better)
    best: list[Tensor] | None = None
    batches: list[Tensor] = field(default_factory=list)
    stages: list[dict] = field(default_factory=list)
    histories: list[dict] = field(default_factory=list)
    done: bool = False


def _program(model: DrugClassifier) -> list[tuple[str, object]]:
    """The forward pass of ``model`` as a list of operations on stacked activations:
    ``("linear", index)``, ``("act", module)``, ``("dropout", p)``, ``("normalise", None)``."""
    ops: list[tuple[str, object]] = []
    n_linear = 0
    for part in (model.encoder, model.head):
        for m in part.net:
            if isinstance(m, nn.Linear):
                ops.append(("linear", n_linear))
                n_linear += 1
            elif isinstance(m, nn.Dropout):
                if m.p > 0:
                    ops.append(("dropout", float(m.p)))
            elif isinstance(m, (nn.BatchNorm1d, nn.LayerNorm)):
                raise NotImplementedError(
                    "stacked fine-tuning does not support normalisation layers in the encoder (their batch "
                    "statistics would mix padded rows); fine-tune one task at a time with finetune_cv")
            elif len(list(m.parameters())) == 0:
                ops.append(("act", m))
            else:
                raise NotImplementedError(f"stacked fine-tuning cannot stack a {type(m).__name__} layer")
        if part is model.encoder and getattr(model.encoder, "normalise", False):
            ops.append(("normalise", None))
    return ops


def _snapshot(W: list[Tensor], m: int) -> list[Tensor]:
    return [w[m].detach().clone() for w in W]


def _restore(W: list[Tensor], m: int, saved: list[Tensor]) -> None:
    with torch.no_grad():
        for w, s in zip(W, saved):
            w[m].copy_(s)


class _Stack:
    """The weights, optimiser state and forward pass of a group of tasks."""

    def __init__(self, models: Sequence[DrugClassifier], device: torch.device):
        self.program = _program(models[0])
        layers = [linear_layers(m.encoder) + linear_layers(m.head) for m in models]
        self.n_encoder = len(linear_layers(models[0].encoder))
        shapes = [(lin.weight.shape, lin.bias.shape) for lin in layers[0]]
        for ls in layers[1:]:
            if [(lin.weight.shape, lin.bias.shape) for lin in ls] != shapes:
                raise ValueError("stacked fine-tuning needs every task's network to have the same architecture")
        # Flat parameter list: weight and bias of each linear layer, stacked over tasks.
        self.params: list[Tensor] = []
        self.layer_of: list[int] = []
        for i in range(len(shapes)):
            for name in ("weight", "bias"):
                self.params.append(torch.stack([getattr(ls[i], name).detach() for ls in layers]).to(device)
                                   .requires_grad_(True))
                self.layer_of.append(i)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.task_step = torch.zeros(len(models), dtype=torch.float32, device=device)  # AdamW steps this stage

    def forward(self, x: Tensor, masks: Sequence[Tensor] | None) -> Tensor:
        """Logits ``(tasks, rows)`` of ``x`` ``(tasks, rows, genes)``; ``masks``: one scaled
        dropout mask per dropout layer (``None``: evaluation, no dropout)."""
        h, k = x, 0
        for op, arg in self.program:
            if op == "linear":
                w, b = self.params[2 * arg], self.params[2 * arg + 1]
                h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            elif op == "act":
                h = arg(h)
            elif op == "dropout":
                if masks is not None:
                    h = h * masks[k]
                    k += 1
            else:
                h = F.normalize(h, p=2, dim=-1)
        return h.squeeze(-1)

    def dropout_widths(self) -> list[tuple[int, float]]:
        """(width, p) of each dropout layer in forward order."""
        out, width = [], None
        for op, arg in self.program:
            if op == "linear":
                width = self.params[2 * arg].shape[1]
            elif op == "dropout":
                out.append((width, arg))
        return out

    def reset_optimiser(self, m: int) -> None:
        """A fresh AdamW for task ``m`` (FinetunePlan builds one per stage)."""
        with torch.no_grad():
            for a, s in zip(self.exp_avg, self.exp_avg_sq):
                a[m].zero_()
                s[m].zero_()
            self.task_step[m] = 0

    @torch.no_grad()
    def adamw_step(self, open_layers: Sequence[Sequence[bool] | None], lr: Sequence[float],
                   weight_decay: float) -> None:
        """One AdamW update of the layers each task has open, by torch's fused AdamW kernel
        (the update :func:`drugshift.train.adamw` makes) on each task's slices of the stacked
        tensors, tasks of one learning rate in one call.

        ``open_layers[m]``: per linear layer, whether task ``m`` trains it now (``None``: the
        task had no minibatch this step); ``lr[m]``: its learning rate.
        """
        groups: dict[float, tuple[list, list, list, list, list]] = {}
        for m, layers in enumerate(open_layers):
            if layers is None:
                continue
            self.task_step[m] += 1
            g = groups.setdefault(float(lr[m]), ([], [], [], [], []))
            for i, prm in enumerate(self.params):
                if layers[self.layer_of[i]]:
                    g[0].append(prm[m])
                    g[1].append(prm.grad[m])
                    g[2].append(self.exp_avg[i][m])
                    g[3].append(self.exp_avg_sq[i][m])
                    g[4].append(self.task_step[m])
        for rate, (params, grads, avgs, sqs, steps) in groups.items():
            torch._fused_adamw_(params, grads, avgs, sqs, [], steps, lr=rate, beta1=_BETAS[0], beta2=_BETAS[1],
                                weight_decay=weight_decay, eps=_EPS, amsgrad=False, maximize=False)

    def write_back(self, m: int, model: DrugClassifier) -> None:
        """Task ``m``'s weights into its :class:`DrugClassifier`."""
        layers = linear_layers(model.encoder) + linear_layers(model.head)
        with torch.no_grad():
            for i, lin in enumerate(layers):
                lin.weight.copy_(self.params[2 * i][m].to(lin.weight.device))
                lin.bias.copy_(self.params[2 * i + 1][m].to(lin.bias.device))


def _padded(rows: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """``(tasks, max rows)`` index tensor padded with row 0 and its validity mask."""
    width = max((len(r) for r in rows), default=0)
    idx = torch.zeros((len(rows), max(width, 1)), dtype=torch.long)
    valid = torch.zeros(len(rows), max(width, 1), dtype=torch.bool)
    for m, r in enumerate(rows):
        idx[m, : len(r)] = r
        valid[m, : len(r)] = True
    return idx, valid


def finetune_stacked(X, tasks: Sequence[FinetuneTask], params: FinetuneParams, *,
                     device: str | torch.device = "auto", log: logging.Logger | None = None,
                     name: str = "stacked fine-tune") -> list[tuple[DrugClassifier, dict]]:
    """Fine-tune every task of ``tasks`` together; per task what
    :func:`~drugshift.models.codeae.plan.finetune` returns for it: ``(model, info)``.

    All tasks share ``params`` (except the seed, which is each task's own) and must have encoders
    of one architecture. ``X``: ``(rows, genes)`` float matrix the tasks index.
    """
    log = log or _log
    p = params
    dev = resolve_device(device)
    X_t = torch.as_tensor(as_float_matrix(X, "X"), device=dev)
    if not tasks:
        return []
    states: list[_TaskState] = []
    for t in tasks:
        # As FinetunePlan: the global generator, seeded, initialises the head; the dropout masks
        # then continue that stream, here in a generator of the task's own.
        order = torch.Generator().manual_seed(t.seed)
        torch.manual_seed(t.seed)
        model = DrugClassifier(copy.deepcopy(t.encoder), p.classifier_hidden, p.dropout)
        noise = torch.Generator()
        noise.set_state(torch.get_rng_state())
        states.append(_TaskState(model=model, order=order, noise=noise))
    stack = _Stack([s.model for s in states], dev)
    n_linear = len(stack.params) // 2
    n_enc = stack.n_encoder
    schedule = {"gradual": list(range(n_enc + 1)), "all": [n_enc], "head": [0]}[p.unfreeze]
    per_stage = p.epochs_per_stage(len(schedule))
    drop = stack.dropout_widths()
    n_tasks = len(tasks)
    y_train = [torch.as_tensor(np.asarray(t.y_train, np.float32).ravel()) for t in tasks]
    val_idx, val_valid = _padded([torch.as_tensor(np.asarray(t.val, np.int64)) for t in tasks])
    y_val = torch.zeros(val_idx.shape, dtype=torch.float32)
    for m, t in enumerate(tasks):
        y_val[m, : len(t.val)] = torch.as_tensor(np.asarray(t.y_val, np.float32).ravel())
    val_idx, val_valid, y_val = val_idx.to(dev), val_valid.to(dev), y_val.to(dev)
    train_rows = [torch.as_tensor(np.asarray(t.train, np.int64)) for t in tasks]

    def open_mask(s: _TaskState) -> list[bool]:
        n_open = schedule[s.stage]
        return [i >= n_enc - n_open for i in range(n_enc)] + [True] * (n_linear - n_enc)

    def begin_stage(m: int) -> None:
        s = states[m]
        s.epoch, s.since_best = 0, 0
        s.hist = History(name=f"{tasks[m].name} stage {s.stage} ({schedule[s.stage]}/{n_enc} encoder layers)")
        s.stage_best = None
        stack.reset_optimiser(m)

    def end_stage(m: int) -> None:
        s, hist = states[m], states[m].hist
        if s.stage_best is not None:
            _restore(stack.params, m, s.stage_best)
        elif s.epoch > 0:
            log.warning("[%s] no finite validation value in %d epochs; keeping the last weights", hist.name, s.epoch)
        improved = math.isfinite(hist.best_val) and not (hist.best_val >= s.best_val)
        if improved or s.best is None:
            s.best_val = hist.best_val if math.isfinite(hist.best_val) else s.best_val
            s.best = _snapshot(stack.params, m)
        else:
            _restore(stack.params, m, s.best)
        s.stages.append({"lr": p.lr * p.lr_decay ** s.stage, "open_layers": schedule[s.stage],
                         "epochs_run": hist.epochs_run, "best_epoch": hist.best_epoch,
                         "best_auroc": -hist.best_val, "kept": bool(improved)})
        s.histories.append(hist.to_dict())
        s.stage += 1
        if s.stage < len(schedule):
            begin_stage(m)
        else:
            s.done = True

    for m in range(n_tasks):
        begin_stage(m)
        while not states[m].done and per_stage == 0:
            end_stage(m)

    started, epoch = time.perf_counter(), 0
    while not all(s.done for s in states):
        epoch += 1
        active = [m for m, s in enumerate(states) if not s.done]
        for m in active:
            s = states[m]
            s.batches = list(iterate_minibatches(len(train_rows[m]), p.batch_size, s.order))
        n_steps = max(len(states[m].batches) for m in active)
        training = set(active)
        loss_sums = torch.zeros(n_tasks, dtype=torch.float64, device=dev)
        for j in range(n_steps):
            rows = [train_rows[m][states[m].batches[j]] if m in training and j < len(states[m].batches)
                    else torch.empty(0, dtype=torch.long) for m in range(n_tasks)]
            idx, valid = _padded(rows)
            width = idx.shape[1]
            masks = []
            for w, prob in drop:
                mk = torch.ones(n_tasks, width, w)
                for m, r in enumerate(rows):
                    if len(r):
                        mk[m, : len(r)] = torch.empty(len(r), w).bernoulli_(1 - prob, generator=states[m].noise)
                masks.append((mk / (1 - prob)).to(dev))
            y = torch.zeros(n_tasks, width)
            for m, r in enumerate(rows):
                if len(r):
                    y[m, : len(r)] = y_train[m][states[m].batches[j]]
            counts = valid.sum(1)
            idx, valid, y = idx.to(dev), valid.to(dev), y.to(dev)
            opened = [open_mask(states[m]) if len(r) else None for m, r in enumerate(rows)]
            for i, prm in enumerate(stack.params):
                layer = stack.layer_of[i]
                prm.requires_grad_(any(o is not None and o[layer] for o in opened))
                prm.grad = None
            logits = stack.forward(X_t[idx], masks)
            per_row = F.binary_cross_entropy_with_logits(logits, y, reduction="none") * valid
            loss = per_row.sum(1) / counts.clamp(min=1).to(dev)
            loss.sum().backward()
            lr = [p.lr * p.lr_decay ** min(s.stage, len(schedule) - 1) for s in states]
            stack.adamw_step(opened, lr, p.weight_decay)
            loss_sums += loss.detach().to(torch.float64) * counts.to(dev)
        loss_sums = loss_sums.cpu()  # one transfer per epoch
        # Validation of every task still training, in eval mode (no dropout).
        with torch.no_grad():
            logits = stack.forward(X_t[val_idx], None)
            aurocs = auroc_by_pairs(logits, y_val, val_valid).cpu().numpy()
        for m in active:
            s, hist = states[m], states[m].hist
            s.epoch += 1
            val = -float(aurocs[m]) if math.isfinite(aurocs[m]) else math.nan
            hist.train.append(float(loss_sums[m]) / len(train_rows[m]))
            hist.val.append(val)
            hist.components.setdefault("loss", []).append(hist.train[-1])
            if val < hist.best_val or (math.isnan(hist.best_val) and math.isfinite(val)):
                hist.best_val, hist.best_epoch, s.since_best = val, s.epoch, 0
                s.stage_best = _snapshot(stack.params, m)
            else:
                s.since_best += 1
            stop = p.patience is not None and p.patience > 0 and s.since_best >= p.patience
            if stop:
                hist.stopped_early = True
            if stop or s.epoch >= per_stage:
                end_stage(m)
        if p.log_every and (epoch % p.log_every == 0 or all(s.done for s in states)):
            log.info("[%s] epoch %d: %d of %d models still training (%.1f s)", name, epoch,
                     sum(not s.done for s in states), n_tasks, time.perf_counter() - started)
    results = []
    for m, s in enumerate(states):
        _restore(stack.params, m, s.best)
        stack.write_back(m, s.model)
        s.model.eval()
        results.append((s.model, {"val_auroc": -s.best_val, "epochs_per_stage": per_stage, "stages": s.stages,
                                  "history": s.histories}))
    return results


def finetune_drugs(encoder: nn.Module | Callable[[int], nn.Module], X, labels: Mapping[str, np.ndarray],
                   params: FinetuneParams, *, device: str | torch.device = "auto",
                   log: logging.Logger | None = None, group_size: int = GROUP_SIZE,
                   name: str = "fine-tune") -> dict[str, list[FoldResult]]:
    """:func:`~drugshift.models.codeae.plan.finetune_cv` for many drugs, their folds trained
    together in groups of ``group_size`` tasks by :func:`finetune_stacked`.

    Args:
        encoder: the encoder to fine-tune, or a function of the fold number returning a fresh
            one (the ``mlp`` baseline), as for ``finetune_cv``.
        X: ``(cell lines, genes)`` expression of every cell line.
        labels: drug → ``(cell lines,)`` labels, 1 sensitive, 0 resistant, NaN unlabelled; each
            drug is cross-validated on its labelled lines only.
        group_size: tasks (drug folds) per stacked group; results do not depend on it.

    Returns:
        drug → its folds, as ``finetune_cv(encoder, X[labelled], y[labelled], params)`` returns
        them (to float tolerance on the CPU).
    """
    log = log or _log
    X = as_float_matrix(X, "X")
    if group_size < 1:
        raise ValueError(f"group_size must be ≥ 1, got {group_size}")
    tasks, owners = [], []
    for drug, y in labels.items():
        y = np.asarray(y, dtype=np.float64).ravel()
        if y.size != X.shape[0]:
            raise ValueError(f"labels of {drug!r} have {y.size} values for {X.shape[0]} cell lines")
        rows = np.flatnonzero(np.isfinite(y))
        yl = y[rows]
        if not np.isin(yl, [0, 1]).all():
            raise ValueError(f"labels of {drug!r} must be 0, 1 or NaN, got {np.unique(yl)[:5].tolist()}")
        yl = yl.astype(int)
        for k, (tr, va) in enumerate(cv_folds(yl, params.n_folds, params.seed)):
            enc = encoder if isinstance(encoder, nn.Module) else encoder(k)
            tasks.append(FinetuneTask(f"{name} {drug} fold {k}", enc, rows[tr], rows[va], yl[tr], yl[va],
                                      params.seed + k))
            owners.append((drug, k))
    out: dict[str, list[FoldResult]] = {drug: [] for drug in labels}
    for g in range(0, len(tasks), group_size):
        group = tasks[g : g + group_size]
        log.info("[%s] models %d–%d of %d (%d drugs)", name, g + 1, g + len(group), len(tasks), len(labels))
        fitted = finetune_stacked(X, group, params, device=device, log=log, name=name)
        for task, (drug, k), (model, info) in zip(group, owners[g : g + group_size], fitted):
            val = classification_metrics(task.y_val, predict_proba(model, X[task.val]))
            out[drug].append(FoldResult(fold=k, model=model, val_metrics=val, info=info))
    return out


def finetune_cv_stacked(encoder: nn.Module | Callable[[int], nn.Module], X, y, params: FinetuneParams, *,
                        device: str | torch.device = "auto", log: logging.Logger | None = None,
                        name: str = "fine-tune") -> list[FoldResult]:
    """:func:`~drugshift.models.codeae.plan.finetune_cv` of one drug with its folds trained
    together (one stacked group)."""
    y = np.asarray(y, dtype=np.float64).ravel()
    return finetune_drugs(encoder, X, {"": y}, params, device=device, log=log, group_size=params.n_folds,
                          name=name)[""]
