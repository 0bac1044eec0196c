"""Rule preprocess_sc: QC, normalise and scale cells (min-max or z-score per gene); align bulk to the same genes."""

import anndata as ad
import pandas as pd

from drugshift import runlog
from drugshift.plots import plot_qc, save_figure
from drugshift.preprocess import QCParams, align_to_bulk, qc_and_normalise

log = runlog.start(snakemake.log[0])
params = QCParams.from_dict({**snakemake.params.qc, "normalised": snakemake.params.normalised})
raw = ad.read_h5ad(snakemake.input.cells)
cells = qc_and_normalise(raw, params, name=snakemake.wildcards.dataset)
log.info("QC %s", cells.uns["qc"])
cells, bulk = align_to_bulk(cells, pd.read_parquet(snakemake.input.bulk), scaling=params.scaling)
cells.write_h5ad(snakemake.output.cells)
bulk.to_parquet(snakemake.output.bulk)
save_figure(plot_qc(raw, cells, params), snakemake.output.figure)
