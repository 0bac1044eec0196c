"""Rule tidy_bulk_expression: GDSC and/or CCLE expression -> cell lines x shared genes (per-source z-scores)."""

from drugshift import runlog
from drugshift.io.bulk import read_bulk_expression

log = runlog.start(snakemake.log[0])
paths = {name: snakemake.input[name] for name in ("gdsc", "ccle") if name in snakemake.input.keys()}
sample_info = snakemake.input.sample_info if "sample_info" in snakemake.input.keys() else None
expression = read_bulk_expression(paths, sample_info)
expression.attrs.pop("source_of")
expression.to_parquet(snakemake.output[0])
log.info("integrated bulk: %d cell lines x %d shared genes", *expression.shape)
