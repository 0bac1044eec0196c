"""Per-cell predictions in the shape every downstream step reads (DESIGN.md conventions)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from drugshift.evaluate import classification_metrics, predicted_labels

#: Probability at and above which a cell is labelled sensitive (paper, step 5).
THRESHOLD = 0.5


def scdeal_predictions(model, cells: ad.AnnData) -> ad.AnnData:
    """:func:`annotate_predictions` of a trained :class:`~drugshift.models.scdeal.ScDEAL` on
    ``cells`` (matched to the model's genes by name)."""
    return annotate_predictions(cells, model.predict(cells), model.predict_no_transfer(cells), model.embed(cells))


def annotate_predictions(cells: ad.AnnData, prob_transfer: np.ndarray, prob_no_transfer: np.ndarray,
                         embedding: np.ndarray) -> ad.AnnData:
    """A copy of ``cells`` with scDEAL's predictions.

    ``.obs['sens_prob']`` (0–1, probability of sensitive, from ``P(Es(x))``),
    ``.obs['sens_label']`` (1 when ``sens_prob`` ≥ 0.5), the no-transfer baseline
    ``P(Eb(x))`` as ``.obs['sens_prob_no_transfer']`` / ``sens_label_no_transfer``, and the
    single-cell embedding ``Es(x)`` in ``.obsm['X_scdeal']``. The ground truth stays in
    ``.obs['response']``.
    """
    out = cells.copy()
    out.obs["sens_prob"] = prob_transfer.astype(np.float32)
    out.obs["sens_label"] = predicted_labels(prob_transfer, THRESHOLD).astype(np.int8)
    out.obs["sens_prob_no_transfer"] = prob_no_transfer.astype(np.float32)
    out.obs["sens_label_no_transfer"] = predicted_labels(prob_no_transfer, THRESHOLD).astype(np.int8)
    out.obsm["X_scdeal"] = embedding.astype(np.float32)
    return out


def transfer_metrics(predictions: ad.AnnData) -> dict:
    """Metrics of transfer and of the bulk model applied without transfer, on labelled cells only.

    Returns ``{"transfer": {...}, "no_transfer": {...}, "gain": {metric: transfer − no_transfer}}``.
    """
    obs = predictions.obs
    if "response" not in obs:
        raise ValueError("predictions have no ground truth column 'response'")
    labelled = obs["response"].notna().to_numpy()
    if labelled.sum() == 0:
        raise ValueError("no cell has a ground-truth label")
    y = obs.loc[labelled, "response"].astype(int).to_numpy()
    result = {
        "transfer": classification_metrics(y, obs.loc[labelled, "sens_prob"].to_numpy(), THRESHOLD),
        "no_transfer": classification_metrics(y, obs.loc[labelled, "sens_prob_no_transfer"].to_numpy(), THRESHOLD),
    }
    result["gain"] = {k: float(result["transfer"][k]) - float(result["no_transfer"][k])
                      for k in result["transfer"] if isinstance(result["transfer"][k], float)}
    return result


def predictions_table(predictions: ad.AnnData) -> pd.DataFrame:
    """The prediction columns of ``.obs`` as a plain table (for TSV export)."""
    cols = [c for c in ("response", "sens_prob", "sens_label", "sens_prob_no_transfer", "sens_label_no_transfer")
            if c in predictions.obs]
    return predictions.obs[cols].copy()
