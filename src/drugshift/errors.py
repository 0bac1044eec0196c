"""The one exception type raised at the input boundary."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input data: the message always names the file and what is wrong with it."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        where = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{problem}")
