"""Single-cell inputs in every supported layout, and the one loader behind ``sc.datasets`` entries.

Formats (config key ``format``; aliases in brackets):

* ``geo_counts`` [``genes_by_cells``] — genes × cells text matrix, first column the gene
  (:func:`drugshift.io.geo.read_geo_counts`); a *folder* of such files (e.g. an extracted GEO
  ``_RAW.tar``) is read file by file and concatenated (:func:`read_counts_folder`).
* ``cells_by_genes`` [``cells_csv``] — cells × genes table, first column the cell id
  (:func:`drugshift.io.geo.read_cell_table`).
* ``h5ad`` — AnnData file (cells × genes; ``.obs`` columns kept).
* ``mtx_10x`` — 10x Genomics Matrix Market output: a folder with ``matrix.mtx[.gz]``,
  ``features.tsv[.gz]`` (or ``genes.tsv``) and ``barcodes.tsv[.gz]``, or the path of the
  ``[prefix]matrix.mtx[.gz]`` file itself, whose siblings share its prefix (GEO's
  ``GSM…_matrix.mtx.gz`` style).

:func:`load_dataset` turns one dataset entry (one ``path`` or a ``files`` mapping condition →
path) into an AnnData with the cell metadata needed for the ground truth; :func:`dataset_labels`
applies its ``label`` rule. Nothing here normalises values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.io
import scipy.sparse as sp

from drugshift.errors import InputError
from drugshift.io._table import check_finite, check_unique, open_binary, open_text, preview
from drugshift.io.geo import attach_metadata, read_cell_table, read_geo_counts
from drugshift.labels import condition_labels

FORMAT_ALIASES = {"genes_by_cells": "geo_counts", "cells_csv": "cells_by_genes"}
FORMATS = ("geo_counts", "cells_by_genes", "h5ad", "mtx_10x")
VALUES = ("counts", "tpm", "fpkm", "normalised")
_COUNT_FILE = re.compile(r"\.(txt|csv|tsv|dge\.txt)(\.gz|\.bz2|\.xz)?$", re.IGNORECASE)
_DEFAULT_PREFIX = re.compile(r"^(?:GSM\d+_)?([^._]+)")


def canonical_format(name: str) -> str:
    """``genes_by_cells`` -> ``geo_counts``, ``cells_csv`` -> ``cells_by_genes``; others unchanged.
    Raises ValueError for an unknown format."""
    fmt = FORMAT_ALIASES.get(name, name)
    if fmt not in FORMATS:
        raise ValueError(f"unknown single-cell format {name!r}; expected one of "
                         f"{sorted(FORMATS + tuple(FORMAT_ALIASES))}")
    return fmt


def values_of(spec: Mapping) -> str:
    """The value type of a dataset entry: ``values`` if given, else ``normalised`` if
    ``normalised: true``, else ``counts``. ``values: normalised`` and ``normalised: true`` are the
    same; a contradiction (``normalised: true`` with ``values: counts``) raises ValueError."""
    values = spec.get("values")
    flag = spec.get("normalised")
    if values is None:
        return "normalised" if flag else "counts"
    if values not in VALUES:
        raise ValueError(f"values must be one of {VALUES}, got {values!r}")
    if flag is not None and bool(flag) != (values == "normalised"):
        raise ValueError(f"normalised: {flag} contradicts values: {values}")
    return values


# ------------------------------------------------------------------ readers


def read_h5ad(path: str | Path) -> ad.AnnData:
    """Read an ``.h5ad`` file (cells × genes); raises InputError if it cannot be read, cell ids
    repeat, or ``X`` holds a NaN or infinite value (naming cell and gene)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        adata = ad.read_h5ad(path)
    except Exception as exc:  # h5py raises OSError/KeyError variants for a corrupt file
        raise InputError(path, f"cannot read as h5ad: {exc}") from exc
    check_unique(adata.obs_names, path, "cell id")
    if adata.X is not None:
        check_finite(adata.X, path, adata.obs_names, adata.var_names, what="X", row_what="cell",
                     column_what="gene")
    return adata


