"""Snakemake through a real SLURM scheduler, with the project's profile.

Needs a running single-node SLURM (``.ci/slurm.sh up``, as root: slurm-wlm 22.05 + munge from
Debian) and snakemake-executor-plugin-slurm; skipped with a one-line reason otherwise.

``test_tiny_workflow_through_slurm`` runs tests/cluster/Snakefile (a prepare job, two training-like
jobs asking for ``gpu=<gpus_per_training_job>``, a local gather) with ``--profile`` =
profiles/slurm, next to the repository's profiles/default (picked up as the workflow profile, as in
a real run), and checks that every non-local job went through sbatch, that the training jobs asked
for a GPU and landed in the GPU partition while the others did not, and that a training job killed
by ``scancel`` is retried and the run still completes. ``test_real_workflow_dry_run`` checks that
the profile parses against the real rules and that their training jobs then ask for a GPU.
"""

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SNAKEMAKE, copy_workflow, slurm_test_profile, slurm_unavailable
from drugshift.tiers import scaled_mem_mb, scaled_runtime

HERE = Path(__file__).resolve().parent
# How users run the workflow on a cluster (README); profiles/default is then loaded by itself as
# the workflow profile and overrides this profile key by key.
SLURM_ARGS = ["--profile", "profiles/slurm"]
CAPPED = (
    "a global `resources: gpu` below 1 caps the training jobs' GPU request (profiles/default, "
    "loaded by itself as the workflow profile, overrides --profile profiles/slurm key by key)"
)


_WHY = slurm_unavailable()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")


def _squeue(run_id: str) -> dict[str, tuple[str, str]]:
    """SLURM's own record of the run's jobs: {job id: (state, partition)}."""
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--name", run_id, "--format=%i|%T|%P"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("|") for line in out.split()]
    return {job: (state, partition) for job, state, partition in rows}


