"""Cell–cell kNN graph, Leiden clustering and UMAP: the one place drugshift calls scanpy's
``pp.neighbors``, ``tl.leiden`` and ``tl.umap``.

Every caller (pseudotime in :mod:`drugshift.interpret`, the cell maps of the figures,
scDEAL's cell clusters) goes through :func:`neighbors`, so the same
workaround and the same clamping hold everywhere.
"""
from __future__ import annotations

import inspect

__all__ = ["neighbors", "leiden", "umap_coordinates"]


def neighbors(adata, *, use_rep: str, n_neighbors: int = 15, method: str = "umap", seed: int = 0) -> None:
    """Exact kNN graph of ``adata`` on ``adata.obsm[use_rep]`` (scanpy ``pp.neighbors``), in place.

    The neighbours come from scikit-learn (``transformer="sklearn"``: exact, Euclidean) at every
    size. Left alone, scanpy switches to pynndescent from 4,096 cells on, and cannot read that
    library's sparse output with scipy >= 1.15 (``csr_array`` has no ``getnnz``).

    Args:
        adata: AnnData with ``adata.obsm[use_rep]`` of shape ``(cells, dims)``; at least 3 cells.
        use_rep: the ``.obsm`` key to build the graph on (e.g. ``"X_pca"``, ``"X_scdeal"``).
        n_neighbors: neighbours per cell, the cell itself included (scanpy's convention); clamped
            to ``[2, cells - 1]`` so that small inputs still give a graph.
        method: connectivity kernel, ``"umap"`` (McInnes et al. 2018) or ``"gauss"``
            (Haghverdi et al. 2016; what diffusion pseudotime expects).
        seed: ``random_state`` handed to scanpy.

    Writes, as scanpy does: ``adata.obsp["distances"]``, ``adata.obsp["connectivities"]`` (both
    ``(cells, cells)`` sparse) and ``adata.uns["neighbors"]``.
    """
    import scanpy as sc

    k = max(2, min(int(n_neighbors), adata.n_obs - 1))
    sc.pp.neighbors(adata, n_neighbors=k, use_rep=use_rep, method=method, transformer="sklearn", random_state=seed)


def leiden(adata, *, resolution: float = 1.0, seed: int = 0) -> None:
    """Leiden communities (Traag et al. 2019) of the graph from :func:`neighbors`, in place.

    Uses the igraph implementation (``flavor="igraph"``, 2 iterations, undirected: scanpy's
    future default) when python-igraph is installed, else leidenalg. ``seed`` goes to scanpy's
    ``rng`` or, in scanpy versions without it, ``random_state``.

    Writes ``adata.obs["leiden"]`` (categorical community labels ``"0"``, ``"1"``, …).
    """
    import scanpy as sc

    kwargs: dict = {}
    try:
        import igraph  # noqa: F401

        kwargs.update(flavor="igraph", n_iterations=2, directed=False)
    except ImportError:
        pass
    seed_kw = "rng" if "rng" in inspect.signature(sc.tl.leiden).parameters else "random_state"
    kwargs[seed_kw] = seed
    sc.tl.leiden(adata, resolution=resolution, **kwargs)


def umap_coordinates(adata, *, use_rep: str = "X_scdeal", seed: int = 0):
    """2-D UMAP (scanpy ``tl.umap``) of the cells on ``adata.obsm[use_rep]``, over the kNN graph
    of :func:`neighbors`; ``adata`` is left unchanged.

    Returns:
        ``(cells, 2)`` float array.
    """
    import numpy as np
    import scanpy as sc

    work = adata.copy()
    neighbors(work, use_rep=use_rep, seed=seed)
    sc.tl.umap(work, random_state=seed)
    return np.asarray(work.obsm["X_umap"], dtype=np.float64)