def _find_10x(path: Path) -> tuple[Path, Path, Path]:
    if path.is_dir():
        folder, prefix = path, ""
        names = {p.name for p in folder.iterdir()}
        matrix = next((n for n in ("matrix.mtx.gz", "matrix.mtx") if n in names), None)
        if matrix is None:
            raise InputError(path, f"no matrix.mtx[.gz] in the folder (found {preview(sorted(names))})")
    else:
        m = re.match(r"^(.*)matrix\.mtx(\.gz)?$", path.name)
        if not m:
            raise InputError(path, "mtx_10x expects a folder or a '[prefix]matrix.mtx[.gz]' file")
        folder, prefix = path.parent, m.group(1)

    def pick(*stems: str) -> Path:
        for stem in stems:
            for ext in (".tsv.gz", ".tsv"):
                cand = folder / f"{prefix}{stem}{ext}"
                if cand.is_file():
                    return cand
        raise InputError(folder, f"no {prefix}{stems[0]}.tsv[.gz] beside the matrix")

    matrix = path if path.is_file() else folder / next(n for n in ("matrix.mtx.gz", "matrix.mtx")
                                                       if (folder / n).is_file())
    return matrix, pick("features", "genes"), pick("barcodes")


def read_mtx_10x(path: str | Path, gene_column: int = 1) -> ad.AnnData:
    """Read 10x Matrix Market output (CellRanger v2 ``genes.tsv`` or v3 ``features.tsv.gz``).

    Input: a folder, or the ``[prefix]matrix.mtx[.gz]`` file (siblings share the prefix). The
    matrix is genes × cells (10x convention); ``gene_column`` picks the features column used as
    gene name (1 = symbol, 0 = Ensembl id); a features file with a single column uses it.
    Output: AnnData, cells × genes, CSR float32 counts; ``obs_names`` = barcodes, ``var_names`` =
    gene symbols (duplicated symbols summed), ``.var['gene_id']`` = first id of each symbol.
    Raises InputError for missing files, dimensions that disagree with the name lists, or a NaN or
    infinite value (naming cell and gene).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file or folder not found")
    matrix_path, features_path, barcodes_path = _find_10x(path)
    with open_binary(matrix_path) as fh:
        try:
            X = scipy.io.mmread(fh)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(matrix_path, f"cannot read as Matrix Market: {exc}") from exc
    with open_text(features_path) as fh:
        features = pd.read_csv(fh, sep="\t", header=None, dtype=str)
    with open_text(barcodes_path) as fh:
        barcodes = pd.read_csv(fh, sep="\t", header=None, dtype=str).iloc[:, 0].str.strip()
    n_genes, n_cells = X.shape
    if len(features) != n_genes or len(barcodes) != n_cells:
        raise InputError(matrix_path, f"matrix is {n_genes} genes x {n_cells} cells but {features_path.name} "
                                      f"lists {len(features)} and {barcodes_path.name} {len(barcodes)}")
    check_unique(barcodes, barcodes_path, "barcode")
    col = gene_column if features.shape[1] > gene_column else 0
    symbols = features.iloc[:, col].str.strip()
    X = sp.csr_matrix(X.T, dtype=np.float32)
    check_finite(X, matrix_path, barcodes.to_numpy(), symbols.to_numpy(), what="counts", row_what="cell",
                 column_what="gene")
    codes, uniques = pd.factorize(symbols)
    if len(uniques) < len(symbols):  # sum duplicated symbols
        agg = sp.csr_matrix((np.ones(len(codes), dtype=np.float32), (np.arange(len(codes)), codes)),
                            shape=(len(codes), len(uniques)))
        X = (X @ agg).tocsr()
    first = pd.Series(features.iloc[:, 0].to_numpy()).groupby(codes).first()
    var = pd.DataFrame({"gene_id": first.to_numpy()}, index=pd.Index(uniques.astype(str)))
    return ad.AnnData(X=X, obs=pd.DataFrame(index=pd.Index(barcodes.to_numpy())), var=var)


def read_counts_folder(folder: str | Path, cell_prefix_pattern: str | None = None,
                       sep: str | None = None) -> ad.AnnData:
    """Read every genes × cells count file in ``folder`` (e.g. an extracted GEO ``_RAW.tar``).

    Files are read in sorted name order with :func:`read_geo_counts`; each cell id becomes
    ``<prefix>_<cell>`` where ``<prefix>`` is group 1 of ``cell_prefix_pattern`` matched against the
    file name (default: the name without a leading ``GSM…_``, up to the first ``.`` or ``_``, e.g.
    ``GSM3030001_P1.counts.txt.gz`` -> ``P1``), and ``.obs['file']`` names the source file. Genes
    are the union over files (a gene missing from a file counts 0 there). Raises InputError when
    the folder holds no count file or two cells end up with the same id.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "expected a folder of count files")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _COUNT_FILE.search(p.name))
    if not files:
        raise InputError(folder, "no count files (*.txt, *.csv, *.tsv, optionally compressed) in the folder")
    pattern = re.compile(cell_prefix_pattern) if cell_prefix_pattern else _DEFAULT_PREFIX
    parts = []
    for f in files:
        m = pattern.search(f.name)
        if not m or not m.groups():
            raise InputError(f, f"cell_prefix_pattern {pattern.pattern!r} finds no group in the file name")
        part = read_geo_counts(f, sep=sep)
        part.obs_names = [f"{m.group(1)}_{c}" for c in part.obs_names]
        part.obs["file"] = f.name
        parts.append(part)
    out = ad.concat(parts, join="outer", fill_value=0) if len(parts) > 1 else parts[0]
    check_unique(out.obs_names, folder, "cell id (after prefixing)")
    return out


