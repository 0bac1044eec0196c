"""Shared checks for the input parsers: every bad-input case is raised here, once.

All functions raise :class:`drugshift.errors.InputError` whose message names the file and the
problem (empty file, wrong separator, missing column, duplicated id, non-numeric value).
Paths may be plain or compressed (``.gz``, ``.bz2``, ``.xz``, ``.zip``); pandas infers the
compression from the extension and :func:`open_text` does the same.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import logging
import lzma
import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import scipy.sparse as sp

from drugshift.errors import InputError

log = logging.getLogger("drugshift")

SEP_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", " ": "space", "|": "pipe"}
# Placeholders used by TCGA clinical tables for missing values, e.g. "[Not Available]".
_TCGA_PLACEHOLDER = re.compile(r"^\s*\[[^\]]*\]\s*$")
_PREVIEW = 8  # how many offending ids / columns to name in a message


def sep_name(sep: str) -> str:
    """Human name of a separator (``"\\t"`` -> ``"tab"``)."""
    return SEP_NAMES.get(sep, repr(sep))


def preview(items: Iterable[object], n: int = _PREVIEW) -> str:
    """``'a', 'b', 'c' … (+12 more)`` — a short list of items for an error message."""
    items = list(items)
    shown = ", ".join(repr(str(x)) for x in items[:n])
    if len(items) > n:
        shown += f" … (+{len(items) - n} more)"
    return shown


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a directory, expected a file")


def open_binary(path: str | Path) -> IO[bytes]:
    """Open ``path`` for binary reading, decompressing by extension (.gz/.bz2/.xz/.zip)."""
    path = Path(path)
    _check_exists(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".gz":
            return gzip.open(path, "rb")
        if suffix == ".bz2":
            return bz2.open(path, "rb")
        if suffix in (".xz", ".lzma"):
            return lzma.open(path, "rb")
        if suffix == ".zip":
            zf = zipfile.ZipFile(path)
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise InputError(
                    path, f"zip archive must hold exactly one file, found {len(names)}")
            return zf.open(names[0])
        return open(path, "rb")
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"cannot open: {exc}") from exc


def open_text(path: str | Path) -> IO[str]:
    """Open ``path`` for text reading (UTF-8, BOM tolerated), decompressing by extension."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors="replace", newline="")


def read_header(path: str | Path, sep: str) -> list[str]:
    """Column names of the first line of ``path`` split on ``sep``, exactly as written.

    Unlike pandas, duplicated names are *not* renamed (``A``, ``A.1``), so callers can detect
    duplicated ids. Raises InputError if the file is empty or cannot be decompressed.
    """
    try:
        with open_text(path) as fh:
            line = fh.readline()
    except (OSError, EOFError) as exc:  # corrupt gzip etc.
        raise InputError(
            path, f"cannot read (corrupt or not the expected compression): {exc}") from exc
    line = line.rstrip("\r\n")
    if not line.strip():
        raise InputError(path, "file is empty (no header line)")
    return next(csv.reader([line], delimiter=sep))


def detect_sep(path: str | Path, candidates: Sequence[str] = ("\t", ",")) -> str:
    """Guess the separator from the header line: the candidate that occurs most often.

    Raises InputError naming what was found when no candidate occurs in the header.
    """
    try:
        with open_text(path) as fh:
            line = fh.readline().rstrip("\r\n")
    except (OSError, EOFError) as exc:
        raise InputError(
            path, f"cannot read (corrupt or not the expected compression): {exc}") from exc
    if not line.strip():
        raise InputError(path, "file is empty (no header line)")
    counts = {s: line.count(s) for s in candidates}
    best = max(candidates, key=lambda s: counts[s])
    if counts[best] == 0:
        wanted = " or ".join(sep_name(s) for s in candidates)
        raise InputError(
            path,
            f"cannot detect the separator: the header line has no {wanted} "
            f"(found a single field {line[:60]!r})",
        )
    return best


def _wrong_sep_hint(header_line: str, sep: str) -> str:
    others = [s for s in SEP_NAMES if s != sep and s != " " and s in header_line]
    if others:
        return f"; the header looks {sep_name(max(others, key=header_line.count))}-separated"
    return ""


def _check_header(path: Path, header: list[str], sep: str, min_columns: int) -> None:
    if len(header) < min_columns:
        raise InputError(
            path,
            f"expected {sep_name(sep)}-separated columns but the header has {len(header)} "
            f"column(s) ({preview(header, 3)}){_wrong_sep_hint(sep.join(header), sep)}",
        )


