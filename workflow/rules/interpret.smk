# Interpretation of each trained scDEAL model, per (dataset, drug): integrated gradients,
# critical genes (cells and bulk), DEG scores, pseudotime, enrichment of critical genes.

INTERPRET = config["interpret"]
GENESETS = INTERPRET["enrichment"]["genesets"]


rule integrated_gradients:
    input:
        model="results/scdeal/{dataset}/{drug}/model",
        predictions="results/scdeal/{dataset}/{drug}/predictions.h5ad",
        bulk="results/sc/{dataset}/bulk_aligned.parquet",
    output:
        cells="results/scdeal/{dataset}/{drug}/attr_integrated_gradient.h5ad",
        bulk="results/scdeal/{dataset}/{drug}/attr_integrated_gradient_bulk.h5ad",
    params:
        steps=INTERPRET["ig_steps"],
        batch_size=INTERPRET["ig_batch_size"],
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/integrated_gradients/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/integrated_gradients/{dataset}/{drug}.tsv"
    script:
        "../scripts/integrated_gradients.py"


rule critical_genes:
    input:
        cells="results/scdeal/{dataset}/{drug}/attr_integrated_gradient.h5ad",
        bulk="results/scdeal/{dataset}/{drug}/attr_integrated_gradient_bulk.h5ad",
    output:
        cells="results/scdeal/{dataset}/{drug}/critical_genes.tsv",
        bulk="results/scdeal/{dataset}/{drug}/critical_genes_bulk.tsv",
        overlap="results/scdeal/{dataset}/{drug}/critical_genes_overlap.tsv",
        figure=report("results/figures/interpret/{dataset}_{drug}_critical_genes.png",
                      caption="../report/critical_genes.rst", category="Interpretation"),
    params:
        thresholds=INTERPRET["critical_genes"],
        top=INTERPRET["top_genes"],
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/critical_genes/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/critical_genes/{dataset}/{drug}.tsv"
    script:
        "../scripts/critical_genes.py"


rule deg_scores:
    input:
        "results/scdeal/{dataset}/{drug}/predictions.h5ad",
    output:
        stats="results/scdeal/{dataset}/{drug}/deg_scores.json",
        scores="results/scdeal/{dataset}/{drug}/deg_scores.tsv",
    wildcard_constraints:
        dataset=LABELLED_PATTERN,  # DEGs of predicted vs ground-truth labels
    params:
        deg=INTERPRET["deg"],
        seed=config["seed"],
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/deg_scores/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/deg_scores/{dataset}/{drug}.tsv"
    script:
        "../scripts/deg_scores.py"


rule pseudotime:
    input:
        "results/scdeal/{dataset}/{drug}/predictions.h5ad",
    output:
        stats="results/scdeal/{dataset}/{drug}/pseudotime.json",
        table="results/scdeal/{dataset}/{drug}/pseudotime.tsv",
    params:
        root=lambda wc: INTERPRET["pseudotime"][wc.dataset],
        seed=config["seed"],
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/pseudotime/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/pseudotime/{dataset}/{drug}.tsv"
    script:
        "../scripts/pseudotime.py"


rule enrich_critical_genes:
    input:
        critical="results/scdeal/{dataset}/{drug}/critical_genes.tsv",
        genesets=list(GENESETS.values()),
    output:
        table="results/scdeal/{dataset}/{drug}/enrichment.tsv",
        figure=report("results/figures/interpret/{dataset}_{drug}_enrichment.png",
                      caption="../report/enrichment.rst", category="Interpretation"),
    params:
        libraries=GENESETS,
        min_size=INTERPRET["enrichment"]["min_size"],
        max_size=INTERPRET["enrichment"]["max_size"],
        top=INTERPRET["top_terms"],
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/enrich_critical_genes/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/enrich_critical_genes/{dataset}/{drug}.tsv"
    script:
        "../scripts/enrich_critical_genes.py"


rule planted_recovery:
    input:
        critical="results/scdeal/{dataset}/{drug}/critical_genes.tsv",
        enrichment="results/scdeal/{dataset}/{drug}/enrichment.tsv",
        truth=f"{DEMO_RAW}/truth.json",
    output:
        "results/scdeal/{dataset}/{drug}/planted_recovery.json",
    wildcard_constraints:
        dataset=LABELLED_PATTERN,  # the simulation's truth, known for the scored datasets
    params:
        k=INTERPRET["precision_at"],
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/planted_recovery/{dataset}/{drug}.log",
    benchmark:
        "benchmarks/rules/planted_recovery/{dataset}/{drug}.tsv"
    script:
        "../scripts/planted_recovery.py"
