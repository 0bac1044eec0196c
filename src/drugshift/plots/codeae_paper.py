"""The CODE-AE paper's figures (He et al., Nat. Mach. Intell. 2022, Figs. 2–5) on drugshift outputs.

* :func:`domain_embedding` — Fig. 2a–c: cell lines and patients on one t-SNE map of a
  representation (original expression, a plain autoencoder's or CODE-AE-ADV's embedding).
* :func:`metric_by_drug` — Figs. 3a–b (PDTC) and 4a–b (TCGA): AUROC / AUPRC per drug and method.
* :func:`critical_difference` — the methods' mean ranks across drugs (the paper's Table 1) with
  a Friedman test and Nemenyi post-hoc groups.
* :func:`cluster_drug_zscores`, :func:`cluster_drug_heatmap` — Fig. 5a: z-scored predicted
  response per patient cluster and drug.
* :func:`cluster_composition` — Fig. 5b: one tumour type's patients over the patient clusters.
* :func:`tumours_in_cluster` — Fig. 5c: the primary tumour types within one patient cluster.

Every function takes tidy tables and returns a :class:`matplotlib.figure.Figure` (never saves);
the maps come from :func:`drugshift.domain_map.domain_map`, the benchmark table from the
workflow's ``results/codeae/benchmark.tsv``, clusters from
:func:`drugshift.patient_analysis.bicluster`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from drugshift.patient_analysis import cluster_zscores
from drugshift.plots.style import PALETTE, SEQUENTIAL, UNLABELLED, colour_cycle, require_columns

__all__ = ["domain_embedding", "metric_by_drug", "critical_difference", "cluster_drug_zscores",
           "cluster_drug_heatmap", "cluster_composition", "tumours_in_cluster"]

#: Benchmark cohorts → (what the title calls them, what one sample is).
COHORTS = {"gdsc_cv": ("GDSC cell lines (cross-validation)", "cell lines"),
           "tcga": ("TCGA patients", "patients"),
           "pdtc": ("PDTC models", "models")}
METRICS = ("AUROC", "AUPRC")
MAX_CATEGORIES = 10  # named tissues on a map before the rest become "other"
UNKNOWN, OTHER = "unknown", "other"
OTHER_COLOUR = "#777777"
DOMAIN_COLOURS = {"cell line": PALETTE[0], "patient": PALETTE[1]}
BENCHMARK_COLUMNS = ["method", "cohort", "drug", "fold", "n", "n_sensitive"]


# --------------------------------------------------------------------------- shared helpers


def _cohort_label(cohort: str) -> tuple[str, str]:
    return COHORTS.get(cohort, (cohort, "samples"))


def _cohort_rows(benchmark: pd.DataFrame, cohort: str, metric: str) -> pd.DataFrame:
    """The benchmark rows of ``cohort`` (one per method, drug and fold model)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    require_columns(benchmark, [*BENCHMARK_COLUMNS, metric], "the benchmark table")
    rows = benchmark[benchmark["cohort"] == cohort]
    if rows.empty:
        raise ValueError(f"the benchmark table has no rows for cohort {cohort!r}; "
                         f"it has {sorted(benchmark['cohort'].unique())}")
    return rows


