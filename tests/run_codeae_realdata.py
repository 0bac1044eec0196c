"""CODE-AE on the real validation data (../shared/data): pretrain on GDSC cell lines + TCGA + PDTC
expression, fine-tune per drug on GDSC labels with 5-fold CV, predict PDTC models and TCGA cohorts
zero-shot, and write the benchmark table and its rank summary.

Usage::

    nice -n 10 .venv/bin/python tests/run_codeae_realdata.py tests/configs/codeae_realdata.yaml OUT_DIR

Writes ``OUT_DIR/benchmark.tsv`` (method, cohort, drug, fold, AUROC, AUPRC; cohorts ``gdsc_cv``
= held-out cell-line fold, ``pdtc``, ``tcga``), appended after every (method, drug) so a long
run can be read while it goes, ``OUT_DIR/rank_summary.tsv`` and ``rank_summary_common.tsv`` (the
same on the drugs every method has, updated as the run goes), ``OUT_DIR/pretrain.json`` (domain
classifier AUROC of inputs vs embeddings, histories) and ``OUT_DIR/run.log``. Patient and PDTC
labels are read only to score predictions, after each fold model has predicted.

The run resumes: pretrained encoders are saved to ``OUT_DIR/encoders/<method>.pt`` and reused,
and (method, drug) pairs already in ``OUT_DIR/benchmark.tsv`` are not run again (the same
config and seed give the same numbers on CPU, so a resumed table equals an uninterrupted one).
Delete ``OUT_DIR`` to start over after changing the config.
tests/test_codeae_realdata.py runs the same code on a small subset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


def load_real_data(cfg: dict, log: logging.Logger) -> dict:
    """Read and align every real input named by ``cfg`` (see tests/configs/codeae_realdata.yaml).

    Returns a dict with ``source`` (GDSC cell lines × genes), ``target`` (TCGA + PDTC samples ×
    genes), per-domain standardised on the selected genes; ``response`` (tidy GDSC table);
    ``tcga`` (cohort → (GDSC drug, expression, labels)); ``pdtc_expression``, ``pdtc_labels``
    (PDTC drug → Series model → 0/1) and ``pdtc_to_gdsc`` (PDTC drug → GDSC drug).
    """
    from drugshift.features import select_genes, standardise_domains
    from drugshift.io.gdsc import read_gdsc_expression, read_gdsc_response
    from drugshift.io.pdtc import pdtc_labels, read_drug_mapping, read_pdtc_expression, read_pdtc_response
    from drugshift.io.tcga import read_labels, read_sample_table

    root = (ROOT / cfg["data_root"]).resolve()
    gdsc_x = read_gdsc_expression(root / "gdsc/Cell_line_expression_zscore.txt.gz")
    response = pd.concat([read_gdsc_response(root / f"gdsc/{d}_fitted_dose_response.csv.gz")
                          for d in cfg["labels"]["datasets"]])
    tcga_x, tcga = [], {}
    for cohort, drug in cfg["tcga"].items():
        x = read_sample_table(root / f"tcga/{cohort}/expression_zscore.csv")
        y = read_labels(root / f"tcga/{cohort}/labels.csv")
        tcga[cohort] = (drug, x, y.reindex(x.index))
        tcga_x.append(x)
    tcga_all = pd.concat(tcga_x)
    tcga_all = tcga_all[~tcga_all.index.duplicated()]
    pdtc_x = read_pdtc_expression(root / "pdtc/expression_zscore.csv")
    pdtc_resp = pdtc_labels(read_pdtc_response(root / "pdtc/DrugResponsesAUCModels.txt"))
    mapping = read_drug_mapping(root / "pdtc/pdtc_gdsc_drug_mapping.csv")
    wanted = cfg.get("pdtc_drugs", "all")
    if wanted != "all":
        mapping = mapping[mapping["pdtc_drug"].isin(wanted)]
    genes = select_genes({"gdsc": gdsc_x, "tcga": tcga_all, "pdtc": pdtc_x}, cfg["features"]["k"],
                         cfg["features"]["method"])
    std = standardise_domains({"gdsc": gdsc_x, "tcga": tcga_all, "pdtc": pdtc_x}, genes)
    log.info("genes: %d selected (GDSC %d, TCGA %d, PDTC %d); samples: %d cell lines, %d TCGA, %d PDTC",
             len(genes), gdsc_x.shape[1], tcga_all.shape[1], pdtc_x.shape[1], len(gdsc_x), len(tcga_all), len(pdtc_x))
    pdtc_lab = {}
    for pdtc_drug in mapping["pdtc_drug"]:
        rows = pdtc_resp[(pdtc_resp["drug"] == pdtc_drug) & pdtc_resp["model"].isin(pdtc_x.index)]
        pdtc_lab[pdtc_drug] = rows.set_index("model")["label"]
    return {
        "genes": genes,
        "source": std["gdsc"],
        "tcga_std": std["tcga"],
        "pdtc_std": std["pdtc"],
        "target": pd.concat([std["tcga"], std["pdtc"]]),
        "response": response,
        "tcga": tcga,
        "pdtc_labels": pdtc_lab,
        "pdtc_to_gdsc": dict(zip(mapping["pdtc_drug"], mapping["gdsc_drug"])),
    }


def drug_tasks(data: dict) -> list[dict]:
    """One task per GDSC drug: its zero-shot target sets, name → (expression, labels, cohort)."""
    tasks: dict[str, dict] = {}
    for cohort, (drug, x, y) in data["tcga"].items():
        keep = y.notna()
        tasks.setdefault(drug, {})[f"tcga:{cohort}"] = (data["tcga_std"].loc[x.index[keep]], y[keep].astype(int))
    for pdtc_drug, gdsc_drug in data["pdtc_to_gdsc"].items():
        y = data["pdtc_labels"][pdtc_drug]
        if y.nunique() < 2:
            continue
        tasks.setdefault(gdsc_drug, {})[f"pdtc:{pdtc_drug}"] = (data["pdtc_std"].loc[y.index], y.astype(int))
    return [{"drug": d, "targets": t} for d, t in sorted(tasks.items())]


def cell_line_labels(data: dict, drug: str, cfg: dict):
    """Labelled GDSC cell lines of ``drug``: (expression rows, 0/1 labels) or None if too few."""
    from drugshift.labels import binarise_drug

    if drug not in set(data["response"]["drug"]):
        return None
    table = binarise_drug(data["response"], drug, cfg["labels"]["method"], cfg["labels"]["datasets"])
    lab = table.dropna(subset=["label"]).set_index("cell_line")["label"]
    lab = lab[lab.index.isin(data["source"].index)]
    if lab.nunique() < 2 or lab.value_counts().min() < 10:
        return None
    return data["source"].loc[lab.index], lab.astype(int).to_numpy()


def config_fingerprint(cfg: dict) -> str:
    """sha256 of what decides the numbers of a (method, drug) pair: data, seed, labels, features
    and every training parameter (not the list of methods or drugs, which a resume may extend)."""
    keys = ("data_root", "seed", "labels", "features", "tcga", "codeae", "finetune", "baselines", "device")
    text = json.dumps({k: cfg.get(k) for k in keys}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def write_table(frame: pd.DataFrame, path: Path, float_format: str) -> None:
    """Write a TSV through a temporary file and ``os.replace``, so a reader (or a resume) never
    sees half a table."""
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, sep="\t", index=False, float_format=float_format)
    os.replace(tmp, path)


def finished_pairs(bench_path: Path, pred_path: Path, n_folds: int) -> tuple[list[dict], list[pd.DataFrame], set]:
    """Rows and predictions of an earlier run and its finished (method, drug) pairs: those with
    all ``n_folds`` cell-line folds in the table. Rows of other pairs are dropped (run again)."""
    if not bench_path.exists():
        return [], [], set()
    table = pd.read_csv(bench_path, sep="\t")
    folds = table[table["cohort"] == "gdsc_cv"].groupby(["method", "drug"])["fold"].nunique()
    done = {pair for pair, n in folds.items() if n == n_folds}
    # PDTC rows name the drug "GDSC drug (PDTC drug)"; the pair is keyed by the GDSC drug.
    gdsc_drug = table["drug"].str.replace(r" \(.*\)$", "", regex=True)
    keep = [(m, d) in done for m, d in zip(table["method"], gdsc_drug)]
    predictions = []
    if pred_path.exists():
        pred = pd.read_csv(pred_path, sep="\t")
        predictions = [pred[[(m, d) in done for m, d in zip(pred["method"], pred["drug"])]]]
    return table[keep].to_dict("records"), predictions, done


def run(cfg: dict, out: Path, log: logging.Logger, max_drugs: int | None = None) -> pd.DataFrame:
    """The whole benchmark; returns the benchmark table (also written to ``out``)."""
    return run_on_data(cfg, load_real_data(cfg, log), out, log, max_drugs)


def run_on_data(cfg: dict, data: dict, out: Path, log: logging.Logger, max_drugs: int | None = None) -> pd.DataFrame:
    """:func:`run` on data already read by :func:`load_real_data`. Also writes every fold
    model's zero-shot predictions to ``out/predictions.tsv``."""
    from drugshift.cards import write_json
    from drugshift.models.codeae import (
        benchmark_rows,
        cross_validate_method,
        domain_auroc,
        load_encoder,
        method_kind,
        pretrain_method,
        save_encoder,
    )

    out.mkdir(parents=True, exist_ok=True)
    seed = int(cfg.get("seed", 42))
    device = cfg.get("device", "cpu")
    tasks = drug_tasks(data)[:max_drugs]
    log.info("%d drug tasks: %s", len(tasks), ", ".join(t["drug"] for t in tasks))
    bench_path, pred_path = out / "benchmark.tsv", out / "predictions.tsv"
    pre_path = out / "pretrain.json"
    pre_info = json.loads(pre_path.read_text()) if pre_path.exists() else {}
    fingerprint = config_fingerprint(cfg)
    if pre_info.get("config_fingerprint", fingerprint) != fingerprint:
        raise SystemExit(f"{out} holds a run with another configuration (seed, labels, features or training "
                         "parameters differ): delete it or choose another output folder")
    pre_info["config_fingerprint"] = fingerprint
    rows, predictions, done = finished_pairs(bench_path, pred_path, int(cfg["finetune"].get("n_folds", 5)))
    if done:
        log.info("resuming: %d (method, drug) pairs already in %s", len(done), bench_path)
    measure = cfg.get("measure_domain_auroc", True)
    if measure and "domain_auroc_input" not in pre_info:
        pre_info["domain_auroc_input"] = domain_auroc(data["source"].to_numpy(), data["target"].to_numpy(), seed)
        log.info("domain classifier AUROC on the standardised inputs: %.3f", pre_info["domain_auroc_input"])
    # Pretrain every method first, then go drug by drug over all methods, so that a run stopped
    # early has every method on the same drugs.
    encoders: dict[str, torch.nn.Module | None] = {}
    for method in cfg["methods"]:
        try:
            kind = method_kind(method)
        except (ImportError, AttributeError, ValueError) as e:
            log.warning("skipping method %s: %s", method, e)
            continue
        encoders[method] = None
        if kind not in ("codeae", "pretrained"):
            continue
        t0 = time.time()
        saved = out / "encoders" / f"{method}.pt"
        if saved.exists() and method in pre_info:
            encoders[method] = load_encoder(saved, device)
            log.info("%s: pretrained encoder read from %s", method, saved)
            continue
        trained, _ = pretrain_method(method, data["source"], data["target"], cfg.get("codeae"),
                                     cfg.get("baselines"), seed, log, device)
        encoder = save_encoder(trained, saved)
        encoder.eval()
        encoders[method] = encoder
        pre_info[method] = {"seconds": round(time.time() - t0, 1)}
        if measure:
            with torch.no_grad():
                emb = [encoder(torch.as_tensor(data[k].to_numpy())).cpu().numpy() for k in ("source", "target")]
            pre_info[method]["domain_auroc_embedding"] = domain_auroc(emb[0], emb[1], seed)
        log.info("%s pretrained in %.0f s; %s", method, time.time() - t0, pre_info[method])
        write_json(pre_info, pre_path)
    if cfg.get("drug_order") == "tcga_first_then_reverse":
        tcga_drugs = set(cfg["tcga"].values())
        tasks = [t for t in tasks if t["drug"] in tcga_drugs] + [t for t in tasks[::-1] if t["drug"] not in tcga_drugs]
    for task in tasks:
        labelled = cell_line_labels(data, task["drug"], cfg)
        if labelled is None:
            log.warning("%s: too few labelled GDSC cell lines, skipped", task["drug"])
            continue
        X, y = labelled
        targets = {name: x.to_numpy() for name, (x, _) in task["targets"].items()}
        for method, encoder in encoders.items():
            if (method, task["drug"]) in done:
                continue
            folds = cross_validate_method(method, X.to_numpy(), y, encoder, {**cfg["finetune"], "seed": seed},
                                          cfg.get("codeae"), targets, log, device, f"{method} {task['drug']}")
            new = [{"method": method, "cohort": "gdsc_cv", "drug": task["drug"], "fold": f.fold,
                    "AUROC": f.val_metrics["auroc"], "AUPRC": f.val_metrics["ap"], "n": f.val_metrics["n"],
                    "n_sensitive": f.val_metrics["n_sensitive"]} for f in folds]
            for name, (x, y_true) in task["targets"].items():
                cohort, label = name.split(":", 1)
                drug_label = task["drug"] if cohort == "tcga" else f"{task['drug']} ({label})"
                new += benchmark_rows(method, cohort, drug_label, y_true.to_numpy(),
                                      [f.predictions[name] for f in folds])
                for f in folds:
                    predictions.append(pd.DataFrame({"method": method, "drug": task["drug"], "target": name,
                                                     "fold": f.fold, "sample": x.index, "sens_prob": f.predictions[name]}))
            rows += new
            # Predictions first, each file replaced whole: a run killed at any point leaves a
            # benchmark table whose pairs all have their predictions.
            write_table(pd.concat(predictions), pred_path, "%.6g")
            table = pd.DataFrame(rows)
            write_table(table, bench_path, "%.4f")
            write_summaries(table, out)
            summary = pd.DataFrame(new).groupby("cohort")["AUROC"].mean().round(3).to_dict()
            log.info("%s %s: mean AUROC %s", method, task["drug"], summary)
    write_json(pre_info, pre_path)
    table = pd.DataFrame(rows)
    write_summaries(table, out)
    return table


def write_summaries(table: pd.DataFrame, out: Path) -> None:
    """``rank_summary.tsv`` (every drug each method has) and ``rank_summary_common.tsv`` (per
    cohort, only the drugs all methods have: the fair comparison while a run is incomplete)."""
    from drugshift.models.codeae import rank_summary

    if table.empty:
        return
    write_table(rank_summary(table), out / "rank_summary.tsv", "%.4f")
    write_table(rank_summary(table, common_drugs=True), out / "rank_summary_common.tsv", "%.4f")


def main(argv: list[str]) -> None:
    cfg = yaml.safe_load(Path(argv[1]).read_text())
    out = Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(cfg.get("threads", 1)))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        handlers=[logging.FileHandler(out / "run.log"), logging.StreamHandler()])
    run(cfg, out, logging.getLogger("codeae_realdata"), int(argv[3]) if len(argv) > 3 else None)


if __name__ == "__main__":
    main(sys.argv)
