"""Rule pretrain_codeae: pretrain one method's encoder on unlabelled cell lines and patients, and
measure how well a domain classifier separates them before and after (deconfounding)."""

import numpy as np
import pandas as pd
import torch

from drugshift import runlog
from drugshift.cards import environment, provenance, write_json
from drugshift.models.codeae import domain_auroc, pretrain_method, save_encoder

log = runlog.start(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
method, seed = snakemake.wildcards.method, snakemake.params.seed
cell_lines = pd.read_parquet(snakemake.input.cell_lines)
patients = pd.read_parquet(snakemake.input.patients)
source = cell_lines.to_numpy(np.float32)
target = patients.drop(columns="cohort").to_numpy(np.float32)
trained, history = pretrain_method(method, source, target, snakemake.params.codeae, snakemake.params.baselines,
                                   seed, log, snakemake.params.device)
encoder = save_encoder(trained, snakemake.output.encoder)
with torch.no_grad():
    emb = [encoder(torch.as_tensor(x, device=next(encoder.parameters()).device)).cpu().numpy()
           for x in (source, target)]
card = {"method": method, "seed": seed, "genes": list(cell_lines.columns),
        "n_cell_lines": len(source), "n_patients": patients["cohort"].value_counts().to_dict(),
        "domain_auroc": {"input": domain_auroc(source, target, seed), "embedding": domain_auroc(*emb, seed)},
        "history": history, "provenance": provenance(dict(snakemake.input.items())), "environment": environment()}
write_json(card, snakemake.output.card)
log.info("%s: domain classifier AUROC %.3f on the inputs, %.3f on the embeddings", method,
         card["domain_auroc"]["input"], card["domain_auroc"]["embedding"])
