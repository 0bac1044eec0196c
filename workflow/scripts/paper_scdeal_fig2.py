"""Rule paper_scdeal_fig2: scDEAL Fig. 2 — the seven metrics per dataset (2a); F1 by bulk source
(2b), by autoencoder (2c) and with vs without transfer (2d) over the evaluation's seeds; the
80 % subsampling robustness. Without the evaluation, 2d compares the workflow's own models."""

import pandas as pd

from drugshift import runlog
from drugshift.plots import save_figure
from drugshift.plots.scdeal_paper import metrics_by_dataset, setting_comparison, subsampling_robustness

log = runlog.start(snakemake.log[0])
out = snakemake.output
summary = pd.read_csv(snakemake.input.summary, sep="\t")
runs = pd.read_csv(snakemake.input.runs[0], sep="\t") if snakemake.input.runs else None
if "scdeal_fig2a" in out.keys():
    save_figure(metrics_by_dataset(summary), out.scdeal_fig2a)
if "scdeal_fig2b" in out.keys():
    save_figure(setting_comparison(runs, ["gdsc_only", "ccle_only", "scdeal"],
                                   {"gdsc_only": "GDSC only", "ccle_only": "CCLE only", "scdeal": "both"},
                                   title="bulk sources"), out.scdeal_fig2b)
if "scdeal_fig2c" in out.keys():
    save_figure(setting_comparison(runs, ["ae", "dae", "scdeal"],
                                   {"ae": "AE", "dae": "DAE", "scdeal": "DAE + cluster regulariser"},
                                   title="autoencoders"), out.scdeal_fig2c)
if "scdeal_fig2d" in out.keys():
    transfer_runs = runs
    if runs is None or "no_transfer" not in set(runs["setting"]):
        # The workflow's own model per dataset, scored with and without its transfer step.
        transfer_runs = summary.assign(setting=summary["setting"].replace({"transfer": "scdeal"}), replicate="seed0")
    save_figure(setting_comparison(transfer_runs, ["no_transfer", "scdeal"], {"no_transfer": "without transfer",
                                                                      "scdeal": "with transfer"},
                                   title="transfer"), out.scdeal_fig2d)
if "scdeal_fig2_subsampling" in out.keys():
    save_figure(subsampling_robustness(runs), out.scdeal_fig2_subsampling)
log.info("scDEAL Fig. 2 panels: %s", ", ".join(out.keys()))
