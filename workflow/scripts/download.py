"""Rule download: one manifest file from upstream (or the mirror), retried, verified, atomic."""

from drugshift import runlog
from drugshift.download import Entry, fetch

log = runlog.start(snakemake.log[0])
p = snakemake.params
fetch(Entry(**p.entry), snakemake.output[0], mirror=p.mirror, retries=p.retries, timeout=p.timeout,
      backoff=p.backoff)
