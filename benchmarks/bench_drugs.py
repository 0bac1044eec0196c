"""On-demand benchmark: CODE-AE fine-tuning of many drugs, one at a time and stacked.

Both ways fine-tune the same tasks (every drug × 5 cross-validation folds of one pretrained
``codeae_adv`` encoder, gradual unfreezing, ``config/codeae_realdata.yaml``'s fine-tuning
parameters) at a fixed number of epochs per stage (early stopping off), so that both do the same
arithmetic:

* ``one at a time``: :meth:`DrugResponseModel.fit` per drug, as rule ``finetune_codeae`` runs;
* ``stacked``: :meth:`DrugResponseModel.fit_drugs`, the fold models of all drugs in groups of
  ``--group-sizes`` tasks (:mod:`drugshift.models.codeae.stacked`).

Results go to ``results/drugs_<genes>genes.json``. It reports drugs per minute and seconds per task-epoch of each, checks that both give the same
models (largest difference of the drugs' predicted probabilities on the cell lines, and of their
cross-validation AUROCs) next to how far one-at-a-time training itself moves when every encoder
weight changes by a relative 1e-7 (a float32 rounding step: the float tolerance to expect), and extrapolates to the paper's scale: every GDSC2 drug with labels
(``--all-drugs``, 290) × 5 folds at the full fine-tuning budget. Data are generated (cell lines ×
genes of the real-data config's size); the fine-tuning's cost does not depend on the values.

    nice .venv/bin/python benchmarks/bench_drugs.py                 # 16 drugs, 800 lines × 5,000 genes
    nice .venv/bin/python benchmarks/bench_drugs.py --genes 300     # the demo's input width
    nice .venv/bin/python benchmarks/bench_drugs.py --quick         # a tiny run that checks the code
"""

from __future__ import annotations

import argparse
import copy
import logging
import time

import numpy as np
import torch

import harness

QUICK = {"drugs": 3, "cell_lines": 120, "genes": 100, "patients": 60, "epochs": 1, "group_sizes": [5, 15]}


def realdata_params(epochs: int):
    """``codeae_adv``'s parameters of ``config/codeae_realdata.yaml``: one pretraining epoch (its
    cost is not measured here) and ``epochs`` per fine-tuning stage with early stopping off."""
    from drugshift.configfile import read_config_file
    from drugshift.params import resolve_codeae_params

    codeae = read_config_file(harness.ROOT / "config" / "codeae_realdata.yaml")["codeae"]
    pre = {**codeae.get("params", {}), "warmup_epochs": 1, "pretrain_epochs": 1, "log_every": 10**6}
    fine = {**codeae.get("finetune", {}), "max_epochs": 4 * epochs, "patience": 0, "log_every": 10**6}
    return resolve_codeae_params({"seed": 42, "codeae": {"params": pre, "finetune": fine}}, "codeae_adv")


def run(n_drugs: int, n_lines: int, n_genes: int, n_patients: int, epochs: int, group_sizes: list[int],
        threads: int) -> dict:
    import pandas as pd

    from drugshift.models.codeae import CodeAE, DrugResponseModel

    torch.set_num_threads(threads)
    logging.getLogger("drugshift").setLevel(logging.ERROR)
    rng = np.random.default_rng(5)
    genes = [f"G{i}" for i in range(n_genes)]
    source = pd.DataFrame(rng.standard_normal((n_lines, n_genes), dtype=np.float32), columns=genes,
                          index=[f"CL{i}" for i in range(n_lines)])
    target = pd.DataFrame(rng.standard_normal((n_patients, n_genes), dtype=np.float32), columns=genes)
    labels = {}
    for d in range(n_drugs):  # a different direction per drug, ~30 % sensitive, ~15 % unscreened
        score = source.to_numpy() @ rng.standard_normal(n_genes).astype(np.float32)
        y = (score > np.quantile(score, 0.7)).astype(float)
        y[rng.random(n_lines) < 0.15] = np.nan
        labels[f"drug{d}"] = y
    table = pd.DataFrame(labels, index=source.index)
    params = realdata_params(epochs)
    encoder = CodeAE.pretrain("codeae_adv", source, target, params, device="cpu")
    n_tasks = n_drugs * params.finetune.n_folds
    task_epochs = n_tasks * params.finetune.max_epochs
    inputs = {"drugs": n_drugs, "cell_lines": n_lines, "genes": n_genes, "folds": params.finetune.n_folds,
              "epochs_per_stage": epochs, "stages": 4, "task_epochs": task_epochs,
              "labelled_lines_per_drug": float(np.mean([np.isfinite(y).sum() for y in labels.values()]))}

    def one_at_a_time(enc=encoder):
        return {d: DrugResponseModel("codeae_adv", d, params, encoder=enc).fit(
            source[np.isfinite(y)], y[np.isfinite(y)].astype(int), device="cpu") for d, y in labels.items()}

    # Warm-up: the first fine-tuning of a process pays one-off set-up (lazy imports, allocator).
    DrugResponseModel.fit_drugs("codeae_adv", realdata_params(1), source, table.iloc[:, :1], encoder=encoder,
                                device="cpu")
    runs, models = {}, {}
    t = harness.measure("one at a time", inputs, lambda: models.update(alone=one_at_a_time()))
    runs["one at a time"] = t
    for g in group_sizes:
        name = f"stacked, {g} tasks per group"
        runs[name] = harness.measure(name, inputs, lambda g=g: models.update(
            {g: DrugResponseModel.fit_drugs("codeae_adv", params, source, table, encoder=encoder, device="cpu",
                                            group_size=g)}))
    for name, r in runs.items():
        r["drugs_per_minute"] = n_drugs / r["wall_s"] * 60
        r["ms_per_task_epoch"] = r["wall_s"] / task_epochs * 1000
    # How much the training itself amplifies rounding: one at a time again, from the encoder with
    # every weight changed by a relative 1e-7 (the size of a float32 rounding step).
    noisy = copy.deepcopy(encoder)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for w in noisy.encoder.parameters():
            w.mul_(1 + 1e-7 * torch.randn(w.shape, generator=gen))
    models["rounding"] = one_at_a_time(noisy)

    def differences(other):
        prob = max(float(np.abs(other[d].predict(source)["sens_prob"].to_numpy()
                                - models["alone"][d].predict(source)["sens_prob"].to_numpy()).max()) for d in labels)
        auroc = max(abs(a["auroc"] - b["auroc"]) for d in labels for a, b in zip(other[d].cv, models["alone"][d].cv))
        return {"max_abs_prob_difference": prob, "max_abs_cv_auroc_difference": auroc}

    agreement = {str(g): differences(models[g]) for g in group_sizes}
    agreement["rounding"] = differences(models["rounding"])
    return {"inputs": inputs, "runs": runs, "agreement": agreement, "environment": harness.environment()}


