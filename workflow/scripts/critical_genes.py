"""Rule critical_genes: Wilcoxon tests of IG between predicted sensitive and resistant cells (and
bulk cell lines), thresholds from config, and the bulk vs single-cell overlap (Table S6)."""

import anndata as ad

from drugshift import runlog
from drugshift.interpret import critical_gene_overlap, critical_genes
from drugshift.plots import plot_critical_genes, save_figure

log = runlog.start(snakemake.log[0])
cells = ad.read_h5ad(snakemake.input.cells)
tables = {}
for what, path, out in (("cells", snakemake.input.cells, snakemake.output.cells),
                        ("bulk", snakemake.input.bulk, snakemake.output.bulk)):
    attr = cells if what == "cells" else ad.read_h5ad(path)
    tables[what] = critical_genes(attr, snakemake.params.thresholds)
    tables[what].to_csv(out, sep="\t", index=False, float_format="%.6g")
    log.info("%s: %s critical genes", what, tables[what].groupby("group")["critical"].sum().to_dict())
overlap = critical_gene_overlap(tables["cells"], tables["bulk"])
overlap.to_csv(snakemake.output.overlap, sep="\t", index=False, float_format="%.6g")
log.info("bulk vs single-cell overlap:\n%s", overlap.drop(columns="shared_genes").to_string(index=False))
save_figure(plot_critical_genes(cells, tables["cells"], top=snakemake.params.top,
                    title=f"{snakemake.wildcards.dataset} / {snakemake.wildcards.drug}"), snakemake.output.figure)
