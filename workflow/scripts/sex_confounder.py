"""Rule sex_confounder: tumour-type classification trained on one sex and scored on the other,
with encoders pretrained with the two sexes as the two domains (CODE-AE paper, Fig. 2d–g;
drugshift.confounder)."""

import pandas as pd
import torch

from drugshift import runlog
from drugshift.cohorts import read_samples
from drugshift.confounder import confounder_tests, sex_confounder_experiment
from drugshift.plots import save_figure
from drugshift.plots.confounder import confounder_performance

log = runlog.start(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg = snakemake.params.experiment
expression = pd.read_parquet(snakemake.input.expression)
samples = read_samples(snakemake.input.samples)
results = sex_confounder_experiment(
    expression, samples, cfg["methods"], snakemake.params.method_params, features=snakemake.params.features,
    min_per_class=cfg["min_per_class"], n_folds=cfg["n_folds"], seed=snakemake.params.seed,
    pretrain_epochs=cfg["pretrain_epochs"], pretrain_on=cfg["pretrain_on"], device=snakemake.params.device,
    progress=log.info)
tests = confounder_tests(results)
results.to_csv(snakemake.output.results, sep="\t", index=False, float_format="%.6g")
tests.to_csv(snakemake.output.tests, sep="\t", index=False, float_format="%.6g")
save_figure(confounder_performance(results, tests), snakemake.output.figure)
for row in tests[tests["runner_up"]].itertuples():
    log.info("%s %s: best %s %.3f vs %s %.3f (t-test p %.3g, Wilcoxon p %.3g)", row.direction, row.metric, row.best,
             row.best_mean, row.other, row.other_mean, row.t_p, row.wilcoxon_p)
log.info("cohort %s: %s on %d genes; pretraining seconds %s", cfg["cohort"], results.attrs["classes"],
         len(results.attrs["genes"]), results.attrs["pretraining"])
