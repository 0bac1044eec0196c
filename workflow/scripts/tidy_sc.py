"""Rule tidy_sc: a raw single-cell dataset (one file or one per condition, + metadata) -> AnnData
with the ground truth in .obs['response'] (1 sensitive, 0 resistant, NaN unlabelled)."""

import numpy as np

from drugshift import runlog
from drugshift.errors import InputError
from drugshift.io.sc_formats import dataset_labels, load_dataset

log = runlog.start(snakemake.log[0])
ds = snakemake.params.dataset
name = snakemake.wildcards.dataset
inputs = dict(snakemake.input.items())
data = {cond: inputs[f"file_{cond}"] for cond in ds["files"]} if "files" in ds else inputs["data"]
cells = load_dataset(ds, data, metadata=inputs.get("metadata"), orthologs=inputs.get("orthologs"))
if "orthologs" in cells.uns:
    log.info("%s: mouse -> human orthologs %s", name, cells.uns["orthologs"])
# The workflow has checked that an entry without a label rule says `labelled: false`.
if "label" in ds:
    try:
        cells.obs["response"] = dataset_labels(cells, ds["label"]).to_numpy()
    except InputError as e:
        raise InputError(e.path, f"sc.datasets.{name}: {e.problem}") from e
else:
    log.info("%s: unlabelled (labelled: false): no ground truth; predicted, not scored", name)
    cells.obs["response"] = np.nan
cells.uns["drug"] = ds["drug"]
cells.write_h5ad(snakemake.output[0])
log.info("%s: %d cells x %d genes (%s); ground truth %s", name, cells.n_obs, cells.n_vars, cells.uns["values"],
         cells.obs["response"].value_counts(dropna=False).to_dict())
