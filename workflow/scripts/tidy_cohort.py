"""Rule tidy_cohort: one `patients.<name>` cohort (xena, pdtc or table) -> its expression, samples
x genes on a log scale (or as given when normalised)."""

from drugshift import runlog
from drugshift.cohorts import Cohort, read_expression

log = runlog.start(snakemake.log[0])
cohort = Cohort.from_config(snakemake.wildcards.cohort, snakemake.params.cohort)
expression = read_expression(cohort)
expression.to_parquet(snakemake.output[0])
log.info("%s (%s, values %s): %d samples x %d genes", cohort.name, cohort.format, cohort.values, *expression.shape)
