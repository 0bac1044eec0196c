"""Rule tidy_tcga: Xena TPM, phenotype and clinical drug tables -> tidy patient tables."""

from drugshift import runlog
from drugshift.io.tcga import read_clinical_drug, read_xena_matrix, read_xena_phenotype, recist_label

log = runlog.start(snakemake.log[0])
expression = read_xena_matrix(snakemake.input.expression)
phenotype = read_xena_phenotype(snakemake.input.phenotype)
clinical = read_clinical_drug(snakemake.input.clinical_drug)
clinical["label"] = recist_label(clinical["best_response"])
expression.to_parquet(snakemake.output.expression)
clinical.to_parquet(snakemake.output.clinical, index=False)
log.info("TCGA: %d samples x %d genes (%d with phenotype); %d treatments of %d drugs, %d with a RECIST label",
         *expression.shape, expression.index.isin(phenotype.index).sum(), len(clinical),
         clinical["drug"].nunique(), clinical["label"].notna().sum())
