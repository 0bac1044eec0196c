import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from drugshift.preprocess import QCParams, align_to_bulk, integrate_bulk, qc_and_normalise, shared_genes


def _cells(n_cells=60, n_genes=300, seed=0):
    rng = np.random.default_rng(seed)
    genes = [f"G{i}" for i in range(n_genes - 3)] + ["MT-CO1", "MT-ND1", "MT-CYB"]
    counts = rng.poisson(2.0, (n_cells, n_genes)).astype(np.float32)
    counts[0, :] = 0
    counts[0, :50] = 1  # too few detected genes
    counts[1, -3:] = 400  # mitochondrial fraction far above 10 %
    counts[:, 5] = 0
    counts[2, 5] = 1  # gene 5 seen in only one cell
    return ad.AnnData(sp.csr_matrix(counts), obs=pd.DataFrame(index=[f"c{i}" for i in range(n_cells)]),
                      var=pd.DataFrame(index=genes))


def test_qc_removes_low_gene_high_mito_cells_and_rare_genes():
    out = qc_and_normalise(_cells(), QCParams(min_genes=200, min_cells=3, max_mito_fraction=0.1))
    assert "c0" not in out.obs_names and "c1" not in out.obs_names
    assert out.n_obs == 58
    assert "G5" not in out.var_names
    assert out.uns["qc"]["cells_low_genes"] == 1 and out.uns["qc"]["cells_high_mito"] == 1
    # normalize_total(1e4) then log1p: expm1 of each row sums to 1e4
    x = out.X.toarray() if sp.issparse(out.X) else out.X
    assert np.allclose(np.expm1(x).sum(1), 1e4, rtol=1e-4)
    assert "counts" in out.layers


def test_qc_rejects_negative_values_unless_normalised():
    cells = _cells()
    cells.X = cells.X.toarray() - 1.0
    with pytest.raises(ValueError, match="negative values"):
        qc_and_normalise(cells, QCParams())
    out = qc_and_normalise(cells, QCParams(normalised=True))
    assert out.n_obs == cells.n_obs


def test_shared_genes_keep_reference_order():
    assert shared_genes(pd.Index(["c", "a", "b"]), pd.Index(["a", "b", "x", "c"]), pd.Index(["b", "c"])) == ["c", "b"]


def test_integrate_bulk_maps_ids_and_prefers_first_source():
    gdsc = pd.DataFrame({"A": [1.0, 2.0, 3.0], "B": [0.0, 1.0, 5.0], "C": [1.0, 1.0, 2.0]}, index=["10", "11", "12"])
    ccle = pd.DataFrame({"A": [10.0, 20.0, 40.0], "B": [3.0, 3.0, 9.0]}, index=["ACH-1", "ACH-2", "ACH-3"])
    ids = pd.Series({"ACH-1": "11", "ACH-3": "99"})
    joined = integrate_bulk({"gdsc": gdsc, "ccle": ccle}, {"ccle": ids})
    assert list(joined.columns) == ["A", "B"]
    assert list(joined.index) == ["10", "11", "12", "ACH-2", "99"]
    assert joined.attrs["source_of"]["11"] == "gdsc"
    # Per-source z-scores: each source's genes have mean 0 within the source.
    assert np.allclose(joined.loc[["10", "11", "12"]].mean(), 0, atol=1e-6)


def test_align_to_bulk_scales_both_domains():
    cells = qc_and_normalise(_cells(), QCParams())
    bulk = pd.DataFrame(np.random.default_rng(1).normal(size=(20, 40)), columns=[f"G{i}" for i in range(39, -1, -1)])
    scaled_cells, scaled_bulk = align_to_bulk(cells, bulk)
    assert list(scaled_cells.var_names) == list(scaled_bulk.columns)
    assert list(scaled_bulk.columns)[:2] == ["G39", "G38"]  # bulk order
    for x in (np.asarray(scaled_cells.X), scaled_bulk.to_numpy()):
        # each gene spans exactly [0, 1]; a constant gene maps to 0 (sklearn's MinMaxScaler)
        np.testing.assert_allclose(x.min(axis=0), 0, atol=1e-6)
        assert np.all(np.isclose(x.max(axis=0), 1, atol=1e-6) | (x.max(axis=0) == 0))
    assert {"sc_min", "sc_max", "bulk_min", "bulk_max"} <= set(scaled_cells.var.columns)
    with pytest.raises(ValueError, match="shared between bulk and single cells"):
        align_to_bulk(cells, bulk.rename(columns=lambda g: g.lower()))


def test_align_to_bulk_can_z_score_each_domain():
    """``zscore``: every gene of each domain centred with unit sd (constant genes 0); the stored
    lo/hi are mean and mean + sd, so the same affine map reproduces the scaled cells."""
    from drugshift.preprocess import minmax_apply, scaler_fit

    cells = qc_and_normalise(_cells(), QCParams(scaling="zscore"))
    bulk = pd.DataFrame(np.random.default_rng(1).normal(3, 2, size=(20, 40)), columns=[f"G{i}" for i in range(40)])
    scaled_cells, scaled_bulk = align_to_bulk(cells, bulk, scaling="zscore")
    assert scaled_cells.uns["scaling"] == "zscore"
    for x in (np.asarray(scaled_cells.X), scaled_bulk.to_numpy()):
        np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-5)
        sd = x.std(axis=0)
        assert np.all(np.isclose(sd, 1, atol=1e-4) | (sd == 0))
    var = scaled_cells.var
    again = minmax_apply(scaled_cells.layers["lognorm"], var["sc_min"].to_numpy(), var["sc_max"].to_numpy())
    np.testing.assert_allclose(again, scaled_cells.X, atol=1e-6)
    with pytest.raises(ValueError, match="scaling must be one of"):
        scaler_fit(np.zeros((3, 2)), "rank")
    with pytest.raises(ValueError, match="scaling"):
        QCParams(scaling="rank")
