"""GDC BCR Biotab clinical tables: one table per TCGA project, stacked into one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from drugshift.errors import InputError
from drugshift.io._table import read_table


def stack_biotab(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Stack several BCR Biotab tables of the same kind (e.g. ``clinical_drug_<study>.txt``).

    Input: tab-separated tables whose first column is ``bcr_patient_barcode`` (or that have
    one), each with GDC's two extra header lines (repeated names, ``CDE_ID:`` codes), which are
    dropped here. Output: one text DataFrame, the union of the columns (empty where a project
    lacks one) and a ``project_file`` column naming the source file; the single header makes it
    readable by :func:`drugshift.io.tcga.read_clinical_drug`. Raises InputError for a table
    without ``bcr_patient_barcode``.
    """
    frames = []
    for path in paths:
        df = read_table(path, ["bcr_patient_barcode"], sep="\t", dtype=str, allow_empty=True)
        barcode = df["bcr_patient_barcode"].fillna("").str.strip()
        extra = barcode.eq("bcr_patient_barcode") | barcode.str.startswith("CDE_ID")
        df = df[~extra.to_numpy()].copy()
        df["project_file"] = Path(path).name
        frames.append(df)
    if not frames:
        raise InputError(None, "no Biotab table given")
    return pd.concat(frames, ignore_index=True, sort=False)
