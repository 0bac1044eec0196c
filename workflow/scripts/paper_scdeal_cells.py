"""Rule paper_scdeal_cells: per dataset, scDEAL Fig. 3a (UMAP by sample, ground truth, predicted
label and probability), 4b (integrated-gradient heat map) and 4c (dot plot of critical genes)."""

import anndata as ad
import pandas as pd

from drugshift import runlog
from drugshift.paper_figures import attach_cell_tables
from drugshift.plots import save_figure
from drugshift.plots.scdeal_paper import critical_gene_dotplot, ig_heatmap, umap_panels

log = runlog.start(snakemake.log[0])
inp, out, params = snakemake.input, snakemake.output, snakemake.params
cells = attach_cell_tables(ad.read_h5ad(inp.predictions), umap=pd.read_csv(inp.umap, sep="\t"))
critical = pd.read_csv(inp.critical, sep="\t")
panels = [(params.sample_column, "sample")] if params.sample_column in cells.obs else []
if cells.obs["response"].notna().any():
    panels.append(("response", "ground truth"))
panels += [("sens_label", "predicted label"), ("sens_prob", "predicted P(sensitive)")]
save_figure(umap_panels(cells, panels), out.scdeal_fig3a)
save_figure(ig_heatmap(ad.read_h5ad(inp.attr), critical, top=params.top_heatmap), out.scdeal_fig4b)
save_figure(critical_gene_dotplot(cells, critical, top=params.top_dotplot), out.scdeal_fig4c)
log.info("%s: Fig. 3a, 4b, 4c on %d cells", snakemake.wildcards.dataset, cells.n_obs)
