# drugshift: cancer drug response transferred from bulk cell-line screens to single cells
# (scDEAL) and patients (CODE-AE). Read this file as a table of contents.
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("8.0")

# The library beside this Snakefile is the one its rules use, however drugshift is installed
# (scripts of --sdm conda jobs inherit this path after their environment's own packages).
sys.path.insert(0, str(Path(workflow.basedir) / "src"))


# The demo is the default config; a config given with --configfile replaces it instead of being
# merged into it (config/paper.yaml must not inherit the demo's datasets).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Validate before anything runs; the schema fills in every default.
validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"

wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS) or "NO_DATASET",
    drug="[a-z0-9-]+",


include: "workflow/rules/download.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/scdeal.smk"
include: "workflow/rules/scdeal_eval.smk"
include: "workflow/rules/interpret.smk"
include: "workflow/rules/codeae.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/confounder.smk"
include: "workflow/rules/paper.smk"


# Rules that do almost nothing (targets, gathers and summaries, downloads: compute nodes are often
# offline) run in the Snakemake process itself, never as cluster jobs; every other rule belongs to a
# resource tier (workflow/rules/common.smk: tier, tier_threads).
localrules:
    all,
    download,
    download_all,
    summarise_scdeal,
    gather_scdeal_ablations,
    scdeal_evaluation,
    benchmark_codeae,
    codeae_benchmark,
    predict,
    paper_figures,


rule all:
    input:
        all_targets(),
    default_target: True
