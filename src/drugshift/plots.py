"""Figures. Each function writes one PNG (and a PDF beside it) and returns nothing."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: workflows run on servers and cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SENSITIVE, RESISTANT = "#d6604d", "#4393c3"


def _save(fig, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    # A fixed creation date keeps the PDF byte-identical between runs.
    fig.savefig(path, dpi=150, metadata={"Software": None})
    fig.savefig(path.with_suffix(".pdf"), metadata={"CreationDate": None, "Creator": None, "Producer": None})
    plt.close(fig)


def plot_waterfall(labels: pd.DataFrame, path: str | Path) -> None:
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
    _save(fig, path)


def plot_qc(raw, processed, params, path: str | Path) -> None:
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
    _save(fig, path)


def plot_prediction_umap(predictions, path: str | Path, seed: int = 42) -> None:
    """UMAP of the scDEAL embedding (``.obsm['X_scdeal']``) in three panels: ground truth,
    predicted label and predicted probability of sensitivity."""
    import scanpy as sc

    adata = predictions.copy()
    sc.pp.neighbors(adata, use_rep="X_scdeal", random_state=seed)
    sc.tl.umap(adata, random_state=seed)
    xy = adata.obsm["X_umap"]
    obs = adata.obs
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    panels = [("response", "ground truth"), ("sens_label", "predicted label")]
    for ax, (column, title) in zip(axes, panels):
        if column not in obs:
            ax.set_axis_off()
            continue
        values = obs[column].to_numpy(dtype=float)
        unknown = np.isnan(values)
        ax.scatter(*xy[unknown].T, s=3, c="0.85", label="unlabelled")
        for value, colour, name in ((1.0, SENSITIVE, "sensitive"), (0.0, RESISTANT, "resistant")):
            sel = values == value
            ax.scatter(*xy[sel].T, s=3, c=colour, label=f"{name} ({sel.sum()})")
        ax.set_title(title)
        ax.legend(fontsize=7, frameon=False, markerscale=3)
    ax = axes[2]
    points = ax.scatter(*xy.T, s=3, c=obs["sens_prob"], cmap="RdBu_r", vmin=0, vmax=1)
    fig.colorbar(points, ax=ax, label="P(sensitive)")
    ax.set_title("predicted probability")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("UMAP1")
        ax.set_ylabel("UMAP2")
    _save(fig, path)
