"""The figures of the scDEAL paper (Chen et al. 2022, Nat. Commun. 13:6735), Figs. 2–5, drawn from
the workflow's tables and AnnData files. Each function returns a Figure; none reads or writes files.

=========================  ===================================================================
paper panel                function
=========================  ===================================================================
2a  seven metrics          :func:`metrics_by_dataset`
2b–d  ablations (seeds)    :func:`setting_comparison` (settings of :data:`FIG2_PANELS`)
2f  80 % subsampling       :func:`subsampling_robustness`
3a–b, 4a, 5a–d  UMAPs      :func:`umap_panels`
3c  DEG-score agreement    :func:`deg_score_scatter`
3d  empirical null         :func:`null_distribution`
4b  IG heat map            :func:`ig_heatmap`
4c  critical-gene dots     :func:`critical_gene_dotplot`
5e–f  correlations         :func:`correlation_matrix`
=========================  ===================================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.layout_engine import PlaceHolderLayoutEngine
from matplotlib.patches import Patch

from drugshift.plots.style import DIVERGING, RESISTANT, SENSITIVE, SEQUENTIAL, UNLABELLED, colour_cycle, require_columns

__all__ = [
    "FIG2_PANELS",
    "PAPER_METRICS",
    "SETTING_LABELS",
    "correlation_matrix",
    "critical_gene_dotplot",
    "deg_score_scatter",
    "ig_heatmap",
    "metrics_by_dataset",
    "null_distribution",
    "setting_comparison",
    "subsampling_robustness",
    "umap_panels",
]

#: The seven metrics of the paper's benchmark (Fig. 2a), in its order.
PAPER_METRICS = ("f1", "auroc", "ap", "precision", "recall", "ami", "ari")
_METRIC_NAMES = {"f1": "F1", "auroc": "AUROC", "ap": "AP", "precision": "precision", "recall": "recall",
                 "ami": "AMI", "ari": "ARI", "f1_weighted": "weighted F1", "signature_r": "signature r"}

#: Display names of the settings of :data:`drugshift.methods.SETTINGS`.
SETTING_LABELS = {
    "scdeal": "scDEAL", "no_transfer": "no transfer", "linear": "linear", "ae": "AE", "dae": "DAE",
    "no_anchor": "no anchor", "reference": "reference code", "gdsc_only": "GDSC only", "ccle_only": "CCLE only",
}

#: Keyword arguments of :func:`setting_comparison` for the paper's Fig. 2b, 2c and 2d.
FIG2_PANELS = {
    "2b": {"settings": ("gdsc_only", "ccle_only", "scdeal"),
           "labels": {"gdsc_only": "GDSC only", "ccle_only": "CCLE only", "scdeal": "GDSC + CCLE"},
           "title": "bulk training data"},
    "2c": {"settings": ("ae", "dae", "scdeal"),
           "labels": {"ae": "AE", "dae": "DAE", "scdeal": "DAE + cluster regulariser"},
           "title": "feature extractor and regulariser"},
    "2d": {"settings": ("scdeal", "no_transfer"),
           "labels": {"scdeal": "with transfer", "no_transfer": "without transfer"},
           "title": "transfer learning"},
}

#: obs columns drawn as drug-response labels (1/"sensitive", 0/"resistant", missing = unlabelled).
LABEL_COLUMNS = ("response", "sens_label", "sens_label_no_transfer", "predicted")

_COLOURBAR_LABELS = {
    "sens_prob": "P(sensitive)",
    "sens_prob_no_transfer": "P(sensitive), no transfer",
    "pseudotime": "diffusion pseudotime",
    "sensitive_score": "sensitive DEG score",
    "resistant_score": "resistant DEG score",
    "sensitive_predicted_degs": "score of predicted sensitive DEGs",
    "resistant_predicted_degs": "score of predicted resistant DEGs",
    "sensitive_truth_degs": "score of ground-truth sensitive DEGs",
    "resistant_truth_degs": "score of ground-truth resistant DEGs",
}
_GROUPS = ("sensitive", "resistant")
_GROUP_COLOURS = {"sensitive": SENSITIVE, "resistant": RESISTANT}


# --------------------------------------------------------------------------- shared helpers


def _metric_name(metric: str) -> str:
    return _METRIC_NAMES.get(metric, metric)


def _fmt_p(p: float) -> str:
    return "< 1e-300" if p == 0 else f"= {p:.2g}"


def _count_text(counts) -> str:
    lo, hi = int(min(counts)), int(max(counts))
    return str(lo) if lo == hi else f"{lo}–{hi}"


def _score_ylim(ax, values) -> None:
    """Scores in [0, 1]; room below 0 for AMI, ARI and r that can be negative."""
    values = np.asarray(values, dtype=float)
    low = np.nanmin(values) if np.isfinite(values).any() else 0.0
    ax.set_ylim(min(0.0, low - 0.05), 1.05)
    if low < 0:
        ax.axhline(0, color="0.5", lw=0.6)


def _legend_right(ax, **kwargs):
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, **kwargs)


def _group_ticks(ax, labels: Sequence[str]) -> None:
    """Dataset names under each group of bars, slanted when they would collide."""
    ax.set_xticks(np.arange(len(labels)), labels)
    longest = max(len(line) for label in labels for line in str(label).split("\n"))
    room = 0.7 * ax.figure.get_figwidth() * 72 / len(labels)  # points per group; the legend takes the rest
    if longest * 5.0 > room:  # about 5 pt per character at 8 pt
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")


def _offsets(n_series: int, width: float = 0.8) -> tuple[np.ndarray, float]:
    step = width / n_series
    return (np.arange(n_series) - (n_series - 1) / 2) * step, step


def _bars_size(n_groups: int, n_series: int) -> tuple[float, float]:
    return min(3.0 + (0.3 * n_series + 0.4) * n_groups, 13.0), 3.6


def _grouped_bars(ax, groups: Sequence[str], names: Sequence[str], mean: np.ndarray, sd: np.ndarray | None = None,
                  points: Mapping[tuple[int, int], np.ndarray] | None = None) -> None:
    """One group of bars per entry of ``groups``, one bar per entry of ``names`` (``mean[group, name]``),
    with ± ``sd`` error bars and the individual ``points`` as dots when given."""
    offsets, step = _offsets(len(names))
    x = np.arange(len(groups))
    for j, (name, colour) in enumerate(zip(names, colour_cycle(len(names)))):
        err = None if sd is None else np.nan_to_num(sd[:, j])
        ax.bar(x + offsets[j], mean[:, j], width=step * 0.9, color=colour, label=name, yerr=err,
               error_kw={"ecolor": "0.2", "elinewidth": 0.8, "capsize": 2})
    for (i, j), values in (points or {}).items():
        jitter = np.linspace(-0.25, 0.25, len(values)) * step if len(values) > 1 else np.zeros(1)
        ax.scatter(x[i] + offsets[j] + jitter, values, s=6, color="k", alpha=0.6, linewidths=0, zorder=3)
    _group_ticks(ax, groups)


def _replicates(runs: pd.DataFrame, prefix: str, metric: str) -> pd.DataFrame:
    """The runs whose replicate is ``<prefix><k>`` (``seed`` or ``sub``)."""
    require_columns(runs, ("dataset", "setting", "replicate", metric), "runs")
    part = runs[runs["replicate"].astype(str).str.fullmatch(rf"{prefix}\d+")]
    if part.empty:
        found = sorted(set(runs["replicate"].astype(str)))[:8]
        raise ValueError(f"runs has no replicate named '{prefix}<k>' in column 'replicate' (it has {found})")
    return part


def _settings_present(part: pd.DataFrame, settings: Sequence[str] | None, kind: str) -> list[str]:
    have = list(dict.fromkeys(part["setting"]))
    chosen = [s for s in (settings if settings is not None else have) if s in set(have)]
    if not chosen:
        raise ValueError(f"none of the settings {list(settings or [])} has {kind} runs in column 'setting' "
                         f"(it has {have})")
    return chosen


def _label_series(values) -> pd.Series:
    """1/True/'sensitive' → 'sensitive', 0/False/'resistant' → 'resistant', missing → None."""
    s = pd.Series(np.asarray(values, dtype=object))
    known = {"1": "sensitive", "1.0": "sensitive", "True": "sensitive", "sensitive": "sensitive",
             "0": "resistant", "0.0": "resistant", "False": "resistant", "resistant": "resistant"}
    missing = s.isna()
    mapped = s.astype(str).map(known)
    bad = sorted(set(s[mapped.isna() & ~missing].astype(str)))
    if bad:
        raise ValueError(f"a drug-response label must be 1/0 or sensitive/resistant, got {bad[:5]}")
    return mapped.where(~missing, None)


def _top_critical(critical: pd.DataFrame, top: int, genes) -> dict[str, list[str]]:
    """Each group's ``top`` critical genes (by ``rank``) that are among ``genes``."""
    require_columns(critical, ("gene", "group", "rank"), "critical")
    table = (critical[critical["critical"].astype(str).str.lower().isin(("true", "1", "1.0"))]
             if "critical" in critical else critical)
    table = table[table["gene"].astype(str).isin(set(map(str, genes)))].sort_values("rank", kind="stable")
    out = {g: table.loc[table["group"] == g, "gene"].astype(str).head(top).tolist() for g in _GROUPS}
    if not any(out.values()):
        raise ValueError("critical has no critical gene of group 'sensitive' or 'resistant' among the cells' genes")
    return out


