# scDEAL's evaluation: ablation settings x replicates (seeds, subsamples), hyperparameter
# selection on bulk validation data, and the tables that gather them (target: scdeal_evaluation).

rule bulk_expression_source:
    input:
        unpack(bulk_source_inputs),
    output:
        "results/bulk/expression_{source}.parquet",
    wildcard_constraints:
        source="gdsc|ccle",
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/bulk_expression_source/{source}.log",
    benchmark:
        "benchmarks/rules/bulk_expression_source/{source}.tsv"
    script:
        "../scripts/bulk_expression_source.py"


rule tune_scdeal:
    input:
        bulk="results/sc/{dataset}/bulk_aligned.parquet",
        labels="results/bulk/labels/{drug}.parquet",
    output:
        table="results/scdeal/{dataset}/{drug}/tuning.tsv",
        selected="results/scdeal/{dataset}/{drug}/tuned.json",
    params:
        hyper=scdeal_params,
        grid=TUNING["grid"],
        seeds=TUNING["seeds"],
        metric=TUNING["metric"],
        device=config["device"],
    threads: tier_threads("training")
    resources:
        **tier("training"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/tune_scdeal/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/tune_scdeal/{dataset}/{drug}.tsv"
    script:
        "../scripts/tune_scdeal.py"


rule ablate_scdeal:
    input:
        unpack(ablation_inputs),
    output:
        "results/scdeal/evaluation/{dataset}/{setting}/{replicate}.json",
    wildcard_constraints:
        dataset=LABELLED_PATTERN,  # every run is scored against the cells' ground truth
        setting="[a-z_]+",
        replicate="(seed|sub)[0-9]+",
    params:
        hyper=scdeal_params,
        fraction=EVAL["subsample_fraction"],
        linear_C=EVAL["linear_C"],
        device=config["device"],
    threads: tier_threads("training")
    resources:
        **tier("training"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/ablate_scdeal/{dataset}/{setting}/{replicate}.log",
    benchmark:
        "benchmarks/rules/ablate_scdeal/{dataset}/{setting}/{replicate}.tsv"
    script:
        "../scripts/ablate_scdeal.py"


rule gather_scdeal_ablations:
    input:
        eval_runs(),
    output:
        table="results/scdeal/ablations.tsv",
        summary="results/scdeal/ablations_summary.tsv",
        figure=report("results/figures/scdeal/ablations.png", caption="../report/ablations.rst", category="scDEAL"),
    params:
        settings=eval_settings(),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/gather_scdeal_ablations.log",
    benchmark:
        "benchmarks/rules/gather_scdeal_ablations.tsv"
    script:
        "../scripts/gather_scdeal_ablations.py"


rule scdeal_evaluation:
    input:
        evaluation_targets(),
