"""The one chunked inference loop: a network applied to a matrix too large for one batch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

__all__ = ["CHUNK_ROWS", "apply_in_chunks"]

#: Rows per forward pass at inference (bounds memory; results do not depend on it).
CHUNK_ROWS = 4096


def apply_in_chunks(fn: Callable[[Tensor], Tensor], X: np.ndarray, device: torch.device | str,
                    chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """``fn`` applied to ``X`` (float32 ``(n, genes)``) ``chunk_rows`` rows at a time under
    ``torch.no_grad()``; the outputs concatenated along rows as a NumPy array.

    ``fn`` is a module in eval mode or a function of one (e.g. ``lambda x: P(E(x))``); the
    caller puts its modules in eval mode. An empty ``X`` gives ``fn``'s output on zero rows.
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    with torch.no_grad():
        if X.shape[0] == 0:
            return fn(torch.as_tensor(X, device=device)).cpu().numpy()
        return np.concatenate([fn(torch.as_tensor(X[s : s + chunk_rows], device=device)).cpu().numpy()
                               for s in range(0, X.shape[0], chunk_rows)])
