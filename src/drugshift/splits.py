"""Every split of samples drugshift makes: hold-out sets, stratified train/validation/test
splits, cross-validation folds and subsamples. One rule per kind of split, used everywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["cv_folds", "fold_train_val_test", "holdout", "stratified_subsample", "train_val_test"]


def holdout(n: int, fraction: float, seed: int | np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random ``(train, held_out)`` split of ``range(n)``, both sorted.

    The held-out part has ``round(fraction · n)`` rows, at least 2 (a validation value needs a
    spread) and at most ``n − 2`` (training needs two rows for BatchNorm).

    Args:
        n: number of rows (at least 4).
        fraction: share held out, in (0, 1).
        seed: a seed or a NumPy generator (drawn from once).
    """
    if n < 4:
        raise ValueError(f"a hold-out split needs at least 4 rows, got {n}")
    if not 0 < fraction < 1:
        raise ValueError(f"hold-out fraction must be in (0, 1), got {fraction}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_val = min(max(2, int(round(fraction * n))), n - 2)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def train_val_test(y, seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 64/16/20 train/validation/test split (scDEAL paper, "scDEAL workflow design":
    ``train_test_split`` twice: 20 % test, then 20 % of the rest validation).

    Args:
        y: ``(n,)`` binary labels.
        seed: ``random_state`` of both splits.

    Returns:
        ``(train, val, test)`` sorted integer index arrays into ``y``.
    """
    from sklearn.model_selection import train_test_split

    y = np.asarray(y).ravel()
    idx = np.arange(y.size)
    try:
        rest, test = train_test_split(idx, test_size=0.2, stratify=y, random_state=seed)
        train, val = train_test_split(rest, test_size=0.2, stratify=y[rest], random_state=seed)
    except ValueError as e:
        counts = dict(zip(*np.unique(y, return_counts=True)))
        raise ValueError(
            f"cannot split {y.size} samples 64/16/20 stratified by label (class counts {counts}): {e}"
        ) from e
    return np.sort(train), np.sort(val), np.sort(test)


def cv_folds(y, n_folds: int = 5, seed: int = 42) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified ``n_folds``-fold split (sklearn ``StratifiedKFold``, shuffled with ``seed``):
    ``[(train_idx, val_idx), …]``, sorted. Every method of a benchmark uses the same folds."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y).ravel()
    counts = np.bincount(y.astype(int), minlength=2)
    if counts.min() < n_folds:
        raise ValueError(f"need at least {n_folds} samples of each class for {n_folds}-fold CV; "
                         f"got {counts[0]} resistant and {counts[1]} sensitive")
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(np.sort(tr), np.sort(va)) for tr, va in skf.split(np.zeros(len(y)), y)]


def fold_train_val_test(y, fold: int, n_folds: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Member ``fold`` of a cross-validated ensemble: the stratified ``n_folds``-fold split of
    :func:`cv_folds` (shuffled with ``seed``, the same for every member) with fold ``fold`` as
    validation, fold ``fold + 1`` (cyclically) as test and the rest as training.

    Over ``n_folds`` members every sample validates once and is tested once, so the members'
    test predictions together score every sample out of fold. At ``n_folds = 5`` the sizes are
    60/20/20, close to :func:`train_val_test`'s 64/16/20.

    Returns:
        ``(train, val, test)`` sorted integer index arrays into ``y``.
    """
    if n_folds < 3:
        raise ValueError(f"a train/validation/test split over folds needs at least 3 folds, got {n_folds}")
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold must be in 0..{n_folds - 1}, got {fold}")
    folds = [held_out for _, held_out in cv_folds(y, n_folds, seed)]
    val, test = folds[fold], folds[(fold + 1) % n_folds]
    train = np.setdiff1d(np.arange(np.asarray(y).size), np.concatenate([val, test]))
    return train, val, test


def stratified_subsample(labels, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified subsample without replacement (``sklearn.utils.resample``
    with ``stratify``, as scDEAL's robustness analysis); unlabelled entries (NaN) form their
    own stratum so cells without ground truth are subsampled too.

    Args:
        labels: ``(n,)`` ground-truth labels (NaN allowed).
        fraction: kept fraction in (0, 1].
        seed: random state.
    """
    from sklearn.utils import resample

    if not 0 < fraction <= 1:
        raise ValueError(f"subsample fraction must be in (0, 1], got {fraction}")
    strata = pd.Series(labels).astype("object").where(pd.Series(labels).notna(), "unlabelled").astype(str)
    n = len(strata)
    k = max(2, int(round(fraction * n)))
    if k >= n:
        return np.arange(n)
    idx = resample(np.arange(n), replace=False, n_samples=k, stratify=strata.to_numpy(), random_state=seed)
    return np.sort(idx)