def read_matrix_file(path: str | Path, fmt: str, *, sep: str | None = None,
                     meta_columns: list[str] | None = None, cell_prefix_pattern: str | None = None) -> ad.AnnData:
    """Read one single-cell matrix in format ``fmt`` (see the module docstring) as cells × genes."""
    fmt = canonical_format(fmt)
    path = Path(path)
    if fmt == "geo_counts":
        if path.is_dir():
            return read_counts_folder(path, cell_prefix_pattern, sep=sep)
        return read_geo_counts(path, sep=sep)
    if fmt == "cells_by_genes":
        return read_cell_table(path, sep=sep, meta_columns=meta_columns)
    if fmt == "h5ad":
        return read_h5ad(path)
    return read_mtx_10x(path)


def concat_conditions(parts: Mapping[str, ad.AnnData], condition_column: str = "condition",
                      join: str = "outer") -> ad.AnnData:
    """Stack one AnnData per condition (a ``files:`` entry): cell ids become ``<condition>:<cell>``
    and ``.obs[condition_column]`` holds the condition (the ``files`` key). ``join='outer'`` keeps
    the union of genes with 0 where a file lacks a gene (right for counts/TPM/FPKM, whose files
    drop genes never detected); ``'inner'`` keeps shared genes (for normalised values)."""
    named = {}
    for cond, part in parts.items():
        part = part.copy()
        part.obs_names = [f"{cond}:{c}" for c in part.obs_names]
        part.obs[condition_column] = str(cond)
        named[cond] = part
    if join == "outer":
        out = ad.concat(list(named.values()), join="outer", fill_value=0)
    else:
        out = ad.concat(list(named.values()), join="inner")
    out.obs[condition_column] = pd.Categorical(out.obs[condition_column].astype(str),
                                               categories=[str(c) for c in parts])
    return out


def subset_cells(adata: ad.AnnData, column: str, values=None, pattern: str | None = None) -> ad.AnnData:
    """Keep cells whose ``.obs[column]`` is in ``values`` or matches the regex ``pattern``
    (``re.search``). Raises ValueError if the column is missing or no cell is left."""
    if column not in adata.obs:
        raise ValueError(f"subset column {column!r} not in the cell metadata (columns: {list(adata.obs.columns)})")
    text = adata.obs[column].astype(str)
    keep = np.ones(adata.n_obs, dtype=bool)
    if values is not None:
        keep &= text.isin([str(v) for v in values]).to_numpy()
    if pattern is not None:
        keep &= text.str.contains(pattern, regex=True).to_numpy()
    if not keep.any():
        raise ValueError(f"subset {column}={values or pattern!r} keeps no cell; values found: "
                         f"{preview(pd.unique(text))}")
    return adata[keep].copy()


def cell_name_conditions(names: pd.Index | list[str], pattern: str) -> pd.Series:
    """Group 1 (or the whole match) of the regex ``pattern`` in each cell name; NaN where it
    does not match. E.g. ``r"^[^_]+_([^_]+)"`` on ``PC9_parental_A01`` gives ``parental``."""
    rx = re.compile(pattern)
    out = []
    for n in names:
        m = rx.search(str(n))
        out.append(None if m is None else (m.group(1) if m.groups() else m.group(0)))
    return pd.Series(out, index=pd.Index(names), dtype=object)


def _seen(conditions: pd.Series) -> str:
    counts = conditions.astype(object).where(conditions.notna(), "<missing>").astype(str).value_counts(sort=False)
    shown = ", ".join(f"{v} ({n})" for v, n in list(counts.items())[:12])
    return shown + (f" … (+{len(counts) - 12} more)" if len(counts) > 12 else "")


