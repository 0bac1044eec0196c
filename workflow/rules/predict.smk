# Saved models applied to listed input files (`predict.jobs`): `drugshift predict` for many files
# at once, through the same library functions (drugshift.apply). A job's model or input may be an
# output of this workflow (then it is made first) or any existing file.
# Cells (h5ad, 10x) get predictions in .obs of an h5ad, tables a TSV: the same family as the input.


rule predict_file:
    input:
        unpack(predict_inputs),
    output:
        predictions="results/predict/{name}/predictions.tsv",
        summary="results/predict/{name}/summary.json",
    wildcard_constraints:
        name=predict_jobs_writing("tsv"),
    params:
        job=lambda wc: PREDICT_JOBS[wc.name].to_dict(),
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/predict_file/{name}.log",
    benchmark:
        "benchmarks/rules/predict_file/{name}.tsv"
    script:
        "../scripts/predict_files.py"


use rule predict_file as predict_file_h5ad with:
    output:
        predictions="results/predict/{name}/predictions.h5ad",
        summary="results/predict/{name}/summary.json",
    wildcard_constraints:
        name=predict_jobs_writing("h5ad"),


# Every predict job and what it needs, nothing else: `snakemake predict`.
rule predict:
    input:
        predict_targets(),
