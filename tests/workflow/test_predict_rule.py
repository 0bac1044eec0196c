"""The `predict:` config section and its rule `predict_file`: saved models applied to listed files."""

import json
import shutil
import subprocess

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import SNAKEMAKE, copy_workflow, snakemake
from drugshift.params import ConfigError
from drugshift.params.predict import predict_jobs

pytestmark = pytest.mark.workflow


def test_jobs_are_checked_naming_their_path():
    jobs = predict_jobs({"predict": {"jobs": {
        "cells": {"model": "results/scdeal/A/d/model/", "input": "results/sc/A/processed.h5ad"},
        "mtx": {"model": "m", "input": "data/filtered_feature_bc_matrix"},
        "table": {"model": "m", "input": "patients.csv.gz", "values": "log", "labels": "y.tsv", "label_column": "y"},
    }}})
    assert jobs["cells"].model == "results/scdeal/A/d/model"  # a trailing slash still matches the rule output
    assert [j.output_format for j in jobs.values()] == ["h5ad", "h5ad", "tsv"]
    for entry, message in [
        ({"model": "m"}, "predict.jobs.j.input: required"),
        ({"model": "m", "input": "x.csv", "value": "log"}, "predict.jobs.j.value: unknown predict job parameter"),
        ({"model": "m", "input": "x.csv", "values": "raw"}, "predict.jobs.j.values: must be one of"),
        ({"model": "m", "input": "x.csv", "min_overlap": 1.5}, "predict.jobs.j.min_overlap: must be in [0.0, 1.0]"),
        ({"model": "m", "input": "x.xlsx"}, "predict.jobs.j.input: 'x.xlsx': unknown format"),
        ({"model": "m", "input": "x.csv", "label_column": "y"}, "predict.jobs.j.labels: required for a table input"),
        ({"model": "m", "input": "x.csv", "labels": "y.csv"}, "predict.jobs.j.label_column: required with labels"),
    ]:
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
            predict_jobs({"predict": {"jobs": {"j": entry}}})
    with pytest.raises(ConfigError, match="predict.jobz: unknown key"):
        predict_jobs({"predict": {"jobz": {}}})
    with pytest.raises(ConfigError, match="a job name becomes a folder name"):
        predict_jobs({"predict": {"jobs": {"../x": {"model": "m", "input": "x.csv"}}}})


def test_dry_run_plans_jobs_and_rejects_a_bad_one_naming_its_path(tmp_path):
    """`snakemake predict` makes a job's model and input first (here a scDEAL model and its cells,
    h5ad out; a CODE-AE model on a cohort table, TSV out), and nothing it does not need."""
    work = copy_workflow(tmp_path)
    (work / "jobs.yaml").write_text(
        "predict:\n  jobs:\n"
        "    cells: {model: results/scdeal/GSEDEMO1/demotinib/model, input: results/sc/GSEDEMO1/processed.h5ad}\n"
        "    tcga: {model: results/codeae/mlp/demotinib/model, input: results/patients/tcga/expression.parquet}\n")
    proc = snakemake(["-n", "--configfile", "config/config.yaml", "jobs.yaml", "--", "predict"], work)
    out = proc.stdout
    assert "results/predict/cells/predictions.h5ad" in out and "results/predict/tcga/predictions.tsv" in out
    assert "train_scdeal" in out and "finetune_codeae" in out and "evaluate_scdeal" not in out
    (work / "bad.yaml").write_text("predict:\n  jobs:\n    mine: {model: m, input: cells.h5ad, values: raw}\n")
    proc = subprocess.run(SNAKEMAKE + ["-n", "--configfile", "config/config.yaml", "bad.yaml"], cwd=work,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "predict.jobs.mine.values: must be one of" in proc.stdout + proc.stderr


def test_predict_file_reproduces_the_workflow_predictions(demo_run):
    """Jobs on the demo's results: a scDEAL model on its own dataset's processed cells (h5ad in,
    h5ad out, ground truth from .obs) reproduces the workflow's predictions exactly; a CODE-AE
    model copied out of the workflow (an existing folder) on the workflow's standardised cohort
    table (table in, TSV out) reproduces predict_codeae's probabilities, and on a cohort's log
    expression it predicts every sample."""
    work = demo_run
    shutil.copytree(work / "results/codeae/codeae_adv/demotinib/model", work / "my_models/codeae_demotinib",
                    dirs_exist_ok=True)
    jobs = {
        "cells": {"model": "results/scdeal/GSEDEMO1/demotinib/model", "input": "results/sc/GSEDEMO1/processed.h5ad",
                  "label_column": "response"},
        "patients": {"model": "my_models/codeae_demotinib", "input": "results/codeae/data/patients.parquet"},
        "tcga": {"model": "my_models/codeae_demotinib", "input": "results/patients/tcga/expression.parquet",
                 "values": "log"},
    }
    (work / "predict.yaml").write_text(yaml.safe_dump({"predict": {"jobs": jobs}}))
    targets = [f"results/predict/{name}/summary.json" for name in jobs]
    proc = snakemake(["--cores", "2", "--configfile", "config/config.yaml", "predict.yaml", "--", *targets], work)
    ran = proc.stdout + proc.stderr
    assert "predict_file_h5ad" in ran and "train_scdeal" not in ran and "finetune_codeae" not in ran  # reused

    own = ad.read_h5ad(work / "results/scdeal/GSEDEMO1/demotinib/predictions.h5ad")
    mine = ad.read_h5ad(work / "results/predict/cells/predictions.h5ad")
    assert list(mine.obs_names) == list(own.obs_names)
    np.testing.assert_array_equal(mine.obs["sens_prob"].to_numpy(), own.obs["sens_prob"].to_numpy())
    np.testing.assert_array_equal(mine.obs["sens_label"].to_numpy(), own.obs["sens_label"].to_numpy())
    summary = json.loads((work / "results/predict/cells/summary.json").read_text())
    assert summary["overlap"] == 1.0 and summary["n_samples"] == own.n_obs and summary["drug"] == "Demotinib"
    metrics = json.loads((work / "results/scdeal/GSEDEMO1/demotinib/metrics.json").read_text())["transfer"]
    assert summary["metrics"]["auroc"] == pytest.approx(metrics["auroc"], abs=1e-12)

    codeae = pd.read_parquet(work / "results/codeae/codeae_adv/demotinib/predictions.parquet").set_index("sample")
    table = pd.read_csv(work / "results/predict/patients/predictions.tsv", sep="\t", index_col=0)
    assert list(table.columns) == ["sens_prob", "sens_prob_sd", "sens_label"]
    np.testing.assert_allclose(table["sens_prob"], codeae.loc[table.index, "sens_prob"], rtol=0, atol=1e-6)
    summary = json.loads((work / "results/predict/patients/summary.json").read_text())
    assert summary["ignored_columns"] == ["cohort"] and summary["metrics"] is None

    tcga = pd.read_csv(work / "results/predict/tcga/predictions.tsv", sep="\t", index_col=0)
    expression = pd.read_parquet(work / "results/patients/tcga/expression.parquet", columns=[])
    assert list(tcga.index) == list(expression.index.astype(str))
    assert tcga["sens_prob"].between(0, 1).all() and tcga["sens_label"].isin([0, 1]).all()
