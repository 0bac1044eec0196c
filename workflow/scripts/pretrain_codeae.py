"""Rule pretrain_codeae: pretrain one method's encoder on unlabelled cell lines and patients, and
measure how well a domain classifier separates them before and after (deconfounding)."""

import pandas as pd
import torch

from drugshift import runlog
from drugshift.cards import environment, write_json
from drugshift.models.codeae import CodeAE

log = runlog.start(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
method = snakemake.wildcards.method
cell_lines = pd.read_parquet(snakemake.input.cell_lines)
patients = pd.read_parquet(snakemake.input.patients)
target = patients.drop(columns="cohort")
encoder = CodeAE.pretrain(method, cell_lines, target, snakemake.params.method_params, device=snakemake.params.device,
                          precision=snakemake.params.precision, log=log, files=dict(snakemake.input.items()),
                          checkpoints=snakemake.params.checkpoints)
encoder.save(snakemake.output.encoder)
card = {"method": method, "seed": encoder.params.pretrain.seed, "genes": encoder.genes,
        "n_cell_lines": len(cell_lines), "n_patients": patients["cohort"].value_counts().to_dict(),
        "domain_auroc": encoder.deconfounding(cell_lines, target), "history": encoder.history,
        "training_data": encoder.training_data, "environment": environment()}
write_json(card, snakemake.output.card)
log.info("%s: domain classifier AUROC %.3f on the inputs, %.3f on the embeddings", method,
         card["domain_auroc"]["input"], card["domain_auroc"]["embedding"])
