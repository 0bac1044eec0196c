"""The exception types raised at the boundaries: bad input data, and files that cannot be written."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from pathlib import Path


class InputError(ValueError):
    """Bad input data: the message always names the file and what is wrong with it."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{problem}")


class WriteError(OSError):
    """A file could not be written (disk full, read-only file system, no permission, quota).

    An :class:`OSError` (``errno`` kept) whose message names the file and says what happened in
    words, instead of the bare ``[Errno 28]`` or a consequence far from the cause (a truncated
    archive, ``unexpected pos …`` from ``torch.save``)."""

    def __init__(self, path: str | Path, exc: OSError):
        self.path = str(path)
        super().__init__(exc.errno, f"{self.path}: cannot write: {describe_os_error(exc)}")

    def __str__(self) -> str:  # OSError's default prefixes "[Errno N]"; the words say it already
        return self.strerror


_WRITE_PROBLEMS = {
    errno.ENOSPC: "no space left on the device (disk full); free space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded; free space or ask for a larger quota",
    errno.EROFS: "the file system is read-only; write the results to a writable folder",
    errno.EACCES: "permission denied; check the folder's owner and mode",
    errno.EPERM: "operation not permitted; check the folder's owner and mode",
}


def describe_os_error(exc: OSError) -> str:
    """The cause of a failed write in plain words (``ENOSPC`` → "no space left on the device …"),
    falling back to the system's own text."""
    return _WRITE_PROBLEMS.get(exc.errno, exc.strerror or str(exc) or type(exc).__name__)


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn an :class:`OSError` raised while writing ``path`` into a :class:`WriteError` naming it.

    Use around the code that creates, writes and renames one output (``with writing(dest): …``);
    an error that already is a WriteError passes unchanged.
    """
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        if exc.errno is None:  # not a system error (e.g. a library's own OSError subclass)
            raise
        raise WriteError(path, exc) from exc

