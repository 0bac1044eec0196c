"""Mouse -> human gene symbols through the MGI homology report (GSE110894 is a mouse dataset).

* :func:`read_mgi_orthologs` — ``HOM_MouseHumanSequence.rpt`` -> one-to-one mouse -> human symbols.
* :func:`to_human` — rename an AnnData's mouse genes to human symbols, dropping the rest.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from drugshift.errors import InputError
from drugshift.io._table import read_table

_CLASS = ("DB Class Key", "HomoloGene ID")
_ORGANISM = "Common Organism Name"
_TAXON = "NCBI Taxon ID"


def read_mgi_orthologs(path: str | Path) -> pd.Series:
    """Read the MGI mouse/human homology report (``HOM_MouseHumanSequence.rpt`` layout).

    Input: tab-separated; one row per gene with the homology class (``DB Class Key``, called
    ``HomoloGene ID`` in older releases), the organism (``NCBI Taxon ID`` 10090 / 9606, or
    ``Common Organism Name`` "mouse, laboratory" / "human") and ``Symbol``.
    Output: Series mouse symbol -> human symbol (name ``human``, index name ``mouse``) holding
    the classes with exactly one mouse and one human gene (one-to-one orthologs); classes with
    several genes on either side are left out, as scDEAL keeps "human homologous genes" without
    saying how to split paralogs. Raises InputError for missing columns or no one-to-one pair.
    """
    path = Path(path)
    df = read_table(path, [_CLASS, "Symbol"], sep="\t", optional=[_ORGANISM, _TAXON], dtype=str)
    if _TAXON in df.columns:
        organism = df[_TAXON].str.strip().map({"10090": "mouse", "9606": "human"})
    elif _ORGANISM in df.columns:
        name = df[_ORGANISM].str.lower().str.strip()
        organism = np.where(name.str.startswith("mouse"), "mouse", np.where(name.eq("human"), "human", None))
        organism = pd.Series(organism, index=df.index)
    else:
        raise InputError(path, f"needs a column {_TAXON!r} or {_ORGANISM!r} to tell mouse from human")
    df = pd.DataFrame({"cls": df["DB Class Key"].str.strip(), "org": organism, "sym": df["Symbol"].str.strip()})
    df = df.dropna()
    counts = df.groupby(["cls", "org"]).size().unstack(fill_value=0)
    if not {"mouse", "human"} <= set(counts.columns):
        raise InputError(path, "the table needs both mouse and human rows")
    one = counts.index[(counts["mouse"] == 1) & (counts["human"] == 1)]
    df = df[df["cls"].isin(one)]
    mouse = df[df["org"] == "mouse"].set_index("cls")["sym"]
    human = df[df["org"] == "human"].set_index("cls")["sym"]
    out = pd.Series(human.loc[mouse.index].to_numpy(), index=pd.Index(mouse.to_numpy(), name="mouse"), name="human")
    out = out[~out.index.duplicated(keep=False)]
    if out.empty:
        raise InputError(path, "no one-to-one mouse/human ortholog pair found")
    return out


def to_human(adata: ad.AnnData, mouse_to_human: pd.Series) -> ad.AnnData:
    """Keep the genes with a human ortholog and rename them (``.var['mouse_symbol']`` keeps the
    mouse name). Returns a new AnnData; ``.uns['orthologs']`` counts genes in, mapped and dropped.
    Raises ValueError if no gene maps (e.g. the data are already human)."""
    genes = pd.Index(adata.var_names)
    keep = genes.isin(mouse_to_human.index)
    if not keep.any():
        raise ValueError(f"none of the {len(genes)} genes is a mouse symbol of the ortholog table "
                         f"(first genes: {list(genes[:5])})")
    out = adata[:, keep].copy()
    out.var["mouse_symbol"] = out.var_names.to_numpy()
    out.var_names = pd.Index(mouse_to_human.loc[out.var_names].to_numpy())
    out.uns["orthologs"] = {"genes_in": int(len(genes)), "mapped": int(keep.sum()), "dropped": int((~keep).sum())}
    return out
