"""Parsers for Genomics of Drug Sensitivity in Cancer (GDSC) release files.

* :func:`read_gdsc_response` — GDSC1/GDSC2 fitted dose-response CSV (long table).
* :func:`read_gdsc_expression` — cell-line expression in the official RMA file layout.
* :func:`read_cell_line_details` — ``Cell_Lines_Details.csv`` annotation.

GDSC cell lines join across files by COSMIC id.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from drugshift.errors import InputError
from drugshift.io._table import (
    average_duplicate_columns,
    check_finite_columns,
    check_integer,
    check_not_missing,
    check_numeric,
    check_unique,
    preview,
    read_columns,
    read_matrix,
    read_table,
)

RESPONSE_REQUIRED = ["DATASET", "COSMIC_ID", "CELL_LINE_NAME", "DRUG_NAME", "LN_IC50", "AUC"]
_DATA_COLUMN = re.compile(r"DATA\.(.+?)(?:\.(\d+))?")


def read_gdsc_response(path: str | Path) -> pd.DataFrame:
    """Read a GDSC1 or GDSC2 fitted dose-response CSV.

    Input: the official release CSV (``GDSC{1,2}_fitted_dose_response_*.csv[.gz]``) or any
    column subset of it holding at least ``DATASET, COSMIC_ID, CELL_LINE_NAME, DRUG_NAME,
    LN_IC50, AUC`` (``Z_SCORE`` optional; other columns ignored).

    Output: one row per (dataset, cell line, drug name) with columns

    * ``dataset`` (str, e.g. ``"GDSC2"``), ``cosmic_id`` (int64), ``cell_line_name`` (str),
    * ``drug`` (str, exactly as in ``DRUG_NAME``),
    * ``ln_ic50`` (float; natural log of IC50 in µM), ``auc`` (float; area under the fitted
      dose-response curve, fraction 0–1, lower = more sensitive),
    * ``z_score`` (float; NaN when the file has no ``Z_SCORE`` column).

    Rows sharing (cosmic_id, drug, dataset) — GDSC has replicate DRUG_IDs with the same
    DRUG_NAME — are averaged (the first cell-line name is kept).
    Raises InputError for a bad file (wrong separator, missing column, non-numeric values,
    missing ids, a missing or infinite LN_IC50/AUC or an infinite Z_SCORE, naming the row's
    COSMIC_ID and DRUG_NAME).
    """
    path = Path(path)
    df = read_table(path, RESPONSE_REQUIRED, sep=",", optional=["Z_SCORE"],
                    dtype={"DATASET": str, "CELL_LINE_NAME": str, "DRUG_NAME": str})
    check_not_missing(df, ["DATASET", "DRUG_NAME"], path)
    out = pd.DataFrame({
        "dataset": df["DATASET"].str.strip(),
        "cosmic_id": check_integer(df["COSMIC_ID"], path, "COSMIC_ID"),
        "cell_line_name": df["CELL_LINE_NAME"].str.strip(),
        "drug": df["DRUG_NAME"].str.strip(),
    })
    nums = ["LN_IC50", "AUC"] + (["Z_SCORE"] if "Z_SCORE" in df.columns else [])
    values = check_numeric(df[nums], path, "dose-response", dtype=np.float64)
    # the release files have LN_IC50 and AUC for every row: a blank is a broken or edited file
    check_finite_columns(values, path, df[["COSMIC_ID", "DRUG_NAME"]], allow_missing=["Z_SCORE"])
    out["ln_ic50"] = values["LN_IC50"].to_numpy()
    out["auc"] = values["AUC"].to_numpy()
    out["z_score"] = values["Z_SCORE"].to_numpy() if "Z_SCORE" in values else np.nan
    keys = ["dataset", "cosmic_id", "drug"]
    if out.duplicated(keys).any():
        out = (out.groupby(keys, sort=False, as_index=False)
               .agg(cell_line_name=("cell_line_name", "first"), ln_ic50=("ln_ic50", "mean"),
                    auc=("auc", "mean"), z_score=("z_score", "mean")))
    cols = ["dataset", "cosmic_id", "cell_line_name", "drug", "ln_ic50", "auc", "z_score"]
    return out[cols].reset_index(drop=True)


def _data_column_ids(path: Path, names: list[str]) -> list[str]:
    """COSMIC ids from ``DATA.<id>`` names; a pandas-style ``.1`` suffix is stripped."""
    ids = []
    for name in names:
        m = _DATA_COLUMN.fullmatch(name.strip())
        if m is None:
            raise InputError(path, f"column {name!r} is not of the form DATA.<COSMIC_ID>")
        ids.append(m.group(1))
    dup = pd.Index(ids)[pd.Index(ids).duplicated()]
    if len(dup):
        clash = [n for n, i in zip(names, ids) if i in set(dup)]
        raise InputError(path, f"{len(set(dup))} duplicated cell-line column(s) "
                               f"(COSMIC ids {preview(pd.unique(dup))}): {preview(clash)}")
    return ids


def read_gdsc_expression(path: str | Path) -> pd.DataFrame:
    """Read GDSC cell-line expression in the official RMA file layout.

    Input: tab-separated, genes as rows; columns ``GENE_SYMBOLS``, ``GENE_title`` (optional,
    ignored) and one ``DATA.<COSMIC_ID>`` column per cell line, e.g.
    ``Cell_line_RMA_proc_basalExp.txt[.gz]`` (values: RMA log2 intensities) or a file in the same
    layout with other units (the shared ``Cell_line_expression_zscore.txt.gz`` holds z-scores);
    the units are passed through unchanged.

    Output: float32 DataFrame, cell lines × genes; index = COSMIC id as str (name
    ``cell_line``), columns = gene symbols (name ``gene``). Rows with an empty gene symbol are
    dropped; duplicated gene symbols are averaged.
    Genes with missing values are dropped with a warning naming how many; infinite values raise
    InputError naming gene and column (:func:`drugshift.io._table.drop_genes_with_missing`).
    Raises InputError for duplicated cell-line columns (also ``DATA.<id>.1`` next to
    ``DATA.<id>``), non-``DATA.`` extra columns, no cell-line columns, or non-numeric values.
    """
    path = Path(path)
    header = _gdsc_header(path)
    n_labels = 2 if len(header) > 1 and header[1] == "GENE_title" else 1
    data_names = header[n_labels:]
    if not data_names:
        raise InputError(path, "no DATA.<COSMIC_ID> cell-line columns found")
    ids = _data_column_ids(path, data_names)
    df, _ = read_matrix(path, "\t", label_columns=n_labels, what="expression",
                        column_what="cell-line column", row_what="gene", gene_axis=0)
    genes = df.index.to_series()
    keep = (genes.notna() & genes.astype(str).str.strip().ne("")).to_numpy()
    df = df.loc[keep]
    df.index = pd.Index(genes[keep].astype(str).str.strip().to_numpy())
    df.columns = pd.Index(ids)
    out = df.T
    out = average_duplicate_columns(out)
    out.index.name = "cell_line"
    out.columns.name = "gene"
    return out


def _gdsc_header(path: Path) -> list[str]:
    header = read_columns(path, ["GENE_SYMBOLS"], sep="\t")
    if header[0] != "GENE_SYMBOLS":
        raise InputError(path, f"first column must be 'GENE_SYMBOLS', found {header[0]!r}")
    return header


def read_cell_line_details(path: str | Path) -> pd.DataFrame:
    """Read the GDSC ``Cell_Lines_Details.csv`` annotation (the xlsx sheet saved as CSV).

    Input columns used: ``Sample Name``, ``COSMIC identifier``, ``GDSC Tissue descriptor 1``,
    ``Cancer Type (matching TCGA label)``.

    Output columns: ``cosmic_id`` (int64), ``cell_line_name`` (str), ``tissue`` (str, GDSC
    tissue descriptor 1), ``tcga_type`` (str TCGA study code such as ``"HNSC"``; NaN when
    unclassified). Rows without a COSMIC id (e.g. the trailing ``TOTAL:`` row) are dropped.
    Raises InputError for missing columns, non-integer or duplicated COSMIC ids.
    """
    path = Path(path)
    cols = ["Sample Name", "COSMIC identifier", "GDSC Tissue descriptor 1",
            "Cancer Type (matching TCGA label)"]
    df = read_table(path, cols, sep=",", optional=[],
                    dtype={c: str for c in cols if c != "COSMIC identifier"})
    df = df[df["COSMIC identifier"].notna()]
    if len(df) == 0:
        raise InputError(path, "no rows with a COSMIC identifier")
    out = pd.DataFrame({
        "cosmic_id": check_integer(df["COSMIC identifier"], path, "COSMIC identifier"),
        "cell_line_name": df["Sample Name"].str.strip(),
        "tissue": df["GDSC Tissue descriptor 1"].str.strip(),
        "tcga_type": df["Cancer Type (matching TCGA label)"].str.strip(),
    }).reset_index(drop=True)
    check_unique(out["cosmic_id"], path, "COSMIC identifier")
    return out
