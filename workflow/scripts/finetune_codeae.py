"""Rule finetune_codeae: one method's model of one drug, cross-validated (k folds) on labelled
cell lines, saved as one model folder (drugshift.models.codeae.DrugResponseModel)."""

from pathlib import Path

import pandas as pd
import torch

from drugshift import runlog
from drugshift.features import standardisation
from drugshift.models.codeae import CodeAE, DrugResponseModel
from drugshift.preprocess import labelled_bulk

log = runlog.start(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
inputs, device = snakemake.input, snakemake.params.device
cell_lines = pd.read_parquet(inputs.cell_lines)
genes = list(cell_lines.columns)
X, y = labelled_bulk(cell_lines, pd.read_parquet(inputs.labels))
encoder = CodeAE.load(inputs.encoder, device) if "encoder" in inputs.keys() else None
model = DrugResponseModel(snakemake.wildcards.method, snakemake.params.drug, snakemake.params.method_params,
                          genes=genes, encoder=encoder, precision=snakemake.params.precision,
                          standardisation=standardisation(pd.read_parquet(inputs.standardisation), genes))
log.info("%s / %s: %d labelled cell lines (%d sensitive)", model.method, model.drug, len(y), int(y.sum()))
files = {k: v for k, v in inputs.items() if k != "encoder"}
if encoder is not None:
    files["encoder"] = Path(inputs.encoder) / "weights.pt"
model.fit(X, y, device=device, log=log, files=files, checkpoints=snakemake.params.checkpoints)
model.save(snakemake.output.model)
