# CODE-AE arm: gene selection, pretraining per method, per-drug cross-validated fine-tuning on
# labelled cell lines, zero-shot prediction of every patient cohort, benchmark, biclustering.
# Every method's parameters come from drugshift.params.resolve_codeae_params (codeae_method_params).
wildcard_constraints:
    method="[a-z0-9_]+",


rule select_features:
    input:
        cell_lines="results/bulk/expression.parquet",
        **{c: f"results/patients/{c}/expression.parquet" for c in CODEAE_COHORTS},
    output:
        cell_lines="results/codeae/data/cell_lines.parquet",
        patients="results/codeae/data/patients.parquet",
        genes="results/codeae/data/genes.tsv",
        standardisation="results/codeae/data/standardisation.parquet",
    params:
        features=CODEAE["features"],
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/codeae/select_features.log",
    benchmark:
        "benchmarks/rules/codeae/select_features.tsv"
    script:
        "../scripts/select_features.py"


rule pretrain_codeae:
    input:
        cell_lines="results/codeae/data/cell_lines.parquet",
        patients="results/codeae/data/patients.parquet",
    output:
        encoder=directory("results/codeae/{method}/pretrain/encoder"),
        card="results/codeae/{method}/pretrain/deconfounding.json",
    params:
        method_params=codeae_method_params,
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
        "logs/codeae/pretrain/{method}.log",
    benchmark:
        "benchmarks/rules/codeae/pretrain/{method}.tsv"
    script:
        "../scripts/pretrain_codeae.py"


rule finetune_codeae:
    input:
        unpack(codeae_encoder_input),
        cell_lines="results/codeae/data/cell_lines.parquet",
        standardisation="results/codeae/data/standardisation.parquet",
        labels="results/bulk/labels/{drug}.parquet",
    output:
        model=directory("results/codeae/{method}/{drug}/model"),
    params:
        method_params=codeae_method_params,
        drug=drug_name,
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
        "logs/codeae/finetune/{method}/{drug}.log",
    benchmark:
        "benchmarks/rules/codeae/finetune/{method}/{drug}.tsv"
    script:
        "../scripts/finetune_codeae.py"


rule predict_codeae:
    input:
        model="results/codeae/{method}/{drug}/model",
        patients="results/codeae/data/patients.parquet",
    output:
        "results/codeae/{method}/{drug}/predictions.parquet",
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/codeae/predict/{method}/{drug}.log",
    benchmark:
        "benchmarks/rules/codeae/predict/{method}/{drug}.tsv"
    script:
        "../scripts/predict_codeae.py"


rule benchmark_codeae:
    input:
        models=expand("results/codeae/{method}/{drug}/model", method=CODEAE_METHODS, drug=CODEAE_DRUGS),
        predictions=expand("results/codeae/{method}/{drug}/predictions.parquet", method=CODEAE_METHODS,
                           drug=CODEAE_DRUGS),
        labels=expand("results/patients/{cohort}/labels.parquet", cohort=CODEAE_COHORTS),
    output:
        table=report("results/codeae/benchmark.tsv", caption="../report/tables/codeae_benchmark.rst",
                     category="Tables", labels={"table": "CODE-AE benchmark, per fold model"}),
        summary=report("results/codeae/rank_summary.tsv", caption="../report/tables/codeae_ranks.rst",
                       category="Tables", labels={"table": "CODE-AE mean ranks"}),
    params:
        cohorts=CODEAE_COHORTS,
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/codeae/benchmark.log",
    benchmark:
        "benchmarks/rules/codeae/benchmark.tsv"
    script:
        "../scripts/benchmark_codeae.py"


rule bicluster_patients:
    input:
        predictions=expand("results/codeae/{method}/{drug}/predictions.parquet", method=CODEAE["main_method"],
                           drug=CODEAE_DRUGS),
        patients="results/codeae/data/patients.parquet",
    output:
        clusters="results/codeae/bicluster/patient_clusters.tsv",
        drug_clusters="results/codeae/bicluster/drug_clusters.tsv",
        zscores="results/codeae/bicluster/cluster_zscores.tsv",
        association="results/codeae/bicluster/target_association.tsv",
        figure=report("results/figures/codeae/bicluster.png", caption="../report/codeae_bicluster.rst", category="CODE-AE"),
    params:
        cohort=BICLUSTER_COHORT,
        bicluster=CODEAE["bicluster"],
        drug_targets=CODEAE["drug_targets"],
        seed=config["seed"],
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/codeae/bicluster_patients.log",
    benchmark:
        "benchmarks/rules/codeae/bicluster_patients.tsv"
    script:
        "../scripts/bicluster_patients.py"


# Everything of the CODE-AE arm (and nothing of scDEAL): `snakemake codeae_benchmark`.
rule codeae_benchmark:
    input:
        codeae_targets(),
