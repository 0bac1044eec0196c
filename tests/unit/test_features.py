"""Feature selection for CODE-AE: per-domain top-k genes, united."""

import numpy as np
import pandas as pd
import pytest

from drugshift.features import gene_scores, prepare_domains, select_genes, standardisation, standardise_domains


def _frame(values: dict, n: int) -> pd.DataFrame:
    return pd.DataFrame({g: np.asarray(v, dtype=float)[:n] for g, v in values.items()})


def test_unique_score_is_the_percentage_of_distinct_values():
    x = _frame({"a": [0, 0, 0, 1], "b": [1, 2, 3, 4], "c": [5, 5, 5, 5], "d": [0, 1, np.nan, 1]}, 4)
    s = gene_scores(x, "unique")
    assert s.to_dict() == pytest.approx({"a": 50.0, "b": 100.0, "c": 25.0, "d": 200 / 3})


def test_variance_and_mad_scores():
    x = _frame({"a": [0, 0, 10, 10], "b": [0, 1, 2, 100]}, 4)
    assert gene_scores(x, "variance")["a"] == pytest.approx(25.0)
    assert gene_scores(x, "mad").to_dict() == pytest.approx({"a": 5.0, "b": 1.0})
    with pytest.raises(ValueError, match="unknown gene score"):
        gene_scores(x, "entropy")


def test_select_genes_unites_each_domains_top_k_over_shared_genes():
    rng = np.random.default_rng(0)
    n = 20
    # Domain 1: g1, g2 resolved; domain 2: g3, g4 resolved; g5 only in domain 1 (not shared).
    d1 = pd.DataFrame({"g1": rng.normal(size=n), "g2": rng.normal(size=n), "g3": np.repeat([0, 1], n // 2),
                       "g4": np.zeros(n), "g5": rng.normal(size=n)})
    d2 = pd.DataFrame({"g4": rng.normal(size=n), "g3": rng.normal(size=n), "g2": np.zeros(n),
                       "g1": np.repeat([0, 1, 2, 3], n // 4)})
    genes = select_genes({"cells": d1, "patients": d2}, k=2, method="unique")
    assert genes == ["g1", "g2", "g3", "g4"]  # first domain's order, g5 excluded
    assert select_genes({"cells": d1, "patients": d2}, k=1) == ["g1", "g3"]
    with pytest.raises(ValueError, match="share no gene"):
        select_genes({"a": d1[["g5"]], "b": d2}, k=1)


def test_standardise_domains_zscores_each_gene_within_each_domain():
    a = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [5.0, 5.0, 5.0], "z": [0.0, 1.0, 0.0]})
    b = pd.DataFrame({"x": [10.0, 30.0], "y": [1.0, 2.0]})
    out = standardise_domains({"a": a, "b": b}, ["y", "x"])
    assert list(out["a"].columns) == ["y", "x"]
    assert np.allclose(out["a"]["x"].mean(), 0) and np.allclose(out["a"]["x"].std(ddof=0), 1)
    assert (out["a"]["y"] == 0).all()  # constant gene
    assert out["b"]["x"].tolist() == [-1.0, 1.0]
    with pytest.raises(ValueError, match="lacks 1 selected gene"):
        standardise_domains({"b": b}, ["x", "z"])


def test_prepare_domains_returns_the_standardisation_it_applied():
    rng = np.random.default_rng(1)
    genes = [f"g{i}" for i in range(6)]
    cells = pd.DataFrame(rng.normal(2.0, 3.0, (30, 6)), columns=genes)
    cohorts = {"tcga": pd.DataFrame(rng.normal(-1.0, 0.5, (20, 6)), columns=genes, index=[f"t{i}" for i in range(20)]),
               "pdtc": pd.DataFrame(rng.normal(5.0, 2.0, (10, 5)), columns=genes[:5],
                                    index=[f"m{i}" for i in range(10)])}
    cl, patients, table, statistics = prepare_domains(cells, cohorts, k=3, method="variance")
    chosen = list(cl.columns)
    assert list(table["gene"]) == chosen and "g5" not in chosen  # only genes every cohort has
    stats = standardisation(statistics, chosen)
    assert set(stats) == {"cell_lines", "tcga", "pdtc"}
    for name, raw in {"cell_lines": cells, **cohorts}.items():
        mean, sd = stats[name]
        z = ((raw[chosen].to_numpy() - mean) / sd).astype(np.float32)
        got = cl if name == "cell_lines" else patients[patients["cohort"] == name].drop(columns="cohort")
        assert np.array_equal(got.to_numpy(), z), name
    _, _, _, unscaled = prepare_domains(cells, cohorts, k=3, method="variance", standardise=False)
    assert (unscaled["mean"] == 0).all() and (unscaled["sd"] == 1).all()
