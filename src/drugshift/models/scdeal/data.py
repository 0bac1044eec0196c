"""scDEAL's training data: input checks, class re-sampling of the bulk training split, Leiden
clusters of the cells, and the tensors and splits every training stage reads."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from drugshift.params import SAMPLING_METHODS, ScDEALParams
from drugshift.splits import fold_train_val_test, holdout, train_val_test
from drugshift.train import as_binary_labels, as_float_matrix

__all__ = ["MAX_VALIDATION_CELLS", "TrainingData", "bulk_split", "cell_clusters", "check_bulk", "check_cells", "resample",
           "validation_cells"]

#: Cap on the held-out cells that the joint validation loss compares with the validation bulk
#: (the MMD kernel matrix grows with its square).
MAX_VALIDATION_CELLS = 2000


def check_bulk(X_bulk, y_bulk) -> tuple[np.ndarray, np.ndarray]:
    """Bulk inputs as ``(float32 matrix, int64 0/1 labels)``, checked.

    Raises:
        ValueError: labels and rows differ in number, labels other than 0/1, or fewer than 5
            samples of a class (the stratified 64/16/20 split needs them).
    """
    Xb = as_float_matrix(X_bulk, "X_bulk")
    y = as_binary_labels(y_bulk, Xb.shape[0], "y_bulk", 5, "for the stratified 64/16/20 split")
    return Xb, y


def check_cells(X_cells, n_genes: int) -> np.ndarray:
    """Cells as a float32 matrix with the bulk's ``n_genes`` columns and at least 10 rows."""
    Xs = as_float_matrix(X_cells, "X_sc")
    if Xs.shape[1] != n_genes:
        raise ValueError(
            f"X_sc has {Xs.shape[1]} genes but X_bulk has {n_genes}; align both to the same gene order first"
        )
    if Xs.shape[0] < 10:
        raise ValueError(f"need at least 10 cells, got {Xs.shape[0]}")
    return Xs


