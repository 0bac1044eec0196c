"""How well cell lines and patients can be told apart: the one domain-separability metric.

CODE-AE's claim is that its shared embedding removes the confounders (tumour type, sex, platform)
that separate patients from cell lines. :func:`domain_auroc` measures what is left: the
cross-validated AUROC of a classifier asked which domain a sample comes from, on the inputs or on
any embedding. Every method's ``deconfounding.json`` reports it under ``domain_auroc``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["domain_auroc"]


def domain_auroc(source, target, seed: int = 42, n_folds: int = 5, n_trees: int = 200) -> float:
    """Cross-validated AUROC of a random-forest domain classifier (sklearn, ``n_trees`` trees,
    ``min_samples_leaf=3``, stratified ``n_folds``-fold, out-of-fold scores), source = 1.

    0.5 means the domains are indistinguishable in this representation (deconfounded), 1.0 that
    they are perfectly separable. A forest, not a linear model, because after per-domain
    standardisation the domains differ in the shape of their distributions (tumour-type and sex
    sub-populations), not in their means.

    Args:
        source, target: ``(n_s, d)`` and ``(n_t, d)`` inputs or embeddings of the two domains.
        seed: seed of the folds and the forest.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    from drugshift.splits import cv_folds

    source, target = np.asarray(source, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if source.ndim != 2 or target.ndim != 2 or source.shape[1] != target.shape[1]:
        raise ValueError(f"domain_auroc needs two matrices of the same width, got {source.shape} and {target.shape}")
    if min(len(source), len(target)) < n_folds:
        raise ValueError(f"domain_auroc needs at least {n_folds} rows per domain, got {len(source)} and {len(target)}")
    X = np.vstack([source, target])
    y = np.r_[np.ones(len(source)), np.zeros(len(target))]
    clf = RandomForestClassifier(n_estimators=n_trees, min_samples_leaf=3, random_state=seed, n_jobs=1)
    score = cross_val_predict(clf, X, y, cv=cv_folds(y, n_folds, seed), method="predict_proba")[:, 1]
    return float(roc_auc_score(y, score))
