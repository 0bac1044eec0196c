"""drugshift.io parsers on the real public files in ../shared/data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA as DATA
from conftest import requires_shared_data

from drugshift.io import depmap, gdsc, genesets, geo, pdtc, tcga

pytestmark = [pytest.mark.realdata, requires_shared_data]


def need(rel: str) -> Path:
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


# ------------------------------------------------------------------ module-scoped reads


@pytest.fixture(scope="module")
def gdsc1():
    return gdsc.read_gdsc_response(need("gdsc/GDSC1_fitted_dose_response.csv.gz"))


@pytest.fixture(scope="module")
def gdsc2():
    return gdsc.read_gdsc_response(need("gdsc/GDSC2_fitted_dose_response.csv.gz"))


@pytest.fixture(scope="module")
def gdsc_expr():
    return gdsc.read_gdsc_expression(need("gdsc/Cell_line_expression_zscore.txt.gz"))


@pytest.fixture(scope="module")
def geo_control():
    return geo.read_geo_counts(need("geo/GSE147405/GSM4494348_Day11_control.txt.gz"))


@pytest.fixture(scope="module")
def geo_erlotinib():
    return geo.read_geo_counts(need("geo/GSE147405/GSM4494349_Day11_Erlotinib.txt.gz"))


@pytest.fixture(scope="module")
def pdtc_response():
    return pdtc.read_pdtc_response(need("pdtc/DrugResponsesAUCModels.txt"))


# ------------------------------------------------------------------ GDSC


def test_gdsc1_response(gdsc1):
    # 310,031 rows in the file; 649 (cell line, drug name) pairs are replicate DRUG_IDs
    assert len(gdsc1) == 310_031 - 649
    assert gdsc1["drug"].nunique() == 378 and gdsc1["cosmic_id"].nunique() == 952
    assert set(gdsc1["dataset"]) == {"GDSC1"} and gdsc1["cosmic_id"].dtype == np.int64
    assert not gdsc1.duplicated(["cosmic_id", "drug"]).any()
    assert gdsc1["auc"].between(0, 1).all() and gdsc1["z_score"].isna().all()


def test_gdsc2_response(gdsc2):
    assert len(gdsc2) == 231_599 - 333
    assert gdsc2["drug"].nunique() == 286 and gdsc2["cosmic_id"].nunique() == 951
    assert "123138" in set(gdsc2["drug"])  # some GDSC2 drug names are bare numbers
    row = gdsc2[(gdsc2["cosmic_id"] == 924100) & (gdsc2["drug"] == "123138")].iloc[0]
    assert row["cell_line_name"] == "22RV1" and row["ln_ic50"] == pytest.approx(2.680711)


def test_gdsc_expression(gdsc_expr):
    # README says 968 cell lines; the file has 967 DATA.<id> columns (968 is the
    # "Gene Expression = Y" count in Cell_Lines_Details.csv)
    assert gdsc_expr.shape == (967, 6163)
    assert gdsc_expr.dtypes.eq(np.float32).all()
    assert gdsc_expr.index.name == "cell_line" and gdsc_expr.index[0] == "906826"
    # values are per-cell-line z-scores
    np.testing.assert_allclose(gdsc_expr.mean(axis=1), 0, atol=1e-3)
    np.testing.assert_allclose(gdsc_expr.std(axis=1), 1, atol=1e-3)


def test_cell_line_details(gdsc_expr):
    det = gdsc.read_cell_line_details(need("gdsc/Cell_Lines_Details.csv"))
    assert len(det) == 1001  # the trailing "TOTAL:" row is dropped
    assert set(gdsc_expr.index) <= set(det["cosmic_id"].astype(str))
    a253 = det.set_index("cell_line_name").loc["A253"]
    assert a253["cosmic_id"] == 906794 and a253["tissue"] == "aero_dig_tract"


# ------------------------------------------------------------------ DepMap


def test_sample_info(gdsc_expr):
    info = depmap.read_sample_info(need("depmap/sample_info.csv"))
    assert len(info) == 1804 and info["depmap_id"].is_unique
    assert info["cosmic_id"].notna().sum() == 980
    first = info.iloc[0]
    assert (first["depmap_id"], first["cell_line_name"], first["cosmic_id"]) == (
        "ACH-000001", "NIHOVCAR3", 905933)
    # DepMap ids reach the GDSC expression through COSMIC ids
    assert info["cosmic_id"].dropna().astype(str).isin(gdsc_expr.index).sum() == 948


# ------------------------------------------------------------------ GEO / single cell


def test_geo_control(geo_control):
    a = geo_control
    assert a.shape == (6000, 22015)
    assert a.X.dtype == np.float32 and a.X.format == "csr"
    assert np.array_equal(a.X.data, np.round(a.X.data)) and a.X.data.min() > 0
    assert a.X.nnz == 1_200_811 and a.X.max() == 413
    assert a.obs_names[0] == "CGGACATTTTTC" and a.var_names[0] == "A2M-AS1"


def test_geo_erlotinib(geo_erlotinib, geo_control):
    a = geo_erlotinib
    assert a.shape == (8600, 21207) and a.X.nnz == 2_021_641
    assert np.array_equal(a.X.data, np.round(a.X.data))
    assert len(a.var_names.intersection(geo_control.var_names)) > 18_000


def test_a375_cells():
    a = geo.read_cell_table(need("sc/A375_PLX4720_zscore.csv.gz"), meta_columns=["response"])
    assert a.shape == (108, 2873) and a.X.dtype == np.float32
    assert int(a.obs["response"].sum()) == 62 and (a.obs["response"] == 0).sum() == 46


# ------------------------------------------------------------------ TCGA


@pytest.mark.parametrize("drug, n, n_cell_lines", [
    ("cisplatin", 40, 668), ("temozolomide", 46, 660), ("sorafenib", 26, 604)])
def test_tcga_drug_cohorts(drug, n, n_cell_lines, gdsc_expr):
    expr = tcga.read_sample_table(need(f"tcga/{drug}/expression_zscore.csv"))
    labels = tcga.read_labels(need(f"tcga/{drug}/labels.csv"))
    cell = tcga.read_labels(need(f"tcga/{drug}/cell_line_labels.csv"))
    assert expr.shape == (n, 1426) and expr.dtypes.eq(np.float32).all()
    assert labels.index.equals(expr.index) and labels.sum() == n // 2  # balanced cohorts
    assert labels.name == "0"  # the header of the label column is literally "0"
    assert len(cell) == n_cell_lines and cell.name == drug
    assert cell.index.str.startswith("ACH-").all()
    assert len(expr.columns.intersection(gdsc_expr.columns)) == 1277


def test_xena_phenotype():
    ph = tcga.read_xena_phenotype(need("tcga/xena_sample_info.csv"))
    assert len(ph) == 9808 and ph.index.name == "sample"
    assert ph["primary_disease"].nunique() == 33
    assert (ph["sample_type"] == "Primary Tumor").sum() == 9185


# ------------------------------------------------------------------ PDTC


def test_pdtc_response(pdtc_response):
    r = pdtc_response
    assert len(r) == 1636 and r["model"].nunique() == 20 and r["drug"].nunique() == 104
    lab = pdtc.pdtc_labels(r)
    assert set(lab["label"]) == {0, 1} and 0.4 < lab["label"].mean() < 0.5


def test_pdtc_expression(pdtc_response):
    e = pdtc.read_pdtc_expression(need("pdtc/expression_zscore.csv"))
    assert e.shape == (39, 1426)
    # only 20 of the 39 expression models have drug responses
    assert len(set(e.index) & set(pdtc_response["model"])) == 20


def test_pdtc_drug_mapping(pdtc_response, gdsc1, gdsc2):
    m = pdtc.read_drug_mapping(need("pdtc/pdtc_gdsc_drug_mapping.csv"))
    assert len(m) == 50
    assert m["pdtc_drug"].isin(pdtc_response["drug"]).all()
    assert m["gdsc_drug"].isin(gdsc1["drug"]).sum() == 49
    assert m["gdsc_drug"].isin(gdsc2["drug"]).sum() == 43
    assert m["gdsc_drug"].isin(set(gdsc1["drug"]) | set(gdsc2["drug"])).all()
    assert m.set_index("pdtc_drug").loc["AG-014699", "gdsc_drug"] == "Rucaparib"


# ------------------------------------------------------------------ gene sets


@pytest.mark.parametrize("name, n_sets", [
    ("h.all.v7.0.symbols.gmt", 50), ("GO_Biological_Process_2021.gmt", 6036),
    ("KEGG_2016.gmt", 293)])
def test_gmt(name, n_sets):
    sets = genesets.read_gmt(need(f"genesets/{name}"))
    assert len(sets) == n_sets and all(len(g) > 0 for g in sets.values())
    assert all("" not in g for g in sets.values())
    if name.startswith("h."):
        assert len(sets["HALLMARK_HYPOXIA"]) == 200
