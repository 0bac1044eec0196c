"""Folders written all or nothing: a crash never leaves half a model or half an archive."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_directory", "current_umask"]


def current_umask() -> int:
    """The process's umask (new files get ``0o666 & ~umask``, folders ``0o777 & ~umask``), read
    from /proc without changing it where possible (setting it is not thread-safe)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_directory(dest: str | Path) -> Iterator[Path]:
    """Yield a new temporary folder beside ``dest``; when the block succeeds it replaces
    ``dest`` (an earlier ``dest`` is removed), when it raises it is deleted and ``dest`` is left
    as it was."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        # mkdtemp makes the folder 0700; a results folder shared with a group or served by a
        # mirror needs the permissions the user's umask gives any new folder.
        os.chmod(tmp, 0o777 & ~current_umask())
        yield tmp
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
