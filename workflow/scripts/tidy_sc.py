"""Rule tidy_sc: a raw single-cell file (+ cell metadata) -> AnnData with the ground truth in .obs['response']."""

from drugshift import runlog
from drugshift.io.geo import attach_metadata, read_cell_table, read_geo_counts
from drugshift.labels import condition_labels

log = runlog.start(snakemake.log[0])
ds = snakemake.params.dataset
label = ds["label"]
if ds["format"] == "geo_counts":
    cells = read_geo_counts(snakemake.input.data)
else:
    cells = read_cell_table(snakemake.input.data, meta_columns=[label["column"]])
if "metadata" in snakemake.input.keys():
    cells = attach_metadata(cells, snakemake.input.metadata)
if label["column"] not in cells.obs:
    raise KeyError(f"{snakemake.wildcards.dataset}: label column {label['column']!r} not in the cell metadata "
                   f"(columns: {list(cells.obs.columns)})")
cells.obs["response"] = condition_labels(cells.obs[label["column"]], label["sensitive"], label["resistant"])
cells.uns["drug"] = ds["drug"]
cells.write_h5ad(snakemake.output[0])
log.info("%s: %d cells x %d genes; ground truth %s", snakemake.wildcards.dataset, cells.n_obs, cells.n_vars,
         cells.obs["response"].value_counts(dropna=False).to_dict())
