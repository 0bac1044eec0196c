"""CODE-AE on real data (../shared/data) through the workflow: config/codeae_realdata.yaml cut
down to three drugs (a TCGA cohort, a PDTC drug and one whose PDTC name differs), three methods
and small networks, run by Snakemake in a temporary copy of the workflow."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, SHARED_DATA, copy_workflow, snakemake

pytestmark = pytest.mark.workflow  # it runs Snakemake; the folder marks it realdata
DRUGS = ["Cisplatin", "AZD7762", "Rucaparib"]
METHODS = ["codeae_adv", "mlp", "elasticnet"]


def _snakemake(work, *flags, timeout=2400):
    # The target first: --quiet and --configfile take every word that follows them.
    proc = snakemake(["codeae_benchmark", "--cores", "2", *flags, "--configfile", "cut.yaml"], work, timeout)
    return proc.stdout + proc.stderr


def _cut_config(work) -> dict:
    """The real-data config with absolute data paths, three drugs, three methods, tiny networks;
    the cisplatin labels point at a copy (in the test's folder) that a test may permute."""
    text = (ROOT / "config/codeae_realdata.yaml").read_text().replace("../shared/data", str(SHARED_DATA))
    cfg = yaml.safe_load(text)
    shutil.copy(SHARED_DATA / "tcga/cisplatin/labels.csv", work / "cisplatin_labels.csv")
    cfg["patients"]["tcga"]["labels"]["Cisplatin"] = "cisplatin_labels.csv"
    cfg["codeae"].update(drugs=DRUGS, methods=METHODS)
    cfg["codeae"]["params"].update(encoder_hidden=[64, 32], latent=16, decoder_hidden=[32, 64], critic_hidden=[16, 8],
                                   warmup_epochs=2, pretrain_epochs=3)
    cfg["codeae"]["finetune"].update(classifier_hidden=[16, 8], max_epochs=16, patience=3, n_folds=3)
    cfg["codeae"]["bicluster"].update(n_patient_clusters=3, n_drug_clusters=2)
    return cfg


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("codeae_realdata")
    copy_workflow(work)
    (work / "cut.yaml").write_text(yaml.safe_dump(_cut_config(work)))
    _snakemake(work)
    return work


def test_the_workflow_benchmarks_the_real_cohorts(run):
    table = pd.read_csv(run / "results/codeae/benchmark.tsv", sep="\t")
    assert set(table["cohort"]) == {"gdsc_cv", "tcga", "pdtc"}
    assert set(table["method"]) == set(METHODS) and set(table["drug"]) == set(DRUGS)
    assert np.isfinite(table["AUROC"]).all() and np.isfinite(table["AUPRC"]).all()
    tcga = table[table["cohort"] == "tcga"]
    assert set(tcga["drug"]) == {"Cisplatin"} and (tcga["n"] == 40).all()  # every cisplatin patient is labelled
    pdtc = table[table["cohort"] == "pdtc"]
    assert set(pdtc["drug"]) == {"AZD7762", "Rucaparib"}  # Rucaparib through its PDTC name AG-014699
    # Cell-line CV is above chance even with these few epochs: the labels are learnable.
    assert table.loc[table["cohort"] == "gdsc_cv", "AUROC"].mean() > 0.6
    card = json.loads((run / "results/codeae/codeae_adv/pretrain/deconfounding.json").read_text())
    assert card["domain_auroc"]["input"] > 0.9  # GDSC and patients are separable before alignment
    assert 1200 < len(card["genes"]) <= 1426  # ~1277 of the 1426 TCGA/PDTC genes are in the GDSC file
    assert card["n_patients"] == {"tcga": 40 + 46 + 26, "pdtc": 39}
    summary = pd.read_csv(run / "results/codeae/rank_summary.tsv", sep="\t")
    assert set(summary["method"]) == set(METHODS)


def test_a_model_folder_reproduces_the_workflows_predictions_in_a_fresh_process(run, tmp_path):
    code = ("import sys, numpy as np, pandas as pd\n"
            "from drugshift.models.codeae import DrugResponseModel\n"
            "m = DrugResponseModel.load(sys.argv[1])\n"
            "np.save(sys.argv[3], m.predict_folds(pd.read_parquet(sys.argv[2]).drop(columns='cohort')))\n")
    for method in ("codeae_adv", "elasticnet"):
        folder = run / f"results/codeae/{method}/cisplatin/model"
        proc = subprocess.run([sys.executable, "-c", code, str(folder), str(run / "results/codeae/data/patients.parquet"),
                               str(tmp_path / "p.npy")], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        predictions = pd.read_parquet(run / f"results/codeae/{method}/cisplatin/predictions.parquet")
        folds = predictions[[c for c in predictions.columns if c.startswith("fold_")]].to_numpy().T
        assert np.array_equal(np.load(tmp_path / "p.npy"), folds), method


def test_patient_labels_reach_only_the_benchmark(run):
    """Permuted cisplatin labels: Snakemake reruns the cohort's labels and the benchmark, no
    expression, model or prediction; the TCGA scores change, the cell-line CV rows do not."""
    before = pd.read_csv(run / "results/codeae/benchmark.tsv", sep="\t")
    labels = pd.read_csv(run / "cisplatin_labels.csv", index_col=0)
    labels.iloc[:, 0] = np.random.default_rng(0).permutation(labels.iloc[:, 0].to_numpy())
    labels.to_csv(run / "cisplatin_labels.csv")
    plan = _snakemake(run, "-n", "--quiet", "rules")
    assert "cohort_labels" in plan and "benchmark_codeae" in plan
    for rule in ("tidy_cohort", "select_features", "pretrain_codeae", "finetune_codeae", "predict_codeae"):
        assert rule not in plan, plan
    _snakemake(run)
    after = pd.read_csv(run / "results/codeae/benchmark.tsv", sep="\t")
    cv = before["cohort"] == "gdsc_cv"
    pd.testing.assert_frame_equal(before[cv], after[after["cohort"] == "gdsc_cv"])
    tcga_before, tcga_after = before[before["cohort"] == "tcga"], after[after["cohort"] == "tcga"]
    assert not np.allclose(tcga_before["AUROC"], tcga_after["AUROC"])
    # Snakemake's resume: a finished run has nothing left to do.
    assert "Nothing to be done" in _snakemake(run, "-n")


def test_drugshift_predict_on_a_real_patient_table(run, tmp_path):
    """The `drugshift` command on the shared TCGA cisplatin table with the workflow's CODE-AE-ADV
    model: with the stored TCGA standardisation (--domain tcga) it reproduces the workflow's own
    predictions for those patients, and the labels give the metrics."""
    cohort = SHARED_DATA / "tcga/cisplatin"
    model = run / "results/codeae/codeae_adv/cisplatin/model"
    out = tmp_path / "cisplatin.csv"
    script = ROOT / ".venv/bin/drugshift" if (ROOT / ".venv/bin/drugshift").exists() else None
    command = [str(script)] if script else [sys.executable, "-m", "drugshift.cli"]
    proc = subprocess.run([*command, "predict", "--model", str(model), "--input", str(cohort / "expression_zscore.csv"),
                           "--output", str(out), "--domain", "tcga", "--labels", str(cohort / "labels.csv"),
                           "--label-column", "0"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "of the model's" in proc.stderr and "AUROC" in proc.stderr
    got = pd.read_csv(out, index_col=0)
    assert len(got) == 40 and {"sens_prob", "sens_prob_sd", "sens_label"} <= set(got.columns)
    workflow = pd.read_parquet(run / "results/codeae/codeae_adv/cisplatin/predictions.parquet").set_index("sample")
    expected = workflow.loc[workflow["cohort"] == "tcga", "sens_prob"].reindex(got.index)
    assert expected.notna().all()
    np.testing.assert_allclose(got["sens_prob"].to_numpy(), expected.to_numpy(), atol=1e-5)
    metrics = json.loads((tmp_path / "cisplatin.metrics.json").read_text())
    assert metrics["n"] == 40 and 0 <= metrics["auroc"] <= 1
