"""Downstream analysis of predicted patient drug responses (CODE-AE paper, "Results": the
patient × drug screen, spectral biclustering, cluster z-scores, drug-target association).

Public API (all pure functions on pandas objects; 1 = sensitive, 0 = resistant):

* :func:`response_matrix` — long predictions (or drug → Series) → a patients × drugs matrix of
  predicted probabilities of sensitivity.
* :func:`labels_at_threshold`, :func:`extreme_labels` — that matrix → 1/0 labels: at a probability
  threshold, or per drug the top / bottom ``fraction`` of patients (the paper's 5 % ranking;
  the rest NaN, i.e. unlabelled).
* :func:`bicluster` — ``sklearn.cluster.SpectralBiclustering`` of the matrix into patient and
  drug clusters (paper: 100 × 30 on 9,808 patients × 59 drugs).
* :func:`cluster_zscores` — mean predicted response per (patient cluster, drug cluster) block
  (or per (patient cluster, drug)), z-scored across all blocks (paper, Fig. 5 caption).
* :func:`target_association` — per drug and target gene, Mann–Whitney U test of the gene's
  expression between predicted-sensitive and predicted-resistant patients, Benjamini–Hochberg
  FDR over all tests (paper: "47 out of 50 targeted therapies … FDR ≤ 0.05").
* :func:`parse_targets` — a drug annotation table (e.g. GDSC ``DRUG_NAME`` /
  ``PUTATIVE_TARGET``) → ``{drug: [genes]}``.

Figures: :func:`drugshift.plots.plot_bicluster`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from drugshift import evaluate

__all__ = [
    "bicluster",
    "cluster_zscores",
    "extreme_labels",
    "parse_targets",
    "response_matrix",
    "labels_at_threshold",
    "target_association",
]

_log = logging.getLogger(__name__)

ASSOCIATION_COLUMNS = ["drug", "gene", "n_sensitive", "n_resistant", "mean_sensitive", "mean_resistant",
                       "difference", "statistic", "p", "fdr"]


def response_matrix(
    predictions: pd.DataFrame | Mapping[str, pd.Series],
    sample: str = "sample",
    drug: str = "drug",
    value: str = "sens_prob",
) -> pd.DataFrame:
    """Patients × drugs matrix of predicted responses.

    Args:
        predictions: a long table with columns ``sample``, ``drug`` and ``value`` (one row per
            patient and drug), or a mapping drug → Series of ``value`` indexed by patient (or
            drug → DataFrame with a ``value`` column).
        sample, drug, value: column names of the long form.

    Returns:
        float DataFrame, rows = patients (index named ``sample``), columns = drugs (named
        ``drug``), both sorted; NaN where a patient has no prediction for a drug.

    Raises:
        ValueError: missing columns, or a (patient, drug) pair given twice.
    """
    if isinstance(predictions, pd.DataFrame):
        missing = [c for c in (sample, drug, value) if c not in predictions.columns]
        if missing:
            raise ValueError(f"predictions lack column(s) {missing}; have {list(predictions.columns)}")
        dup = predictions.duplicated([sample, drug])
        if dup.any():
            first = predictions.loc[dup, [sample, drug]].iloc[0].tolist()
            raise ValueError(f"{int(dup.sum())} duplicated (sample, drug) pair(s) in predictions, e.g. {first}")
        wide = predictions.pivot(index=sample, columns=drug, values=value)
    else:
        cols = {}
        for name, series in predictions.items():
            if isinstance(series, pd.DataFrame):
                if value not in series.columns:
                    raise ValueError(f"predictions for {name!r} lack column {value!r}")
                series = series[value]
            if series.index.duplicated().any():
                raise ValueError(f"predictions for {name!r} list a patient twice, e.g. "
                                 f"{series.index[series.index.duplicated()][0]!r}")
            cols[name] = series
        wide = pd.DataFrame(cols)
    wide = wide.sort_index(axis=0).sort_index(axis=1).astype(float)
    wide.index.name, wide.columns.name = sample, drug
    return wide


def labels_at_threshold(matrix: pd.DataFrame, threshold: float = evaluate.DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Patients × drugs probabilities → labels by :func:`drugshift.evaluate.predicted_labels`:
    1 where the probability is ≥ ``threshold``, 0 below, NaN where the probability is missing."""
    labels = pd.DataFrame(evaluate.predicted_labels(matrix, threshold).astype(float), index=matrix.index,
                          columns=matrix.columns)
    return labels.where(matrix.notna())


