"""Unlabelled datasets are first-class: trained on and predicted, never scored, and `rule all` passes."""

import re
import shutil
import subprocess

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, SNAKEMAKE, copy_workflow, snakemake

pytestmark = pytest.mark.workflow

UNLABELLED = "GSEDEMO1_UNLABELLED"


def _demo_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def _unlabelled_config() -> dict:
    """The demo with an unlabelled copy of GSEDEMO1 and a PDTC cohort without labels."""
    config = _demo_config()
    copy = {k: v for k, v in config["sc"]["datasets"]["GSEDEMO1"].items() if k != "label"}
    config["sc"]["datasets"][UNLABELLED] = {**copy, "labelled": False}
    del config["patients"]["pdtc"]["labels"]
    return config


def _dry_run(work, config, *targets):
    (work / "variant.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return subprocess.run(SNAKEMAKE + ["-n", "--configfile", "variant.yaml", *targets], cwd=work,
                          capture_output=True, text=True)


@pytest.mark.parametrize(("change", "message"), [
    (lambda ds: ds.pop("label"), "sc.datasets.GSEDEMO1: no label rule; give `label: {...}` or `labelled: false`"),
    (lambda ds: ds.update(labelled=False), "sc.datasets.GSEDEMO1: `labelled: false` and a `label` rule contradict"),
])
def test_a_dataset_says_whether_it_is_labelled(tmp_path, change, message):
    config = _demo_config()
    change(config["sc"]["datasets"]["GSEDEMO1"])
    proc = _dry_run(copy_workflow(tmp_path), config)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_unlabelled_dataset_is_trained_and_predicted_not_scored_dry_run(tmp_path):
    """With evaluation on, the unlabelled dataset gets no metrics, DEG scores, planted-gene check or
    ablation runs; it is trained, predicted, plotted and interpreted like the others."""
    config = _unlabelled_config()
    config["scdeal"]["evaluation"]["enabled"] = True
    proc = _dry_run(copy_workflow(tmp_path), config)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    outputs = set(re.findall(r"results/[^\s,]+", proc.stdout))
    mine = {o for o in outputs if UNLABELLED in o}
    out = f"results/scdeal/{UNLABELLED}/demotinib"
    assert {f"{out}/model", f"{out}/predictions.h5ad", f"{out}/critical_genes.tsv", f"{out}/enrichment.tsv",
            f"results/figures/scdeal/{UNLABELLED}_demotinib_umap.png"} <= mine
    assert not any(name in o for o in mine for name in ("metrics.json", "deg_scores", "planted_recovery",
                                                        "evaluation/"))
    assert "results/scdeal/evaluation/GSEDEMO1/scdeal/seed0.json" in outputs  # the labelled ones still are


@pytest.fixture(scope="module")
def unlabelled_run(demo_run, tmp_path_factory):
    """`rule all` of the unlabelled variant, on a copy of the demo's results (only the new
    dataset's jobs and the PDTC cohort's labels and benchmark run)."""
    work = tmp_path_factory.mktemp("unlabelled") / "wf"
    shutil.copytree(demo_run, work, symlinks=True)
    (work / "variant.yaml").write_text(yaml.safe_dump(_unlabelled_config(), sort_keys=False))
    # The PDTC entry's labels are gone. Snakemake compares params as text, and a rewritten config
    # can change the text of params that mean the same: rerun by file times only, and remake the
    # cohorts' labels (and so the benchmark) by force.
    proc = snakemake(["--cores", "2", "--configfile", "variant.yaml", "--rerun-triggers", "mtime",
                      "--forcerun", "cohort_labels"], work)
    return work, proc.stdout + proc.stderr


def test_unlabelled_dataset_runs_through_the_whole_dag(unlabelled_run):
    work, log = unlabelled_run
    assert "train_scdeal" in log and "finetune_codeae" not in log  # the demo's own results were reused
    raw = ad.read_h5ad(work / f"results/sc/{UNLABELLED}/raw.h5ad")
    assert raw.obs["response"].isna().all()
    assert "unlabelled (labelled: false)" in (work / f"logs/tidy_sc/{UNLABELLED}.log").read_text()
    out = work / f"results/scdeal/{UNLABELLED}/demotinib"
    predictions = ad.read_h5ad(out / "predictions.h5ad")
    assert predictions.obs["sens_prob"].between(0, 1).all() and predictions.n_obs > 100
    # Ground truth never reaches training: the copy predicts exactly what the labelled original does.
    original = ad.read_h5ad(work / "results/scdeal/GSEDEMO1/demotinib/predictions.h5ad")
    assert list(predictions.obs_names) == list(original.obs_names)
    np.testing.assert_array_equal(predictions.obs["sens_prob"].to_numpy(), original.obs["sens_prob"].to_numpy())
    assert (out / "critical_genes.tsv").exists() and (out / "enrichment.tsv").exists()
    assert (work / f"results/figures/scdeal/{UNLABELLED}_demotinib_umap.png").stat().st_size > 10000
    assert not (out / "metrics.json").exists() and not (out / "deg_scores.json").exists()
    summary = pd.read_csv(work / "results/scdeal/summary.tsv", sep="\t")
    assert UNLABELLED not in set(summary["dataset"])


def test_cohort_without_labels_is_predicted_not_scored(unlabelled_run):
    work, _ = unlabelled_run
    assert pd.read_parquet(work / "results/patients/pdtc/labels.parquet").empty
    predictions = pd.read_parquet(work / "results/codeae/codeae_adv/demotinib/predictions.parquet")
    assert (predictions["cohort"] == "pdtc").sum() > 0 and predictions["sens_prob"].notna().all()
    benchmark = pd.read_csv(work / "results/codeae/benchmark.tsv", sep="\t")
    assert "pdtc" not in set(benchmark["cohort"]) and "tcga" in set(benchmark["cohort"])
