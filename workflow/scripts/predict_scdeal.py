"""Rule predict_scdeal: per-cell probabilities of sensitivity, with and without transfer, from the model folder."""

import anndata as ad

from drugshift import runlog
from drugshift.models.scdeal import load_scdeal
from drugshift.predict import scdeal_predictions

log = runlog.start(snakemake.log[0])
model = load_scdeal(snakemake.input.model)
predictions = scdeal_predictions(model, ad.read_h5ad(snakemake.input.cells))
predictions.write_h5ad(snakemake.output[0])
log.info("%s: %d cells, %.1f%% predicted sensitive", model, predictions.n_obs,
         100 * predictions.obs["sens_label"].mean())
