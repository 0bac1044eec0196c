"""Shared helpers of the on-demand benchmarks (``benchmarks/*.py``; never run in CI).

What a benchmark records, and how:

* :func:`environment` — the machine and the software (CPU model, cores, torch threads, device,
  versions, the repository's commit);
* :func:`measure` — wall time (``time.perf_counter``), CPU time (``getrusage`` of the process
  and its children, user + sys), peak resident memory and the time of every training stage
  (:func:`timed_stages`) of one call;
* :func:`in_subprocess` — one benchmark function in a fresh interpreter (``spawn``), so that
  its peak memory is its own: ``ru_maxrss`` is a process high-water mark, which only grows;
* :func:`matmul_gflops` — the fp32 matrix-multiplication rate torch reaches at a given shape in
  this process (the yardstick of a training stage's achieved FLOP rate, :func:`dae_flops`);
* :func:`loglog_slope` — the exponent of a power law fitted on log10 scales (scaling);
* :func:`write_result` / :func:`read_results` — ``benchmarks/results/<name>.json`` (git-ignored),
  which ``benchmarks/summarise.py`` turns into ``benchmarks/README.md``.

The scripts import this file as ``harness`` (they run as ``python benchmarks/<script>.py``, so
``benchmarks/`` is on ``sys.path``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import math
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Where every benchmark writes its JSON (git-ignored).
RESULTS = HERE / "results"
#: Megabytes per ``ru_maxrss`` unit: kilobytes on Linux, bytes on macOS.
_MAXRSS_PER_MB = 1024.0 ** 2 if sys.platform == "darwin" else 1024.0


# ----------------------------------------------------------------------------- machine


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else :func:`platform.processor`."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_commit(root: Path = ROOT) -> str | None:
    """The commit checked out in ``root`` (``git rev-parse HEAD``; read-only), or ``None``."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _version(module: str) -> str | None:
    """The installed distribution's version of ``module``, or ``None``."""
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def device_name(device) -> str:
    """A readable name of ``device``: the GPU's name on CUDA, else the CPU model."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def sync(device) -> None:
    """Wait for the device's queued work (CUDA); a no-op elsewhere."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def environment(device="cpu") -> dict:
    """The machine and software a measurement ran on.

    Keys: ``date``, ``host``, ``platform``, ``cpu_model`` (``/proc/cpuinfo``), ``logical_cores``,
    ``torch_threads`` (as set now), ``device``, ``device_name``, ``cuda`` (torch's CUDA version or
    ``None``), ``versions`` (python, torch, numpy, scipy, scanpy, drugshift) and ``git_commit``.
    """
    import torch

    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": device_name(device),
        "cuda": torch.version.cuda,
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     **{m: _version(m) for m in ("numpy", "scipy", "scanpy", "drugshift")}},
        "git_commit": git_commit(),
    }


# ----------------------------------------------------------------------------- resources


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its waited-for children so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (MiB): ``ru_maxrss``, a high-water mark
    that only grows (see :func:`reset_peak_rss`)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / _MAXRSS_PER_MB


