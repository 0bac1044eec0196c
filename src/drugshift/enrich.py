"""Over-representation analysis of gene lists (critical genes) against gene-set libraries.

The paper used DAVID online (GO BP, Benjamini-adjusted); drugshift runs gseapy's offline
hypergeometric test (``gseapy.enrich``) against local GMT files, so it needs no network.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from drugshift.io.genesets import read_gmt

__all__ = ["ENRICHMENT_COLUMNS", "enrich_critical_genes", "enrich_genes", "filter_gene_sets", "term_ranks"]

ENRICHMENT_COLUMNS = ["library", "term", "overlap", "set_size", "n_query", "n_background", "p", "p_adj",
                      "odds_ratio", "combined_score", "genes", "rank"]

_log = logging.getLogger(__name__)


def filter_gene_sets(gene_sets: Mapping[str, Sequence[str]], background: Iterable[str], min_size: int = 5,
                     max_size: int = 500) -> dict[str, list[str]]:
    """Gene sets restricted to the background genes, keeping those with ``min_size`` to
    ``max_size`` genes left (the sets a test on this background can speak about)."""
    bg = set(background)
    out = {}
    for name, genes in gene_sets.items():
        kept = [g for g in dict.fromkeys(genes) if g in bg]
        if min_size <= len(kept) <= max_size:
            out[name] = kept
    return out


def enrich_genes(genes: Iterable[str], gene_sets: Mapping[str, Sequence[str]] | str | Path,
                 background: Iterable[str], library: str = "", min_size: int = 5,
                 max_size: int = 500) -> pd.DataFrame:
    """Hypergeometric over-representation of ``genes`` in each gene set (``gseapy.enrich``).

    Args:
        genes: the query list (e.g. one group's critical genes).
        gene_sets: ``{name: genes}`` or a GMT path.
        background: the universe: every gene that could have been in the query (the model's
            input genes). Query and sets are restricted to it.
        library: name written in the ``library`` column.
        min_size, max_size: sets with fewer / more genes in the background are not tested.

    Returns:
        one row per tested set, sorted by p then term: ``library, term, overlap`` (query genes
        in the set), ``set_size`` (set genes in the background), ``n_query``, ``n_background``,
        ``p`` (one-sided hypergeometric), ``p_adj`` (Benjamini–Hochberg over every tested set of
        the library, sets without overlap counted with p = 1), ``odds_ratio``,
        ``combined_score`` (gseapy's), ``genes`` (overlap, sorted, ``;``-joined) and ``rank``.
    """
    import gseapy

    if isinstance(gene_sets, (str, Path)):
        gene_sets = read_gmt(gene_sets)
    bg = list(dict.fromkeys(str(g) for g in background))
    bg_set = set(bg)
    query = sorted({str(g) for g in genes} & bg_set)
    sets = filter_gene_sets(gene_sets, bg, min_size, max_size)
    table = pd.DataFrame({"library": library, "term": list(sets), "overlap": 0,
                          "set_size": [len(v) for v in sets.values()], "n_query": len(query),
                          "n_background": len(bg), "p": 1.0, "odds_ratio": 0.0, "combined_score": 0.0,
                          "genes": ""})
    # gseapy logs an error when no set holds a query gene: only call it when one does.
    if query and any(not set(query).isdisjoint(v) for v in sets.values()):
        res = gseapy.enrich(gene_list=query, gene_sets=sets, background=bg, outdir=None, no_plot=True,
                            cutoff=1.0, verbose=False)
        r = getattr(res, "results", None)
        if r is not None and len(r):
            r = r.set_index("Term")
            hits = table["term"].isin(r.index)
            idx = table.loc[hits, "term"]
            table.loc[hits, "p"] = r.loc[idx, "P-value"].to_numpy(float)
            table.loc[hits, "odds_ratio"] = r.loc[idx, "Odds Ratio"].to_numpy(float)
            table.loc[hits, "combined_score"] = r.loc[idx, "Combined Score"].to_numpy(float)
            # gseapy's gene order follows Python set order (hash-seeded): sort for stable output.
            overlap = [sorted(str(s).split(";")) for s in r.loc[idx, "Genes"]]
            table.loc[hits, "overlap"] = [len(o) for o in overlap]
            table.loc[hits, "genes"] = [";".join(o) for o in overlap]
    table["p_adj"] = false_discovery_control(table["p"].to_numpy(), method="bh")
    table = table.sort_values(["p", "term"], kind="mergesort").reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return table[ENRICHMENT_COLUMNS]


def enrich_critical_genes(critical: pd.DataFrame, libraries: Mapping[str, str | Path | Mapping],
                          background: Iterable[str], min_size: int = 5, max_size: int = 500) -> pd.DataFrame:
    """Enrichment of the sensitive and the resistant critical genes in every library.

    Args:
        critical: a :func:`drugshift.interpret.critical_genes` table (``gene, group, critical``).
        libraries: ``{library name: GMT path or {set: genes}}``.
        background: the genes the critical genes were chosen from.

    Returns:
        :func:`enrich_genes` tables stacked with a leading ``group`` column; ordered by group
        (sensitive, resistant), library (as given), then p.
    """
    parts = []
    libs = {name: read_gmt(src) if isinstance(src, (str, Path)) else src for name, src in libraries.items()}
    for group in ("sensitive", "resistant"):
        genes = critical.loc[critical["critical"].astype(bool) & (critical["group"] == group), "gene"]
        for name, sets in libs.items():
            t = enrich_genes(genes, sets, background, name, min_size, max_size)
            t.insert(0, "group", group)
            parts.append(t)
            if len(t):
                _log.info("enrichment %s %s: %d critical genes, top term %s (p_adj %.3g)", group, name,
                          t["n_query"].iloc[0], t["term"].iloc[0], t["p_adj"].iloc[0])
    if not parts:
        return pd.DataFrame(columns=["group", *ENRICHMENT_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def term_ranks(enrichment: pd.DataFrame, term: str) -> dict:
    """Where one term (e.g. a planted gene program) ranks in an :func:`enrich_critical_genes` table.

    ``overall_rank``: 1-based rank of the term among all distinct terms ordered by their best p
    over groups and libraries (ties broken by term name); ``best_group``: the group of that best
    p; ``by_group``: ``{group: {rank, p, p_adj, overlap}}`` within each group's table (rank
    ``None`` where the term was not tested).
    """
    out: dict = {"term": term, "overall_rank": None, "best_group": None, "by_group": {}}
    if enrichment.empty:
        return out
    best = (enrichment.sort_values(["p", "term"], kind="mergesort").drop_duplicates("term").reset_index(drop=True))
    hit = best.index[best["term"] == term]
    if len(hit):
        out["overall_rank"] = int(hit[0]) + 1
        out["best_group"] = str(best.loc[hit[0], "group"])
    for group, t in enrichment.groupby("group", sort=False):
        row = t[t["term"] == term]
        out["by_group"][str(group)] = (
            {"rank": int(row["rank"].iloc[0]), "p": float(row["p"].iloc[0]), "p_adj": float(row["p_adj"].iloc[0]),
             "overlap": int(row["overlap"].iloc[0])} if len(row) else {"rank": None})
    return out
