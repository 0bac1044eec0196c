"""On-demand benchmark: how time and peak memory of training grow with cells, genes and drugs.

Three axes, each point in a fresh process (so that its peak memory is its own), a fixed number
of epochs per stage and early stopping off, so that every point does the same work per row:

* ``cells`` (1k, 10k, 30k, 100k at ``--genes`` genes) and ``genes`` (2k, 4k, 8k, 16k at
  ``--cells`` cells): one scDEAL model (the real-data config's PC9 settings) on generated
  *sparse* UMI counts, prepared as rule preprocess_sc prepares cells
  (:func:`~drugshift.preprocess.qc_and_normalise`, :func:`~drugshift.preprocess.align_to_bulk`)
  and trained as rule train_scdeal trains (:meth:`ScDEAL.fit`, Leiden clusters included). The
  preprocessing and the fit are measured separately; the fit's peak memory is measured from a
  reset high-water mark, with what rule train_scdeal holds (the processed cells) resident.
* ``drugs`` (1, 2, 4, … up to ``--max-drugs``): per drug, one after another as the workflow's
  jobs run, scDEAL's bulk stage (:func:`~drugshift.models.scdeal.fit_bulk_model`: bulk DAE and
  predictor) and CODE-AE's fine-tuning of one pretrained ``codeae_adv`` encoder
  (:class:`~drugshift.models.codeae.DrugResponseModel` ``.fit``: the 5 cross-validation folds of
  rule finetune_codeae; ``--codeae-folds 1`` fine-tunes one fold with
  :class:`~drugshift.models.codeae.FinetunePlan`). The shared pretraining is measured once per
  point, apart.

Per axis the log–log slopes (exponent of a power law, ``numpy.polyfit`` on log10) of time and
peak memory are stored. Before its measurements each point runs a tiny warm-up (imports and
one-off set-up, which every job pays once whatever its size; ``--cold`` skips it). Each point also records what happens to the sparse input (its format
after each step). Writes ``benchmarks/results/scaling.json`` (``--quick``: a tiny grid under
``results/quick/``, for checking the code only).

    .venv/bin/python benchmarks/bench_scaling.py
    .venv/bin/python benchmarks/bench_scaling.py --axes drugs --max-drugs 16 --codeae-folds 1
    .venv/bin/python benchmarks/bench_scaling.py --quick --axes cells
"""

from __future__ import annotations

import argparse
import gc
import logging
import time
from pathlib import Path

import numpy as np

import harness

AXES = {"cells": [1000, 10000, 30000, 100000], "genes": [2000, 4000, 8000, 16000]}
QUICK = {"cells": [200, 400, 800], "genes": [200, 400], "drugs": [1, 2], "fixed_genes": 300, "fixed_cells": 300,
         "cell_lines": 120, "codeae_genes": 100, "patients": 120, "epochs": 2}
#: The scDEAL settings of every point: the real-data config's (PC9's widths).
DATASET = "PC9"
#: What the library does with sparse input (checked against each point's recorded formats).
SPARSE_FINDING = (
    "Sparse counts stay sparse through QC, normalize_total and log1p (qc_and_normalise), but "
    "align_to_bulk densifies them (X.toarray()) and keeps two dense float32 copies, the scaled "
    "X and layers['lognorm'], beside the sparse layers['counts']. ScDEAL.fit turns any input into "
    "one dense float32 matrix at once (drugshift.train.as_float_matrix calls .toarray() on a "
    "sparse matrix), and TrainingData.build puts the whole matrix on the device as one dense "
    "tensor (on the CPU it shares the array's memory); minibatches index rows of it. Leiden "
    "clustering (cell_clusters) runs PCA on the same dense matrix. So nothing is densified per "
    "batch: memory grows with cells × genes × 4 bytes × the dense copies.")


def power_grid(maximum: int) -> list[int]:
    """1, 2, 4, … up to ``maximum``, and ``maximum`` itself."""
    grid, n = [], 1
    while n < maximum:
        grid.append(n)
        n *= 2
    return grid + [int(maximum)]


