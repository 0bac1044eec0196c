"""One GPU per job (drugshift.devices), checked without CUDA: torch.cuda is faked."""

import logging
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from drugshift import devices
from drugshift.train import resolve_device


@pytest.fixture(autouse=True)
def clean_state(tmp_path, monkeypatch):
    """No scheduler, no CUDA_VISIBLE_DEVICES, lock files in tmp_path, no device held."""
    for var in (*devices.SCHEDULER_JOB_VARS, "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(devices.LOCK_DIR_VAR, str(tmp_path / "locks"))
    devices.release_gpu()
    yield
    devices.release_gpu()


def fake_gpus(monkeypatch, count):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_two_claims_take_different_devices_and_a_released_one_is_free_again(tmp_path):
    first = devices.claim_device(["0", "1"], tmp_path)
    second = devices.claim_device(["0", "1"], tmp_path)
    assert (first.index, second.index) == (0, 1)
    assert devices.claim_device(["0", "1"], tmp_path) is None  # both held
    first.release()
    again = devices.claim_device(["0", "1"], tmp_path)
    assert again.index == 0
    again.release()
    second.release()


def test_a_claim_of_another_process_is_respected_until_it_ends(tmp_path):
    """flock between processes: the child holds device 0 while alive, and its end frees it
    without any cleanup (the kernel releases the lock)."""
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from drugshift.devices import claim_device
            claim = claim_device(["0", "1"], {str(tmp_path)!r})
            print(claim.index, flush=True)
            sys.stdin.readline()
            """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline().strip() == "0"
        mine = devices.claim_device(["0", "1"], tmp_path)
        assert mine.index == 1
        mine.release()
    finally:
        child.kill()  # SIGKILL: no chance to unlock by itself
        child.wait(timeout=30)
    after = devices.claim_device(["0", "1"], tmp_path)
    assert after.index == 0
    after.release()


def test_acquire_gpu_claims_once_per_process(monkeypatch, tmp_path):
    fake_gpus(monkeypatch, 2)
    other = devices.claim_device(["0", "1"], tmp_path / "locks")  # another job holds cuda:0
    assert devices.acquire_gpu() == 1
    assert devices.acquire_gpu() == 1  # the same device for every model of the process
    assert resolve_device("auto") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)  # explicit: no claim
    other.release()
    devices.release_gpu()
    assert devices.acquire_gpu() == 0


def test_two_processes_acquire_different_gpus(monkeypatch, tmp_path):
    """acquire_gpu itself in two processes at once (torch.cuda faked in each)."""
    script = textwrap.dedent("""
        import sys, torch
        torch.cuda.is_available = lambda: True
        torch.cuda.device_count = lambda: 2
        from drugshift.train import resolve_device
        print(resolve_device("auto"), flush=True)
        sys.stdin.readline()
        """)
    env = {**os.environ, devices.LOCK_DIR_VAR: str(tmp_path / "locks")}
    procs = [subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    try:
        got = sorted(p.stdout.readline().strip() for p in procs)
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=30)
    assert got == ["cuda:0", "cuda:1"]


def test_a_scheduler_s_cuda_visible_devices_is_used_as_is(monkeypatch, tmp_path):
    """In a SLURM job the visible GPUs are the job's: cuda:0, no lock (another job on the node may
    see its own, different GPU as device 0 too)."""
    fake_gpus(monkeypatch, 1)
    monkeypatch.setenv("SLURM_JOB_ID", "1234")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    held = devices.claim_device(["0"], tmp_path / "locks")  # a lock on "0" must not matter
    assert devices.scheduler_assigned()
    assert devices.acquire_gpu() == 0
    assert resolve_device("auto") == torch.device("cuda", 0)
    held.release()


def test_user_set_cuda_visible_devices_keys_locks_by_physical_device(monkeypatch, tmp_path):
    """Without a scheduler, CUDA_VISIBLE_DEVICES=2,3 is a choice of devices, not an assignment:
    a job elsewhere holding physical GPU 2 makes this one take cuda:1 (= GPU 3)."""
    fake_gpus(monkeypatch, 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert not devices.scheduler_assigned()
    assert devices.visible_keys(2) == ["2", "3"]
    gpu2 = devices.claim_device(["2"], tmp_path / "locks")  # physical GPU 2, held by another job
    assert devices.acquire_gpu() == 1
    gpu2.release()


def test_a_scheduler_job_without_visible_devices_claims_like_a_workstation(monkeypatch):
    fake_gpus(monkeypatch, 2)
    monkeypatch.setenv("SLURM_JOB_ID", "1234")
    assert not devices.scheduler_assigned()
    assert devices.acquire_gpu() == 0


def test_more_jobs_than_gpus_share_with_a_warning(monkeypatch, tmp_path, caplog):
    fake_gpus(monkeypatch, 2)
    held = [devices.claim_device(["0", "1"], tmp_path / "locks") for _ in range(2)]
    with caplog.at_level(logging.WARNING, logger="drugshift.devices"):
        index = devices.acquire_gpu()
    assert index in (0, 1)
    assert "--resources gpu=" in caplog.text
    for claim in held:
        claim.release()


def test_no_cuda_means_cpu(monkeypatch):
    fake_gpus(monkeypatch, 0)
    assert devices.acquire_gpu() is None
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device("cuda")


def test_lock_dir(monkeypatch, tmp_path):
    assert devices.lock_dir() == tmp_path / "locks"
    monkeypatch.delenv(devices.LOCK_DIR_VAR)
    monkeypatch.setattr(devices, "MACHINE_TMP", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "job-tmp"))  # a job's own TMPDIR does not split the locks
    shared = devices.lock_dir()
    assert shared == tmp_path / "drugshift-gpu-locks"
    assert shared.stat().st_mode & 0o1777 == 0o1777  # every user's jobs see each other's claims
