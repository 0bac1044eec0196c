"""Rule tune_scdeal: choose scDEAL's hyperparameters on bulk validation data (no cell is seen)."""

import pandas as pd
import torch

from drugshift import runlog
from drugshift.cards import write_json
from drugshift.params import resolve_scdeal_params
from drugshift.preprocess import labelled_bulk
from drugshift.tuning import select_setting, tune_bulk_model

log = runlog.start(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
bulk, y = labelled_bulk(pd.read_parquet(snakemake.input.bulk), pd.read_parquet(snakemake.input.labels))
params = resolve_scdeal_params(snakemake.config, snakemake.wildcards.dataset)
grid, metric = snakemake.params.grid, snakemake.params.metric
table = tune_bulk_model(bulk.to_numpy("float32"), y, params, grid, snakemake.params.seeds, metric,
                        log=log, device=snakemake.params.device)
table.to_csv(snakemake.output.table, sep="\t", index=False, float_format="%.4f")
selected = select_setting(table, grid, metric)
write_json({"selected": selected, "metric": f"bulk validation {metric}",
            "score": float(table[f"val_{metric}"].max()), "n_combinations": len(table)}, snakemake.output.selected)
log.info("%s: selected %s", snakemake.wildcards.dataset, selected)
