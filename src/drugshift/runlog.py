"""Logging for workflow scripts: everything, including a crash's traceback, goes to the rule's log."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path


def start(log_path: str | Path, name: str = "drugshift") -> logging.Logger:
    """Send the ``drugshift`` logger, Python warnings and uncaught exceptions to ``log_path``.

    Returns the logger. Messages are also echoed to stderr so a user watching the terminal
    sees progress of long jobs.
    """
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [logging.FileHandler(log_path, mode="w"), logging.StreamHandler(sys.stderr)]
    for h in handlers:
        h.setFormatter(fmt)
    logger = logging.getLogger(name)
    logger.handlers[:] = handlers
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logging.captureWarnings(True)
    warn_log = logging.getLogger("py.warnings")
    warn_log.handlers[:] = handlers[:1]
    warnings.filterwarnings("default")

    def _log_uncaught(exc_type, exc, tb):
        logger.error("failed: %s", exc, exc_info=(exc_type, exc, tb))

    sys.excepthook = _log_uncaught
    return logger
