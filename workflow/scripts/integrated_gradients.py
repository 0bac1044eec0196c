"""Rule integrated_gradients: IG of the sensitive and resistant outputs for every cell (Es -> P) and
every bulk cell line (Eb -> P), stored as cells x genes AnnData with one layer per output."""

import anndata as ad
import numpy as np
import pandas as pd
import torch

from drugshift import runlog
from drugshift.interpret import (
    attribution_anndata,
    baseline_probability,
    bulk_path,
    cell_path,
    completeness_error,
    integrated_gradients,
)
from drugshift.models.scdeal import load_scdeal

log = runlog.start(snakemake.log[0])
torch.set_num_threads(1)
model = load_scdeal(snakemake.input.model)
cells = ad.read_h5ad(snakemake.input.predictions)
bulk = pd.read_parquet(snakemake.input.bulk)
steps, batch = snakemake.params.steps, snakemake.params.batch_size
for what, network, X, obs, prob, out in (
    ("cells", cell_path(model), np.asarray(cells.X, dtype=np.float32),
     cells.obs[[c for c in ("response", "condition", "sens_prob_no_transfer") if c in cells.obs]],
     cells.obs["sens_prob"].to_numpy(), snakemake.output.cells),
    ("bulk", bulk_path(model), bulk.to_numpy(np.float32), pd.DataFrame(index=bulk.index.astype(str)),
     model.predict_bulk(bulk.to_numpy(np.float32)), snakemake.output.bulk),
):
    attributions = integrated_gradients(network, X, n_steps=steps, batch_size=batch)
    error = completeness_error(network, X, attributions)
    summary = {name: {"max": float(e.max()), "mean": float(e.mean())} for name, e in error.items()}
    log.info("%s: IG of %d x %d with %d steps; completeness error %s", what, *X.shape, steps, summary)
    f0 = baseline_probability(network, X.shape[1])
    if abs(f0 - 0.5) > 0.15:
        log.warning("%s: the zero baseline is predicted sensitive with probability %.2f, not neutral: the "
                    "attributions of the %s group are small and its critical genes less reliable",
                    what, f0, "sensitive" if f0 > 0.5 else "resistant")
    uns = {"integrated_gradients": {"n_steps": steps, "baseline": "zero", "path": what,
                                    "baseline_prob_sensitive": f0, "completeness_error": summary}}
    attribution_anndata(attributions, obs, list(cells.var_names), prob, uns).write_h5ad(out)
