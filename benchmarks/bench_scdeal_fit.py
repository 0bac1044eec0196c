"""On-demand benchmark: scDEAL training time at a given problem size, on CPU or GPU.

Times a full ``ScDEAL.fit`` on random data shaped like the paper's problem (by default
1,280 cell lines × 2,000 genes and 5,000 cells; all sizes are options) with a fixed number of
epochs per stage and early stopping off, so that runs on different devices do the same work.
Appends one row per run to ``benchmarks/results/scdeal_fit.tsv``.

    .venv/bin/python benchmarks/bench_scdeal_fit.py --device cpu --threads 2
    .venv/bin/python benchmarks/bench_scdeal_fit.py --device cuda --genes 15962 --cells 20000
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from drugshift.models.scdeal import ScDEAL
from drugshift.train import resolve_device
from harness import sync

RESULTS = Path(__file__).resolve().parent / "results" / "scdeal_fit.tsv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell-lines", type=int, default=1280)
    ap.add_argument("--genes", type=int, default=2000)
    ap.add_argument("--cells", type=int, default=5000)
    ap.add_argument("--epochs", type=int, default=20, help="epochs of every stage")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    x_bulk = rng.random((args.cell_lines, args.genes), dtype=np.float32)
    y_bulk = (x_bulk[:, :20].mean(1) > 0.5).astype(int)
    x_cells = rng.random((args.cells, args.genes), dtype=np.float32)
    params = {"epochs_dae": args.epochs, "epochs_predictor": args.epochs, "epochs_joint": args.epochs,
              "patience": 0, "seed": args.seed, "leiden_neighbors": "gauss", "log_every": 10**6}
    device = resolve_device(args.device)
    start = time.perf_counter()
    result = ScDEAL(params, device=device).fit(x_bulk, y_bulk, x_cells)
    sync(device)
    seconds = time.perf_counter() - start
    epochs = sum(h.epochs_run for h in result.history.values())
    row = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "threads": args.threads, "cell_lines": args.cell_lines, "genes": args.genes, "cells": args.cells,
        "epochs_total": epochs, "seconds": round(seconds, 2), "seconds_per_epoch": round(seconds / max(epochs, 1), 4),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([row]).to_csv(RESULTS, sep="\t", index=False, mode="a", header=not RESULTS.exists())
    print("\t".join(f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
