# Raw files -> tidy tables: the demo simulator and one parser rule per source.


rule simulate_demo:
    output:
        DEMO_FILES,
    params:
        spec=config["simulate"],
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
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/tidy_sc/{dataset}.log",
    benchmark:
        "benchmarks/rules/tidy_sc/{dataset}.tsv"
    script:
        "../scripts/tidy_sc.py"


rule stack_clinical_drug:
    input:
        config["patients"].get("tcga", {}).get("clinical_drug", []),
    output:
        "results/patients/tcga/clinical_drug_stacked.tsv",
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/stack_clinical_drug.log",
    benchmark:
        "benchmarks/rules/stack_clinical_drug.tsv"
    script:
        "../scripts/stack_clinical_drug.py"


rule tidy_tcga:
    input:
        **tcga_inputs(),
    output:
        expression="results/patients/tcga/expression.parquet",
        clinical="results/patients/tcga/clinical.parquet",
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/tidy_tcga.log",
    benchmark:
        "benchmarks/rules/tidy_tcga.tsv"
    script:
        "../scripts/tidy_tcga.py"


rule tidy_pdtc:
    input:
        **config["patients"].get("pdtc", {}),
    output:
        expression="results/patients/pdtc/expression.parquet",
        response="results/patients/pdtc/response.parquet",
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/tidy_pdtc.log",
    benchmark:
        "benchmarks/rules/tidy_pdtc.tsv"
    script:
        "../scripts/tidy_pdtc.py"
