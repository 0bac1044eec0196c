"""On-demand benchmark: seconds per training epoch of scDEAL and CODE-AE, per stage, on a device, in fp32 and bf16.

Trains scDEAL (its four stages) and CODE-AE (``codeae_adv``: warm-up, adversarial pretraining,
the fine-tuning stages of one fold) at the paper's widths (``config/paper.yaml``; CODE-AE's are
the parameter defaults) on generated data of the given size, a fixed number of epochs per stage
with early stopping off, after one untimed epoch per stage (CUDA start-up, cuBLAS handles).
Each stage is timed around its :func:`drugshift.train.fit` call, with the device synchronised
before and after. ``samples_per_s`` counts the rows an epoch iterates over (each joint scDEAL or
CODE-AE pretraining step also draws as many cells / patients). Mixed precision is CUDA-only:
on another device only fp32 is measured. Writes ``benchmarks/results/gpu_throughput.json``
(git-ignored; copy figures into issue notes).

    .venv/bin/python benchmarks/gpu_throughput.py                       # cuda when available, else cpu
    .venv/bin/python benchmarks/gpu_throughput.py --device cpu --threads 2 --cell-lines 200 --cells 400 --epochs 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from drugshift import train
from drugshift.models.codeae import FinetunePlan, PretrainingPlan
from drugshift.models.scdeal import ScDEALModule, ScDEALParams, TrainingData, TrainingPlan
from drugshift.params import resolve_codeae_params
from drugshift.train import resolve_device
from harness import sync, timed_stages

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "gpu_throughput.json"


def summary(records: list[dict]) -> dict:
    """Per stage: epochs, rows per epoch, seconds, seconds per epoch and samples per second."""
    out = {}
    for r in records:
        per_epoch = r["seconds"] / max(r["epochs"], 1)
        out[r["stage"]] = {"epochs": r["epochs"], "rows_per_epoch": r["rows"], "seconds": round(r["seconds"], 4),
                           "seconds_per_epoch": round(per_epoch, 5),
                           "samples_per_s": round(r["rows"] / per_epoch, 1) if per_epoch > 0 else None}
    return out


def scdeal(data: dict, epochs: int, device: torch.device, precision: str, seed: int) -> None:
    """scDEAL's four stages (:class:`~drugshift.models.scdeal.TrainingPlan`) on generated data."""
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["scdeal"]["params"]
    widths = {k: paper[k] for k in ("bulk_hidden", "sc_hidden", "bulk_bottleneck", "predictor_hidden", "dropout",
                                    "noise_p", "batch_size", "lr") if k in paper}
    params = ScDEALParams.from_dict({**widths, "epochs_dae": epochs, "epochs_predictor": epochs,
                                     "epochs_joint": epochs, "patience": 0, "lr_decay_patience": None,
                                     "log_every": 10**6, "seed": seed})
    Xb, yb, Xs, clusters = data["bulk"], data["labels"], data["cells"], data["clusters"]
    module = ScDEALModule(Xb.shape[1], params).to(device)
    plan = TrainingPlan(module, TrainingData.build(Xb, yb, Xs, params, device, clusters), params, precision=precision)
    plan.bulk_dae()
    plan.predictor()
    plan.sc_dae()
    plan.joint()


def codeae(data: dict, epochs: int, device: torch.device, precision: str, seed: int) -> None:
    """CODE-AE-ADV pretraining and the fine-tuning stages of one fold, at the default widths."""
    config = {"seed": seed, "codeae": {"params": {"warmup_epochs": epochs, "pretrain_epochs": epochs,
                                                  "log_every": 10**6},
                                       "finetune": {"max_epochs": 4 * epochs, "patience": 0, "log_every": 10**6}}}
    params = resolve_codeae_params(config, "codeae_adv")
    source, target, y = data["source"], data["target"], data["drug_labels"]
    pre = PretrainingPlan(source, target, params.pretrain, device, precision=precision)
    pre.run()
    n_train = int(0.8 * len(y))
    FinetunePlan(pre.module.shared_encoder, source[:n_train], y[:n_train], source[n_train:], y[n_train:],
                 params.finetune, device, precision=precision).run()


def generated(args) -> dict:
    """Random data of the requested sizes (values in [0, 1] for scDEAL, z-scores for CODE-AE)."""
    rng = np.random.default_rng(args.seed)
    bulk = rng.random((args.cell_lines, args.genes), dtype=np.float32)
    source = rng.standard_normal((args.cell_lines, args.codeae_genes), dtype=np.float32)
    return {"bulk": bulk, "labels": (bulk[:, :20].mean(1) > 0.5).astype(np.int64),
            "cells": rng.random((args.cells, args.genes), dtype=np.float32),
            "clusters": rng.integers(0, 10, args.cells),
            "source": source, "target": rng.standard_normal((args.patients, args.codeae_genes), dtype=np.float32),
            "drug_labels": (source[:, :20].mean(1) > 0).astype(np.int64)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto (cuda when available, else cpu), cpu, cuda or cuda:N")
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=train.PRECISIONS)
    ap.add_argument("--cell-lines", type=int, default=1280, help="bulk cell lines (scDEAL) and source rows (CODE-AE)")
    ap.add_argument("--genes", type=int, default=2000, help="scDEAL genes")
    ap.add_argument("--cells", type=int, default=5000, help="scDEAL cells")
    ap.add_argument("--codeae-genes", type=int, default=1000, help="CODE-AE genes (the paper selects 1,000)")
    ap.add_argument("--patients", type=int, default=10000, help="CODE-AE target rows")
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs of every stage")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--models", nargs="+", default=["scdeal", "codeae"], choices=["scdeal", "codeae"])
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = generated(args)
    runners = {"scdeal": scdeal, "codeae": codeae}
    results: dict = {}
    for precision in args.precisions:
        if device.type != "cuda" and precision != "fp32":
            results[precision] = f"not measured: mixed precision is CUDA-only ({device} trains in fp32)"
            continue
        results[precision] = {}
        for name in args.models:
            runners[name](data, 1, device, precision, args.seed)  # warm-up, untimed
            with timed_stages(device) as records:
                start = time.perf_counter()
                runners[name](data, args.epochs, device, precision, args.seed)
                sync(device)
                total = time.perf_counter() - start
            results[precision][name] = {"stages": summary(records), "seconds_total": round(total, 3)}
            print(f"{precision} {name}: " + ", ".join(f"{s} {v['seconds_per_epoch']:.4f} s/epoch"
                                                     for s, v in results[precision][name]["stages"].items()))
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"host": platform.node(), "platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(), "torch_threads": args.threads},
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "sizes": {"cell_lines": args.cell_lines, "genes": args.genes, "cells": args.cells,
                  "codeae_genes": args.codeae_genes, "patients": args.patients},
        "epochs_per_stage": args.epochs, "seed": args.seed,
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
