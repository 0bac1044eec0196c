"""Rule paper_scdeal_pseudotime: per dataset with a pseudotime root, scDEAL Fig. 5a-b (UMAP by
pseudotime and probability), 5c-d (diffusion map by the top sensitive and resistant critical
gene) and 5e-f (correlations of pseudotime, probabilities and DEG scores)."""

import anndata as ad
import pandas as pd

from drugshift import runlog
from drugshift.paper_figures import DEG_GROUPS, attach_cell_tables, top_critical_gene
from drugshift.plots import save_figure
from drugshift.plots.scdeal_paper import correlation_matrix, umap_panels

log = runlog.start(snakemake.log[0])
inp, out = snakemake.input, snakemake.output
scores = pd.read_csv(inp.deg_scores, sep="\t") if "deg_scores" in inp.keys() else None
cells = attach_cell_tables(ad.read_h5ad(inp.predictions), umap=pd.read_csv(inp.umap, sep="\t"),
                           pseudotime=pd.read_csv(inp.pseudotime, sep="\t"), deg_scores=scores)
save_figure(umap_panels(cells, [("pseudotime", "diffusion pseudotime"), ("sens_prob", "predicted P(sensitive)")]),
            out.scdeal_fig5ab)
critical = pd.read_csv(inp.critical, sep="\t")
genes = [top_critical_gene(critical, group) for group in DEG_GROUPS]
save_figure(umap_panels(cells, [(g, f"{group} critical gene {g}") for g, group in zip(genes, DEG_GROUPS)],
                        basis="X_diffmap"), out.scdeal_fig5cd)
columns = ["pseudotime", "sens_prob"] + [f"{g}_score" for g in DEG_GROUPS if f"{g}_score" in cells.obs]
table = cells.obs[columns].rename(columns={"sens_prob": "P(sensitive)", "sensitive_score": "sensitive DEG score",
                                           "resistant_score": "resistant DEG score"})
save_figure(correlation_matrix(table, title=snakemake.wildcards.dataset), out.scdeal_fig5ef)
log.info("%s: Fig. 5; genes %s", snakemake.wildcards.dataset, genes)
