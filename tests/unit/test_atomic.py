"""Folders written all or nothing: drugshift.atomic."""

import pytest

from drugshift.atomic import atomic_directory


def test_a_failed_write_leaves_the_earlier_folder_and_no_temporary_one(tmp_path):
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(dest) as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert [p.name for p in dest.iterdir()] == ["old.txt"]


def test_a_finished_write_replaces_the_folder(tmp_path):
    dest = tmp_path / "a" / "model"
    with atomic_directory(dest) as tmp:
        (tmp / "new.txt").write_text("new")
    with atomic_directory(dest) as tmp:
        (tmp / "newer.txt").write_text("newer")
    assert [p.name for p in dest.iterdir()] == ["newer.txt"]
    assert [p.name for p in dest.parent.iterdir()] == ["model"]


def test_the_folder_gets_the_users_umask_not_0700(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        with atomic_directory(tmp_path / "model") as tmp:
            (tmp / "x").write_text("1")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o755
