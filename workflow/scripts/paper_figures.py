"""Rule paper_figures: the index of the papers' panels drawn for this config (PANELS.tsv) and of
those it cannot draw, with the reason (MISSING.tsv)."""

from drugshift import runlog
from drugshift.paper_figures import missing_table, panel_table

log = runlog.start(snakemake.log[0])
panels, missing = panel_table(snakemake.params.plan), missing_table(snakemake.params.plan)
panels.to_csv(snakemake.output.panels, sep="\t", index=False)
missing.to_csv(snakemake.output.missing, sep="\t", index=False)
log.info("%d panel files drawn; %d panels not supported by this config (MISSING.tsv)", len(panels), len(missing))
for row in missing.itertuples():
    log.info("missing: %s %s %s: %s", row.paper, row.panel, row.dataset, row.reason)