def _resolve_required(
    path: Path, header: list[str], required: Sequence[str | tuple[str, ...]]
) -> dict[str, str]:
    """Map found column name -> canonical name; raise naming missing columns and those found."""
    present = set(header)
    rename: dict[str, str] = {}
    missing: list[str] = []
    for req in required:
        alts = (req,) if isinstance(req, str) else tuple(req)
        hit = next((a for a in alts if a in present), None)
        if hit is None:
            missing.append(" or ".join(repr(a) for a in alts))
        elif hit != alts[0]:
            rename[hit] = alts[0]
    if missing:
        raise InputError(
            path,
            f"missing required column(s) {', '.join(missing)}; columns found: "
            f"{preview(header, 20)}",
        )
    return rename


def _read_csv(path: Path, sep: str, **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` with pandas' parse errors turned into InputError."""
    try:
        return pd.read_csv(path, sep=sep, **kwargs)
    except pd.errors.EmptyDataError as exc:
        raise InputError(path, "file is empty") from exc
    except pd.errors.ParserError as exc:
        raise InputError(path, f"cannot parse as a {sep_name(sep)}-separated table: {exc}") from exc
    except (UnicodeDecodeError, EOFError, OSError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"cannot read (corrupt or not the expected format): {exc}") from exc


def read_columns(
    path: str | Path,
    required: Sequence[str | tuple[str, ...]] = (),
    *,
    sep: str = ",",
    min_columns: int = 2,
) -> list[str]:
    """Check the header of a delimited file without reading its body; return the raw names.

    Raises InputError for an empty/unreadable file, a header with fewer than ``min_columns``
    fields (naming the expected separator and the one the header seems to use), or missing
    ``required`` columns (an entry may be a tuple of alternative names).
    """
    path = Path(path)
    header = read_header(path, sep)
    _check_header(path, header, sep, min_columns)
    _resolve_required(path, header, required)
    return header


def read_table(
    path: str | Path,
    required: Sequence[str | tuple[str, ...]] = (),
    *,
    sep: str = ",",
    optional: Sequence[str | tuple[str, ...]] | None = None,
    dtype: object = None,
    min_columns: int = 2,
    allow_empty: bool = False,
    index_col: int | None = None,
    raw_names: bool = False,
) -> pd.DataFrame:
    """Read a delimited table and check its shape and required columns.

    Parameters
    ----------
    path: file, plain or compressed.
    required: column names that must be present. An entry may be a tuple of alternative names
        (e.g. ``("DepMap_ID", "ModelID")``); the first alternative found is renamed to the first
        name of the tuple.
    sep: the expected separator. If the header splits into fewer than ``min_columns`` fields
        the error says which separator was expected and which one the header seems to use.
    optional: if given, only the required and these columns (when present; alternatives as in
        ``required``) are read; otherwise all columns are kept.
    dtype, index_col: passed to :func:`pandas.read_csv`.
    allow_empty: accept a header with no data rows.
    raw_names: keep the header names exactly as written (pandas otherwise renames a
        duplicated ``G`` to ``G.1``); only with ``optional=None``.

    Returns the table as read by pandas (no type conversion beyond ``dtype``).
    Raises InputError for a missing/empty/corrupt file, wrong separator, missing columns, a
    malformed line, or no data rows.
    """
    path = Path(path)
    header = read_columns(path, (), sep=sep, min_columns=min_columns)
    rename = _resolve_required(path, header, required)
    usecols = None
    if optional is not None:
        keep = set()
        for req in list(required) + list(optional):
            alts = (req,) if isinstance(req, str) else tuple(req)
            hit = next((a for a in alts if a in header), None)
            if hit is not None:
                keep.add(hit)
                if hit != alts[0]:
                    rename[hit] = alts[0]
        usecols = lambda c: c in keep  # noqa: E731
    df = _read_csv(path, sep, dtype=dtype, usecols=usecols, index_col=index_col)
    if not allow_empty and len(df) == 0:
        raise InputError(path, "no data rows (header only)")
    if raw_names and usecols is None:
        names = header[1:] if index_col is not None else header
        if len(names) == df.shape[1]:
            df.columns = pd.Index(names)
    return df.rename(columns=rename) if rename else df


def check_unique(ids: Iterable[object], path: str | Path | None, what: str = "id") -> None:
    """Raise InputError naming a few duplicated ``ids`` (e.g. sample ids, cell ids)."""
    s = pd.Index(list(ids) if not isinstance(ids, (pd.Index, pd.Series)) else ids)
    dup = s[s.duplicated()]
    if len(dup):
        uniq = pd.unique(dup)
        raise InputError(path, f"{len(uniq)} duplicated {what}(s): {preview(uniq)}")


def check_numeric(
    df: pd.DataFrame, path: str | Path | None, what: str = "matrix", dtype: object = np.float32
) -> pd.DataFrame:
    """Return ``df`` cast to ``dtype``; raise InputError at the first non-numeric value.

    Empty cells / NA are allowed (become NaN). The message names the offending column and row
    label and the value found. Only non-numeric columns are inspected, so this is cheap for
    tables pandas already parsed as numbers.
    """
    bad_dtype = [not pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t)
                 for t in df.dtypes]
    if not any(bad_dtype):
        return df.astype(dtype)
    df = df.copy()
    for j in np.flatnonzero(bad_dtype):
        values = df.iloc[:, j]
        col = df.columns[j]
        coerced = pd.to_numeric(values, errors="coerce")
        bad = coerced.isna() & values.notna()
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                path,
                f"non-numeric value {values.iloc[pos]!r} in {what} column {str(col)!r} "
                f"(row {str(df.index[pos])!r}); {int(bad.sum())} such value(s) in that column",
            )
        df.isetitem(int(j), coerced)
    return df.astype(dtype)


def _first_non_finite(X) -> tuple[int, int, float, int, int] | None:
    """(row, column, value, number of non-finite values, of which NaN) of the first non-finite
    value in row-major order, or None; ``X`` dense or scipy sparse."""
    if sp.issparse(X):
        if np.isfinite(X.data).all():  # the common case, without a copy
            return None
        coo = sp.coo_matrix(X.tocsr())  # row-major order
        bad = ~np.isfinite(coo.data)
        k = int(np.flatnonzero(bad)[0])
        return int(coo.row[k]), int(coo.col[k]), float(coo.data[k]), int(bad.sum()), int(np.isnan(coo.data).sum())
    arr = np.asarray(X)
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    i, j = np.argwhere(bad)[0]
    return int(i), int(j), float(arr[i, j]), int(bad.sum()), int(np.isnan(arr).sum())


def check_finite(
    X, path: str | Path | None, rows: Sequence, columns: Sequence, *, what: str = "matrix",
    row_what: str = "row", column_what: str = "column",
) -> None:
    """Raise InputError at the first NaN or infinite value of ``X`` (dense or sparse).

    ``rows``/``columns`` are the labels as they appear in the file (not positions in a later
    aligned matrix), so the message says e.g. "missing value (NaN/NA/empty) in counts at gene
    'TP53', cell 'AAAC-1'; 3 non-finite value(s) in all (3 missing, 0 infinite)".
    """
    found = _first_non_finite(X)
    if found is None:
        return
    i, j, value, n_bad, n_nan = found
    kind = "missing value (NaN/NA/empty)" if np.isnan(value) else f"infinite value {value}"
    raise InputError(path, f"{kind} in {what} at {row_what} {str(rows[i])!r}, {column_what} "
                           f"{str(columns[j])!r}; {n_bad} non-finite value(s) in all "
                           f"({n_nan} missing, {n_bad - n_nan} infinite)")


def check_finite_columns(
    values: pd.DataFrame, path: str | Path | None, ids: pd.DataFrame, *, allow_missing: Sequence[str] = (),
) -> None:
    """Raise InputError at the first infinite value of a numeric long table (dose responses), or
    missing value in a column not listed in ``allow_missing``; the message names the column, the
    data row and that row's ``ids`` columns as written (e.g. ``COSMIC_ID 906794, DRUG_NAME
    'Erlotinib'``)."""
    for col in values.columns:
        v = values[col].to_numpy(dtype=np.float64)
        bad = np.isinf(v) if col in allow_missing else ~np.isfinite(v)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            kind = "missing value" if np.isnan(v[pos]) else f"infinite value {v[pos]}"
            who = ", ".join(f"{c} {str(ids[c].iloc[pos])!r}" for c in ids.columns)
            raise InputError(path, f"{kind} in column {col!r} at data row {pos + 1} ({who}); "
                                   f"{int(bad.sum())} such value(s) in that column")


#: Most genes a bulk table may lose to missing values before it is rejected as broken.
MAX_MISSING_GENE_FRACTION = 0.05


def drop_genes_with_missing(
    df: pd.DataFrame, path: str | Path | None, *, gene_axis: int, what: str = "expression",
    row_what: str = "row", column_what: str = "column",
) -> pd.DataFrame:
    """Bulk tables: drop genes with a missing value, reject infinite values.

    Why drop rather than fail: merged and re-processed bulk tables (GDSC arrays, DepMap, Xena,
    PDTC) do carry an ``NA`` for a gene in a few samples (a probe that failed on one array, a gene
    absent from one release), and one gene of ~17,000 changes no result; failing would force a
    user to edit a multi-gigabyte upstream file. The genes are dropped in every sample (a model
    needs the same inputs for all) and a warning names the file, how many genes and a few of
    them. Missing values in more than :data:`MAX_MISSING_GENE_FRACTION` of the genes (a whole
    sample left empty, a misaligned column) are not "a few NAs" but a broken file: InputError
    naming the first gene and sample. An infinite value is never a measurement: InputError.
    ``gene_axis`` is 0 when genes are rows (GDSC, Xena), 1 when they are columns.
    """
    values = df.to_numpy()
    if np.isinf(values).any():
        check_finite(np.where(np.isnan(values), 0, values), path, df.index, df.columns, what=what,
                     row_what=row_what, column_what=column_what)
    missing = np.isnan(values)
    if not missing.any():
        return df
    gene_has_missing = missing.any(axis=1 - gene_axis)
    genes = df.index if gene_axis == 0 else df.columns
    n_drop, n_genes = int(gene_has_missing.sum()), len(genes)
    if n_drop > MAX_MISSING_GENE_FRACTION * n_genes:
        check_finite(values, path, df.index, df.columns, what=what, row_what=row_what, column_what=column_what)
    dropped = genes[gene_has_missing]
    log.warning("%s: %d of %d genes have missing values (NA or empty) in some samples and are left out "
                "(%s); at most %.0f %% of the genes may be", path, n_drop, n_genes, preview(dropped),
                100 * MAX_MISSING_GENE_FRACTION)
    return df.loc[~gene_has_missing] if gene_axis == 0 else df.loc[:, ~gene_has_missing]


def check_integer(
    values: pd.Series, path: str | Path | None, column: str, *, allow_missing: bool = False
) -> pd.Series:
    """Return ``values`` as int64 (or pandas ``Int64`` if ``allow_missing``).

    Accepts ``906794`` and ``906794.0``; raises InputError naming ``column`` and the first row
    for non-numeric, non-integral or (unless ``allow_missing``) missing values.
    """
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() & values.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            path, f"non-numeric value {values.iloc[pos]!r} in integer column {column!r} "
                  f"(row {pos + 1})")
    frac = num.notna() & (num != np.round(num))
    if frac.any():
        pos = int(np.flatnonzero(frac.to_numpy())[0])
        raise InputError(
            path, f"non-integer value {values.iloc[pos]!r} in integer column {column!r} "
                  f"(row {pos + 1})")
    if num.isna().any():
        if not allow_missing:
            pos = int(np.flatnonzero(num.isna().to_numpy())[0])
            raise InputError(
                path, f"{int(num.isna().sum())} missing value(s) in column {column!r} "
                      f"(first at row {pos + 1})")
        return num.round().astype("Int64")
    return num.round().astype(np.int64)


def check_not_missing(df: pd.DataFrame, columns: Sequence[str], path: str | Path | None) -> None:
    """Raise InputError if any of ``columns`` has an empty value (naming column and first row)."""
    for col in columns:
        miss = df[col].isna()
        if df[col].dtype == object:
            miss |= df[col].astype(str).str.strip().eq("")
        if miss.any():
            pos = int(np.flatnonzero(miss.to_numpy())[0])
            raise InputError(
                path, f"{int(miss.sum())} empty value(s) in required column {col!r} "
                      f"(first at data row {pos + 1})")


def tcga_missing_to_nan(values: pd.Series) -> pd.Series:
    """Replace TCGA placeholders such as ``[Not Available]`` / ``[Unknown]`` by NaN."""
    s = values.astype("object")
    mask = s.astype(str).str.match(_TCGA_PLACEHOLDER) & s.notna()
    return s.mask(mask)


def average_duplicate_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Average columns that share a label (keeps first-occurrence order and dtype)."""
    if not df.columns.has_duplicates:
        return df
    name = df.columns.name
    out = df.T.groupby(level=0, sort=False).mean().T.astype(df.dtypes.iloc[0])
    out.columns.name = name
    return out


def read_matrix(
    path: str | Path,
    sep: str,
    *,
    label_columns: int = 1,
    what: str = "matrix",
    column_what: str = "column id",
    row_what: str = "row",
    unique_columns: bool = True,
    gene_axis: int | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Read a numeric matrix whose first ``label_columns`` columns are row labels.

    The first column becomes the index (as str); further label columns are dropped; the rest
    is parsed as float32 with the pandas C engine (no float64 copy). Column labels are the raw
    header names (duplicates not renamed); with ``unique_columns`` duplicated column labels
    raise InputError. Returns ``(matrix, raw_header)``. Non-numeric values raise InputError
    naming the column and row. Infinite values raise InputError naming the row and column label
    as written in the file; missing values (NA, NaN, empty) too, unless ``gene_axis`` says where
    the genes are (0 rows, 1 columns): then genes with missing values are dropped with a warning
    (:func:`drop_genes_with_missing`, the policy for bulk tables).
    """
    path = Path(path)
    header = read_header(path, sep)
    _check_header(path, header, sep, label_columns + 1)
    value_names = header[label_columns:]
    if unique_columns:
        check_unique(value_names, path, column_what)
    # pandas renames an empty / duplicated header field; map by position via the mangled names
    mangled = list(_read_csv(path, sep, nrows=0).columns)
    if len(mangled) != len(header):
        raise InputError(path, f"header has {len(header)} fields but pandas sees {len(mangled)}")
    dtypes = {c: np.float32 for c in mangled[label_columns:]}
    dtypes.update({c: str for c in mangled[:label_columns]})
    try:
        df = _read_csv(path, sep, dtype=dtypes, index_col=0, low_memory=False)
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        # locate the offending value with a slower generic read
        df = _read_csv(path, sep, dtype={mangled[0]: str}, index_col=0, low_memory=False)
        df = df.drop(columns=mangled[1:label_columns])
        check_numeric(df, path, what)
        raise InputError(path, f"cannot parse {what} values as numbers: {exc}") from exc
    if len(df) == 0:
        raise InputError(path, "no data rows (header only)")
    df = df.drop(columns=mangled[1:label_columns])
    df.columns = pd.Index(value_names)
    if gene_axis is None:
        check_finite(df.to_numpy(), path, df.index, df.columns, what=what, row_what=row_what,
                     column_what=column_what)
    else:
        df = drop_genes_with_missing(df, path, gene_axis=gene_axis, what=what, row_what=row_what,
                                     column_what=column_what)
    return df, header


def read_sample_matrix(
    path: str | Path, sep: str | None = None, *, index_name: str = "sample"
) -> pd.DataFrame:
    """Read a samples × genes table (first column = sample id, one column per gene).

    Input: CSV or TSV (``sep=None`` detects comma/tab from the header), plain or compressed,
    e.g. ``tcga/<drug>/expression_zscore.csv`` or ``pdtc/expression_zscore.csv``.
    Output: float32 DataFrame, index = sample ids as str (name ``index_name``), columns = gene
    symbols (name ``gene``); duplicated gene columns are averaged. Values keep the file's units
    (e.g. z-scores or log2 expression); nothing is normalised here.
    Genes with missing values are dropped with a warning, infinite values rejected
    (:func:`drop_genes_with_missing`).
    Raises InputError for duplicated sample ids, empty ids, non-numeric values, wrong separator.
    """
    path = Path(path)
    sep = detect_sep(path) if sep is None else sep
    df, _ = read_matrix(path, sep, what="expression", column_what="gene", row_what=index_name,
                        unique_columns=False, gene_axis=1)
    _finish_index(df, path, index_name)
    df = average_duplicate_columns(df)
    df.columns.name = "gene"
    return df


def _finish_index(df: pd.DataFrame, path: Path, index_name: str) -> None:
    ids = df.index.to_series()
    empty = ids.isna() | ids.astype(str).str.strip().eq("")
    if empty.any():
        raise InputError(path, f"{int(empty.sum())} row(s) without a {index_name} id")
    df.index = pd.Index(ids.astype(str).str.strip(), name=index_name)
    check_unique(df.index, path, f"{index_name} id")