def extreme_labels(matrix: pd.DataFrame, fraction: float = 0.05) -> pd.DataFrame:
    """Per drug, the ``fraction`` of patients with the highest predicted scores → 1 (responsive),
    the ``fraction`` with the lowest → 0 (resistant), everyone else NaN (the paper's ranking:
    "patients with the top 5 % and bottom 5 % ranked scores are classified as drug-responsive
    or drug-resistant"). At least one patient per side; ties are broken by patient order."""
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    out = pd.DataFrame(np.nan, index=matrix.index, columns=matrix.columns)
    for d in matrix.columns:
        col = matrix[d].dropna()
        if col.size < 2:
            continue
        k = max(1, int(np.floor(fraction * col.size)))
        order = col.sort_values(kind="stable").index
        out.loc[order[:k], d] = 0.0
        out.loc[order[-k:], d] = 1.0
    return out


def _relabel_by_mean(labels: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..k-1 by decreasing mean response (0 = most sensitive), ties by old id."""
    ids = np.unique(labels)
    cluster_means = np.array([means[labels == i].mean() for i in ids])
    order = ids[np.lexsort((ids, -cluster_means))]
    mapping = {old: new for new, old in enumerate(order)}
    return np.array([mapping[v] for v in labels], dtype=np.int64)


def bicluster(
    matrix: pd.DataFrame,
    n_patient_clusters: int,
    n_drug_clusters: int,
    seed: int,
    method: str = "bistochastic",
    n_components: int = 6,
    n_best: int = 3,
    log: logging.Logger | None = None,
) -> tuple[pd.Series, pd.Series]:
    """Spectral biclustering of a patients × drugs response matrix (Kluger et al., 2003;
    ``sklearn.cluster.SpectralBiclustering``), as the paper grouped 9,808 patients and 59 drugs
    into 100 × 30 clusters.

    Cluster counts larger than the matrix allows (more clusters than patients / drugs) are
    clipped with a logged warning; so are ``n_components`` and ``n_best`` (singular vectors
    used), which must stay below the smaller side of the matrix.

    Args:
        matrix: patients × drugs, finite values (e.g. :func:`response_matrix` probabilities).
        n_patient_clusters, n_drug_clusters: requested numbers of clusters (≥ 1).
        seed: ``random_state`` of the SVD and k-means.
        method: sklearn's normalisation: ``bistochastic``, ``scale`` or ``log`` (``log`` needs
            positive values).
        n_components, n_best: sklearn's singular vectors computed / used for the projection
            (randomized SVD, seeded).
        log: logger for the clipping warnings.

    Returns:
        ``(patient_cluster, drug_cluster)``: int Series indexed like the matrix's rows / columns.
        Clusters are numbered by decreasing mean response (0 = the most sensitive on average),
        so the numbering is meaningful and stable.

    Raises:
        ValueError: fewer than 2 patients or 2 drugs, non-finite values, cluster counts < 1.
    """
    from sklearn.cluster import SpectralBiclustering

    log = log or _log
    X = matrix.to_numpy(dtype=np.float64)
    n_rows, n_cols = X.shape
    if n_rows < 2 or n_cols < 2:
        raise ValueError(f"biclustering needs at least 2 patients and 2 drugs, got a {n_rows} × {n_cols} matrix")
    if not np.isfinite(X).all():
        raise ValueError(f"the response matrix has {int((~np.isfinite(X)).sum())} missing or non-finite value(s); "
                         "predict every patient for every drug (or drop them) before biclustering")
    if int(n_patient_clusters) < 1 or int(n_drug_clusters) < 1:
        raise ValueError(f"cluster counts must be >= 1, got {n_patient_clusters} and {n_drug_clusters}")
    r = min(int(n_patient_clusters), n_rows)
    c = min(int(n_drug_clusters), n_cols)
    if (r, c) != (int(n_patient_clusters), int(n_drug_clusters)):
        log.warning("bicluster: %d × %d clusters requested for a %d patients × %d drugs matrix; using %d × %d",
                    n_patient_clusters, n_drug_clusters, n_rows, n_cols, r, c)
    # The randomized SVD yields at most min(n_rows, n_cols) vectors; bistochastic and scale
    # normalisation compute one more than n_components and discard the first.
    comps = max(1, min(int(n_components), min(n_rows, n_cols) - (0 if method == "log" else 1)))
    best = max(1, min(int(n_best), comps))
    if (comps, best) != (int(n_components), int(n_best)):
        log.warning("bicluster: n_components=%d, n_best=%d reduced to %d, %d for a %d × %d matrix",
                    n_components, n_best, comps, best, n_rows, n_cols)
    model = SpectralBiclustering(n_clusters=(r, c), method=method, n_components=comps, n_best=best,
                                 svd_method="randomized", random_state=seed)
    with warnings.catch_warnings():
        # k-means warns when it finds fewer distinct clusters than asked on degenerate data.
        warnings.simplefilter("ignore", category=UserWarning)
        model.fit(X)
    rows = _relabel_by_mean(model.row_labels_, X.mean(axis=1))
    cols = _relabel_by_mean(model.column_labels_, X.mean(axis=0))
    return (pd.Series(rows, index=matrix.index, name="patient_cluster"),
            pd.Series(cols, index=matrix.columns, name="drug_cluster"))


def cluster_zscores(
    matrix: pd.DataFrame,
    row_labels: pd.Series,
    col_labels: pd.Series | None = None,
) -> pd.DataFrame:
    """Mean predicted response per block, z-scored across all blocks.

    Paper, Fig. 5: "A drug response score for each cluster is calculated by averaging the
    individual patient response score. Then the averaged cluster scores are normalized across
    all clusters and drugs, and a normalized z-score is calculated. The higher the z-score is,
    the more sensitive patients are to the drug." Every block weighs the same in the mean and
    SD (population SD); a constant table gives z = 0. For per-tumour-type z-scores, call it on
    each tumour type's rows.

    Args:
        matrix: patients × drugs responses (NaN ignored in the means).
        row_labels: patient cluster per patient (index ⊇ ``matrix.index``).
        col_labels: drug cluster per drug; ``None`` scores (patient cluster, drug) blocks as in
            the paper's heat map.

    Returns:
        Long DataFrame, one row per block: ``patient_cluster``, ``drug_cluster`` (or ``drug``),
        ``n_patients``, ``n_drugs``, ``mean_response``, ``zscore``; sorted by the two keys.

    Raises:
        ValueError: a patient or drug of the matrix has no label.
    """
    rl = pd.Series(row_labels).reindex(matrix.index)
    if rl.isna().any():
        raise ValueError(f"{int(rl.isna().sum())} patient(s) of the matrix have no cluster label, "
                         f"e.g. {rl.index[rl.isna()][0]!r}")
    per_patient_cluster = matrix.groupby(rl.to_numpy()).mean()  # patient clusters × drugs
    n_patients = rl.value_counts()
    if col_labels is None:
        long = per_patient_cluster.stack(future_stack=True).rename("mean_response").reset_index()
        long.columns = ["patient_cluster", "drug", "mean_response"]
        long["n_drugs"] = 1
        key = "drug"
    else:
        cl = pd.Series(col_labels).reindex(matrix.columns)
        if cl.isna().any():
            raise ValueError(f"{int(cl.isna().sum())} drug(s) of the matrix have no cluster label, "
                             f"e.g. {cl.index[cl.isna()][0]!r}")
        rows = []
        for pc in per_patient_cluster.index:
            sub = matrix.loc[rl.to_numpy() == pc]
            for dc in np.unique(cl.to_numpy()):
                block = sub.loc[:, cl.to_numpy() == dc].to_numpy(dtype=float)
                rows.append({"patient_cluster": pc, "drug_cluster": dc, "n_drugs": block.shape[1],
                             "mean_response": float(np.nanmean(block)) if np.isfinite(block).any() else np.nan})
        long = pd.DataFrame(rows)
        key = "drug_cluster"
    long["n_patients"] = long["patient_cluster"].map(n_patients).astype(int)
    m = long["mean_response"].to_numpy(dtype=float)
    mu, sd = np.nanmean(m), np.nanstd(m)
    long["zscore"] = (m - mu) / sd if sd > 0 else np.where(np.isfinite(m), 0.0, np.nan)
    long = long.sort_values(["patient_cluster", key], kind="stable").reset_index(drop=True)
    return long[["patient_cluster", key, "n_patients", "n_drugs", "mean_response", "zscore"]]


def parse_targets(table: pd.DataFrame, drug: str = "DRUG_NAME", target: str = "PUTATIVE_TARGET",
                  sep: str = ",") -> dict[str, list[str]]:
    """``{drug: [target genes]}`` from an annotation table with one row per drug (or per drug and
    screen), e.g. GDSC's ``DRUG_NAME`` / ``PUTATIVE_TARGET`` ("EGFR, ERBB2"). Targets are split on
    ``sep``, stripped, de-duplicated in order; rows without a target are skipped."""
    missing = [c for c in (drug, target) if c not in table.columns]
    if missing:
        raise ValueError(f"annotation table lacks column(s) {missing}; have {list(table.columns)}")
    out: dict[str, list[str]] = {}
    for name, value in table[[drug, target]].itertuples(index=False):
        if pd.isna(name) or pd.isna(value):
            continue
        genes = out.setdefault(str(name), [])
        for g in str(value).split(sep):
            g = g.strip()
            if g and g not in genes:
                genes.append(g)
    return {k: v for k, v in out.items() if v}


def target_association(
    expression: pd.DataFrame,
    predicted_labels: pd.DataFrame,
    drug_targets: Mapping[str, list[str]],
    min_group: int = 3,
    log: logging.Logger | None = None,
) -> pd.DataFrame:
    """Does a drug's target gene differ in expression between patients predicted sensitive and
    predicted resistant? (Paper, "drug-target association"; two-sided Mann–Whitney U test per
    drug and target gene, Benjamini–Hochberg FDR over all tests.)

    Args:
        expression: patients × genes expression.
        predicted_labels: patients × drugs, 1 = predicted sensitive, 0 = resistant, NaN =
            unlabelled (e.g. :func:`labels_at_threshold` or :func:`extreme_labels`).
        drug_targets: drug → target genes.
        min_group: fewest patients per group for a test.
        log: logger for the summary of what was skipped.

    Patients are those in both tables. Skipped, each with a note in ``result.attrs["skipped"]``
    (a list of ``{"drug", "gene", "reason"}``) and one logged warning: drugs without predictions,
    drugs with fewer than ``min_group`` patients in a group, and target genes absent from
    ``expression``.

    Returns:
        DataFrame with columns ``drug, gene, n_sensitive, n_resistant, mean_sensitive,
        mean_resistant, difference`` (sensitive − resistant), ``statistic`` (U of the sensitive
        group), ``p`` and ``fdr`` (``scipy.stats.false_discovery_control``, BH), one row per test
        in the order of ``drug_targets``.

    Raises:
        ValueError: labels outside {0, 1}, or no patient in common.
    """
    from scipy.stats import false_discovery_control, mannwhitneyu

    log = log or _log
    patients = predicted_labels.index[predicted_labels.index.isin(expression.index)]
    if len(patients) == 0:
        raise ValueError("expression and predicted_labels share no patient; check the sample identifiers")
    labels = predicted_labels.loc[patients]
    values = labels.to_numpy(dtype=float)
    bad = np.isfinite(values) & ~np.isin(values, [0.0, 1.0])
    if bad.any():
        raise ValueError(f"predicted labels must be 1, 0 or missing; found {np.unique(values[bad])[:5].tolist()}")
    expr = expression.loc[patients]
    rows, skipped = [], []
    for drug, genes in drug_targets.items():
        if drug not in labels.columns:
            skipped.append({"drug": drug, "gene": None, "reason": "no predictions for this drug"})
            continue
        y = labels[drug].dropna()
        sens, res = y.index[y == 1], y.index[y == 0]
        if min(len(sens), len(res)) < min_group:
            skipped.append({"drug": drug, "gene": None,
                            "reason": f"{len(sens)} sensitive and {len(res)} resistant patients (< {min_group})"})
            continue
        for gene in dict.fromkeys(genes):
            if gene not in expr.columns:
                skipped.append({"drug": drug, "gene": gene, "reason": "gene not in the expression data"})
                continue
            xs = expr.loc[sens, gene].dropna().to_numpy(dtype=float)
            xr = expr.loc[res, gene].dropna().to_numpy(dtype=float)
            if min(len(xs), len(xr)) < min_group:
                skipped.append({"drug": drug, "gene": gene, "reason": "too few measured values"})
                continue
            if np.ptp(np.r_[xs, xr]) == 0:
                stat, p = len(xs) * len(xr) / 2.0, 1.0  # all values tied: no evidence either way
            else:
                stat, p = mannwhitneyu(xs, xr, alternative="two-sided")
            rows.append({"drug": drug, "gene": gene, "n_sensitive": len(xs), "n_resistant": len(xr),
                         "mean_sensitive": float(xs.mean()), "mean_resistant": float(xr.mean()),
                         "difference": float(xs.mean() - xr.mean()), "statistic": float(stat), "p": float(p)})
    result = pd.DataFrame(rows, columns=ASSOCIATION_COLUMNS[:-1])
    result["fdr"] = false_discovery_control(result["p"].to_numpy(), method="bh") if len(result) else []
    result.attrs["skipped"] = skipped
    if skipped:
        genes_missing = sorted({s["gene"] for s in skipped if s["reason"].startswith("gene not")})
        log.warning("target_association: skipped %d drug/gene item(s)%s; %d test(s) run", len(skipped),
                    f" (genes absent from the expression: {', '.join(genes_missing[:10])}"
                    f"{' …' if len(genes_missing) > 10 else ''})" if genes_missing else "", len(result))
    return result