def _legend_outside(ax, handles=None, title: str | None = None) -> None:
    """A legend to the right of the axes, outside the data."""
    kwargs = {"handles": handles} if handles is not None else {}
    ax.legend(**kwargs, title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _thin_ticks(ax, axis: str, labels: Sequence[str], max_labels: int = 40) -> None:
    """Tick labels for every item, or every k-th when there are more than ``max_labels``."""
    step = max(1, int(np.ceil(len(labels) / max_labels)))
    positions = np.arange(0, len(labels), step)
    shown = [labels[i] for i in positions]
    if axis == "x":
        long = len(shown) > 12 or max(map(len, shown), default=0) * len(shown) > 60
        ax.set_xticks(positions, shown, rotation=90 if long else 0)
    else:
        ax.set_yticks(positions, shown)


def _annotate_bars(ax, bars, texts: Sequence[str], horizontal: bool) -> None:
    """One small label at the end of each bar."""
    for bar, text in zip(bars, texts, strict=True):
        if horizontal:
            ax.annotate(text, (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(3, 0),
                        textcoords="offset points", va="center", ha="left", fontsize=7)
        else:
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7)


# --------------------------------------------------------------------------- Fig. 2a–c: domain maps


def _category_colours(labels: pd.Series) -> tuple[pd.Series, dict[str, tuple[str, bool]]]:
    """Labels with NaN → ``unknown`` and, beyond :data:`MAX_CATEGORIES` named values, all but the
    9 most frequent → ``other``; and ``{label: (colour, filled)}`` in legend order. Named labels
    take the palette's colours, repeated as open markers past its length; other and unknown are
    greys."""
    labels = labels.astype(object).where(labels.notna(), UNKNOWN).astype(str)
    counts = labels[labels != UNKNOWN].value_counts()
    if len(counts) > MAX_CATEGORIES:
        keep = set(counts.index[:MAX_CATEGORIES - 1])
        labels = labels.where(labels.isin(keep) | (labels == UNKNOWN), OTHER)
        counts = labels[~labels.isin([UNKNOWN, OTHER])].value_counts()
    named = sorted(counts.index, key=lambda t: (-counts[t], t))
    colours = {t: (c, i < len(PALETTE)) for i, (t, c) in enumerate(zip(named, colour_cycle(len(named))))}
    if (labels == OTHER).any():
        colours[OTHER] = (OTHER_COLOUR, True)
    if (labels == UNKNOWN).any():
        colours[UNKNOWN] = (UNLABELLED, True)
    return labels, colours


def _scatter_categories(ax, coords: pd.DataFrame, labels: pd.Series, colours: dict[str, tuple[str, bool]],
                        legend_title: str) -> None:
    """All points in one shuffled draw (no category hides another), one legend entry per label."""
    n = len(coords)
    order = np.random.default_rng(0).permutation(n)
    size = float(np.clip(4000 / max(n, 1), 4, 30))
    colour = labels.map(lambda t: colours[t][0]).to_numpy()[order]
    filled = labels.map(lambda t: colours[t][1]).to_numpy()[order]
    x, y = coords["x"].to_numpy()[order], coords["y"].to_numpy()[order]
    ax.scatter(x[filled], y[filled], s=size, c=list(colour[filled]), linewidths=0, rasterized=n > 5000)
    if (~filled).any():
        ax.scatter(x[~filled], y[~filled], s=size, facecolors="none", edgecolors=list(colour[~filled]),
                   linewidths=0.8)
    counts = labels.value_counts()
    handles = [Line2D([], [], ls="", marker="o", ms=5, color=c, markerfacecolor=c if full else "none",
                      label=f"{t} (n = {counts[t]})") for t, (c, full) in colours.items()]
    _legend_outside(ax, handles, legend_title)


def domain_embedding(coords: pd.DataFrame, title: str, method_label: str = "t-SNE",
                     domain_auroc: float | None = None) -> Figure:
    """Cell lines and patients on one 2-D map of a representation (CODE-AE paper, Fig. 2a–c).

    One call per representation: the original expression (Fig. 2a), a plain autoencoder's
    embedding (2b), CODE-AE-ADV's shared embedding (2c). Left panel: points coloured by domain —
    separate clouds mean the representation tells cell lines from patients; overlapping clouds,
    that it aligns them. Right panel (when ``coords`` has ``tissue``): coloured by tissue /
    tumour type, so one sees whether cell lines sit with the patients of their tissue. Missing
    tissues are grey ("unknown"); beyond 10 tissues the 9 most frequent are named and the rest
    pooled as "other".

    Args:
        coords: :func:`drugshift.domain_map.domain_map`'s table: ``x``, ``y``, ``domain``
            (``cell line`` / ``patient``) and optionally ``tissue``; one row per sample.
        title: the representation, e.g. ``"original expression"`` or ``"CODE-AE-ADV embedding"``.
        method_label: the map's name for the axis labels.
        domain_auroc: the cross-validated AUROC of a domain classifier on this representation
            (:func:`drugshift.deconfounding.domain_auroc`; 0.5 = aligned), shown in the title.

    Raises:
        ValueError: missing columns or no rows.
    """
    require_columns(coords, ["x", "y", "domain"], "coords")
    if coords.empty:
        raise ValueError("coords has no rows")
    has_tissue = "tissue" in coords.columns
    fig, axes = plt.subplots(1, 2 if has_tissue else 1, figsize=(11.5 if has_tissue else 6, 4.4),
                             squeeze=False, layout="constrained")
    domains = coords["domain"].astype(str)
    counts = domains.value_counts()
    order = [d for d in DOMAIN_COLOURS if d in counts] + sorted(set(counts.index) - set(DOMAIN_COLOURS))
    domain_colours = {d: (DOMAIN_COLOURS.get(d, c), True) for d, c in zip(order, colour_cycle(len(order) + 2)[2:])}
    _scatter_categories(axes[0, 0], coords, domains, domain_colours, "domain")
    axes[0, 0].set_title("coloured by domain")
    if has_tissue:
        tissues, colours = _category_colours(coords["tissue"])
        _scatter_categories(axes[0, 1], coords, tissues, colours, "tissue")
        axes[0, 1].set_title("coloured by tissue")
    for ax in axes.ravel():
        ax.set(xlabel=f"{method_label} 1", ylabel=f"{method_label} 2")
        ax.set_xticks([])
        ax.set_yticks([])
    parts = [", ".join(f"{counts[d]} {d}s" for d in order)]
    if domain_auroc is not None:
        parts.append(f"domain classifier AUROC = {domain_auroc:.2f}")
    fig.suptitle(f"{title}\n{'; '.join(parts)}")
    return fig


# --------------------------------------------------------------------------- Figs. 3–4: per-drug metrics


def _fold_summary(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per drug and method: mean and SD (ddof 1) of ``metric`` over the fold models."""
    return rows.groupby(["drug", "method"], sort=False)[metric].agg(["mean", "std"])


def _drug_label(rows: pd.DataFrame, unit: str) -> str:
    """``drug`` with its evaluated samples: ``n = 120 patients, 35 sensitive`` (a range when
    the folds were evaluated on different samples)."""
    n, pos = rows["n"], rows["n_sensitive"]

    def span(s):
        return f"{s.min()}" if s.min() == s.max() else f"{s.min()}–{s.max()}"

    per_fold = "" if n.nunique() == 1 and pos.nunique() == 1 else " per fold"
    return f"{rows['drug'].iloc[0]}\nn = {span(n)} {unit}, {span(pos)} sensitive{per_fold}"


def _chance_levels(rows: pd.DataFrame, metric: str) -> pd.Series:
    """Per drug, what a random ranking scores: 0.5 for AUROC, the positive rate for AUPRC."""
    if metric == "AUROC":
        return pd.Series(0.5, index=rows["drug"].unique())
    return (rows["n_sensitive"] / rows["n"]).groupby(rows["drug"], sort=False).mean()


def _resolve_methods(rows: pd.DataFrame, methods: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(rows["method"]))
    if methods is None:
        return present
    absent = [m for m in methods if m not in present]
    if absent:
        raise ValueError(f"method(s) {absent} have no rows in this cohort; it has {present}")
    return list(methods)


def metric_by_drug(benchmark: pd.DataFrame, cohort: str, metric: str = "AUROC",
                   methods: Sequence[str] | None = None) -> Figure:
    """Per drug, one bar per method: the mean ``metric`` of its fold models with SD error bars
    (CODE-AE paper, Fig. 3a–b for PDTC, Fig. 4a–b for TCGA patients).

    Drugs are rows (horizontal bars, so long names and many drugs stay readable), each labelled
    with the number of samples evaluated and how many are sensitive. The dashed line marks
    chance: 0.5 for AUROC, the drug's fraction of sensitive samples for AUPRC.

    Args:
        benchmark: ``results/codeae/benchmark.tsv``: columns ``method, cohort, drug, fold, n,
            n_sensitive`` and ``metric``; one row per method, cohort, drug and fold model.
        cohort: ``gdsc_cv``, ``tcga``, ``pdtc`` (or any cohort of the table).
        metric: ``AUROC`` or ``AUPRC``.
        methods: methods to show, in order (default: all, in table order).

    Raises:
        ValueError: an unknown metric, missing columns, a cohort without rows (named), or a
            requested method without rows.
    """
    rows = _cohort_rows(benchmark, cohort, metric)
    methods = _resolve_methods(rows, methods)
    rows = rows[rows["method"].isin(methods)]
    drugs = list(dict.fromkeys(rows["drug"]))
    summary = _fold_summary(rows, metric)
    chance = _chance_levels(rows, metric)
    n_methods, height = len(methods), 0.8 / len(methods)
    height_in = float(np.clip(1.0 + len(drugs) * (0.35 + 0.22 * n_methods), 3, 30))
    fig, ax = plt.subplots(figsize=(7.5, height_in), layout="constrained")
    for j, (method, colour) in enumerate(zip(methods, colour_cycle(n_methods))):
        stats = summary.xs(method, level="method").reindex(drugs)
        pos = np.arange(len(drugs)) - 0.4 + height * (j + 0.5)
        ax.barh(pos, stats["mean"], height=height * 0.92, xerr=stats["std"], color=colour, label=method,
                error_kw={"elinewidth": 0.8, "capsize": 2})
    for i, drug in enumerate(drugs):
        ax.plot([chance[drug]] * 2, [i - 0.45, i + 0.45], color="k", ls="--", lw=0.9,
                label="chance" if i == 0 else None)
    name, unit = _cohort_label(cohort)
    ax.set_yticks(np.arange(len(drugs)), [_drug_label(rows[rows["drug"] == d], unit) for d in drugs], fontsize=7)
    ax.set_ylim(len(drugs) - 0.5, -0.5)  # first drug on top
    top = np.nanmax((summary["mean"] + summary["std"].fillna(0)).to_numpy())
    ax.set_xlim(0, max(1.0, float(top) + 0.02))
    n_folds = rows.groupby(["method", "drug"])["fold"].nunique()
    folds = f"{n_folds.min()}" if n_folds.min() == n_folds.max() else f"{n_folds.min()}–{n_folds.max()}"
    ax.set_xlabel(f"{metric} (mean ± SD over {folds} fold models)")
    ax.set_title(f"{name}: {metric} per drug ({len(drugs)} drugs, {n_methods} methods)")
    _legend_outside(ax, title="method")
    return fig


# --------------------------------------------------------------------------- mean ranks (Table 1)


def _friedman(scores: pd.DataFrame) -> tuple[float, float]:
    """Friedman's χ² (ties corrected, as ``scipy.stats.friedmanchisquare``) and its p for a
    blocks × groups table; valid from 2 groups (scipy's needs 3)."""
    from scipy.stats import chi2, rankdata

    n, k = scores.shape
    ranks = rankdata(scores.to_numpy(dtype=float), axis=1)
    ties = sum(float((c ** 3 - c).sum()) for c in (np.unique(r, return_counts=True)[1] for r in ranks))
    correction = 1.0 - ties / (n * k * (k * k - 1))
    if correction <= 0:  # every block all ties: no evidence of any difference
        return 0.0, 1.0
    stat = (12.0 / (n * k * (k + 1)) * float((ranks.sum(axis=0) ** 2).sum()) - 3.0 * n * (k + 1)) / correction
    return stat, float(chi2.sf(stat, k - 1))


def _nemenyi_cd(k: int, n: int, alpha: float) -> float:
    """Nemenyi critical difference of mean ranks (Demšar 2006): q_α √(k(k+1)/(6n))."""
    from scipy.stats import studentized_range

    q = studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(k * (k + 1) / (6.0 * n)))


def _draw_cd(ax, cd: float) -> None:
    """The critical difference as a labelled segment from rank 1, above the rank axis."""
    ax.plot([1, 1 + cd], [1.5, 1.5], color="k", lw=1.2, marker="|", ms=6)
    ax.text(1 + cd / 2, 1.65, f"critical difference = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(top=2.6)


def _order_crossbars(ax) -> None:
    """Put the diagram's crossbars (horizontal lines joining several methods) in one order, with
    their points sorted: scikit-posthocs builds them from Python sets, whose order changes with
    the interpreter's string hashing, and so would the bytes of the saved figure."""
    bars = [line for line in ax.get_lines()
            if len(line.get_xdata()) > 1 and len(set(np.asarray(line.get_ydata(), dtype=float))) == 1]
    for line in bars:
        line.remove()
    for line in sorted(bars, key=lambda b: (float(b.get_ydata()[0]), sorted(map(float, b.get_xdata())))):
        x = sorted(map(float, line.get_xdata()))
        line.set_data(x, [float(line.get_ydata()[0])] * len(x))
        ax.add_line(line)


def critical_difference(benchmark: pd.DataFrame, cohort: str, metric: str = "AUROC",
                        alpha: float = 0.05) -> Figure:
    """Critical-difference diagram of the methods' mean ranks across drugs (the paper's
    Table 1 average ranks, drawn as in Demšar 2006).

    Per drug and method the fold models' mean ``metric`` is ranked across methods (1 = best,
    ties averaged); the diagram places each method at its mean rank over drugs. A Friedman test
    asks whether any method ranks consistently differently; Nemenyi's post-hoc test
    (``scikit_posthocs.posthoc_nemenyi_friedman``) joins with a bar the methods it cannot tell
    apart at ``alpha``, and the CD segment shows the critical difference. Drugs without a score
    for every method are left out.

    Args:
        benchmark: ``results/codeae/benchmark.tsv`` (see :func:`metric_by_drug`).
        cohort: the cohort to rank on.
        metric: ``AUROC`` or ``AUPRC``.
        alpha: significance level of the post-hoc groups.

    Raises:
        ValueError: as :func:`metric_by_drug`, or fewer than 2 methods or 2 drugs with scores.
    """
    import scikit_posthocs as sp

    rows = _cohort_rows(benchmark, cohort, metric)
    # Rounded so that equal fold means tie whatever order the floating-point sums ran in.
    scores = rows.groupby(["drug", "method"], sort=False)[metric].mean().round(12).unstack("method").dropna()
    n_drugs, k = scores.shape
    if k < 2 or n_drugs < 2:
        raise ValueError(f"a critical-difference diagram needs at least 2 methods and 2 drugs scored by all; "
                         f"cohort {cohort!r} has {k} method(s) and {n_drugs} such drug(s) for {metric}")
    ranks = scores.rank(axis=1, ascending=False).mean()
    _, p = _friedman(scores)
    pvalues = sp.posthoc_nemenyi_friedman(scores)
    fig, ax = plt.subplots(figsize=(7, 1.6 + 0.3 * k), layout="constrained")
    margin = 0.05 * (k - 1)
    sp.critical_difference_diagram(ranks, pvalues, ax=ax, alpha=alpha, text_h_margin=margin,
                                   color_palette=dict(zip(ranks.sort_values().index, colour_cycle(k))),
                                   label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}")
    _order_crossbars(ax)
    cd = _nemenyi_cd(k, n_drugs, alpha)
    _draw_cd(ax, cd)
    ax.set_xlim(1 - margin, max(k, 1 + cd) + margin)
    ax.set_xticks(np.arange(1, k + 1))
    ax.set_xlabel("mean rank across drugs (1 = best)")
    ax.xaxis.set_label_position("bottom")
    name, _ = _cohort_label(cohort)
    ax.set_title(f"{name}: {metric} ranks of {k} methods over {n_drugs} drugs\n"
                 f"Friedman p = {p:.3g}; bars join methods not different (Nemenyi, α = {alpha:g})")
    return fig


# --------------------------------------------------------------------------- Fig. 5: patient clusters


def cluster_drug_zscores(predictions: pd.DataFrame, clusters: pd.Series, per_drug: bool = False) -> pd.DataFrame:
    """Mean predicted response per patient cluster and drug, z-scored (CODE-AE paper, Fig. 5a).

    By default as in the paper ("the averaged cluster scores are normalized across all clusters
    and drugs"): :func:`drugshift.patient_analysis.cluster_zscores` without drug clusters. With
    ``per_drug`` each drug's cluster means are z-scored across the clusters instead (population
    SD; a drug with equal means everywhere gets 0), which compares clusters within a drug
    regardless of the drug's overall response rate.

    Args:
        predictions: patients × drugs predicted probabilities of sensitivity
            (:func:`drugshift.patient_analysis.response_matrix`); restrict the rows to one tumour
            type for the paper's per-tumour heat map.
        clusters: patient cluster per patient (e.g. ``patient_clusters.tsv`` as a Series).

    Returns:
        :func:`~drugshift.patient_analysis.cluster_zscores`'s long table: ``patient_cluster,
        drug, n_patients, n_drugs, mean_response, zscore``.
    """
    table = cluster_zscores(predictions, clusters)
    if per_drug:
        by_drug = table.groupby("drug")["mean_response"]
        sd = by_drug.transform(lambda s: s.std(ddof=0))
        table["zscore"] = ((table["mean_response"] - by_drug.transform("mean")) / sd.where(sd > 0)).fillna(0.0)
    return table


def _cluster_label(cluster, n: int | None) -> str:
    return f"{cluster} (n = {n})" if n is not None else str(cluster)


def cluster_drug_heatmap(zscores: pd.DataFrame, column: str = "drug") -> Figure:
    """Heat map of patient clusters × drugs, coloured by the z-scored mean predicted response
    (CODE-AE paper, Fig. 5a); as in the paper, z-scores below 0 are drawn as 0, so colour marks
    the clusters predicted more sensitive than average.

    Args:
        zscores: :func:`cluster_drug_zscores`'s table: ``patient_cluster``, ``column`` and
            ``zscore``, optionally ``n_patients`` (shown in the row labels and title). With
            ``column="drug_cluster"`` the workflow's ``cluster_zscores.tsv`` (drug clusters).
        column: the drug axis.

    Raises:
        ValueError: missing columns, no rows, or a (cluster, drug) pair given twice.
    """
    require_columns(zscores, ["patient_cluster", column, "zscore"], "zscores")
    if zscores.empty:
        raise ValueError("zscores has no rows")
    if zscores.duplicated(["patient_cluster", column]).any():
        raise ValueError(f"zscores lists a (patient_cluster, {column}) pair more than once")
    table = zscores.pivot(index="patient_cluster", columns=column, values="zscore").sort_index()
    shown = table.clip(lower=0.0)
    sizes = (zscores.groupby("patient_cluster")["n_patients"].first()
             if "n_patients" in zscores.columns else pd.Series(dtype=int))
    n_rows, n_cols = table.shape
    fig, ax = plt.subplots(figsize=(float(np.clip(3.0 + 0.17 * n_cols, 5, 16)),
                                    float(np.clip(2.0 + 0.17 * n_rows, 3, 14))), layout="constrained")
    vmax = max(float(np.nanmax(shown.to_numpy())), 1e-9)
    im = ax.imshow(shown.to_numpy(), aspect="auto", interpolation="nearest", cmap=SEQUENTIAL, vmin=0.0, vmax=vmax)
    _thin_ticks(ax, "x", [str(c) for c in table.columns], max_labels=80)
    _thin_ticks(ax, "y", [_cluster_label(c, sizes.get(c)) for c in table.index], max_labels=80)
    ax.tick_params(labelsize=7)
    what = "drug clusters" if column == "drug_cluster" else "drugs"
    ax.set(xlabel=column.replace("_", " "), ylabel="patient cluster")
    fig.colorbar(im, ax=ax, label="z-score of mean P(sensitive)\n(< 0 shown as 0)", fraction=0.05)
    patients = f"{int(sizes.sum())} patients in " if len(sizes) else ""
    ax.set_title(f"Predicted response to {n_cols} {what}: {patients}{n_rows} patient clusters")
    return fig


def _tumour_table(clusters: pd.Series, tumour_type: pd.Series) -> pd.DataFrame:
    """One row per clustered patient: ``cluster`` and ``tumour`` (``unknown`` when not typed)."""
    if not isinstance(clusters, pd.Series) or not isinstance(tumour_type, pd.Series):
        raise ValueError("clusters and tumour_type must be Series indexed by patient id")
    if clusters.index.duplicated().any():
        raise ValueError(f"clusters lists patient {clusters.index[clusters.index.duplicated()][0]!r} twice")
    if not clusters.index.isin(tumour_type.index).any():
        raise ValueError("clusters and tumour_type share no patient; check the sample identifiers")
    tumour = tumour_type[~tumour_type.index.duplicated()].reindex(clusters.index)
    return pd.DataFrame({"cluster": clusters.to_numpy(),
                         "tumour": tumour.astype(object).where(tumour.notna(), UNKNOWN).astype(str).to_numpy()},
                        index=clusters.index)


def cluster_composition(clusters: pd.Series, tumour_type: pd.Series, tumour: str) -> Figure:
    """How the patients of one tumour type distribute over the patient clusters (CODE-AE paper,
    Fig. 5b: 498 LSCC patients in 45 clusters): one bar per cluster holding any of them, its
    count on the left axis and share of the tumour's patients on the right.

    Args:
        clusters: patient cluster per patient id (``patient_clusters.tsv`` as a Series).
        tumour_type: primary tumour type per patient id (TCGA ``_primary_disease``); patients
            without one count as ``unknown``.
        tumour: the tumour type to show.

    Raises:
        ValueError: no shared patients, or ``tumour`` absent (the present ones are listed).
    """
    table = _tumour_table(clusters, tumour_type)
    chosen = table.loc[table["tumour"] == tumour, "cluster"]
    if chosen.empty:
        raise ValueError(f"no clustered patient has tumour type {tumour!r}; "
                         f"present: {sorted(table['tumour'].unique())}")
    counts = chosen.value_counts().sort_index()
    n = int(counts.sum())
    fig, ax = plt.subplots(figsize=(float(np.clip(2.5 + 0.28 * len(counts), 5, 16)), 3.8), layout="constrained")
    labels = [str(c) for c in counts.index]
    bars = ax.bar(np.arange(len(counts)), counts.to_numpy(), color=PALETTE[0])
    if len(counts) <= 30:
        _annotate_bars(ax, bars, [f"{100 * c / n:.0f}%" for c in counts], horizontal=False)
    _thin_ticks(ax, "x", labels, max_labels=60)
    ax.set(xlabel="patient cluster", ylabel="patients")
    share = ax.secondary_yaxis("right", functions=(lambda c: 100.0 * c / n, lambda p: p * n / 100.0))
    share.set_ylabel(f"% of {tumour} patients")
    ax.set_title(f"{tumour}: {n} patients in {len(counts)} of {table['cluster'].nunique()} patient clusters")
    return fig


def tumours_in_cluster(clusters: pd.Series, tumour_type: pd.Series, cluster) -> Figure:
    """The primary tumour types of the patients in one cluster (CODE-AE paper, Fig. 5c: cluster
    44, mostly LSCC with HNSCC, cervical, bladder and oesophageal carcinoma): horizontal bars of
    patient counts, largest first, each with its share of the cluster.

    Args:
        clusters, tumour_type: as :func:`cluster_composition`.
        cluster: the patient cluster to show.

    Raises:
        ValueError: no shared patients, or ``cluster`` absent (the present ones are listed).
    """
    table = _tumour_table(clusters, tumour_type)
    members = table.loc[table["cluster"] == cluster, "tumour"]
    if members.empty:
        raise ValueError(f"patient cluster {cluster!r} has no patients; clusters: {sorted(table['cluster'].unique())}")
    counts = members.value_counts()
    n = int(counts.sum())
    fig, ax = plt.subplots(figsize=(6.5, 1.2 + 0.3 * len(counts)), layout="constrained")
    colours = [UNLABELLED if t == UNKNOWN else PALETTE[0] for t in counts.index]
    bars = ax.barh(np.arange(len(counts)), counts.to_numpy(), color=colours)
    _annotate_bars(ax, bars, [f"{c} ({100 * c / n:.0f}%)" for c in counts], horizontal=True)
    ax.set_yticks(np.arange(len(counts)), counts.index)
    ax.invert_yaxis()
    ax.set_xlim(0, counts.max() * 1.25)
    ax.set(xlabel="patients", ylabel="primary tumour type")
    ax.set_title(f"Patient cluster {cluster}: {n} patients of {len(counts)} tumour types")
    return fig
