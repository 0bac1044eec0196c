"""Single-cell and GDSC parsers on the shared real files (dataset entries as a user writes them)."""

import gzip
import zipfile

import pandas as pd
import pytest

from conftest import SHARED_DATA, requires_shared_data
from drugshift.io.sc_formats import dataset_labels, load_dataset


@requires_shared_data
def test_pc9_files_entry_on_shared_data():
    geo = SHARED_DATA / "geo" / "GSE147405"
    files = {"control": geo / "GSM4494348_Day11_control.txt.gz", "erlotinib": geo / "GSM4494349_Day11_Erlotinib.txt.gz"}
    if not all(p.exists() for p in files.values()):
        pytest.skip("PC9 files absent")
    spec = {"files": files, "format": "geo_counts", "drug": "Erlotinib",
            "label": {"column": "condition", "sensitive": ["control"], "resistant": ["erlotinib"]}}
    a = load_dataset(spec, files)
    labels = dataset_labels(a, spec["label"])
    # 6,000 control + 8,600 erlotinib cells; genes: union of 22,015 and 21,207
    assert a.n_obs == 14_600 and 22_015 <= a.n_vars <= 22_015 + 21_207
    assert int(labels.sum()) == 6_000 and int((labels == 0).sum()) == 8_600
    assert a.X.nnz == 1_200_811 + 2_021_641


@requires_shared_data
def test_a375_path_entry_on_shared_data():
    path = SHARED_DATA / "sc" / "A375_PLX4720_zscore.csv.gz"
    if not path.exists():
        pytest.skip("A375 file absent")
    spec = {"path": path, "format": "cells_by_genes", "normalised": True,
            "label": {"column": "response", "sensitive": [1], "resistant": [0]}}
    a = load_dataset(spec, path)
    labels = dataset_labels(a, spec["label"])
    assert a.shape == (108, 2873) and a.uns["values"] == "normalised"
    assert int(labels.sum()) == 62 and int((labels == 0).sum()) == 46


@requires_shared_data
def test_zipped_rma_layout_reads_like_the_plain_file(tmp_path):
    """The GDSC RMA release is a .zip holding one file; the parser reads it without unpacking."""
    from drugshift.io.gdsc import read_gdsc_expression

    src = SHARED_DATA / "gdsc" / "Cell_line_expression_zscore.txt.gz"
    if not src.exists():
        pytest.skip("GDSC expression absent")
    with gzip.open(src, "rb") as fh:
        head = b"".join(fh.readline() for _ in range(51))
    plain = tmp_path / "Cell_line_RMA_proc_basalExp.txt"
    plain.write_bytes(head)
    with zipfile.ZipFile(tmp_path / "Cell_line_RMA_proc_basalExp.txt.zip", "w") as zf:
        zf.writestr("Cell_line_RMA_proc_basalExp.txt", head)
    a = read_gdsc_expression(tmp_path / "Cell_line_RMA_proc_basalExp.txt.zip")
    pd.testing.assert_frame_equal(a, read_gdsc_expression(plain))
    assert a.shape == (967, 50)