def _given_normalised(cells) -> bool:
    """Whether the cells came normalised by their authors (e.g. z-scores; ``uns['values']``), so
    that their ``lognorm`` layer holds those values, not log-normalised counts."""
    return str(cells.uns.get("values", "")) == "normalised"


def _expression(cells, layer: str | None) -> tuple[np.ndarray, str]:
    """Dense cells × genes expression from ``layer`` if the AnnData has it, else ``.X``."""
    if layer and layer in cells.layers:
        lognorm = "normalised expression (as given)" if _given_normalised(cells) else "log-normalised expression"
        X, name = cells.layers[layer], lognorm if layer == "lognorm" else f"expression ({layer})"
    else:
        X, name = cells.X, "expression"
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    return np.asarray(X, dtype=float), name


# --------------------------------------------------------------------------- Fig. 2


def metrics_by_dataset(summary: pd.DataFrame, metrics: Sequence[str] = PAPER_METRICS,
                       title: str = "scDEAL on each dataset") -> Figure:
    """Fig. 2a: the seven metrics (F1, AUROC, AP, precision, recall, AMI, ARI) of scDEAL's
    prediction against the ground truth, one group of bars per dataset (and drug).

    Args:
        summary: ``results/scdeal/summary.tsv``: columns ``dataset`` and the ``metrics``;
            ``drug`` and ``n`` (labelled cells) are shown under the dataset when present. Only the
            rows with ``setting == "transfer"`` are drawn when the column ``setting`` exists.
    """
    require_columns(summary, ("dataset", *metrics), "summary")
    table = summary[summary["setting"] == "transfer"] if "setting" in summary else summary
    if table.empty:
        raise ValueError("summary has no row with setting == 'transfer'")
    groups = []
    for _, row in table.iterrows():
        parts = [str(row["dataset"])] + ([str(row["drug"])] if "drug" in table else [])
        if "n" in table and pd.notna(row["n"]):
            parts.append(f"n = {int(row['n'])} cells")
        groups.append("\n".join(parts))
    values = table[list(metrics)].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=_bars_size(len(groups), len(metrics)), layout="constrained")
    _grouped_bars(ax, groups, [_metric_name(m) for m in metrics], values)
    _score_ylim(ax, values)
    ax.set(ylabel="score", xlabel="dataset", title=f"{title} ({len(groups)} datasets)")
    _legend_right(ax, title="metric")
    return fig


