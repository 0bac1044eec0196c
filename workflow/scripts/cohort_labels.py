"""Rule cohort_labels: the responses of one cohort's samples to each CODE-AE drug (GDSC names),
read only by benchmark_codeae to score zero-shot predictions."""

import pandas as pd

from drugshift import runlog
from drugshift.cohorts import Cohort, cohort_labels

log = runlog.start(snakemake.log[0])
cohort = Cohort.from_config(snakemake.wildcards.cohort, snakemake.params.cohort)
samples = pd.read_parquet(snakemake.input.expression, columns=[]).index
labels = cohort_labels(cohort, snakemake.params.drugs, samples)
labels.to_parquet(snakemake.output[0], index=False)
log.info("%s: labels for %d of %d drugs, %d (sample, drug) pairs, %d responders", cohort.name,
         labels["drug"].nunique(), len(snakemake.params.drugs), len(labels), int(labels["label"].sum()))
