"""Parsers for TCGA patient data: UCSC Xena matrices/phenotypes, clinical drug tables, labels.

* :func:`read_xena_matrix` — Xena genes × samples matrix (e.g. ``tcga_RSEM_gene_tpm``).
* :func:`read_sample_table` — samples × genes CSV (e.g. ``tcga/<drug>/expression_zscore.csv``).
* :func:`read_xena_phenotype` — sample type and primary disease per sample.
* :func:`read_clinical_drug` and :func:`recist_label` — GDC clinical drug table and RECIST
  response labels.
* :func:`read_labels` — two-column 0/1 label CSV (patients or cell lines).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from drugshift.errors import InputError
from drugshift.io._table import (
    average_duplicate_columns,
    check_numeric,
    check_unique,
    detect_sep,
    preview,
    read_matrix,
    read_sample_matrix,
    read_table,
    tcga_missing_to_nan,
)

RESPONDER = ("complete response", "partial response")
NON_RESPONDER = ("stable disease", "clinical progressive disease", "progressive disease")


def read_xena_matrix(path: str | Path) -> pd.DataFrame:
    """Read a UCSC Xena gene expression matrix (genes as rows, samples as columns).

    Input: tab-separated, plain or gzip; first column the gene id (header ``sample``,
    ``gene`` or ``Gene``), then one column per sample barcode, e.g. ``tcga_RSEM_gene_tpm.gz``
    (values log2(TPM + 0.001)) — units are passed through unchanged.

    Output: float32 DataFrame, samples × genes; index = sample barcode (name ``sample``),
    columns = gene ids (name ``gene``); duplicated gene rows are averaged.
    Genes (rows) with missing values are dropped with a warning; infinite values raise InputError
    naming gene and sample (:func:`drugshift.io._table.drop_genes_with_missing`).
    Raises InputError for duplicated sample columns, non-numeric values or a wrong separator.
    """
    path = Path(path)
    df, _ = read_matrix(path, "\t", what="expression", column_what="sample", row_what="gene",
                        gene_axis=0)
    genes = df.index.to_series()
    if genes.isna().any():
        raise InputError(path, f"{int(genes.isna().sum())} row(s) without a gene id")
    df.index = pd.Index(genes.astype(str).str.strip())
    out = average_duplicate_columns(df.T)
    out.index.name = "sample"
    out.columns.name = "gene"
    return out


def read_sample_table(path: str | Path) -> pd.DataFrame:
    """Read a samples × genes table (first column sample id), e.g. ``expression_zscore.csv``.

    Input: CSV or TSV (detected), plain or compressed. Output: float32 DataFrame, index =
    sample barcode (name ``sample``), columns = genes (name ``gene``, duplicates averaged);
    units unchanged (the shared TCGA files hold per-gene z-scores).
    Raises InputError for duplicated sample ids or non-numeric values.
    """
    return read_sample_matrix(path, index_name="sample")


def read_xena_phenotype(path: str | Path) -> pd.DataFrame:
    """Read Xena TCGA sample phenotypes (``TCGA_phenotype_denseDataOnlyDownload.tsv`` layout).

    Input: CSV or TSV (detected); first column the sample barcode (header ``sample`` or
    empty), columns ``sample_type`` and ``_primary_disease`` (or ``primary_disease``), and
    optionally ``_gender`` (or ``gender``: FEMALE/MALE, any case); other columns ignored.

    Output: DataFrame indexed by sample (name ``sample``) with str columns ``sample_type``
    (e.g. ``"Primary Tumor"``), ``primary_disease`` (e.g. ``"thyroid carcinoma"``) and, when
    the file has a gender column, ``sex`` (``"Female"``, ``"Male"`` or missing).
    Raises InputError for missing columns or duplicated samples.
    """
    path = Path(path)
    sep = detect_sep(path)
    df = read_table(path, ["sample_type", ("primary_disease", "_primary_disease")], sep=sep,
                    index_col=0, dtype=str)
    df = df.rename(columns={"_gender": "gender"})
    ids = df.index.to_series()
    if ids.isna().any():
        raise InputError(path, f"{int(ids.isna().sum())} row(s) without a sample id")
    out = df[["sample_type", "primary_disease"]].copy()
    if "gender" in df:
        sex = df["gender"].str.strip().str.capitalize()
        out["sex"] = sex.where(sex.isin(["Female", "Male"]))
    out.index = pd.Index(ids.astype(str).str.strip(), name="sample")
    check_unique(out.index, path, "sample id")
    return out


def read_clinical_drug(path: str | Path) -> pd.DataFrame:
    """Read a TCGA clinical drug table (GDC BCR Biotab ``clinical_drug_<study>.txt`` layout).

    Input: tab-separated; columns include ``bcr_patient_barcode``,
    ``pharmaceutical_therapy_drug_name``, ``treatment_best_response`` and
    ``days_to_drug_therapy_start``. The two extra header lines of the GDC files (repeated
    column names, and ``CDE_ID:…`` codes) are skipped; TCGA placeholders such as
    ``[Not Available]`` become NaN.

    Output columns: ``patient`` (str, TCGA patient barcode ``TCGA-XX-XXXX``), ``drug`` (str,
    lower-cased and stripped), ``best_response`` (str, as written, e.g. ``"Complete
    Response"``; NaN if unknown), ``days_to_start`` (float, days from diagnosis; NaN if unknown).
    Raises InputError for missing columns or non-numeric ``days_to_drug_therapy_start``.
    """
    path = Path(path)
    cols = ["bcr_patient_barcode", "pharmaceutical_therapy_drug_name",
            "treatment_best_response", "days_to_drug_therapy_start"]
    df = read_table(path, cols, sep="\t", dtype=str, allow_empty=True)
    first = df.iloc[:, 0].fillna("").astype(str).str.strip()
    barcode = df["bcr_patient_barcode"].fillna("").astype(str).str.strip()
    extra = (first.str.startswith("CDE_ID") | barcode.str.startswith("CDE_ID")
             | first.eq(df.columns[0]) | barcode.eq("bcr_patient_barcode"))
    df = df[~extra.to_numpy()]
    if len(df) == 0:
        raise InputError(path, "no data rows (header only)")
    days = tcga_missing_to_nan(df["days_to_drug_therapy_start"]).to_frame()
    days = check_numeric(days, path, "clinical", dtype=np.float64).iloc[:, 0]
    drug = tcga_missing_to_nan(df["pharmaceutical_therapy_drug_name"])
    out = pd.DataFrame({
        "patient": tcga_missing_to_nan(df["bcr_patient_barcode"]).str.strip(),
        "drug": drug.str.strip().str.lower(),
        "best_response": tcga_missing_to_nan(df["treatment_best_response"]).str.strip(),
        "days_to_start": days.to_numpy(),
    })
    if out["patient"].isna().any():
        raise InputError(path, f"{int(out['patient'].isna().sum())} row(s) without "
                               "bcr_patient_barcode")
    return out.reset_index(drop=True)


def recist_label(best_response: pd.Series) -> pd.Series:
    """Map RECIST best response to a binary label (case/whitespace-insensitive).

    ``Complete Response``/``Partial Response`` → 1.0 (responder); ``Stable Disease``,
    ``Clinical Progressive Disease``, ``Progressive Disease`` → 0.0; anything else (NaN,
    placeholders, unknown terms) → NaN. Returns a float Series named ``label`` with the input's
    index.
    """
    s = best_response.astype("object").where(best_response.notna(), None)
    norm = s.map(lambda v: " ".join(str(v).lower().split()) if v is not None else None)
    label = pd.Series(np.nan, index=best_response.index, name="label", dtype=np.float64)
    label[norm.isin(RESPONDER).to_numpy()] = 1.0
    label[norm.isin(NON_RESPONDER).to_numpy()] = 0.0
    return label


def read_labels(path: str | Path) -> pd.Series:
    """Read a two-column binary label CSV (first column id, second column 0/1).

    Input: e.g. ``tcga/<drug>/labels.csv`` (patient barcode → clinical response, 1 =
    responder; its second header is ``0``) or ``cell_line_labels.csv`` (DepMap id → 1 =
    sensitive; header is the drug name).

    Output: int64 Series indexed by the ids (str), named after the second column's header.
    Raises InputError for a wrong column count, duplicated ids, missing values or values
    other than 0/1.
    """
    path = Path(path)
    sep = detect_sep(path)
    df = read_table(path, sep=sep, index_col=0, dtype=str)
    if df.shape[1] != 1:
        raise InputError(path, f"expected 2 columns (id, label), found {df.shape[1] + 1}: "
                               f"{preview([df.index.name or ''] + list(df.columns))}")
    col = df.columns[0]
    ids = df.index.to_series()
    if ids.isna().any():
        raise InputError(path, f"{int(ids.isna().sum())} row(s) without an id")
    values = df[col].str.strip()
    ok = values.isin(["0", "1", "0.0", "1.0"])
    if not ok.all():
        pos = int(np.flatnonzero(~ok.to_numpy())[0])
        raise InputError(path, f"label column {col!r} must hold 0/1; found {values.iloc[pos]!r} "
                               f"for {ids.iloc[pos]!r} ({int((~ok).sum())} bad value(s))")
    out = pd.Series(values.astype(float).astype(np.int64).to_numpy(),
                    index=pd.Index(ids.astype(str).str.strip()), name=str(col))
    name = df.index.name
    out.index.name = None if name is None or str(name).startswith("Unnamed") else name
    check_unique(out.index, path, "id")
    return out
