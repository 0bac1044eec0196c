# Helpers shared by all stages: names, targets, input functions.
import re

from drugshift.cohorts import Cohort, expression_entry
from drugshift.io.sc_formats import values_of as sc_values_of
from drugshift.methods import needs_pretraining
from drugshift.params import ConfigError, check_config, resolve_codeae_params
from drugshift.params.predict import predict_jobs
from drugshift.tiers import input_size_mb, scaled_mem_mb, scaled_runtime, threads_of

# Every job's parameters, resolved once now: a misspelled or ill-typed key stops `snakemake -n`
# with its path, before any job runs.
try:
    check_config(config)
except ConfigError as e:
    raise WorkflowError(f"invalid configuration: {e}") from None

# Resource tiers (config `resources`, defaults in the schema; config/README.md): every rule that
# runs as a job names one, `threads: tier_threads(NAME)` and `resources: **tier(NAME)`; rules that
# do almost nothing are `localrules` (Snakefile).
TIERS = config["resources"]["tiers"]
RESOURCE_MAX = config["resources"]["max"]


def tier(name):
    """The resources of a job of tier `name` (light, medium, training): memory and wall time
    scaled by the size of the job's input files and by the attempt (drugshift.tiers); training
    jobs also ask for `gpu=<gpus_per_training_job>` (0: none, for CPU-only machines)."""
    spec = TIERS[name]

    def mem_mb(wildcards, input, attempt):
        return scaled_mem_mb(spec, input_size_mb(input), attempt, RESOURCE_MAX["mem_mb"])

    def runtime(wildcards, input, attempt):
        return scaled_runtime(spec, input_size_mb(input), attempt, RESOURCE_MAX["runtime"])

    resources = {"mem_mb": mem_mb, "runtime": runtime}
    if name == "training":
        resources["gpu"] = config["gpus_per_training_job"]
    return resources


def tier_threads(name):
    """The CPUs of a job of tier `name` (training: threads_per_training_job)."""
    return threads_of(config, name)


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
for _ds in SC_DATASETS.values():
    # `values` and the older `normalised` flag are one setting; preprocess_sc reads `normalised`.
    _ds["values"] = sc_values_of(_ds)
    _ds["normalised"] = _ds["values"] == "normalised"
DATASETS = list(SC_DATASETS)


def has_ground_truth(name, entry):
    """Whether a dataset entry has a label rule. Unlabelled data must say so (`labelled: false`),
    so that a forgotten label rule is an error instead of a dataset that is silently not scored."""
    if entry.get("labelled", True) is False:
        if "label" in entry:
            raise WorkflowError(f"invalid configuration: sc.datasets.{name}: `labelled: false` and a `label` rule "
                                "contradict each other; keep one")
        return False
    if "label" not in entry:
        raise WorkflowError(f"invalid configuration: sc.datasets.{name}: no label rule; give `label: {{...}}` or "
                            "`labelled: false`")
    return True


# Datasets with ground truth: only these are scored (metrics, evaluation runs, DEG-score and
# planted-gene comparisons); every dataset is trained on, predicted and interpreted.
LABELLED = [ds for ds in DATASETS if has_ground_truth(ds, SC_DATASETS[ds])]
LABELLED_PATTERN = "|".join(re.escape(d) for d in LABELLED) or "NO_DATASET"
# Drugs needing bulk labels: those of the single-cell datasets plus any listed explicitly.
DRUG_NAMES = sorted(
    {d["drug"] for d in SC_DATASETS.values()}
    | set(config["labels"]["drugs"])
    | set(config["codeae"]["drugs"] if config["codeae"]["enabled"] else [])
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
            for path in (ds.get("path"), ds.get("metadata"), *ds.get("files", {}).values())
            if path and path.startswith(DEMO_RAW)
        }
    )


def drug_name(wildcards):
    """The drug's name as the response table spells it, from its slug."""
    try:
        return DRUG_BY_SLUG[wildcards.drug]
    except KeyError:
        configured = ", ".join(f"{d} ({s})" for s, d in sorted(DRUG_BY_SLUG.items()))
        raise WorkflowError(
            f"no configured drug has the file name {wildcards.drug!r}; configured: {configured}"
        ) from None


