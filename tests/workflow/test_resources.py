"""Resource tiers and local GPU scheduling.

* every rule that runs as a job names exactly one tier, the others are ``localrules``, and the
  training tier is exactly the rules that train (those given ``device``);
* a dry run shows a job's memory and wall time scaled by its input files' size and a site's
  tier settings, its threads and its ``gpu`` request;
* ``snakemake --resources gpu=N`` bounds concurrent GPU jobs, and concurrent GPU jobs hold
  different devices (drugshift.devices), checked on CPU with a tiny workflow whose GPU jobs ask
  for ``gpu=<gpus_per_training_job>`` like the real training rules, run next to the repository's
  profiles/default (a global ``gpu`` cap there would cut their requests).
"""

import json
import re
import shutil
import textwrap
from itertools import combinations
from pathlib import Path

import pytest

from conftest import ROOT, copy_workflow, snakemake
from drugshift.tiers import TIER_NAMES, scaled_mem_mb, scaled_runtime, threads_of

RULE_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]


def _rule_blocks() -> dict[str, str]:
    """{rule name: its text} of every rule of the workflow (`use rule … as NAME` included)."""
    blocks = {}
    for path in RULE_FILES:
        text = path.read_text()
        for m in re.finditer(r"^(?:rule (\w+):|use rule \w+ as (\w+) with:)\n((?:[ \t]+.*\n|\n)*)", text, flags=re.M):
            blocks[m.group(1) or m.group(2)] = m.group(0)
    return blocks


def _localrules() -> set[str]:
    text = (ROOT / "Snakefile").read_text()
    m = re.search(r"^localrules:\n((?:    \w+,?\n)+)", text, flags=re.M)
    assert m, "the Snakefile lists its localrules"
    return set(re.findall(r"\w+", m.group(1)))


def test_every_rule_has_one_tier_or_is_local():
    blocks = _rule_blocks()
    local = _localrules()
    assert local <= set(blocks), f"localrules that are no rule: {local - set(blocks)}"
    tiers = {}
    for name, block in blocks.items():
        if block.startswith("use rule"):
            assert "resources:" not in block and "threads:" not in block, f"{name}: its parent's tier applies"
            continue
        named = re.findall(r'\btier\("(\w+)"\)', block)
        threads = re.findall(r'\btier_threads\("(\w+)"\)', block)
        if name in local:
            assert not named and not threads, f"{name} is local: no tier"
            continue
        assert len(named) == 1 and threads == named, f"{name}: one tier(...) in resources and the same in threads"
        assert named[0] in TIER_NAMES, (name, named)
        assert not re.search(r"^\s+gpu=", block, flags=re.M), f"{name}: GPUs come from its tier only"
        tiers[name] = named[0]
    training = {name for name, t in tiers.items() if t == "training"}
    trains = {name for name, block in blocks.items() if re.search(r"^\s+device=config\[\"device\"\]", block, flags=re.M)}
    assert training == trains == {"train_scdeal", "tune_scdeal", "ablate_scdeal", "pretrain_codeae", "finetune_codeae",
                                  "sex_confounder"}
    assert {"all", "predict", "codeae_benchmark", "scdeal_evaluation", "summarise_scdeal"} <= local


def test_scaling_and_retries():
    tier = {"mem_mb": 1000, "runtime": 60, "mem_mb_per_input_mb": 10, "runtime_per_input_gb": 120}
    assert scaled_mem_mb(tier, 0) == 1000
    assert scaled_mem_mb(tier, 50.5) == 1505
    assert scaled_mem_mb(tier, 50.5, attempt=2) == 3010
    assert scaled_mem_mb(tier, 50.5, attempt=3, cap=4000) == 4000
    assert scaled_runtime(tier, 512) == 120
    assert scaled_runtime(tier, 512, attempt=2) == 240
    assert scaled_runtime({"mem_mb": 1, "runtime": 30}, 10_000) == 30  # no factor: no scaling
    config = {"threads_per_training_job": 8, "resources": {"tiers": {"light": {"cpus": 2}}, "max": {"cpus": 4}}}
    assert threads_of(config, "light") == 2
    assert threads_of(config, "training") == 4  # capped


