"""Rule paper_scdeal_truth: per labelled dataset, scDEAL Fig. 3b (UMAP by the DEG scores), 3c
(predicted- vs ground-truth-label DEG scores), 3d (empirical null) and 4a (truth vs prediction)."""

import json

import anndata as ad
import pandas as pd

from drugshift import runlog
from drugshift.paper_figures import DEG_GROUPS, attach_cell_tables
from drugshift.plots import note_figure, save_figure
from drugshift.plots.scdeal_paper import deg_score_scatter, null_distribution, umap_panels

log = runlog.start(snakemake.log[0])
inp, out = snakemake.input, snakemake.output
scores = pd.read_csv(inp.deg_scores, sep="\t")
with open(inp.deg_stats) as f:
    stats = json.load(f)
cells = attach_cell_tables(ad.read_h5ad(inp.predictions), umap=pd.read_csv(inp.umap, sep="\t"), deg_scores=scores)


def no_degs(group):
    """Why a group has no DEG score: no DEG of the predicted or of the ground-truth labels."""
    entry = stats[group]
    return (f"No {group} DEG score: {len(entry['predicted_degs'])} DEGs of the predicted labels and "
            f"{len(entry['truth_degs'])} of the ground truth pass the thresholds (interpret.deg).")


scored = [g for g in DEG_GROUPS if f"{g}_score" in cells.obs]
save_figure(umap_panels(cells, [(f"{g}_score", f"{g} DEG score") for g in scored]) if scored
            else note_figure("DEG scores", " ".join(no_degs(g) for g in DEG_GROUPS)), out.scdeal_fig3b)
for group in DEG_GROUPS:
    entry = stats[group]
    if group not in scored:
        save_figure(note_figure(f"{group} DEG scores", no_degs(group)), out[f"scdeal_fig3c_{group}"])
        save_figure(note_figure(f"{group} DEGs: empirical null", no_degs(group)), out[f"scdeal_fig3d_{group}"])
        continue
    save_figure(deg_score_scatter(scores, group), out[f"scdeal_fig3c_{group}"])
    save_figure(null_distribution(entry["null_r"], entry["pearson_r"], group, entry.get("p_empirical"))
                if entry.get("null_r") else note_figure(f"{group} DEGs: empirical null", "interpret.deg.n_null is 0: "
                                                        "no random gene sets were scored."),
                out[f"scdeal_fig3d_{group}"])
save_figure(umap_panels(cells, [("response", "ground truth"), ("sens_label", "predicted label")]), out.scdeal_fig4a)
log.info("%s: Fig. 3b-d, 4a; Pearson r of the DEG scores %s (None: no DEG score)", snakemake.wildcards.dataset,
         {g: stats[g]["pearson_r"] for g in DEG_GROUPS})
