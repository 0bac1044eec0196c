"""Shared fixtures: where the real data lives, and a tiny demo world built once per session."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

requires_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent")


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory):
    """The default demo world written once: (folder, ground truth)."""
    from drugshift.simulate import simulate_demo

    folder = tmp_path_factory.mktemp("demo")
    truth = simulate_demo(folder)
    return folder, truth
