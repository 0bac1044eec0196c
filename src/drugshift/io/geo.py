"""Parsers for single-cell expression: GEO supplementary count matrices and cell tables.

* :func:`read_geo_counts` — genes × cells UMI count matrix (GEO supplementary ``.txt.gz``).
* :func:`read_cell_table` — cells × genes table with optional per-cell metadata columns.
* :func:`attach_metadata` — join a per-cell metadata table onto ``adata.obs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from drugshift.errors import InputError
from drugshift.io._table import (
    average_duplicate_columns,
    check_finite,
    check_numeric,
    check_unique,
    detect_sep,
    open_binary,
    preview,
    read_table,
    sep_name,
)

_BLOCK_BYTES = 1 << 24  # decompressed bytes parsed per block (16 MiB)


def read_geo_counts(path: str | Path, sep: str | None = None) -> ad.AnnData:
    """Read a GEO supplementary genes × cells count matrix into a cells × genes AnnData.

    Input: delimited text, plain or compressed (``.gz``, ``.bz2``, ``.xz``). Header line: a
    label for the gene column (e.g. ``GENE``; may be absent, as written by R's
    ``write.table``) followed by one cell id (barcode) per column. Each further line: a gene
    symbol, then one count per cell. ``sep`` is ``"\\t"`` or ``","``; ``None`` detects it from
    the header line.

    Output: AnnData with ``X`` a ``scipy.sparse.csr_matrix`` of float32 counts (cells ×
    genes; UMI counts as in the file, not normalised), ``obs_names`` = cell ids,
    ``var_names`` = gene symbols; rows with the same gene symbol are summed.

    The file is parsed in blocks with vectorised numpy code that only converts the non-zero
    fields, so a 22,000 × 6,000 matrix takes a few seconds and memory proportional to the
    non-zeros. Raises InputError for an empty file, undetectable separator, duplicated cell
    ids, ragged lines, empty gene symbols, and non-numeric, empty, missing (``nan``), infinite or
    negative values (naming the gene and cell of the first one).
    """
    path = Path(path)
    if sep is None:
        sep = detect_sep(path)
    if len(sep) != 1:
        raise ValueError(f"sep must be a single character, got {sep!r}")
    sep_b = ord(sep)
    with open_binary(path) as fh:
        try:
            head = fh.readline()
        except (OSError, EOFError) as exc:
            raise InputError(path, f"cannot read (corrupt compression?): {exc}") from exc
        header = _split_header(head, sep)
        if not header or (len(header) == 1 and not header[0]):
            raise InputError(path, "file is empty (no header line)")
        if len(header) < 2:
            raise InputError(
                path, f"expected {sep_name(sep)}-separated columns but the header has a single "
                      f"field {header[0][:60]!r}")
        parser = _CountParser(path, header, sep_b)
        rest = b""
        while True:
            try:
                chunk = fh.read(_BLOCK_BYTES)
            except (OSError, EOFError) as exc:
                raise InputError(path, f"cannot read (corrupt compression?): {exc}") from exc
            if not chunk:
                break
            buf = rest + chunk
            cut = buf.rfind(b"\n")
            if cut < 0:
                rest = buf
                continue
            parser.feed(buf[: cut + 1])
            rest = buf[cut + 1:]
        if rest.strip():
            parser.feed(rest + b"\n")
    return parser.result()


def _split_header(line: bytes, sep: str) -> list[str]:
    text = line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    if not text.strip():
        return []
    return [f.strip().strip('"').strip("'") for f in text.split(sep)]


class _CountParser:
    """Accumulates (gene, cell, value) triplets block by block."""

    def __init__(self, path: Path, header: list[str], sep_b: int):
        self.path = path
        self.header = header
        self.sep_b = sep_b
        self.cells: list[str] | None = None  # decided on the first data line
        self.genes: list[str] = []
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.n_lines = 1

    def _set_cells(self, n_fields: int) -> None:
        if n_fields == len(self.header):
            cells = self.header[1:]
        elif n_fields == len(self.header) + 1:  # R write.table: no label for the gene column
            cells = self.header
        else:
            raise InputError(
                self.path, f"line 2 has {n_fields} fields but the header has {len(self.header)}")
        if any(c == "" for c in cells):
            raise InputError(self.path, "empty cell id in the header")
        check_unique(cells, self.path, "cell id")
        self.cells = cells

    def feed(self, block: bytes) -> None:
        """Parse a block of complete lines (ending with a newline)."""
        if b"\r" in block:
            block = block.replace(b"\r", b"")
        b = np.frombuffer(block, dtype=np.uint8)
        n = len(b)
        is_nl = b == 10
        nl = np.flatnonzero(is_nl)
        starts = np.empty_like(nl)
        starts[0] = 0
        starts[1:] = nl[:-1] + 1
        is_sep = b == self.sep_b
        cum = np.zeros(n + 1, dtype=np.int32)  # cum[i] = separators in b[:i]
        np.cumsum(is_sep, out=cum[1:])
        n_sep = cum[nl] - cum[starts]
        lines = np.flatnonzero(nl > starts)  # non-blank lines
        if len(lines) == 0:
            self.n_lines += len(nl)
            return
        if self.cells is None:
            self._set_cells(int(n_sep[lines[0]]) + 1)
        want = len(self.cells) + 1
        bad = lines[n_sep[lines] + 1 != want]
        if len(bad):
            i = int(bad[0])
            raise InputError(
                self.path, f"line {self.n_lines + i + 1} has {int(n_sep[i]) + 1} fields, "
                           f"expected {want} (gene + {len(self.cells)} cells)")
        # gene symbol: from line start to the first separator
        gene_end = np.searchsorted(cum, cum[starts[lines]] + 1, side="left") - 1
        genes = [block[s:e].decode("utf-8", errors="replace").strip().strip('"')
                 for s, e in zip(starts[lines].tolist(), gene_end.tolist())]
        if "" in genes:
            i = genes.index("")
            raise InputError(self.path,
                             f"line {self.n_lines + int(lines[i]) + 1}: empty gene symbol")
        # value fields start right after a separator; skip the (common) fields that are "0"
        is_end = is_sep | is_nl
        zero = b == 48
        zero[:-1] &= is_end[1:]
        zero[-1] = False
        cand = np.zeros(n, dtype=bool)
        cand[1:] = is_sep[:-1] & ~zero[1:]
        fs = np.flatnonzero(cand)
        del zero, cand
        fe = fs.copy()
        active = np.flatnonzero(~is_end[fe])
        while len(active):
            fe[active] += 1
            active = active[~is_end[fe[active]]]
        line_of = np.searchsorted(nl, fs)
        cell_of = (cum[fs] - cum[starts[line_of]] - 1).astype(np.int64)
        vals = self._parse_values(b, block, fs, fe, line_of, cell_of, lines, genes)
        if not np.isfinite(vals).all():  # "nan", "inf" parse as floats but are no counts
            k = int(np.flatnonzero(~np.isfinite(vals))[0])
            kind = "missing value" if np.isnan(vals[k]) else "infinite value"
            raise InputError(self.path, self._where(k, line_of, cell_of, lines, genes)
                             + f": {kind} {block[fs[k]:fe[k]].decode(errors='replace')!r} "
                               "(a count must be a finite number)")
        if (vals < 0).any():
            k = int(np.flatnonzero(vals < 0)[0])
            raise InputError(self.path, self._where(k, line_of, cell_of, lines, genes)
                             + f": negative count {block[fs[k]:fe[k]].decode(errors='replace')!r}")
        base = len(self.genes)
        gene_row = np.full(len(nl), -1, dtype=np.int64)
        gene_row[lines] = base + np.arange(len(lines))
        self.genes.extend(genes)
        keep = vals != 0
        self.rows.append(gene_row[line_of][keep])
        self.cols.append(cell_of[keep])
        self.vals.append(vals[keep].astype(np.float32))
        self.n_lines += len(nl)

    def _parse_values(self, b, block, fs, fe, line_of, cell_of, lines, genes) -> np.ndarray:
        """Vectorised parse of unsigned integers; other fields go through ``float``."""
        length = fe - fs
        vals = np.zeros(len(fs), dtype=np.float64)
        slow = (length == 0) | (length > 15)
        max_len = int(length[~slow].max()) if (~slow).any() else 0
        for k in range(max_len):
            act = np.flatnonzero((k < length) & ~slow)
            d = b[fs[act] + k].astype(np.int16) - 48
            slow[act[(d < 0) | (d > 9)]] = True
            vals[act] = vals[act] * 10 + d
        for k in np.flatnonzero(slow).tolist():
            text = block[fs[k]:fe[k]]
            try:
                vals[k] = float(text)
            except ValueError:
                shown = text.decode(errors="replace")
                problem = "empty value" if not shown.strip() else f"non-numeric value {shown!r}"
                raise InputError(self.path, self._where(k, line_of, cell_of, lines, genes)
                                 + f": {problem}") from None
        return vals

    def _where(self, k, line_of, cell_of, lines, genes) -> str:
        li = int(line_of[k])
        gi = int(np.searchsorted(lines, li))
        return (f"line {self.n_lines + li + 1} (gene {genes[gi]!r}, "
                f"cell {self.cells[int(cell_of[k])]!r})")

    def result(self) -> ad.AnnData:
        if self.cells is None or not self.genes:
            raise InputError(self.path, "no data rows (header only)")
        rows = np.concatenate(self.rows)
        cols = np.concatenate(self.cols)
        vals = np.concatenate(self.vals)
        genes = pd.Index(self.genes)
        if genes.has_duplicates:  # sum rows of the same gene (first-occurrence order)
            codes, uniques = pd.factorize(genes)
            rows = codes[rows]
            genes = pd.Index(uniques)
        X = sp.coo_matrix((vals, (cols, rows)), shape=(len(self.cells), len(genes)),
                          dtype=np.float32).tocsr()
        X.sum_duplicates()
        X.eliminate_zeros()
        return ad.AnnData(
            X=X,
            obs=pd.DataFrame(index=pd.Index(self.cells, name=None)),
            var=pd.DataFrame(index=pd.Index(genes.astype(str), name=None)),
        )


def read_cell_table(
    path: str | Path, sep: str | None = None, meta_columns: Sequence[str] | None = None
) -> ad.AnnData:
    """Read a cells × genes table (e.g. ``sc/A375_PLX4720_zscore.csv.gz``) into AnnData.

    Input: CSV/TSV (``sep=None`` detects comma or tab from the header); first column = cell
    id; ``meta_columns`` name per-cell metadata columns (e.g. ``["response"]``) that go to
    ``.obs`` unchanged; every other column is a gene with numeric values (units as in the file,
    e.g. z-scores or log counts).

    Output: AnnData with dense float32 ``X`` (cells × genes), ``obs_names`` = cell ids,
    ``obs`` = the metadata columns, ``var_names`` = genes (duplicated gene columns averaged).
    Raises InputError for missing metadata columns, duplicated cell ids, non-numeric, missing
    (NA, empty) or infinite gene values (naming cell and gene), no gene columns or a wrong
    separator.
    """
    path = Path(path)
    meta = list(meta_columns or [])
    sep = detect_sep(path) if sep is None else sep
    df = read_table(path, meta, sep=sep, index_col=0, raw_names=True)
    ids = df.index.to_series()
    if ids.isna().any():
        raise InputError(path, f"{int(ids.isna().sum())} row(s) without a cell id")
    df.index = pd.Index(ids.astype(str).str.strip())
    check_unique(df.index, path, "cell id")
    genes = df.drop(columns=meta)
    if genes.shape[1] == 0:
        raise InputError(path, "no gene columns besides the metadata columns")
    values = check_numeric(genes, path, "expression")
    # one cell is one measurement: a missing value is a broken export, not a gene to drop
    check_finite(values.to_numpy(), path, values.index, values.columns, what="expression",
                 row_what="cell", column_what="gene")
    X = average_duplicate_columns(values)
    obs = df[meta].copy()
    obs.index.name = None
    return ad.AnnData(X=X.to_numpy(dtype=np.float32), obs=obs,
                      var=pd.DataFrame(index=pd.Index(X.columns.astype(str))))


def attach_metadata(adata: ad.AnnData, path: str | Path, cell_column: str = "cell") -> ad.AnnData:
    """Join a per-cell metadata table onto ``adata.obs`` by cell id.

    Input: ``adata`` and a CSV/TSV (separator detected) with a ``cell_column`` holding cell
    ids matching ``adata.obs_names``, plus any metadata columns; rows for cells not in
    ``adata`` are ignored.

    Output: the same ``adata`` object (modified in place and returned) whose ``.obs`` has the
    table's other columns added; a column already in ``.obs`` is overwritten.
    Raises InputError if ``cell_column`` is missing, cell ids are duplicated in the table, or
    some cells of ``adata`` are absent from it (naming how many and a few ids).
    """
    path = Path(path)
    sep = detect_sep(path)
    table = read_table(path, [cell_column], sep=sep, dtype={cell_column: str})
    ids = table[cell_column].str.strip()
    check_unique(ids.dropna(), path, "cell id")
    table = table.set_index(ids).drop(columns=[cell_column])
    missing = pd.Index(adata.obs_names).difference(table.index, sort=False)
    if len(missing):
        raise InputError(
            path, f"{len(missing)} of {adata.n_obs} cells have no row in the metadata table "
                  f"(column {cell_column!r}): {preview(missing)}")
    extra = table.loc[adata.obs_names]
    for col in extra.columns:
        adata.obs[col] = extra[col].to_numpy()
    return adata
