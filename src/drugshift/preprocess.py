"""Single-cell QC and normalisation, bulk integration, and gene alignment (scDEAL, METHODS.md).

Single cells: drop cells with fewer than ``min_genes`` detected genes, genes detected in fewer
than ``min_cells`` cells and cells whose mitochondrial fraction reaches ``max_mito_fraction``;
``normalize_total(target_sum)``, ``log1p``; then per-gene min-max scaling. Bulk expression is
brought to the same genes, in the same order, and min-max scaled the same way, so one
predictor can read both.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp

from drugshift.params.base import Params, rule

#: Per-gene scalings of each domain before scDEAL's encoders (:func:`scaler_fit`).
SCALINGS = ("minmax", "zscore")

log = logging.getLogger("drugshift")


@dataclass(frozen=True)
class QCParams(Params):
    """Single-cell QC and normalisation settings (config key ``preprocess.sc``).

    Attributes:
        min_genes: drop cells with fewer detected genes.
        min_cells: drop genes detected in fewer cells.
        max_mito_fraction: drop cells with this mitochondrial fraction or more.
        mito_prefix: gene-symbol prefix of mitochondrial genes (matched case-insensitively).
        target_sum: counts per cell after ``normalize_total``.
        normalised: the input is already normalised (e.g. z-scores): skip QC on counts,
            normalisation and log.
        scaling: the per-gene scaling of cells and bulk before scDEAL's encoders, fitted per
            domain: ``minmax`` (scDEAL's ``MinMaxScaler``, to [0, 1]) or ``zscore`` (centred,
            unit sd: removes each domain's per-gene location and spread, the first-order shift
            between bulk and cells, before any training; a minimum and maximum are set by one
            extreme cell each).
    """

    label: ClassVar[str] = "single-cell QC"

    min_genes: int = rule(200, ge=0)
    min_cells: int = rule(3, ge=0)
    max_mito_fraction: float = rule(0.10, gt=0, le=1)
    mito_prefix: str = "MT-"
    target_sum: float = rule(1e4, gt=0)
    normalised: bool = False
    scaling: str = rule("minmax", choices=SCALINGS)


def add_qc_metrics(adata: ad.AnnData, mito_prefix: str) -> None:
    """Flag mitochondrial genes (``.var['mt']``, prefix matched case-insensitively so ``mt-``
    mouse genes count) and add scanpy's per-cell QC metrics to ``.obs`` in place."""
    adata.var["mt"] = adata.var_names.str.upper().str.startswith(mito_prefix.upper())
    sc.pp.calculate_qc_metrics(adata, qc_vars=["mt"], percent_top=None, log1p=False, inplace=True)


def qc_and_normalise(adata: ad.AnnData, params: QCParams, name: str = "single-cell input") -> ad.AnnData:
    """QC-filter and log-normalise raw UMI counts; returns a new AnnData.

    The matrix is first checked against the values it declares (``.uns['values']``, else
    ``normalised`` or ``counts`` from ``params.normalised``) by
    :func:`drugshift.io.values.check_declared_values`, which raises InputError naming ``name``
    (the dataset) when the declaration is certainly wrong (counts that are log values or
    z-scores, raw counts declared normalised). Raw counts are kept in ``layers['counts']``; QC
    metrics (``n_genes_by_counts``, ``total_counts``, ``pct_counts_mt``) are in ``.obs``; what was
    removed is in ``.uns['qc']``. With ``params.normalised`` only genes never observed are
    dropped.
    """
    from drugshift.io.values import check_declared_values

    declared = adata.uns.get("values", "normalised" if params.normalised else "counts")
    seen = check_declared_values(adata.X, declared, name, adata.obs_names, adata.var_names)
    log.info("%s: values %s (%s)", name, declared, seen)
    adata = adata.copy()
    n_cells0, n_genes0 = adata.n_obs, adata.n_vars
    if params.normalised:
        keep = np.asarray((adata.X != 0).sum(axis=0)).ravel() > 0
        adata = adata[:, keep].copy()
        adata.uns["qc"] = {"cells_in": n_cells0, "genes_in": n_genes0, "cells_out": adata.n_obs,
                           "genes_out": adata.n_vars, "normalised_input": True}
        return adata
    add_qc_metrics(adata, params.mito_prefix)
    genes_per_cell = adata.obs["n_genes_by_counts"].to_numpy()
    sc.pp.filter_cells(adata, min_genes=params.min_genes)
    n_after_genes = adata.n_obs
    adata = adata[adata.obs["pct_counts_mt"] < 100 * params.max_mito_fraction].copy()
    sc.pp.filter_genes(adata, min_cells=params.min_cells)
    if adata.n_obs == 0:
        raise ValueError(_empty_after_qc(name, n_cells0, n_genes0, n_after_genes, genes_per_cell, params))
    adata.layers["counts"] = adata.X.copy()
    sc.pp.normalize_total(adata, target_sum=params.target_sum)
    sc.pp.log1p(adata)
    adata.uns["qc"] = {
        "cells_in": n_cells0, "genes_in": n_genes0,
        "cells_low_genes": n_cells0 - n_after_genes, "cells_high_mito": n_after_genes - adata.n_obs,
        "cells_out": adata.n_obs, "genes_out": adata.n_vars, "normalised_input": False,
    }
    return adata


