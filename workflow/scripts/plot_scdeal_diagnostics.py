"""Rule plot_scdeal_diagnostics: the model card's transfer diagnostics and verdict as a figure."""

import anndata as ad

from drugshift import runlog
from drugshift.models.scdeal import load_scdeal
from drugshift.plots import plot_transfer_diagnostics, save_figure

log = runlog.start(snakemake.log[0])
model = load_scdeal(snakemake.input.model)
wildcards = snakemake.wildcards
save_figure(plot_transfer_diagnostics(ad.read_h5ad(snakemake.input.predictions), model.diagnostics,
                          title=f"{wildcards.dataset} / {model.drug or wildcards.drug}: {model.diagnostics['verdict']}"), snakemake.output[0])
log.info("%s: verdict %s", model, model.diagnostics["verdict"])
