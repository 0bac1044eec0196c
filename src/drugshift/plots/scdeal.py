"""scDEAL figures: predictions on the cells, ablations, transfer diagnostics. Each function returns a Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from drugshift.plots.style import RESISTANT, SENSITIVE

__all__ = ["plot_prediction_umap", "plot_ablations", "plot_transfer_diagnostics"]


def plot_prediction_umap(predictions) -> Figure:
    """UMAP of the scDEAL embedding (``.obsm['X_umap']``, from
    :func:`drugshift.graph.umap_coordinates`) in three panels: ground truth, predicted label and
    predicted probability of sensitivity."""
    adata = predictions
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
    return fig

def plot_ablations(summary: pd.DataFrame, metrics: tuple[str, ...] = ("auroc", "f1")) -> Figure:
    """scDEAL ablations: one row of panels per dataset, one panel per metric; each setting's
    mean ± sd over seeds (filled) and over subsamples (open), from
    :func:`drugshift.ablations.summarise_runs`."""
    datasets = list(dict.fromkeys(summary["dataset"]))
    fig, axes = plt.subplots(len(datasets), len(metrics), figsize=(4.2 * len(metrics), 0.5 + 2.6 * len(datasets)),
                             squeeze=False)
    for row, dataset in zip(axes, datasets):
        part = summary[summary["dataset"] == dataset]
        settings = list(dict.fromkeys(part["setting"]))
        ypos = {s: i for i, s in enumerate(settings)}
        for ax, metric in zip(row, metrics):
            for kind, offset, face in (("seed", -0.15, SENSITIVE), ("sub", 0.15, "white")):
                sel = part[part["kind"] == kind]
                if sel.empty:
                    continue
                ax.errorbar(sel[f"{metric}_mean"], sel["setting"].map(ypos) + offset, xerr=sel[f"{metric}_sd"].fillna(0),
                            fmt="o", color=SENSITIVE, mfc=face, ms=5, capsize=2,
                            label="seeds" if kind == "seed" else "80 % subsamples")
            ax.set_yticks(range(len(settings)), settings)
            ax.invert_yaxis()
            ax.set_xlim(-0.02, 1.02)
            if metric == "auroc":
                ax.axvline(0.5, color="0.7", lw=0.8, ls="--")
            ax.set_xlabel(metric.upper() if metric == "auroc" else metric)
            ax.set_title(f"{dataset}: {metric}", fontsize=9)
        row[0].legend(fontsize=7, frameon=False, loc="lower left")
    return fig

def plot_transfer_diagnostics(predictions, diagnostics: dict, title: str = "") -> Figure:
    """The label-free transfer diagnostics of one scDEAL model or ensemble on its cells (no cell
    label is drawn): (a) each cell's ensemble spread with the ``uncertain_sd`` line, (b) the
    transferred against the no-transfer probability (an orientation flip shows as a falling
    cloud), (c) each member's bulk validation AUROC and the out-of-fold AUROC, (d) the numbers
    and the verdict with its reasons."""
    from drugshift.models.scdeal.diagnostics import MIN_BULK_AUROC

    obs, d = predictions.obs, diagnostics
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6), gridspec_kw={"width_ratios": [1, 1, 1, 1.25]})
    ax = axes[0]
    if "sens_prob_sd" in obs:
        sd = obs["sens_prob_sd"].to_numpy()
        ax.hist(sd, bins=30, color="0.4")
        ax.axvline(d["uncertain_sd"], color="r", lw=0.8, ls="--", label=f"uncertain above {d['uncertain_sd']:g}")
        ax.legend(fontsize=8, frameon=False)
        ax.set(xlabel="ensemble sd of P(sensitive)", ylabel="cells",
               title=f"(a) spread: {100 * d['uncertain_fraction']:.0f}% of {len(sd)} cells uncertain")
    else:
        ax.text(0.5, 0.5, "single model:\nno ensemble spread", ha="center", va="center", transform=ax.transAxes)
        ax.set(xticks=[], yticks=[], title="(a) spread")
    ax = axes[1]
    ax.scatter(obs["sens_prob_no_transfer"], obs["sens_prob"], s=5, c="k", alpha=0.5, linewidths=0)
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls=":")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="P(sensitive), bulk model without transfer",
           ylabel="P(sensitive), transferred",
           title=f"(b) transfer vs none: Spearman {d['transfer_vs_no_transfer']:.2f}")
    ax = axes[2]
    aurocs = d["bulk_val_auroc"]
    ax.bar(np.arange(len(aurocs)), aurocs, color="0.5", label="member, validation lines")
    ax.axhline(d["bulk_auroc_out_of_fold"], color="k", lw=1, label=f"out of fold {d['bulk_auroc_out_of_fold']:.2f}")
    ax.axhline(MIN_BULK_AUROC, color="r", lw=0.8, ls="--", label=f"no signal below {MIN_BULK_AUROC}")
    ax.set(ylim=(0, 1), xticks=np.arange(len(aurocs)), xticklabels=[str(i + 1) for i in range(len(aurocs))],
           xlabel="member", ylabel="bulk AUROC", title="(c) bulk model on held-out cell lines")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax = axes[3]
    ax.axis("off")

    def fmt(x, pct=False):
        if x is None or not np.isfinite(x):
            return "n/a"
        return f"{100 * x:.0f}%" if pct else f"{x:.2f}"

    lines = [f"members: {d['members']}",
             f"member agreement (Spearman): {fmt(d['member_agreement'])}",
             f"transfer vs no transfer (Spearman): {fmt(d['transfer_vs_no_transfer'])}",
             f"domain classifier AUROC (bulk vs cells): {fmt(d['domain_auroc'])}",
             f"uncertain cells: {fmt(d['uncertain_fraction'], pct=True)}",
             "", f"verdict: {d['verdict']}"]
    lines += [f"  - {r}" for r in d.get("reasons", [])]
    import textwrap

    text = "\n".join(textwrap.fill(line, 52, subsequent_indent="    ") for line in lines)
    ax.text(0, 1, text, va="top", ha="left", fontsize=8.5, family="monospace", transform=ax.transAxes,
            color="k" if d["verdict"] == "ok" else "#b2182b")
    ax.set_title("(d) diagnostics (no cell label used)")
    if title:
        fig.suptitle(title)
    return fig
