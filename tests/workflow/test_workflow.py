"""Workflow tests: lint, dry run, and the demo DAG run for real in a temporary copy."""

import json
import subprocess

import anndata as ad
import pandas as pd
import pytest

from conftest import ROOT, SNAKEMAKE, snakemake
from conftest import copy_workflow as _copy_workflow

pytestmark = pytest.mark.workflow


def _run(args, cwd, timeout=900):
    proc = snakemake(args, cwd, timeout)
    return proc.stdout + proc.stderr


def test_lint_is_clean():
    out = subprocess.run(SNAKEMAKE + ["--lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dry_run_lists_every_stage(tmp_path):
    out = _run(["-n", "--quiet", "rules"], _copy_workflow(tmp_path))
    for rule in ("simulate_demo", "tidy_bulk_response", "tidy_bulk_expression", "bulk_labels",
                 "tidy_sc", "preprocess_sc", "tidy_cohort", "cohort_labels", "train_scdeal", "predict_scdeal",
                 "evaluate_scdeal", "plot_scdeal_umap", "summarise_scdeal"):
        assert rule in out, rule


def test_bad_config_is_rejected_before_anything_runs(tmp_path):
    work = _copy_workflow(tmp_path)
    bad = work / "bad.yaml"
    bad.write_text("bulk: {response: [a.csv], expression: {gdsc: b.txt}}\nlabels: {method: coinflip}\n")
    proc = subprocess.run(SNAKEMAKE + ["-n", "--configfile", "bad.yaml"], cwd=work, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "coinflip" in proc.stdout + proc.stderr


@pytest.mark.parametrize(("section", "key", "value", "message"), [
    ("scdeal.params", "epochs_dea", 3, "scdeal.params.epochs_dea: unknown scDEAL parameter"),
    ("scdeal.params", "epochs_dae", 2.5, "scdeal.params.epochs_dae: expected an integer, got 2.5"),
    ("codeae.params", "encoder_hiden", [4], "codeae.params.encoder_hiden: unknown CODE-AE pretraining parameter"),
    ("codeae.finetune", "seed", 1, "codeae.finetune.seed: not set here"),
])
def test_dry_run_rejects_a_bad_parameter_naming_its_path(tmp_path, section, key, value, message):
    import yaml

    work = _copy_workflow(tmp_path)
    config = yaml.safe_load((work / "config" / "config.yaml").read_text())
    node = config
    for part in section.split("."):
        node = node.setdefault(part, {})
    node[key] = value
    (work / "bad.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(SNAKEMAKE + ["-n", "--configfile", "bad.yaml"], cwd=work, capture_output=True, text=True)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_demo_outputs(demo_run):
    work = demo_run
    truth = json.loads((work / "results/raw/demo/truth.json").read_text())
    response = pd.read_parquet(work / "results/bulk/response.parquet")
    assert set(truth["drugs"]) <= set(response["drug"])
    expression = pd.read_parquet(work / "results/bulk/expression.parquet")
    assert expression.shape[0] > 300 and expression.shape[1] > 400
    for name, ds in truth["datasets"].items():
        cells = ad.read_h5ad(work / f"results/sc/{name}/processed.h5ad")
        assert 0.8 * ds["n_cells"] < cells.n_obs < ds["n_cells"]  # QC removed the damaged tail only
        assert set(cells.obs["response"].dropna().unique()) == {0.0, 1.0}
        assert 0.0 <= cells.X.min() and cells.X.max() <= 1.0
        bulk = pd.read_parquet(work / f"results/sc/{name}/bulk_aligned.parquet")
        assert list(bulk.columns) == list(cells.var_names)
        slug = ds["drug"].lower()
        labels = pd.read_parquet(work / f"results/bulk/labels/{slug}.parquet")
        assert 0.1 < labels["label"].mean() < 0.9
        assert (work / f"results/figures/labels/{slug}_waterfall.png").stat().st_size > 5000
        # scDEAL: model card, predictions, metrics and figure for the dataset's drug.
        out = work / f"results/scdeal/{name}/{slug}"
        card = json.loads((out / "model" / "model.json").read_text())
        assert card["genes"] == list(cells.var_names)
        assert card["seed"] == 42 and card["kind"] == "scdeal" and card["format"] == "drugshift-model"
        assert {"cells", "bulk", "labels"} <= set(card["training_data"]["files"])
        predictions = ad.read_h5ad(out / "predictions.h5ad")
        assert {"sens_prob", "sens_label", "sens_prob_no_transfer", "response"} <= set(predictions.obs)
        assert predictions.obsm["X_scdeal"].shape[0] == cells.n_obs
        metrics = json.loads((out / "metrics.json").read_text())
        # The quality gate of the scDEAL issue, on the demo's ground truth.
        assert metrics["transfer"]["f1"] >= 0.80, metrics["transfer"]
        assert metrics["transfer"]["auroc"] >= 0.85, metrics["transfer"]
        assert metrics["transfer"]["f1"] > metrics["no_transfer"]["f1"], metrics  # transfer adds something
        assert (work / f"results/figures/scdeal/{name}_{slug}_umap.png").stat().st_size > 20000
    summary = pd.read_csv(work / "results/scdeal/summary.tsv", sep="\t")
    assert len(summary) == 2 * len(truth["datasets"])
    assert (work / "results/patients/tcga/expression.parquet").exists()
    assert (work / "results/patients/pdtc/labels.parquet").exists()
    assert list((work / "benchmarks/rules").rglob("*.tsv")), "every rule writes a benchmark file"


def test_evaluation_dry_run_covers_settings_and_replicates(tmp_path):
    """Demo config: 2 datasets x 7 trained settings (no_transfer is read from scdeal) x (3 seeds +
    3 subsamples); the single-source ablations read each bulk source alone."""
    out = _run(["-n", "scdeal_evaluation", "--quiet", "rules"], _copy_workflow(tmp_path))
    counts = dict(line.split()[:2] for line in out.splitlines() if line.split()[:1] and line.split()[0] in
                  ("ablate_scdeal", "bulk_expression_source", "gather_scdeal_ablations"))
    assert counts == {"ablate_scdeal": "84", "bulk_expression_source": "2", "gather_scdeal_ablations": "1"}, out


def test_evaluation_runs_on_the_demo(demo_run):
    """A short evaluation (2 settings x 1 seed + 1 subsample, few epochs) on the demo's results."""
    (demo_run / "short_evaluation.yaml").write_text(
        "scdeal:\n  evaluation:\n    settings: [scdeal, no_transfer, linear, gdsc_only]\n    seeds: 1\n"
        "    subsamples: 1\n    params: {epochs_dae: 10, epochs_predictor: 10, epochs_joint: 10}\n")
    _run(["--cores", "2", "scdeal_evaluation", "--configfile", "config/config.yaml", "short_evaluation.yaml"],
         demo_run)
    table = pd.read_csv(demo_run / "results/scdeal/ablations.tsv", sep="\t")
    assert set(table["setting"]) == {"scdeal", "no_transfer", "linear", "gdsc_only"}
    assert len(table) == 2 * 4 * 2  # datasets x settings x replicates
    assert table[["f1", "auroc", "ap", "precision", "recall", "ami", "ari"]].notna().all().all()
    summary = pd.read_csv(demo_run / "results/scdeal/ablations_summary.tsv", sep="\t")
    assert set(summary["kind"]) == {"seed", "sub"} and (summary["n"] == 1).all()
    assert (demo_run / "results/figures/scdeal/ablations.png").stat().st_size > 10000
    run = json.loads(next((demo_run / "results/scdeal/evaluation").glob("*/scdeal/sub0.json")).read_text())
    assert run["params"]["epochs_joint"] == 10 and run["subsample_seed"] == 42


def test_codeae_demo_deconfounds_and_benchmarks(demo_run):
    """CODE-AE arm of the demo: the domain classifier separates cell lines from the confounded
    simulated patients less well on CODE-AE-ADV embeddings than on the inputs, and every
    (method, cohort, drug) of the benchmark has finite scores."""
    card = json.loads((demo_run / "results/codeae/codeae_adv/pretrain/deconfounding.json").read_text())
    assert card["domain_auroc"]["embedding"] < card["domain_auroc"]["input"] - 0.1
    table = pd.read_csv(demo_run / "results/codeae/benchmark.tsv", sep="\t")
    assert set(table["cohort"]) == {"gdsc_cv", "tcga", "pdtc"}
    assert table["AUROC"].notna().all()
    summary = pd.read_csv(demo_run / "results/codeae/rank_summary.tsv", sep="\t")
    assert set(summary["method"]) == {"codeae_adv", "mlp", "elasticnet"}
    clusters = pd.read_csv(demo_run / "results/codeae/bicluster/patient_clusters.tsv", sep="\t")
    assert len(clusters) == 240 and clusters["patient_cluster"].nunique() == 4
