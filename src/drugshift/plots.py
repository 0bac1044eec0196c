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

    from drugshift.graph import neighbors

    adata = predictions.copy()
    neighbors(adata, use_rep="X_scdeal", seed=seed)
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


def plot_ablations(summary: pd.DataFrame, path: str | Path, metrics: tuple[str, ...] = ("auroc", "f1")) -> None:
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
    _save(fig, path)


def plot_critical_genes(attr, critical: pd.DataFrame, path: str | Path, top: int = 20, title: str = "") -> None:
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
    _save(fig, path)


def plot_enrichment(table: pd.DataFrame, path: str | Path, top: int = 10, title: str = "") -> None:
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
    _save(fig, path)


def plot_bicluster(matrix: pd.DataFrame, row_labels, col_labels, path: str | Path,
                   zscores: pd.DataFrame | None = None, title: str | None = None) -> None:
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
    _save(fig, path)


def plot_transfer_diagnostics(predictions, diagnostics: dict, path: str | Path, title: str = "") -> None:
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
    _save(fig, path)
