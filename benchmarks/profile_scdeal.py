"""On-demand benchmark: where one scDEAL fit spends its time (cProfile).

Profiles one :meth:`ScDEAL.fit` (one model) at the real-data config's A375 settings
(``config/scdeal_realdata.yaml``: bottleneck 512, encoder 256,128, predictor 256,128, dropout
0.1, upsampling, batch 128), ``--epochs`` per stage with early stopping off, on generated data
of A375's size (916 cell lines, 72 sensitive, × 1,417 genes and 108 cells: what the workflow
makes of the shared A375 files) or, with ``--real``, on the real A375 inputs prepared as the
workflow prepares them (:func:`bench_reference.prepare`). Writes the 25 entries with the most
cumulative and the most own ("total") time, and the stage times, to
``benchmarks/results/profile_scdeal.json`` (``--quick``: 2 epochs, under ``results/quick/``).

    .venv/bin/python benchmarks/profile_scdeal.py
    .venv/bin/python benchmarks/profile_scdeal.py --real --epochs 150
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import sys
from pathlib import Path

import numpy as np

import harness

#: A375 as the workflow prepares it from the shared data (bench_reference.prepare).
A375_SIZE = {"cell_lines": 916, "sensitive": 72, "genes": 1417, "cells": 108}
TOP = 25


def generated_a375(seed: int = 0, cells: int | None = None) -> dict:
    """Data of A375's size (``cells`` cells instead of 108 if given), scaled to [0, 1] per gene
    like the workflow's inputs, with a weak shared signal so that the predictor has something
    to learn."""
    rng = np.random.default_rng(seed)
    n, g, c = A375_SIZE["cell_lines"], A375_SIZE["genes"], cells or A375_SIZE["cells"]
    bulk = rng.random((n, g), dtype=np.float32)
    y = np.zeros(n, dtype=np.int64)
    y[np.argsort(bulk[:, :20].mean(axis=1))[-A375_SIZE["sensitive"]:]] = 1
    cells = rng.random((c, g), dtype=np.float32)
    return {"bulk": bulk, "y": y, "cells": cells, "drug": "PLX-4720"}


def short_path(filename: str) -> str:
    """A profile entry's file without the site-packages or repository prefix."""
    root = f"{harness.ROOT}/"
    if filename.startswith(root):
        return filename[len(root):]
    for marker in ("site-packages/", "/src/", "/lib/python"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def top_entries(stats: pstats.Stats, key: str, n: int = TOP) -> list[dict]:
    """The ``n`` entries of ``stats`` with the largest ``key`` (``cumtime`` or ``tottime``):
    ``{"function", "ncalls", "primitive_calls", "tottime", "cumtime"}``."""
    index = {"tottime": 2, "cumtime": 3}[key]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][index], reverse=True)[:n]
    out = []
    for (filename, line, name), (cc, nc, tt, ct, _callers) in rows:
        where = f"{short_path(filename)}:{line}" if line else short_path(filename)
        out.append({"function": f"{where}({name})", "ncalls": nc, "primitive_calls": cc, "tottime": tt, "cumtime": ct})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", action="store_true", help="the real A375 inputs (../shared/data) instead of generated")
    ap.add_argument("--epochs", type=int, default=100, help="epochs of every stage, early stopping off (default 100)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cold", action="store_true",
                    help="profile the process's first fit, with its imports and one-off set-up (default: a "
                         "1-epoch fit on the same data first, so the profile shows the training itself)")
    ap.add_argument("--cells", type=int, default=None,
                    help="generated data with this many cells (A375's cell lines and genes otherwise): where a fit "
                         "spends its time at scale, outside the training stages too; written to "
                         "profile_scdeal_<cells>cells.json")
    ap.add_argument("--quick", action="store_true", help="2 epochs, for checking the code (results/quick/)")
    ap.add_argument("--output", type=Path, default=None, help="results folder (default benchmarks/results)")
    args = ap.parse_args()
    import torch

    from bench_reference import prepare, workflow_config

    from drugshift.models.scdeal import ScDEAL
    from drugshift.params import resolve_scdeal_params

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    epochs = 2 if args.quick else args.epochs
    config = workflow_config()
    params = resolve_scdeal_params(config, "A375").replace(
        epochs_dae=epochs, epochs_sc_dae=None, epochs_predictor=epochs, epochs_joint=epochs, patience=0, ensemble=1,
        log_every=10**6, checkpoint_every=0)
    if args.real and args.cells:
        ap.error("--cells generates its data; it cannot be combined with --real")
    data = prepare("A375", config) if args.real else generated_a375(cells=args.cells)
    sizes = {"cell_lines": int(len(data["y"])), "sensitive": int(np.sum(data["y"])),
             "genes": int(data["cells"].shape[1]), "cells": int(data["cells"].shape[0])}
    warm_up = None
    if not args.cold:  # imports and one-off initialisation (torch.optim's first use imports torch._dynamo, …)
        warm_up = harness.measure("warm-up fit, 1 epoch per stage", sizes, lambda: ScDEAL(
            params.replace(epochs_dae=1, epochs_predictor=1, epochs_joint=1), device="cpu").fit(
            data["bulk"], data["y"], data["cells"]))["wall_s"]
    profiler = cProfile.Profile()

    def fit():
        profiler.enable()
        try:
            ScDEAL(params, device="cpu").fit(data["bulk"], data["y"], data["cells"], drug=data["drug"],
                                             dataset="A375")
        finally:
            profiler.disable()

    kind = "real A375" if args.real else f"generated, {args.cells} cells" if args.cells else "generated, A375-sized"
    record = harness.measure("scDEAL fit under cProfile", {"data": kind,
                                                           **sizes, "epochs": epochs}, fit)
    stats = pstats.Stats(profiler, stream=sys.stderr)
    report = {"quick": args.quick, "threads": args.threads, "epochs": epochs, "real": args.real, "cold": args.cold,
              "data": kind,
              "warm_up_seconds": warm_up, "sizes": sizes,
              "params": params.to_dict(), "record": record, "stages": harness.stage_totals(record["stages"]),
              "profiled_seconds": stats.total_tt, "top_cumulative": top_entries(stats, "cumtime"),
              "top_total": top_entries(stats, "tottime"), "environment": harness.environment()}
    if warm_up is not None:
        print(f"warm-up fit (1 epoch per stage, not profiled): {warm_up:.2f} s")
    print(f"fit {record['wall_s']:.2f} s under cProfile ({stats.total_tt:.2f} s profiled); stages: "
          + ", ".join(f"{s} {v['seconds']:.2f} s" for s, v in report["stages"].items()))
    for title, key in (("cumulative", "top_cumulative"), ("total (own)", "top_total")):
        print(f"top {TOP} by {title} time:")
        for e in report[key]:
            print(f"  {e['cumtime']:9.3f} cum {e['tottime']:9.3f} own {e['ncalls']:>9} calls  {e['function']}")
    out = args.output or (harness.RESULTS / "quick" if args.quick else harness.RESULTS)
    name = f"profile_scdeal_{args.cells}cells" if args.cells else "profile_scdeal"
    print(f"wrote {harness.write_result(name, report, out)}")


if __name__ == "__main__":
    main()
