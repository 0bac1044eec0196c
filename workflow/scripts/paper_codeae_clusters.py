"""Rule paper_codeae_clusters: CODE-AE Fig. 5a (patient clusters x drugs, z-scores below 0 shown
as 0), 5b (the most frequent tumour type's patients over the clusters) and 5c (the tumour types
of the cluster predicted most sensitive across drugs)."""

import pandas as pd

from drugshift import runlog
from drugshift.cohorts import match_samples, read_samples
from drugshift.patient_analysis import response_matrix
from drugshift.plots import save_figure
from drugshift.plots.codeae_paper import (cluster_composition, cluster_drug_heatmap, cluster_drug_zscores,
                                          tumours_in_cluster)

log = runlog.start(snakemake.log[0])
inp, out = snakemake.input, snakemake.output
clusters = pd.read_csv(inp.clusters, sep="\t", index_col=0).iloc[:, 0]
predictions = pd.concat([pd.read_parquet(p) for p in inp.predictions])
matrix = response_matrix(predictions[predictions["cohort"] == snakemake.params.cohort])
zscores = cluster_drug_zscores(matrix, clusters)
save_figure(cluster_drug_heatmap(zscores), out.codeae_fig5a)
if "codeae_fig5b" in out.keys():
    tumour_type = match_samples(read_samples(inp.samples), clusters.index)["tumour_type"]
    tumour = tumour_type.value_counts().index[0]
    sensitive_cluster = zscores.groupby("patient_cluster")["zscore"].mean().idxmax()
    save_figure(cluster_composition(clusters, tumour_type, tumour), out.codeae_fig5b)
    save_figure(tumours_in_cluster(clusters, tumour_type, sensitive_cluster), out.codeae_fig5c)
    log.info("Fig. 5b: %s; Fig. 5c: cluster %s", tumour, sensitive_cluster)
