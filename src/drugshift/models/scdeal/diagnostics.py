"""When should a transfer not be believed? Label-free diagnostics of a trained scDEAL model (or
ensemble) on its cells, a reliability verdict, and label-free thresholds for the binary label.

Nothing here reads a cell's label: every quantity comes from the bulk data (whose labels trained
the model) and from the model's own predictions and embeddings of the cells.

The verdict (:func:`reliability`), fixed from the method before it met any labelled cells:

* ``no-bulk-signal`` — the bulk model ranks held-out cell lines no better than AUROC 0.6
  (:data:`MIN_BULK_AUROC`): what would be transferred is barely there.
* ``orientation-flip`` — the transferred and the no-transfer predictions of the cells are
  negatively rank-correlated: the transfer turned the bulk model's ranking round. MMD aligns
  distributions, not which cell goes where, so this is the transfer's known failure; one of the
  two orientations is wrong and nothing label-free says which.
* ``low-agreement`` — the members disagree: mean pairwise Spearman of their cell probabilities
  below 0.5 (:data:`MIN_MEMBER_AGREEMENT`), or more than half of the cells uncertain (ensemble
  sd above ``uncertain_sd``, :data:`MAX_UNCERTAIN_FRACTION`). The ranking depends on the seed and
  split, so a single model's answer would be a draw.
* ``ok`` — none of these.

The first that applies, in this order, is the verdict; ``reasons`` lists every one that applies.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import numpy as np

__all__ = ["MAX_UNCERTAIN_FRACTION", "MIN_BULK_AUROC", "MIN_MEMBER_AGREEMENT", "VERDICTS", "domain_auroc",
           "label_thresholds", "log_diagnostics", "member_agreement", "member_spread", "reliability", "transfer_diagnostics"]

VERDICTS = ("ok", "low-agreement", "orientation-flip", "no-bulk-signal")
#: Below this out-of-fold bulk AUROC the bulk labels carry too little signal to transfer.
MIN_BULK_AUROC = 0.6
#: Below this mean pairwise Spearman the members' rankings of the cells disagree.
MIN_MEMBER_AGREEMENT = 0.5
#: Above this share of uncertain cells the ensemble disagrees on most cells.
MAX_UNCERTAIN_FRACTION = 0.5

_log = logging.getLogger("drugshift.models.scdeal")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def member_spread(member_probs: np.ndarray) -> np.ndarray:
    """Each cell's ensemble spread: the sd (ddof 1) of the members' probabilities, rows of
    ``(cells, members)``; 0 for a single member."""
    probs = np.asarray(member_probs, float)
    return probs.std(axis=1, ddof=1) if probs.shape[1] > 1 else np.zeros(len(probs))


def member_agreement(member_probs: np.ndarray) -> float | None:
    """Mean pairwise Spearman correlation of the members' cell probabilities (columns of
    ``(cells, members)``); ``None`` for a single member."""
    probs = np.asarray(member_probs, float)
    if probs.ndim != 2 or probs.shape[1] < 2:
        return None
    rhos = [_spearman(probs[:, i], probs[:, j]) for i, j in itertools.combinations(range(probs.shape[1]), 2)]
    rhos = [r for r in rhos if np.isfinite(r)]
    return float(np.mean(rhos)) if rhos else float("nan")


def domain_auroc(bulk_embedding: np.ndarray, cell_embedding: np.ndarray, seed: int = 42,
                 max_per_domain: int = 2000, folds: int = 5) -> float:
    """How well the embeddings are aligned: the cross-validated AUROC of a logistic regression
    that tells bulk profiles from cells by their embedding (0.5: indistinguishable, aligned;
    1.0: two separate clouds). At most ``max_per_domain`` rows of each domain (a seeded draw)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    parts = []
    for x in (bulk_embedding, cell_embedding):
        x = np.asarray(x, float)
        if len(x) > max_per_domain:
            x = x[np.sort(rng.choice(len(x), max_per_domain, replace=False))]
        parts.append(x)
    X = np.vstack(parts)
    y = np.r_[np.zeros(len(parts[0])), np.ones(len(parts[1]))]
    folds = min(folds, len(parts[0]), len(parts[1]))
    if folds < 2:
        return float("nan")
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    prob = cross_val_predict(clf, X, y, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, prob))


def label_thresholds(val_labels: np.ndarray, val_probs: np.ndarray, bulk_positive_rate: float,
                     cell_probs: np.ndarray) -> dict[str, float]:
    """The three rules for cutting a probability into a label, none of which reads a cell label.

    Returns:
        ``paper``: 0.5. ``bulk_f1``: the cut that maximises F1 (sensitive = positive) on the bulk
        validation lines (``val_labels``, ``val_probs``; ties: the cut nearest 0.5).
        ``bulk_rate``: the quantile of ``cell_probs`` above which the bulk training lines'
        share of sensitive lines (``bulk_positive_rate``) of the cells lies.
    """
    from sklearn.metrics import precision_recall_curve

    y, p = np.asarray(val_labels).astype(int), np.asarray(val_probs, float)
    precision, recall, cuts = precision_recall_curve(y, p)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)[:-1]
    best = np.flatnonzero(np.isclose(f1, f1.max()))
    bulk_f1 = float(cuts[best[np.argmin(np.abs(cuts[best] - 0.5))]])
    rate = float(np.clip(bulk_positive_rate, 0.0, 1.0))
    bulk_rate = float(np.quantile(np.asarray(cell_probs, float), 1.0 - rate)) if rate > 0 else 1.0
    return {"paper": 0.5, "bulk_f1": bulk_f1, "bulk_rate": bulk_rate}


