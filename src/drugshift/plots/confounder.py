"""The sex-confounder experiment (CODE-AE paper, Fig. 2d–g): tumour-type classification trained on
one sex and scored on the other (:mod:`drugshift.confounder`). Each function returns a Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from drugshift.plots.style import PALETTE

__all__ = ["METHOD_LABELS", "confounder_performance"]

#: Display names of the methods (others are shown as they are named).
METHOD_LABELS = {
    "raw": "Elastic Net\n(genes)", "ae": "AE", "dae": "DAE", "vae": "VAE", "adae": "ADAE", "coral": "CORAL",
    "codeae_base": "CODE-AE\nBASE", "codeae_mmd": "CODE-AE\nMMD", "codeae_adv": "CODE-AE\nADV",
    "dsn_mmd": "DSN-MMD", "dsn_dann": "DSN-DANN",
}
_PANELS = {("male_to_female", "AUPRC"): "d", ("male_to_female", "AUROC"): "e",
           ("female_to_male", "AUPRC"): "f", ("female_to_male", "AUROC"): "g"}
_SEXES = {"male_to_female": ("male", "female"), "female_to_male": ("female", "male")}


def _p_text(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def confounder_performance(results: pd.DataFrame, tests: pd.DataFrame | None = None) -> Figure:
    """Fig. 2d–g: four panels, rows ``male → female`` (trained on male samples, scored on
    female ones) and ``female → male``, columns AUPRC and AUROC. Bars: mean over the folds per
    method, error bars ± their standard deviation (ddof 1), dots the folds; a dashed line marks
    chance (AUROC 0.5, AUPRC the positive share of the test samples). A bracket joins the best
    method and the runner-up with the p-values of :func:`drugshift.confounder.confounder_tests`
    (two-sample t-test, and the paired Wilcoxon test). Titles give the task and the sample
    counts.

    Args:
        results: :func:`drugshift.confounder.sex_confounder_experiment`'s table.
        tests: its :func:`~drugshift.confounder.confounder_tests` (computed when not given).
    """
    from drugshift.confounder import DIRECTIONS, METRICS, confounder_tests

    if tests is None:
        tests = confounder_tests(results)
    methods = list(dict.fromkeys(results["method"]))
    colours = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(methods)}
    width = max(7.0, 2.0 + 1.3 * len(methods))
    fig, axes = plt.subplots(2, 2, figsize=(width, 7.4), squeeze=False, layout="constrained")
    rng = np.random.default_rng(0)  # jitter of the fold dots only
    for r, direction in enumerate(DIRECTIONS):
        part = results[results["direction"] == direction]
        train_sex, test_sex = _SEXES[direction]
        for c, metric in enumerate(METRICS):
            ax = axes[r][c]
            letter = _PANELS[(direction, metric)]
            arrow = f"{train_sex} → {test_sex}"
            if part.empty:
                ax.set_axis_off()
                ax.set_title(f"{letter}  {arrow}: no results", loc="left")
                continue
            stats = part.groupby("method", sort=False)[metric].agg(["mean", "std", "count"]).reindex(methods)
            x = np.arange(len(methods))
            ax.bar(x, stats["mean"], yerr=stats["std"].fillna(0), color=[colours[m] for m in methods],
                   width=0.7, capsize=3, error_kw={"elinewidth": 1, "ecolor": "0.2"}, zorder=2)
            for i, m in enumerate(methods):
                vals = part.loc[part["method"] == m, metric].to_numpy()
                ax.scatter(i + rng.uniform(-0.15, 0.15, len(vals)), vals, s=7, color="0.15", alpha=0.6,
                           linewidths=0, zorder=3)
            chance = 0.5 if metric == "AUROC" else float((part["n_test_positive"] / part["n_test"]).mean())
            ax.axhline(chance, color="0.45", lw=0.8, ls="--", zorder=1)
            ax.set_xticks(x)
            ax.set_xticklabels([METHOD_LABELS.get(m, m) for m in methods], fontsize=8)
            ax.set_xlabel("method")
            ax.set_ylabel(f"{metric} on {test_sex} samples")
            ax.set_ylim(0, 1.24)
            ax.set_yticks(np.linspace(0, 1, 6))
            n_train = int(round(part["n_train"].mean()))
            n_test, n_folds = int(part["n_test"].iloc[0]), int(stats["count"].max())
            ax.set_title(f"{letter}  {arrow}: {metric}\ntrain {n_train} {train_sex}/fold ({n_folds} folds), "
                         f"test {n_test} {test_sex}", loc="left")
            row = tests[(tests["direction"] == direction) & (tests["metric"] == metric) & tests["runner_up"]]
            if len(row):
                t = row.iloc[0]
                i, j = sorted((methods.index(t["best"]), methods.index(t["other"])))
                spanned = methods[i:j + 1]  # the bracket clears every bar, error bar and dot it spans
                top = max((stats["mean"] + stats["std"].fillna(0)).iloc[i:j + 1].max(),
                          part.loc[part["method"].isin(spanned), metric].max(), chance) + 0.03
                top = min(top, 1.06)
                ax.plot([i, i, j, j], [top, top + 0.025, top + 0.025, top], color="0.2", lw=0.9)
                if np.isfinite(t["t_p"]) or np.isfinite(t["wilcoxon_p"]):
                    label = f"t-test p = {_p_text(t['t_p'])}\nWilcoxon p = {_p_text(t['wilcoxon_p'])}"
                else:
                    label = "equal in every fold"
                ax.text((i + j) / 2, top + 0.035, label, ha="center", va="bottom", fontsize=7)
    classes = results["classes"].iloc[0] if "classes" in results and len(results) else ""
    fig.suptitle(f"Tumour type across sexes: {classes} (first positive)\n"
                 "bars: mean ± sd over folds, dots: folds, dashed line: chance")
    return fig
