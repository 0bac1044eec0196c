"""Rule ablate_scdeal: one ablation setting on one replicate (seed or 80 % subsample) of a dataset."""

import json

import anndata as ad
import numpy as np
import pandas as pd
import torch

from drugshift import runlog
from drugshift.ablations import SETTINGS, replicate_seeds, run_setting, stratified_subsample
from drugshift.cards import write_json
from drugshift.preprocess import labelled_bulk, minmax_apply, minmax_fit

log = runlog.start(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
wc = snakemake.wildcards
cells = ad.read_h5ad(snakemake.input.cells)
bulk = pd.read_parquet(snakemake.input.bulk)
if SETTINGS[wc.setting].bulk != "both":
    # One source alone: the cells' genes, min-max scaled within that source.
    genes = list(cells.var_names)
    lo, hi = minmax_fit(bulk[genes].to_numpy("float32"))
    bulk = pd.DataFrame(minmax_apply(bulk[genes].to_numpy("float32"), lo, hi), index=bulk.index, columns=genes)
bulk, y = labelled_bulk(bulk, pd.read_parquet(snakemake.input.labels))
hyper = dict(snakemake.params.hyper)
if "tuned" in snakemake.input.keys():
    hyper.update(json.loads(open(snakemake.input.tuned).read())["selected"])
model_seed, subsample_seed = replicate_seeds(wc.replicate, hyper["seed"])
hyper["seed"] = model_seed
if subsample_seed is not None:
    keep = stratified_subsample(cells.obs["response"], snakemake.params.fraction, subsample_seed)
    cells = cells[keep].copy()
log.info("%s %s %s: %d cell lines, %d cells", wc.dataset, wc.setting, wc.replicate, len(y), cells.n_obs)
result = run_setting(wc.setting, bulk.to_numpy("float32"), y, np.asarray(cells.X, dtype="float32"),
                     np.asarray(cells.layers["lognorm"]), cells.obs["response"], hyper, log=log,
                     device=snakemake.params.device, linear_C=snakemake.params.linear_C)
write_json({"dataset": wc.dataset, "setting": wc.setting, "replicate": wc.replicate, "model_seed": model_seed,
            "subsample_seed": subsample_seed, "n_cells": int(cells.n_obs), **result}, snakemake.output[0])
log.info("transfer AUROC %.3f F1 %.3f", result["transfer"]["auroc"], result["transfer"]["f1"])
