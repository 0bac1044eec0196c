"""Figures of the input data: bulk label waterfalls and single-cell QC. Each function returns a Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from drugshift.plots.style import RESISTANT, SENSITIVE

__all__ = ["plot_waterfall", "plot_qc"]


def plot_waterfall(labels: pd.DataFrame) -> Figure:
    """Waterfall plot of one drug: AUC by rank, coloured by label, with the cutoff line."""
    table = labels.dropna(subset=["auc"]).sort_values("auc", ascending=False)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    colours = np.where(table["label"] == 1, SENSITIVE, RESISTANT)
    ax.bar(np.arange(len(table)), table["auc"], color=colours, width=1.0)
    cutoff = labels.attrs.get("cutoff")
    if cutoff is not None:
        ax.axhline(cutoff, color="k", lw=0.8, ls="--",
                   label=f"cutoff {cutoff:.3f} ({labels.attrs.get('branch')}, |r|={labels.attrs.get('linearity', 0):.3f})")
        ax.legend(loc="upper right", fontsize=8, frameon=False)
    n_sens = int((table["label"] == 1).sum())
    ax.set(xlabel="cell lines ranked by AUC", ylabel="AUC", xlim=(-0.5, len(table) - 0.5),
           title=f"{labels.attrs.get('drug', '')}: {n_sens} sensitive / {len(table) - n_sens} resistant")
    return fig

def plot_qc(raw, processed, params) -> Figure:
    """Single-cell QC: detected genes vs mitochondrial fraction, kept cells highlighted, thresholds drawn."""
    from drugshift.preprocess import add_qc_metrics

    raw = raw.copy()
    add_qc_metrics(raw, params.mito_prefix)
    kept = raw.obs_names.isin(processed.obs_names)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    ax = axes[0]
    ax.scatter(raw.obs["n_genes_by_counts"][~kept], raw.obs["pct_counts_mt"][~kept], s=4, c="0.6", label="removed")
    ax.scatter(raw.obs["n_genes_by_counts"][kept], raw.obs["pct_counts_mt"][kept], s=4, c="k", label="kept")
    if not params.normalised:
        ax.axvline(params.min_genes, color="r", lw=0.8, ls="--")
        ax.axhline(100 * params.max_mito_fraction, color="r", lw=0.8, ls="--")
    ax.set(xlabel="detected genes", ylabel="mitochondrial counts (%)",
           title=f"{kept.sum()} of {raw.n_obs} cells kept")
    ax.legend(fontsize=8, frameon=False)
    ax = axes[1]
    if "response" in raw.obs:
        for value, colour, name in ((1.0, SENSITIVE, "sensitive"), (0.0, RESISTANT, "resistant")):
            sel = (raw.obs["response"] == value).to_numpy() & kept
            ax.hist(raw.obs["total_counts"][sel], bins=40, color=colour, alpha=0.6, label=name)
        ax.legend(fontsize=8, frameon=False)
    ax.set(xlabel="UMIs per kept cell", ylabel="cells", title="library size by ground truth")
    return fig
