"""Rule benchmark_codeae: AUROC/AUPRC of every (method, drug, fold) on held-out cell lines and,
zero-shot, on each labelled patient cohort; the paper's Table 1 as a rank summary."""

import json
from pathlib import Path

import pandas as pd

from drugshift import runlog
from drugshift.benchmark import benchmark_table, rank_summary

log = runlog.start(snakemake.log[0])
cards = [json.loads((Path(folder) / "model.json").read_text()) for folder in snakemake.input.models]
predictions = [pd.read_parquet(path) for path in snakemake.input.predictions]
labels = {cohort: pd.read_parquet(path) for cohort, path in zip(snakemake.params.cohorts, snakemake.input.labels)}
table = benchmark_table(cards, predictions, labels)
table.to_csv(snakemake.output.table, sep="\t", index=False, float_format="%.4f")
summary = rank_summary(table)
summary.to_csv(snakemake.output.summary, sep="\t", index=False, float_format="%.4f")
log.info("benchmark: %d rows\n%s", len(table), summary.to_string(index=False))