def reliability(diagnostics: dict) -> tuple[str, list[str]]:
    """The verdict of :func:`transfer_diagnostics`'s numbers (module docstring) and every
    reason that applies, in words."""
    reasons: list[tuple[str, str]] = []
    bulk = diagnostics.get("bulk_auroc_out_of_fold")
    if bulk is not None and np.isfinite(bulk) and bulk < MIN_BULK_AUROC:
        reasons.append(("no-bulk-signal", f"the bulk model ranks held-out cell lines at AUROC {bulk:.2f} "
                                          f"(< {MIN_BULK_AUROC})"))
    rho = diagnostics.get("transfer_vs_no_transfer")
    if rho is not None and np.isfinite(rho) and rho < 0:
        reasons.append(("orientation-flip", f"the transfer reversed the bulk model's ranking of the cells "
                                            f"(Spearman {rho:.2f})"))
    agreement = diagnostics.get("member_agreement")
    if agreement is not None and np.isfinite(agreement) and agreement < MIN_MEMBER_AGREEMENT:
        reasons.append(("low-agreement", f"the members rank the cells differently (mean pairwise Spearman "
                                         f"{agreement:.2f} < {MIN_MEMBER_AGREEMENT})"))
    uncertain = diagnostics.get("uncertain_fraction")
    if uncertain is not None and np.isfinite(uncertain) and uncertain > MAX_UNCERTAIN_FRACTION:
        reasons.append(("low-agreement", f"{100 * uncertain:.0f}% of the cells are uncertain (ensemble sd > "
                                         f"{diagnostics.get('uncertain_sd')})"))
    for verdict in reversed(VERDICTS[1:]):  # no-bulk-signal first, then orientation-flip, then low-agreement
        if any(v == verdict for v, _ in reasons):
            return verdict, [text for _, text in reasons]
    return "ok", []


def transfer_diagnostics(member_probs: np.ndarray, member_probs_no_transfer: np.ndarray,
                         bulk_val_auroc: Sequence[float], bulk_auroc_out_of_fold: float,
                         domain_aurocs: Sequence[float], uncertain_sd: float) -> dict:
    """The label-free diagnostics of one model or ensemble on its cells, with the verdict.

    Args:
        member_probs: ``(cells, members)`` each member's transferred probability of sensitivity.
        member_probs_no_transfer: the same for each member's bulk model without transfer.
        bulk_val_auroc: each member's bulk model AUROC on its validation lines.
        bulk_auroc_out_of_fold: the bulk models' AUROC on cell lines no member trained or
            validated on (the members' test folds pooled; a single model's test split).
        domain_aurocs: each member's :func:`domain_auroc` of bulk vs cell embeddings.
        uncertain_sd: spread above which a cell is uncertain.

    Returns:
        ``members``, ``bulk_val_auroc`` (list), ``bulk_auroc_out_of_fold``, ``member_agreement``
        (``None`` for one member), ``transfer_vs_no_transfer`` (Spearman of the mean
        probabilities; negative: the transfer flipped the orientation), ``domain_auroc`` (mean
        over members), ``uncertain_sd``, ``uncertain_fraction`` (``None`` for one member),
        ``mean_sd``, ``verdict`` and ``reasons``.
    """
    probs = np.asarray(member_probs, float)
    base = np.asarray(member_probs_no_transfer, float)
    k = probs.shape[1]
    sd = member_spread(probs)
    out = {
        "members": int(k),
        "bulk_val_auroc": [float(a) for a in bulk_val_auroc],
        "bulk_auroc_out_of_fold": float(bulk_auroc_out_of_fold),
        "member_agreement": member_agreement(probs),
        "transfer_vs_no_transfer": _spearman(probs.mean(axis=1), base.mean(axis=1)),
        "domain_auroc": float(np.mean(domain_aurocs)) if len(domain_aurocs) else float("nan"),
        "uncertain_sd": float(uncertain_sd),
        "uncertain_fraction": float(np.mean(sd > uncertain_sd)) if k > 1 else None,
        "mean_sd": float(sd.mean()) if k > 1 else None,
    }
    out["verdict"], out["reasons"] = reliability(out)
    return out


def log_diagnostics(diagnostics: dict, log: logging.Logger | None = None) -> None:
    """One line of numbers, and a warning with the reasons unless the verdict is ``ok``."""
    log = log or _log
    d = diagnostics

    def fmt(x):
        return "n/a" if x is None or not np.isfinite(x) else f"{x:.3f}"

    log.info("scDEAL transfer diagnostics (%d member%s): bulk AUROC out of fold %s, member agreement %s, "
             "transfer vs no transfer %s, domain classifier AUROC %s, uncertain cells %s; verdict %s",
             d["members"], "s" if d["members"] > 1 else "", fmt(d["bulk_auroc_out_of_fold"]),
             fmt(d["member_agreement"]), fmt(d["transfer_vs_no_transfer"]), fmt(d["domain_auroc"]),
             fmt(d["uncertain_fraction"]), d["verdict"])
    if d["verdict"] != "ok":
        log.warning("scDEAL predictions should not be trusted as they are (%s): %s", d["verdict"],
                    "; ".join(d["reasons"]))
