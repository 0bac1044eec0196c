"""Rule train_scdeal: train scDEAL for one (dataset, drug) and save the model and its training record."""

import json

import anndata as ad
import numpy as np
import pandas as pd
import torch

from drugshift import runlog
from drugshift.cards import environment, provenance, write_json
from drugshift.models.scdeal import fit_scdeal, save_scdeal
from drugshift.preprocess import labelled_bulk

log = runlog.start(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cells = ad.read_h5ad(snakemake.input.cells)
bulk, y = labelled_bulk(pd.read_parquet(snakemake.input.bulk), pd.read_parquet(snakemake.input.labels))
hyper = dict(snakemake.params.hyper)
if "tuned" in snakemake.input.keys():
    hyper.update(json.loads(open(snakemake.input.tuned).read())["selected"])
    log.info("hyperparameters selected on bulk validation data: %s", hyper)
log.info("training on %d cell lines (%d sensitive) and %d cells x %d genes", len(y), y.sum(), *cells.shape)
result = fit_scdeal(bulk.to_numpy(np.float32), y, np.asarray(cells.X, dtype=np.float32),
                    hyper, log=log, device=snakemake.params.device)
save_scdeal(result, snakemake.output.model)
write_json({
    "dataset": snakemake.wildcards.dataset,
    "drug": cells.uns.get("drug", snakemake.wildcards.drug),
    "genes": list(cells.var_names),
    "scaler": {col: cells.var[col].to_numpy() for col in ("sc_min", "sc_max", "bulk_min", "bulk_max")},
    "hyperparameters": result.params.to_dict(),
    "seed": result.params.seed,
    "device": str(result.device),
    "bulk": {"n_cell_lines": int(len(y)), "n_sensitive": int(y.sum()), "cell_lines": list(bulk.index)},
    "n_cells": int(cells.n_obs),
    "validation": result.bulk_metrics,
    "training": {stage: {"epochs_run": h.epochs_run, "best_epoch": h.best_epoch, "best_val": h.best_val,
                         "stopped_early": h.stopped_early} for stage, h in result.history.items()},
    "provenance": provenance(dict(snakemake.input.items())),
    "environment": environment(),
}, snakemake.output.training)
