"""Rule bulk_labels: one drug's AUCs -> sensitive/resistant labels and a waterfall figure."""

import pandas as pd

from drugshift import runlog
from drugshift.labels import binarise_drug
from drugshift.plots import plot_waterfall, save_figure

log = runlog.start(snakemake.log[0])
response = pd.read_parquet(snakemake.input[0])
labels = binarise_drug(response, snakemake.params.drug, snakemake.params.method, snakemake.params.datasets)
labels.to_parquet(snakemake.output.table, index=False)
save_figure(plot_waterfall(labels), snakemake.output.figure)
log.info("%s: %d cell lines, %.1f%% sensitive (%s)", snakemake.params.drug, labels["label"].notna().sum(),
         100 * labels["label"].mean(), labels.attrs)
