# Tumour classification with sex as a confounder (CODE-AE paper, Fig. 2d–g): encoders pretrained
# with female and male patients of one cohort as the two domains, an Elastic Net on the shared
# embedding trained on one sex and scored on the other (drugshift.confounder). Every pretrained
# method's parameters come from drugshift.params.resolve_codeae_params, as in codeae.smk.


rule sex_confounder:
    input:
        expression=f"results/patients/{SEX_CONFOUNDER['cohort']}/expression.parquet",
        samples=f"results/patients/{SEX_CONFOUNDER['cohort']}/samples.tsv",
    output:
        results="results/codeae/sex_confounder/results.tsv",
        tests="results/codeae/sex_confounder/tests.tsv",
        figure=report(SEX_CONFOUNDER_FIGURE, caption="../report/paper/codeae_fig2dg.rst", category="CODE-AE paper",
                      subcategory="Fig. 2", labels={"panel": "2d–g", "data": SEX_CONFOUNDER["cohort"], "group": "-"}),
    params:
        method_params=sex_confounder_method_params,
        experiment=SEX_CONFOUNDER,
        features=config["codeae"]["features"],
        seed=config["seed"],
        device=config["device"],
    threads: tier_threads("training")
    resources:
        **tier("training"),
    conda:
        "../../envs/environment.yaml"
    log:
        "logs/codeae/sex_confounder.log",
    benchmark:
        "benchmarks/rules/codeae/sex_confounder.tsv"
    script:
        "../scripts/sex_confounder.py"