def bulk_expression_inputs(wildcards):
    """Expression source files, plus DepMap sample info to map DepMap ids to COSMIC ids."""
    inputs = dict(config["bulk"]["expression"])
    if "ccle" in inputs:
        if "sample_info" not in config["bulk"]:
            raise ValueError("bulk.expression.ccle needs bulk.sample_info (DepMap -> COSMIC ids)")
        inputs["sample_info"] = config["bulk"]["sample_info"]
    return inputs


def sc_inputs(wildcards):
    """The raw single-cell file (or one per condition), its per-cell metadata table and, for
    mouse data, the ortholog table, where configured."""
    ds = SC_DATASETS[wildcards.dataset]
    if "files" in ds:
        inputs = {f"file_{cond}": path for cond, path in ds["files"].items()}
    else:
        inputs = {"data": ds["path"]}
    if "metadata" in ds:
        inputs["metadata"] = ds["metadata"]
    if ds.get("species") == "mouse":
        if "orthologs" not in config["sc"]:
            raise ValueError(f"sc.datasets.{wildcards.dataset}: species mouse needs sc.orthologs")
        inputs["orthologs"] = config["sc"]["orthologs"]
    return inputs


def cohort_expression_inputs(wildcards):
    """The expression file(s) of one patient cohort (and a Xena probe map)."""
    return PATIENTS[wildcards.cohort].expression_files()


def cohort_label_inputs(wildcards):
    """The label file(s) of one patient cohort (and its drug-name map); none without labels."""
    return PATIENTS[wildcards.cohort].label_files()


from drugshift.params import resolve_scdeal_params


def scdeal_params(wildcards):
    """The resolved scDEAL parameters of a job (drugshift.params.resolve_scdeal_params; the
    script resolves them again with the tuned selection), as a params value so that a changed
    parameter reruns the job."""
    return resolve_scdeal_params(
        config, wildcards.dataset, wildcards.get("setting"), wildcards.get("replicate")
    ).to_dict()


TUNING = config["scdeal"]["tuning"]


def dataset_drug(wildcards):
    return slug(SC_DATASETS[wildcards.dataset]["drug"])


def tuned_input(wildcards):
    """The selected hyperparameters of the dataset when tuning is on."""
    if not TUNING["enabled"]:
        return {}
    return {"tuned": f"results/scdeal/{wildcards.dataset}/{dataset_drug(wildcards)}/tuned.json"}


def interpret_targets():
    """Outputs of this stage for every dataset; pseudotime where configured, enrichment where
    gene sets are configured, the planted-gene check on simulated data."""
    targets = []
    for ds in DATASETS:
        out = f"results/scdeal/{ds}/{slug(SC_DATASETS[ds]['drug'])}"
        fig = f"results/figures/interpret/{ds}_{slug(SC_DATASETS[ds]['drug'])}"
        targets += [f"{out}/attr_integrated_gradient.h5ad", f"{out}/critical_genes.tsv", f"{fig}_critical_genes.png"]
        if ds in LABELLED:  # predicted vs ground-truth DEGs
            targets.append(f"{out}/deg_scores.json")
        if ds in config["interpret"]["pseudotime"]:
            targets.append(f"{out}/pseudotime.json")
        if config["interpret"]["enrichment"]["genesets"]:
            targets += [f"{out}/enrichment.tsv", f"{fig}_enrichment.png"]
            if config["simulate"]["enabled"] and ds in LABELLED:  # the simulation's truth of a scored dataset
                targets.append(f"{out}/planted_recovery.json")
    return targets


# scDEAL evaluation (workflow/rules/scdeal_eval.smk)
EVAL = config["scdeal"]["evaluation"]
BULK_SOURCES = list(config["bulk"]["expression"])


def eval_settings():
    """Configured ablation settings that this bulk configuration can run."""
    settings = []
    for name in EVAL["settings"]:
        if name in ("gdsc_only", "ccle_only") and len(BULK_SOURCES) < 2:
            continue  # with one bulk source, 'both' is already that source
        settings.append(name)
    return settings


def eval_replicates():
    return [f"seed{k}" for k in range(EVAL["seeds"])] + [f"sub{k}" for k in range(EVAL["subsamples"])]