def setting_comparison(runs: pd.DataFrame, settings: Sequence[str], labels: Mapping[str, str] | None = None,
                       metric: str = "f1", title: str = "") -> Figure:
    """Fig. 2b–d: per dataset, one bar per ablation setting, the mean ± sd of ``metric`` over the
    seed replicates (``seed<k>``: all cells, model seed varied), each run a dot.

    The settings are those of :data:`drugshift.methods.SETTINGS` (column ``setting`` of
    :func:`drugshift.ablations.runs_table`); :data:`FIG2_PANELS` holds the paper's choices:

    * Fig. 2b, bulk training data: ``gdsc_only`` (GDSC only), ``ccle_only`` (CCLE only),
      ``scdeal`` (both);
    * Fig. 2c, feature extractor: ``ae`` (common autoencoder), ``dae`` (denoising autoencoder),
      ``scdeal`` (DAE + cell-cluster regulariser);
    * Fig. 2d, transfer: ``scdeal`` (with transfer) against ``no_transfer`` (the bulk model
      applied to the cells, read from the same runs).

    ``scdeal`` is the method as configured, so it also carries the consistency anchor when the
    configuration sets ``consistency_weight`` above 0 (``no_anchor`` is the paper's loss).

    Args:
        runs: ``results/scdeal/ablations.tsv``, one row per run: columns ``dataset``, ``setting``,
            ``replicate`` and ``metric``; ``sub<k>`` replicates are ignored.
        settings: settings to draw, in this order; those without seed runs are skipped.
        labels: display name of each setting (default :data:`SETTING_LABELS`).

    Raises:
        ValueError: a column missing, no seed replicate, or none of ``settings`` present.
    """
    part = _replicates(runs, "seed", metric)
    chosen = _settings_present(part, settings, "seed")
    names = {**SETTING_LABELS, **(labels or {})}
    datasets = list(dict.fromkeys(part["dataset"]))
    grouped = {key: g[metric].to_numpy(dtype=float) for key, g in part.groupby(["dataset", "setting"], sort=False)}
    shape = (len(datasets), len(chosen))
    mean, sd = np.full(shape, np.nan), np.full(shape, np.nan)
    points, counts = {}, {s: [] for s in chosen}
    for i, dataset in enumerate(datasets):
        for j, setting in enumerate(chosen):
            values = grouped.get((dataset, setting), np.array([]))
            values = values[np.isfinite(values)]
            if len(values):
                mean[i, j], sd[i, j] = values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0
                points[i, j] = values
                counts[setting].append(len(values))
    if not points:
        raise ValueError(f"column {metric!r} has no finite value in the seed runs of {chosen}")
    single = all(n == 1 for n_runs in counts.values() for n in n_runs)
    legend = [names.get(s, s) if single else f"{names.get(s, s)} (n = {_count_text(counts[s] or [0])} runs)"
              for s in chosen]
    fig, ax = plt.subplots(figsize=_bars_size(len(datasets), len(chosen)), layout="constrained")
    _grouped_bars(ax, datasets, legend, mean, None if single else sd, points)
    _score_ylim(ax, np.concatenate(list(points.values())))
    heading = f"{title}: " if title else ""
    spread = "one run per setting" if single else "mean ± sd over seeds"
    ax.set(ylabel=_metric_name(metric), xlabel="dataset", title=f"{heading}{_metric_name(metric)}, {spread}")
    _legend_right(ax, title="setting")
    return fig


