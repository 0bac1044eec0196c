"""UCSC Xena probe maps: the gene symbols of the TOIL matrices' Ensembl ids."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from drugshift.errors import InputError
from drugshift.io._table import check_unique, read_table


def read_xena_probemap(path: str | Path) -> pd.Series:
    """Read a Xena probe map (``gencode.v23.annotation.gene.probemap`` layout).

    Input: tab-separated with columns ``id`` (e.g. ``ENSG00000223972.5``) and ``gene`` (symbol);
    chromosome columns are ignored. Output: Series id -> symbol (index name ``id``, name ``gene``).
    Raises InputError for missing columns, empty or duplicated ids.
    """
    path = Path(path)
    df = read_table(path, ["id", "gene"], sep="\t", optional=[], dtype=str)
    if df["id"].isna().any():
        raise InputError(path, f"{int(df['id'].isna().sum())} row(s) without an id")
    ids = df["id"].str.strip()
    check_unique(ids, path, "probe id")
    return pd.Series(df["gene"].str.strip().to_numpy(), index=pd.Index(ids.to_numpy(), name="id"), name="gene")
