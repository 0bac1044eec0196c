"""The one training loop of drugshift: device choice, seeding, minibatches, early stopping with
best-epoch restoration, checkpoints (:mod:`drugshift.resume`) and progress logging.

Models express one optimisation step as a closure ``step(idx) -> {"loss": …, …}`` and one
validation pass as ``validate() -> float``; :func:`fit` does everything else. Data stays on the
device as tensors and minibatches are index tensors into them (no ``DataLoader``). A step may
return its logged values as tensors: :func:`fit` sums them on the device and reads them back
once per epoch, so logging costs no host synchronisation per step.

On CUDA nothing in the per-step path waits for the GPU: the minibatch order comes from a CPU
generator (the same stream on every device) and its index tensor is copied to the GPU
asynchronously, once per epoch; the host reads values back once per epoch (the logged means
and the validation value). Mixed precision (:class:`MixedPrecision`) is CUDA-only: on CPU
every run is fp32, bit for bit as without it.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from drugshift import devices, resume

__all__ = ["PRECISIONS", "History", "MixedPrecision", "adamw", "as_binary_labels", "as_float_matrix",
           "check_precision", "deterministic", "fit", "iterate_minibatches", "resolve_device", "resolve_precision",
           "seed_everything"]

#: Training precisions: ``fp32`` (default), and CUDA autocast to ``bf16`` or ``fp16`` (with loss scaling).
PRECISIONS = ("fp32", "bf16", "fp16")
_AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(pref: str | torch.device = "auto") -> torch.device:
    """Turn a device preference into a ``torch.device``.

    ``"auto"`` and ``"cuda"`` take this process's GPU from :func:`drugshift.devices.acquire_gpu`:
    ``cuda:0`` of the devices a scheduler gave the job (``CUDA_VISIBLE_DEVICES`` in a SLURM job),
    otherwise the first device no other running job holds (one lock file per device), so that
    concurrent jobs of ``snakemake --resources gpu=N`` train on different GPUs. The process keeps
    that device: later calls return the same one.

    Args:
        pref: ``"auto"`` (a CUDA device when available, else CPU), ``"cpu"``, ``"cuda"`` or
            ``"cuda:N"`` (exactly that device, no claim), or a ``torch.device``.

    Raises:
        RuntimeError: CUDA was requested but this torch build or machine has none.
        ValueError: an unknown preference.
    """
    if isinstance(pref, torch.device):
        pref = str(pref)
    pref = str(pref).strip().lower()
    if pref == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        return torch.device("cuda", devices.acquire_gpu() or 0)
    if pref == "cpu":
        return torch.device("cpu")
    if pref == "cuda" or pref.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {pref!r} was requested but CUDA is not available "
                f"(torch {torch.__version__}, cuda build: {torch.version.cuda}); "
                "use device 'cpu' or 'auto'"
            )
        if pref == "cuda":
            return torch.device("cuda", devices.acquire_gpu() or 0)
        return torch.device(pref)
    raise ValueError(f"unknown device {pref!r}; expected 'auto', 'cpu', 'cuda' or 'cuda:N'")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA).

    Deterministic kernels are asked for by :func:`deterministic` around each training run
    (:func:`fit` does it), not here, so that seeding leaves the process's torch settings as
    they were.
    """
    # cuBLAS reads this when it initialises; it must be set before the first CUDA matmul.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic():
    """Deterministic torch kernels inside the block, the caller's setting restored after it.

    ``warn_only=True`` because a few CUDA kernels have no deterministic variant; on CPU a seeded
    run is bit-for-bit reproducible.
    """
    before = torch.are_deterministic_algorithms_enabled()
    before_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=before_warn)


def check_precision(precision: str) -> str:
    """``precision`` checked: one of :data:`PRECISIONS` (case-insensitive), returned lower-case.

    Raises:
        ValueError: another value; the message names the allowed ones.
    """
    value = str(precision).strip().lower()
    if value not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(map(repr, PRECISIONS))}")
    return value