def sparse_counts(n_cells: int, n_genes: int, seed: int = 0, density: float = 0.15):
    """Generated UMI counts as a CSR matrix ``(cells, genes)``, float32: each cell detects
    ``max(250, density·genes)`` distinct genes (all when there are fewer; enough to pass the
    workflow's QC, ``min_genes: 200``) with Poisson(2) + 1 counts. Built in row chunks, so no
    dense ``cells × genes`` array is ever made."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    k = min(n_genes, max(250, int(density * n_genes)))
    chunk = max(1, int(2e7 // n_genes))
    indices = []
    for start in range(0, n_cells, chunk):
        rows = min(chunk, n_cells - start)
        keys = rng.random((rows, n_genes), dtype=np.float32)
        picked = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < n_genes else np.tile(np.arange(n_genes), (rows, 1))
        indices.append(np.sort(picked, axis=1).astype(np.int32))
    idx = np.concatenate(indices).ravel()
    data = (rng.poisson(2.0, idx.size) + 1).astype(np.float32)
    indptr = np.arange(0, n_cells * k + 1, k, dtype=np.int64)
    return sp.csr_matrix((data, idx, indptr), shape=(n_cells, n_genes))


def generated_bulk(n_lines: int, n_genes: int, seed: int = 1, genes: list[str] | None = None):
    """Cell lines × genes z-scores (a DataFrame) and 0/1 labels (about 30 % sensitive, from a
    linear score of the first genes)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_lines, n_genes), dtype=np.float32)
    score = X[:, : min(20, n_genes)].mean(axis=1)
    y = (score > np.quantile(score, 0.7)).astype(np.int64)
    names = genes or [f"G{i}" for i in range(n_genes)]
    return pd.DataFrame(X, index=[f"L{i}" for i in range(n_lines)], columns=names), y


def _start(threads: int) -> None:
    """A child process's set-up: quiet logging, ``threads`` torch threads."""
    import torch

    logging.basicConfig(level=logging.WARNING)
    # Generated data carry no signal: the library's warnings about untrustworthy predictions are noise here.
    logging.getLogger("drugshift").setLevel(logging.ERROR)
    torch.set_num_threads(threads)


def _format(x) -> str:
    """The type of a matrix and whether it is sparse, e.g. ``scipy.csr_matrix (sparse)``."""
    import scipy.sparse as sp

    return f"{type(x).__module__.split('.')[0]}.{type(x).__name__}" + (" (sparse)" if sp.issparse(x) else " (dense)")


def scdeal_params(epochs: int, quick: bool):
    """The real-data config's PC9 parameters, ``epochs`` per stage, early stopping off, one model."""
    from bench_reference import workflow_config

    from drugshift.params import resolve_scdeal_params

    params = resolve_scdeal_params(workflow_config(), DATASET).replace(
        epochs_dae=epochs, epochs_sc_dae=None, epochs_predictor=epochs, epochs_joint=epochs, patience=0, ensemble=1,
        log_every=10**6, checkpoint_every=0)
    if quick:
        params = params.replace(bulk_hidden=[64, 32], sc_hidden=[64, 32], predictor_hidden=[16, 8])
    return params


def warm_up(scdeal, codeae=None) -> float:
    """One tiny run of what a point measures next (scDEAL with ``scdeal``'s parameters; CODE-AE
    pretraining and fine-tuning with ``codeae``'s), 1 epoch per stage on 60 × 30 random values,
    so that imports and one-off set-up (torch.optim's first use imports ``torch._dynamo``; Leiden,
    scikit-learn, …), which a workflow job pays once whatever the size, stay out of the scaling.
    Returns its seconds."""
    import pandas as pd

    from drugshift.models.scdeal import ScDEAL, fit_bulk_model

    start = time.perf_counter()
    rng = np.random.default_rng(3)
    X = rng.random((60, 30), dtype=np.float32)
    y = (np.arange(60) < 20).astype(np.int64)
    tiny = scdeal.replace(epochs_dae=1, epochs_predictor=1, epochs_joint=1)
    if codeae is None:
        ScDEAL(tiny, device="cpu").fit(X, y, X[:40])
    else:
        from drugshift.models.codeae import CodeAE, DrugResponseModel

        fit_bulk_model(X, y, tiny, device="cpu")
        frame = pd.DataFrame(X, columns=[f"G{i}" for i in range(X.shape[1])])
        encoder = CodeAE.pretrain("codeae_adv", frame, frame, codeae, device="cpu")
        DrugResponseModel("codeae_adv", "warm-up", codeae, encoder=encoder).fit(frame, y, device="cpu")
    return time.perf_counter() - start


