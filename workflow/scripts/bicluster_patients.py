"""Rule bicluster_patients: predicted patient x drug matrix of the main method, spectral
biclustering, z-scored cluster responses, and drug-target expression association."""

import pandas as pd

from drugshift import runlog
from drugshift.patient_analysis import bicluster, cluster_zscores, extreme_labels, response_matrix, target_association
from drugshift.plots import plot_bicluster, save_figure

log = runlog.start(snakemake.log[0])
cfg = snakemake.params.bicluster
predictions = pd.concat([pd.read_parquet(p) for p in snakemake.input.predictions])
cohort = snakemake.params.cohort
predictions = predictions[predictions["cohort"] == cohort]
matrix = response_matrix(predictions, sample="sample", drug="drug", value="sens_prob")
rows, cols = bicluster(matrix, cfg["n_patient_clusters"], cfg["n_drug_clusters"], snakemake.params.seed, log=log)
zscores = cluster_zscores(matrix, rows, cols)
rows.to_frame().to_csv(snakemake.output.clusters, sep="\t")
cols.to_frame().to_csv(snakemake.output.drug_clusters, sep="\t")
zscores.to_csv(snakemake.output.zscores, sep="\t", index=False, float_format="%.4f")
patients = pd.read_parquet(snakemake.input.patients)
expression = patients[patients["cohort"] == cohort].drop(columns="cohort")
# The paper calls the top / bottom 5 % of each drug's ranked scores responsive / resistant.
labels = extreme_labels(matrix, cfg["extreme_fraction"])
association = target_association(expression, labels, snakemake.params.drug_targets, log=log)
association.to_csv(snakemake.output.association, sep="\t", index=False, float_format="%.6g")
save_figure(plot_bicluster(matrix, rows, cols, zscores=zscores,
               title=f"predicted response, {matrix.shape[0]} patients x {matrix.shape[1]} drugs"), snakemake.output.figure)
log.info("biclustered %d patients x %d drugs into %d x %d clusters; %d target tests", *matrix.shape,
         rows.nunique(), cols.nunique(), len(association))
