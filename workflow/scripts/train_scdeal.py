"""Rule train_scdeal: train scDEAL for one (dataset, drug), a single model or an ensemble of
`ensemble` members, and write its model folder (weights.pt and the model card model.json, both
written by the library; the card holds the transfer diagnostics and the reliability verdict)."""

import json

import anndata as ad
import pandas as pd
import torch

from drugshift import runlog
from drugshift.models.scdeal import new_scdeal
from drugshift.params import resolve_scdeal_params
from drugshift.preprocess import labelled_bulk

log = runlog.start(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
inputs, dataset = snakemake.input, snakemake.wildcards.dataset
tuned = json.loads(open(inputs.tuned).read())["selected"] if "tuned" in inputs.keys() else None
if tuned:
    log.info("hyperparameters selected on bulk validation data: %s", tuned)
params = resolve_scdeal_params(snakemake.config, dataset, tuned=tuned)
cells = ad.read_h5ad(inputs.cells)
bulk, y = labelled_bulk(pd.read_parquet(inputs.bulk), pd.read_parquet(inputs.labels))
log.info("training on %d cell lines (%d sensitive) and %d cells x %d genes", len(y), y.sum(), *cells.shape)
model = new_scdeal(params, device=snakemake.params.device, precision=snakemake.params.precision).fit(
    bulk, y, cells, drug=cells.uns.get("drug", snakemake.wildcards.drug), dataset=dataset,
    training_files=dict(inputs.items()), log=log, checkpoints=snakemake.params.checkpoints)
model.save(snakemake.output.model)
