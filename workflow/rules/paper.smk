# The papers' figures, one file per panel under results/figures/paper/ (PNG + PDF), for whatever
# the config supports; MISSING.tsv lists the other panels with the reason (target: paper_figures).
# Which panel goes to which file: drugshift.paper_figures. Each rule only loads, calls functions
# of drugshift.plots and saves.


rule paper_scdeal_fig2:
    input:
        summary="results/scdeal/summary.tsv",
        runs=["results/scdeal/ablations.tsv"] if planned("scdeal_fig2b", "scdeal_fig2c", "scdeal_fig2_subsampling") else [],
    output:
        **paper_files("scdeal_fig2a", "scdeal_fig2b", "scdeal_fig2c", "scdeal_fig2d", "scdeal_fig2_subsampling"),
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/paper/scdeal_fig2.log",
    benchmark:
        "benchmarks/rules/paper/scdeal_fig2.tsv"
    script:
        "../scripts/paper_scdeal_fig2.py"


# One rule per set of inputs: every dataset (maps, attributions), labelled datasets (ground
# truth, DEG scores), datasets with a pseudotime root.


rule paper_scdeal_cells:
    input:
        unpack(scdeal_cell_inputs),
    output:
        **paper_files("scdeal_fig3a", "scdeal_fig4b", "scdeal_fig4c", per_dataset=True),
    wildcard_constraints:
        dataset=datasets_with("scdeal_fig3a"),
    params:
        sample_column=lambda wc: SC_DATASETS[wc.dataset].get("label", {}).get("column", "condition"),
        top_heatmap=50,
        top_dotplot=10,
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/paper/scdeal_cells/{dataset}.log",
    benchmark:
        "benchmarks/rules/paper/scdeal_cells/{dataset}.tsv"
    script:
        "../scripts/paper_scdeal_cells.py"


rule paper_scdeal_truth:
    input:
        unpack(scdeal_cell_inputs),
    output:
        **paper_files("scdeal_fig3b", "scdeal_fig3c", "scdeal_fig3d", "scdeal_fig4a", per_dataset=True),
    wildcard_constraints:
        dataset=datasets_with("scdeal_fig3b"),
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/paper/scdeal_truth/{dataset}.log",
    benchmark:
        "benchmarks/rules/paper/scdeal_truth/{dataset}.tsv"
    script:
        "../scripts/paper_scdeal_truth.py"


rule paper_scdeal_pseudotime:
    input:
        unpack(scdeal_cell_inputs),
    output:
        **paper_files("scdeal_fig5ab", "scdeal_fig5cd", "scdeal_fig5ef", per_dataset=True),
    wildcard_constraints:
        dataset=datasets_with("scdeal_fig5ab"),
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/paper/scdeal_pseudotime/{dataset}.log",
    benchmark:
        "benchmarks/rules/paper/scdeal_pseudotime/{dataset}.tsv"
    script:
        "../scripts/paper_scdeal_pseudotime.py"


rule paper_codeae_maps:
    input:
        unpack(codeae_map_inputs),
    output:
        **paper_files("codeae_fig2a", "codeae_fig2b", "codeae_fig2c"),
    params:
        seed=config["seed"],
    threads: tier_threads("medium")
    resources:
        **tier("medium"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/paper/codeae_maps.log",
    benchmark:
        "benchmarks/rules/paper/codeae_maps.tsv"
    script:
        "../scripts/paper_codeae_maps.py"


rule paper_codeae_benchmark:
    input:
        "results/codeae/benchmark.tsv",
    output:
        **paper_files("codeae_fig3a", "codeae_fig3b", "codeae_fig4a", "codeae_fig4b", "drugshift_cd"),
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/paper/codeae_benchmark.log",
    benchmark:
        "benchmarks/rules/paper/codeae_benchmark.tsv"
    script:
        "../scripts/paper_codeae_benchmark.py"


rule paper_codeae_clusters:
    input:
        unpack(codeae_cluster_inputs),
    output:
        **paper_files("codeae_fig5a", "codeae_fig5b", "codeae_fig5c"),
    params:
        cohort=BICLUSTER_COHORT,
    threads: tier_threads("light")
    resources:
        **tier("light"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/paper/codeae_clusters.log",
    benchmark:
        "benchmarks/rules/paper/codeae_clusters.tsv"
    script:
        "../scripts/paper_codeae_clusters.py"


rule paper_figures:
    input:
        [f.path for f in PAPER_PLAN if f.path],
        [f"results/figures/scdeal/{ds}_{slug(SC_DATASETS[ds]['drug'])}_diagnostics.png" for ds in DATASETS],
    output:
        panels=report("results/figures/paper/PANELS.tsv", caption="../report/tables/paper_panels.rst",
                      category="Tables", labels={"table": "paper panels drawn"}),
        missing=report("results/figures/paper/MISSING.tsv", caption="../report/tables/paper_missing.rst",
                       category="Tables", labels={"table": "paper panels not drawn"}),
    params:
        plan=PAPER_PLAN,
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/paper/paper_figures.log",
    script:
        "../scripts/paper_figures.py"
