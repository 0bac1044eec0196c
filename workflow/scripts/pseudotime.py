"""Rule pseudotime: diffusion pseudotime rooted in the configured start condition vs predicted sensitivity;
the table keeps each cell's first two diffusion components for the figures."""

import anndata as ad
import pandas as pd

from drugshift import runlog
from drugshift.cards import write_json
from drugshift.errors import InputError
from drugshift.interpret import diffusion_pseudotime, pearson, root_mask

log = runlog.start(snakemake.log[0])
cells = ad.read_h5ad(snakemake.input[0])
column, root = snakemake.params.root["column"], snakemake.params.root["root"]
if column not in cells.obs:
    raise InputError(snakemake.input[0], f"no .obs column {column!r} (interpret.pseudotime); have {list(cells.obs)}")
is_root = root_mask(cells.obs[column], root)
if not is_root.any():
    raise InputError(snakemake.input[0], f"no cell has {column} == {root!r}; values: "
                                         f"{sorted(cells.obs[column].astype(str).unique())[:10]}")
layer = "lognorm" if "lognorm" in cells.layers else None
pt, diffmap = diffusion_pseudotime(cells, is_root, layer=layer, seed=snakemake.params.seed, return_diffmap=True)
stats = {"root": {"column": column, "value": str(root), "n_cells": int(is_root.sum())},
         "sensitive_probability": pearson(pt, cells.obs["sens_prob"]),
         "resistant_probability": pearson(pt, 1 - cells.obs["sens_prob"])}
log.info("pseudotime vs P(sensitive): %s", stats["sensitive_probability"])
write_json(stats, snakemake.output.stats)
pd.DataFrame({"pseudotime": pt, "DC1": diffmap[:, 0], "DC2": diffmap[:, 1], "sens_prob": cells.obs["sens_prob"].to_numpy(),
              column: cells.obs[column].to_numpy()},
             index=cells.obs_names).to_csv(snakemake.output.table, sep="\t", index_label="cell", float_format="%.6g")
