"""Rule predict_codeae: zero-shot prediction of every patient / tumour model by each fold model
of one (method, drug) model, and their mean (sens_prob), SD and label."""

import pandas as pd

from drugshift import runlog
from drugshift.models.codeae import DrugResponseModel

log = runlog.start(snakemake.log[0])
model = DrugResponseModel.load(snakemake.input.model)
patients = pd.read_parquet(snakemake.input.patients)
out = model.predict(patients.drop(columns="cohort"), folds=True)
out.insert(0, "drug", model.drug)
out.insert(0, "method", model.method)
out.insert(0, "cohort", patients["cohort"].to_numpy())
out.rename_axis("sample").reset_index().to_parquet(snakemake.output[0], index=False)
log.info("%s / %s: %d samples predicted by %d fold models; mean probability %.3f", model.method, model.drug,
         len(out), len(model.folds), out["sens_prob"].mean())
