"""Rule finetune_codeae: 5-fold CV fine-tuning of one method for one drug on labelled cell lines."""

import numpy as np
import pandas as pd
import torch

from drugshift import runlog
from drugshift.cards import environment, provenance, write_json
from drugshift.models.codeae import cross_validate_method, load_encoder, save_folds
from drugshift.preprocess import labelled_bulk

log = runlog.start(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
method, drug = snakemake.wildcards.method, snakemake.wildcards.drug
X, y = labelled_bulk(pd.read_parquet(snakemake.input.cell_lines), pd.read_parquet(snakemake.input.labels))
encoder = load_encoder(snakemake.input.encoder, snakemake.params.device) if "encoder" in snakemake.input.keys() else None
params = {**snakemake.params.finetune, "seed": snakemake.params.seed}
log.info("%s / %s: %d labelled cell lines (%d sensitive)", method, drug, len(y), int(y.sum()))
folds = cross_validate_method(method, X.to_numpy(np.float32), y, encoder, params, snakemake.params.codeae,
                              log=log, device=snakemake.params.device, name=f"{method} {drug}")
save_folds(folds, snakemake.output.model, method, params)
write_json({"method": method, "drug": drug, "n_cell_lines": len(y), "n_sensitive": int(y.sum()),
            "folds": [{"fold": f.fold, **f.val_metrics, "stages": f.info.get("stages", [])} for f in folds],
            "finetune": params, "provenance": provenance(dict(snakemake.input.items())),
            "environment": environment()}, snakemake.output.cv)
log.info("%s / %s: held-out cell-line AUROC per fold %s", method, drug,
         [round(f.val_metrics["auroc"], 3) for f in folds])
