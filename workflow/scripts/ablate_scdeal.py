"""Rule ablate_scdeal: one ablation setting on one replicate (seed or 80 % subsample) of a dataset."""

import json

import anndata as ad
import numpy as np
import pandas as pd
import torch

from drugshift import runlog
from drugshift.ablations import run_setting, single_source_bulk
from drugshift.cards import write_json
from drugshift.methods import SETTINGS, replicate_seeds
from drugshift.params import resolve_scdeal_params
from drugshift.preprocess import labelled_bulk
from drugshift.splits import stratified_subsample

log = runlog.start(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
wc, inputs = snakemake.wildcards, snakemake.input
tuned = json.loads(open(inputs.tuned).read())["selected"] if "tuned" in inputs.keys() else None
params = resolve_scdeal_params(snakemake.config, wc.dataset, wc.setting, wc.replicate, tuned)
cells = ad.read_h5ad(inputs.cells)
bulk = pd.read_parquet(inputs.bulk)
if SETTINGS[wc.setting].bulk != "both":
    bulk = single_source_bulk(bulk, cells.var_names)
bulk, y = labelled_bulk(bulk, pd.read_parquet(inputs.labels))
_, subsample_seed = replicate_seeds(wc.replicate, snakemake.config["seed"])
if subsample_seed is not None:
    cells = cells[stratified_subsample(cells.obs["response"], snakemake.params.fraction, subsample_seed)].copy()
log.info("%s %s %s: %d cell lines, %d cells", wc.dataset, wc.setting, wc.replicate, len(y), cells.n_obs)
result = run_setting(wc.setting, bulk.to_numpy("float32"), y, np.asarray(cells.X, dtype="float32"),
                     np.asarray(cells.layers["lognorm"]), cells.obs["response"], params, log=log,
                     device=snakemake.params.device, linear_C=snakemake.params.linear_C)
write_json({"dataset": wc.dataset, "setting": wc.setting, "replicate": wc.replicate, "model_seed": params.seed,
            "subsample_seed": subsample_seed, "n_cells": int(cells.n_obs), **result}, snakemake.output[0])
log.info("transfer AUROC %.3f F1 %.3f", result["transfer"]["auroc"], result["transfer"]["f1"])
