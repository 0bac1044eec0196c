# Single-cell QC and normalisation, aligned with bulk expression on shared genes.


rule preprocess_sc:
    input:
        cells="results/sc/{dataset}/raw.h5ad",
        bulk="results/bulk/expression.parquet",
    output:
        cells="results/sc/{dataset}/processed.h5ad",
        bulk="results/sc/{dataset}/bulk_aligned.parquet",
        figure=report("results/figures/qc/{dataset}_qc.png", caption="../report/qc.rst", category="QC"),
    params:
        qc=config["preprocess"]["sc"],
        normalised=lambda wc: SC_DATASETS[wc.dataset]["normalised"],
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/preprocess_sc/{dataset}.log",
    benchmark:
        "benchmarks/rules/preprocess_sc/{dataset}.tsv"
    script:
        "../scripts/preprocess_sc.py"
