"""On-demand benchmark: drugshift's scDEAL next to the published reference code's timings, on real data.

Two datasets of ``config/scdeal_realdata.yaml`` (the shared data, ``../shared/data``):
PC9 / erlotinib (GSE147405; bulk GDSC2 labels on the GDSC z-score expression) and A375 /
PLX-4720. Their inputs are prepared as the workflow prepares them, by the same library calls
(rules tidy_bulk_response, tidy_bulk_expression, bulk_labels, tidy_sc, preprocess_sc,
train_scdeal, predict_scdeal, evaluate_scdeal; only the files between rules are skipped), and
each (dataset, mode) runs in a fresh process so that its peak memory is its own.

Modes:

* ``stages`` — one model (ensemble 1, seed 42) at the reference's settings (PC9: DAE,
  bottleneck 64, encoder 512,256, predictor 256,128, dropout 0.3, upsampling; A375: the real-data
  config's 512 / 256,128 / 256,128 / 0.1 / upsampling), ``--epochs`` per stage (500) with early
  stopping off (``patience: 0``), batch 200. Records the seconds of every stage, the process's
  peak memory, and for the two DAE stages the achieved GFLOP/s (:func:`harness.dae_flops`)
  next to the fp32 matmul rate measured in the same process at the DAE's first-layer shape
  (batch × genes × first hidden width) and at 2048³.
* ``end_to_end`` — the real-data config's parameters for the dataset, early stopping included,
  from the raw files to the cells' AUROC and F1 (:func:`drugshift.predict.transfer_metrics`):
  one model, and for A375 also the config's ensemble of 5.

The reference numbers (constants below) are printed next to ours with pass/fail on the targets.
Writes ``benchmarks/results/reference_<dataset>_<mode>.json`` (``--quick``: under
``results/quick/``, a tiny check of the code, not a measurement).

    .venv/bin/python benchmarks/bench_reference.py                          # both datasets, both modes
    .venv/bin/python benchmarks/bench_reference.py --dataset a375 --mode end_to_end
    .venv/bin/python benchmarks/bench_reference.py --quick --dataset pc9 --mode stages
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

import harness

#: The real-data experiment whose settings and files the benchmark uses.
CONFIG = harness.ROOT / "config" / "scdeal_realdata.yaml"
#: ``--dataset`` → the config's dataset name.
DATASETS = {"pc9": "PC9", "a375": "A375"}
MODES = ("stages", "end_to_end")
SOURCE = "timed on a 2-core machine of this kind, published scDEAL code at its settings"
#: The published scDEAL code's timings (seconds, GB) and accuracy (:data:`SOURCE`). The stage
#: rows of PC9 are at 500 epochs per stage; "bulk stage" and "single-cell stage" are the
#: reference's two scripts (bulk model; single-cell model), each with its own data loading.
REFERENCE = {
    "pc9": {"seconds": {"bulk DAE": 293, "predictor": 132, "bulk stage": 432, "sc DAE": 228, "joint": 313,
                        "single-cell stage": 575, "end to end": 1007},
            "peak_gb": {"bulk stage": 1.1, "single-cell stage": 2.3}},
    "a375": {"seconds": {"end to end": 340}, "peak_gb": {"end to end": 1.05}, "auroc": 0.987, "f1": 0.784},
}
#: The targets: DAE stages at ≥ 60 % of the matmul rate at their first layer's shape; the
#: predictor and joint stages in ≤ 1/10 of the reference's time; end to end at least the
#: reference's accuracy in ≤ 1/5 of its wall time and ≤ 1.0 GB peak.
TARGETS = {"dae_fraction_of_matmul": 0.6, "stage_time_fraction": 0.1, "end_to_end_time_fraction": 0.2,
           "end_to_end_peak_gb": 1.0}
#: MB (MiB, as ``ru_maxrss`` counts) per GB in every comparison.
MB_PER_GB = 1024.0
#: The reference's settings of the stage timings (widths of the real-data config, the reference's batch).
STAGE_BATCH = 200
#: ``--quick``: raw cells drawn before QC (about 1 in 8 PC9 cells passes it), bulk genes, epochs.
QUICK = {"cells": 600, "genes": 500, "epochs": 2}


# ----------------------------------------------------------------------------- the workflow's inputs


def workflow_config() -> dict:
    """``config/scdeal_realdata.yaml`` with the workflow schema's defaults filled in
    (:func:`drugshift.configfile.check_config_file`, what ``snakemake --configfile`` sees), its
    file paths made absolute (they are relative to the repository root), and every dataset's
    ``values`` / ``normalised`` set as ``workflow/rules/common.smk`` sets them."""
    from drugshift.configfile import check_config_file
    from drugshift.io.sc_formats import values_of

    config = check_config_file(CONFIG, harness.ROOT)

    def absolute(path):
        return str((harness.ROOT / path).resolve())

    config["bulk"]["response"] = [absolute(p) for p in config["bulk"]["response"]]
    config["bulk"]["expression"] = {k: absolute(v) for k, v in config["bulk"]["expression"].items()}
    if "sample_info" in config["bulk"]:
        config["bulk"]["sample_info"] = absolute(config["bulk"]["sample_info"])
    for ds in config["sc"]["datasets"].values():
        for key in ("path", "metadata"):
            if key in ds:
                ds[key] = absolute(ds[key])
        if "files" in ds:
            ds["files"] = {k: absolute(v) for k, v in ds["files"].items()}
        ds["values"] = values_of(ds)
        ds["normalised"] = ds["values"] == "normalised"
    return config


def prepare(dataset: str, config: dict, quick: bool = False, seed: int = 0) -> dict:
    """The inputs of rule ``train_scdeal`` for ``dataset`` (a config name, ``PC9`` / ``A375``),
    made by the workflow's own library calls, in the workflow's order:

    tidy_bulk_response (:func:`~drugshift.io.gdsc.read_gdsc_response` of each file, concatenated),
    tidy_bulk_expression (:func:`~drugshift.io.bulk.read_bulk_expression`), bulk_labels
    (:func:`~drugshift.labels.binarise_drug`), tidy_sc (:func:`~drugshift.io.sc_formats.load_dataset`,
    :func:`~drugshift.io.sc_formats.dataset_labels`), preprocess_sc
    (:func:`~drugshift.preprocess.qc_and_normalise`, :func:`~drugshift.preprocess.align_to_bulk`)
    and train_scdeal's :func:`~drugshift.preprocess.labelled_bulk`.

    ``quick``: a random subsample of :data:`QUICK` cells (before QC) and bulk genes, for checking
    the code only.

    Returns:
        ``{"cells" (processed AnnData, ground truth in .obs['response']), "bulk" (labelled,
        aligned, scaled cell lines), "y", "drug", "seconds" (per step), "sizes"}``.
    """
    import pandas as pd

    from drugshift.io.bulk import read_bulk_expression
    from drugshift.io.gdsc import read_gdsc_response
    from drugshift.io.sc_formats import dataset_labels, load_dataset
    from drugshift.labels import binarise_drug
    from drugshift.preprocess import QCParams, align_to_bulk, labelled_bulk, qc_and_normalise

    ds = config["sc"]["datasets"][dataset]
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[step] = now - clock
        clock = now

    # Bulk side (the reference's bulk script reads its bulk data likewise).
    response = pd.concat([read_gdsc_response(p) for p in config["bulk"]["response"]], ignore_index=True)
    lap("bulk: read responses (tidy_bulk_response)")
    paths = {name: config["bulk"]["expression"][name] for name in ("gdsc", "ccle") if name in config["bulk"]["expression"]}
    expression = read_bulk_expression(paths, config["bulk"].get("sample_info"))
    expression.attrs.pop("source_of", None)
    lap("bulk: read expression (tidy_bulk_expression)")
    labels = binarise_drug(response, ds["drug"], config["labels"]["method"], config["labels"]["datasets"])
    lap("bulk: labels (bulk_labels)")
    rng = np.random.default_rng(seed)
    if quick:
        keep = np.sort(rng.choice(expression.shape[1], size=min(QUICK["genes"], expression.shape[1]), replace=False))
        expression = expression.iloc[:, keep]
    # Single-cell side.
    data = dict(ds["files"]) if "files" in ds else ds["path"]
    raw = load_dataset(ds, data, metadata=ds.get("metadata"), orthologs=config["sc"].get("orthologs"))
    raw.obs["response"] = dataset_labels(raw, ds["label"]).to_numpy()
    raw.uns["drug"] = ds["drug"]
    lap("cells: read and label (tidy_sc)")
    if quick and raw.n_obs > QUICK["cells"]:
        raw = raw[np.sort(rng.choice(raw.n_obs, size=QUICK["cells"], replace=False))].copy()
    qc = QCParams.from_dict({**config["preprocess"]["sc"], "normalised": ds["normalised"]})
    cells = qc_and_normalise(raw, qc, name=dataset)
    lap("cells: QC and normalise (preprocess_sc)")
    cells, bulk = align_to_bulk(cells, expression, scaling=qc.scaling)
    lap("cells: align genes and scale (preprocess_sc)")
    X, y = labelled_bulk(bulk, labels)
    lap("bulk: labelled cell lines (train_scdeal)")
    truth = cells.obs["response"]
    sizes = {"cells_raw": int(raw.n_obs), "genes_raw": int(raw.n_vars), "cells": int(cells.n_obs),
             "genes": int(cells.n_vars), "cell_lines": int(len(y)), "cell_lines_sensitive": int(y.sum()),
             "cells_sensitive": int((truth == 1).sum()), "cells_resistant": int((truth == 0).sum())}
    return {"cells": cells, "bulk": X, "y": y, "drug": ds["drug"], "seconds": seconds, "sizes": sizes}


def stage_params(config: dict, dataset: str, epochs: int):
    """The stage timings' parameters: the real-data config's for ``dataset``
    (:func:`~drugshift.params.resolve_scdeal_params`, the reference's widths) with ``epochs``
    per stage, early stopping off (``patience: 0``), the reference's batch of 200 and one model."""
    from drugshift.params import resolve_scdeal_params

    return resolve_scdeal_params(config, dataset).replace(
        epochs_dae=epochs, epochs_sc_dae=None, epochs_predictor=epochs, epochs_joint=epochs, patience=0,
        batch_size=STAGE_BATCH, ensemble=1, log_every=10**6, checkpoint_every=0)


def end_to_end_params(config: dict, dataset: str, ensemble: int, epochs: int | None = None):
    """The real-data config's parameters for ``dataset`` (early stopping as configured) with
    ``ensemble`` members; ``epochs`` (``--quick``) caps every stage."""
    from drugshift.params import resolve_scdeal_params

    params = resolve_scdeal_params(config, dataset).replace(ensemble=ensemble, log_every=10**6, checkpoint_every=0)
    if epochs is not None:
        params = params.replace(epochs_dae=epochs, epochs_sc_dae=None, epochs_predictor=epochs, epochs_joint=epochs)
    return params


def train_and_score(data: dict, params, dataset: str) -> dict:
    """Rules train_scdeal, predict_scdeal and evaluate_scdeal on prepared inputs:
    :func:`~drugshift.models.scdeal.new_scdeal` ``.fit``, :func:`~drugshift.predict.scdeal_predictions`,
    :func:`~drugshift.predict.transfer_metrics`. Returns the seconds of each and the metrics."""
    from drugshift.models.scdeal import new_scdeal
    from drugshift.predict import scdeal_predictions, transfer_metrics

    start = time.perf_counter()
    model = new_scdeal(params, device="cpu").fit(data["bulk"], data["y"], data["cells"], drug=data["drug"],
                                                 dataset=dataset)
    fitted = time.perf_counter()
    predictions = scdeal_predictions(model, data["cells"])
    predicted = time.perf_counter()
    metrics = transfer_metrics(predictions)
    keep = ("auroc", "f1", "f1_weighted", "ap", "precision", "recall")
    return {"seconds": {"fit (train_scdeal)": fitted - start, "predict (predict_scdeal)": predicted - fitted,
                        "evaluate (evaluate_scdeal)": time.perf_counter() - predicted},
            "metrics": {kind: {k: metrics[kind][k] for k in keep} for kind in ("transfer", "no_transfer")},
            "label_rule": metrics["label_rule"]}


# ----------------------------------------------------------------------------- the two modes (child processes)


def _start(threads: int) -> None:
    """A child process's set-up: warnings-level logging, ``threads`` torch threads."""
    import torch

    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(threads)


def run_stages(dataset: str, epochs: int, threads: int, quick: bool) -> dict:
    """Mode ``stages`` of ``dataset`` (``pc9`` / ``a375``) in this process (run it in a fresh one)."""
    _start(threads)
    config = workflow_config()
    name = DATASETS[dataset]
    params = stage_params(config, name, epochs)
    state: dict = {}

    def work():
        state["data"] = data = prepare(name, config, quick)
        out = train_and_score(data, params, name)
        return {"prepare_seconds": data["seconds"], **out}

    record = harness.measure(f"reference_{dataset}_stages", {"dataset": name, "epochs": epochs, "quick": quick},
                             work)
    n_genes = state["data"]["sizes"]["genes"]
    repeats = 3 if quick else 7
    matmul = {"first_layer": harness.matmul_gflops((params.batch_size, n_genes, params.bulk_hidden[0]), threads,
                                                   repeats),
              "square_2048": harness.matmul_gflops((2048, 2048, 2048), threads, repeats)}
    if params.sc_hidden[0] != params.bulk_hidden[0]:
        matmul["first_layer_sc"] = harness.matmul_gflops((params.batch_size, n_genes, params.sc_hidden[0]), threads,
                                                         repeats)
    return {"record": record, "params": params.to_dict(), "sizes": state["data"]["sizes"], "matmul": matmul,
            "environment": harness.environment()}


def run_end_to_end(dataset: str, ensemble: int, threads: int, quick: bool) -> dict:
    """Mode ``end_to_end`` of ``dataset`` with ``ensemble`` members in this process (run it in a fresh one)."""
    _start(threads)
    config = workflow_config()
    name = DATASETS[dataset]
    params = end_to_end_params(config, name, ensemble, QUICK["epochs"] if quick else None)
    state: dict = {}

    def work():
        state["data"] = data = prepare(name, config, quick)
        return {"prepare_seconds": data["seconds"], **train_and_score(data, params, name)}

    record = harness.measure(f"reference_{dataset}_end_to_end", {"dataset": name, "ensemble": ensemble,
                                                                 "quick": quick}, work)
    return {"record": record, "params": params.to_dict(), "sizes": state["data"]["sizes"],
            "environment": harness.environment()}


# ----------------------------------------------------------------------------- comparison


def _target(what: str, measured, limit, met, unit: str = "", note: str = "") -> dict:
    """One target's verdict (``met``: ``None`` when it cannot be judged)."""
    return {"target": what, "measured": measured, "limit": limit, "unit": unit,
            "met": None if met is None else bool(met), "note": note}


def stage_comparison(dataset: str, run: dict) -> dict:
    """Rows of the stage table, the DAE stages' GFLOP/s and the targets of a ``stages`` run.

    Our "bulk stage" is the bulk data's preparation + bulk DAE + predictor (the reference's bulk
    script); our "single-cell stage" is everything else (cells' preparation, clustering, sc DAE,
    joint training, diagnostics, prediction, evaluation: the reference's single-cell script).
    """
    record, params, sizes = run["record"], run["params"], run["sizes"]
    result = record["result"]
    stages = harness.stage_totals(record["stages"])
    seconds = {s: v["seconds"] for s, v in stages.items()}
    prep = result["prepare_seconds"]
    prep_bulk = sum(v for k, v in prep.items() if k.startswith("bulk"))
    prep_cells = sum(v for k, v in prep.items() if k.startswith("cells"))
    bulk_training = seconds.get("bulk DAE", 0.0) + seconds.get("predictor", 0.0)
    seconds["bulk stage"] = prep_bulk + bulk_training
    seconds["single-cell stage"] = prep_cells + sum(result["seconds"].values()) - bulk_training
    seconds["end to end"] = record["wall_s"]
    peak_bulk = next((r["peak_rss_mb"] for r in record["stages"] if r["stage"] == "predictor"), None)
    peaks = {"bulk stage": peak_bulk, "single-cell stage": record["peak_rss_mb"]}
    ref = REFERENCE[dataset]
    frac = TARGETS["stage_time_fraction"]
    rows = []
    for stage in ("bulk DAE", "predictor", "bulk stage", "sc DAE", "joint", "single-cell stage", "end to end"):
        ours, theirs = seconds.get(stage), ref["seconds"].get(stage)
        limit = frac * theirs if theirs is not None and stage in ("predictor", "joint") else None
        row = {"stage": stage, "reference_s": theirs, "drugshift_s": ours,
               "ratio": ours / theirs if ours is not None and theirs else None,
               "target": f"≤ {frac:g} × reference ({limit:.1f} s)" if limit is not None else None,
               "met": (ours <= limit) if limit is not None and ours is not None else None,
               "epochs": stages.get(stage, {}).get("epochs"), "rows_per_epoch": stages.get(stage, {}).get("rows")}
        if stage in peaks:
            row["reference_peak_gb"] = ref.get("peak_gb", {}).get(stage)
            row["drugshift_peak_gb"] = None if peaks[stage] is None else peaks[stage] / MB_PER_GB
        rows.append(row)
    targets = [_target(f"{r['stage']} ≤ {frac:g} × reference", r["drugshift_s"], frac * r["reference_s"], r["met"],
                       "s") for r in rows if r["target"]]
    gflops = []
    for stage, hidden in (("bulk DAE", params["bulk_hidden"]), ("sc DAE", params["sc_hidden"])):
        if stage not in stages or not stages[stage]["seconds"]:
            continue
        s = stages[stage]
        flop = harness.dae_flops(sizes["genes"], hidden, params["bulk_bottleneck"], s["rows"], s["epochs"])
        achieved = flop / s["seconds"] / 1e9
        key = "first_layer_sc" if stage == "sc DAE" and "first_layer_sc" in run["matmul"] else "first_layer"
        first, square = run["matmul"][key], run["matmul"]["square_2048"]
        fraction = achieved / first["gflops"]
        gflops.append({"stage": stage, "flop": flop, "seconds": s["seconds"], "epochs": s["epochs"],
                       "rows_per_epoch": s["rows"], "achieved_gflops": achieved,
                       "matmul_first_layer_shape": first["shape"], "matmul_first_layer_gflops": first["gflops"],
                       "matmul_2048_gflops": square["gflops"], "fraction_of_first_layer": fraction,
                       "fraction_of_2048": achieved / square["gflops"],
                       "met": fraction >= TARGETS["dae_fraction_of_matmul"]})
        targets.append(_target(f"{stage} ≥ {TARGETS['dae_fraction_of_matmul']:.0%} of the matmul rate at "
                               f"{'×'.join(map(str, first['shape']))}", fraction, TARGETS["dae_fraction_of_matmul"],
                               fraction >= TARGETS["dae_fraction_of_matmul"], "fraction"))
    return {"rows": rows, "gflops": gflops, "targets": targets}


def end_to_end_comparison(dataset: str, runs: dict[str, dict]) -> dict:
    """Rows (one per run: ``single``, ``ensemble5``) of wall time, peak memory and accuracy next
    to the reference, with the end-to-end targets of each run.

    F1: the reference code reports weighted F1 (:data:`drugshift.evaluate.METRICS`), so the
    target compares ``f1_weighted``; the binary F1 (sensitive = positive) is shown beside it.
    """
    ref = REFERENCE[dataset]
    ref_s, ref_peak = ref["seconds"]["end to end"], ref.get("peak_gb", {}).get("end to end")
    time_limit = TARGETS["end_to_end_time_fraction"] * ref_s
    peak_limit = TARGETS["end_to_end_peak_gb"]
    rows, targets = [], []
    for label, run in runs.items():
        record = run["record"]
        m = record["result"]["metrics"]["transfer"]
        wall, peak = record["wall_s"], record["peak_rss_mb"] / MB_PER_GB
        row = {"run": label, "ensemble": run["params"]["ensemble"], "wall_s": wall, "reference_s": ref_s,
               "ratio": wall / ref_s, "peak_gb": peak, "reference_peak_gb": ref_peak, "auroc": m["auroc"],
               "f1": m["f1"], "f1_weighted": m["f1_weighted"], "reference_auroc": ref.get("auroc"),
               "reference_f1": ref.get("f1"), "no_transfer_auroc": record["result"]["metrics"]["no_transfer"]["auroc"],
               "epochs_run": {s: v["epochs"] for s, v in harness.stage_totals(record["stages"]).items()}}
        checks = [_target(f"{label}: wall ≤ {TARGETS['end_to_end_time_fraction']:g} × reference", wall, time_limit,
                          wall <= time_limit, "s"),
                  _target(f"{label}: peak ≤ {peak_limit:g} GB", peak, peak_limit, peak <= peak_limit, "GB")]
        if ref.get("auroc") is not None:
            auroc_ok = m["auroc"] is not None and m["auroc"] >= ref["auroc"]
            f1_ok = m["f1_weighted"] is not None and m["f1_weighted"] >= ref["f1"]
            checks += [_target(f"{label}: AUROC ≥ reference", m["auroc"], ref["auroc"], auroc_ok),
                       _target(f"{label}: F1 (weighted, as the reference computes it) ≥ reference", m["f1_weighted"],
                               ref["f1"], f1_ok, note=f"binary F1 {m['f1']:.3f}")]
        else:
            checks.append(_target(f"{label}: accuracy ≥ reference", None, None, None,
                                  note="no reference accuracy for this dataset"))
        row["met"] = all(c["met"] for c in checks if c["met"] is not None)
        rows.append(row)
        targets += checks
    return {"rows": rows, "targets": targets}


def _fmt(v, spec=".1f") -> str:
    """``v`` for the console tables."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    return format(v, spec) if isinstance(v, (int, float)) else str(v)


def print_report(dataset: str, mode: str, report: dict) -> None:
    """The comparison as plain-text tables on stdout."""
    print(f"\n== {DATASETS[dataset]} · {mode} ==  (reference: {SOURCE})")
    if mode == "stages":
        print(f"{'stage':<20}{'ref s':>9}{'ours s':>10}{'ratio':>8}  {'peak GB ref/ours':<18} target")
        for r in report["comparison"]["rows"]:
            peak = (f"{_fmt(r.get('reference_peak_gb'), '.2f')}/{_fmt(r.get('drugshift_peak_gb'), '.2f')}"
                    if "drugshift_peak_gb" in r else "")
            target = f"{r['target']}: {_fmt(r['met'])}" if r["target"] else ""
            print(f"{r['stage']:<20}{_fmt(r['reference_s'], '.0f'):>9}{_fmt(r['drugshift_s'], '.2f'):>10}"
                  f"{_fmt(r['ratio'], '.3f'):>8}  {peak:<18} {target}")
        for g in report["comparison"]["gflops"]:
            print(f"{g['stage']}: {g['achieved_gflops']:.1f} GFLOP/s achieved; matmul "
                  f"{'×'.join(map(str, g['matmul_first_layer_shape']))} {g['matmul_first_layer_gflops']:.1f}, 2048³ "
                  f"{g['matmul_2048_gflops']:.1f} GFLOP/s → {g['fraction_of_first_layer']:.0%} of the first-layer rate "
                  f"(target ≥ {TARGETS['dae_fraction_of_matmul']:.0%}: {_fmt(g['met'])})")
    else:
        for r in report["comparison"]["rows"]:
            print(f"{r['run']} (ensemble {r['ensemble']}): {r['wall_s']:.1f} s vs {r['reference_s']} s "
                  f"(ratio {r['ratio']:.3f}), peak {r['peak_gb']:.2f} GB vs {_fmt(r['reference_peak_gb'], '.2f')}, "
                  f"AUROC {_fmt(r['auroc'], '.3f')} (ref {_fmt(r['reference_auroc'], '.3f')}), F1 weighted "
                  f"{_fmt(r['f1_weighted'], '.3f')} / binary {_fmt(r['f1'], '.3f')} (ref {_fmt(r['reference_f1'], '.3f')}),"
                  f" epochs {r['epochs_run']}")
    for t in report["comparison"]["targets"]:
        measured = _fmt(t["measured"], ".3f")
        print(f"  [{'PASS' if t['met'] else 'FAIL' if t['met'] is not None else 'n/a '}] {t['target']}: "
              f"{measured} (limit {_fmt(t['limit'], '.3f')}) {t['note']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=[*DATASETS, "all"], default="all")
    ap.add_argument("--mode", choices=[*MODES, "all"], default="all")
    ap.add_argument("--epochs", type=int, default=500, help="epochs of every stage in mode stages (default 500)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--quick", action="store_true",
                    help=f"tiny check of the code: {QUICK['cells']} cells, {QUICK['genes']} bulk genes, "
                         f"{QUICK['epochs']} epochs; written under results/quick/")
    ap.add_argument("--output", type=Path, default=None, help="results folder (default benchmarks/results)")
    args = ap.parse_args()
    out = args.output or (harness.RESULTS / "quick" if args.quick else harness.RESULTS)
    datasets = list(DATASETS) if args.dataset == "all" else [args.dataset]
    modes = list(MODES) if args.mode == "all" else [args.mode]
    epochs = QUICK["epochs"] if args.quick else args.epochs
    for dataset in datasets:
        for mode in modes:
            if mode == "stages":
                run = harness.in_subprocess(run_stages, dataset, epochs, args.threads, args.quick)
                report = {**run, "comparison": stage_comparison(dataset, run)}
            else:
                runs = {"single": harness.in_subprocess(run_end_to_end, dataset, 1, args.threads, args.quick)}
                if dataset == "a375":
                    runs["ensemble5"] = harness.in_subprocess(run_end_to_end, dataset, 5, args.threads, args.quick)
                report = {"runs": runs, "comparison": end_to_end_comparison(dataset, runs),
                          "environment": runs["single"]["environment"]}
            report.update(dataset=DATASETS[dataset], mode=mode, quick=args.quick, threads=args.threads,
                          reference={"source": SOURCE, **REFERENCE[dataset]}, targets=TARGETS)
            print_report(dataset, mode, report)
            print(f"wrote {harness.write_result(f'reference_{dataset}_{mode}', report, out)}")


if __name__ == "__main__":
    main()
