"""Rule paper_scdeal_truth: per labelled dataset, scDEAL Fig. 3b (UMAP by the DEG scores), 3c
(predicted- vs ground-truth-label DEG scores), 3d (empirical null) and 4a (truth vs prediction)."""

import json

import anndata as ad
import pandas as pd

from drugshift import runlog
from drugshift.paper_figures import DEG_GROUPS, attach_cell_tables
from drugshift.plots import save_figure
from drugshift.plots.scdeal_paper import deg_score_scatter, null_distribution, umap_panels

log = runlog.start(snakemake.log[0])
inp, out = snakemake.input, snakemake.output
scores = pd.read_csv(inp.deg_scores, sep="\t")
with open(inp.deg_stats) as f:
    stats = json.load(f)
cells = attach_cell_tables(ad.read_h5ad(inp.predictions), umap=pd.read_csv(inp.umap, sep="\t"), deg_scores=scores)
save_figure(umap_panels(cells, [("sensitive_score", "sensitive DEG score"), ("resistant_score", "resistant DEG score")]),
            out.scdeal_fig3b)
for group in DEG_GROUPS:
    save_figure(deg_score_scatter(scores, group), out[f"scdeal_fig3c_{group}"])
    entry = stats[group]
    save_figure(null_distribution(entry.get("null_r", []), entry["pearson_r"], group, entry.get("p_empirical")),
                out[f"scdeal_fig3d_{group}"])
save_figure(umap_panels(cells, [("response", "ground truth"), ("sens_label", "predicted label")]), out.scdeal_fig4a)
log.info("%s: Fig. 3b-d, 4a; r = %s", snakemake.wildcards.dataset,
         {g: round(stats[g]["pearson_r"], 3) for g in DEG_GROUPS})