def rss_mb() -> float | None:
    """This process's current resident memory in MB (``/proc/self/status`` ``VmRSS``; Linux only)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the process's memory high-water mark to its current resident memory (Linux:
    ``echo 5 > /proc/self/clear_refs``, which resets both ``VmHWM`` and ``ru_maxrss``).

    Returns whether it worked; where it does not, :func:`peak_rss_mb` stays the process's peak.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


# ----------------------------------------------------------------------------- stages


@contextlib.contextmanager
def timed_stages(device):
    """Every ``fit`` call of the scDEAL and CODE-AE plans inside the block, timed: a list of
    ``{"stage", "epochs", "rows", "seconds", "peak_rss_mb"}`` (``rows``: the training rows one
    epoch iterates over; ``peak_rss_mb``: the process's memory high-water mark when the stage
    ended). The device is synchronised before and after each stage.

    It patches ``drugshift.train.fit`` as the scDEAL and CODE-AE training plans see it
    (``scdeal_plan.fit``, ``codeae_plan.fit``), so the library runs unchanged.
    """
    from drugshift import train
    from drugshift.models.codeae import plan as codeae_plan
    from drugshift.models.scdeal import plan as scdeal_plan

    records: list[dict] = []

    def timed_fit(*args, **kwargs):
        """``drugshift.train.fit``, timed and recorded."""
        sync(device)
        start = time.perf_counter()
        history = train.fit(*args, **kwargs)
        sync(device)
        records.append({"stage": history.name, "epochs": history.epochs_run, "rows": kwargs["n_train"],
                        "seconds": time.perf_counter() - start, "peak_rss_mb": round(peak_rss_mb(), 1)})
        return history

    saved = scdeal_plan.fit, codeae_plan.fit
    scdeal_plan.fit = codeae_plan.fit = timed_fit
    try:
        yield records
    finally:
        scdeal_plan.fit, codeae_plan.fit = saved


def stage_totals(records: Sequence[Mapping]) -> dict[str, dict]:
    """:func:`timed_stages` records summed per stage name (an ensemble or the folds of CODE-AE
    fine-tuning run a stage several times): ``{stage: {"calls", "epochs", "rows", "seconds"}}``
    (``rows``: of the first call)."""
    out: dict[str, dict] = {}
    for r in records:
        s = out.setdefault(r["stage"], {"calls": 0, "epochs": 0, "rows": r["rows"], "seconds": 0.0})
        s["calls"] += 1
        s["epochs"] += r["epochs"]
        s["seconds"] += r["seconds"]
    return out


def measure(name: str, inputs: Mapping, run: Callable[[], object], *, device="cpu", reset_peak: bool = False) -> dict:
    """Run ``run()`` once and record what it cost.

    Args:
        name: what is measured (kept in the record).
        inputs: the sizes and settings of the run (kept in the record, JSON-able).
        run: the work; whatever it returns goes to the record's ``result`` (a dict is the useful case).
        device: where the work runs (synchronised before the clock stops).
        reset_peak: reset the memory high-water mark first (:func:`reset_peak_rss`), so that
            ``peak_rss_mb`` is the peak during ``run``; otherwise it is the process's peak.
            Either way, compare peaks of runs made in fresh processes (:func:`in_subprocess`).

    Returns:
        ``{"name", "inputs", "wall_s", "cpu_s", "cpu_utilisation" (CPU seconds per wall
        second: 2.0 = two cores busy), "rss_before_mb", "peak_rss_mb", "peak_rss_reset",
        "stages" (:func:`timed_stages` records), "result"}``.
    """
    before = rss_mb()
    was_reset = reset_peak_rss() if reset_peak else False
    cpu0 = cpu_seconds()
    with timed_stages(device) as stages:
        start = time.perf_counter()
        result = run()
        sync(device)
        wall = time.perf_counter() - start
    cpu = cpu_seconds() - cpu0
    return {"name": name, "inputs": dict(inputs), "wall_s": wall, "cpu_s": cpu,
            "cpu_utilisation": cpu / wall if wall > 0 else None, "rss_before_mb": before,
            "peak_rss_mb": peak_rss_mb(), "peak_rss_reset": was_reset, "stages": list(stages), "result": result}


def in_subprocess(func: Callable, *args, **kwargs):
    """``func(*args, **kwargs)`` in a fresh Python process (``multiprocessing`` ``spawn``), and its
    return value; an exception in the child is raised here.

    ``func`` must be importable by the child: a module-level function of a module, or of a
    script that guards its entry point with ``if __name__ == "__main__"``. The child starts with
    its own, small memory high-water mark, so the peak a measurement inside it records is its own.
    """
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(func, *args, **kwargs).result()


# ----------------------------------------------------------------------------- arithmetic


def matmul_gflops(shape: Sequence[int], threads: int | None = None, repeats: int = 7,
                  min_seconds: float = 0.05) -> dict:
    """The fp32 matrix-multiplication rate of torch on the CPU at ``shape = (m, k, n)``
    (``(m × k) @ (k × n)``, ``2·m·k·n`` FLOPs), in this process.

    After two untimed calls, ``repeats`` timings are taken, each of enough back-to-back calls
    to last ``min_seconds``.

    Args:
        threads: torch threads during the measurement (restored after); ``None`` keeps the current.

    Returns:
        ``{"shape", "threads", "gflops" (median of the timings), "gflops_best", "repeats"}``.
    """
    import torch

    m, k, n = (int(v) for v in shape)
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        g = torch.Generator().manual_seed(0)
        a, b = torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)
        out = torch.empty(m, n)
        for _ in range(2):
            torch.mm(a, b, out=out)
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        once = max(time.perf_counter() - start, 1e-7)
        inner = max(1, math.ceil(min_seconds / once))
        flop = 2.0 * m * k * n * inner
        rates = []
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            for _ in range(inner):
                torch.mm(a, b, out=out)
            rates.append(flop / (time.perf_counter() - start) / 1e9)
        return {"shape": [m, k, n], "threads": torch.get_num_threads(), "gflops": statistics.median(rates),
                "gflops_best": max(rates), "repeats": len(rates)}
    finally:
        torch.set_num_threads(previous)


def dae_layers(n_genes: int, hidden: Sequence[int], bottleneck: int) -> list[tuple[int, int]]:
    """The ``(in, out)`` widths of the linear layers of a drugshift denoising autoencoder
    (:class:`drugshift.nn.blocks.DenoisingAutoencoder`): the encoder ``genes → hidden… →
    bottleneck`` and its mirror image, the decoder ``bottleneck → reversed(hidden)… → genes``."""
    widths = [int(n_genes), *(int(h) for h in hidden), int(bottleneck), *(int(h) for h in reversed(hidden)),
              int(n_genes)]
    return list(zip(widths[:-1], widths[1:]))


def dae_flops(n_genes: int, hidden: Sequence[int], bottleneck: int, rows: int = 1, epochs: int = 1) -> float:
    """fp32 FLOPs of training a DAE on ``rows`` rows per epoch for ``epochs`` epochs, counting
    the linear layers only: ``2·k·n`` per row and layer forward, ×3 for forward + backward
    (the backward pass is two products of the forward's size: the input's and the weights'
    gradients), summed over the layers of :func:`dae_layers`.

    Not counted: BatchNorm, ReLU, dropout, masking, the loss, Adam's update and the validation
    pass; the count is the work of the matrix products, which dominate at these widths. (The
    first layer's input gradient is not needed, so ×3 slightly over-counts it.)
    """
    per_row = sum(2 * k * n for k, n in dae_layers(n_genes, hidden, bottleneck))
    return 3.0 * per_row * rows * epochs


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float | None:
    """The exponent ``b`` of ``y ≈ a·x^b``: the slope of a least-squares line through
    ``(log10 x, log10 y)`` (``numpy.polyfit``, degree 1). ``None`` with fewer than two usable
    points (positive ``x`` and ``y``, at least two distinct ``x``)."""
    import numpy as np

    pts = [(float(a), float(b)) for a, b in zip(x, y)
           if a is not None and b is not None and a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)]
    if len({a for a, _ in pts}) < 2:
        return None
    lx, ly = np.log10([a for a, _ in pts]), np.log10([b for _, b in pts])
    return float(np.polyfit(lx, ly, 1)[0])


# ----------------------------------------------------------------------------- results


def jsonable(value):
    """``value`` with numpy scalars and arrays, tuples and paths made plain JSON values, and
    non-finite floats as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_result(name: str, record: Mapping, folder: Path | str = RESULTS) -> Path:
    """Write ``record`` to ``<folder>/<name>.json`` (pretty JSON, sorted keys, NaN → null) and
    return the path."""
    path = Path(folder) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(record), indent=1, sort_keys=True) + "\n")
    return path


def read_results(folder: Path | str = RESULTS) -> dict[str, dict]:
    """Every ``<folder>/*.json`` as ``{name: record}`` (a file that is not valid JSON is skipped)."""
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return out
