"""Rule summarise_scdeal: one table of every dataset's metrics, with and without transfer."""

from pathlib import Path

from drugshift import runlog
from drugshift.evaluate import metrics_table

log = runlog.start(snakemake.log[0])
# results/scdeal/<dataset>/<drug>/metrics.json
table = metrics_table({(Path(p).parts[-3], Path(p).parts[-2]): p for p in snakemake.input})
table.to_csv(snakemake.output[0], sep="\t", index=False, float_format="%.4f")
log.info("\n%s", table.to_string(index=False))
