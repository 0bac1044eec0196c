"""Two-dimensional maps of cell lines and patients together (CODE-AE paper, Fig. 2a–c).

CODE-AE's claim is that its shared embedding aligns cell lines (source domain) and patients
(target domain): on the original expression the two form separate clouds, on CODE-AE-ADV's
embedding they overlap. :func:`domain_map` places the stacked samples of both domains on one
t-SNE (or UMAP) map; :func:`embed_with_encoder` gives the representation of a pretrained encoder
to map. The figure is :func:`drugshift.plots.codeae_paper.domain_embedding`.

Typical use::

    from drugshift.models.codeae import CodeAE

    encoder = CodeAE.load("results/codeae/codeae_adv/pretrain/encoder")
    coords = domain_map(embed_with_encoder(encoder, cell_lines), embed_with_encoder(encoder, patients),
                        tissue=tissue)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["DOMAINS", "domain_map", "embed_with_encoder"]

#: The ``domain`` values of :func:`domain_map`: source rows, then target rows.
DOMAINS = ("cell line", "patient")
METHODS = ("tsne", "umap")


def _check_matrix(x: pd.DataFrame, what: str) -> None:
    if not isinstance(x, pd.DataFrame):
        raise ValueError(f"{what} must be a DataFrame (samples × features), got {type(x).__name__}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{what} is empty ({x.shape[0]} samples × {x.shape[1]} features)")
    non_numeric = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
    if non_numeric:
        raise ValueError(f"{what} has non-numeric column(s) {non_numeric[:5]}; drop them (e.g. 'cohort') first")
    values = x.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{what} has {int((~np.isfinite(values)).sum())} missing or non-finite value(s)")


def _stack(source: pd.DataFrame, target: pd.DataFrame) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """Source rows then target rows (target columns matched to the source's by name)."""
    _check_matrix(source, "source")
    _check_matrix(target, "target")
    missing = source.columns.difference(target.columns)
    extra = target.columns.difference(source.columns)
    if len(missing) or len(extra):
        raise ValueError(f"source and target must have the same features; target lacks {len(missing)} "
                         f"(e.g. {list(missing[:3])}) and has {len(extra)} extra (e.g. {list(extra[:3])})")
    index = source.index.append(target.index)
    if index.duplicated().any():
        raise ValueError(f"sample ids must be unique across both domains; {index[index.duplicated()][0]!r} "
                         "appears twice")
    X = np.vstack([source.to_numpy(dtype=np.float64), target[source.columns].to_numpy(dtype=np.float64)])
    domain = np.repeat(np.array(DOMAINS, dtype=object), [len(source), len(target)])
    return X, index, domain


def _reduce(X: np.ndarray, n_pca: int | None, seed: int) -> np.ndarray:
    """The first ``n_pca`` principal components when ``X`` is wider (as usual before t-SNE)."""
    if n_pca is None or X.shape[1] <= n_pca or X.shape[0] <= n_pca:
        return X
    from sklearn.decomposition import PCA

    return PCA(n_components=n_pca, random_state=seed).fit_transform(X)


def _tsne(X: np.ndarray, seed: int, perplexity: float) -> np.ndarray:
    from sklearn.manifold import TSNE

    # t-SNE needs perplexity < n_samples; a third of the samples keeps every neighbourhood sensible.
    perplexity = float(max(1.0, min(perplexity, (len(X) - 1) / 3)))
    return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(X)


def _umap(X: np.ndarray, seed: int) -> np.ndarray:
    # scanpy's UMAP over drugshift's one kNN graph, as for the cell maps.
    import anndata as ad

    from drugshift.graph import umap_coordinates

    samples = ad.AnnData(np.zeros((len(X), 0), dtype=np.float32), obsm={"X_rep": np.asarray(X, dtype=np.float32)})
    return umap_coordinates(samples, use_rep="X_rep", seed=seed)


def domain_map(source: pd.DataFrame, target: pd.DataFrame, seed: int = 42, method: str = "tsne",
               perplexity: float = 30.0, *, n_pca: int | None = 50,
               tissue: pd.Series | None = None) -> pd.DataFrame:
    """A 2-D map of the cell lines (``source``) and patients (``target``) stacked together.

    The samples are reduced to their first ``n_pca`` principal components (when there are more
    features), then mapped with ``sklearn.manifold.TSNE`` (``init="pca"``; ``perplexity`` clipped
    to a third of the samples for small inputs) or, with ``method="umap"``, scanpy's UMAP on
    the kNN graph of :func:`drugshift.graph.umap_coordinates`. The same inputs and ``seed``
    give the same map.

    Args:
        source, target: samples × features (genes, or an embedding such as
            :func:`embed_with_encoder`'s) with the same feature names; numeric and finite. Sample ids
            must be unique across both.
        seed: ``random_state`` of the PCA and the map.
        method: ``tsne`` or ``umap``.
        perplexity: t-SNE perplexity.
        n_pca: principal components before the map; ``None`` maps the features themselves.
        tissue: optional tissue / tumour type per sample id (e.g. DepMap ``primary_disease`` for
            cell lines and TCGA ``_primary_disease`` for patients); added as column ``tissue``
            (NaN for samples it does not list).

    Returns:
        DataFrame indexed by sample id, source rows first: ``x``, ``y`` and ``domain``
        (``"cell line"`` / ``"patient"``), plus ``tissue`` when given.

    Raises:
        ValueError: an unknown method, empty or non-numeric inputs, missing values, different
            features or duplicated sample ids.
    """
    if method not in METHODS:
        raise ValueError(f"unknown map method {method!r}; use one of {', '.join(METHODS)}")
    X, index, domain = _stack(source, target)
    if len(X) < 3:
        raise ValueError(f"a 2-D map needs at least 3 samples, got {len(X)}")
    X = _reduce(X, n_pca, seed)
    xy = _tsne(X, seed, perplexity) if method == "tsne" else _umap(X, seed)
    coords = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "domain": domain}, index=index)
    if tissue is not None:
        coords["tissue"] = pd.Series(tissue).reindex(index).to_numpy()
    return coords


def embed_with_encoder(encoder, X: pd.DataFrame) -> pd.DataFrame:
    """The shared embedding of ``X`` (samples × genes) by a pretrained encoder.

    ``encoder`` is a :class:`drugshift.models.codeae.CodeAE` (e.g.
    ``CodeAE.load("results/codeae/codeae_adv/pretrain/encoder")``): its :meth:`~CodeAE.embed`
    matches the genes by name and runs the encoder fine-tuned per drug (CODE-AE's shared encoder,
    or a baseline's encoder) in evaluation mode. ``X`` must be on the scale the encoder was
    pretrained on (the workflow's ``cell_lines.parquet`` / ``patients.parquet``, without the
    ``cohort`` column).

    Returns:
        DataFrame indexed like ``X``, columns ``latent_0`` … ``latent_{k-1}``.
    """
    _check_matrix(X, "X")
    Z = np.asarray(encoder.embed(X), dtype=np.float64)
    return pd.DataFrame(Z, index=X.index, columns=[f"latent_{i}" for i in range(Z.shape[1])])
