"""Rule predict_scdeal: per-cell probabilities of sensitivity, with and without transfer."""

import anndata as ad
import numpy as np

from drugshift import runlog
from drugshift.models.scdeal import load_scdeal
from drugshift.predict import annotate_predictions

log = runlog.start(snakemake.log[0])
model = load_scdeal(snakemake.input.model)
cells = ad.read_h5ad(snakemake.input.cells)
x = np.asarray(cells.X, dtype=np.float32)
predictions = annotate_predictions(cells, model.predict_cells(x), model.predict_bulk_model_on_cells(x),
                                   model.embed_cells(x))
predictions.write_h5ad(snakemake.output[0])
log.info("%d cells, %.1f%% predicted sensitive", predictions.n_obs, 100 * predictions.obs["sens_label"].mean())
