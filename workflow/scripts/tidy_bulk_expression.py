"""Rule tidy_bulk_expression: GDSC and/or CCLE expression -> cell lines x shared genes (per-source z-scores)."""

from drugshift import runlog
from drugshift.io.depmap import read_depmap_expression, read_sample_info
from drugshift.io.gdsc import read_gdsc_expression
from drugshift.preprocess import integrate_bulk

log = runlog.start(snakemake.log[0])
readers = {"gdsc": read_gdsc_expression, "ccle": read_depmap_expression}
sources = {name: readers[name](snakemake.input[name]) for name in ("gdsc", "ccle") if name in snakemake.input.keys()}
id_maps = {}
if "ccle" in sources:
    info = read_sample_info(snakemake.input.sample_info).dropna(subset=["cosmic_id"])
    id_maps["ccle"] = info.set_index("depmap_id")["cosmic_id"].astype("int64").astype(str)
expression = integrate_bulk(sources, id_maps)
source_of = expression.attrs.pop("source_of")
expression.to_parquet(snakemake.output[0])
for name, frame in sources.items():
    log.info("%s: %d cell lines x %d genes; %d lines kept", name, *frame.shape, sum(v == name for v in source_of.values()))
log.info("integrated bulk: %d cell lines x %d shared genes", *expression.shape)
