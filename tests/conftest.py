"""Shared fixtures: where the real data lives, and a tiny demo world built once per session."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

requires_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")


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
