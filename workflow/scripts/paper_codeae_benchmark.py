"""Rule paper_codeae_benchmark: CODE-AE Fig. 3a-b (tumour models) and 4a-b (patients), AUROC and
AUPRC per drug and method with error bars over the fold models, and a critical-difference diagram
of the methods' mean ranks per cohort."""

import pandas as pd

from drugshift import runlog
from drugshift.plots import save_figure
from drugshift.plots.codeae_paper import critical_difference, metric_by_drug

log = runlog.start(snakemake.log[0])
benchmark = pd.read_csv(snakemake.input[0], sep="\t")
figures = {"codeae_fig3a": ("AUROC", metric_by_drug), "codeae_fig3b": ("AUPRC", metric_by_drug),
           "codeae_fig4a": ("AUROC", metric_by_drug), "codeae_fig4b": ("AUPRC", metric_by_drug),
           "drugshift_cd": ("AUROC", critical_difference)}
for name, path in snakemake.output.items():
    key, cohort = next((k, name[len(k) + 1:]) for k in figures if name.startswith(k + "_"))
    metric, draw = figures[key]
    save_figure(draw(benchmark, cohort, metric), path)
    log.info("%s: %s on %s", key, metric, cohort)