def _box(ax, values: np.ndarray, position: float, width: float, colour: str) -> None:
    line = {"color": "0.2", "linewidth": 0.8}
    ax.boxplot(values, positions=[position], widths=width, patch_artist=True, manage_ticks=False,
               boxprops={"facecolor": colour, "edgecolor": "0.2", "linewidth": 0.8}, whiskerprops=line, capprops=line,
               medianprops={"color": "white" if colour == "#000000" else "k", "linewidth": 1},
               flierprops={"marker": "o", "markersize": 3, "markerfacecolor": "k", "markeredgewidth": 0})


def subsampling_robustness(runs: pd.DataFrame, metric: str = "f1", settings: Sequence[str] | None = None,
                           labels: Mapping[str, str] | None = None) -> Figure:
    """Fig. 2f: robustness to 80 % stratified subsamples of the cells: per dataset and setting, a
    box plot of ``metric`` over the ``sub<k>`` replicates (model seed fixed, cells resampled);
    whiskers at 1.5 × IQR, outliers as dots.

    Args:
        runs: ``results/scdeal/ablations.tsv`` (columns ``dataset``, ``setting``, ``replicate``,
            ``metric``); ``seed<k>`` replicates are ignored.
        settings: settings to draw, in this order (default: every setting with subsample runs).
        labels: display name of each setting (default :data:`SETTING_LABELS`).
    """
    part = _replicates(runs, "sub", metric)
    chosen = _settings_present(part, settings, "subsample")
    names = {**SETTING_LABELS, **(labels or {})}
    datasets = list(dict.fromkeys(part["dataset"]))
    offsets, step = _offsets(len(chosen))
    colours = colour_cycle(len(chosen))
    fig, ax = plt.subplots(figsize=_bars_size(len(datasets), len(chosen)), layout="constrained")
    all_values, counts = [], {s: [] for s in chosen}
    for i, dataset in enumerate(datasets):
        for j, setting in enumerate(chosen):
            sel = part[(part["dataset"] == dataset) & (part["setting"] == setting)][metric].to_numpy(dtype=float)
            sel = sel[np.isfinite(sel)]
            if not len(sel):
                continue
            counts[setting].append(len(sel))
            all_values.append(sel)
            _box(ax, sel, i + offsets[j], step * 0.8, colours[j])
    if not all_values:
        raise ValueError(f"column {metric!r} has no finite value in the subsample runs of {chosen}")
    _group_ticks(ax, datasets)
    _score_ylim(ax, np.concatenate(all_values))
    handles = [Patch(facecolor=colours[j], edgecolor="0.2", label=f"{names.get(s, s)} (n = {_count_text(counts[s])})")
               for j, s in enumerate(chosen) if counts[s]]
    ax.set(ylabel=_metric_name(metric), xlabel="dataset",
           title=f"{_metric_name(metric)} on 80 % subsamples of the cells")
    _legend_right(ax, handles=handles, title="setting (n subsamples)")
    return fig


# --------------------------------------------------------------------------- embeddings (Figs. 3a–b, 4a, 5a–d)


def _basis_name(basis: str) -> str:
    key = basis.removeprefix("X_").lower()
    return {"umap": "UMAP", "diffmap": "DC", "tsne": "tSNE", "pca": "PC", "scdeal": "scDEAL"}.get(key, key)


def _panel_values(cells, column: str, layer: str) -> tuple[pd.Series, str | None]:
    """A panel's per-cell values and, for a gene, its colour bar label."""
    if column in cells.obs:
        return cells.obs[column].reset_index(drop=True), None
    if column in cells.var_names:
        X, name = _expression(cells[:, [column]], layer)
        return pd.Series(X[:, 0]), name
    raise ValueError(f"column {column!r} is neither in the cells' obs {list(cells.obs.columns)} nor a gene")


def _panel_kind(values: pd.Series, column: str, label_columns: Sequence[str]) -> str:
    distinct = set(values.dropna().astype(str))
    if column in label_columns or (distinct and distinct <= set(_GROUPS)):
        return "label"
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype) or dtype == object or dtype == bool:
        return "category"
    if pd.api.types.is_integer_dtype(dtype) and values.nunique() <= 20:
        return "category"
    return "continuous"


def _draw_labels(ax, xy, values, size) -> None:
    groups = _label_series(values)
    for name, colour in (("unlabelled", UNLABELLED), ("resistant", RESISTANT), ("sensitive", SENSITIVE)):
        sel = (groups.isna() if name == "unlabelled" else groups == name).to_numpy()
        if sel.any():
            ax.scatter(*xy[sel].T, s=size, c=colour, linewidths=0, rasterized=True, label=f"{name} ({sel.sum()})")
    handles, labels = ax.get_legend_handles_labels()  # drawn unlabelled first, listed sensitive first
    _legend_right(ax, handles=handles[::-1], labels=labels[::-1], markerscale=max(1.0, 12 / size) ** 0.5,
                  handletextpad=0.1)


