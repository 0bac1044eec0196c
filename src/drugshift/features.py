"""Gene selection for CODE-AE: the most informative genes of each domain, united.

CODE-AE (Methods, "Datasets"): "the top 1,000 genes with the highest percentage of unique values
in each domain" (cell lines and patients), united to 1,426 genes. Ranking by the share of
distinct values favours genes that are measured with resolution in a domain (not mostly zero or
tied) and is independent of scale, so it needs no normalisation first. Variance and median
absolute deviation are offered as alternatives for data where every value is distinct (e.g.
z-scores, where the unique-value share is 1 for every gene).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["SCORES", "domain_statistics", "gene_scores", "prepare_domains", "select_genes", "standardisation",
           "standardise_domains"]

SCORES = ("unique", "variance", "mad")


def gene_scores(expression: pd.DataFrame, method: str = "unique") -> pd.Series:
    """Per-gene informativeness within one domain (samples × genes).

    Args:
        expression: samples × genes, numeric; NaN values are ignored.
        method: ``unique`` (percentage of distinct non-missing values among the samples, 0–100),
            ``variance`` (population variance) or ``mad`` (median absolute deviation from the
            median).

    Returns:
        float Series indexed by gene, higher = more informative.
    """
    if method not in SCORES:
        raise ValueError(f"unknown gene score {method!r}; expected one of {SCORES}")
    if expression.shape[0] == 0:
        raise ValueError("gene_scores needs at least one sample")
    if method == "unique":
        values = expression.to_numpy(dtype=np.float64)
        n_obs = np.isfinite(values).sum(axis=0)
        srt = np.sort(values, axis=0)  # NaN sorts last
        distinct = (np.diff(srt, axis=0) != 0) & np.isfinite(srt[1:])
        n_unique = np.where(n_obs > 0, distinct.sum(axis=0) + 1, 0)
        score = 100.0 * n_unique / np.maximum(n_obs, 1)
    elif method == "variance":
        score = expression.var(axis=0, ddof=0).to_numpy()
    else:
        med = expression.median(axis=0)
        score = (expression - med).abs().median(axis=0).to_numpy()
    return pd.Series(np.nan_to_num(np.asarray(score, dtype=np.float64), nan=-np.inf),
                     index=expression.columns, name=method)


def select_genes(domains: Mapping[str, pd.DataFrame], k: int, method: str = "unique") -> list[str]:
    """Union over domains of each domain's top-``k`` genes (CODE-AE feature selection).

    Only genes measured in every domain are candidates (a model input must exist everywhere).
    Ties are broken by the gene's position in the first domain's columns, so the selection is
    deterministic.

    Args:
        domains: name → samples × genes expression (e.g. ``{"cell_lines": …, "patients": …}``).
        k: genes kept per domain (the paper: 1000); at most the number of shared genes.
        method: see :func:`gene_scores`.

    Returns:
        Selected genes in the first domain's column order.

    Raises:
        ValueError: no domains, ``k < 1``, or the domains share no gene.
    """
    if not domains:
        raise ValueError("select_genes needs at least one domain")
    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    frames = list(domains.values())
    shared = pd.Index(frames[0].columns)
    for name, frame in domains.items():
        if frame.columns.duplicated().any():
            raise ValueError(f"domain {name!r} has duplicated gene columns")
        shared = shared[shared.isin(frame.columns)]
    if len(shared) == 0:
        raise ValueError(f"domains {list(domains)} share no gene; check gene identifiers")
    chosen: set[str] = set()
    position = pd.Series(np.arange(len(shared)), index=shared)
    for frame in frames:
        scores = gene_scores(frame[shared], method)
        order = pd.DataFrame({"score": -scores.to_numpy(), "pos": position.to_numpy()}, index=shared)
        chosen.update(order.sort_values(["score", "pos"], kind="stable").index[: int(k)])
    return [g for g in shared if g in chosen]


def domain_statistics(frame: pd.DataFrame, genes: list[str], name: str = "domain") -> pd.DataFrame:
    """Per-gene mean and SD (population) of one domain on ``genes``: the standardisation
    :func:`standardise_domains` applies. Constant genes get SD 1, so they become 0.

    Returns a frame indexed by gene with float64 columns ``mean``, ``sd``.
    """
    missing = [g for g in genes if g not in frame.columns]
    if missing:
        raise ValueError(f"domain {name!r} lacks {len(missing)} selected gene(s), e.g. {missing[:5]}")
    x = frame[genes].astype(np.float64)
    return pd.DataFrame({"mean": x.mean(axis=0), "sd": x.std(axis=0, ddof=0).replace(0, 1.0).fillna(1.0)})


def standardise_domains(domains: Mapping[str, pd.DataFrame], genes: list[str]) -> dict[str, pd.DataFrame]:
    """Restrict every domain to ``genes`` and z-score each gene within each domain (float32).

    Sources on different platforms or pre-normalised differently (GDSC per-cell-line z-scores,
    TCGA z-scores against a pan-cancer background, PDTC per-gene z-scores) then share one
    scale; genes constant within a domain become 0.
    """
    out = {}
    for name, frame in domains.items():
        stats = domain_statistics(frame, genes, name)
        x = frame[genes].astype(np.float64)
        out[name] = ((x - stats["mean"]) / stats["sd"]).fillna(0.0).astype(np.float32)
    return out


def standardisation(statistics: pd.DataFrame, genes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The per-domain ``(mean, sd)`` arrays in ``genes`` order from the long table
    :func:`prepare_domains` returns (``domain, gene, mean, sd``), for a model to carry."""
    out = {}
    for domain, part in statistics.groupby("domain", sort=False):
        part = part.set_index("gene").reindex(genes)
        if part[["mean", "sd"]].isna().any().any():
            raise ValueError(f"standardisation of domain {domain!r} lacks some of the {len(genes)} genes")
        out[str(domain)] = (part["mean"].to_numpy(np.float64), part["sd"].to_numpy(np.float64))
    return out