def run_scdeal_point(n_cells: int, n_genes: int, n_lines: int, epochs: int, threads: int, quick: bool,
                     cold: bool = False) -> dict:
    """One point of the ``cells`` / ``genes`` axes in this process (run it in a fresh one);
    ``cold``: no :func:`warm_up`."""
    import anndata as ad

    from drugshift.models.scdeal import ScDEAL
    from drugshift.preprocess import QCParams, align_to_bulk, qc_and_normalise

    _start(threads)
    params = scdeal_params(epochs, quick)
    warm_up_s = None if cold else warm_up(params)
    genes = [f"G{i}" for i in range(n_genes)]
    start = time.perf_counter()
    counts = sparse_counts(n_cells, n_genes)
    raw = ad.AnnData(X=counts)
    raw.obs_names, raw.var_names = [f"c{i}" for i in range(n_cells)], genes
    raw.uns["values"] = "counts"
    bulk, y = generated_bulk(n_lines, n_genes, genes=genes)
    generate_s = time.perf_counter() - start
    formats = {"input": _format(raw.X), "input_density": counts.nnz / (n_cells * n_genes)}
    state: dict = {}

    def preprocess():
        qc = QCParams()
        cells = qc_and_normalise(raw, qc, name="generated")
        formats["after qc_and_normalise"] = _format(cells.X)
        cells, aligned = align_to_bulk(cells, bulk, scaling=qc.scaling)
        formats["after align_to_bulk (X)"] = _format(cells.X)
        formats["after align_to_bulk (layers)"] = {k: _format(v) for k, v in cells.layers.items()}
        state["cells"], state["bulk"] = cells, aligned
        return {"cells": int(cells.n_obs), "genes": int(cells.n_vars),
                "dense_matrix_mb": cells.n_obs * cells.n_vars * 4 / 2**20}

    inputs = {"cells": n_cells, "genes": n_genes, "cell_lines": n_lines, "epochs": epochs}
    prep = harness.measure("preprocess (preprocess_sc)", inputs, preprocess)
    del raw, counts
    gc.collect()
    cells, aligned = state.pop("cells"), state.pop("bulk")

    def fit():
        model = ScDEAL(params, device="cpu").fit(aligned, y, cells)
        return {"clusters": int(model.clusters.max()) + 1 if model.clusters is not None else None}

    fitted = harness.measure("fit (train_scdeal)", inputs, fit, reset_peak=True)
    return {"inputs": inputs, "warm_up_s": warm_up_s, "generate_s": generate_s, "preprocess": prep, "fit": fitted,
            "formats": formats,
            "stages": harness.stage_totals(fitted["stages"]), "environment": harness.environment()}


def codeae_params(epochs: int, folds: int, quick: bool):
    """``codeae_adv``'s parameters of ``config/codeae_realdata.yaml`` with ``epochs`` per
    pretraining phase, a fine-tuning budget of ``4 × epochs`` (``epochs`` per unfreezing stage),
    early stopping off and ``folds`` cross-validation folds (at least 2; one fold is run alone)."""
    from drugshift.configfile import read_config_file
    from drugshift.params import resolve_codeae_params

    codeae = read_config_file(harness.ROOT / "config" / "codeae_realdata.yaml")["codeae"]
    pre = {**codeae.get("params", {}), "warmup_epochs": epochs, "pretrain_epochs": epochs, "log_every": 10**6,
           "checkpoint_every": 0}
    if quick:
        pre.update(encoder_hidden=[64, 32], latent=16, decoder_hidden=[32, 64])
    fine = {**codeae.get("finetune", {}), "max_epochs": 4 * epochs, "patience": 0, "n_folds": max(2, folds),
            "log_every": 10**6, "checkpoint_every": 0}
    return resolve_codeae_params({"seed": 42, "codeae": {"params": pre, "finetune": fine}}, "codeae_adv")