def test_tiny_workflow_through_slurm(tmp_path):
    work = tmp_path / "wf"
    work.mkdir()
    shutil.copy(HERE / "Snakefile", work / "Snakefile")
    # the real workflow profile, which Snakemake loads by itself beside the Snakefile
    shutil.copytree(ROOT / "profiles" / "default", work / "profiles" / "default")
    slurm_test_profile(work, gpus_in_cluster=2)
    (work / "out").mkdir()
    (work / "out" / "hold_1").touch()  # attempt 1 of train seed=1 waits to be scancel'ed

    cancelled = []

    def cancel_held_job():
        held = work / "out" / "held_job"
        deadline = time.time() + 240
        while time.time() < deadline and not held.exists():
            time.sleep(0.5)
        if held.exists():
            job = held.read_text().strip()
            subprocess.run(["scancel", job], check=True)
            cancelled.append(job)

    killer = threading.Thread(target=cancel_held_job, daemon=True)
    killer.start()
    log_file = tmp_path / "snakemake.log"
    start = time.time()
    with open(log_file, "w") as sink:
        proc = subprocess.Popen(
            [*SNAKEMAKE, *SLURM_ARGS, "--config", "gpus_per_training_job=1", "--verbose"],
            cwd=work,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            proc.wait(timeout=280)
        except subprocess.TimeoutExpired:
            proc.terminate()  # Snakemake cancels its SLURM jobs on SIGTERM
            proc.wait(timeout=60)
        finally:
            run = re.search(r"SLURM run ID: (\S+)", log_file.read_text())
            if run and proc.returncode != 0:  # leave no job of this run behind
                subprocess.run(["scancel", "--name", run.group(1)], check=False)
    wall = time.time() - start
    killer.join(timeout=5)
    log = log_file.read_text()
    print(f"\nSnakemake through SLURM: {wall:.0f} s wall time (log: {log_file})")
    calls = re.findall(r"^sbatch call: (sbatch .*)$", log, flags=re.M)
    train_calls = [c for c in calls if "--comment rule_train" in c]
    assert all(" --gpus=" in c for c in train_calls), f"training jobs submitted without a GPU: {CAPPED}"
    assert proc.returncode == 0, f"snakemake through SLURM failed after {wall:.0f} s:\n{log[-6000:]}"

    # every non-local job went through sbatch, and SLURM knows them all
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: \S+/rule_(\w+?)/", log)
    by_rule = {}
    for job, rule in submitted:
        by_rule.setdefault(rule, []).append(job)
    assert sorted(by_rule) == ["prepare", "train"], by_rule  # all and gather are local rules
    assert len(by_rule["prepare"]) == 1 and len(by_rule["train"]) == 3, by_rule  # 2 seeds + 1 retry
    assert len(calls) == 4, calls
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    states = _squeue(run_id)
    assert set(states) == {job for job, _ in submitted}, (states, submitted)

    # GPU requests: only the training jobs ask for GPUs, through the plugin's `gpu` resource, and
    # the partition follows from the request (partitions.yaml), not from the rule
    other_calls = [c for c in calls if "--comment rule_train" not in c]
    assert train_calls and all(" --gpus=1" in c and "-p gpu" in c for c in train_calls), train_calls
    assert all("--gpus" not in c and "-p cpu" in c for c in other_calls), other_calls
    print(f"training job's sbatch call: {train_calls[0][:600]}")
    assert all(states[j][1] == "gpu" for j in by_rule["train"]), states
    assert states[by_rule["prepare"][0]] == ("COMPLETED", "cpu"), states

    # the scancel'ed job was retried, with attempt 2: memory and time of the tier formula
    # (drugshift.tiers, as the real rules use it) over the job's input size, doubled
    assert cancelled, "the held training job never started"
    assert states[cancelled[0]][0] == "CANCELLED", states
    assert sum(state == "COMPLETED" for state, _ in states.values()) == 3, states
    input_mb = (work / "out" / "prepare.txt").stat().st_size / 2**20
    tier = {"mem_mb": 200, "runtime": 5, "mem_mb_per_input_mb": 10, "runtime_per_input_gb": 100}
    for attempt in (1, 2):
        mem, minutes = scaled_mem_mb(tier, input_mb, attempt), scaled_runtime(tier, input_mb, attempt)
        assert any(f"-t {minutes} --mem {mem} " in c for c in train_calls), (attempt, mem, minutes, train_calls)

    # the jobs ran inside SLURM allocations: each GPU job saw one (placeholder) GPU of its own
    out = work / "out"
    train = [(out / f"train_{s}.txt").read_text() for s in (1, 2)]
    assert all(re.search(r"partition=gpu cuda=\d$", t.strip()) for t in train), train
    assert "partition=cpu" in (out / "prepare.txt").read_text()
    assert (out / "summary.tsv").read_text() == "".join(train)


def test_real_workflow_dry_run(tmp_path):
    """profiles/slurm parses against the real rules, and training jobs carry gpu=1 when asked."""
    work = copy_workflow(tmp_path / "wf")
    proc = subprocess.run(
        [*SNAKEMAKE, *SLURM_ARGS, "-n", "--config", "gpus_per_training_job=1"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    gpus = {}  # rule: the gpu values its jobs ask for
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", log):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        resources = re.search(r"^\s*resources: (.*)$", block, flags=re.M)
        if rule and resources:
            gpu = re.search(r"\bgpu=(\d+)", resources.group(1))
            gpus.setdefault(rule.group(1), set()).add(int(gpu.group(1)) if gpu else 0)
    training = {"train_scdeal", "pretrain_codeae", "finetune_codeae"} & set(gpus)
    assert training, f"no training job in the dry run: {sorted(gpus)}"
    capped = sorted(rule for rule in training if gpus[rule] != {1})
    assert not capped, f"{capped} ask for {[gpus[r] for r in capped]} GPUs with gpus_per_training_job=1: {CAPPED}"
