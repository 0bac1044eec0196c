"""Rule gather_scdeal_ablations: every run in one table, mean ± sd per setting, and a figure."""

import json

from drugshift import runlog
from drugshift.ablations import runs_table, summarise_runs
from drugshift.plots import plot_ablations, save_figure

log = runlog.start(snakemake.log[0])
runs = runs_table([json.loads(open(path).read()) for path in snakemake.input], snakemake.params.settings)
runs.to_csv(snakemake.output.table, sep="\t", index=False, float_format="%.4f")
summary = summarise_runs(runs)
summary.to_csv(snakemake.output.summary, sep="\t", index=False, float_format="%.4f")
save_figure(plot_ablations(summary), snakemake.output.figure)
log.info("\n%s", summary[["dataset", "setting", "kind", "n", "auroc_mean", "auroc_sd", "f1_mean", "f1_sd"]]
         .to_string(index=False))
