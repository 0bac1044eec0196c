"""Training checkpoints: a killed training job resumes where it stopped and ends with the
weights an uninterrupted run gives (bit for bit on CPU).

One job (one model's training, which calls :func:`drugshift.train.fit` once per stage) has one
folder::

    <folder>/
      fingerprint.json   what the checkpoints belong to: the parameters and the inputs' checksums
      stage-000.pt       the state at the end of each finished stage (fit call), in call order
      current.pt         the state after the latest checkpointed epoch of the unfinished stage

A state holds the stage's modules and optimisers, its scheduler, the early-stopping state (best
value, the best epoch's weights, epochs since), the history so far, the global random states
(torch CPU, NumPy, Python ``random`` and, on CUDA, the generator of the training device only,
so that a job resumed on another GPU index restores it there) and every generator or stateful
object the plan :meth:`~Checkpoints.track`\\ s (minibatch order, masks, step counters, the
fp16 loss scale). Files are written to a temporary name and renamed, so a kill never leaves
half a checkpoint, and read with ``torch.load(weights_only=True)``.

Resuming is a replay: the plan runs from its start as usual; a ``fit`` call for a finished stage
restores that stage's end state instead of training, so the code between stages (drawing the
next part's initial weights from the global generator, copying weights, …) runs on exactly the
state it saw the first time; the unfinished stage restores its latest epoch and goes on. Hence
the contract for plans: everything a step changes lives in the modules and optimisers given to
``fit``, the global random generators, or what the plan tracks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

import drugshift

__all__ = ["Checkpoints", "Stage", "fingerprint", "module_sha256", "open_checkpoints"]

#: Bumped when the content of a checkpoint changes; older checkpoints are then ignored.
CHECKPOINT_VERSION = 1
FINGERPRINT, CURRENT = "fingerprint.json", "current.pt"
#: Parameters that change no result, left out of the fingerprint.
NEUTRAL_PARAMS = ("checkpoint_every", "log_every")

_log = logging.getLogger("drugshift.resume")


def _strip(value):
    if isinstance(value, Mapping):
        return {str(k): _strip(v) for k, v in value.items() if k not in NEUTRAL_PARAMS}
    if isinstance(value, (list, tuple)):
        return [_strip(v) for v in value]
    return value


def fingerprint(job: str, params: Mapping, device: str | torch.device, precision: str = "fp32",
                **inputs: str) -> dict:
    """What a job's checkpoints are valid for: ``job`` (e.g. ``scdeal``), the resolved
    ``params`` (without :data:`NEUTRAL_PARAMS`), the device type (CPU and CUDA round
    differently), the training precision (only when not ``fp32``, so that fp32 checkpoints
    keep their fingerprint), the input checksums ``inputs`` (name → sha256) and the versions of
    drugshift and of the checkpoint format."""
    out = {"job": job, "params": _strip(params), "device": torch.device(device).type, "inputs": dict(inputs),
           "drugshift": drugshift.__version__, "checkpoint_version": CHECKPOINT_VERSION}
    if precision != "fp32":
        out["precision"] = precision
    return out


def module_sha256(module: nn.Module) -> str:
    """sha256 of a module's state (names, dtypes, shapes and bytes): a pretrained encoder as an
    input of a fingerprint."""
    digest = hashlib.sha256()
    for name, t in module.state_dict().items():
        t = t.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def open_checkpoints(folder: str | Path | None, job: str, params: Mapping, every: int, device: str | torch.device,
                     log: logging.Logger | None = None, *, precision: str = "fp32",
                     **inputs) -> Checkpoints | None:
    """The :class:`Checkpoints` of one job in ``folder`` (``None`` when ``folder`` is ``None``).

    Args:
        job, params, device, precision: as for :func:`fingerprint` (``precision``: the one the
            training uses, :func:`drugshift.train.resolve_precision`).
        every: epochs between checkpoints (0: none).
        inputs: what the job trains on, by name: arrays (hashed with
            :func:`drugshift.cards.array_sha256`), modules (:func:`module_sha256`) or checksums;
            ``None`` values are left out.
    """
    if folder is None:
        return None
    from drugshift.cards import array_sha256

    sums = {name: (v if isinstance(v, str) else module_sha256(v) if isinstance(v, nn.Module) else array_sha256(v))
            for name, v in inputs.items() if v is not None}
    return Checkpoints(folder, fingerprint(job, params, device, precision, **sums), every, log)


def _atomic_save(obj, path: Path) -> None:
    """``torch.save`` to a temporary sibling, then rename: readers see the old file or the new
    one. (Not ``mkstemp``: its mode 0600 would survive the rename, and a group-shared results
    folder could not be resumed by another member; one job owns the folder, so the process id
    makes the name unique.)"""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- random states


def _cuda(device: str | torch.device | None) -> torch.device | None:
    """``device`` when it is a CUDA device (with its index), else ``None``."""
    if device is None:
        return None
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return device if device.index is not None else torch.device("cuda", torch.cuda.current_device())


def _random_states(device: str | torch.device | None = None) -> dict:
    """The global random states; of CUDA only the training ``device``'s generator (one state,
    not one per visible GPU: a job resumed on another GPU index restores it there)."""
    np_state = np.random.get_state()
    states = {"torch": torch.get_rng_state(), "python": random.getstate(),
              "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:])}
    cuda = _cuda(device)
    if cuda is not None:
        states["cuda"] = torch.cuda.get_rng_state(cuda)
    return states


def _set_random_states(states: Mapping, device: str | torch.device | None = None) -> None:
    torch.set_rng_state(states["torch"])
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    cuda, state = _cuda(device), states.get("cuda")
    if cuda is None or state is None:
        return
    if isinstance(state, (list, tuple)):  # an earlier format: one state per visible GPU, by index
        if cuda.index >= len(state):
            return
        state = state[cuda.index]
    torch.cuda.set_rng_state(state, cuda)


def _state_of(obj):
    return obj.get_state() if isinstance(obj, torch.Generator) else obj.state_dict()


def _set_state_of(obj, state) -> None:
    if isinstance(obj, torch.Generator):
        obj.set_state(state)
    else:
        obj.load_state_dict(state)


def capture(modules: Sequence[nn.Module], optimisers: Sequence[torch.optim.Optimizer], scheduler,
            tracked: Mapping[str, object], device: str | torch.device | None = None) -> dict:
    """The training state of one stage (see the module docstring), ready for ``torch.save``;
    ``device``: the training device (a CUDA device's random state is kept)."""
    return {"modules": [m.state_dict() for m in modules], "optimisers": [o.state_dict() for o in optimisers],
            "scheduler": None if scheduler is None else scheduler.state_dict(),
            "random": _random_states(device), "tracked": {k: _state_of(v) for k, v in tracked.items()}}


def restore(state: Mapping, modules: Sequence[nn.Module], optimisers: Sequence[torch.optim.Optimizer], scheduler,
            tracked: Mapping[str, object], device: str | torch.device | None = None) -> None:
    """Put a :func:`capture`\\ d state back into the same (freshly built) objects; the CUDA
    random state goes to ``device``, the training device now (whatever its index then)."""
    for m, sd in zip(modules, state["modules"], strict=True):
        m.load_state_dict(sd)
    for o, sd in zip(optimisers, state["optimisers"], strict=True):
        o.load_state_dict(sd)
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    for name, obj in tracked.items():
        _set_state_of(obj, state["tracked"][name])
    _set_random_states(state["random"], device)


# --------------------------------------------------------------------------- the folder


class Checkpoints:
    """The checkpoint folder of one training job.

    Opening it checks ``fingerprint.json``: checkpoints written for other parameters or inputs
    are deleted (logged, naming what differs) and the job starts afresh. Nothing is written
    until the first checkpoint, and nothing at all when ``every`` is 0.

    Args:
        folder: the job's folder (e.g. ``<model folder>.resume`` beside the output).
        fingerprint: :func:`fingerprint` of the job.
        every: checkpoint every ``every`` epochs of a stage (0: never); the end of every stage
            is always kept.
        log: logger for what was resumed or discarded.
    """

    def __init__(self, folder: str | Path, fingerprint: Mapping, every: int, log: logging.Logger | None = None):
        self.folder, self.every = Path(folder), int(every)
        self.fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))
        self.log = log or _log
        self.tracked: dict[str, object] = {}
        self._next_stage = 0
        if self.every > 0 and self.folder.exists():
            self._check()

    def _check(self) -> None:
        try:
            old = json.loads((self.folder / FINGERPRINT).read_text())
        except (OSError, ValueError):
            old = None
        if old == self.fingerprint:
            stages = sorted(self.folder.glob("stage-*.pt"))
            self.log.info("resuming from the checkpoints in %s (%d finished stages%s)", self.folder, len(stages),
                          ", one unfinished" if (self.folder / CURRENT).exists() else "")
            return
        differ = ("no fingerprint" if not isinstance(old, dict) else
                  ", ".join(_differences(old, self.fingerprint)) or "format")
        self.log.warning("checkpoints in %s belong to another training (differs: %s); starting afresh",
                         self.folder, differ)
        shutil.rmtree(self.folder)

    def track(self, **objects) -> None:
        """Keep the state of these generators (``torch.Generator``) or objects with
        ``state_dict``/``load_state_dict`` in every checkpoint, under these names (a name given
        again replaces the earlier object: a new plan of the same job)."""
        self.tracked.update(objects)

    def stage(self, name: str) -> Stage:
        """The next stage of the job (stages are numbered in call order)."""
        stage = Stage(self, self._next_stage, name)
        self._next_stage += 1
        return stage

    def _write(self, obj, filename: str) -> None:
        try:
            if not self.folder.exists():
                self.folder.mkdir(parents=True)
                (self.folder / FINGERPRINT).write_text(json.dumps(self.fingerprint, indent=1, sort_keys=True))
            _atomic_save(obj, self.folder / filename)
        except (OSError, RuntimeError) as e:  # torch reports a full disk as RuntimeError
            # A checkpoint only saves time on a rerun: the training goes on without it.
            self.log.warning("%s: could not write a training checkpoint (%s); training goes on without it",
                             self.folder / filename, e)

    def _read(self, filename: str) -> dict | None:
        path = self.folder / filename
        if self.every <= 0 or not path.is_file():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # a checkpoint is a cache: a bad one costs time, not the job
            self.log.warning("%s: unreadable checkpoint (%s); training that stage afresh", path, e)
            return None

    def discard(self) -> None:
        """Delete the folder (the job has finished)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _differences(old: Mapping, new: Mapping, prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    out = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}")
    return out


class Stage:
    """One ``fit`` call of a job: what it can restore, and where it writes."""

    def __init__(self, checkpoints: Checkpoints, index: int, name: str):
        self.checkpoints, self.index, self.name = checkpoints, index, name
        self.filename = f"stage-{index:03d}.pt"

    def saved(self) -> dict | None:
        """The state to start from: this stage's end state when it finished before, else its
        latest epoch, else ``None``. A state written for a stage of another name (the plan
        changed) is ignored."""
        c = self.checkpoints
        for filename in (self.filename, CURRENT):
            state = c._read(filename)
            if state is not None and state.get("stage") == self.index:
                if state.get("name") == self.name:
                    return state
                c.log.warning("%s: checkpoint of stage %r, not %r; training afresh", c.folder / filename,
                              state.get("name"), self.name)
        return None

    def due(self, epoch: int) -> bool:
        every = self.checkpoints.every
        return every > 0 and epoch % every == 0

    def save(self, state: dict, epoch: int) -> None:
        """Keep the state after ``epoch`` of this unfinished stage."""
        self.checkpoints._write({**state, "stage": self.index, "name": self.name, "epoch": epoch,
                                 "finished": False}, CURRENT)

    def finish(self, state: dict) -> None:
        """Keep this stage's end state (the epoch checkpoint it replaces is deleted)."""
        if self.checkpoints.every <= 0:
            return
        self.checkpoints._write({**state, "stage": self.index, "name": self.name, "finished": True}, self.filename)
        (self.checkpoints.folder / CURRENT).unlink(missing_ok=True)