def resolve_precision(precision: str, device: torch.device | str, log: logging.Logger | None = None) -> str:
    """The precision a training run on ``device`` uses: ``precision`` (checked) on CUDA, ``fp32``
    elsewhere. Asking for ``bf16`` or ``fp16`` on another device logs one line saying that it is
    ignored, so CPU results never depend on the setting.

    Raises:
        ValueError: an unknown precision (:func:`check_precision`).
    """
    value = check_precision(precision)
    device = torch.device(device)
    if value != "fp32" and device.type != "cuda":
        (log or logging.getLogger("drugshift.train")).info(
            "precision %s ignored on %s (mixed precision is CUDA-only): training in fp32", value, device)
        return "fp32"
    return value


class MixedPrecision:
    """The arithmetic of one training run: fp32, or CUDA autocast to bf16 or fp16.

    :func:`fit` runs each step inside :meth:`autocast` and calls :meth:`update` after it; a
    step calls :meth:`backward` and :meth:`step` instead of ``loss.backward()`` and
    ``optimiser.step()`` (with fp32 they are exactly those calls). fp16 scales the loss with
    ``torch.amp.GradScaler("cuda")``, which reads back one flag per optimiser step (whether a
    gradient overflowed) unless the optimiser is fused; bf16 needs no scaling and adds no
    synchronisation. Loss terms that reduce over the batch (MMD, the cluster regulariser, the
    orthogonality, CORAL and gradient-penalty terms of :mod:`drugshift.nn.losses`) are computed
    in fp32 inside autocast; validation and inference always run in fp32.

    Args:
        precision: one of :data:`PRECISIONS`; on a device other than CUDA it is ignored (fp32),
            silently: :func:`resolve_precision` logs it once per model.
        device: the training device.
    """

    def __init__(self, precision: str = "fp32", device: torch.device | str = "cpu"):
        value = check_precision(precision)
        self.device = torch.device(device)
        self.precision = value if self.device.type == "cuda" else "fp32"
        self.dtype: torch.dtype | None = _AUTOCAST_DTYPES[self.precision]
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self._stepped: set[int] = set()  # optimisers stepped since the last scale update

    def __repr__(self) -> str:
        return f"MixedPrecision({self.precision!r}, device={str(self.device)!r})"

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context of a training step: CUDA autocast to :attr:`dtype`, or nothing (fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.dtype)

    def backward(self, loss: Tensor) -> None:
        """``loss.backward()``, of the scaled loss with fp16, outside autocast."""
        if self.dtype is None:
            loss.backward()
            return
        with torch.autocast(device_type="cuda", enabled=False):
            (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(self, optimiser: torch.optim.Optimizer) -> None:
        """``optimiser.step()``; with fp16 the gradients are unscaled first and a step whose
        gradients overflowed is skipped."""
        if self.scaler is None:
            optimiser.step()
            return
        if id(optimiser) in self._stepped:  # a second update of it in one step (adae's discriminator)
            self.update()
        self.scaler.step(optimiser)
        self._stepped.add(id(optimiser))

    def update(self) -> None:
        """After each training step: adjust the fp16 loss scale (nothing otherwise, nor when no
        optimiser stepped since the last update)."""
        if self.scaler is not None and self._stepped:
            self.scaler.update()
            self._stepped.clear()

    def state_dict(self) -> dict:
        """The loss scaler's state (for checkpoints; empty unless fp16)."""
        return {} if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def adamw(parameters, lr: float, weight_decay: float = 0.0) -> torch.optim.AdamW:
    """torch's AdamW, with torch's fused kernel where the parameters allow it (floating-point
    tensors on the CPU or CUDA).

    The same algorithm in one kernel per parameter tensor instead of about ten element-wise
    operations: on two CPU threads the update of a 4,561 × 512 layer takes about 3 ms instead of
    28 ms, about as long as that layer's forward and backward pass at a batch of 200. Results
    differ from the unfused update by rounding only.
    """
    params = list(parameters)
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True if fused else None)