def _check_two_classes(labels: pd.Series, conditions: pd.Series, where: str,
                       sensitive: list, resistant: list) -> None:
    """Raise InputError when the sensitive or the resistant values match no cell: scores of a
    one-class ground truth are meaningless (F1 0.97 with no AUROC), and a typo such as ``dmso`` for
    ``DMSO`` would otherwise surface only after training."""
    seen = set(conditions.dropna().astype(str))
    for name, wanted, code in (("sensitive", sensitive, 1.0), ("resistant", resistant, 0.0)):
        if (labels == code).any():
            continue
        near = sorted({s for s in seen for w in wanted if s.lower() == str(w).lower() and s != str(w)})
        hint = f" (values are compared exactly: did you mean {preview(near)}?)" if near else ""
        raise InputError(None, f"label: {name} {[str(w) for w in wanted]} matched no cell, so the ground truth "
                               f"has one class; {where} has {_seen(conditions)}{hint}")


def dataset_labels(adata: ad.AnnData, label: Mapping) -> pd.Series:
    """The ground truth of a dataset entry's ``label`` rule: 1 sensitive, 0 resistant, NaN other.

    ``label`` holds ``sensitive`` and ``resistant`` value lists and either ``column`` (an ``.obs``
    column: metadata, an h5ad column, or ``condition`` = the ``files`` key) or
    ``cell_name_pattern`` (regex whose group 1, searched in each cell id, is the condition; the
    extracted value is also stored in ``.obs['condition_from_name']``).

    Raises InputError when the sensitive or the resistant values match no cell (naming the
    values configured, the column and the values it holds with their counts), and ValueError
    for a missing column.
    """
    sensitive, resistant = list(label.get("sensitive", [1])), list(label.get("resistant", [0]))
    if label.get("cell_name_pattern"):
        names = pd.Index(adata.obs_names)
        conditions = cell_name_conditions(names, label["cell_name_pattern"])
        adata.obs["condition_from_name"] = conditions.to_numpy()
        conditions.index = adata.obs.index
        where = f"cell_name_pattern {label['cell_name_pattern']!r} (in cell ids)"
    else:
        column = label.get("column")
        if column not in adata.obs:
            raise ValueError(f"label column {column!r} not in the cell metadata (columns: {list(adata.obs.columns)})")
        conditions = adata.obs[column]
        where = f"column {column!r}"
    labels = condition_labels(conditions.astype(object), sensitive, resistant)
    _check_two_classes(labels, conditions, where, sensitive, resistant)
    return labels


def load_dataset(spec: Mapping, data, metadata: str | Path | None = None,
                 orthologs: str | Path | None = None) -> ad.AnnData:
    """Load one ``sc.datasets`` entry as raw cells × genes with its cell metadata in ``.obs``.

    ``data`` is the entry's ``path`` or its ``files`` mapping (condition -> path, combined with
    :func:`concat_conditions`). Then, in order: the ``metadata`` table is joined onto ``.obs`` (by
    its ``cell`` column; a ``series`` entry reads its own metadata layout instead, see
    :mod:`drugshift.io.geo_series`); ``subset`` keeps the chosen cells; mouse genes
    (``species: mouse``) are renamed to their human orthologs (:func:`drugshift.io.orthologs.to_human`).
    ``.uns`` records ``values`` (counts/tpm/fpkm/normalised) and ``species``.
    """
    from drugshift.io import geo_series, orthologs as orth

    fmt = canonical_format(spec.get("format", "geo_counts"))
    values = values_of(spec)
    label = spec.get("label", {})
    meta_columns = [label["column"]] if fmt == "cells_by_genes" and label.get("column") and "files" not in spec \
        and metadata is None and not spec.get("series") else None
    kw = dict(sep=spec.get("sep"), meta_columns=meta_columns, cell_prefix_pattern=spec.get("cell_prefix_pattern"))
    if isinstance(data, Mapping):
        parts = {cond: read_matrix_file(p, fmt, **kw) for cond, p in data.items()}
        adata = concat_conditions(parts, join="inner" if values == "normalised" else "outer")
    else:
        adata = read_matrix_file(data, fmt, **kw)
    if spec.get("series"):
        adata = geo_series.annotate(spec["series"], adata, metadata)
    elif metadata is not None:
        adata = attach_metadata(adata, metadata, cell_column=spec.get("metadata_cell_column", "cell"))
    if spec.get("subset"):
        sub = spec["subset"]
        adata = subset_cells(adata, sub["column"], sub.get("values"), sub.get("pattern"))
    species = spec.get("species", "human")
    if species == "mouse":
        if orthologs is None:
            raise ValueError("species: mouse needs the ortholog table (config key sc.orthologs)")
        adata = orth.to_human(adata, orth.read_mgi_orthologs(orthologs))
    elif species != "human":
        raise ValueError(f"species must be human or mouse, got {species!r}")
    adata.uns["values"] = values
    adata.uns["species"] = species
    return adata
