"""Model cards: the JSON written beside every trained model so that it can be audited and reused."""

from __future__ import annotations

import hashlib
import json
import math
import platform
from pathlib import Path

import numpy as np

import drugshift


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (inputs can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def array_sha256(*arrays) -> str:
    """Hex sha256 of in-memory arrays (dtype, shape and bytes, in C order): the checksum a model
    card gives of training data that came from no file."""
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(str((a.dtype.str, a.shape)).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def provenance(paths: dict[str, str | Path]) -> dict:
    """Name → {path, sha256, bytes} of every input a model was trained from."""
    return {name: {"path": str(p), "sha256": file_sha256(p), "bytes": Path(p).stat().st_size}
            for name, p in paths.items()}


def environment() -> dict:
    """Software versions that can change a trained model."""
    import torch

    return {"drugshift": drugshift.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; null reads as "not defined" (e.g. AUROC with one class)
    return value


def write_json(data: dict, path: str | Path) -> None:
    """Write ``data`` as stable, human-readable JSON (sorted keys, NaN → null)."""
    Path(path).write_text(json.dumps(_jsonable(data), indent=2, sort_keys=True) + "\n")