def run_drugs_point(n_drugs: int, n_lines: int, n_genes: int, codeae_genes: int, n_patients: int, epochs: int,
                    folds: int, threads: int, quick: bool, cold: bool = False) -> dict:
    """One point of the ``drugs`` axis in this process (run it in a fresh one); ``cold``: no
    :func:`warm_up`."""
    import pandas as pd

    from drugshift.models.codeae import CodeAE, DrugResponseModel, FinetunePlan
    from drugshift.models.scdeal import fit_bulk_model
    from drugshift.splits import cv_folds

    _start(threads)
    rng = np.random.default_rng(2)
    bulk = rng.random((n_lines, n_genes), dtype=np.float32)
    source = pd.DataFrame(rng.standard_normal((n_lines, codeae_genes), dtype=np.float32),
                          columns=[f"G{i}" for i in range(codeae_genes)])
    target = pd.DataFrame(rng.standard_normal((n_patients, codeae_genes), dtype=np.float32), columns=source.columns)
    labels = []
    for _ in range(n_drugs):  # a different direction per drug, ~30 % sensitive
        score = bulk @ rng.standard_normal(n_genes).astype(np.float32)
        labels.append((score > np.quantile(score, 0.7)).astype(np.int64))
    sparams = scdeal_params(epochs, quick)
    cparams = codeae_params(epochs, folds, quick)
    warm_up_s = None if cold else warm_up(sparams, codeae_params(1, 5, quick))
    inputs = {"drugs": n_drugs, "cell_lines": n_lines, "genes": n_genes, "codeae_genes": codeae_genes,
              "patients": n_patients, "epochs": epochs, "codeae_folds": folds}

    def pretrain():
        return CodeAE.pretrain("codeae_adv", source, target, cparams, device="cpu")

    state = {}
    pre = harness.measure("CODE-AE pretraining (shared by the drugs)", inputs, lambda: state.update(enc=pretrain()))
    encoder = state.pop("enc")

    def scdeal_bulk():
        for y in labels:
            fit_bulk_model(bulk, y, sparams, device="cpu")

    def codeae_finetune():
        for d, y in enumerate(labels):
            if folds == 1:
                tr, va = cv_folds(y, cparams.finetune.n_folds, cparams.finetune.seed)[0]
                X = source.to_numpy()
                FinetunePlan(encoder.encoder, X[tr], y[tr], X[va], y[va], cparams.finetune, "cpu").run()
            else:
                DrugResponseModel("codeae_adv", f"drug{d}", cparams, encoder=encoder).fit(source, y, device="cpu")

    sc = harness.measure("scDEAL bulk stage, per drug in turn", inputs, scdeal_bulk, reset_peak=True)
    ft = harness.measure("CODE-AE fine-tuning, per drug in turn", inputs, codeae_finetune, reset_peak=True)
    return {"inputs": inputs, "warm_up_s": warm_up_s, "pretrain": pre, "scdeal_bulk": sc, "codeae_finetune": ft,
            "per_drug_wall_s": sc["wall_s"] + ft["wall_s"], "environment": harness.environment()}


def slopes(points: list[dict], x_key: str, series: dict[str, callable]) -> dict[str, float | None]:
    """:func:`harness.loglog_slope` of each ``series`` (name → function of a point) against the
    points' ``inputs[x_key]``."""
    x = [p["inputs"][x_key] for p in points]
    return {name: harness.loglog_slope(x, [f(p) for p in points]) for name, f in series.items()}


