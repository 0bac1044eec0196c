"""What a single-cell matrix holds against what its dataset entry declares (``values:``).

The declared value type decides the preprocessing: ``counts``, ``tpm`` and ``fpkm`` are
QC-filtered, normalised to a common total and log-transformed; ``normalised`` values are used as
they are. A wrong declaration runs to the end and gives a worse answer without any error (raw
counts declared ``normalised`` skip normalisation: AUROC 0.54 instead of 0.58 on one dataset), so
:func:`check_declared_values` compares the declaration with the data before preprocessing.

Fail or warn, case by case — an error where the declared processing is certainly wrong, a
warning where real data of the declared kind can look like this:

========================  ====================================================  ========
declared                  seen                                                  outcome
========================  ====================================================  ========
any                       NaN or infinite value                                 error
counts, tpm, fpkm         a negative value (z-scores or centred data)           error
counts, tpm, fpkm         max <= 50 and non-integer values (log scale)          error
counts                    non-integer values, max > 50                          warning
normalised                non-negative integers only, max > 50 (raw counts)     error
normalised                non-negative, non-integer, max > 50 (unlogged TPM)    warning
tpm, fpkm                 integers only                                         accepted
normalised                negative values (z-scores, centred)                   accepted
========================  ====================================================  ========

Why these lines: counts are never negative and log-scale data never exceed ~20 (log2 of a
million) — 50 leaves room for any log base or pseudo-count —, while a raw count matrix of any
depth has a maximum in the hundreds; processing log data as counts logs it twice, and
processing counts as normalised skips normalisation: both certainly wrong, so errors. Estimated
counts (RSEM, salmon) are legitimately fractional with a large maximum, and some pipelines
publish normalised but unlogged values: those get a warning naming what was seen, not an error.
Negative values under ``normalised`` are z-scores or centred values, which is fine, and integer
TPM/FPKM are processed exactly as counts would be, so nothing is lost.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from drugshift.errors import InputError
from drugshift.io._table import check_finite

__all__ = ["LOG_SCALE_MAX", "check_declared_values", "describe_values"]

log = logging.getLogger("drugshift")

#: Largest value log-scale expression reaches (log2 of 1e6 is 19.9; 50 leaves a wide margin).
LOG_SCALE_MAX = 50.0
_RAW = ("counts", "tpm", "fpkm")


def _stats(X) -> dict:
    data = X.data if sp.issparse(X) else np.asarray(X).ravel()
    data = np.asarray(data, dtype=np.float64)
    finite = np.isfinite(data)
    nonzero = data[finite & (data != 0)]
    non_integer = nonzero != np.round(nonzero)
    return {
        "n": int(nonzero.size), "non_finite": int((~finite).sum()),
        "min": float(nonzero.min()) if nonzero.size else 0.0,
        "max": float(nonzero.max()) if nonzero.size else 0.0,
        "negative": int((nonzero < 0).sum()),
        "non_integer": float(non_integer.mean()) if nonzero.size else 0.0,
    }


def describe_values(X) -> str:
    """What a matrix holds, in words: ``max 8,412, all integers, no negatives``."""
    s = _stats(X)
    integers = ("all integers" if s["non_integer"] == 0
                else f"{100 * s['non_integer']:.0f} % of non-zero values non-integer")
    negatives = "no negatives" if not s["negative"] else f"{s['negative']:,} negative (min {s['min']:,.3g})"
    return f"max {s['max']:,.6g}, {integers}, {negatives}"


def check_declared_values(X, declared: str, name: str, cells=None, genes=None) -> str:
    """Check a cells × genes matrix against its declared ``values`` (see the module's table).

    Args:
        X: dense array or scipy sparse matrix, as read (before any normalisation).
        declared: ``counts``, ``tpm``, ``fpkm`` or ``normalised``.
        name: the dataset's name, for the message.
        cells, genes: row and column labels of ``X``; with them a NaN or infinite value is
            located by cell and gene.

    Returns:
        :func:`describe_values` of ``X`` (for the log).

    Raises:
        InputError: (``path`` = ``name``) the declaration is certainly wrong; the message says
            what was declared, what was seen and which declaration fits.
    Logs a warning naming the dataset where the data only look unusual for the declaration.
    """
    if declared not in _RAW + ("normalised",):
        raise ValueError(f"{name}: values must be one of {_RAW + ('normalised',)}, got {declared!r}")
    s = _stats(X)
    seen = describe_values(X)
    if s["non_finite"]:
        if cells is not None and genes is not None:
            check_finite(X, name, cells, genes, what="the expression matrix", row_what="cell", column_what="gene")
        raise InputError(name, f"{s['non_finite']:,} NaN or infinite value(s) in the expression matrix")
    if not s["n"]:
        return seen
    log_scale = s["max"] <= LOG_SCALE_MAX and s["non_integer"] > 0
    if declared in _RAW:
        if s["negative"]:
            raise InputError(name, f"declared values: {declared}, but the data hold negative values ({seen}): "
                                   "z-scores or centred data, not " + declared + "; declare values: normalised")
        if log_scale:
            raise InputError(name, f"declared values: {declared}, but the data look log-transformed ({seen}): "
                                   f"{declared} would be normalised and logged a second time; "
                                   "declare values: normalised")
        if declared == "counts" and s["non_integer"] > 0:
            log.warning("%s: declared values: counts, but the data are not integers (%s): estimated counts "
                        "(RSEM, salmon) or TPM? QC and normalisation proceed as for counts", name, seen)
    elif s["negative"] == 0 and s["max"] > LOG_SCALE_MAX:
        if s["non_integer"] == 0:
            raise InputError(name, f"declared values: normalised, but the data are non-negative integers ({seen}): "
                                   "raw counts, whose QC and normalisation would be skipped; declare values: counts")
        log.warning("%s: declared values: normalised, but the maximum is beyond log scale (%s): unlogged TPM or "
                    "FPKM? they are used as they are; declare values: tpm or fpkm to normalise and log them",
                    name, seen)
    return seen