def eval_runs():
    """Every (dataset, trained setting, replicate) run file; no_transfer is read from scdeal's."""
    trained = [s for s in eval_settings() if s != "no_transfer"]
    if "no_transfer" in eval_settings() and "scdeal" not in trained:
        trained.append("scdeal")
    return [
        f"results/scdeal/evaluation/{ds}/{setting}/{rep}.json"
        for ds in LABELLED
        for setting in trained
        for rep in eval_replicates()
    ]


def ablation_inputs(wildcards):
    source = {"gdsc_only": "gdsc", "ccle_only": "ccle"}.get(wildcards.setting)
    inputs = {
        "cells": f"results/sc/{wildcards.dataset}/processed.h5ad",
        "bulk": f"results/bulk/expression_{source}.parquet" if source
        else f"results/sc/{wildcards.dataset}/bulk_aligned.parquet",
        "labels": f"results/bulk/labels/{dataset_drug(wildcards)}.parquet",
    }
    return {**inputs, **tuned_input(wildcards)}


def bulk_source_inputs(wildcards):
    inputs = {"expression": config["bulk"]["expression"][wildcards.source]}
    if wildcards.source == "ccle":
        inputs["sample_info"] = config["bulk"]["sample_info"]
    return inputs


def evaluation_targets():
    targets = ["results/scdeal/ablations.tsv"] if LABELLED else []
    if TUNING["enabled"]:
        targets += [
            f"results/scdeal/{ds}/{slug(SC_DATASETS[ds]['drug'])}/tuning.tsv" for ds in DATASETS
        ]
    return targets


def all_targets():
    targets = [f"results/bulk/labels/{slug(d)}.parquet" for d in DRUG_NAMES]
    targets += [f"results/figures/labels/{slug(d)}_waterfall.png" for d in DRUG_NAMES]
    targets += [f"results/sc/{ds}/processed.h5ad" for ds in DATASETS]
    targets += [f"results/figures/qc/{ds}_qc.png" for ds in DATASETS]
    for ds in DATASETS:
        drug = slug(SC_DATASETS[ds]["drug"])
        targets.append(f"results/scdeal/{ds}/{drug}/predictions.h5ad")
        targets.append(f"results/figures/scdeal/{ds}_{drug}_umap.png")
        targets.append(f"results/figures/scdeal/{ds}_{drug}_diagnostics.png")
    targets += [f"results/scdeal/{ds}/{slug(SC_DATASETS[ds]['drug'])}/metrics.json" for ds in LABELLED]
    if LABELLED:
        targets.append("results/scdeal/summary.tsv")
    targets += interpret_targets()
    if config["scdeal"]["evaluation"]["enabled"]:
        targets += evaluation_targets()
    for cohort in config["patients"]:
        targets.append(f"results/patients/{cohort}/expression.parquet")
    targets += codeae_targets()
    targets += predict_targets()
    targets += ["results/figures/paper/PANELS.tsv", "results/figures/paper/MISSING.tsv"]
    return targets


# CODE-AE arm (workflow/rules/codeae.smk)
CODEAE = config["codeae"]
# Every patient cohort checked now (format, keys, labels), naming the key's path on error.
try:
    PATIENTS = {name: Cohort.from_config(name, entry) for name, entry in config["patients"].items()}
except ConfigError as e:
    raise WorkflowError(f"invalid configuration: {e}") from None
CODEAE_COHORTS = list(PATIENTS)
CODEAE_METHODS = list(CODEAE["methods"]) if CODEAE["enabled"] else []
CODEAE_PRETRAINED = [m for m in CODEAE_METHODS if needs_pretraining(m)]
CODEAE_DRUG_NAMES = list(CODEAE["drugs"]) if CODEAE["enabled"] else []
CODEAE_DRUGS = [slug(d) for d in CODEAE_DRUG_NAMES]
BICLUSTER_COHORT = CODEAE["bicluster"]["cohort"]


def codeae_method_params(wildcards):
    """The method's resolved parameters (drugshift.params.resolve_codeae_params), as a dict."""
    return resolve_codeae_params(config, wildcards.method).to_dict()


