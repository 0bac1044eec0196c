"""Rule cell_umap: the 2-D UMAP of the scDEAL embedding of the cells, shared by every cell map."""

import anndata as ad
import pandas as pd

from drugshift import runlog
from drugshift.graph import umap_coordinates

log = runlog.start(snakemake.log[0])
cells = ad.read_h5ad(snakemake.input[0])
xy = umap_coordinates(cells, use_rep="X_scdeal", seed=snakemake.params.seed)
pd.DataFrame(xy, index=cells.obs_names, columns=["UMAP1", "UMAP2"]).to_csv(
    snakemake.output[0], sep="\t", index_label="cell", float_format="%.6g")
log.info("UMAP of %d cells on the %d-d scDEAL embedding", *cells.obsm["X_scdeal"].shape)
