"""Rule tidy_cohort: one `patients.<name>` cohort (xena, pdtc or table) -> expression on a log
scale and its labels per (sample, GDSC drug), used only to score zero-shot predictions."""

from drugshift import runlog
from drugshift.cohorts import Cohort, read_cohort

log = runlog.start(snakemake.log[0])
cohort = Cohort.from_config(snakemake.wildcards.cohort, snakemake.params.cohort)
expression, labels = read_cohort(cohort, snakemake.params.drugs)
expression.to_parquet(snakemake.output.expression)
labels.to_parquet(snakemake.output.labels, index=False)
log.info("%s (%s, values %s): %d samples x %d genes; labels for %d of %d drugs (%d sample-drug pairs)",
         cohort.name, cohort.format, cohort.values, *expression.shape, labels["drug"].nunique(),
         len(snakemake.params.drugs), len(labels))
