"""Parsers for breast-cancer PDX-derived tumour cells (PDTC; Bruna et al. 2016).

* :func:`read_pdtc_response` — ex-vivo drug responses (``DrugResponsesAUCModels.txt``).
* :func:`read_drug_mapping` — PDTC drug name ↔ GDSC drug name (``pdtc_gdsc_drug_mapping.csv``).
* :func:`pdtc_labels` — binary sensitivity labels from AUC (per-drug median split).
* :func:`read_pdtc_expression` — models × genes expression table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from drugshift.errors import InputError
from drugshift.io._table import (
    check_finite_columns,
    check_not_missing,
    check_numeric,
    check_unique,
    read_sample_matrix,
    read_table,
)


def read_pdtc_response(path: str | Path) -> pd.DataFrame:
    """Read PDTC ex-vivo drug responses (``DrugResponsesAUCModels.txt``).

    Input: tab-separated with columns ``Model``, ``Drug``, ``AUC``, ``iC50`` (others such as
    ``D1_CONC``, ``D5_CONC``, ``perc.iC50`` ignored).

    Output columns: ``model`` (str, PDTC model id such as ``HCI001``), ``drug`` (str, PDTC
    drug name), ``auc`` (float, area under the dose-response curve, lower = more sensitive),
    ``ic50`` (float, in the concentration units of the screen, µM). Repeated (model, drug)
    rows are averaged.
    Raises InputError for missing columns, empty ids, non-numeric AUC/iC50, a missing AUC or an
    infinite AUC/iC50 (naming the row's Model and Drug).
    """
    path = Path(path)
    df = read_table(path, ["Model", "Drug", "AUC", "iC50"], sep="\t", optional=[],
                    dtype={"Model": str, "Drug": str})
    check_not_missing(df, ["Model", "Drug"], path)
    nums = check_numeric(df[["AUC", "iC50"]], path, "drug response", dtype=np.float64)
    # a missing AUC would be labelled resistant by pdtc_labels: refuse it; iC50 is not used for labels
    check_finite_columns(nums, path, df[["Model", "Drug"]], allow_missing=["iC50"])
    out = pd.DataFrame({"model": df["Model"].str.strip(), "drug": df["Drug"].str.strip(),
                        "auc": nums["AUC"].to_numpy(), "ic50": nums["iC50"].to_numpy()})
    if out.duplicated(["model", "drug"]).any():
        out = out.groupby(["model", "drug"], sort=False, as_index=False)[["auc", "ic50"]].mean()
    return out.reset_index(drop=True)


def read_drug_mapping(path: str | Path) -> pd.DataFrame:
    """Read the PDTC ↔ GDSC drug-name mapping (``pdtc_gdsc_drug_mapping.csv``).

    Input: CSV with columns ``drug_name`` and ``gdsc_name`` (others — an unnamed short key,
    ``ptdc_count``, ``PubCHEM``, ``smiles`` — ignored). Checked against the real files:
    ``drug_name`` holds the PDTC name (all 50 occur in ``DrugResponsesAUCModels.txt`` Drug;
    e.g. ``AG-014699``, ``681640``) and ``gdsc_name`` the current GDSC ``DRUG_NAME`` (49 of 50
    in GDSC1, 43 in GDSC2; e.g. ``Rucaparib``, ``Wee1 Inhibitor``).

    Output columns: ``pdtc_drug``, ``gdsc_drug`` (str, stripped).
    Raises InputError for missing columns, empty names or a PDTC drug listed twice.
    """
    path = Path(path)
    df = read_table(path, ["drug_name", "gdsc_name"], sep=",", optional=[], dtype=str)
    check_not_missing(df, ["drug_name", "gdsc_name"], path)
    out = pd.DataFrame({"pdtc_drug": df["drug_name"].str.strip(),
                        "gdsc_drug": df["gdsc_name"].str.strip()}).reset_index(drop=True)
    check_unique(out["pdtc_drug"], path, "PDTC drug name")
    return out


def pdtc_labels(response: pd.DataFrame) -> pd.DataFrame:
    """Binary sensitivity labels from PDTC AUCs, split at each drug's median.

    Input: the output of :func:`read_pdtc_response` (needs ``drug`` and ``auc``).
    Output: a copy with an int ``label`` column: 1 (sensitive) where ``auc`` is strictly below
    the median AUC of that drug across models, else 0 (rows with NaN AUC get 0).
    """
    missing = [c for c in ("drug", "auc") if c not in response.columns]
    if missing:
        raise InputError(None, f"response table lacks column(s) {missing}; "
                               f"columns found: {list(response.columns)}")
    out = response.copy()
    median = out.groupby("drug")["auc"].transform("median")
    out["label"] = (out["auc"] < median).astype(np.int64)
    return out


def read_pdtc_expression(path: str | Path) -> pd.DataFrame:
    """Read PDTC expression (models × genes CSV, first column model id, e.g. ``AB521M``).

    Output: float32 DataFrame, index = model id (name ``sample``; same ids as ``model`` in
    :func:`read_pdtc_response`), columns = genes (name ``gene``); units unchanged (the shared
    file holds per-gene z-scores).
    """
    return read_sample_matrix(path, index_name="sample")
