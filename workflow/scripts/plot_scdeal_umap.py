"""Rule plot_scdeal_umap: UMAP of the scDEAL embedding coloured by truth, label and probability
(no ground-truth panel for an unlabelled dataset)."""

import anndata as ad
import pandas as pd

from drugshift import runlog
from drugshift.paper_figures import attach_cell_tables
from drugshift.plots import plot_prediction_umap, save_figure

log = runlog.start(snakemake.log[0])
predictions = attach_cell_tables(ad.read_h5ad(snakemake.input.predictions),
                                 umap=pd.read_csv(snakemake.input.umap, sep="\t", index_col="cell"))
if not snakemake.params.labelled:
    del predictions.obs["response"]  # all NaN: plot_prediction_umap leaves the panel out
save_figure(plot_prediction_umap(predictions), snakemake.output[0])
