"""CODE-AE figures: the patients × drugs bicluster heat map. Each function returns a Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


__all__ = ["plot_bicluster"]


def plot_bicluster(matrix: pd.DataFrame, row_labels, col_labels,
                   zscores: pd.DataFrame | None = None, title: str | None = None) -> Figure:
    """Heat map of a patients × drugs response matrix ordered by its biclusters.

    Rows are grouped by patient cluster and columns by drug cluster (in label order, see
    :func:`drugshift.patient_analysis.bicluster`), within a cluster by decreasing mean response;
    thin lines separate the clusters. Drug names are shown up to 80 drugs. With ``zscores`` (the
    table of :func:`drugshift.patient_analysis.cluster_zscores` with drug clusters) a second
    panel shows the z-scored block means (red = more sensitive than average).
    """
    rl = pd.Series(row_labels).reindex(matrix.index).to_numpy()
    cl = pd.Series(col_labels).reindex(matrix.columns).to_numpy()
    row_order = np.lexsort((-matrix.mean(axis=1).to_numpy(), rl))
    col_order = np.lexsort((-matrix.mean(axis=0).to_numpy(), cl))
    data = matrix.to_numpy(dtype=float)[np.ix_(row_order, col_order)]
    finite = data[np.isfinite(data)]
    if finite.size and finite.min() >= 0 and finite.max() <= 1:
        vmin, vmax, label = 0.0, 1.0, "P(sensitive)"
    else:
        vmin, vmax = (np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0))
        label = "predicted response"
    n_rows, n_cols = data.shape
    width = float(np.clip(3 + 0.16 * n_cols, 5, 14)) + (4 if zscores is not None else 0)
    if zscores is not None:
        fig, (ax, axz) = plt.subplots(1, 2, figsize=(width, 6), gridspec_kw={"width_ratios": [3, 2]})
    else:
        fig, ax = plt.subplots(figsize=(width, 6))
    im = ax.imshow(data, aspect="auto", interpolation="nearest", cmap="RdBu_r", vmin=vmin, vmax=vmax)
    for pos in np.flatnonzero(np.diff(rl[row_order])):
        ax.axhline(pos + 0.5, color="k", lw=0.4)
    for pos in np.flatnonzero(np.diff(cl[col_order])):
        ax.axvline(pos + 0.5, color="k", lw=0.6)
    if n_cols <= 80:
        ax.set_xticks(np.arange(n_cols))
        ax.set_xticklabels(matrix.columns[col_order], rotation=90, fontsize=6)
    else:
        ax.set_xticks([])
    ax.set_yticks([])
    ax.set(xlabel=f"{n_cols} drugs in {len(np.unique(cl))} clusters",
           ylabel=f"{n_rows} patients in {len(np.unique(rl))} clusters")
    fig.colorbar(im, ax=ax, label=label, fraction=0.04)
    if zscores is not None:
        table = zscores.pivot(index="patient_cluster", columns="drug_cluster", values="zscore")
        lim = float(np.nanmax(np.abs(table.to_numpy()))) if table.size else 1.0
        imz = axz.imshow(table.to_numpy(), aspect="auto", interpolation="nearest", cmap="RdBu_r",
                         vmin=-max(lim, 1e-9), vmax=max(lim, 1e-9))
        if table.shape[1] <= 40:
            axz.set_xticks(np.arange(table.shape[1]))
            axz.set_xticklabels(table.columns, fontsize=7)
        if table.shape[0] <= 40:
            axz.set_yticks(np.arange(table.shape[0]))
            axz.set_yticklabels(table.index, fontsize=7)
        axz.set(xlabel="drug cluster", ylabel="patient cluster", title="cluster z-scores")
        fig.colorbar(imz, ax=axz, label="z-score", fraction=0.05)
    if title:
        fig.suptitle(title)
    return fig
