"""Rule cohort_samples: a cohort's `phenotype` file -> results/patients/<cohort>/samples.tsv
(sample, tumour_type, sample_type, sex)."""

from drugshift import runlog
from drugshift.cohorts import read_samples

log = runlog.start(snakemake.log[0])
samples = read_samples(snakemake.input[0])
samples.to_csv(snakemake.output[0], sep="\t")
log.info("%d samples; tumour types: %s; sex: %s", len(samples),
         samples["tumour_type"].value_counts().to_dict(), samples["sex"].value_counts().to_dict())
