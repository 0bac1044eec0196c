# scDEAL per (dataset, drug): train on bulk labels + unlabelled cells, transfer, evaluate, plot.


rule train_scdeal:
    input:
        unpack(tuned_input),
        cells="results/sc/{dataset}/processed.h5ad",
        bulk="results/sc/{dataset}/bulk_aligned.parquet",
        labels="results/bulk/labels/{drug}.parquet",
    output:
        # The model folder (drugshift.models.scdeal.ScDEAL.save): model.json (the model card)
        # and weights.pt; every later rule reads the model from here.
        model=directory("results/scdeal/{dataset}/{drug}/model"),
    params:
        hyper=scdeal_params,
        device=config["device"],
        precision=config["precision"],
        # Training checkpoints (drugshift.resume): a killed job resumes from here when rerun;
        # deleted when training ends.
        checkpoints=lambda wildcards, output: f"{output[0]}.resume",
    threads: tier_threads("training")
    resources:
        **tier("training"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/train_scdeal/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/train_scdeal/{dataset}/{drug}.tsv"
    script:
        "../scripts/train_scdeal.py"


rule predict_scdeal:
    input:
        model="results/scdeal/{dataset}/{drug}/model",
        cells="results/sc/{dataset}/processed.h5ad",
    output:
        "results/scdeal/{dataset}/{drug}/predictions.h5ad",
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/predict_scdeal/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/predict_scdeal/{dataset}/{drug}.tsv"
    script:
        "../scripts/predict_scdeal.py"


rule evaluate_scdeal:
    input:
        "results/scdeal/{dataset}/{drug}/predictions.h5ad",
    output:
        "results/scdeal/{dataset}/{drug}/metrics.json",
    wildcard_constraints:
        dataset=LABELLED_PATTERN,  # scored against ground truth: unlabelled datasets have none
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/evaluate_scdeal/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/evaluate_scdeal/{dataset}/{drug}.tsv"
    script:
        "../scripts/evaluate_scdeal.py"


rule cell_umap:
    input:
        "results/scdeal/{dataset}/{drug}/predictions.h5ad",
    output:
        "results/scdeal/{dataset}/{drug}/umap.tsv",
    params:
        seed=config["seed"],
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/cell_umap/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/cell_umap/{dataset}/{drug}.tsv"
    script:
        "../scripts/cell_umap.py"


rule plot_scdeal_umap:
    input:
        predictions="results/scdeal/{dataset}/{drug}/predictions.h5ad",
        umap="results/scdeal/{dataset}/{drug}/umap.tsv",
    output:
        report("results/figures/scdeal/{dataset}_{drug}_umap.png", caption="../report/scdeal_umap.rst", category="scDEAL"),
    params:
        labelled=lambda wc: wc.dataset in LABELLED,
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/plot_scdeal_umap/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/plot_scdeal_umap/{dataset}/{drug}.tsv"
    script:
        "../scripts/plot_scdeal_umap.py"


rule plot_scdeal_diagnostics:
    input:
        model="results/scdeal/{dataset}/{drug}/model",
        predictions="results/scdeal/{dataset}/{drug}/predictions.h5ad",
    output:
        report(
            "results/figures/scdeal/{dataset}_{drug}_diagnostics.png",
            caption="../report/scdeal_diagnostics.rst",
            category="Beyond the papers",
            subcategory="Transfer diagnostics · {dataset}",
            labels={"panel": "diagnostics", "data": "{dataset}", "group": "-"},
        ),
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/plot_scdeal_diagnostics/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/plot_scdeal_diagnostics/{dataset}/{drug}.tsv"
    script:
        "../scripts/plot_scdeal_diagnostics.py"


rule summarise_scdeal:
    input:
        [f"results/scdeal/{ds}/{slug(SC_DATASETS[ds]['drug'])}/metrics.json" for ds in LABELLED],
    output:
        report("results/scdeal/summary.tsv", caption="../report/tables/scdeal_summary.rst", category="Tables",
               labels={"table": "scDEAL metrics per dataset"}),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/summarise_scdeal.log",
    benchmark:
        "benchmarks/rules/summarise_scdeal.tsv"
    script:
        "../scripts/summarise_scdeal.py"
