"""Rule plot_scdeal_umap: UMAP of the scDEAL embedding coloured by truth, label and probability."""

import anndata as ad

from drugshift import runlog
from drugshift.plots import plot_prediction_umap

log = runlog.start(snakemake.log[0])
plot_prediction_umap(ad.read_h5ad(snakemake.input[0]), snakemake.output[0], seed=snakemake.params.seed)
