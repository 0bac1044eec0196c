# Raw files -> tidy tables: the demo simulator and one parser rule per source.


rule simulate_demo:
    output:
        DEMO_FILES,
    params:
        spec=config["simulate"],
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/simulate_demo.log",
    benchmark:
        "benchmarks/rules/simulate_demo.tsv"
    script:
        "../scripts/simulate_demo.py"


rule tidy_bulk_response:
    input:
        config["bulk"]["response"],
    output:
        "results/bulk/response.parquet",
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/tidy_bulk_response.log",
    benchmark:
        "benchmarks/rules/tidy_bulk_response.tsv"
    script:
        "../scripts/tidy_bulk_response.py"


rule tidy_bulk_expression:
    input:
        unpack(bulk_expression_inputs),
    output:
        "results/bulk/expression.parquet",
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/tidy_bulk_expression.log",
    benchmark:
        "benchmarks/rules/tidy_bulk_expression.tsv"
    script:
        "../scripts/tidy_bulk_expression.py"


rule tidy_sc:
    input:
        unpack(sc_inputs),
    output:
        "results/sc/{dataset}/raw.h5ad",
    params:
        dataset=lambda wc: SC_DATASETS[wc.dataset],
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/tidy_sc/{dataset}.log",
    benchmark:
        "benchmarks/rules/tidy_sc/{dataset}.tsv"
    script:
        "../scripts/tidy_sc.py"


wildcard_constraints:
    cohort="|".join(re.escape(c) for c in CODEAE_COHORTS) or "NO_COHORT",


# Every patient / tumour-model cohort (`patients.<name>`, any format): expression on a log scale,
# and, apart (so that labels reach nothing but the benchmark), one label per (sample, GDSC drug).
rule tidy_cohort:
    input:
        unpack(cohort_expression_inputs),
    output:
        "results/patients/{cohort}/expression.parquet",
    params:
        # Only what the expression depends on: labels reach the cohort_labels rule alone.
        cohort=lambda wc: expression_entry(config["patients"][wc.cohort]),
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/tidy_cohort/{cohort}.log",
    benchmark:
        "benchmarks/rules/tidy_cohort/{cohort}.tsv"
    script:
        "../scripts/tidy_cohort.py"


rule cohort_samples:
    input:
        lambda wc: PATIENTS[wc.cohort].phenotype or [],
    output:
        "results/patients/{cohort}/samples.tsv",
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/cohort_samples/{cohort}.log",
    benchmark:
        "benchmarks/rules/cohort_samples/{cohort}.tsv"
    script:
        "../scripts/cohort_samples.py"


rule cohort_labels:
    input:
        unpack(cohort_label_inputs),
        expression="results/patients/{cohort}/expression.parquet",
    output:
        "results/patients/{cohort}/labels.parquet",
    params:
        cohort=lambda wc: config["patients"][wc.cohort],
        drugs=CODEAE_DRUG_NAMES,
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/cohort_labels/{cohort}.log",
    benchmark:
        "benchmarks/rules/cohort_labels/{cohort}.tsv"
    script:
        "../scripts/cohort_labels.py"
