"""Which GPU a process trains on: one device per job, never one that another running job holds.

Two situations, told apart by the environment:

* **A scheduler gave the job its GPUs** (a SLURM, PBS/Torque or LSF job with
  ``CUDA_VISIBLE_DEVICES`` set): the visible devices are this job's, so the job uses the first of
  them, ``cuda:0``, and takes no lock (with cgroups, jobs on one node each see their own GPU as
  device 0, so their ids are not comparable).
* **Otherwise** (a workstation, ``snakemake --resources gpu=N``): each process claims the first
  visible device that no other process holds, by an exclusive ``fcntl.flock`` on one lock file
  per device in :func:`lock_dir`. The lock is held by an open file of the process and is released
  by the kernel when the process ends, however it ends (a crash or SIGKILL leaves no stale lock).
  Lock files are named after the physical device (its ``CUDA_VISIBLE_DEVICES`` entry when that is
  set, else its index), so shells with different ``CUDA_VISIBLE_DEVICES`` still see each other's
  claims. When every device is held (more GPU jobs than GPUs: ``--resources gpu=N`` missing or
  above the number of GPUs), the process shares one and logs a warning instead of waiting.

A process claims at most one device, once: later calls of :func:`acquire_gpu` (every model's
``device="auto"`` or ``"cuda"``, :func:`drugshift.train.resolve_device`) return the same index.
An explicit ``cuda:N`` bypasses all of this.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Claim", "acquire_gpu", "claim_device", "lock_dir", "release_gpu", "scheduler_assigned", "visible_keys"]

log = logging.getLogger(__name__)

#: Environment variables that mark a process as a batch scheduler's job (SLURM, PBS/Torque, LSF).
SCHEDULER_JOB_VARS = ("SLURM_JOB_ID", "PBS_JOBID", "LSB_JOBID")
#: Overrides the folder of the lock files (default: ``/tmp/drugshift-gpu-locks``).
LOCK_DIR_VAR = "DRUGSHIFT_GPU_LOCK_DIR"
#: The machine-wide temporary folder holding the lock files' folder.
MACHINE_TMP = "/tmp"


@dataclass
class Claim:
    """A device held by this process: ``index`` among the visible devices (``cuda:<index>``),
    ``key`` its physical name, ``fd`` the open lock file (None when not locked)."""

    index: int
    key: str
    fd: int | None = None
    path: Path | None = None

    def release(self) -> None:
        """Give the device back (closing the lock file); process exit does the same."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


_held: Claim | None = None


def scheduler_assigned(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a batch scheduler chose this job's GPUs: a scheduler job with
    ``CUDA_VISIBLE_DEVICES`` set (to a non-empty value)."""
    env = os.environ if environ is None else environ
    return bool(env.get("CUDA_VISIBLE_DEVICES", "").strip()) and any(env.get(v) for v in SCHEDULER_JOB_VARS)


def visible_keys(count: int, environ: Mapping[str, str] | None = None) -> list[str]:
    """Physical names of the ``count`` visible devices, in CUDA's order: the entries of
    ``CUDA_VISIBLE_DEVICES`` (indices, ``GPU-<uuid>`` or ``MIG-…``) when set, else ``0 … count-1``."""
    env = os.environ if environ is None else environ
    raw = env.get("CUDA_VISIBLE_DEVICES")
    if raw is None or not raw.strip():
        return [str(i) for i in range(count)]
    entries = [e.strip() for e in raw.split(",") if e.strip()]
    # CUDA stops at the first invalid entry; torch's count says how many it accepted.
    keys = entries[:count]
    return keys + [f"{raw.strip()}#{i}" for i in range(len(keys), count)]


def _machine_tmp() -> Path:
    """The machine's temporary folder: /tmp, not ``$TMPDIR`` (Snakemake may give each job its own)."""
    return Path(MACHINE_TMP) if Path(MACHINE_TMP).is_dir() else Path(tempfile.gettempdir())


def lock_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The folder of the per-device lock files: ``$DRUGSHIFT_GPU_LOCK_DIR``, else
    ``/tmp/drugshift-gpu-locks``, shared by every user of the machine (sticky and world-writable,
    like /tmp), else, where that cannot be used, ``/tmp/drugshift-gpu-locks-<uid>``."""
    env = os.environ if environ is None else environ
    if env.get(LOCK_DIR_VAR):
        path = Path(env[LOCK_DIR_VAR])
        path.mkdir(parents=True, exist_ok=True)
        return path
    shared = _machine_tmp() / "drugshift-gpu-locks"
    try:
        shared.mkdir(exist_ok=True)
        if shared.stat().st_uid == os.getuid():
            os.chmod(shared, 0o1777)  # every user's jobs see each other's claims
        if os.access(shared, os.W_OK | os.X_OK):
            return shared
    except OSError:
        pass
    own = _machine_tmp() / f"drugshift-gpu-locks-{os.getuid()}"
    own.mkdir(mode=0o700, exist_ok=True)
    return own


def _lock_name(key: str) -> str:
    return "gpu-" + re.sub(r"[^A-Za-z0-9_.-]", "_", key) + ".lock"


def _try_lock(path: Path) -> int | None:
    """An open file of ``path`` holding its exclusive lock, or None when another holds it.
    Opened read-only (flock needs no write access), so another user's lock file works too."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def claim_device(keys: Sequence[str], directory: str | Path) -> Claim | None:
    """Claim the first device of ``keys`` (physical names, in index order) whose lock file in
    ``directory`` no one holds; None when every one is held. Each call opens its own lock files,
    so two calls, in one process or two, never get the same device while both hold it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for index, key in enumerate(keys):
        path = directory / _lock_name(key)
        try:
            fd = _try_lock(path)
        except OSError as err:  # an unreadable lock file of another user: treat the device as held
            log.warning("GPU lock file %s cannot be used (%s); skipping device %s", path, err, key)
            continue
        if fd is not None:
            return Claim(index, key, fd, path)
    return None


def acquire_gpu() -> int | None:
    """The index of this process's CUDA device (``cuda:<index>``), claimed on the first call and
    kept until the process ends; None without CUDA. See the module's docstring for how it is
    chosen."""
    global _held
    if _held is not None:
        return _held.index
    import torch

    if not torch.cuda.is_available():
        return None
    count = torch.cuda.device_count()
    if count < 1:
        return None
    if scheduler_assigned():
        _held = Claim(0, "scheduler")
        log.info("GPU: cuda:0 of the devices the scheduler gave this job (CUDA_VISIBLE_DEVICES=%s)",
                 os.environ["CUDA_VISIBLE_DEVICES"])
        return 0
    keys = visible_keys(count)
    directory = lock_dir()
    claim = claim_device(keys, directory)
    if claim is None:
        index = os.getpid() % count
        claim = Claim(index, keys[index])
        log.warning("GPU: all %d visible devices are held by other jobs (lock files in %s); sharing cuda:%d. "
                    "Bound concurrent GPU jobs with `snakemake --resources gpu=<number of GPUs>`.",
                    count, directory, index)
    else:
        log.info("GPU: cuda:%d (device %s, lock %s)", claim.index, claim.key, claim.path)
    _held = claim
    return claim.index


def release_gpu() -> None:
    """Give back this process's device (tests; a process's end does it anyway)."""
    global _held
    if _held is not None:
        _held.release()
        _held = None
