"""Interpretation figures: critical genes and their enrichment. Each function returns a Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from drugshift.plots.style import RESISTANT, SENSITIVE

__all__ = ["plot_critical_genes", "plot_enrichment"]


def plot_critical_genes(attr, critical: pd.DataFrame, top: int = 20, title: str = "") -> Figure:
    """Top critical genes of each group (:func:`drugshift.interpret.critical_genes`): Wilcoxon
    score of the IG difference (left) and mean IG in predicted sensitive vs resistant cells
    (right; from the attribution AnnData ``attr``, layer of the group's output)."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 1.5 + 0.5 * max(top, 2)), squeeze=False)
    groups = attr.obs["predicted"].astype(str).to_numpy() if attr is not None else None
    for row, (group, colour) in zip(axes, (("sensitive", SENSITIVE), ("resistant", RESISTANT))):
        sel = critical[critical["critical"].astype(bool) & (critical["group"] == group)].head(top)
        ax = row[0]
        y = np.arange(len(sel))
        ax.barh(y, sel["score"], color=colour)
        ax.set_yticks(y, sel["gene"], fontsize=7)
        ax.invert_yaxis()
        n = int((critical["critical"].astype(bool) & (critical["group"] == group)).sum())
        ax.set(xlabel="Wilcoxon score (IG, group vs other)", title=f"{group} critical genes: top {len(sel)} of {n}")
        ax = row[1]
        if attr is not None and len(sel):
            ig = pd.DataFrame(np.asarray(attr.layers[group]), columns=attr.var_names.astype(str))[list(sel["gene"])]
            for offset, (g, c) in zip((-0.2, 0.2), (("sensitive", SENSITIVE), ("resistant", RESISTANT))):
                ax.barh(y + offset, ig[groups == g].mean(axis=0), height=0.4, color=c, label=f"predicted {g}")
            ax.set_yticks(y, sel["gene"], fontsize=7)
            ax.invert_yaxis()
            ax.legend(fontsize=7, frameon=False)
        ax.set(xlabel=f"mean IG to the {group} output")
    if title:
        fig.suptitle(title)
    return fig

def plot_enrichment(table: pd.DataFrame, top: int = 10, title: str = "") -> Figure:
    """Top enriched gene sets of the sensitive and resistant critical genes
    (:func:`drugshift.enrich.enrich_critical_genes`): −log10 BH-adjusted p per term, the overlap
    written beside each bar, the 0.05 line dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.8 + 0.35 * max(top, 2)), squeeze=False)
    for ax, (group, colour) in zip(axes[0], (("sensitive", SENSITIVE), ("resistant", RESISTANT))):
        sel = table[table["group"] == group].sort_values(["p", "term"], kind="mergesort").head(top)
        y = np.arange(len(sel))
        value = -np.log10(sel["p_adj"].clip(lower=1e-300))
        ax.barh(y, value, color=colour)
        labels = [f"{lib}: {term}"[:55] for lib, term in zip(sel["library"], sel["term"])]
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        for yi, v, k, n in zip(y, value, sel["overlap"], sel["n_query"]):
            ax.text(v, yi, f" {k}/{n}", va="center", fontsize=6)
        ax.axvline(-np.log10(0.05), color="k", lw=0.8, ls="--")
        ax.set(xlabel="−log10 BH-adjusted p", title=f"{group} critical genes")
    if title:
        fig.suptitle(title)
    return fig
