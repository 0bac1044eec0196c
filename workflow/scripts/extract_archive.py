"""Rule extract_archive: unpack a downloaded tar/zip into <archive>.d/ (no path may escape it)."""

from drugshift import runlog
from drugshift.download import extract

log = runlog.start(snakemake.log[0])
names = extract(snakemake.input[0], snakemake.output[0])
log.info("%s: %d files extracted to %s", snakemake.input[0], len(names), snakemake.output[0])
