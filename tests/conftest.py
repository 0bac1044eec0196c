"""Shared fixtures and the test layers.

``tests/unit`` (library functions on tiny generated data), ``tests/workflow`` (Snakemake on the
demo DAG; marked ``workflow``) and ``tests/realdata`` (../shared/data; marked ``realdata`` and
skipped when the folder is absent). A test elsewhere that needs the shared data is marked
``realdata`` too.
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

_NO_SHARED_DATA = "../shared/data is absent"
requires_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=_NO_SHARED_DATA)

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def copy_workflow(dest: Path) -> Path:
    """A copy of the workflow (not of results) in ``dest``, to run Snakemake there."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "workflow", "config", "profiles", "envs", "resources"):
        (shutil.copytree if (ROOT / item).is_dir() else shutil.copy)(ROOT / item, dest / item)
    return dest


def snakemake(args: list[str], cwd: Path, timeout: int = 900, check: bool = True) -> subprocess.CompletedProcess:
    """Run Snakemake in ``cwd``; with ``check`` a failure shows the ends of its output."""
    proc = subprocess.run(SNAKEMAKE + list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def pytest_collection_modifyitems(config, items):
    """Mark each test by its layer, and every test that needs the shared data as ``realdata``."""
    for item in items:
        layer = Path(str(item.fspath)).parent.name
        needs_data = any(m.name == "skipif" and m.kwargs.get("reason") == _NO_SHARED_DATA for m in item.iter_markers())
        if layer == "realdata" or needs_data:
            item.add_marker(pytest.mark.realdata)
            item.add_marker(requires_shared_data)
        if layer == "workflow":
            item.add_marker(pytest.mark.workflow)
        if layer == "cluster":
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(autouse=True, scope="session")
def _single_torch_thread():
    """Tests train on tiny tensors: OpenMP thread start-up dominates, and on a shared 2-core
    machine two threads can be ten times slower than one."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory):
    """The default demo world written once: (folder, ground truth)."""
    from drugshift.simulate import simulate_demo

    folder = tmp_path_factory.mktemp("demo")
    truth = simulate_demo(folder)
    return folder, truth


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The demo DAG, run once for real with 2 cores, shared by every workflow test that reads or
    extends its results (a second full demo would double the suite's longest step)."""
    work = copy_workflow(tmp_path_factory.mktemp("wf"))
    snakemake(["--cores", "2"], work)
    return work


class Payload:
    """Creates the file ``marker`` when unpickled: what a malicious model file would do. Tests
    plant it and check that no loader ever runs it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# --------------------------------------------------------------------------- SLURM (tests/cluster)


def slurm_unavailable() -> str | None:
    """Why SLURM cannot be used here, or None."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed"
    if shutil.which("sinfo") is None:
        return "SLURM is not installed (no sinfo): run `.ci/slurm.sh up` as root"
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=15)
        nodes = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"the SLURM controller does not answer: {err}"
    if "is UP" not in ping.stdout:
        said = " ".join((ping.stdout + ping.stderr).split()).replace("*", "")
        return f"the SLURM controller does not answer (start it: .ci/slurm.sh start): {said[:120]}"
    if not any(state.strip() in ("idle", "mix", "alloc", "comp") for state in nodes.stdout.split()):
        return f"no SLURM node takes jobs (sinfo states: {nodes.stdout.split()})"
    return None




def slurm_test_profile(dest: Path, gpus_in_cluster: int) -> Path:
    """profiles/slurm made to fit the test cluster: site settings overridden, nothing else."""
    src = ROOT / "profiles" / "slurm"
    prof = dest / "profiles" / "slurm"
    shutil.copytree(src, prof, dirs_exist_ok=True)
    settings = yaml.safe_load((src / "config.yaml").read_text())
    settings.update(
        {
            # site settings of the test cluster (.ci/slurm.sh): no accounting database, so no
            # account and squeue for status (MinJobAge=600 keeps finished jobs visible)
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 2,
            "latency-wait": 5,
            "slurm-keep-successful-logs": True,
        }
    )
    (prof / "config.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    parts = yaml.safe_load((src / "partitions.yaml").read_text())
    assert set(parts["partitions"]) >= {"cpu", "gpu"}, "the test cluster has partitions cpu and gpu"
    parts["partitions"]["gpu"]["max_gpu"] = gpus_in_cluster
    (prof / "partitions.yaml").write_text(yaml.safe_dump(parts))
    return prof