def _empty_after_qc(name: str, n_cells: int, n_genes: int, n_after_genes: int, genes_per_cell: np.ndarray,
                    params: QCParams) -> str:
    """Why QC removed every cell, with the numbers that tell a threshold from a data problem."""
    median = float(np.median(genes_per_cell)) if len(genes_per_cell) else 0.0
    why = (f"{n_cells - n_after_genes} had fewer than min_genes={params.min_genes} detected genes (median "
           f"{median:.0f}), the other {n_after_genes} reached max_mito_fraction={params.max_mito_fraction}")
    if n_genes < params.min_genes:
        why += (f"; the data have only {n_genes} genes in all, fewer than min_genes (mouse data with few "
                "human orthologs, or the wrong gene identifiers?)")
    return f"{name}: QC removed every cell ({n_cells} in): {why}"


def shared_genes(reference: pd.Index, *others: pd.Index) -> list[str]:
    """Genes present in every index, in ``reference`` order (the bulk order is the model's input order)."""
    keep = pd.Index(reference)
    for other in others:
        keep = keep[keep.isin(other)]
    return list(keep)


def minmax_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column minimum and maximum, the parameters of sklearn's ``MinMaxScaler``."""
    return np.nanmin(x, axis=0), np.nanmax(x, axis=0)


def scaler_fit(x: np.ndarray, scaling: str = "minmax") -> tuple[np.ndarray, np.ndarray]:
    """Per-column ``(lo, hi)`` of the affine scaler ``(x − lo) / (hi − lo)`` (:func:`minmax_apply`)
    of one domain.

    Args:
        scaling: ``minmax`` (``lo``, ``hi`` = minimum, maximum: values in [0, 1], as scDEAL's
            ``MinMaxScaler``) or ``zscore`` (``lo`` = mean, ``hi`` = mean + sd: per-gene
            z-scores, so each domain's genes are centred and equally spread).
    """
    if scaling == "minmax":
        return minmax_fit(x)
    if scaling == "zscore":
        mean = np.nanmean(x, axis=0)
        return mean, mean + np.nanstd(x, axis=0)
    raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")