def _draw_categories(ax, xy, values, size) -> None:
    cats = values.astype("category")
    levels = [c for c in cats.cat.categories if (cats == c).any()]
    for level, colour in zip(levels, colour_cycle(len(levels))):
        sel = (cats == level).to_numpy()
        ax.scatter(*xy[sel].T, s=size, c=colour, linewidths=0, rasterized=True, label=f"{level} ({sel.sum()})")
    if cats.isna().any():
        sel = cats.isna().to_numpy()
        ax.scatter(*xy[sel].T, s=size, c=UNLABELLED, linewidths=0, rasterized=True, label=f"missing ({sel.sum()})")
    _legend_right(ax, markerscale=max(1.0, 12 / size) ** 0.5, handletextpad=0.1)


def _draw_continuous(fig, ax, xy, values, size, column, label) -> int:
    """Colour by value; cells without a finite value in grey. Returns their number."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(v)
    if (~ok).any():
        ax.scatter(*xy[~ok].T, s=size, c=UNLABELLED, linewidths=0, rasterized=True)
    probability = column.startswith("sens_prob")
    kwargs = {"cmap": DIVERGING, "vmin": 0, "vmax": 1} if probability else {"cmap": SEQUENTIAL}
    points = ax.scatter(*xy[ok].T, s=size, c=v[ok], linewidths=0, rasterized=True, **kwargs)
    fig.colorbar(points, ax=ax, label=label or _COLOURBAR_LABELS.get(column, column), shrink=0.85)
    return int((~ok).sum())


def umap_panels(cells, panels: Sequence[tuple[str, str]], basis: str = "X_umap", ncols: int | None = None,
                components: tuple[int, int] | None = None, label_columns: Sequence[str] = LABEL_COLUMNS,
                layer: str = "lognorm", colorbar_labels: Mapping[str, str] | None = None,
                title: str = "") -> Figure:
    """Cells on a 2-D embedding, one panel per ``(column, title)`` of ``panels``.

    Fig. 3a (``condition``, ``response``, ``sens_label``, ``sens_prob``), 3b (DEG scores), 4a
    (``response``, ``sens_label``), 5a–b (``pseudotime``, ``sens_prob``) and 5c–d (genes on
    ``X_diffmap``). How a column is drawn:

    * drug-response labels (``label_columns``, or text sensitive/resistant): 1 = sensitive,
      0 = resistant, missing = unlabelled, in the style's colours with counts in the legend;
    * other categories (categorical, text, or integers with ≤ 20 values): the palette, counts in
      the legend;
    * numbers: a colour bar, ``sens_prob*`` diverging on [0, 1], anything else sequential; cells
      without a finite value (e.g. unreachable in pseudotime) in grey, their number in the title;
    * a gene (in ``cells.var_names``, not in obs): its expression from ``layer`` if present,
      else ``.X``, colour bar "log-normalised expression".

    Args:
        cells: AnnData with the coordinates in ``.obsm[basis]``.
        basis: ``X_umap`` (axes UMAP1/UMAP2), ``X_diffmap`` (DC1/DC2) or another ``.obsm`` key.
        components: the two columns of ``.obsm[basis]`` (default ``(0, 1)``; ``(1, 2)`` for an
            ``X_diffmap`` of 3 or more columns, scanpy's, whose first is the trivial stationary
            component; a 2-column ``X_diffmap`` is taken as DC1, DC2).
        colorbar_labels: colour bar label of a column, over the defaults.
    """
    if basis not in cells.obsm:
        raise ValueError(f"the cells have no coordinates .obsm[{basis!r}] (they have {list(cells.obsm.keys())})")
    if not panels:
        raise ValueError("panels is empty: give at least one (column, title)")
    coords = np.asarray(cells.obsm[basis])
    # scanpy's full diffusion map starts with the trivial stationary component, numbered DC0
    first = 1 if basis == "X_diffmap" and coords.shape[1] >= 3 else 0
    c1, c2 = components if components is not None else (first, first + 1)
    xy = coords[:, [c1, c2]]
    axis = _basis_name(basis)
    ncols = ncols or min(len(panels), 4)
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False, layout="constrained")
    size = float(np.clip(6000 / max(cells.n_obs, 1), 1, 20))
    for ax, (column, panel_title) in zip(axes.flat, panels):
        values, label = _panel_values(cells, column, layer)
        label = (colorbar_labels or {}).get(column, label)
        kind = _panel_kind(values, column, label_columns)
        if kind == "label":
            _draw_labels(ax, xy, values, size)
        elif kind == "category":
            _draw_categories(ax, xy, values, size)
        elif missing := _draw_continuous(fig, ax, xy, values, size, column, label):
            panel_title = f"{panel_title}\n({missing} cells without a value, grey)"
        ax.set(xticks=[], yticks=[], xlabel=f"{axis}{c1 + 1 - first}", ylabel=f"{axis}{c2 + 1 - first}", title=panel_title)
    for ax in axes.flat[len(panels):]:
        ax.set_axis_off()
    fig.suptitle(f"{title} (n = {cells.n_obs} cells)" if title else f"n = {cells.n_obs} cells")
    return fig


# --------------------------------------------------------------------------- Fig. 3c–d


def deg_score_scatter(scores: pd.DataFrame, group: str) -> Figure:
    """Fig. 3c: per cell, the score of the DEGs of the ground-truth labels (x) against the score of
    the DEGs of the predicted labels (y) of one group, the ordinary least-squares line with its
    95 % confidence band, and the one-tailed Pearson test (H1: r > 0) in the title.

    Args:
        scores: ``deg_scores.tsv`` of :func:`drugshift.interpret.deg_score_agreement`: columns
            ``{group}_truth_degs`` and ``{group}_predicted_degs`` (min-max scaled scores).
        group: ``"sensitive"`` or ``"resistant"``.
    """
    from scipy import stats

    if group not in _GROUPS:
        raise ValueError(f"group must be 'sensitive' or 'resistant', got {group!r}")
    xcol, ycol = f"{group}_truth_degs", f"{group}_predicted_degs"
    require_columns(scores, (xcol, ycol), "scores")
    x, y = scores[xcol].to_numpy(dtype=float), scores[ycol].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, n = x[ok], y[ok], int(ok.sum())
    if n < 3:
        raise ValueError(f"the {group} DEG scores need at least 3 cells with both scores, got {n}")
    test = stats.pearsonr(x, y, alternative="greater")
    slope, intercept = np.polyfit(x, y, 1)
    grid = np.linspace(x.min(), x.max(), 100)
    fit = intercept + slope * grid
    resid = y - (intercept + slope * x)
    s = np.sqrt(resid @ resid / (n - 2))
    half = stats.t.ppf(0.975, n - 2) * s * np.sqrt(1 / n + (grid - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum())
    fig, ax = plt.subplots(figsize=(5.4, 3.8), layout="constrained")
    colour = _GROUP_COLOURS[group]
    ax.scatter(x, y, s=float(np.clip(3000 / n, 2, 15)), c=colour, alpha=0.5, linewidths=0, rasterized=True,
               label="cells")
    ax.fill_between(grid, fit - half, fit + half, color="0.3", alpha=0.3, linewidth=0, label="95 % CI")
    ax.plot(grid, fit, color="k", lw=1, label="OLS fit")
    ax.set(xlabel=f"score of ground-truth {group} DEGs", ylabel=f"score of predicted {group} DEGs",
           title=f"{group.capitalize()} DEG scores\nPearson r = {test.statistic:.2f}, "
                 f"one-tailed p {_fmt_p(test.pvalue)}, n = {n} cells")
    _legend_right(ax)
    return fig


def null_distribution(null_r: Sequence[float], observed_r: float, group: str,
                      p_empirical: float | None = None, bins: int = 30) -> Figure:
    """Fig. 3d: the empirical null of the DEG-score agreement: histogram of the Pearson r between
    the ground-truth DEG score and the scores of random gene sets as large as the predicted DEG list,
    the observed r as a dashed vertical line.

    Args:
        null_r: the r of every random gene set.
        observed_r: the r of the predicted DEGs (``pearson_r`` of ``deg_scores.json``).
        group: ``"sensitive"`` or ``"resistant"`` (title only).
        p_empirical: the one-sided empirical p; default ``(1 + #{null ≥ observed}) / (1 + n)``.
    """
    null = np.asarray(null_r, dtype=float)
    null = null[np.isfinite(null)]
    if not len(null):
        raise ValueError("null_r has no finite correlation: the empirical null needs the r of the random gene sets")
    n = len(null)
    if p_empirical is None:
        p_empirical = (1 + np.sum(null >= observed_r)) / (1 + n)
    fig, ax = plt.subplots(figsize=(5.0, 3.4), layout="constrained")
    ax.hist(null, bins=bins, color="0.6", edgecolor="white", linewidth=0.4, label="random gene sets")
    ax.axvline(observed_r, color=SENSITIVE, ls="--", lw=1.5, label=f"predicted DEGs, r = {observed_r:.2f}")
    low, high = min(null.min(), observed_r), max(null.max(), observed_r)
    pad = 0.05 * (high - low or 1.0)
    ax.set_xlim(low - pad, high + pad)
    ax.set(xlabel="Pearson r with the ground-truth DEG score", ylabel="random gene sets",
           title=f"{group.capitalize()} DEGs: empirical null\nn = {n} random gene sets, p = {p_empirical:.3g}")
    _legend_right(ax)
    return fig


# --------------------------------------------------------------------------- Fig. 4b–c


def _cell_order(obs: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Cells predicted sensitive then resistant, each by decreasing P(sensitive); the groups' sizes."""
    require_columns(obs, ("predicted", "sens_prob"), "attr.obs")
    predicted = obs["predicted"].astype(str).to_numpy()
    prob = obs["sens_prob"].to_numpy(dtype=float)
    order, sizes = [], []
    for group in _GROUPS:
        idx = np.flatnonzero(predicted == group)
        order.append(idx[np.argsort(-prob[idx], kind="stable")])
        sizes.append((group, len(idx)))
    return np.concatenate(order), sizes


def _strip(ax, codes: np.ndarray, colours: Sequence[str], vertical: bool) -> None:
    from matplotlib.colors import ListedColormap

    image = codes[:, None] if vertical else codes[None, :]
    ax.imshow(image, aspect="auto", cmap=ListedColormap(list(colours)), vmin=0, vmax=len(colours) - 1,
              interpolation="nearest")
    ax.set(xticks=[], yticks=[])
    for spine in ax.spines.values():
        spine.set_visible(False)


def ig_heatmap(attr, critical: pd.DataFrame, top: int = 50, max_labels: int = 60) -> Figure:
    """Fig. 4b: integrated gradients of the top ``top`` critical genes of each group (rows: the
    sensitive group's genes, then the resistant group's, a line between) in every cell (columns:
    predicted sensitive then resistant, each by decreasing P(sensitive)). A gene's row is its IG
    towards its own group's output. Colours diverge around 0, clipped at the 99th percentile of
    |IG|; gene names are written when at most ``max_labels`` rows are drawn.

    Args:
        attr: ``attr_integrated_gradient.h5ad``: ``obs`` with ``predicted`` ("sensitive" /
            "resistant") and ``sens_prob``; layers ``sensitive`` and ``resistant``.
        critical: ``critical_genes.tsv``: columns ``gene``, ``group``, ``rank`` and, when present,
            ``critical`` (only those rows are used).
    """
    missing = [g for g in _GROUPS if g not in attr.layers]
    if missing:
        raise ValueError(f"attr lacks layer(s) {missing}: the integrated gradients towards each output")
    genes = _top_critical(critical, top, attr.var_names)
    order, cell_groups = _cell_order(attr.obs)
    col = {g: i for i, g in enumerate(map(str, attr.var_names))}
    blocks = [np.asarray(attr.layers[g][:, [col[x] for x in genes[g]]], dtype=float)[order].T
              for g in _GROUPS if genes[g]]
    matrix = np.vstack(blocks)
    vmax = float(np.nanpercentile(np.abs(matrix), 99)) or 1e-12
    rows = [g for g in _GROUPS if genes[g]]
    labelled = len(matrix) <= max_labels
    fig, axes = plt.subplots(2, 3, figsize=(9.5, 2.0 + (0.13 * len(matrix) if labelled else 5.0)), layout="constrained",
                             gridspec_kw={"width_ratios": [0.35, 12, 0.35], "height_ratios": [0.5, 12]})
    corner, top_strip, spare = axes[0]
    left, heat, cax = axes[1]
    corner.set_axis_off()
    spare.set_axis_off()
    image = heat.imshow(matrix, aspect="auto", cmap=DIVERGING, vmin=-vmax, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, cax=cax, label="integrated gradient", extend="both")
    sizes = [len(genes[g]) for g in rows]
    _strip(left, np.repeat(np.arange(len(rows)), sizes), [_GROUP_COLOURS[g] for g in rows], vertical=True)
    left.set_yticks(np.cumsum(sizes) - np.array(sizes) / 2 - 0.5,
                    [f"{g}\nCGs ({k})" for g, k in zip(rows, sizes)])
    left.set_ylabel("critical genes")
    cell_codes = np.repeat([0, 1], [k for _, k in cell_groups])
    _strip(top_strip, cell_codes, [SENSITIVE, RESISTANT], vertical=False)
    present = [(i, g, k) for i, (g, k) in enumerate(cell_groups) if k]
    starts = np.cumsum([0] + [k for _, k in cell_groups])
    top_strip.set_xticks([starts[i] + k / 2 - 0.5 for i, _, k in present],
                         [f"predicted {g} ({k})" for _, g, k in present])
    top_strip.xaxis.tick_top()
    top_strip.tick_params(length=0)
    for boundary in np.cumsum(sizes)[:-1]:
        heat.axhline(boundary - 0.5, color="k", lw=1)
    if all(k for _, k in cell_groups):
        heat.axvline(cell_groups[0][1] - 0.5, color="k", lw=1)
    heat.set_xticks([])
    heat.set_xlabel(f"cells, by predicted label then P(sensitive) (n = {len(order)})")
    if labelled:
        heat.set_yticks(np.arange(len(matrix)), [x for g in rows for x in genes[g]], fontsize=6)
    else:
        heat.set_yticks([])
    fig.suptitle(f"Integrated gradients of the top {top} critical genes per group (|IG| clipped at {vmax:.2g})")
    return fig


def critical_gene_dotplot(cells, critical: pd.DataFrame, top: int = 10, groupby: str = "sens_label",
                          layer: str = "lognorm", title: str = "") -> Figure:
    """Fig. 4c: the top ``top`` critical genes of each group in the cells predicted sensitive and
    resistant: dot size the fraction of the group's cells expressing the gene (> 0), colour its
    mean expression (``layer`` if present, else ``.X``), drawn with :func:`scanpy.pl.dotplot`.
    On values normalised by the data's authors (``uns['values'] == 'normalised'``, e.g. z-scores)
    the dot size is the fraction of cells above 0, and the legend says so.

    Args:
        cells: ``predictions.h5ad``: ``obs[groupby]`` the predicted label (1/"sensitive",
            0/"resistant"; cells without one are left out).
        critical: ``critical_genes.tsv`` (columns ``gene``, ``group``, ``rank``, ``critical``).
    """
    import anndata as ad
    import scanpy as sc

    require_columns(cells.obs, (groupby,), "cells.obs")
    genes = _top_critical(critical, top, cells.var_names)
    groups = _label_series(cells.obs[groupby])
    keep = groups.notna().to_numpy()
    if not keep.any():
        raise ValueError(f"no cell has a predicted label in obs[{groupby!r}]")
    X, name = _expression(cells, layer)
    counts = groups[keep].value_counts()
    levels = [f"{g} (n = {counts[g]})" for g in _GROUPS if g in counts]
    obs = pd.DataFrame({"group": pd.Categorical(groups[keep].map(lambda g: f"{g} (n = {counts[g]})").to_numpy(),
                                                categories=levels)}, index=cells.obs_names[keep].astype(str))
    work = ad.AnnData(X[keep], obs=obs, var=pd.DataFrame(index=list(map(str, cells.var_names))))
    var_groups = {f"{g} CGs": genes[g] for g in _GROUPS if genes[g]}
    heading = title or f"Top {top} critical genes per group (n = {int(keep.sum())} cells)"
    plot = sc.pl.dotplot(work, var_groups, groupby="group", use_raw=False, return_fig=True, cmap=SEQUENTIAL,
                         title=heading, colorbar_title=f"mean in group,\n{name}", var_group_rotation=0,
                         size_title="fraction of cells\nabove 0 (%)" if _given_normalised(cells)
                         else "fraction of cells\nexpressing (%)")
    plot.make_figure()
    # the figure is laid out by scanpy: keep save_figure from running tight_layout over it
    plot.fig.set_layout_engine(PlaceHolderLayoutEngine(adjust_compatible=True, colorbar_gridspec=True))
    main = plot.ax_dict["mainplot_ax"]
    main.set_ylabel("predicted label")
    main.set_xlabel("critical gene")
    return plot.fig


# --------------------------------------------------------------------------- Fig. 5e–f


def correlation_matrix(table: pd.DataFrame, method: str = "spearman", title: str = "",
                       columns: Sequence[str] | None = None) -> Figure:
    """Fig. 5e–f: correlations between per-cell quantities (e.g. ``pseudotime``, ``sens_prob``,
    ``sensitive_score``, ``resistant_score``, critical genes' expression), each coefficient written
    in its cell, on a diverging scale fixed to [-1, 1]. Cells missing any value are left out.

    Args:
        table: one row per cell; ``columns`` (default: every numeric column) are correlated.
        method: ``"spearman"``, ``"pearson"`` or ``"kendall"``.
    """
    names = {"spearman": "Spearman ρ", "pearson": "Pearson r", "kendall": "Kendall τ"}
    if method not in names:
        raise ValueError(f"method must be one of {list(names)}, got {method!r}")
    if columns is not None:
        require_columns(table, columns, "table")
        data = table[list(columns)].apply(pd.to_numeric, errors="coerce")
    else:
        data = table.select_dtypes("number").select_dtypes(exclude="bool")
    if data.shape[1] < 2:
        raise ValueError(f"a correlation matrix needs at least 2 numeric columns, got {list(data.columns)}")
    data = data.replace([np.inf, -np.inf], np.nan).dropna()
    corr = data.corr(method=method).to_numpy()
    k = corr.shape[0]
    fig, ax = plt.subplots(figsize=(2.2 + 0.65 * k, 1.4 + 0.55 * k), layout="constrained")
    image = ax.imshow(corr, cmap=DIVERGING, vmin=-1, vmax=1)
    for i in range(k):
        for j in range(k):
            value = corr[i, j]
            ax.text(j, i, "n/a" if np.isnan(value) else f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(value) > 0.6 else "black")
    labels = list(map(str, data.columns))
    ax.set_xticks(np.arange(k), labels, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(np.arange(k), labels)
    ax.spines[:].set_visible(False)
    fig.colorbar(image, ax=ax, label=names[method], shrink=0.8)
    heading = f"{title}\n" if title else ""
    ax.set_title(f"{heading}{names[method]}, n = {len(data)} cells")
    return fig
