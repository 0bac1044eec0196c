"""Rule bulk_expression_source: one bulk source alone (the GDSC-only / CCLE-only ablations)."""

from drugshift import runlog
from drugshift.io.bulk import read_bulk_expression

log = runlog.start(snakemake.log[0])
source = snakemake.wildcards.source
sample_info = snakemake.input.sample_info if "sample_info" in snakemake.input.keys() else None
expression = read_bulk_expression({source: snakemake.input.expression}, sample_info)
expression.attrs.pop("source_of")
expression.to_parquet(snakemake.output[0])
log.info("%s alone: %d cell lines x %d genes", source, *expression.shape)
