# Per-drug binarisation of cell-line AUCs (waterfall by default, METHODS.md).


rule bulk_labels:
    input:
        "results/bulk/response.parquet",
    output:
        table="results/bulk/labels/{drug}.parquet",
        figure=report("results/figures/labels/{drug}_waterfall.png", caption="../report/waterfall.rst", category="Labels"),
    params:
        drug=drug_name,
        method=config["labels"]["method"],
        datasets=config["labels"]["datasets"],
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/bulk_labels/{drug}.log",
    benchmark:
        "benchmarks/rules/bulk_labels/{drug}.tsv"
    script:
        "../scripts/bulk_labels.py"
