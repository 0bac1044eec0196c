"""Determinism of the whole results/ folder: two runs of one config and seed write the same
bytes in every file; another seed trains other models.

The demo is cut down (one scDEAL dataset, two CODE-AE drugs, a few epochs, a small null) but
keeps every kind of rule the demo runs. logs/ and benchmarks/ are left out: they record times.

Where a SLURM scheduler runs (``.ci/slurm.sh up``; tests/cluster), the second run goes through
it with the project's profile (training jobs asking for a GPU of the test cluster), so the same
comparison shows that a cluster run writes exactly what a local run writes.
"""

import hashlib
import re
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from conftest import ROOT, SNAKEMAKE, slurm_test_profile, slurm_unavailable
from conftest import copy_workflow as _copy_workflow

pytestmark = pytest.mark.workflow


def reduced_config() -> dict:
    """config/config.yaml with fewer datasets, drugs and epochs, and a scDEAL ensemble of 2."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    first = next(iter(config["sc"]["datasets"]))
    config["sc"]["datasets"] = {first: config["sc"]["datasets"][first]}
    # An ensemble of 2, so that ensembles (and their diagnostics, spread and attributions) are
    # covered by the same byte-for-byte comparison.
    config["scdeal"]["params"].update(epochs_dae=6, epochs_predictor=6, epochs_joint=6, bulk_hidden=[64, 32],
                                      sc_hidden=[64, 32], checkpoint_every=2, ensemble=2)
    config["interpret"].update(ig_steps=8, deg={**config["interpret"]["deg"], "n_null": 10})
    codeae = config["codeae"]
    codeae["drugs"] = codeae["drugs"][:2]
    codeae["params"].update(warmup_epochs=2, pretrain_epochs=4, checkpoint_every=2)
    codeae["finetune"].update(max_epochs=8, checkpoint_every=2)
    codeae["baselines"].update(max_epochs=4)
    codeae["sex_confounder"].update(methods=["raw", "codeae_adv"], n_folds=3)
    return config


def file_hashes(work: Path) -> dict[str, str]:
    """sha256 of every file under ``work/results``, by path relative to ``work``."""
    return {str(p.relative_to(work)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((work / "results").rglob("*")) if p.is_file()}


def _start(work: Path, targets=(), seed: int | None = None, slurm: bool = False) -> subprocess.Popen:
    # Targets first: --configfile and --config take every word after them.
    seed_args = [] if seed is None else ["--config", f"seed={seed}"]
    where = ["--profile", "profiles/slurm", "--jobs", "4"] if slurm else ["--cores", "1"]
    return subprocess.Popen(SNAKEMAKE + [*where, *targets, "--configfile", "reduced.yaml", *seed_args],
                            cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen, timeout: int = 1800) -> None:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-5000:]


#: Whether run b goes through SLURM (None) or why not.
NO_SLURM = slurm_unavailable()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The reduced demo run in two copies of the workflow at once: a locally on one core, b
    locally too or, where SLURM runs, through it (training jobs on the test cluster's GPU
    partition; the tiers made small enough for its one node)."""
    works = []
    for name in ("a", "b"):
        work = _copy_workflow(tmp_path_factory.mktemp(f"determinism_{name}"))
        config = reduced_config()
        if name == "b" and NO_SLURM is None:
            slurm_test_profile(work, gpus_in_cluster=2)
            config["gpus_per_training_job"] = 1
            config["resources"] = {"tiers": {"light": {"mem_mb": 500}, "medium": {"mem_mb": 1500},
                                             "training": {"mem_mb": 3000}}}
        (work / "reduced.yaml").write_text(yaml.safe_dump(config))
        works.append(work)
    procs = [_start(works[0]), _start(works[1], slurm=NO_SLURM is None)]
    for proc in procs:
        _finish(proc)
    return works


@pytest.mark.skipif(NO_SLURM is not None, reason=f"run b did not go through SLURM: {NO_SLURM}")
def test_the_cluster_run_went_through_the_scheduler(two_runs):
    """Every job that is not a local rule was submitted by sbatch; training jobs asked for a GPU."""
    log = "\n".join(p.read_text() for p in sorted((two_runs[1] / ".snakemake/log").glob("*.log")))
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)", log)
    jobs = re.findall(r"^rule (\w+):", log, flags=re.M)
    local = {"all", "summarise_scdeal", "benchmark_codeae", "codeae_benchmark", "scdeal_evaluation",
             "gather_scdeal_ablations", "predict", "download", "download_all"}
    remote = [j for j in jobs if j not in local]
    assert remote and len(submitted) == len(remote), (len(submitted), len(remote))
    slurm_logs = two_runs[1] / ".snakemake/slurm_logs"
    assert (slurm_logs / "rule_train_scdeal").is_dir() and (slurm_logs / "rule_finetune_codeae").is_dir()


def test_two_runs_of_one_config_write_identical_results(two_runs):
    a, b = (file_hashes(w) for w in two_runs)
    assert len(a) > 50, sorted(a)
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))
    differ = sorted(k for k in a if a[k] != b[k])
    assert not differ, f"{len(differ)} of {len(a)} result files differ between two runs: {differ}"
    assert not [k for k in a if ".resume" in k], "training checkpoints are deleted when a job succeeds"


#: Parts of a model folder's weights.pt that hold data, not trained weights.
DATA_PARTS = {"training_split", "standardisation", "bulk_training", "transfer_start"}


def test_another_seed_trains_other_models(two_runs):
    """The networks of run b (the scDEAL model, the CODE-AE encoder, and the drug models of one
    drug) retrained with seed 43: the weights of every one change."""
    work = two_runs[1]
    drug = sorted(p.name for p in (work / "results/codeae/mlp").iterdir() if p.is_dir())[0]
    targets = sorted(str(Path(k).parent) for k in file_hashes(work) if k.endswith("/weights.pt")
                     and "elasticnet" not in k and ("/codeae/" not in k or f"/{drug}/" in k or "/pretrain/" in k))
    assert len(targets) == 4, targets
    before = {t: torch.load(work / t / "weights.pt", weights_only=True)["tensors"] for t in targets}
    _finish(_start(work, targets, seed=43))
    for t in targets:
        after = torch.load(work / t / "weights.pt", weights_only=True)["tensors"]
        weights = [(part, k) for part, sd in after.items() if part.split(".")[-1] not in DATA_PARTS
                   for k, v in sd.items() if v.is_floating_point() and v.numel() > 1]
        same = [f"{part}.{k}" for part, k in weights if torch.equal(after[part][k], before[t][part][k])]
        assert weights and len(same) <= 0.1 * len(weights), f"{t}: seed 43 left these weights unchanged: {same}"