def codeae_encoder_input(wildcards):
    """The pretrained encoder of methods that have one (none for mlp and the shallow baselines)."""
    if wildcards.method in CODEAE_PRETRAINED:
        return {"encoder": f"results/codeae/{wildcards.method}/pretrain/encoder"}
    return {}


def codeae_targets():
    if not CODEAE_METHODS:
        return []
    targets = [f"results/codeae/{m}/pretrain/deconfounding.json" for m in CODEAE_PRETRAINED]
    targets += ["results/codeae/benchmark.tsv", "results/codeae/rank_summary.tsv"]
    if BICLUSTER_COHORT in CODEAE_COHORTS:
        targets += ["results/codeae/bicluster/patient_clusters.tsv", "results/figures/codeae/bicluster.png"]
    return targets


# Saved models applied to listed files (workflow/rules/predict.smk), checked now: a bad key stops
# `snakemake -n` naming predict.jobs.<name>.<key>.
try:
    PREDICT_JOBS = predict_jobs(config)
except ConfigError as e:
    raise WorkflowError(f"invalid configuration: {e}") from None


def predict_jobs_writing(output_format):
    """A wildcard pattern of the jobs whose predictions are `output_format` (h5ad or tsv)."""
    names = [name for name, job in PREDICT_JOBS.items() if job.output_format == output_format]
    return "|".join(re.escape(n) for n in names) or "NO_JOB"


def predict_inputs(wildcards):
    """The model folder, the input file and the labels of a job: a workflow's own output is made first."""
    job = PREDICT_JOBS[wildcards.name]
    return {"model": job.model, "data": job.input, **({"labels": job.labels} if job.labels else {})}


def predict_targets():
    return [
        f"results/predict/{name}/{out}"
        for name, job in PREDICT_JOBS.items()
        for out in (f"predictions.{job.output_format}", "summary.json")
    ]


# The papers' figure panels (workflow/rules/paper.smk): what this config can draw, and why not
# the rest (drugshift.paper_figures; written to results/figures/paper/MISSING.tsv).
from drugshift.paper_figures import FigureInputs, panel_pattern, plan_panels


def figure_inputs():
    cohorts = {name: {"format": c.format, "labelled": c.labels is not None, "phenotype": c.phenotype is not None}
               for name, c in PATIENTS.items()}
    return FigureInputs(
        datasets={ds: slug(SC_DATASETS[ds]["drug"]) for ds in DATASETS},
        labelled=LABELLED,
        pseudotime=[ds for ds in DATASETS if ds in config["interpret"]["pseudotime"]],
        evaluation_settings=eval_settings() if EVAL["enabled"] and LABELLED else [],
        seeds=EVAL["seeds"],
        subsamples=EVAL["subsamples"],
        codeae_methods=CODEAE_METHODS,
        cohorts=cohorts if CODEAE_METHODS else {},
        bicluster_cohort=BICLUSTER_COHORT if BICLUSTER_COHORT in CODEAE_COHORTS else None,
        sex_confounder=bool(CODEAE_METHODS) and config["codeae"].get("sex_confounder", {}).get("enabled", False),
    )


# Panel rules (workflow/rules/paper.smk): the plan, their named outputs and their inputs.
PAPER_PLAN = plan_panels(figure_inputs())


PAPER_CATEGORY = {"scDEAL": "scDEAL paper", "CODE-AE": "CODE-AE paper", "drugshift": "Beyond the papers"}


def paper_files(*keys, per_dataset=False):
    """Named outputs of a panel rule: the planned files of `keys` (per dataset: their pattern
    with the {dataset} wildcard), each a report entry: category = paper, subcategory = figure and
    dataset or cohort, caption workflow/report/paper/<panel>.rst."""
    out = {}
    for f in PAPER_PLAN:
        if f.panel.key not in keys or f.path is None:
            continue
        item = {"group": f.group} if f.group else {}
        if not per_dataset and f.cohort:
            item["cohort"] = f.cohort
        where = "{dataset}" if per_dataset else f.cohort
        figure = f"Fig. {f.panel.figure}" if f.panel.figure != "-" else "Method comparison"
        name = "_".join(x for x in (f.panel.key, f.cohort, f.group) if x)
        out[name] = report(panel_pattern(f.panel.key, **item), caption=f"../report/paper/{f.panel.key}.rst",
                           category=PAPER_CATEGORY[f.panel.paper],
                           subcategory=f"{figure} · {where}" if where else figure,
                           labels={"panel": f.panel.panel, "data": where or "all", "group": f.group or "-"})
    return out


