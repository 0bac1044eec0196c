"""Rule plot_scdeal_umap: UMAP of the scDEAL embedding coloured by truth, label and probability
(no ground-truth panel for an unlabelled dataset)."""

import anndata as ad

from drugshift import runlog
from drugshift.plots import plot_prediction_umap, save_figure

log = runlog.start(snakemake.log[0])
predictions = ad.read_h5ad(snakemake.input[0])
if not snakemake.params.labelled:
    del predictions.obs["response"]  # all NaN: plot_prediction_umap leaves the panel out
save_figure(plot_prediction_umap(predictions, seed=snakemake.params.seed), snakemake.output[0])
