# drugshift: cancer drug response transferred from bulk cell-line screens to single cells
# (scDEAL) and patients (CODE-AE). Read this file as a table of contents.
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config/config.yaml"


# Validate before anything runs; the schema fills in every default.
validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"

wildcard_constraints:
    dataset="|".join(re.escape(d) for d in DATASETS) or "NO_DATASET",
    drug="[a-z0-9-]+",


include: "workflow/rules/data.smk"
include: "workflow/rules/labels.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/scdeal.smk"


rule all:
    input:
        all_targets(),
    default_target: True