def planned(*keys, dataset=None):
    """Whether any file of `keys` is drawn (for `dataset`, when given)."""
    return any(f.path and f.panel.key in keys and (dataset is None or f.dataset == dataset) for f in PAPER_PLAN)


def datasets_with(key):
    """A wildcard pattern of the datasets that get panel `key`."""
    return "|".join(re.escape(d) for d in DATASETS if planned(key, dataset=d)) or "NO_DATASET"


def scdeal_cell_inputs(wildcards):
    """What the per-dataset scDEAL panels draw from (DEG scores where labelled, pseudotime where configured)."""
    out = f"results/scdeal/{wildcards.dataset}/{dataset_drug(wildcards)}"
    inputs = {"predictions": f"{out}/predictions.h5ad", "umap": f"{out}/umap.tsv",
              "critical": f"{out}/critical_genes.tsv", "attr": f"{out}/attr_integrated_gradient.h5ad"}
    if wildcards.dataset in LABELLED:
        inputs |= {"deg_scores": f"{out}/deg_scores.tsv", "deg_stats": f"{out}/deg_scores.json"}
    if wildcards.dataset in config["interpret"]["pseudotime"]:
        inputs["pseudotime"] = f"{out}/pseudotime.tsv"
    return inputs


def sample_tables():
    """Each cohort's tidy sample annotation, where it has a `phenotype`."""
    return {f"samples_{c}": f"results/patients/{c}/samples.tsv" for c, p in PATIENTS.items() if p.phenotype}


def codeae_map_inputs(wildcards):
    """Both domains' features, the encoders whose embeddings are mapped, tissue annotations."""
    inputs = {"cell_lines": "results/codeae/data/cell_lines.parquet", "patients": "results/codeae/data/patients.parquet"}
    for method in ("ae", "codeae_adv"):
        if method in CODEAE_PRETRAINED:
            inputs[f"encoder_{method}"] = f"results/codeae/{method}/pretrain/encoder"
            # The domain-classifier AUROCs of pretraining, on the inputs and on this embedding.
            inputs[f"deconfounding_{method}"] = f"results/codeae/{method}/pretrain/deconfounding.json"
    if "cell_line_details" in config["bulk"]:
        inputs["cell_line_details"] = config["bulk"]["cell_line_details"]
    elif "sample_info" in config["bulk"]:
        inputs["cell_line_info"] = config["bulk"]["sample_info"]
    return inputs | sample_tables()


def codeae_cluster_inputs(wildcards):
    inputs = {"clusters": "results/codeae/bicluster/patient_clusters.tsv",
              "predictions": [f"results/codeae/{CODEAE['main_method']}/{d}/predictions.parquet" for d in CODEAE_DRUGS]}
    if PATIENTS.get(BICLUSTER_COHORT) and PATIENTS[BICLUSTER_COHORT].phenotype:
        inputs["samples"] = f"results/patients/{BICLUSTER_COHORT}/samples.tsv"
    return inputs


# Tumour classification with sex as a confounder (workflow/rules/confounder.smk).
SEX_CONFOUNDER = config["codeae"]["sex_confounder"]


SEX_CONFOUNDER_FIGURE = "results/figures/paper/codeae_fig2d-g_sex_confounder.png"
if SEX_CONFOUNDER["enabled"] and SEX_CONFOUNDER["cohort"] not in PATIENTS:
    raise WorkflowError(f"invalid configuration: codeae.sex_confounder.cohort: no cohort {SEX_CONFOUNDER['cohort']!r} "
                        f"under `patients` (configured: {', '.join(PATIENTS) or 'none'})")


def sex_confounder_method_params(wildcards):
    """The resolved parameters of the experiment's pretrained methods (raw has none), as dicts."""
    return {m: resolve_codeae_params(config, m).to_dict() for m in SEX_CONFOUNDER["methods"] if m != "raw"}