def prepare_domains(
    cell_lines: pd.DataFrame,
    cohorts: Mapping[str, pd.DataFrame],
    k: int,
    method: str = "unique",
    standardise: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """CODE-AE inputs from a cell-line table and one table per patient cohort (samples × genes).

    Genes: :func:`select_genes` over the cell lines and the pooled patients (two domains, as in
    the paper). Values: per-gene z-scores within each source (each cohort separately) when
    ``standardise``, else unchanged.

    Returns:
        ``(cell_lines, patients, genes, statistics)``: cell lines × selected genes; patients ×
        (``cohort`` column + selected genes), index = sample id; a table ``gene`` with each
        domain's score; and the standardisation applied, ``domain`` (``cell_lines`` or the
        cohort), ``gene``, ``mean``, ``sd`` (0 and 1 without standardisation), which a model
        needs to standardise new samples of a domain the same way.
    """
    if not cohorts:
        raise ValueError("CODE-AE needs at least one patient cohort (an entry of `patients`)")
    pooled = pd.concat([c[[g for g in c.columns if all(g in o.columns for o in cohorts.values())]]
                        for c in cohorts.values()])
    genes = select_genes({"cell_lines": cell_lines, "patients": pooled}, k, method)
    table = pd.DataFrame({"gene": genes})
    for name, frame in {"cell_lines": cell_lines, "patients": pooled}.items():
        scores = gene_scores(frame[genes], method)
        table[f"{name}_score"] = scores.to_numpy()
    domains = {"cell_lines": cell_lines, **cohorts}
    if standardise:
        std = standardise_domains(domains, genes)
        stats = {name: domain_statistics(frame, genes, name) for name, frame in domains.items()}
    else:
        std = {name: frame[genes].astype(np.float32) for name, frame in domains.items()}
        stats = {name: pd.DataFrame({"mean": 0.0, "sd": 1.0}, index=pd.Index(genes)) for name in domains}
    statistics = pd.concat([s.rename_axis("gene").reset_index().assign(domain=name) for name, s in stats.items()],
                           ignore_index=True)[["domain", "gene", "mean", "sd"]]
    parts = []
    for name in cohorts:
        part = std[name].copy()
        part.insert(0, "cohort", name)
        parts.append(part)
    patients = pd.concat(parts)
    if patients.index.duplicated().any():
        raise ValueError(f"sample ids repeat across cohorts, e.g. {patients.index[patients.index.duplicated()][0]!r}")
    patients.index.name = "sample"
    cl = std["cell_lines"]
    cl.index.name = cell_lines.index.name or "cell_line"
    return cl, patients, table, statistics
