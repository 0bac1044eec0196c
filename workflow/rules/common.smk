# Helpers shared by all stages: names, targets, input functions.
import re

DEMO_RAW = "results/raw/demo"
DEMO_FILES = [
    f"{DEMO_RAW}/{name}"
    for name in (
        "gdsc/GDSC1_fitted_dose_response.csv",
        "gdsc/GDSC2_fitted_dose_response.csv",
        "gdsc/Cell_line_RMA_proc_basalExp.txt",
        "gdsc/Cell_Lines_Details.csv",
        "depmap/CCLE_expression.csv",
        "depmap/sample_info.csv",
        "tcga/tcga_RSEM_gene_tpm.tsv.gz",
        "tcga/TCGA_phenotype.tsv",
        "tcga/clinical_drug.txt",
        "pdtc/ExpressionModels.csv",
        "pdtc/DrugResponsesAUCModels.txt",
        "genesets/demo_programs.gmt",
        "truth.json",
    )
]


def slug(name):
    """The one file-name form of a drug or dataset name: 'PLX-4720' -> 'plx-4720'."""
    return re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")


SC_DATASETS = config["sc"]["datasets"]
DATASETS = list(SC_DATASETS)
# Drugs needing bulk labels: those of the single-cell datasets plus any listed explicitly.
DRUG_NAMES = sorted(
    {d["drug"] for d in SC_DATASETS.values()} | set(config["labels"]["drugs"])
)
DRUG_BY_SLUG = {slug(d): d for d in DRUG_NAMES}
if len(DRUG_BY_SLUG) != len(DRUG_NAMES):
    raise ValueError(f"two drug names share a slug: {DRUG_NAMES}")

if config["simulate"]["enabled"]:
    # The simulated single-cell files are those the config points at under DEMO_RAW.
    DEMO_FILES += sorted(
        {
            path
            for ds in SC_DATASETS.values()
            for path in (ds["path"], ds.get("metadata"))
            if path and path.startswith(DEMO_RAW)
        }
    )


def drug_name(wildcards):
    """The drug's name as the response table spells it, from its slug."""
    return DRUG_BY_SLUG[wildcards.drug]


def bulk_expression_inputs(wildcards):
    """Expression source files, plus DepMap sample info to map DepMap ids to COSMIC ids."""
    inputs = dict(config["bulk"]["expression"])
    if "ccle" in inputs:
        if "sample_info" not in config["bulk"]:
            raise ValueError("bulk.expression.ccle needs bulk.sample_info (DepMap -> COSMIC ids)")
        inputs["sample_info"] = config["bulk"]["sample_info"]
    return inputs


def sc_inputs(wildcards):
    """The raw single-cell file and, where configured, its per-cell metadata table."""
    ds = SC_DATASETS[wildcards.dataset]
    inputs = {"data": ds["path"]}
    if "metadata" in ds:
        inputs["metadata"] = ds["metadata"]
    return inputs


def scdeal_params(wildcards):
    """scDEAL hyperparameters of one dataset: global params, then its overrides, mode and seed."""
    cfg = config["scdeal"]
    return {
        **cfg["params"],
        **cfg["datasets"].get(wildcards.dataset, {}),
        "mode": cfg["mode"],
        "seed": config["seed"],
    }


def all_targets():
    targets = [f"results/bulk/labels/{slug(d)}.parquet" for d in DRUG_NAMES]
    targets += [f"results/figures/labels/{slug(d)}_waterfall.png" for d in DRUG_NAMES]
    targets += [f"results/sc/{ds}/processed.h5ad" for ds in DATASETS]
    targets += [f"results/figures/qc/{ds}_qc.png" for ds in DATASETS]
    for ds in DATASETS:
        drug = slug(SC_DATASETS[ds]["drug"])
        targets.append(f"results/scdeal/{ds}/{drug}/model.json")
        targets.append(f"results/figures/scdeal/{ds}_{drug}_umap.png")
    if DATASETS:
        targets.append("results/scdeal/summary.tsv")
    for cohort in config["patients"]:
        targets.append(f"results/patients/{cohort}/expression.parquet")
    return targets
