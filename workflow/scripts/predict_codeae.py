"""Rule predict_codeae: zero-shot prediction of every patient / PDTC model by each fold model."""

import numpy as np
import pandas as pd

from drugshift import runlog
from drugshift.models.codeae import load_folds, predict_folds

log = runlog.start(snakemake.log[0])
method, models = load_folds(snakemake.input.model)
patients = pd.read_parquet(snakemake.input.patients)
probs = predict_folds(models, patients.drop(columns="cohort").to_numpy(np.float32))
out = pd.DataFrame({"sample": patients.index, "cohort": patients["cohort"].to_numpy(), "method": method,
                    "drug": snakemake.params.drug})
for k, row in enumerate(probs):
    out[f"fold_{k}"] = row
out["sens_prob"] = probs.mean(axis=0)
out.to_parquet(snakemake.output[0], index=False)
log.info("%s / %s: %d samples predicted by %d fold models; mean probability %.3f", method, snakemake.params.drug,
         len(out), len(models), out["sens_prob"].mean())