def minmax_apply(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Scale columns to [0, 1] with given parameters; constant columns map to 0 (as sklearn does)."""
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return ((x - lo) / span).astype(np.float32)


def standardise_per_gene(frame: pd.DataFrame) -> pd.DataFrame:
    """Z-score each gene (column) within one bulk source, removing platform offsets and scales."""
    sd = frame.std(axis=0, ddof=0).replace(0, 1.0)
    return ((frame - frame.mean(axis=0)) / sd).astype(np.float32)


def integrate_bulk(sources: dict[str, pd.DataFrame], id_maps: dict[str, pd.Series] | None = None) -> pd.DataFrame:
    """Join bulk expression of several sources (e.g. GDSC arrays, CCLE RNA-seq) on shared genes.

    Each source (cell lines × genes) is first re-keyed through ``id_maps[source]`` (e.g. DepMap
    id → COSMIC id; lines without a mapping keep their own id), then z-scored per gene within
    the source (different platforms have different scales), restricted to the genes shared by
    all sources, and concatenated. A cell line measured by several sources keeps the first
    listed source's profile. Column ``source`` is not added: provenance is returned in
    ``attrs['source_of']`` (cell line → source).
    """
    if not sources:
        raise ValueError("no bulk expression source given")
    frames = {}
    for name, frame in sources.items():
        if id_maps and name in id_maps:
            mapping = id_maps[name].dropna()
            frame = frame.rename(index=lambda i: mapping.get(i, i))
            frame = frame[~frame.index.duplicated(keep="first")]
        frames[name] = standardise_per_gene(frame)
    genes = shared_genes(*[f.columns for f in frames.values()])
    if not genes:
        raise ValueError(f"bulk sources {list(sources)} share no gene symbols")
    parts, source_of = [], {}
    for name, frame in frames.items():
        frame = frame.loc[~frame.index.isin(list(source_of)), genes]
        source_of.update({i: name for i in frame.index})
        parts.append(frame)
    joined = pd.concat(parts)
    joined.index.name = "cell_line"
    joined.columns.name = "gene"
    joined.attrs["source_of"] = source_of
    return joined


def align_to_bulk(cells: ad.AnnData, bulk: pd.DataFrame, scaling: str = "minmax") -> tuple[ad.AnnData, pd.DataFrame]:
    """Restrict cells and bulk to their shared genes (bulk order) and scale each per gene.

    Returns the scaled cells (``.X`` dense float32, in [0, 1] for ``minmax``; log-normalised
    values kept in ``layers['lognorm']``; the scalers' ``lo``/``hi`` of :func:`scaler_fit` in
    ``.var['sc_min', 'sc_max', 'bulk_min', 'bulk_max']`` and the method in ``.uns['scaling']``)
    and the scaled bulk table. Scalers are fitted per domain, as in scDEAL; ``scaling`` is
    ``minmax`` (scDEAL's) or ``zscore`` (:func:`scaler_fit`).
    """
    genes = shared_genes(bulk.columns, cells.var_names)
    if len(genes) < 10:
        hint = "check gene identifiers (symbols vs Ensembl, species)"
        as_cells = len(shared_genes(bulk.columns, cells.obs_names))
        if as_cells > len(genes):  # the cell ids are gene symbols: the matrix was read transposed
            hint = (f"{as_cells} of the cell ids are bulk gene symbols: the matrix looks transposed; check the "
                    "dataset's format (geo_counts is genes x cells, cells_by_genes is cells x genes)")
        raise ValueError(f"only {len(genes)} genes shared between bulk and single cells; {hint}")
    cells = cells[:, genes].copy()
    x = cells.X.toarray() if sp.issparse(cells.X) else np.asarray(cells.X)
    x = x.astype(np.float32)
    cells.layers["lognorm"] = x.copy()
    sc_lo, sc_hi = scaler_fit(x, scaling)
    cells.X = minmax_apply(x, sc_lo, sc_hi)
    cells.uns["scaling"] = scaling
    b = bulk[genes].to_numpy(dtype=np.float32)
    b_lo, b_hi = scaler_fit(b, scaling)
    bulk_scaled = pd.DataFrame(minmax_apply(b, b_lo, b_hi), index=bulk.index, columns=genes)
    cells.var["sc_min"], cells.var["sc_max"] = sc_lo, sc_hi
    cells.var["bulk_min"], cells.var["bulk_max"] = b_lo, b_hi
    log.info("aligned %d cells and %d cell lines on %d shared genes", cells.n_obs, len(bulk), len(genes))
    return cells, bulk_scaled


def labelled_bulk(bulk: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Bulk rows that have a label for the drug: (expression of those cell lines, 0/1 labels).

    ``labels`` is a ``results/bulk/labels/<drug>.parquet`` table (``cell_line``, ``label``).
    Cell lines with expression but no response (or the reverse) are left out; both classes
    must remain.
    """
    lab = labels.dropna(subset=["label"]).set_index("cell_line")["label"]
    common = bulk.index[bulk.index.isin(lab.index)]
    y = lab.loc[common].astype(int).to_numpy()
    if len(common) == 0 or len(np.unique(y)) < 2:
        raise ValueError(f"{len(common)} cell lines have both expression and a label "
                         f"({np.bincount(y, minlength=2).tolist() if len(y) else []} per class); need both classes")
    return bulk.loc[common], y
