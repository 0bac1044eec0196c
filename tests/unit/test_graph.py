"""kNN graph and Leiden clustering: drugshift.graph."""

import anndata as ad
import numpy as np
import pytest
import scanpy as sc

from drugshift.graph import leiden, neighbors


def embedded(n, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.repeat([[0.0] * 5, [6.0] * 5], [n // 2, n - n // 2], axis=0)
    a = ad.AnnData(np.zeros((n, 1), np.float32))
    a.obsm["X_emb"] = (centres + rng.normal(0, 1, (n, 5))).astype(np.float32)
    return a


@pytest.mark.parametrize("method", ["umap", "gauss"])
def test_neighbors_is_scanpys_exact_knn_graph(method):
    ours, theirs = embedded(60), embedded(60)
    neighbors(ours, use_rep="X_emb", n_neighbors=10, method=method, seed=3)
    sc.pp.neighbors(theirs, n_neighbors=10, use_rep="X_emb", method=method, transformer="sklearn", random_state=3)
    for key in ("distances", "connectivities"):
        assert (ours.obsp[key] != theirs.obsp[key]).nnz == 0
    assert ours.uns["neighbors"]["params"] == theirs.uns["neighbors"]["params"]


@pytest.mark.parametrize("n, k", [(3, 2), (6, 5), (40, 15)])
def test_neighbors_clamps_k_to_the_cells_available(n, k):
    a = embedded(n)
    neighbors(a, use_rep="X_emb")
    assert a.uns["neighbors"]["params"]["n_neighbors"] == k
    assert a.obsp["distances"].shape == (n, n)


def test_leiden_separates_two_clouds_and_repeats_with_the_seed():
    a, b = embedded(80), embedded(80)
    for x in (a, b):
        neighbors(x, use_rep="X_emb", seed=1)
        leiden(x, resolution=0.2, seed=1)
    labels = a.obs["leiden"].astype(int).to_numpy()
    assert labels[:40].min() == labels[:40].max() != labels[40:].min() == labels[40:].max()
    assert a.obs["leiden"].equals(b.obs["leiden"])
