"""Rule enrich_critical_genes: over-representation of sensitive and resistant critical genes in each GMT."""

import pandas as pd

from drugshift import runlog
from drugshift.enrich import enrich_critical_genes
from drugshift.plots import plot_enrichment, save_figure

log = runlog.start(snakemake.log[0])
critical = pd.read_csv(snakemake.input.critical, sep="\t")
table = enrich_critical_genes(critical, snakemake.params.libraries, critical["gene"].unique(),
                              snakemake.params.min_size, snakemake.params.max_size)
table.to_csv(snakemake.output.table, sep="\t", index=False, float_format="%.6g")
save_figure(plot_enrichment(table, top=snakemake.params.top,
                title=f"{snakemake.wildcards.dataset} / {snakemake.wildcards.drug}"), snakemake.output.figure)
