"""Rule select_features: CODE-AE gene selection (top-k per domain, united) and per-source
standardisation, with the statistics a model needs to standardise new samples the same way."""

import pandas as pd

from drugshift import runlog
from drugshift.features import prepare_domains

log = runlog.start(snakemake.log[0])
cell_lines = pd.read_parquet(snakemake.input.cell_lines)
cohorts = {name: pd.read_parquet(path) for name, path in snakemake.input.items() if name != "cell_lines"}
cfg = snakemake.params.features
cl, patients, genes, statistics = prepare_domains(cell_lines, cohorts, cfg["k"], cfg["method"], cfg["standardise"])
cl.to_parquet(snakemake.output.cell_lines)
patients.to_parquet(snakemake.output.patients)
genes.to_csv(snakemake.output.genes, sep="\t", index=False, float_format="%.6g")
statistics.to_parquet(snakemake.output.standardisation, index=False)
log.info("CODE-AE inputs: %d genes (top %d per domain by %s); %d cell lines; patients %s",
         len(genes), cfg["k"], cfg["method"], len(cl), patients["cohort"].value_counts().to_dict())