def extrapolate(result: dict, all_drugs: int, budget: int) -> dict:
    """Hours for ``all_drugs`` drugs × folds at ``budget`` epochs per task (the full fine-tuning
    budget, early stopping never firing: an upper bound) from each run's cost per task-epoch."""
    folds = result["inputs"]["folds"]
    return {name: r["ms_per_task_epoch"] / 1000 * all_drugs * folds * budget / 3600
            for name, r in result["runs"].items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drugs", type=int, default=16)
    ap.add_argument("--cell-lines", type=int, default=800, help="cell lines (GDSC2 screens ~700–900 per drug)")
    ap.add_argument("--genes", type=int, default=5000, help="input genes (config/codeae_realdata.yaml: 5,000)")
    ap.add_argument("--patients", type=int, default=500, help="target rows of the one-epoch pretraining")
    ap.add_argument("--epochs", type=int, default=5, help="epochs per unfreezing stage (4 stages)")
    ap.add_argument("--group-sizes", type=int, nargs="+", default=[5, 20, 80])
    ap.add_argument("--all-drugs", type=int, default=290, help="drugs of the extrapolation (GDSC2 with labels)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="a tiny run for checking the code (results/quick/)")
    args = ap.parse_args()
    q = args.quick
    out = harness.RESULTS / "quick" if q else harness.RESULTS
    start = time.perf_counter()
    result = harness.in_subprocess(
        run, QUICK["drugs"] if q else args.drugs, QUICK["cell_lines"] if q else args.cell_lines,
        QUICK["genes"] if q else args.genes, QUICK["patients"] if q else args.patients,
        QUICK["epochs"] if q else args.epochs, QUICK["group_sizes"] if q else args.group_sizes, args.threads)
    from drugshift.configfile import read_config_file

    budget = int(read_config_file(harness.ROOT / "config" / "codeae_realdata.yaml")["codeae"]["finetune"]["max_epochs"])
    result["extrapolation"] = {"drugs": args.all_drugs, "epochs_per_task": budget,
                               "hours": extrapolate(result, args.all_drugs, budget)}
    result["benchmark_wall_s"] = time.perf_counter() - start
    for name, r in result["runs"].items():
        print(f"{name}: {r['wall_s']:.1f} s, {r['drugs_per_minute']:.2f} drugs/min, "
              f"{r['ms_per_task_epoch']:.1f} ms per task-epoch, peak {r['peak_rss_mb']:.0f} MB; "
              f"{args.all_drugs} drugs × 5 folds × {budget} epochs ≈ {result['extrapolation']['hours'][name]:.1f} h")
    for g, a in result["agreement"].items():
        print(f"{'1e-7 weight noise' if g == 'rounding' else 'group ' + g}: largest |Δ probability| {a['max_abs_prob_difference']:.2e}, "
              f"|Δ CV AUROC| {a['max_abs_cv_auroc_difference']:.2e} against one at a time")
    genes = QUICK["genes"] if q else args.genes
    print(f"wrote {harness.write_result(f'drugs_{genes}genes', result, out)}")


if __name__ == "__main__":
    main()