def test_dry_run_resources_follow_tiers_and_input_size(tmp_path):
    """train_scdeal's inputs made up (sparse files of known size) and a site's tier setting: the
    dry run's request is the tier's formula over those sizes."""
    work = copy_workflow(tmp_path / "wf")
    sizes = {"results/sc/GSEDEMO1/processed.h5ad": 200, "results/sc/GSEDEMO1/bulk_aligned.parquet": 20,
             "results/bulk/labels/demotinib.parquet": 0}
    for path, mb in sizes.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        with open(work / path, "wb") as f:
            f.truncate(mb * 2**20)
    (work / "site.yaml").write_text("resources:\n  tiers:\n    training: {mem_mb: 1000, mem_mb_per_input_mb: 5}\n")
    proc = snakemake(["-n", "--cores", "4", "--configfile", "config/config.yaml", "site.yaml",
                      "--config", "gpus_per_training_job=1", "threads_per_training_job=3",
                      "--allowed-rules", "train_scdeal", "--", "results/scdeal/GSEDEMO1/demotinib/model"], work)
    out = proc.stdout + proc.stderr
    resources = dict(re.findall(r"(\w+)=([^,\s]+)", re.search(r"^\s+resources: (.*)$", out, flags=re.M).group(1)))
    assert resources["mem_mb"] == str(1000 + 5 * 220)  # the site's base and factor
    assert resources["runtime"] == str(scaled_runtime({"runtime": 480, "runtime_per_input_gb": 240}, 220))  # defaults
    assert resources["gpu"] == "1"
    assert re.search(r"^\s+threads: 3$", out, flags=re.M)


SNAKEFILE = textwrap.dedent('''
    # GPU-like jobs ask for gpu=<gpus_per_training_job> as the real training rules do; each claims a
    # device (drugshift.devices, two fake GPUs) and records when it ran and on which device.
    GPUS = config["gpus_per_training_job"]
    JOB = "{python} {script} {{output}} {{params.kind}}"

    localrules: all

    rule all:
        input:
            expand("out/gpu_{{i}}.json", i=range(4)),
            expand("out/cpu_{{i}}.json", i=range(3)),

    rule gpu_job:
        output: "out/gpu_{{i}}.json"
        params: kind="gpu"
        resources: gpu=GPUS
        shell: JOB

    rule cpu_job:
        output: "out/cpu_{{i}}.json"
        params: kind="cpu"
        shell: JOB
''')

JOB_SCRIPT = textwrap.dedent('''
    import json, sys, time
    from drugshift.devices import claim_device
    output, kind = sys.argv[1:]
    start = time.time()
    claim = claim_device(["0", "1"], "locks") if kind == "gpu" else None
    time.sleep(1.5)
    json.dump({"start": start, "end": time.time(), "device": claim.index if claim else None}, open(output, "w"))
''')


def _run(work: Path, gpus: int) -> list[dict]:
    shutil.rmtree(work / "out", ignore_errors=True)
    snakemake(["--cores", "4", "--resources", f"gpu={gpus}", "--config", "gpus_per_training_job=1"], work,
              timeout=120)
    return [{"kind": p.name.split("_")[0], **json.loads(p.read_text())} for p in sorted((work / "out").glob("*.json"))]


def _overlap(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import sys

    work = tmp_path_factory.mktemp("gpu_wf")
    (work / "job.py").write_text(JOB_SCRIPT)
    (work / "Snakefile").write_text(SNAKEFILE.format(python=sys.executable, script=work / "job.py"))
    shutil.copytree(ROOT / "profiles" / "default", work / "profiles" / "default")  # the workflow profile
    return work


def test_resources_gpu_1_serialises_gpu_jobs(tiny):
    jobs = _run(tiny, 1)
    gpu = [j for j in jobs if j["kind"] == "gpu"]
    assert len(gpu) == 4
    assert not any(_overlap(a, b) for a, b in combinations(gpu, 2)), gpu
    # the others are not held back: some job ran beside another
    assert any(_overlap(a, b) for a, b in combinations(jobs, 2) if "cpu" in (a["kind"], b["kind"])), jobs


def test_resources_gpu_2_runs_two_gpu_jobs_on_different_devices(tiny):
    jobs = _run(tiny, 2)
    gpu = [j for j in jobs if j["kind"] == "gpu"]
    pairs = [(a, b) for a, b in combinations(gpu, 2) if _overlap(a, b)]
    assert pairs, "two GPU jobs at once"
    assert all(a["device"] != b["device"] for a, b in pairs), gpu
    assert not any(_overlap(a, b) and _overlap(a, c) and _overlap(b, c) for a, b, c in combinations(gpu, 3)), gpu