def iterate_minibatches(
    n: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    shuffle: bool = True,
) -> Iterator[Tensor]:
    """Yield index tensors (``int64``, on ``device``) that cover ``range(n)`` once.

    The order is a permutation drawn from ``generator`` (a CPU generator). A trailing batch of a
    single sample is merged into the previous one, because BatchNorm cannot normalise one sample
    in training mode.
    """
    if n <= 0:
        return
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    # One asynchronous host-to-device copy per epoch (no stream synchronisation); a no-op on CPU.
    order = order.to(device, non_blocking=True)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else n
        yield order[s:e]


@dataclass
class History:
    """What :func:`fit` did.

    Attributes:
        name: label used in the log lines.
        train: per-epoch mean of the step's ``"loss"`` (weighted by batch size).
        val: per-epoch validation value (lower is better).
        components: per-epoch means of every key returned by ``step``, each averaged over the
            samples of the steps that returned it (a key returned every ``n``-th step is not
            diluted by the others).
        lr: per-epoch learning rate of the scheduler's optimiser (empty without scheduler).
        best_epoch: 1-based number of the epoch whose weights were restored
            (``val[best_epoch - 1]`` is the best value); 0 if no epoch ran or none was finite.
        best_val: the best validation value (``nan`` if none).
        stopped_early: training stopped because of ``patience``.
    """

    name: str = ""
    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    components: dict[str, list[float]] = field(default_factory=dict)
    lr: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_val: float = math.nan
    stopped_early: bool = False

    @property
    def epochs_run(self) -> int:
        return len(self.val)

    def to_dict(self) -> dict:
        """Plain-Python form (JSON and ``torch.load(weights_only=True)`` friendly)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(**d)


def _fmt(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else str(v)


def fit(
    step: Callable[[Tensor], dict[str, float | Tensor]],
    validate: Callable[[], float],
    modules: Sequence[nn.Module],
    *,
    n_train: int,
    epochs: int,
    batch_size: int,
    patience: int | None,
    generator: torch.Generator | None = None,
    log: logging.Logger | None = None,
    name: str = "fit",
    log_every: int = 10,
    scheduler: object | None = None,
    device: torch.device | str | None = None,
    restore_best: bool = True,
    optimisers: Sequence[torch.optim.Optimizer] = (),
    checkpoint: resume.Checkpoints | None = None,
    precision: MixedPrecision | None = None,
) -> History:
    """Run minibatch training with validation-based early stopping.

    Each epoch: all ``modules`` go to train mode; ``step(idx)`` is called for every minibatch of
    ``range(n_train)`` (``idx`` an ``int64`` tensor on ``device``) and must do its own forward,
    backward and optimiser update, returning floats or 0-d tensors (detached) with at least the
    key ``"loss"`` in the first step of each epoch; then the
    modules go to eval mode and ``validate()`` is called under ``torch.no_grad()``. The state
    dicts of ``modules`` at the epoch with the lowest validation value are deep-copied and
    restored at the end. Training stops after ``patience`` epochs without improvement
    (``None`` or ≤ 0: never). A ``ReduceLROnPlateau``-like ``scheduler`` is stepped on the
    validation value. One progress line is logged every ``log_every`` epochs and at the end.

    Args:
        step: minibatch update closure.
        validate: validation closure, lower is better; NaN never counts as an improvement.
        modules: the modules whose weights are checkpointed and whose train/eval mode is set.
        n_train: number of training samples indexed by ``step``.
        epochs: maximum number of epochs (0 runs nothing).
        batch_size: minibatch size.
        patience: early-stopping patience in epochs.
        generator: CPU generator for the minibatch order.
        log: logger for the progress lines (default ``drugshift.train``).
        name: label in the progress lines.
        log_every: epochs between progress lines.
        scheduler: optional object with ``step(metric)`` (e.g. ``ReduceLROnPlateau``).
        device: where the index tensors live; defaults to the device of the first parameter.
        restore_best: restore the best epoch's weights at the end (default). ``False`` keeps
            the last epoch's weights (fixed-length training such as adversarial pretraining,
            whose validation value only reports progress); ``best_epoch`` is still recorded.
        optimisers: the optimisers ``step`` updates (their state goes into checkpoints).
        checkpoint: the job's :class:`~drugshift.resume.Checkpoints`: this call is its next
            stage. A stage that finished before is restored instead of trained; an unfinished
            one continues after its latest checkpointed epoch, with the result of an
            uninterrupted run. Every ``checkpoint.every`` epochs, and at the end, the state is
            saved.
        precision: the run's :class:`MixedPrecision` (default fp32): each step runs inside its
            :meth:`~MixedPrecision.autocast` (CUDA bf16 / fp16) and is followed by its
            :meth:`~MixedPrecision.update`; ``validate`` runs in fp32. The step must call the
            object's ``backward`` and ``step``.

    Returns:
        :class:`History`; the modules hold the best epoch's weights and are in eval mode.
    """
    with deterministic():
        return _fit(step, validate, modules, n_train, epochs, batch_size, patience, generator, log, name,
                    log_every, scheduler, device, restore_best, list(optimisers), checkpoint, precision)


def _fit(step, validate, modules, n_train, epochs, batch_size, patience, generator, log, name, log_every,
         scheduler, device, restore_best, optimisers, checkpoint, precision) -> History:
    log = log or logging.getLogger("drugshift.train")
    if device is None:
        params = [p for m in modules for p in m.parameters()]
        device = params[0].device if params else torch.device("cpu")
    device = torch.device(device)
    autocast = contextlib.nullcontext if precision is None else precision.autocast
    hist = History(name=name)
    best_state: list[dict] | None = None
    since_best, first_epoch = 0, 1
    stage = None if checkpoint is None else checkpoint.stage(name)
    tracked = {} if checkpoint is None else {**checkpoint.tracked, "fit.generator": generator}
    tracked = {k: v for k, v in tracked.items() if v is not None}
    saved = None if stage is None else stage.saved()
    if saved is not None:
        resume.restore(saved, modules, optimisers, scheduler, tracked, device)
        hist = History.from_dict(saved["history"])
        if saved["finished"]:
            log.info("[%s] restored from %s (finished: %d epochs)", name, checkpoint.folder, hist.epochs_run)
            for m in modules:
                m.eval()
            return hist
        best_state, since_best, first_epoch = saved["best_state"], saved["since_best"], saved["epoch"] + 1
        log.info("[%s] resuming after epoch %d from %s", name, saved["epoch"], checkpoint.folder)
    for epoch in range(first_epoch, epochs + 1):
        for m in modules:
            m.train()
        # Sums stay where the step left them (tensors on the device) until the epoch ends.
        sums: dict[str, float | Tensor] = {}
        counts: dict[str, int] = {}
        first = True
        for idx in iterate_minibatches(n_train, batch_size, generator, device):
            with autocast():
                out = step(idx)
            if precision is not None:
                precision.update()
            if first and "loss" not in out:
                raise KeyError(f"[{name}] step() must return a dict with a 'loss' entry, got {sorted(out)}")
            first = False
            k = int(idx.numel())
            for key, v in out.items():
                v = v.detach() if isinstance(v, Tensor) else float(v)
                sums[key] = sums.get(key, 0.0) + v * k
                counts[key] = counts.get(key, 0) + k
        for m in modules:
            m.eval()
        with torch.no_grad():
            # Once per epoch: the host needs the value for early stopping and the scheduler.
            val = float(validate())
        means = {k: float(v) / counts[k] for k, v in sums.items()}
        hist.train.append(means.get("loss", math.nan))
        hist.val.append(val)
        for k, v in means.items():
            hist.components.setdefault(k, []).append(v)
        if scheduler is not None:
            scheduler.step(val)
            opt = getattr(scheduler, "optimizer", None)
            if opt is not None:
                hist.lr.append(float(opt.param_groups[0]["lr"]))
        if val < hist.best_val or (math.isnan(hist.best_val) and math.isfinite(val)):
            hist.best_val = val
            hist.best_epoch = epoch
            if restore_best:
                best_state = [copy.deepcopy(m.state_dict()) for m in modules]
            since_best = 0
        else:
            since_best += 1
        stop = patience is not None and patience > 0 and since_best >= patience
        if epoch % max(log_every, 1) == 0 or epoch == epochs or stop:
            log.info(
                "[%s] epoch %d/%d train_loss=%s val=%s best=%s (epoch %d)%s",
                name, epoch, epochs, _fmt(hist.train[-1]), _fmt(val), _fmt(hist.best_val),
                hist.best_epoch, " early stop" if stop else "",
            )
        if stop:
            hist.stopped_early = True
            break
        if stage is not None and stage.due(epoch) and epoch < epochs:
            stage.save({**resume.capture(modules, optimisers, scheduler, tracked, device), "history": hist.to_dict(),
                        "best_state": best_state, "since_best": since_best}, epoch)
    if best_state is not None:
        for m, sd in zip(modules, best_state):
            m.load_state_dict(sd)
    elif epochs > 0 and restore_best:
        log.warning("[%s] no finite validation value in %d epochs; keeping the last weights", name, hist.epochs_run)
    for m in modules:
        m.eval()
    if stage is not None:
        stage.finish({**resume.capture(modules, optimisers, scheduler, tracked, device), "history": hist.to_dict()})
    return hist


def as_float_matrix(x, what: str, n_genes: int | None = None) -> np.ndarray:
    """A model input as a dense float32 ``(samples, genes)`` array, checked.

    Accepts numpy arrays, scipy sparse matrices, pandas frames and torch tensors.

    Raises:
        ValueError: not 2-D, non-finite values (the first one is located), or ``n_genes``
            given and the width differs; each message names ``what``.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    elif hasattr(x, "toarray"):
        x = x.toarray()
    elif hasattr(x, "to_numpy"):
        x = x.to_numpy()
    X = np.asarray(x, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"{what} must be a 2-D (samples × genes) matrix, got shape {X.shape}")
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{what} has non-finite values (first at row {bad[0]}, column {bad[1]})")
    if n_genes is not None and X.shape[1] != n_genes:
        raise ValueError(f"{what} has {X.shape[1]} genes; the model expects {n_genes}")
    return X


def as_binary_labels(y, n_rows: int, what: str = "y", min_per_class: int = 1, why: str = "") -> np.ndarray:
    """Response labels as an ``int64`` vector of 0/1 (1 = sensitive), one per input row, checked.

    Args:
        y: the labels (any array-like).
        n_rows: the number of rows of the matrix they label.
        what: their name in messages.
        min_per_class: the fewest samples each class needs (``why`` says what for).

    Raises:
        ValueError: another count than ``n_rows``, values other than 0/1, or too few of a class.
    """
    y = np.asarray(y).ravel()
    if y.size != n_rows:
        raise ValueError(f"{what} has {y.size} labels but the matrix has {n_rows} rows")
    if not np.isin(y, [0, 1]).all():
        raise ValueError(f"{what} must be 0/1 (1 = sensitive); found values {np.unique(y)[:10].tolist()}")
    y = y.astype(np.int64)
    counts = np.bincount(y, minlength=2)
    if counts.min() < min_per_class:
        raise ValueError(f"need at least {min_per_class} samples of each class{' ' + why if why else ''}; "
                         f"got {counts[0]} resistant (0) and {counts[1]} sensitive (1)")
    return y
