"""Single-cell formats, dataset entries, GEO per-series quirks, orthologs, Xena probe maps, GDC Biotab."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from drugshift.errors import InputError
from drugshift.io import gdc, geo_series, orthologs, sc_formats, xena
from drugshift.io.sc_formats import dataset_labels, load_dataset

GENES = ["Actb", "Gapdh", "Mt-co1", "Xist"]


def _geo(path: Path, genes, cells, X, sep="\t", gz=True) -> Path:
    lines = [sep.join(["GENE", *cells])] + [sep.join([g, *map(str, row)]) for g, row in zip(genes, X)]
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def _xlsx(path: Path, rows: list[list[str | None]]) -> Path:
    """A minimal xlsx workbook (shared strings + inline numbers) as Excel writes it."""
    strings: list[str] = []
    cells_xml = []
    for i, row in enumerate(rows, start=1):
        cs = []
        for j, v in enumerate(row):
            if v is None:
                continue
            ref = f"{chr(65 + j)}{i}"
            if isinstance(v, (int, float)):
                cs.append(f'<c r="{ref}"><v>{v}</v></c>')
            else:
                strings.append(v)
                cs.append(f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>')
        cells_xml.append(f'<row r="{i}">{"".join(cs)}</row>')
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", f'<workbook {ns} {rel}><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        zf.writestr("xl/_rels/workbook.xml.rels",
                    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
                    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/></Relationships>')
        zf.writestr("xl/sharedStrings.xml", f'<sst {ns}>' + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>")
        zf.writestr("xl/worksheets/sheet1.xml", f'<worksheet {ns}><sheetData>{"".join(cells_xml)}</sheetData></worksheet>')
    return path


# ------------------------------------------------------------------ formats


def test_format_aliases_and_values():
    assert sc_formats.canonical_format("cells_csv") == "cells_by_genes"
    assert sc_formats.canonical_format("genes_by_cells") == "geo_counts"
    with pytest.raises(ValueError, match="unknown single-cell format"):
        sc_formats.canonical_format("loom")
    assert sc_formats.values_of({}) == "counts"
    assert sc_formats.values_of({"normalised": True}) == "normalised"
    assert sc_formats.values_of({"values": "tpm", "normalised": False}) == "tpm"
    with pytest.raises(ValueError, match="contradicts"):
        sc_formats.values_of({"values": "counts", "normalised": True})


@pytest.mark.parametrize("layout", ["v3_folder", "v2_prefixed_file"])
def test_read_mtx_10x(tmp_path, layout):
    X = sp.coo_matrix(np.array([[1, 0, 2], [0, 3, 0], [4, 0, 0]], dtype=float))  # genes x cells
    if layout == "v3_folder":
        d = tmp_path / "filtered"
        d.mkdir()
        with gzip.open(d / "matrix.mtx.gz", "wb") as fh:
            scipy.io.mmwrite(fh, X)
        with gzip.open(d / "features.tsv.gz", "wt") as fh:
            fh.write("ENSG1\tTP53\tGene Expression\nENSG2\tEGFR\tGene Expression\nENSG3\tTP53\tGene Expression\n")
        with gzip.open(d / "barcodes.tsv.gz", "wt") as fh:
            fh.write("AAA-1\nCCC-1\nGGG-1\n")
        target = d
    else:
        scipy.io.mmwrite(tmp_path / "GSM1_matrix.mtx", X)
        (tmp_path / "GSM1_genes.tsv").write_text("ENSG1\tTP53\nENSG2\tEGFR\nENSG3\tTP53\n")
        (tmp_path / "GSM1_barcodes.tsv").write_text("AAA-1\nCCC-1\nGGG-1\n")
        target = tmp_path / "GSM1_matrix.mtx"
    a = sc_formats.read_mtx_10x(target)
    assert a.shape == (3, 2) and list(a.var_names) == ["TP53", "EGFR"]
    assert list(a.obs_names) == ["AAA-1", "CCC-1", "GGG-1"]
    # TP53 is listed twice (ENSG1, ENSG3): summed
    np.testing.assert_array_equal(a.X.toarray(), [[5, 0], [0, 3], [2, 0]])
    assert a.var.loc["TP53", "gene_id"] == "ENSG1"


def test_read_mtx_10x_dimension_mismatch(tmp_path):
    scipy.io.mmwrite(tmp_path / "matrix.mtx", sp.coo_matrix(np.ones((2, 2))))
    (tmp_path / "genes.tsv").write_text("a\tA\n")
    (tmp_path / "barcodes.tsv").write_text("x\ny\n")
    with pytest.raises(InputError, match="2 genes x 2 cells but genes.tsv lists 1"):
        sc_formats.read_mtx_10x(tmp_path)


def test_files_per_condition_give_condition_labels(tmp_path):
    c = _geo(tmp_path / "ctrl.txt.gz", ["A", "B"], ["c1", "c2"], [[1, 0], [2, 3]])
    e = _geo(tmp_path / "erl.csv", ["B", "C"], ["c1", "c3"], [[5, 0], [1, 1]], sep=",", gz=False)
    spec = {"files": {"control": str(c), "erlotinib": str(e)}, "format": "genes_by_cells", "drug": "Erlotinib",
            "label": {"column": "condition", "sensitive": ["control"], "resistant": ["erlotinib"]}}
    a = load_dataset(spec, spec["files"])
    assert list(a.obs_names) == ["control:c1", "control:c2", "erlotinib:c1", "erlotinib:c3"]
    assert sorted(a.var_names) == ["A", "B", "C"]  # union; absent genes count 0
    assert a[["control:c1"], ["C"]].X.toarray()[0, 0] == 0
    assert a[["erlotinib:c1"], ["B"]].X.toarray()[0, 0] == 5
    assert list(dataset_labels(a, spec["label"])) == [1.0, 1.0, 0.0, 0.0]
    assert a.uns["values"] == "counts"


def test_normalised_files_keep_shared_genes(tmp_path):
    c = tmp_path / "a.csv"
    c.write_text("cell,G1,G2\nx,0.5,-1\n")
    e = tmp_path / "b.csv"
    e.write_text("cell,G2,G3\ny,1.5,2\n")
    spec = {"files": {"s": str(c), "r": str(e)}, "format": "cells_csv", "normalised": True,
            "label": {"column": "condition", "sensitive": ["s"], "resistant": ["r"]}}
    a = load_dataset(spec, spec["files"])
    assert list(a.var_names) == ["G2"] and a.uns["values"] == "normalised"


def test_h5ad_and_cell_name_pattern(tmp_path):
    obs = pd.DataFrame({"batch": ["b1", "b2", "b1"]}, index=["PC9_parental_1", "PC9_GR_2", "PC9_odd_3"])
    ad.AnnData(X=np.ones((3, 2), dtype=np.float32), obs=obs,
               var=pd.DataFrame(index=["G1", "G2"])).write_h5ad(tmp_path / "x.h5ad")
    spec = {"path": str(tmp_path / "x.h5ad"), "format": "h5ad",
            "label": {"cell_name_pattern": r"^[^_]+_([^_]+)_", "sensitive": ["parental"], "resistant": ["GR"]}}
    a = load_dataset(spec, spec["path"])
    labels = dataset_labels(a, spec["label"])
    assert list(a.obs["condition_from_name"]) == ["parental", "GR", "odd"]
    assert labels.iloc[0] == 1.0 and labels.iloc[1] == 0.0 and np.isnan(labels.iloc[2])
    b = load_dataset({**spec, "label": {"column": "batch", "sensitive": ["b1"], "resistant": ["b2"]}}, spec["path"])
    assert list(dataset_labels(b, {"column": "batch", "sensitive": ["b1"], "resistant": ["b2"]})) == [1.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="label column 'nope'"):
        dataset_labels(b, {"column": "nope"})


def test_subset_keeps_matching_cells(tmp_path):
    obs = pd.DataFrame({"origin": ["HN120P", "HN137M", "HN120M"]}, index=["a", "b", "c"])
    a = ad.AnnData(X=np.ones((3, 1), dtype=np.float32), obs=obs)
    assert list(sc_formats.subset_cells(a, "origin", pattern="^HN120").obs_names) == ["a", "c"]
    assert list(sc_formats.subset_cells(a, "origin", values=["HN137M"]).obs_names) == ["b"]
    with pytest.raises(ValueError, match="keeps no cell"):
        sc_formats.subset_cells(a, "origin", pattern="^HN999")
    with pytest.raises(ValueError, match="unknown series"):
        geo_series.annotate("GSE1", a, None)


def test_counts_folder_prefixes_cells_by_file(tmp_path):
    d = tmp_path / "GSE1_RAW.tar.d"
    d.mkdir()
    _geo(d / "GSM11_P1.counts.txt.gz", ["A", "B"], ["A1", "B2"], [[1, 0], [0, 2]])
    _geo(d / "GSM12_P2.counts.txt.gz", ["B", "C"], ["A1"], [[7], [1]])
    (d / "README").write_text("not a count file")
    a = sc_formats.read_matrix_file(d, "geo_counts")
    assert list(a.obs_names) == ["P1_A1", "P1_B2", "P2_A1"] and sorted(a.var_names) == ["A", "B", "C"]
    assert list(a.obs["file"]) == ["GSM11_P1.counts.txt.gz"] * 2 + ["GSM12_P2.counts.txt.gz"]
    b = sc_formats.read_matrix_file(d, "geo_counts", cell_prefix_pattern=r"GSM(\d+)_")
    assert list(b.obs_names) == ["11_A1", "11_B2", "12_A1"]


# ------------------------------------------------------------------ orthologs


def _mgi(path: Path) -> Path:
    rows = [("1", "mouse, laboratory", "10090", "Actb"), ("1", "human", "9606", "ACTB"),
            ("2", "mouse, laboratory", "10090", "Gapdh"), ("2", "human", "9606", "GAPDH"),
            ("3", "mouse, laboratory", "10090", "Xist"),                       # no human gene
            ("4", "mouse, laboratory", "10090", "H2-K1"), ("4", "mouse, laboratory", "10090", "H2-D1"),
            ("4", "human", "9606", "HLA-A")]                                   # many-to-one: left out
    text = "DB Class Key\tCommon Organism Name\tNCBI Taxon ID\tSymbol\tEntrezGene ID\n"
    text += "".join("\t".join(r) + "\t0\n" for r in rows)
    path.write_text(text)
    return path


def test_mgi_orthologs_and_mouse_dataset(tmp_path):
    table = orthologs.read_mgi_orthologs(_mgi(tmp_path / "HOM_MouseHumanSequence.rpt"))
    assert table.to_dict() == {"Actb": "ACTB", "Gapdh": "GAPDH"}
    counts = _geo(tmp_path / "m.txt.gz", ["Actb", "Gapdh", "Xist", "H2-K1"], ["c1", "c2"], [[1, 2], [3, 4], [5, 6], [7, 8]])
    spec = {"path": str(counts), "species": "mouse", "label": {"column": "condition"}}
    with pytest.raises(ValueError, match="sc.orthologs"):
        load_dataset(spec, spec["path"])
    a = load_dataset(spec, spec["path"], orthologs=tmp_path / "HOM_MouseHumanSequence.rpt")
    assert list(a.var_names) == ["ACTB", "GAPDH"] and list(a.var["mouse_symbol"]) == ["Actb", "Gapdh"]
    assert a.uns["orthologs"] == {"genes_in": 4, "mapped": 2, "dropped": 2}
    np.testing.assert_array_equal(a.X.toarray(), [[1, 3], [2, 4]])
    with pytest.raises(ValueError, match="none of the"):
        orthologs.to_human(a, table)


# ------------------------------------------------------------------ GEO per-series layouts


def test_gse110894_cellinfo_xlsx(tmp_path):
    info = _xlsx(tmp_path / "GSE110894_CellInfo.xlsx", [
        ["Cell information"], [], [],
        ["Plate#", "Well position", "Sample name", "Cell type"],
        ["P1", "A1=1", "Parental DMSO", "MLL-AF9"],
        [None, "A2=2", None, None],
        [None, "A3=3", "400nM I-BET", None],
        ["P2", "A1=1", "I-BET RESISTANT", None],
        [None, "A2=2", "RESISTANT withdrawn", None],
    ])
    counts = _geo(tmp_path / "c.txt.gz", ["Actb"], ["P1_A1", "P1_A2", "P1_A3", "P2_A1", "P2_A2"], [[1, 2, 3, 4, 5]])
    a = load_dataset({"path": str(counts), "series": "GSE110894"}, str(counts), metadata=info)
    assert list(a.obs["condition"]) == ["Parental DMSO", "Parental DMSO", "400nM I-BET", "I-BET RESISTANT",
                                        "RESISTANT withdrawn"]
    assert list(a.obs["sensitivity"]) == ["sensitive"] * 3 + ["resistant"] * 2
    assert list(a.obs["Cell type"]) == ["MLL-AF9"] * 5  # forward-filled
    bad = _geo(tmp_path / "d.txt.gz", ["Actb"], ["P9_A1"], [[1]])
    with pytest.raises(InputError, match="1 of 1 cells have no CellInfo row: 'P9_A1'"):
        load_dataset({"path": str(bad), "series": "GSE110894"}, str(bad), metadata=info)


def test_gse117872_cellinfo_and_subset(tmp_path):
    cells = ["HN120P_1", "HN120M_2", "HN137P_3", "HN120PCR_4"]
    tpm = _geo(tmp_path / "GSE117872_good_Data_TPM.txt.gz", ["TP53", "EGFR"], cells, [[1.5, 0, 2.25, 3], [0, 1, 1, 0]])
    info = tmp_path / "GSE117872_good_Data_cellinfo.txt.gz"
    with gzip.open(info, "wt") as fh:
        fh.write("groups\tcell_color\tpatient_id\torigin\tdrug_status\tcluster\n")
        for c, o, cl in zip(cells, ["HN120P", "HN120M", "HN137P", "HN120PCR"],
                            ["Sensitive", "Holiday", "Sensitive", "Resistant"]):
            fh.write(f"{c}\tred\t{o[:5]}\t{o}\tx\t{cl}\n")
    spec = {"path": str(tpm), "series": "GSE117872", "values": "tpm", "subset": {"column": "origin", "pattern": "^HN120"},
            "label": {"column": "sensitivity", "sensitive": ["sensitive"], "resistant": ["resistant"]}}
    a = load_dataset(spec, spec["path"], metadata=info)
    assert list(a.obs_names) == ["HN120P_1", "HN120M_2", "HN120PCR_4"]
    assert list(dataset_labels(a, spec["label"])) == [1.0, 1.0, 0.0]  # Holiday counts as sensitive
    assert a.uns["values"] == "tpm" and a.X[0, 0] == pytest.approx(1.5)


def test_gse149383_and_gse140440_headerless_tables(tmp_path):
    data = _geo(tmp_path / "erl.csv.gz", ["EGFR"], ["c1", "c2", "c3"], [[1, 2, 3]], sep=",")
    meta = tmp_path / "meta.csv.gz"
    with gzip.open(meta, "wt") as fh:
        fh.write("c3,Erl_res\nc1,D0\nc2,D1_Erl\n")  # another order than the matrix: joined by id
    a = load_dataset({"path": str(data), "series": "GSE149383"}, str(data), metadata=meta)
    assert list(a.obs["sensitivity"]) == ["sensitive", "sensitive", "resistant"]
    ann = tmp_path / "Annotation.txt"
    ann.write_text("c2\tDU145_Res\nc1\tDU145_Sen\nc3\tPC3_Sen\n")
    b = load_dataset({"path": str(data), "series": "GSE140440"}, str(data), metadata=ann)
    assert list(b.obs["condition"]) == ["DU145_Sen", "DU145_Res", "PC3_Sen"]
    assert list(b.obs["sensitivity"]) == ["sensitive", "resistant", "sensitive"]
    with pytest.raises(ValueError, match="needs its cell metadata"):
        load_dataset({"path": str(data), "series": "GSE140440"}, str(data))


def test_gse112274_fpkm_cells_by_genes(tmp_path):
    f = tmp_path / "GSE112274_cell_gene_FPKM.csv.gz"
    with gzip.open(f, "wt") as fh:
        fh.write(",EGFR,TP53\nPC9_parental_A01,10.5,0\nPC9_GR1_A02,3.25,1\n")
    spec = {"path": str(f), "format": "cells_by_genes", "series": "GSE112274", "values": "fpkm",
            "label": {"column": "sensitivity", "sensitive": ["sensitive"], "resistant": ["resistant"]}}
    a = load_dataset(spec, spec["path"])
    assert a.shape == (2, 2) and list(a.obs["condition"]) == ["parental", "GR1"]
    assert list(dataset_labels(a, spec["label"])) == [1.0, 0.0]


# ------------------------------------------------------------------ Xena, GDC


def test_xena_probemap(tmp_path):
    p = tmp_path / "gencode.v23.annotation.gene.probemap"
    p.write_text("id\tgene\tchrom\tchromStart\tchromEnd\tstrand\nENSG1.5\tDDX11L1\tchr1\t1\t2\t+\nENSG2.1\tWASH7P\tchr1\t3\t4\t-\n")
    assert xena.read_xena_probemap(p).to_dict() == {"ENSG1.5": "DDX11L1", "ENSG2.1": "WASH7P"}
    p.write_text("id\tgene\nENSG1\tA\nENSG1\tB\n")
    with pytest.raises(InputError, match="duplicated probe id"):
        xena.read_xena_probemap(p)


def test_stack_biotab_reads_back(tmp_path):
    from drugshift.io.tcga import read_clinical_drug

    head = ("bcr_patient_barcode\tpharmaceutical_therapy_drug_name\ttreatment_best_response\tdays_to_drug_therapy_start{x}\n"
            "bcr_patient_barcode\tpharmaceutical_therapy_drug_name\ttreatment_best_response\tdays_to_drug_therapy_start{x}\n"
            "CDE_ID:2003301\tCDE_ID:2975232\tCDE_ID:2786727\tCDE_ID:5102411{x}\n")
    a = tmp_path / "nationwidechildrens.org_clinical_drug_gbm.txt"
    a.write_text(head.format(x="") + "TCGA-02-0001\tTemozolomide\tComplete Response\t30\n")
    b = tmp_path / "nationwidechildrens.org_clinical_drug_lihc.txt"
    b.write_text(head.format(x="\textra") + "TCGA-BC-0002\tSorafenib\t[Not Available]\t12\tq\n")
    table = gdc.stack_biotab([a, b])
    assert len(table) == 2 and list(table["project_file"]) == [a.name, b.name]
    out = tmp_path / "stacked.tsv"
    table.to_csv(out, sep="\t", index=False)
    clin = read_clinical_drug(out)
    assert list(clin["drug"]) == ["temozolomide", "sorafenib"] and clin["best_response"].isna().tolist() == [False, True]


@pytest.mark.parametrize("entry, ok", [
    ({"path": "a.txt"}, True),
    ({"files": {"control": "a.txt", "drug": "b.txt"}}, True),
    ({"path": "a.txt", "files": {"control": "b.txt"}}, False),       # exactly one of path / files
    ({}, False),
    ({"path": "a.txt", "label": {"column": "c", "cell_name_pattern": "x"}}, False),  # one label source
    ({"path": "a.txt", "format": "loom"}, False),
])
def test_schema_of_a_dataset_entry(entry, ok):
    from snakemake.utils import validate

    from conftest import ROOT

    ds = {"drug": "D", "label": {"column": "condition"}, **entry}
    config = {"bulk": {"response": ["r.csv"], "expression": {"gdsc": "e.txt"}}, "sc": {"datasets": {"X": ds}}}
    if ok:
        validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"))
        assert config["sc"]["datasets"]["X"]["format"] == entry.get("format", "geo_counts")
    else:
        with pytest.raises(Exception, match="validating config"):
            validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"))