def resample(X, y, method: str, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Balance the classes of a training set with imbalanced-learn (paper, "Data sampling for
    predictor training").

    Args:
        X: ``(n, genes)`` features.
        y: ``(n,)`` labels.
        method: ``none`` (returned unchanged), ``upsampling`` (``RandomOverSampler``: duplicate
            minority samples), ``downsampling`` (``RandomUnderSampler``: drop majority samples) or
            ``smote`` (``SMOTE``: synthetic minority samples; ``k_neighbors`` is lowered to fit a
            small minority class).
        seed: ``random_state`` of the sampler.

    Returns:
        ``(X_res, y_res)``; for the three samplers both classes have the same count.
    """
    X = np.asarray(X)
    y = np.asarray(y).ravel()
    if method not in SAMPLING_METHODS:
        raise ValueError(f"sampling method must be one of {SAMPLING_METHODS}, got {method!r}")
    if method == "none":
        return X, y
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise ValueError(f"cannot re-sample ({method}) a training set with a single class {classes.tolist()}")
    if method == "upsampling":
        from imblearn.over_sampling import RandomOverSampler

        sampler = RandomOverSampler(random_state=seed)
    elif method == "downsampling":
        from imblearn.under_sampling import RandomUnderSampler

        sampler = RandomUnderSampler(random_state=seed)
    else:
        from imblearn.over_sampling import SMOTE

        minority = int(counts.min())
        if minority < 2:
            raise ValueError("SMOTE needs at least 2 samples of the minority class in the training split")
        sampler = SMOTE(random_state=seed, k_neighbors=min(5, minority - 1))
    X_res, y_res = sampler.fit_resample(X, y)
    return np.asarray(X_res, dtype=X.dtype), np.asarray(y_res, dtype=y.dtype)


def cell_clusters(
    X_sc,
    resolution: float = 0.2,
    seed: int = 42,
    n_neighbors: int = 15,
    n_pcs: int = 50,
    neighbors_method: str = "umap",
) -> np.ndarray:
    """Leiden clusters of the cells, the cell-cluster labels of the regulariser (paper, step 4).

    PCA (≤ ``n_pcs`` components) → kNN graph (:func:`drugshift.graph.neighbors`, ``n_neighbors``,
    kernel ``neighbors_method``: ``umap``, scanpy's default, JIT-compiles for ~10 s on first use
    in a process; ``gauss`` does not) → Leiden at ``resolution``
    (:func:`drugshift.graph.leiden`), all seeded with ``seed``.

    Args:
        X_sc: ``(cells, genes)`` normalised expression (dense or scipy sparse).

    Returns:
        ``(cells,)`` int64 cluster labels 0..k-1.
    """
    import anndata as ad
    import scanpy as sc

    from drugshift.graph import leiden, neighbors

    X = as_float_matrix(X_sc, "X_sc")
    n, g = X.shape
    if n < 3 or g < 2:
        return np.zeros(n, dtype=np.int64)
    adata = ad.AnnData(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        sc.pp.pca(adata, n_comps=max(1, min(n_pcs, n - 1, g - 1)), random_state=seed)
        neighbors(adata, use_rep="X_pca", n_neighbors=n_neighbors, method=neighbors_method, seed=seed)
        leiden(adata, resolution=resolution, seed=seed)
    return adata.obs["leiden"].astype(int).to_numpy().astype(np.int64)


def validation_cells(held_out: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """The held-out cells of the joint validation loss: all of them, or a random ``cap`` of them
    (sorted) when there are more.

    A random draw, not the first ``cap``: cell indices follow the input order, which on real
    data is grouped by sample or condition, so a prefix would validate on one condition only.
    """
    held_out = np.asarray(held_out)
    if held_out.size <= cap:
        return held_out
    return np.sort(rng.choice(held_out, size=cap, replace=False))


def bulk_split(yb: np.ndarray, params: ScDEALParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bulk ``(train, val, test)`` rows of a model with these parameters (see :class:`TrainingData`)."""
    if params.bulk_fold is None:
        return train_val_test(yb, params.seed)
    split_seed = params.seed if params.split_seed is None else params.split_seed
    return fold_train_val_test(yb, params.bulk_fold, params.bulk_folds, split_seed)


@dataclass
class TrainingData:
    """Everything the training stages read, as tensors on one device, and the splits.

    Attributes:
        bulk, y_bulk: ``(cell_lines, genes)`` bulk profiles and their 0/1 labels.
        cells: ``(cells, genes)`` single-cell profiles.
        bulk_train, bulk_val, bulk_test: the stratified 64/16/20 split of the bulk rows
            (:func:`drugshift.splits.train_val_test`).
        cells_train, cells_val: the cells' hold-out split (``sc_val_fraction``,
            :func:`drugshift.splits.holdout`), which validates the sc DAE.
        cells_val_joint: the held-out cells the joint validation loss uses
            (:func:`validation_cells`).
        clusters: ``(cells,)`` Leiden cluster of every cell, or ``None``.
        bulk_resampled, y_resampled: the (class-balanced) bulk training split; set by the
            predictor stage, reused by the joint stage.
    """

    bulk: Tensor
    y_bulk: Tensor
    cells: Tensor | None
    bulk_train: np.ndarray
    bulk_val: np.ndarray
    bulk_test: np.ndarray
    cells_train: np.ndarray | None = None
    cells_val: np.ndarray | None = None
    cells_val_joint: np.ndarray | None = None
    clusters: np.ndarray | None = None
    bulk_resampled: Tensor | None = None
    y_resampled: Tensor | None = None

    @classmethod
    def build(cls, Xb: np.ndarray, yb: np.ndarray, Xs: np.ndarray | None, params: ScDEALParams,
              device: torch.device, clusters: np.ndarray | None = None) -> TrainingData:
        """Split the (checked) inputs with ``params.seed`` and move them to ``device``; without
        cells (``Xs=None``) only the bulk part is built.

        The bulk split is :func:`~drugshift.splits.train_val_test` (64/16/20), or an ensemble
        member's fold split (:func:`~drugshift.splits.fold_train_val_test`) when
        ``params.bulk_fold`` is set."""
        tr, va, te = bulk_split(yb, params)
        data = cls(bulk=torch.as_tensor(Xb, device=device), y_bulk=torch.as_tensor(yb, device=device),
                   cells=None if Xs is None else torch.as_tensor(Xs, device=device),
                   bulk_train=tr, bulk_val=va, bulk_test=te)
        if Xs is not None:
            rng = np.random.default_rng(params.seed)
            data.cells_train, data.cells_val = holdout(Xs.shape[0], params.sc_val_fraction, rng)
            data.cells_val_joint = validation_cells(data.cells_val, MAX_VALIDATION_CELLS, rng)
            if clusters is not None:
                clusters = np.asarray(clusters).ravel()
                if clusters.size != Xs.shape[0]:
                    raise ValueError(f"clusters has {clusters.size} labels but X_sc has {Xs.shape[0]} cells")
                data.clusters = np.unique(clusters, return_inverse=True)[1].astype(np.int64)
        return data

    def split(self) -> dict[str, np.ndarray]:
        """The index arrays by name (``bulk_train`` … ``cells_val_joint``), those that exist."""
        names = ("bulk_train", "bulk_val", "bulk_test", "cells_train", "cells_val", "cells_val_joint")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}
