"""Rule benchmark_codeae: AUROC/AUPRC of every (method, drug, fold) on held-out cell lines and,
zero-shot, on each labelled patient cohort; the paper's Table 1 as a rank summary."""

import json

import pandas as pd

from drugshift import runlog
from drugshift.models.codeae import benchmark_rows, cohort_labels, rank_summary

log = runlog.start(snakemake.log[0])
labels = {key[: -len("_labels")]: pd.read_parquet(path) for key, path in snakemake.input.items()
          if key.endswith("_labels")}
maps = {"tcga": snakemake.params.tcga_drugs, "pdtc": snakemake.params.pdtc_drugs}
rows = []
for path in snakemake.input.cv:
    cv = json.loads(open(path).read())
    rows += [{"method": cv["method"], "cohort": "gdsc_cv", "drug": cv["drug"], "fold": f["fold"], "AUROC": f["auroc"],
              "AUPRC": f["ap"], "n": f["n"], "n_sensitive": f["n_sensitive"]} for f in cv["folds"]]
for path in snakemake.input.predictions:
    pred = pd.read_parquet(path)
    method, drug = pred["method"].iloc[0], pred["drug"].iloc[0]
    folds = sorted(c for c in pred.columns if c.startswith("fold_"))
    for cohort, table in labels.items():
        part = pred[pred["cohort"] == cohort].set_index("sample")
        y = cohort_labels(cohort, table, drug, part.index, maps[cohort])
        if y.nunique() < 2:
            continue  # drug not given in this cohort (or one class only): nothing to score
        rows += benchmark_rows(method, cohort, drug, y.to_numpy(), [part.loc[y.index, f].to_numpy() for f in folds])
table = pd.DataFrame(rows, columns=["method", "cohort", "drug", "fold", "AUROC", "AUPRC", "n", "n_sensitive"])
# cv.json names drugs by slug; use the predictions' drug names throughout.
names = {p.split("/")[-2]: pd.read_parquet(p, columns=["drug"])["drug"].iloc[0] for p in snakemake.input.predictions}
table["drug"] = table["drug"].map(lambda d: names.get(d, d))
table.to_csv(snakemake.output.table, sep="\t", index=False, float_format="%.4f")
summary = rank_summary(table)
summary.to_csv(snakemake.output.summary, sep="\t", index=False, float_format="%.4f")
log.info("benchmark: %d rows\n%s", len(table), summary.to_string(index=False))
