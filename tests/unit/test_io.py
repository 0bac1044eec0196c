"""Unit tests for drugshift.io parsers on tiny files written to tmp_path."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from drugshift.errors import InputError
from drugshift.io import _table, depmap, gdsc, genesets, geo, pdtc, tcga


def write(tmp_path, name: str, text: str):
    """Write ``text`` to tmp_path/name (gzip-compressed when the name ends with .gz)."""
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def raises(path, problem: str):
    """pytest.raises(InputError) whose message names the file and matches ``problem``."""
    return pytest.raises(InputError, match=re.escape(str(path)) + r": .*" + problem)


# --------------------------------------------------------------------------- _table


class TestTable:
    def test_header_only_is_empty_when_allowed(self, tmp_path):
        assert len(_table.read_table(write(tmp_path, "t.csv", "a,b\n"), ["a"], allow_empty=True)) == 0

    def test_alternative_names_renamed(self, tmp_path):
        path = write(tmp_path, "t.csv", "ModelID,x,y\nA,1,2\n")
        df = _table.read_table(path, [("DepMap_ID", "ModelID")], optional=["x"])
        assert list(df.columns) == ["DepMap_ID", "x"]

    def test_check_numeric_names_column_and_row(self, tmp_path):
        df = pd.DataFrame({"g1": [1.0, 2.0], "g2": ["3", "oops"]}, index=["s1", "s2"])
        with pytest.raises(InputError, match=r"f.csv: non-numeric value 'oops' in matrix column "
                                             r"'g2' \(row 's2'\)"):
            _table.check_numeric(df, "f.csv")
        ok = _table.check_numeric(df.iloc[:1], "f.csv")
        assert ok.dtypes.eq(np.float32).all() and ok.loc["s1", "g2"] == 3

    def test_check_unique_names_a_few(self):
        with pytest.raises(InputError, match=r"x.csv: 2 duplicated sample id\(s\): 'a', 'b'"):
            _table.check_unique(["a", "a", "b", "b", "c"], "x.csv", "sample id")
        _table.check_unique(["a", "b"], "x.csv")

    def test_check_integer(self):
        s = pd.Series(["1", "2.0", None])
        assert _table.check_integer(s, "p", "c", allow_missing=True).tolist()[:2] == [1, 2]
        with pytest.raises(InputError, match="p: 1 missing value"):
            _table.check_integer(s, "p", "c")
        with pytest.raises(InputError, match="p: non-integer value '1.5' in integer column 'c'"):
            _table.check_integer(pd.Series(["1.5"]), "p", "c")
        with pytest.raises(InputError, match="p: non-numeric value 'x' in integer column 'c'"):
            _table.check_integer(pd.Series(["x"]), "p", "c")

    def test_detect_sep(self, tmp_path):
        assert _table.detect_sep(write(tmp_path, "a.txt", "a\tb\n")) == "\t"
        assert _table.detect_sep(write(tmp_path, "b.txt", "a,b\n")) == ","

    def test_read_sample_matrix(self, tmp_path):
        path = write(tmp_path, "m.csv.gz", ",G1,G2,G1\nS1,1,2,3\nS2,4,5,6\n")
        df = _table.read_sample_matrix(path)
        assert df.shape == (2, 2) and df.index.name == "sample" and df.columns.name == "gene"
        assert df.dtypes.eq(np.float32).all()
        assert df.loc["S1", "G1"] == 2 and df.loc["S2", "G2"] == 5  # G1 averaged
        tsv = write(tmp_path, "m.tsv", "id\tG1\n007\t1.5\n")
        assert _table.read_sample_matrix(tsv).index.tolist() == ["007"]  # ids stay str



# --------------------------------------------------------------------------- GDSC

GDSC_FULL_HEADER = ("DATASET,NLME_RESULT_ID,NLME_CURVE_ID,COSMIC_ID,CELL_LINE_NAME,SANGER_MODEL_ID,"
                    "TCGA_DESC,DRUG_ID,DRUG_NAME,PUTATIVE_TARGET,PATHWAY_NAME,COMPANY_ID,"
                    "WEBRELEASE,MIN_CONC,MAX_CONC,LN_IC50,AUC,RMSE,Z_SCORE\n")


def gdsc_row(cosmic, name, drug_id, drug, ln_ic50, auc, z):
    return (f"GDSC2,343,15946,{cosmic},{name},SIDM00263,COAD/READ,{drug_id},{drug},"
            f"\"TOP1, DNA\",DNA replication,1046,Y,0.0001,0.1,{ln_ic50},{auc},0.02,{z}\n")


class TestGdsc:
    def test_response_full_release(self, tmp_path):
        text = (GDSC_FULL_HEADER
                + gdsc_row(924100, "22RV1", 1003, "Camptothecin", -1.0, 0.5, 0.1)
                + gdsc_row(924100, "22RV1", 1807, "Camptothecin", -3.0, 0.7, 0.3)  # replicate
                + gdsc_row(687983, "23132-87", 1004, "123138", 2.0, 0.9, -1.0))
        df = gdsc.read_gdsc_response(write(tmp_path, "GDSC2.csv.gz", text))
        assert list(df.columns) == ["dataset", "cosmic_id", "cell_line_name", "drug",
                                    "ln_ic50", "auc", "z_score"]
        assert df["cosmic_id"].dtype == np.int64
        assert len(df) == 2
        row = df[df["drug"] == "Camptothecin"].iloc[0]
        assert row["ln_ic50"] == pytest.approx(-2.0) and row["auc"] == pytest.approx(0.6)
        assert row["z_score"] == pytest.approx(0.2) and row["dataset"] == "GDSC2"
        assert "123138" in set(df["drug"])  # numeric-looking drug names stay strings

    def test_response_subset_no_zscore(self, tmp_path):
        path = write(tmp_path, "g.csv", "DATASET,COSMIC_ID,CELL_LINE_NAME,DRUG_NAME,LN_IC50,AUC\n"
                                        "GDSC1,924100.0,22RV1,5-Fluorouracil,0.57,0.48\n")
        df = gdsc.read_gdsc_response(path)
        assert df["z_score"].isna().all() and df["cosmic_id"].tolist() == [924100]

    def test_expression(self, tmp_path):
        text = ("GENE_SYMBOLS\tGENE_title\tDATA.906826\tDATA.687983\n"
                "TSPAN6\ttetraspanin 6\t7.5\t8.0\n"
                "\t\t1\t1\n"                       # no symbol -> dropped
                "TNMD\ttenomodulin\t3\t4\n"
                "TSPAN6\tdup\t8.5\t9.0\n")         # duplicated -> averaged
        df = gdsc.read_gdsc_expression(write(tmp_path, "rma.txt.gz", text))
        assert df.shape == (2, 2) and df.dtypes.eq(np.float32).all()
        assert df.index.tolist() == ["906826", "687983"] and df.index.name == "cell_line"
        assert df.columns.tolist() == ["TSPAN6", "TNMD"] and df.columns.name == "gene"
        assert df.loc["906826", "TSPAN6"] == pytest.approx(8.0)

    def test_expression_dedup_suffix(self, tmp_path):
        ok = write(tmp_path, "ok.txt", "GENE_SYMBOLS\tGENE_title\tDATA.1\tDATA.1503362.1\n"
                                       "A\tx\t1\t2\n")
        assert gdsc.read_gdsc_expression(ok).index.tolist() == ["1", "1503362"]

    def test_cell_line_details(self, tmp_path):
        text = ("Sample Name,COSMIC identifier,Whole Exome Sequencing (WES),"
                "GDSC Tissue descriptor 1,GDSC Tissue descriptor 2,"
                "Cancer Type (matching TCGA label)\n"
                "A253,906794.0,Y,aero_dig_tract,head and neck,\n"
                "BB30-HNC,753531.0,Y,aero_dig_tract,head and neck,HNSC\n"
                "TOTAL:,,1001,,,\n")
        df = gdsc.read_cell_line_details(write(tmp_path, "Cell_Lines_Details.csv", text))
        assert list(df.columns) == ["cosmic_id", "cell_line_name", "tissue", "tcga_type"]
        assert df["cosmic_id"].tolist() == [906794, 753531] and df["cosmic_id"].dtype == np.int64
        assert pd.isna(df.loc[0, "tcga_type"]) and df.loc[1, "tcga_type"] == "HNSC"


# --------------------------------------------------------------------------- DepMap


class TestDepmap:
    def test_expression(self, tmp_path):
        text = (",TSPAN6 (7105),TNMD (64102),TSPAN6 (999)\n"
                "ACH-000001,1.0,2.0,3.0\nACH-000002,0,0.5,1\n")
        df = depmap.read_depmap_expression(write(tmp_path, "CCLE_expression.csv", text))
        assert df.index.tolist() == ["ACH-000001", "ACH-000002"] and df.index.name == "cell_line"
        assert df.columns.tolist() == ["TSPAN6", "TNMD"] and df.columns.name == "gene"
        assert df.dtypes.eq(np.float32).all() and df.loc["ACH-000001", "TSPAN6"] == 2.0
        named = write(tmp_path, "named.csv.gz", "DepMap_ID,A1BG (1)\nACH-000003,4.5\n")
        assert depmap.read_depmap_expression(named).loc["ACH-000003", "A1BG"] == 4.5

    def test_sample_info(self, tmp_path):
        text = ("DepMap_ID,stripped_cell_line_name,CCLE_Name,COSMICID,sex,primary_disease,lineage\n"
                "ACH-000001,NIHOVCAR3,NIHOVCAR3_OVARY,905933.0,Female,Ovarian Cancer,ovary\n"
                "ACH-000003,CACO2,CACO2_LARGE_INTESTINE,,Male,Colon/Colorectal Cancer,colorectal\n")
        df = depmap.read_sample_info(write(tmp_path, "sample_info.csv", text))
        assert list(df.columns) == ["depmap_id", "cell_line_name", "cosmic_id", "lineage", "sex",
                                    "primary_disease"]
        assert str(df["cosmic_id"].dtype) == "Int64"
        assert df["cosmic_id"].iloc[0] == 905933 and pd.isna(df["cosmic_id"].iloc[1])
        minimal = write(tmp_path, "min.csv", "DepMap_ID,sex\nACH-1,Male\n")
        m = depmap.read_sample_info(minimal)
        assert m["lineage"].isna().all() and m["cosmic_id"].isna().all() and m["sex"][0] == "Male"
        model = write(tmp_path, "Model.csv", "ModelID,StrippedCellLineName,OncotreeLineage\n"
                                             "ACH-1,X,Lung\n")
        assert depmap.read_sample_info(model).loc[0, "lineage"] == "Lung"

    def test_prism(self, tmp_path):
        text = ("broad_id,depmap_id,ccle_name,screen_id,auc,ic50,name\n"
                "BRD-1,ACH-000001,X,HTS002,0.8,1.0,afatinib\n"
                "BRD-1,ACH-000001,X,MTS005,0.6,1.0,afatinib\n"
                "BRD-1,,X,HTS002,0.5,1.0,afatinib\n"
                "BRD-2,ACH-000002,Y,HTS002,,1.0,cisplatin\n"
                "BRD-2,ACH-000003,Z,HTS002,0.3,1.0,cisplatin\n")
        df = depmap.read_prism_auc(write(tmp_path, "prism.csv", text))
        assert list(df.columns) == ["depmap_id", "drug", "auc"] and len(df) == 2
        assert df.iloc[0].tolist() == ["ACH-000001", "afatinib", pytest.approx(0.7)]


# --------------------------------------------------------------------------- GEO


def counts_text(sep="\t", header_label=True):
    head = (["GENE"] if header_label else []) + ["AAAC", "CCCG", "GGGT"]
    rows = [["A1BG", "0", "3", "0"], ["MT-CO1", "12", "0", "1"], ["A1BG", "1", "0", "0"],
            ["ZZZ", "0", "0", "0"]]
    return "\n".join(sep.join(r) for r in [head] + rows) + "\n"


class TestGeoCounts:
    def test_tab_gz(self, tmp_path):
        a = geo.read_geo_counts(write(tmp_path, "GSM1_counts.txt.gz", counts_text()))
        assert a.shape == (3, 3) and sp.isspmatrix_csr(a.X) and a.X.dtype == np.float32
        assert a.obs_names.tolist() == ["AAAC", "CCCG", "GGGT"]
        assert a.var_names.tolist() == ["A1BG", "MT-CO1", "ZZZ"]  # A1BG rows summed
        np.testing.assert_array_equal(a.X.toarray(), [[1, 12, 0], [3, 0, 0], [0, 1, 0]])

    def test_comma_detected_and_r_style_header(self, tmp_path):
        a = geo.read_geo_counts(write(tmp_path, "c.csv", counts_text(",", header_label=False)))
        assert a.obs_names.tolist() == ["AAAC", "CCCG", "GGGT"] and a.n_vars == 3
        b = geo.read_geo_counts(write(tmp_path, "c2.csv", counts_text(",")), sep=",")
        np.testing.assert_array_equal(a.X.toarray(), b.X.toarray())

    def test_crlf_decimals_and_blank_lines(self, tmp_path):
        text = "GENE\tc1\tc2\r\nG1\t1.5\t0\r\n\r\nG2\t0.0\t2e1\r\n"
        a = geo.read_geo_counts(write(tmp_path, "d.txt", text))
        np.testing.assert_allclose(a.X.toarray(), [[1.5, 0], [0, 20]])

    def test_matches_pandas_across_blocks(self, tmp_path, monkeypatch):
        rng = np.random.default_rng(0)
        m = rng.poisson(0.4, size=(40, 25)) * rng.integers(1, 150, size=(40, 25))
        genes = [f"G{i}" for i in range(40)]
        cells = [f"C{j}" for j in range(25)]
        df = pd.DataFrame(m, index=pd.Index(genes, name="GENE"), columns=cells)
        path = tmp_path / "rand.txt.gz"
        df.to_csv(path, sep="\t")
        monkeypatch.setattr(geo, "_BLOCK_BYTES", 37)  # force many blocks and split lines
        a = geo.read_geo_counts(path)
        np.testing.assert_array_equal(a.X.toarray(), m.T)
        assert a.var_names.tolist() == genes and a.obs_names.tolist() == cells


class TestGeoCellTable:
    TEXT = ("cell,response,batch,G1,G2,G1\n"
            "c1,1,b1,0.5,-1.0,1.5\n"
            "c2,0,b2,0.0,2.0,0.0\n")

    def test_read_cell_table(self, tmp_path):
        a = geo.read_cell_table(write(tmp_path, "cells.csv.gz", self.TEXT),
                                meta_columns=["response", "batch"])
        assert a.shape == (2, 2) and a.obs_names.tolist() == ["c1", "c2"]
        assert a.var_names.tolist() == ["G1", "G2"] and a.X.dtype == np.float32
        assert a.X[0, 0] == pytest.approx(1.0)  # duplicated G1 averaged
        assert a.obs["response"].tolist() == [1, 0] and a.obs["batch"].tolist() == ["b1", "b2"]

    def test_attach_metadata(self, tmp_path):
        a = geo.read_cell_table(write(tmp_path, "cells.csv", self.TEXT), meta_columns=["batch",
                                                                                      "response"])
        meta = write(tmp_path, "meta.csv", "cell,condition,dose\nc2,erlotinib,1.0\n"
                                           "c1,control,0\nc9,other,5\n")
        out = geo.attach_metadata(a, meta)
        assert out is a
        assert a.obs["condition"].tolist() == ["control", "erlotinib"]
        assert a.obs["dose"].tolist() == [0.0, 1.0]

    def test_attach_metadata_errors(self, tmp_path):
        a = geo.read_cell_table(write(tmp_path, "cells.csv", self.TEXT), meta_columns=["batch",
                                                                                      "response"])
        partial = write(tmp_path, "partial.tsv", "barcode\tcondition\nc1\tx\n")
        with raises(partial, "1 of 2 cells have no row in the metadata table.*'c2'"):
            geo.attach_metadata(a, partial, cell_column="barcode")
        with raises(partial, "missing required column.*'cell'.*found: 'barcode'"):
            geo.attach_metadata(a, partial)
        dup = write(tmp_path, "dup.csv", "cell,x\nc1,1\nc1,2\nc2,3\n")
        with raises(dup, r"duplicated cell id\(s\): 'c1'"):
            geo.attach_metadata(a, dup)


# --------------------------------------------------------------------------- TCGA


class TestTcga:
    def test_xena_matrix(self, tmp_path):
        text = ("sample\tTCGA-A1-0001-01\tTCGA-A1-0002-01\n"
                "ENSG000001.1\t-9.9658\t1.5\n"
                "ENSG000002.4\t3.2\t4.4\n")
        df = tcga.read_xena_matrix(write(tmp_path, "tcga_RSEM_gene_tpm.gz", text))
        assert df.shape == (2, 2) and df.index.name == "sample" and df.columns.name == "gene"
        assert df.dtypes.eq(np.float32).all()
        assert df.loc["TCGA-A1-0001-01", "ENSG000001.1"] == pytest.approx(-9.9658)
        gene = write(tmp_path, "g.tsv", "Gene\tS1\nTP53\t1\nTP53\t3\n")
        assert tcga.read_xena_matrix(gene).loc["S1", "TP53"] == 2  # duplicates averaged

    def test_sample_table(self, tmp_path):
        df = tcga.read_sample_table(write(tmp_path, "e.csv", ",PARVA,FMNL1\nTCGA-1,0.1,-1\n"))
        assert df.index.tolist() == ["TCGA-1"] and df.index.name == "sample"
        assert df.dtypes.eq(np.float32).all()

    def test_phenotype(self, tmp_path):
        csv = write(tmp_path, "p.csv", ",sample_type_id,sample_type,_primary_disease\n"
                                       "TCGA-1-06,6.0,Metastatic,thyroid carcinoma\n")
        df = tcga.read_xena_phenotype(csv)
        assert df.index.name == "sample" and list(df.columns) == ["sample_type", "primary_disease"]
        assert df.loc["TCGA-1-06"].tolist() == ["Metastatic", "thyroid carcinoma"]
        tsv = write(tmp_path, "p.tsv",
                    "sample\tsample_type\tprimary_disease\nS\tPrimary Tumor\tx\n")
        assert tcga.read_xena_phenotype(tsv).loc["S", "sample_type"] == "Primary Tumor"

    CLIN = ("bcr_patient_uuid\tbcr_patient_barcode\tbcr_drug_barcode\t"
            "pharmaceutical_therapy_drug_name"
            "\ttreatment_best_response\tdays_to_drug_therapy_start\n"
            "bcr_patient_uuid\tbcr_patient_barcode\tbcr_drug_barcode\t"
            "pharmaceutical_therapy_drug_name"
            "\ttreatment_best_response\tdays_to_drug_therapy_start\n"
            "CDE_ID:\tCDE_ID:2003301\tCDE_ID:2003\tCDE_ID:2975232\tCDE_ID:2857291\tCDE_ID:5102411\n"
            "u1\tTCGA-AA-0001\tD1\t Cisplatin \tComplete Response\t12\n"
            "u2\tTCGA-AA-0002\tD2\tTemozolomide\tClinical Progressive Disease\t[Not Available]\n"
            "u3\tTCGA-AA-0003\tD3\t[Not Available]\t[Unknown]\t-5\n")

    def test_clinical_drug(self, tmp_path):
        df = tcga.read_clinical_drug(write(tmp_path, "clinical_drug_luad.txt", self.CLIN))
        assert list(df.columns) == ["patient", "drug", "best_response", "days_to_start"]
        assert df["patient"].tolist() == ["TCGA-AA-0001", "TCGA-AA-0002", "TCGA-AA-0003"]
        assert df["drug"].tolist()[:2] == ["cisplatin", "temozolomide"]
        assert pd.isna(df["drug"][2]) and pd.isna(df["best_response"][2])
        assert df["days_to_start"].tolist()[0] == 12 and np.isnan(df["days_to_start"][1])
        assert tcga.recist_label(df["best_response"]).tolist()[:2] == [1.0, 0.0]

    def test_recist_label(self):
        s = pd.Series(["Complete Response", "partial response ", "Stable Disease",
                       "Progressive Disease", "Clinical Progressive Disease", "[Unknown]", None],
                      index=list("abcdefg"))
        lab = tcga.recist_label(s)
        assert lab.index.tolist() == list("abcdefg") and lab.name == "label"
        assert lab.tolist()[:5] == [1, 1, 0, 0, 0] and lab[["f", "g"]].isna().all()

    def test_labels(self, tmp_path):
        lab = tcga.read_labels(write(tmp_path, "labels.csv", ",0\nTCGA-1,0\nTCGA-2,1\n"))
        assert lab.name == "0" and lab.dtype == np.int64 and lab.tolist() == [0, 1]
        assert lab.index.tolist() == ["TCGA-1", "TCGA-2"]
        cl = tcga.read_labels(write(tmp_path, "cl.csv", ",cisplatin\nACH-1,1\n"))
        assert cl.name == "cisplatin" and cl["ACH-1"] == 1


# --------------------------------------------------------------------------- PDTC


PDTC_MAPPING = (",gdsc_name,drug_name,ptdc_count,PubCHEM,smiles\n"
                "wee,Wee1 Inhibitor,681640,32,10384072,C1\n"
                "ruc,Rucaparib,AG-014699,22,9931954,C2\n")


class TestPdtc:
    RESP = ("Model\tDrug\tAUC\tiC50\tD1_CONC\tD5_CONC\tperc.iC50\n"
            "HCI001\tAZD8055\t0.2\t5.4\t7.7\t2.3\t71\n"
            "HCI002\tAZD8055\t0.4\t1.0\t7.7\t2.3\t71\n"
            "HCI003\tAZD8055\t0.6\t2.0\t7.7\t2.3\t71\n"
            "HCI001\t681640\t0.5\t1.0\t7.7\t2.3\t71\n"
            "HCI002\t681640\t0.3\t1.0\t7.7\t2.3\t71\n")

    def test_response_and_labels(self, tmp_path):
        df = pdtc.read_pdtc_response(write(tmp_path, "DrugResponsesAUCModels.txt", self.RESP))
        assert list(df.columns) == ["model", "drug", "auc", "ic50"] and len(df) == 5
        assert df["drug"].tolist()[3] == "681640"
        lab = pdtc.pdtc_labels(df)
        assert lab["label"].tolist() == [1, 0, 0, 0, 1] and "label" not in df.columns

    def test_mapping(self, tmp_path):
        df = pdtc.read_drug_mapping(write(tmp_path, "map.csv", PDTC_MAPPING))
        assert list(df.columns) == ["pdtc_drug", "gdsc_drug"]
        assert df.values.tolist() == [["681640", "Wee1 Inhibitor"], ["AG-014699", "Rucaparib"]]

    def test_labels_need_the_response_columns(self):
        with pytest.raises(InputError, match="lacks column"):
            pdtc.pdtc_labels(pd.DataFrame({"drug": ["a"]}))

    def test_expression(self, tmp_path):
        df = pdtc.read_pdtc_expression(write(tmp_path, "e.csv", "Sample,G1\nAB521M,1.5\n"))
        assert df.loc["AB521M", "G1"] == 1.5 and df.dtypes.eq(np.float32).all()


# --------------------------------------------------------------------------- gene sets


class TestGenesets:
    def test_read_enrichr_and_msigdb(self, tmp_path):
        text = ("HALLMARK_X\thttp://msigdb/X\tA\tB\tC\n"
                "\n"
                "GO term (GO:1)\t\tD\t\tE\tD\t\n")
        sets = genesets.read_gmt(write(tmp_path, "s.gmt.gz", text))
        assert sets == {"HALLMARK_X": ["A", "B", "C"], "GO term (GO:1)": ["D", "E"]}

    def test_roundtrip(self, tmp_path):
        sets = {"S1": ["A", "B"], "S2": ["C"]}
        for name in ("out.gmt", "out.gmt.gz"):
            genesets.write_gmt(sets, tmp_path / name, description="made here")
            assert genesets.read_gmt(tmp_path / name) == sets
        line = (tmp_path / "out.gmt").read_text().splitlines()[0]
        assert line == "S1\tmade here\tA\tB"
        with pytest.raises(ValueError, match="tab or newline"):
            genesets.write_gmt({"a\tb": ["A"]}, tmp_path / "bad.gmt")


def test_io_init_is_light():
    import importlib
    import sys

    import drugshift.io as io_pkg

    importlib.reload(io_pkg)
    assert "drugshift.io" in sys.modules and io_pkg.__doc__ and "genesets" in io_pkg.__doc__


# --------------------------------------------------------------------------- malformed files


def bad_file(reader, name: str, content: str | bytes | None, problem: str, *, id: str, **kwargs):
    """One malformed input: ``reader(path, **kwargs)`` must raise an InputError naming the file
    and matching ``problem``. ``content`` None: the file does not exist; bytes: written as is."""
    return pytest.param(reader, name, content, problem, kwargs, id=id)


BAD_FILES = [
    # _table
    bad_file(_table.read_table, "nope.csv", None, "file not found", required=["a"], id="table-missing-file"),
    bad_file(_table.read_table, "empty.csv", "", "empty", required=["a"], id="table-empty"),
    bad_file(_table.read_table, "empty.csv.gz", "", "empty", required=["a"], id="table-empty-gz"),
    bad_file(_table.read_table, "bad.csv.gz", b"this is not gzip", "cannot read", required=["a"],
             id="table-corrupt-gz"),
    bad_file(_table.read_table, "t.csv", "a,b,c\n1,2,3\n", "expected tab-separated.*looks comma-separated",
             required=["a"], sep="\t", id="table-wrong-separator"),
    bad_file(_table.read_table, "t.csv", "a,b\n1,2\n", r"missing required column\(s\) 'z'; columns found: 'a', 'b'",
             required=["a", "z"], id="table-missing-column"),
    bad_file(_table.read_table, "t.csv", "a,b\n", "no data rows", required=["a"], id="table-header-only"),
    bad_file(_table.read_table, "t.csv", "a,b\n1,2\n1,2,3,4\n", "cannot parse as a comma-separated table",
             required=["a"], id="table-ragged"),
    bad_file(_table.detect_sep, "c.txt", "a;b\n", "cannot detect the separator.*found a single field 'a;b'",
             id="detect-sep-single-field"),
    bad_file(_table.read_sample_matrix, "dup.csv", ",G1\nS1,1\nS1,2\nS2,3\n", r"1 duplicated sample id\(s\): 'S1'",
             id="sample-matrix-duplicate"),
    bad_file(_table.read_sample_matrix, "bad.csv", ",G1,G2\nS1,1,2\nS2,3,abc\n",
             r"non-numeric value 'abc' in expression column 'G2' \(row 'S2'\)", id="sample-matrix-non-numeric"),
    bad_file(_table.read_sample_matrix, "noid.csv", ",G1\n,1\n", "without a sample id", id="sample-matrix-no-id"),
    # GDSC
    bad_file(gdsc.read_gdsc_response, "miss.csv", "DATASET,COSMIC_ID,DRUG_NAME,LN_IC50\nGDSC1,1,a,1\n",
             r"missing required column\(s\) 'CELL_LINE_NAME', 'AUC'; columns found", id="gdsc-response-missing-column"),
    bad_file(gdsc.read_gdsc_response, "g.tsv", "DATASET\tCOSMIC_ID\tCELL_LINE_NAME\tDRUG_NAME\tLN_IC50\tAUC\n"
             "GDSC1\t1\tx\td\t1\t0.5\n", "expected comma-separated.*looks tab-separated", id="gdsc-response-tabs"),
    bad_file(gdsc.read_gdsc_response, "bad.csv", "DATASET,COSMIC_ID,CELL_LINE_NAME,DRUG_NAME,LN_IC50,AUC\n"
             "GDSC1,1,x,d,high,0.5\n", "non-numeric value 'high' in dose-response column 'LN_IC50'",
             id="gdsc-response-non-numeric"),
    bad_file(gdsc.read_gdsc_response, "badid.csv", "DATASET,COSMIC_ID,CELL_LINE_NAME,DRUG_NAME,LN_IC50,AUC\n"
             "GDSC1,SIDM1,x,d,1,0.5\n", "non-numeric value 'SIDM1' in integer column 'COSMIC_ID'",
             id="gdsc-response-non-integer-id"),
    bad_file(gdsc.read_gdsc_response, "empty.csv", "", "empty", id="gdsc-response-empty"),
    bad_file(gdsc.read_gdsc_expression, "dup.txt", "GENE_SYMBOLS\tGENE_title\tDATA.1503362\tDATA.1503362.1\n"
             "A\tx\t1\t2\n", r"duplicated cell-line column.*1503362", id="gdsc-expression-duplicate-suffix"),
    bad_file(gdsc.read_gdsc_expression, "dup2.txt", "GENE_SYMBOLS\tDATA.7\tDATA.7\nA\t1\t2\n",
             r"duplicated cell-line column.*'7'", id="gdsc-expression-duplicate"),
    bad_file(gdsc.read_gdsc_expression, "e.csv", "GENE_SYMBOLS,GENE_title,DATA.1\nA,x,1\n",
             "expected tab-separated.*looks comma-separated", id="gdsc-expression-commas"),
    bad_file(gdsc.read_gdsc_expression, "nosym.txt", "GENE\tDATA.1\nA\t1\n",
             r"missing required column\(s\) 'GENE_SYMBOLS'; columns found: 'GENE'", id="gdsc-expression-no-symbols"),
    bad_file(gdsc.read_gdsc_expression, "other.txt", "GENE_SYMBOLS\tGENE_title\tDATA.1\tfoo\nA\tx\t1\t2\n",
             "column 'foo' is not of the form DATA.<COSMIC_ID>", id="gdsc-expression-stray-column"),
    bad_file(gdsc.read_gdsc_expression, "bad.txt", "GENE_SYMBOLS\tGENE_title\tDATA.1\tDATA.2\nA\tx\t1\t2\n"
             "B\ty\t3\tNaNx\n", r"non-numeric value 'NaNx' in expression column 'DATA.2' \(row 'B'\)",
             id="gdsc-expression-non-numeric"),
    bad_file(gdsc.read_gdsc_expression, "nodata.txt", "GENE_SYMBOLS\tGENE_title\nA\tx\n", "no DATA",
             id="gdsc-expression-no-data"),
    bad_file(gdsc.read_cell_line_details, "d.csv", "Sample Name,COSMIC identifier\nA,1\n",
             "missing required column.*'GDSC Tissue descriptor 1'", id="gdsc-details-missing-column"),
    bad_file(gdsc.read_cell_line_details, "dup.csv", "Sample Name,COSMIC identifier,GDSC Tissue descriptor 1,"
             "Cancer Type (matching TCGA label)\nA,1,t,X\nB,1,t,X\n", r"duplicated COSMIC identifier\(s\): '1'",
             id="gdsc-details-duplicate"),
    # DepMap
    bad_file(depmap.read_depmap_expression, "e.csv", ",A (1)\nACH-1,1\nACH-1,2\n",
             r"duplicated cell_line id\(s\): 'ACH-1'", id="depmap-expression-duplicate"),
    bad_file(depmap.read_depmap_expression, "bad.csv", ",A (1)\nACH-1,x\n",
             r"non-numeric value 'x' in expression column 'A \(1\)'", id="depmap-expression-non-numeric"),
    bad_file(depmap.read_depmap_expression, "e.tsv", "\tA (1)\nACH-1\t1\n",
             "expected comma-separated.*looks tab-separated", id="depmap-expression-tabs"),
    bad_file(depmap.read_sample_info, "s.csv", "name,COSMICID\nA,1\n",
             "missing required column.*'DepMap_ID' or 'ModelID'.*found: 'name'", id="depmap-info-missing-id"),
    bad_file(depmap.read_sample_info, "dup.csv", "DepMap_ID,COSMICID\nACH-1,1\nACH-1,2\n",
             r"duplicated DepMap_ID\(s\): 'ACH-1'", id="depmap-info-duplicate"),
    bad_file(depmap.read_sample_info, "bad.csv", "DepMap_ID,COSMICID\nACH-1,abc\n",
             "non-numeric value 'abc' in integer column 'COSMICID'", id="depmap-info-non-integer"),
    bad_file(depmap.read_prism_auc, "p.csv", "depmap_id,auc\nACH-1,0.5\n", "missing required column.*'name'",
             id="prism-missing-column"),
    bad_file(depmap.read_prism_auc, "bad.csv", "depmap_id,name,auc\nACH-1,a,lots\n",
             "non-numeric value 'lots' in PRISM column 'auc'", id="prism-non-numeric"),
    # GEO counts and cell tables
    bad_file(geo.read_geo_counts, "empty.txt.gz", "", "empty", id="geo-empty"),
    bad_file(geo.read_geo_counts, "one.txt", "GENE;c1;c2\nA;1;2\n",
             "cannot detect the separator.*found a single field 'GENE;c1;c2'", id="geo-unknown-separator"),
    bad_file(geo.read_geo_counts, "forced.txt", "GENE,c1,c2\nA,1,2\n",
             "expected tab-separated columns but the header has a single field", sep="\t", id="geo-forced-separator"),
    bad_file(geo.read_geo_counts, "dup.txt", "GENE\tc1\tc1\tc2\nA\t1\t2\t3\n", r"1 duplicated cell id\(s\): 'c1'",
             id="geo-duplicate-cell"),
    bad_file(geo.read_geo_counts, "ragged.txt", "GENE\tc1\tc2\nA\t1\t2\nB\t1\n", "line 3 has 2 fields, expected 3",
             id="geo-ragged"),
    bad_file(geo.read_geo_counts, "bad.txt", "GENE\tc1\tc2\nA\t1\t2\nB\t1\tNA?\n",
             r"line 3 \(gene 'B', cell 'c2'\): non-numeric value 'NA\?'", id="geo-non-numeric"),
    bad_file(geo.read_geo_counts, "hole.txt", "GENE\tc1\tc2\nA\t\t2\n", r"gene 'A', cell 'c1'\): empty value",
             id="geo-empty-value"),
    bad_file(geo.read_geo_counts, "neg.txt", "GENE\tc1\tc2\nA\t-1\t2\n", "negative count '-1'", id="geo-negative"),
    bad_file(geo.read_geo_counts, "nogene.txt", "GENE\tc1\n\t1\n", "line 2: empty gene symbol", id="geo-no-gene"),
    bad_file(geo.read_geo_counts, "h.txt", "GENE\tc1\tc2\n", "no data rows", id="geo-header-only"),
    bad_file(geo.read_cell_table, "cells.csv", TestGeoCellTable.TEXT, "missing required column.*'label'",
             meta_columns=["label"], id="cell-table-missing-meta"),
    bad_file(geo.read_cell_table, "cells.csv", TestGeoCellTable.TEXT,
             "non-numeric value 'b1' in expression column 'batch'", meta_columns=["response"],
             id="cell-table-meta-not-declared"),
    bad_file(geo.read_cell_table, "dup.csv", "cell,G1\nc1,1\nc1,2\n", r"duplicated cell id\(s\): 'c1'",
             id="cell-table-duplicate"),
    bad_file(geo.read_cell_table, "meta.csv", "cell,response\nc1,1\n", "no gene columns", meta_columns=["response"],
             id="cell-table-no-genes"),
    # TCGA
    bad_file(tcga.read_xena_matrix, "x.tsv", "sample\tS1\tS1\nG\t1\t2\n", r"1 duplicated sample\(s\): 'S1'",
             id="xena-duplicate"),
    bad_file(tcga.read_xena_matrix, "bad.tsv", "sample\tS1\tS2\nG\t1\tx\n",
             r"non-numeric value 'x' in expression column 'S2' \(row 'G'\)", id="xena-non-numeric"),
    bad_file(tcga.read_xena_matrix, "x.csv", "sample,S1\nG,1\n", "expected tab-separated.*looks comma-separated",
             id="xena-commas"),
    bad_file(tcga.read_xena_phenotype, "p.csv", ",sample_type\nS,x\n",
             "missing required column.*'primary_disease' or '_primary_disease'", id="phenotype-missing-column"),
    bad_file(tcga.read_xena_phenotype, "d.csv", ",sample_type,_primary_disease\nS,x,y\nS,x,y\n",
             r"duplicated sample id\(s\): 'S'", id="phenotype-duplicate"),
    bad_file(tcga.read_clinical_drug, "c.txt", "bcr_patient_barcode\tpharmaceutical_therapy_drug_name\nTCGA-1\tx\n",
             "missing required column.*'treatment_best_response'", id="clinical-missing-column"),
    bad_file(tcga.read_clinical_drug, "bad.txt", TestTcga.CLIN.replace("\t12\n", "\tsoon\n"),
             "non-numeric value 'soon' in clinical column 'days_to_drug_therapy_start'", id="clinical-non-numeric"),
    bad_file(tcga.read_clinical_drug, "only.txt", "\n".join(TestTcga.CLIN.splitlines()[:3]) + "\n", "no data rows",
             id="clinical-headers-only"),
    bad_file(tcga.read_labels, "l.csv", ",0\nA,1\nB,2\n", "label column '0' must hold 0/1; found '2' for 'B'",
             id="labels-not-binary"),
    bad_file(tcga.read_labels, "w.csv", ",a,b\nA,1,0\n", r"expected 2 columns \(id, label\), found 3",
             id="labels-too-wide"),
    bad_file(tcga.read_labels, "d.csv", ",0\nA,1\nA,0\n", r"duplicated id\(s\): 'A'", id="labels-duplicate"),
    bad_file(tcga.read_labels, "m.csv", ",0\nA,\n", "must hold 0/1", id="labels-missing"),
    # PDTC
    bad_file(pdtc.read_pdtc_response, "r.txt", "Model\tDrug\tAUC\nA\tx\t1\n", "missing required column.*'iC50'",
             id="pdtc-response-missing-column"),
    bad_file(pdtc.read_pdtc_response, "bad.txt", TestPdtc.RESP.replace("0.6", "n/a?"),
             r"non-numeric value 'n/a\?' in drug response column 'AUC'", id="pdtc-response-non-numeric"),
    bad_file(pdtc.read_pdtc_response, "r.csv", "Model,Drug,AUC,iC50\nA,x,1,1\n",
             "expected tab-separated.*looks comma-separated", id="pdtc-response-commas"),
    bad_file(pdtc.read_drug_mapping, "dup.csv", PDTC_MAPPING + "x,Other,681640,1,1,C\n",
             r"duplicated PDTC drug name\(s\): '681640'", id="pdtc-mapping-duplicate"),
    bad_file(pdtc.read_drug_mapping, "miss.csv", ",gdsc_name\na,b\n", "missing required column.*'drug_name'",
             id="pdtc-mapping-missing-column"),
    # gene sets
    bad_file(genesets.read_gmt, "short.gmt", "S1\td\tA\nS2 A B C\n",
             "line 2: expected at least 3 tab-separated fields.*found 1", id="gmt-too-few-fields"),
    bad_file(genesets.read_gmt, "empty.gmt", "", "empty", id="gmt-empty"),
    bad_file(genesets.read_gmt, "nogenes.gmt", "S1\td\t\t\n", "line 1: gene set 'S1' has no genes", id="gmt-no-genes"),
    bad_file(genesets.read_gmt, "twice.gmt", "S1\td\tA\nS1\td\tB\n", "line 2: gene set 'S1' appears twice",
             id="gmt-set-twice"),
    bad_file(genesets.read_gmt, "missing.gmt", None, "file not found", id="gmt-missing-file"),
]


@pytest.mark.parametrize("reader, name, content, problem, kwargs", BAD_FILES)
def test_reader_rejects_a_malformed_file(tmp_path, reader, name, content, problem, kwargs):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        write(tmp_path, name, content)
    with raises(path, problem):
        reader(path, **kwargs)
