"""Per-cell predictions in the shape every downstream step reads (DESIGN.md conventions)."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd

from drugshift.evaluate import classification_metrics, predicted_labels

#: Probability at and above which a cell is labelled sensitive (paper, step 5).
THRESHOLD = 0.5


def scdeal_probabilities(model, x) -> pd.DataFrame:
    """A scDEAL model's (or ensemble's) predictions of ``x`` (cells × the model's genes) as
    columns: ``sens_prob``; for an ensemble also ``sens_prob_sd`` (the members' spread) and
    ``sens_uncertain`` (spread above ``params.uncertain_sd``); ``sens_label`` (cut at the model's
    :attr:`threshold`, the rule of ``params.label_threshold``). The frame's index is 0..n-1.
    """
    if hasattr(model, "predict_members"):
        from drugshift.models.scdeal.diagnostics import member_spread

        members = model.predict_members(x)
        prob, sd = members.mean(axis=1), member_spread(members)
        out = pd.DataFrame({"sens_prob": prob, "sens_prob_sd": sd,
                            "sens_uncertain": (sd > model.params.uncertain_sd).astype(np.int8)})
    else:
        members, prob = None, model.predict(x)
        out = pd.DataFrame({"sens_prob": prob})
    out["sens_label"] = predicted_labels(prob, model.threshold).astype(np.int8)
    out.attrs["members"] = members
    return out


def scdeal_predictions(model, cells: ad.AnnData) -> ad.AnnData:
    """:func:`annotate_predictions` of a trained :class:`~drugshift.models.scdeal.ScDEAL` or
    :class:`~drugshift.models.scdeal.ScDEALEnsemble` on ``cells`` (matched to the model's genes
    by name)."""
    return annotate_predictions(cells, scdeal_probabilities(model, cells), model.predict_no_transfer(cells),
                                model.embed(cells), label_rule(model), getattr(model, "diagnostics", None))


def label_rule(model) -> dict:
    """How ``sens_label`` was cut: ``{"rule", "threshold", "thresholds"}`` (every rule's cut)."""
    return {"rule": model.params.label_threshold, "threshold": float(model.threshold),
            "thresholds": {k: float(v) for k, v in (model.thresholds or {"paper": THRESHOLD}).items()}}


def annotate_predictions(cells: ad.AnnData, prob_transfer, prob_no_transfer: np.ndarray,
                         embedding: np.ndarray, rule: dict | None = None,
                         diagnostics: dict | None = None) -> ad.AnnData:
    """A copy of ``cells`` with scDEAL's predictions.

    ``.obs['sens_prob']`` (0–1, probability of sensitive, from ``P(Es(x))``; an ensemble's mean),
    ``.obs['sens_label']`` (1 when ``sens_prob`` ≥ the label threshold, ``.uns['sens_label_rule']``),
    for an ensemble ``.obs['sens_prob_sd']`` / ``sens_uncertain`` and the members'
    probabilities in ``.obsm['sens_prob_members']``, the no-transfer baseline ``P(Eb(x))`` as
    ``.obs['sens_prob_no_transfer']`` / ``sens_label_no_transfer`` (cut at 0.5), and the
    single-cell embedding ``Es(x)`` in ``.obsm['X_scdeal']``. The ground truth stays in
    ``.obs['response']``. The model's transfer diagnostics, when given, go to
    ``.uns['transfer_diagnostics']`` as a JSON string (:func:`transfer_diagnostics_of`).

    Args:
        prob_transfer: the transferred probabilities, or the frame of :func:`scdeal_probabilities`.
    """
    out = cells.copy()
    if isinstance(prob_transfer, pd.DataFrame):
        frame = prob_transfer
    else:
        prob = np.asarray(prob_transfer, dtype=float)
        frame = pd.DataFrame({"sens_prob": prob, "sens_label": predicted_labels(prob, THRESHOLD).astype(np.int8)})
    for column in frame.columns:
        values = frame[column].to_numpy()
        out.obs[column] = values.astype(np.float32) if values.dtype.kind == "f" else values
    if frame.attrs.get("members") is not None:
        out.obsm["sens_prob_members"] = np.asarray(frame.attrs["members"], dtype=np.float32)
    out.obs["sens_prob_no_transfer"] = prob_no_transfer.astype(np.float32)
    out.obs["sens_label_no_transfer"] = predicted_labels(prob_no_transfer, THRESHOLD).astype(np.int8)
    out.obsm["X_scdeal"] = embedding.astype(np.float32)
    out.uns["sens_label_rule"] = rule or {"rule": "paper", "threshold": THRESHOLD, "thresholds": {"paper": THRESHOLD}}
    if diagnostics:
        out.uns["transfer_diagnostics"] = json.dumps(diagnostics)
    return out


def transfer_diagnostics_of(predictions: ad.AnnData) -> dict | None:
    """The transfer diagnostics :func:`annotate_predictions` stored, or ``None``."""
    text = predictions.uns.get("transfer_diagnostics")
    return None if text is None else json.loads(str(text))


def transfer_metrics(predictions: ad.AnnData) -> dict:
    """Metrics of transfer and of the bulk model applied without transfer, on labelled cells only.

    Returns ``{"transfer": {...}, "no_transfer": {...}, "gain": {metric: transfer − no_transfer},
    "label_rule": name, "f1_by_rule": {rule: F1}}``, for an ensemble ``"members": {metric: [one
    value per member]}`` and, with diagnostics, the ``"verdict"``; the transfer's labels are cut by the
    predictions' label rule, the no-transfer ones at 0.5, and ``f1_by_rule`` reports F1 under
    every label-free rule the model offers.
    """
    obs = predictions.obs
    if "response" not in obs:
        raise ValueError("predictions have no ground truth column 'response'")
    labelled = obs["response"].notna().to_numpy()
    if labelled.sum() == 0:
        raise ValueError("no cell has a ground-truth label")
    y = obs.loc[labelled, "response"].astype(int).to_numpy()
    rule = dict(predictions.uns.get("sens_label_rule") or {})
    prob = obs.loc[labelled, "sens_prob"].to_numpy()
    result = {
        "transfer": classification_metrics(y, prob, float(rule.get("threshold", THRESHOLD))),
        "no_transfer": classification_metrics(y, obs.loc[labelled, "sens_prob_no_transfer"].to_numpy(), THRESHOLD),
    }
    result["gain"] = {k: float(result["transfer"][k]) - float(result["no_transfer"][k])
                      for k in result["transfer"] if isinstance(result["transfer"][k], float)}
    thresholds = dict(rule.get("thresholds") or {"paper": THRESHOLD})
    result["label_rule"] = rule.get("rule", "paper")
    result["f1_by_rule"] = {name: float(classification_metrics(y, prob, float(cut))["f1"])
                            for name, cut in thresholds.items()}
    if "sens_prob_members" in predictions.obsm:  # each member on its own, beside the ensemble
        members = np.asarray(predictions.obsm["sens_prob_members"])[labelled]
        scores = [classification_metrics(y, members[:, i], float(rule.get("threshold", THRESHOLD)))
                  for i in range(members.shape[1])]
        result["members"] = {k: [float(m[k]) for m in scores] for k in ("auroc", "f1", "ap")}
    diagnostics = transfer_diagnostics_of(predictions)
    if diagnostics is not None:
        result["verdict"] = diagnostics["verdict"]
    return result


def predictions_table(predictions: ad.AnnData) -> pd.DataFrame:
    """The prediction columns of ``.obs`` as a plain table (for TSV export)."""
    cols = [c for c in ("response", "sens_prob", "sens_prob_sd", "sens_uncertain", "sens_label", "sens_prob_no_transfer",
                        "sens_label_no_transfer") if c in predictions.obs]
    return predictions.obs[cols].copy()