SCDEAL_SERIES = {
    "fit_time": lambda p: p["fit"]["wall_s"],
    "fit_peak_rss": lambda p: p["fit"]["peak_rss_mb"],
    "fit_peak_above_start": lambda p: p["fit"]["peak_rss_mb"] - (p["fit"]["rss_before_mb"] or 0.0),
    "preprocess_time": lambda p: p["preprocess"]["wall_s"],
}
DRUG_SERIES = {
    "per_drug_time": lambda p: p["per_drug_wall_s"],
    "scdeal_bulk_time": lambda p: p["scdeal_bulk"]["wall_s"],
    "codeae_finetune_time": lambda p: p["codeae_finetune"]["wall_s"],
    "scdeal_bulk_peak_rss": lambda p: p["scdeal_bulk"]["peak_rss_mb"],
    "codeae_finetune_peak_rss": lambda p: p["codeae_finetune"]["peak_rss_mb"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--axes", nargs="+", choices=["cells", "genes", "drugs"], default=["cells", "genes", "drugs"])
    ap.add_argument("--cells-grid", type=int, nargs="+", default=AXES["cells"])
    ap.add_argument("--genes-grid", type=int, nargs="+", default=AXES["genes"])
    ap.add_argument("--max-drugs", type=int, default=8, help="drugs axis: 1, 2, 4, … up to this (default 8)")
    ap.add_argument("--genes", type=int, default=2000, help="genes of the cells axis and of the drugs axis' scDEAL")
    ap.add_argument("--cells", type=int, default=10000, help="cells of the genes axis")
    ap.add_argument("--cell-lines", type=int, default=1000)
    ap.add_argument("--codeae-genes", type=int, default=1000)
    ap.add_argument("--patients", type=int, default=1000, help="CODE-AE pretraining's target rows")
    ap.add_argument("--codeae-folds", type=int, choices=[1, 5], default=5,
                    help="5: rule finetune_codeae's cross-validation; 1: one fold")
    ap.add_argument("--epochs", type=int, default=5, help="epochs of every stage (default 5)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cold", action="store_true",
                    help="measure each point's first run, imports and one-off set-up included (default: a tiny "
                         "warm-up run first)")
    ap.add_argument("--quick", action="store_true", help="a tiny grid for checking the code (results/quick/)")
    ap.add_argument("--output", type=Path, default=None, help="results folder (default benchmarks/results)")
    args = ap.parse_args()
    out = args.output or (harness.RESULTS / "quick" if args.quick else harness.RESULTS)
    q = args.quick
    epochs = QUICK["epochs"] if q else args.epochs
    lines = QUICK["cell_lines"] if q else args.cell_lines
    fixed_genes, fixed_cells = (QUICK["fixed_genes"], QUICK["fixed_cells"]) if q else (args.genes, args.cells)
    grids = {"cells": QUICK["cells"] if q else args.cells_grid, "genes": QUICK["genes"] if q else args.genes_grid,
             "drugs": QUICK["drugs"] if q else power_grid(args.max_drugs)}
    report = {"quick": q, "threads": args.threads, "epochs": epochs, "cold": args.cold,
              "sparse_finding": SPARSE_FINDING, "axes": {}}
    earlier = harness.read_results(out).get("scaling")
    if earlier and earlier.get("quick") == q:  # axes measured by an earlier run (--axes) are kept
        report["axes"] = {k: v for k, v in earlier.get("axes", {}).items() if k not in args.axes}
    for axis in args.axes:
        points = []
        for value in grids[axis]:
            start = time.perf_counter()
            if axis == "drugs":
                point = harness.in_subprocess(run_drugs_point, value, lines, fixed_genes,
                                              QUICK["codeae_genes"] if q else args.codeae_genes,
                                              QUICK["patients"] if q else args.patients, epochs, args.codeae_folds,
                                              args.threads, q, args.cold)
                print(f"drugs={value}: scDEAL bulk {point['scdeal_bulk']['wall_s']:.2f} s, CODE-AE fine-tuning "
                      f"{point['codeae_finetune']['wall_s']:.2f} s (pretraining {point['pretrain']['wall_s']:.2f} s); "
                      f"peaks {point['scdeal_bulk']['peak_rss_mb']:.0f} / {point['codeae_finetune']['peak_rss_mb']:.0f} MB")
            else:
                n_cells, n_genes = (value, fixed_genes) if axis == "cells" else (fixed_cells, value)
                point = harness.in_subprocess(run_scdeal_point, n_cells, n_genes, lines, epochs, args.threads, q,
                                              args.cold)
                print(f"{axis}={value}: preprocess {point['preprocess']['wall_s']:.2f} s, fit "
                      f"{point['fit']['wall_s']:.2f} s (" + ", ".join(f"{s} {v['seconds']:.2f}" for s, v in
                                                             point["stages"].items())
                      + f"; outside the stages {point['fit']['wall_s'] - sum(v['seconds'] for v in point['stages'].values()):.2f}"
                      + f"), fit peak {point['fit']['peak_rss_mb']:.0f} MB (from {point['fit']['rss_before_mb']:.0f})"
                      f", X {point['formats']['after align_to_bulk (X)']}")
            point["point_wall_s"] = time.perf_counter() - start
            points.append(point)
        if axis == "drugs":
            fitted = slopes(points, "drugs", DRUG_SERIES)
        else:
            fitted = slopes(points, axis, SCDEAL_SERIES)
        report["axes"][axis] = {"grid": grids[axis], "points": points, "slopes": fitted,
                                "fixed": {"genes": fixed_genes} if axis != "genes" else {"cells": fixed_cells}}
        print(f"{axis}: log–log slopes " + ", ".join(f"{k} {v:.2f}" if v is not None else f"{k} –"
                                                     for k, v in fitted.items()))
    first = next(iter(report["axes"].values()), {}).get("points", [{}])
    report["environment"] = first[0].get("environment") if first else None
    print(f"wrote {harness.write_result('scaling', report, out)}")


if __name__ == "__main__":
    main()
