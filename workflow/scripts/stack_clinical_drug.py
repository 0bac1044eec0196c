"""Rule stack_clinical_drug: the per-project GDC clinical drug tables -> one table for tidy_tcga."""

from drugshift import runlog
from drugshift.io.gdc import stack_biotab

log = runlog.start(snakemake.log[0])
table = stack_biotab(list(snakemake.input))
table.to_csv(snakemake.output[0], sep="\t", index=False)
log.info("%d drug records from %d project tables", len(table), len(snakemake.input))
