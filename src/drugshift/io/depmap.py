"""Parsers for DepMap (Broad) files: CCLE expression, cell-line annotation, PRISM drug AUC.

DepMap ids (``ACH-000001``) map to GDSC COSMIC ids through :func:`read_sample_info`.
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
    check_numeric,
    check_unique,
    read_sample_matrix,
    read_table,
)

_ENTREZ_SUFFIX = re.compile(r"\s*\(\d+\)\s*$")

# canonical output column -> accepted input names (22Q2-style sample_info.csv first,
# then the newer Model.csv names)
_SAMPLE_INFO_COLUMNS = {
    "depmap_id": ("DepMap_ID", "ModelID"),
    "cell_line_name": ("stripped_cell_line_name", "StrippedCellLineName"),
    "cosmic_id": ("COSMICID", "COSMIC_ID"),
    "lineage": ("lineage", "OncotreeLineage"),
    "sex": ("sex", "Sex"),
    "primary_disease": ("primary_disease", "OncotreePrimaryDisease"),
}


def read_depmap_expression(path: str | Path) -> pd.DataFrame:
    """Read DepMap/CCLE expression (``CCLE_expression.csv`` layout).

    Input: CSV, one row per cell line; first column the DepMap id (unnamed or ``DepMap_ID``,
    values like ``ACH-000001``), then one column per gene named ``SYMBOL (ENTREZ)``, e.g.
    ``TSPAN6 (7105)``; values log2(TPM + 1).

    Output: float32 DataFrame, cell lines × genes; index = DepMap id (name ``cell_line``),
    columns = gene symbols with the Entrez suffix stripped (name ``gene``); symbols that occur
    more than once after stripping are averaged. Units unchanged (log2(TPM+1)).
    Raises InputError for duplicated DepMap ids, non-numeric values or a wrong separator.
    """
    df = read_sample_matrix(path, sep=",", index_name="cell_line")
    df.columns = pd.Index([_ENTREZ_SUFFIX.sub("", str(c)) for c in df.columns], name="gene")
    df = average_duplicate_columns(df)
    df.columns.name = "gene"
    return df


def read_sample_info(path: str | Path) -> pd.DataFrame:
    """Read DepMap cell-line annotation (``sample_info.csv``; ``Model.csv`` names also accepted).

    Input: CSV with ``DepMap_ID`` (required) and optionally ``stripped_cell_line_name``,
    ``COSMICID``, ``lineage``, ``sex``, ``primary_disease``.

    Output columns: ``depmap_id`` (str), ``cell_line_name`` (str, the stripped name, e.g.
    ``NIHOVCAR3``), ``cosmic_id`` (pandas ``Int64``, ``<NA>`` when unknown), ``lineage``,
    ``sex``, ``primary_disease`` (str; all-NaN when the column is absent from the file).
    Raises InputError for a missing id column, duplicated DepMap ids or non-integer COSMIC ids.
    """
    path = Path(path)
    spec = list(_SAMPLE_INFO_COLUMNS.values())
    df = read_table(path, [spec[0]], sep=",", optional=spec[1:], dtype=str)
    found = {out: next((a for a in alts if a in df.columns), None)
             for out, alts in _SAMPLE_INFO_COLUMNS.items()}
    found["depmap_id"] = "DepMap_ID"  # read_table renamed an alternative to the first name
    ids = df["DepMap_ID"]
    if ids.isna().any():
        raise InputError(path, f"{int(ids.isna().sum())} row(s) without a DepMap_ID")
    out = pd.DataFrame({"depmap_id": ids.str.strip()})
    check_unique(out["depmap_id"], path, "DepMap_ID")
    for col, src in found.items():
        if col == "depmap_id":
            continue
        if col == "cosmic_id":
            out[col] = (check_integer(df[src], path, src, allow_missing=True) if src
                        else pd.array([pd.NA] * len(df), dtype="Int64"))
        else:
            out[col] = df[src].str.strip() if src else np.nan
    return out.reset_index(drop=True)


def read_prism_auc(path: str | Path) -> pd.DataFrame:
    """Read PRISM drug response AUCs (secondary-screen dose-response-curve-parameters layout).

    Input: CSV with columns ``depmap_id``, ``name`` (drug name) and ``auc``; other columns
    (``broad_id``, ``screen_id``, ``ic50``, …) are ignored.

    Output: long DataFrame with columns ``depmap_id`` (str), ``drug`` (str), ``auc`` (float;
    area under the viability curve, fraction, lower = more sensitive). Rows without a
    depmap_id, drug name or AUC are dropped; repeated (depmap_id, drug) measurements (e.g.
    several screens) are averaged.
    Raises InputError for missing columns, non-numeric or infinite AUC values.
    """
    path = Path(path)
    df = read_table(path, ["depmap_id", "name", "auc"], sep=",", optional=[],
                    dtype={"depmap_id": str, "name": str})
    auc = check_numeric(df[["auc"]], path, "PRISM", dtype=np.float64)
    check_finite_columns(auc, path, df[["depmap_id", "name"]], allow_missing=["auc"])
    auc = auc["auc"]
    out = pd.DataFrame({"depmap_id": df["depmap_id"].str.strip(),
                        "drug": df["name"].str.strip(), "auc": auc.to_numpy()})
    out = out.dropna()
    out = out[(out["depmap_id"] != "") & (out["drug"] != "")]
    out = out.groupby(["depmap_id", "drug"], sort=False, as_index=False)["auc"].mean()
    return out.reset_index(drop=True)
