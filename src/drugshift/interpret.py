"""Interpretation of a trained scDEAL model (paper, "Critical gene identification with Integrated
Gradients", "Differentially expressed gene score", trajectory analysis).

* :func:`integrated_gradients`: captum ``IntegratedGradients`` with a zero baseline, through the
  cell path ``Es → P → softmax`` (:func:`cell_path`) or the bulk path ``Eb → P → softmax``
  (:func:`bulk_path`), for the sensitive (1) and the resistant (0) output: two cells × genes
  matrices, stored by :func:`attribution_anndata` as ``attr_integrated_gradient.h5ad``;
  :func:`completeness_error` checks ``Σ_i IG_i(x) = F(x) − F(0)``.
* :func:`critical_genes`: Wilcoxon ``rank_genes_groups`` on IG values between predicted
  sensitive and resistant cells; Bonferroni p, log-fold change and cell-fraction thresholds;
  :func:`critical_gene_overlap` compares bulk and single-cell critical genes (Table S6).
* :func:`deg_score_agreement`: top DEGs for predicted and ground-truth labels, ``score_genes``,
  min-max scaled, Pearson r between the two scores with an empirical null of random gene sets.
* :func:`diffusion_pseudotime` and :func:`pearson`: diffusion pseudotime against the predicted
  probability of sensitivity.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import anndata as ad
import numpy as np
import pandas as pd
import torch
from torch import nn

from drugshift.evaluate import DEFAULT_THRESHOLD, predicted_labels
from drugshift.graph import neighbors
from drugshift.params.base import Params, rule

__all__ = [
    "OUTPUTS",
    "CriticalGeneThresholds",
    "attribution_anndata",
    "baseline_probability",
    "bulk_path",
    "cell_path",
    "completeness_error",
    "critical_gene_overlap",
    "critical_genes",
    "deg_score_agreement",
    "diffusion_pseudotime",
    "integrated_gradients",
    "pearson",
    "planted_recovery",
    "predicted_groups",
    "rank_attributions",
    "root_mask",
    "top_degs",
]

#: Output node of the predictor for each group (1 = sensitive, 0 = resistant, everywhere).
OUTPUTS = {"sensitive": 1, "resistant": 0}
_OTHER = {"sensitive": "resistant", "resistant": "sensitive"}
_RANK_COLUMNS = ["gene", "group", "score", "logFC", "p", "p_adj", "frac_group", "frac_reference",
                 "mean_ig_group", "mean_ig_reference", "critical", "rank"]

_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- integrated gradients


def cell_path(model) -> nn.Module:
    """``Es → P → softmax`` of a fitted :class:`~drugshift.models.scdeal.ScDEAL`, in eval mode:
    ``(cells, genes) → (cells, 2)`` probabilities (column 1 = sensitive)."""
    return model.cell_model(probabilities=True)


def bulk_path(model) -> nn.Module:
    """``Eb → P → softmax`` (after joint training; what ``predict_bulk`` uses), in eval mode."""
    return model.bulk_model(probabilities=True)


def _frozen_copy(network: nn.Module, dtype: torch.dtype) -> nn.Module:
    # A copy, so the caller's model keeps its dtype; eval mode so BatchNorm uses its running
    # statistics and Dropout is off: every cell's attribution then depends on that cell only
    # (in train mode it would depend on the other cells of the batch and on random masks).
    net = copy.deepcopy(network).to(dtype).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def integrated_gradients(
    network: nn.Module,
    X,
    n_steps: int = 50,
    batch_size: int = 256,
    method: str = "gausslegendre",
    dtype: torch.dtype = torch.float64,
) -> dict[str, np.ndarray]:
    """Integrated gradients of each output of ``network`` with respect to its input genes
    (paper, Methods; Sundararajan et al. 2017), with captum's ``IntegratedGradients``:

    ``IG_i(x) = x_i · ∫₀¹ ∂F(α·x)/∂x_i dα`` (zero baseline ``x' = 0``), the integral
    approximated with ``n_steps`` points (``method``: captum's ``gausslegendre`` or a Riemann rule).

    Args:
        network: ``(n, genes) → (n, 2)`` probabilities, e.g. :func:`cell_path` or :func:`bulk_path`.
        X: ``(n, genes)`` inputs as the model saw them (min-max scaled expression).
        n_steps: integration steps per sample.
        batch_size: samples per captum call (each expands to ``batch_size × n_steps`` rows).
        method: captum integration method.
        dtype: computation precision; float64 makes the completeness error purely the
            integration error.

    Returns:
        ``{"sensitive": A1, "resistant": A0}``, each ``(n, genes)`` float64: the attributions
        to output 1 and output 0. With a two-class softmax ``F0 = 1 − F1``, so ``A0 = −A1``
        up to rounding; both are computed, as in the paper.
    """
    from captum.attr import IntegratedGradients

    if n_steps < 2:
        raise ValueError(f"n_steps must be >= 2, got {n_steps}")
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (samples × genes), got shape {X.shape}")
    net = _frozen_copy(network, dtype)
    device = next(net.parameters()).device
    ig = IntegratedGradients(net)
    out = {}
    for name, target in OUTPUTS.items():
        parts = []
        for s in range(0, X.shape[0], batch_size):
            x = torch.as_tensor(X[s : s + batch_size], dtype=dtype, device=device)
            a = ig.attribute(x, baselines=torch.zeros_like(x), target=target, n_steps=n_steps, method=method,
                             internal_batch_size=x.shape[0] * n_steps)
            parts.append(a.detach().cpu().numpy())
        out[name] = np.concatenate(parts) if parts else np.zeros((0, X.shape[1]))
    return out


def baseline_probability(network: nn.Module, n_genes: int) -> float:
    """``F₁(0)``: the probability of "sensitive" the network gives the zero baseline.

    Completeness makes each cell's attributions to the sensitive output sum to ``F₁(x) − F₁(0)``.
    Far from 0.5 the baseline is not neutral: with ``F₁(0) = 0.72`` (the demo's GSEDEMO2 model)
    sensitive cells have almost nothing to attribute (sum ≈ −0.05) and the sensitive group's
    critical genes no longer reflect what the model uses.
    """
    net = _frozen_copy(network, torch.float64)
    device = next(net.parameters()).device
    with torch.no_grad():
        return float(net(torch.zeros(1, n_genes, dtype=torch.float64, device=device))[0, OUTPUTS["sensitive"]])


def completeness_error(network: nn.Module, X, attributions: Mapping[str, np.ndarray],
                       dtype: torch.dtype = torch.float64) -> dict[str, np.ndarray]:
    """Per-sample ``|Σ_i IG_i(x) − (F(x) − F(0))|`` for each output (the completeness axiom of
    integrated gradients; zero up to the integration error of the path integral).

    Returns:
        ``{output name: (n,) absolute errors}``; compare with ``F(x) − F(0)`` (at most 1).
    """
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    net = _frozen_copy(network, dtype)
    device = next(net.parameters()).device
    with torch.no_grad():
        x = torch.as_tensor(X, dtype=dtype, device=device)
        delta = (net(x) - net(torch.zeros_like(x[:1]))).cpu().numpy()
    return {name: np.abs(np.asarray(attributions[name]).sum(axis=1) - delta[:, t]) for name, t in OUTPUTS.items()}


def predicted_groups(prob_sensitive, threshold: float = DEFAULT_THRESHOLD) -> pd.Categorical:
    """``sensitive`` where :func:`drugshift.evaluate.predicted_labels` gives 1, else ``resistant``."""
    labels = predicted_labels(prob_sensitive, threshold)
    return pd.Categorical(np.where(labels == 1, "sensitive", "resistant"), categories=["sensitive", "resistant"])


def attribution_anndata(attributions: Mapping[str, np.ndarray], obs: pd.DataFrame, var_names: Sequence[str],
                        prob_sensitive, uns: Mapping | None = None) -> ad.AnnData:
    """The IG matrices as one AnnData (readable with ``sc.read_h5ad``), the paper's
    ``attr_integrated_gradient.h5ad``.

    ``layers['sensitive']`` and ``layers['resistant']`` hold the attributions to each output
    (float32; ``.X`` is the sensitive one), ``.obs`` is ``obs`` plus ``sens_prob`` and the
    predicted group ``predicted`` (sensitive / resistant), ``.uns`` carries ``uns``.
    """
    sens = np.asarray(attributions["sensitive"], dtype=np.float32)
    obs = obs.copy()
    obs["sens_prob"] = np.asarray(prob_sensitive, dtype=np.float32)
    obs["sens_label"] = predicted_labels(obs["sens_prob"]).astype(np.int8)
    obs["predicted"] = predicted_groups(obs["sens_prob"])
    out = ad.AnnData(sens.copy(), obs=obs, var=pd.DataFrame(index=pd.Index(list(var_names), name="gene")))
    for name in OUTPUTS:
        out.layers[name] = np.asarray(attributions[name], dtype=np.float32)
    out.uns.update(dict(uns or {}))
    return out


# --------------------------------------------------------------------------- critical genes


@dataclass(frozen=True)
class CriticalGeneThresholds(Params):
    """Critical-gene filters (paper, Methods): Bonferroni-adjusted p below ``p_adj``, log-fold
    change above ``logfc``, fraction of cells with a non-zero IG above ``min_fraction`` in
    either group (config ``interpret.critical_genes``)."""

    label: ClassVar[str] = "critical-gene"

    p_adj: float = rule(0.05, gt=0, le=1)
    logfc: float = 0.1
    min_fraction: float = rule(0.2, ge=0, le=1)


def _empty_ranking() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
        _RANK_COLUMNS, [str, str, float, float, float, float, float, float, float, float, bool, "Int64"])})


def rank_attributions(attr: ad.AnnData, group: str, groupby: str = "predicted") -> pd.DataFrame:
    """Wilcoxon test (scanpy ``rank_genes_groups``, Bonferroni) of one output's IG values between
    the cells of ``group`` and those of the other group.

    The sensitive output's IG (``layers['sensitive']``) is compared in sensitive vs resistant
    cells, the resistant output's IG in resistant vs sensitive cells. ``logFC`` is scanpy's
    log-fold change computed on IG values, as in the paper: for the small IG values of one gene
    ``≈ log2(mean IG in group / mean IG in reference)``; it is undefined (NaN) when the two means
    have opposite signs, and above 0 only where the gene pushes towards the group's output more
    in the group than in the reference. (Without it the two comparisons would select the same
    genes: with a two-class softmax the resistant IG is minus the sensitive IG.)

    Returns:
        one row per gene: ``gene, group, score, logFC, p, p_adj, frac_group, frac_reference,
        mean_ig_group, mean_ig_reference`` (fractions: cells with a non-zero IG), ordered by
        decreasing score.
    """
    import scanpy as sc

    if group not in OUTPUTS:
        raise ValueError(f"group must be one of {list(OUTPUTS)}, got {group!r}")
    reference = _OTHER[group]
    labels = attr.obs[groupby].astype(str).to_numpy()
    in_group, in_ref = labels == group, labels == reference
    if in_group.sum() < 2 or in_ref.sum() < 2:
        raise ValueError(f"need at least 2 {group} and 2 {reference} samples to rank genes "
                         f"(got {int(in_group.sum())} and {int(in_ref.sum())})")
    values = np.asarray(attr.layers[group], dtype=np.float32)
    work = ad.AnnData(values, obs=pd.DataFrame({"g": pd.Categorical(labels)}, index=attr.obs_names.astype(str)),
                      var=pd.DataFrame(index=attr.var_names.astype(str)))
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        sc.tl.rank_genes_groups(work, "g", groups=[group], reference=reference, method="wilcoxon",
                                corr_method="bonferroni")
        res = sc.get.rank_genes_groups_df(work, group=group)
    res = res.set_index("names").reindex(work.var_names)
    nonzero = values != 0
    table = pd.DataFrame({
        "gene": work.var_names,
        "group": group,
        "score": res["scores"].to_numpy(float),
        "logFC": res["logfoldchanges"].to_numpy(float),
        "p": res["pvals"].to_numpy(float),
        "p_adj": res["pvals_adj"].to_numpy(float),
        "frac_group": nonzero[in_group].mean(axis=0),
        "frac_reference": nonzero[in_ref].mean(axis=0),
        "mean_ig_group": values[in_group].mean(axis=0, dtype=np.float64),
        "mean_ig_reference": values[in_ref].mean(axis=0, dtype=np.float64),
    })
    return table.sort_values(["score", "gene"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def critical_genes(attr: ad.AnnData, thresholds: CriticalGeneThresholds | Mapping | None = None,
                   groupby: str = "predicted") -> pd.DataFrame:
    """Critical genes (CGs) of both groups (paper, Methods): :func:`rank_attributions` for the
    sensitive and the resistant output, then ``critical`` = higher in the group (score > 0),
    ``p_adj < thresholds.p_adj``, ``logFC > thresholds.logfc`` and ``max(frac_group,
    frac_reference) > thresholds.min_fraction``.

    Returns:
        every gene of both tests (columns of :func:`rank_attributions` plus ``critical`` and
        ``rank``, the 1-based rank by score among the group's critical genes); sensitive rows
        first, critical genes first within each group. Empty (with a warning in the log) when
        either group has fewer than 2 samples.
    """
    th = thresholds if isinstance(thresholds, CriticalGeneThresholds) else CriticalGeneThresholds.from_dict(thresholds)
    parts = []
    for group in OUTPUTS:
        try:
            t = rank_attributions(attr, group, groupby)
        except ValueError as e:
            _log.warning("critical genes: %s; no critical genes reported", e)
            return _empty_ranking()
        t["critical"] = ((t["score"] > 0) & (t["p_adj"] < th.p_adj) & (t["logFC"] > th.logfc)
                         & (np.maximum(t["frac_group"], t["frac_reference"]) > th.min_fraction))
        t = t.sort_values(["critical", "score", "gene"], ascending=[False, False, True], kind="mergesort")
        t["rank"] = pd.array(np.where(t["critical"], np.arange(1, len(t) + 1), 0), dtype="Int64")
        t.loc[~t["critical"], "rank"] = pd.NA
        parts.append(t)
    return pd.concat(parts, ignore_index=True)[_RANK_COLUMNS]


def critical_gene_overlap(single_cell: pd.DataFrame, bulk: pd.DataFrame) -> pd.DataFrame:
    """Bulk vs single-cell critical genes per group (the paper's Table S6: on average 46 % of
    sensitive and 53 % of resistant CGs shared).

    Returns:
        one row per group: ``group, n_single_cell, n_bulk, n_shared, shared_of_single_cell,
        shared_of_bulk, jaccard`` (fractions NaN when undefined) and ``shared_genes``
        (``;``-joined, sorted).
    """
    rows = []
    for group in OUTPUTS:
        a = set(single_cell.loc[single_cell["critical"].astype(bool) & (single_cell["group"] == group), "gene"])
        b = set(bulk.loc[bulk["critical"].astype(bool) & (bulk["group"] == group), "gene"])
        shared = a & b
        union = a | b
        rows.append({
            "group": group, "n_single_cell": len(a), "n_bulk": len(b), "n_shared": len(shared),
            "shared_of_single_cell": len(shared) / len(a) if a else np.nan,
            "shared_of_bulk": len(shared) / len(b) if b else np.nan,
            "jaccard": len(shared) / len(union) if union else np.nan,
            "shared_genes": ";".join(sorted(shared)),
        })
    return pd.DataFrame(rows)


def planted_recovery(critical: pd.DataFrame, planted: Sequence[str], k: int = 50) -> dict:
    """How well critical genes recover a known (simulated) set of response genes.

    ``precision_at_k``: fraction of planted genes among the top ``k`` critical genes of both
    groups together, ranked by Wilcoxon score (fewer when there are fewer critical genes);
    ``recall``: fraction of the planted genes that are critical in either group;
    ``expected_precision``: the planted fraction among all genes tested (a random ranking).
    """
    planted = set(planted)
    crit = critical[critical["critical"].astype(bool)].sort_values(["score", "gene"], ascending=[False, True],
                                                                   kind="mergesort")
    top = list(dict.fromkeys(crit["gene"]))[:k]
    tested = set(critical["gene"])
    return {
        "k": k, "n_critical": int(crit["gene"].nunique()), "n_top": len(top),
        "precision_at_k": float(np.mean([g in planted for g in top])) if top else float("nan"),
        "recall": len(planted & set(crit["gene"])) / len(planted & tested) if planted & tested else float("nan"),
        "expected_precision": len(planted & tested) / len(tested) if tested else float("nan"),
    }


# --------------------------------------------------------------------------- DEG scores


def _expression(adata: ad.AnnData, layer: str | None) -> ad.AnnData:
    X = adata.layers[layer] if layer else adata.X
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32)
    return ad.AnnData(X, obs=pd.DataFrame(index=adata.obs_names.astype(str)),
                      var=pd.DataFrame(index=adata.var_names.astype(str)))


def top_degs(expr: ad.AnnData, labels, n_genes: int = 50, p_adj: float = 0.05) -> dict[str, list[str]]:
    """Top differentially expressed genes of each group (paper, "Differentially expressed gene
    score"): Wilcoxon ``rank_genes_groups`` sensitive vs resistant (BH), the ``n_genes`` genes
    with the highest z-score among those with BH p < ``p_adj`` and higher in the group.

    Args:
        expr: cells × genes log-normalised expression.
        labels: per cell ``1``/``sensitive``, ``0``/``resistant`` or missing (left out).

    Returns:
        ``{"sensitive": [...], "resistant": [...]}`` (possibly shorter than ``n_genes``).
    """
    import scanpy as sc

    groups = _as_groups(labels)
    keep = groups.notna().to_numpy()
    work = expr[keep].copy()
    work.obs["g"] = pd.Categorical(groups[keep].astype(str).to_numpy())
    out = {}
    for group in OUTPUTS:
        n = int((work.obs["g"] == group).sum()), int((work.obs["g"] == _OTHER[group]).sum())
        if min(n) < 2:
            raise ValueError(f"DEGs need at least 2 sensitive and 2 resistant cells, got {n}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sc.tl.rank_genes_groups(work, "g", groups=[group], reference=_OTHER[group], method="wilcoxon",
                                    corr_method="benjamini-hochberg")
        res = sc.get.rank_genes_groups_df(work, group=group)
        res = res[(res["pvals_adj"] < p_adj) & (res["scores"] > 0)]
        res = res.sort_values(["scores", "names"], ascending=[False, True], kind="mergesort")
        out[group] = res["names"].head(n_genes).astype(str).tolist()
    return out


def _as_groups(labels) -> pd.Series:
    s = pd.Series(np.asarray(labels, dtype=object))
    mapped = s.map(lambda v: "sensitive" if str(v) in ("1", "1.0", "sensitive", "True")
                   else "resistant" if str(v) in ("0", "0.0", "resistant", "False") else None)
    return mapped


def _minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def _gene_score(expr: ad.AnnData, genes: Sequence[str], seed: int) -> np.ndarray:
    import scanpy as sc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.score_genes(expr, list(genes), random_state=seed, score_name="_score")
    return _minmax(expr.obs.pop("_score").to_numpy(np.float64))


def deg_score_agreement(adata: ad.AnnData, predicted, truth, n_genes: int = 50, p_adj: float = 0.05,
                        n_null: int = 1000, seed: int = 42, layer: str | None = "lognorm") -> tuple[dict, pd.DataFrame]:
    """Do DEGs of the predicted labels score cells like DEGs of the ground truth? (paper, Fig. 3c–d)

    For each group: :func:`top_degs` of the predicted labels (all cells) and of the ground-truth
    labels (labelled cells); each list's ``sc.tl.score_genes`` score of every cell (mean
    expression of the list minus a matched random reference set), min-max scaled; Pearson r
    between the predicted-list and the truth-list scores over all cells. Empirical null: ``n_null``
    random gene sets as large as the predicted list, each scored and correlated with the truth
    score the same way; one-sided ``p = (1 + #{r_null ≥ r}) / (1 + n_null)``.

    Returns:
        ``(stats, scores)``: ``stats[group]`` holds ``pearson_r``, ``p_empirical``, ``n_null``,
        ``null_mean``, ``null_sd``, ``n_cells`` and both gene lists; ``scores`` is a per-cell
        table ``{group}_predicted_degs``, ``{group}_truth_degs``.
    """
    expr = _expression(adata, layer)
    degs_pred = top_degs(expr, predicted, n_genes, p_adj)
    degs_true = top_degs(expr, truth, n_genes, p_adj)
    rng = np.random.default_rng(seed)
    genes = np.asarray(expr.var_names)
    stats, scores = {}, pd.DataFrame(index=expr.obs_names)
    for group in OUTPUTS:
        pred, true = degs_pred[group], degs_true[group]
        entry = {"predicted_degs": pred, "truth_degs": true, "n_cells": int(expr.n_obs), "n_null": int(n_null)}
        if not pred or not true:
            entry.update(pearson_r=float("nan"), p_empirical=float("nan"), null_mean=float("nan"),
                         null_sd=float("nan"))
            stats[group] = entry
            continue
        s_pred = _gene_score(expr, pred, seed)
        s_true = _gene_score(expr, true, seed)
        scores[f"{group}_predicted_degs"] = s_pred
        scores[f"{group}_truth_degs"] = s_true
        r = pearson(s_pred, s_true)["r"]
        null = np.array([pearson(_gene_score(expr, rng.choice(genes, len(pred), replace=False), seed + 1 + i),
                                 s_true)["r"] for i in range(n_null)])
        null = np.nan_to_num(null, nan=0.0)
        entry.update(pearson_r=r, p_empirical=float((1 + np.sum(null >= r)) / (1 + n_null)),
                     null_mean=float(null.mean()) if n_null else float("nan"),
                     null_sd=float(null.std()) if n_null else float("nan"),
                     null_r=[round(float(x), 6) for x in null])
        stats[group] = entry
    return stats, scores


# --------------------------------------------------------------------------- trajectory


def pearson(x, y) -> dict:
    """Pearson correlation ``{"r", "p", "n"}`` (two-sided p; NaN r when either is constant)."""
    from scipy.stats import pearsonr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"r": float("nan"), "p": float("nan"), "n": int(len(x))}
    res = pearsonr(x, y)
    return {"r": float(res.statistic), "p": float(res.pvalue), "n": int(len(x))}


def root_mask(values, root) -> np.ndarray:
    """Cells whose ``values`` equal the configured pseudotime ``root``: numerically when both
    are numbers (a root ``0`` matches ``0``, ``0.0`` and ``"0"``, and ``"007"`` matches ``7``;
    booleans count as 0/1), otherwise as text. Missing values never match."""
    values = pd.Series(values)
    if values.dtype == bool:
        values = values.astype(int)
    root = int(root) if isinstance(root, (bool, np.bool_)) else root
    missing = values.isna().to_numpy()
    number = pd.to_numeric(pd.Series([root]), errors="coerce").iloc[0]
    if pd.notna(number):
        numeric = pd.to_numeric(values.astype(str), errors="coerce")
        if numeric.notna().any():
            return (numeric == number).to_numpy() & ~missing
    return (values.astype(str) == str(root)).to_numpy() & ~missing


def diffusion_pseudotime(adata: ad.AnnData, root_cells, layer: str | None = "lognorm", n_pcs: int = 30,
                         n_neighbors: int = 15, n_dcs: int = 10, seed: int = 42,
                         return_diffmap: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Diffusion pseudotime (scanpy ``dpt``; Haghverdi et al. 2016) of every cell.

    PCA of the expression (``layer``), Gaussian kNN graph, diffusion map, then DPT from one root
    cell: among ``root_cells`` (a boolean mask, e.g. the untreated cells of a time course) the
    one at the far end of the first diffusion component, on the side opposite to the other cells.

    Returns:
        ``(cells,)`` pseudotime in [0, 1] (``inf`` for cells unreachable from the root); with
        ``return_diffmap`` also the ``(cells, 2)`` first two non-trivial diffusion components.
    """
    import scanpy as sc

    root_cells = np.asarray(root_cells, dtype=bool)
    if root_cells.shape != (adata.n_obs,) or not root_cells.any():
        raise ValueError("root_cells must be a boolean mask over the cells with at least one cell")
    work = _expression(adata, layer)
    n, g = work.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pp.pca(work, n_comps=max(2, min(n_pcs, n - 1, g - 1)), random_state=seed)
        neighbors(work, use_rep="X_pca", n_neighbors=n_neighbors, method="gauss", seed=seed)
        sc.tl.diffmap(work, n_comps=max(2, min(n_dcs + 1, n - 2)))
        dc1 = work.obsm["X_diffmap"][:, 1]  # component 0 is the trivial stationary one
        others = dc1[~root_cells].mean() if (~root_cells).any() else 0.0
        cand = np.flatnonzero(root_cells)
        side = np.sign(dc1[root_cells].mean() - others) or 1.0
        work.uns["iroot"] = int(cand[np.argmax(side * dc1[cand])])
        sc.tl.dpt(work, n_dcs=min(n_dcs, work.obsm["X_diffmap"].shape[1]))
    pseudotime = work.obs["dpt_pseudotime"].to_numpy(np.float64)
    if return_diffmap:
        return pseudotime, np.asarray(work.obsm["X_diffmap"][:, 1:3], dtype=np.float64)
    return pseudotime
