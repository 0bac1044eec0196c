"""Gene-set enrichment: drugshift.enrich (offline gseapy hypergeometric test, BH, tidy tables)."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control, hypergeom

from drugshift.enrich import ENRICHMENT_COLUMNS, enrich_critical_genes, enrich_genes, filter_gene_sets, term_ranks
from drugshift.io.genesets import write_gmt

BACKGROUND = [f"G{i:03d}" for i in range(200)]


def library(seed=0):
    rng = np.random.default_rng(seed)
    sets = {"PLANTED": BACKGROUND[:20]}
    for j in range(15):
        sets[f"DECOY_{j}"] = list(rng.choice(BACKGROUND[20:], 20, replace=False))
    sets["TINY"] = BACKGROUND[:3]
    sets["OUTSIDE"] = ["X1", "X2", "X3", "X4", "X5", "X6", BACKGROUND[0]]
    return sets


def step_up_bh(p):
    """The hand-written Benjamini–Hochberg drugshift used before scipy's (the reference)."""
    p = np.asarray(p, dtype=float)
    n = p.size
    order = np.argsort(p, kind="mergesort")
    adjusted = np.minimum.accumulate((p[order] * n / np.arange(1, n + 1))[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def test_scipy_bh_equals_the_former_step_up_with_ties():
    p = np.array([0.01, 0.04, 0.03, 0.03, 0.2, 0.5, 0.5, 1.0])
    # sorted 0.01 0.03 0.03 0.04 0.2 0.5 0.5 1 -> *8/rank 0.08 0.12 0.08 0.08 0.32 0.667 0.571 1
    # -> running minimum from the top: 0.08 0.08 0.08 0.08 0.32 0.571 0.571 1
    expected = [0.08, 0.08, 0.08, 0.08, 0.32, 4 / 7, 4 / 7, 1.0]
    np.testing.assert_allclose(false_discovery_control(p, method="bh"), expected, rtol=1e-15)
    np.testing.assert_allclose(step_up_bh(p), expected, rtol=1e-15)
    # on a long vector the two agree to the last bit or one (scipy scales by n / rank, not p * n then / rank)
    q = np.random.default_rng(0).uniform(size=500) ** 3
    np.testing.assert_allclose(false_discovery_control(q, method="bh"), step_up_bh(q), rtol=1e-15, atol=0)


def test_filter_gene_sets_restricts_to_background_and_size():
    kept = filter_gene_sets(library(), BACKGROUND, min_size=5, max_size=25)
    assert "TINY" not in kept and "OUTSIDE" not in kept  # 3 genes; 1 gene left in the background
    assert kept["PLANTED"] == BACKGROUND[:20]
    assert "PLANTED" not in filter_gene_sets(library(), BACKGROUND, min_size=5, max_size=10)


def test_enrich_genes_ranks_the_planted_set_first_with_hypergeometric_p():
    query = BACKGROUND[:12] + BACKGROUND[100:108]  # 12 of 20 planted genes, 8 others
    table = enrich_genes(query, library(), BACKGROUND, library="lib")
    assert list(table.columns) == ENRICHMENT_COLUMNS
    top = table.iloc[0]
    assert top["term"] == "PLANTED" and top["rank"] == 1 and top["overlap"] == 12
    assert top["n_query"] == 20 and top["n_background"] == 200 and top["set_size"] == 20
    # one-sided hypergeometric: P(X >= 12) drawing 20 of 200 with 20 successes
    assert top["p"] == pytest.approx(hypergeom.sf(11, 200, 20, 20), rel=1e-6)
    assert top["genes"] == ";".join(sorted(BACKGROUND[:12]))
    assert top["p_adj"] < 1e-6
    assert set(table["term"]) == set(filter_gene_sets(library(), BACKGROUND))  # every tested set, hit or not
    np.testing.assert_allclose(table["p_adj"], step_up_bh(table["p"]), rtol=1e-15)  # BH over every tested set
    assert (table.loc[table["overlap"] == 0, "p"] == 1.0).all()
    assert table["p"].is_monotonic_increasing


def test_enrich_genes_ignores_query_genes_outside_the_background_and_is_deterministic(tmp_path):
    query = BACKGROUND[:10] + ["NOT_A_GENE"]
    gmt = tmp_path / "lib.gmt"
    write_gmt(library(), gmt)
    a = enrich_genes(query, gmt, BACKGROUND)
    b = enrich_genes(list(reversed(query)), library(), BACKGROUND)
    assert a["n_query"].iloc[0] == 10
    pd.testing.assert_frame_equal(a, b)


def test_enrich_genes_with_an_empty_query_tests_nothing_significant():
    table = enrich_genes([], library(), BACKGROUND)
    assert len(table) > 0 and (table["p"] == 1).all() and (table["overlap"] == 0).all()


def test_enrich_critical_genes_per_group_and_library():
    critical = pd.DataFrame({
        "gene": BACKGROUND[:15] + BACKGROUND[150:160] + BACKGROUND[40:45],
        "group": ["sensitive"] * 15 + ["resistant"] * 10 + ["sensitive"] * 5,
        "critical": [True] * 25 + [False] * 5,
    })
    libs = {"one": library(0), "two": {"OTHER": BACKGROUND[150:170], "PLANTED_TOO": BACKGROUND[:20]}}
    table = enrich_critical_genes(critical, libs, BACKGROUND)
    assert list(table.columns) == ["group", *ENRICHMENT_COLUMNS]
    assert list(dict.fromkeys(zip(table["group"], table["library"]))) == [
        ("sensitive", "one"), ("sensitive", "two"), ("resistant", "one"), ("resistant", "two")]
    sens = table[table["group"] == "sensitive"]
    assert sens.iloc[0]["term"] == "PLANTED" and sens.iloc[0]["n_query"] == 15  # non-critical rows left out
    res = table[(table["group"] == "resistant") & (table["library"] == "two")]
    assert res.iloc[0]["term"] == "OTHER"
    ranks = term_ranks(table, "PLANTED")
    assert ranks["overall_rank"] == 1 and ranks["best_group"] == "sensitive"
    assert ranks["by_group"]["sensitive"]["rank"] == 1 and ranks["by_group"]["resistant"]["rank"] > 1
    assert term_ranks(table, "NO_SUCH_SET")["overall_rank"] is None
