"""Apply a saved model to your own data: load any model folder, align genes, preprocess, predict.

The library side of ``drugshift predict`` (:mod:`drugshift.cli`), usable from a notebook::

    import drugshift
    model = drugshift.load_model("results/codeae/codeae_adv/demotinib/model")
    result = drugshift.predict_samples(model, frame_or_adata, values="normalised")
    result.predictions            # DataFrame: sens_prob, sens_label (and sens_prob_sd)

Gene alignment (both kinds): the input's genes are matched to the model's by name; genes the
model needs but the input lacks are *filled*, and :func:`predict_samples` refuses an input that
has fewer than ``min_overlap`` of the model's genes. The fill rule is the model's own neutral value:

* scDEAL: cells are scaled per gene with the scaler fitted on the training cells (card
  ``preprocessing.cells_scaler``; min-max to [0, 1], or a z-score where ``preprocessing.scaler``
  says ``zscore``); a missing gene is 0 after that scaling, i.e. the gene's minimum in the
  training cells (a gene not detected), or its mean.
* CODE-AE: inputs are per-gene z-scores (card ``standardisation``); a missing gene is 0 after
  z-scoring, i.e. the mean of the reference domain.

``values`` says what the input holds, so that only the missing steps are applied:

========== =================================================== =================================
values     scDEAL                                              CODE-AE
========== =================================================== =================================
counts     normalize_total (10 000) + log1p + card's scaler    log2(CPM + 1), per-gene z-score
tpm        log1p + card's scaler                               log2(TPM + 1), per-gene z-score
log        card's scaler (the training cells')                 per-gene z-score within the input
normalised nothing: already the model's input scale            nothing: already z-scored
========== =================================================== =================================

CODE-AE's per-gene z-score of a new cohort is taken within the input itself, as the workflow
standardises each cohort (:func:`drugshift.features.standardise_domains`); ``domain=`` instead
applies the stored mean and SD of one training domain.

scDEAL is transductive (:class:`~drugshift.models.scdeal.ScDEAL`): a saved model applies to the
cells it was trained with and cells of the same dataset (:func:`predict_samples`). For a new
dataset, :func:`retrain_samples` fits the transfer (sc DAE, joint training) on the new cells from
the saved bulk stage, with the model's per-gene scaling fitted on the new cells, and predicts
them with the retrained model. The two are never mixed: the caller chooses.

Large single-cell inputs stay sparse until the model's genes are selected, and are densified
in blocks of :data:`BLOCK_ROWS` cells.
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from drugshift.cohorts import VALUES, to_log_scale
from drugshift.errors import InputError
from drugshift.io import TABLE_SEPARATORS
from drugshift.preprocess import minmax_apply, scaler_fit
from drugshift.evaluate import classification_metrics
from drugshift.predict import scdeal_probabilities

__all__ = ["VALUES", "Prediction", "load_model", "model_kind", "predict_file", "predict_samples", "read_input",
           "read_labels", "retrain_samples", "write_predictions"]

#: ``normalize_total`` target of the workflow's single-cell preprocessing (QCParams.target_sum).
SC_TARGET_SUM = 1e4
#: Cells densified at a time when a sparse input is aligned to a scDEAL model's genes.
BLOCK_ROWS = 10_000


def model_kind(directory: str | Path) -> str:
    """The ``kind`` of a model folder, read from its card (``scdeal``, ``codeae-drug``, …)."""
    from drugshift.checkpoint import CARD

    directory = Path(directory)
    card_path = directory / CARD
    if not directory.is_dir():
        raise InputError(directory, "no such model folder")
    if not card_path.is_file():
        raise InputError(directory, f"not a drugshift model folder (no {CARD})")
    try:
        card = json.loads(card_path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(card_path, f"unreadable model card ({e})") from e
    return str(card.get("kind"))


def load_model(directory: str | Path, device: str = "cpu"):
    """The model object of a folder, chosen by its card's kind: :class:`~drugshift.models.scdeal.ScDEAL`
    (``scdeal``), :class:`~drugshift.models.scdeal.ScDEALEnsemble` (``scdeal-ensemble``),
    :class:`~drugshift.models.codeae.DrugResponseModel` (``codeae-drug``) or
    :class:`~drugshift.models.codeae.CodeAE` (``codeae-encoder``, which cannot predict)."""
    kind = model_kind(directory)
    if kind == "scdeal":
        from drugshift.models.scdeal import ScDEAL

        return ScDEAL.load(directory, device=device)
    if kind == "scdeal-ensemble":
        from drugshift.models.scdeal import ScDEALEnsemble

        return ScDEALEnsemble.load(directory, device=device)
    if kind == "codeae-drug":
        from drugshift.models.codeae import DrugResponseModel

        return DrugResponseModel.load(directory, device=device)
    if kind == "codeae-encoder":
        from drugshift.models.codeae import CodeAE

        return CodeAE.load(directory, device=device)
    raise InputError(directory, f"unknown model kind {kind!r}")


def _is_scdeal(model) -> bool:
    from drugshift.models.scdeal import ScDEAL, ScDEALEnsemble

    return isinstance(model, (ScDEAL, ScDEALEnsemble))


# ------------------------------------------------------------------ reading


def read_input(path: str | Path, *, genes_in_rows: bool = False):
    """An input file as AnnData (``.h5ad``, a 10x mtx folder or ``matrix.mtx[.gz]``) or as a
    DataFrame samples × genes (``.csv``, ``.tsv``, ``.txt``, ``.parquet``, optionally ``.gz``;
    first column = sample ids; ``genes_in_rows`` for a genes × samples table). Non-numeric
    columns (annotations) are dropped and listed in ``frame.attrs['ignored_columns']``."""
    from drugshift.io.sc_formats import read_h5ad, read_mtx_10x

    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    name = path.name.lower().removesuffix(".gz")
    if path.is_dir() or name.endswith("matrix.mtx"):
        return read_mtx_10x(path)
    suffix = Path(name).suffix
    if suffix == ".h5ad":
        return read_h5ad(path)
    if suffix not in TABLE_SEPARATORS:
        raise InputError(path, f"unknown input format {suffix!r} (use .h5ad, .csv, .tsv, .txt, .parquet, or a 10x "
                               "mtx folder)")
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
            if isinstance(frame.index, pd.RangeIndex) and frame.shape[1] and not pd.api.types.is_numeric_dtype(
                    frame.iloc[:, 0]):
                frame = frame.set_index(frame.columns[0])
        else:
            frame = pd.read_csv(path, sep=TABLE_SEPARATORS[suffix], index_col=0, float_precision="round_trip")
    except Exception as e:  # pandas / pyarrow parse errors
        raise InputError(path, f"cannot read as a table: {e}") from e
    if genes_in_rows:
        frame = frame.T
    frame.index = frame.index.astype(str)
    frame.columns = frame.columns.astype(str)
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if len(non_numeric) == frame.shape[1]:
        raise InputError(path, "no numeric column; expected samples × genes with sample ids in the first column")
    if non_numeric:  # annotation columns (e.g. the workflow's `cohort`): not genes
        frame = frame.drop(columns=non_numeric)
        frame.attrs["ignored_columns"] = non_numeric
    if frame.index.has_duplicates:
        raise InputError(path, "duplicated sample ids in the first column")
    return frame


def read_labels(path: str | Path, column: str) -> pd.Series:
    """Ground truth 0/1 per sample from a table (first column = sample ids)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    suffix = Path(path.name.lower().removesuffix(".gz")).suffix
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
            if isinstance(frame.index, pd.RangeIndex):
                frame = frame.set_index(frame.columns[0])
        else:
            frame = pd.read_csv(path, sep=TABLE_SEPARATORS.get(suffix, "\t"), index_col=0)
    except Exception as e:
        raise InputError(path, f"cannot read as a table: {e}") from e
    if column not in frame.columns:
        raise InputError(path, f"no column {column!r} (columns: {list(frame.columns)[:10]})")
    labels = frame[column]
    labels.index = labels.index.astype(str)
    return labels


# ------------------------------------------------------------------ alignment and preprocessing


@dataclass
class Prediction:
    """What :func:`predict_samples` returns: ``predictions`` (DataFrame indexed by sample:
    ``sens_prob``, ``sens_label``, and ``sens_prob_sd`` for an ensemble), the genes matched
    (``n_matched`` of the model's ``n_model_genes``; ``overlap`` their fraction), the rule the
    missing genes were filled by, and the model's input matrix that was predicted."""

    predictions: pd.DataFrame
    n_matched: int
    n_model_genes: int
    fill_rule: str
    values: str
    matrix: pd.DataFrame = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def overlap(self) -> float:
        return self.n_matched / self.n_model_genes if self.n_model_genes else 0.0

    def summary(self) -> str:
        return (f"{self.n_matched} of the model's {self.n_model_genes} genes in the input "
                f"({100 * self.overlap:.1f}%); missing genes filled with {self.fill_rule}")


def _frame_of(data) -> pd.DataFrame:
    if hasattr(data, "var_names") and hasattr(data, "obs"):
        X = data.X.toarray() if sp.issparse(data.X) else np.asarray(data.X)
        return pd.DataFrame(X, index=data.obs_names.astype(str), columns=data.var_names.astype(str))
    if isinstance(data, pd.DataFrame):
        out = data.copy()
        out.columns = out.columns.astype(str)
        return out
    raise TypeError(f"expected an AnnData or a DataFrame (samples × genes), got {type(data).__name__}")


def _expression(data) -> tuple[pd.Index, pd.Index, np.ndarray | sp.spmatrix]:
    """Sample names, gene names and the matrix of an AnnData (sparse kept sparse) or a DataFrame."""
    if hasattr(data, "var_names") and hasattr(data, "obs"):
        X = data.X.tocsr() if sp.issparse(data.X) else np.asarray(data.X)
        return pd.Index(data.obs_names.astype(str)), pd.Index(data.var_names.astype(str)), X
    if isinstance(data, pd.DataFrame):
        return pd.Index(data.index.astype(str)), pd.Index(data.columns.astype(str)), data.to_numpy()
    raise TypeError(f"expected an AnnData or a DataFrame (samples × genes), got {type(data).__name__}")


def _scdeal_log_values(X, gene_names: pd.Index, genes: list[str], values: str) -> np.ndarray:
    """The model's ``genes`` of ``X`` on the log-normalised scale (``values`` says which steps
    are left: counts -> normalize_total + log1p, tpm -> log1p), float32 ``(cells, genes)`` with
    NaN for genes the input lacks. Library sizes come from every gene of the input, as the
    workflow's normalisation does; a sparse ``X`` is densified :data:`BLOCK_ROWS` cells at a time."""
    position = gene_names.get_indexer(genes)
    found = position >= 0
    columns = position[found]
    out = np.full((X.shape[0], len(genes)), np.nan, dtype=np.float32)
    totals = None
    if values == "counts":
        totals = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
        totals[totals == 0] = 1.0
    for start in range(0, X.shape[0], BLOCK_ROWS):
        rows = slice(start, start + BLOCK_ROWS)
        block = X[rows][:, columns]
        block = (block.toarray() if sp.issparse(block) else np.asarray(block)).astype(np.float64)
        if values == "counts":
            block = np.log1p(block / totals[rows, None] * SC_TARGET_SUM)
        elif values == "tpm":
            block = np.log1p(block)
        out[rows][:, found] = block  # fancy assignment into a view of the row block
    return out


def _scdeal_matrix(model, data, values: str) -> tuple[pd.Index, np.ndarray]:
    """Sample names and the model's input: its genes in order, on its training cells' scale
    (the card's per-gene scaler unless ``values`` is ``normalised``), missing genes 0."""
    names, gene_names, X = _expression(data)
    x = _scdeal_log_values(X, gene_names, list(model.genes), values)
    if values != "normalised":
        scaler = (model.preprocessing or {}).get("cells_scaler")
        if not scaler:
            raise ValueError("the model card records no cells scaler; give inputs on the model's scale "
                             "(--values normalised)")
        x = minmax_apply(x, np.asarray(scaler["min"], np.float64), np.asarray(scaler["max"], np.float64))
    return names, np.nan_to_num(x, nan=0.0)


def _codeae_matrix(model, frame: pd.DataFrame, values: str, domain: str | None) -> pd.DataFrame:
    # The workflow's own rule for a cohort: counts -> log2(CPM + 1), TPM -> log2(TPM + 1).
    x = to_log_scale(frame, values).astype(np.float64)
    x = x.reindex(columns=model.genes)
    if domain is not None:
        if domain not in model.standardisation:
            raise ValueError(f"no standardisation for domain {domain!r}; the model has {sorted(model.standardisation)}")
        mean, sd = model.standardisation[domain]
        x = (x - mean) / sd
    elif values != "normalised":
        sd = x.std(axis=0, ddof=0).replace(0, 1.0).fillna(1.0)
        x = (x - x.mean(axis=0)) / sd
    return x.fillna(0.0)


def _check_overlap(model, data, min_overlap: float, source, model_dir) -> int:
    """The number of the model's genes in ``data``; refuses duplicated gene names and an overlap
    below ``min_overlap`` (with a hint when the table looks transposed)."""
    _, gene_names, _ = _expression(data)
    if gene_names.has_duplicates:
        dup = gene_names[gene_names.duplicated()].unique().tolist()
        raise ValueError(f"{source or 'the input'}: duplicated gene names, e.g. {dup[:3]}")
    genes = list(model.genes)
    n_matched = int(gene_names.isin(genes).sum())
    overlap = n_matched / len(genes)
    if overlap < min_overlap:
        hint = ""
        if isinstance(data, pd.DataFrame) and pd.Index(data.index.astype(str)).isin(genes).mean() > overlap:
            hint = "; its row names match more of the model's genes: is it genes × samples (--genes-in-rows)?"
        raise ValueError(f"model {model_dir or '(in memory)'}: input {source or '(in memory)'} has {n_matched} of the "
                         f"model's {len(genes)} genes ({100 * overlap:.1f}%), below the minimum overlap "
                         f"{100 * min_overlap:.0f}%{hint}")
    return n_matched


def _check_predictable(model, values: str, model_dir) -> None:
    if values not in VALUES:
        raise ValueError(f"values must be one of {', '.join(VALUES)}, got {values!r}")
    if not hasattr(model, "predict") or getattr(model, "genes", None) is None:
        raise ValueError(f"{model_dir or 'the model'}: this model cannot predict (a pretrained encoder? give a drug "
                         "model folder)")


SCDEAL_FILL = {"minmax": "0 after the model's per-gene min-max scaling (the gene's minimum in the training cells)",
               "zscore": "0 after the model's per-gene z-scoring (the gene's mean in the training cells)"}


def predict_samples(model, data, *, values: str = "normalised", min_overlap: float = 0.5, domain: str | None = None,
                    source: str | Path | None = None, model_dir: str | Path | None = None) -> Prediction:
    """Align ``data`` (AnnData or DataFrame, samples × genes) to ``model``'s genes, apply the
    preprocessing ``values`` leaves to do (module docstring), and predict.

    A scDEAL model predicts with its saved transfer (cells of its own dataset); see
    :func:`retrain_samples` for new datasets.

    Raises:
        ValueError: fewer than ``min_overlap`` of the model's genes in the input (the message
            names the model folder, the input and the overlap), or an unknown ``values``.
    """
    _check_predictable(model, values, model_dir)
    if domain is not None and _is_scdeal(model):
        raise ValueError(f"{model_dir or 'the model'}: a domain's standardisation applies to CODE-AE models only")
    n_matched = _check_overlap(model, data, min_overlap, source, model_dir)
    genes = list(model.genes)
    if _is_scdeal(model):
        names, x = _scdeal_matrix(model, data, values)
        out = scdeal_probabilities(model, x).set_axis(names)
        matrix, fill = pd.DataFrame(x, index=names, columns=genes), SCDEAL_FILL[_scaler(model)]
    else:
        matrix = _codeae_matrix(model, _frame_of(data), values, domain)
        out = model.predict(pd.DataFrame(matrix.to_numpy(np.float32), index=matrix.index, columns=genes))
        out = out[["sens_prob", "sens_prob_sd", "sens_label"]]
        fill = "0 after per-gene z-scoring (the reference mean)"
    out.index.name = "sample"
    return Prediction(out, n_matched, len(genes), fill, values, matrix, _scale_notes(model, matrix, values))


def retrain_samples(model, data, *, values: str = "normalised", min_overlap: float = 0.5,
                    source: str | Path | None = None, model_dir: str | Path | None = None,
                    log=None) -> tuple[Prediction, object]:
    """scDEAL on a new dataset: fit the transfer on ``data``'s cells from ``model``'s saved bulk
    stage (:meth:`~drugshift.models.scdeal.ScDEAL.retrain`) and predict those cells.

    The cells are brought to the log-normalised scale (``values``), aligned to the model's
    genes (missing genes are 0 after scaling), and scaled per gene (the model's scaling) with a scaler
    fitted on these cells, as the workflow scales each dataset. No cell is filtered: QC is the
    caller's (the workflow's ``preprocess_sc`` does it).

    Returns:
        ``(prediction, retrained model)``; the retrained model can be saved and inspected.
    """
    import anndata as ad

    _check_predictable(model, values, model_dir)
    if not _is_scdeal(model):
        raise ValueError(f"{model_dir or 'the model'}: only scDEAL models are retrained on new cells (CODE-AE "
                         "models apply to new samples as they are)")
    n_matched = _check_overlap(model, data, min_overlap, source, model_dir)
    names, gene_names, X = _expression(data)
    genes = list(model.genes)
    x = _scdeal_log_values(X, gene_names, genes, values)
    with warnings.catch_warnings():  # all-NaN columns are the genes the input lacks
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = scaler_fit(x, _scaler(model))
    lo, hi = np.nan_to_num(lo), np.nan_to_num(hi)
    x = np.nan_to_num(minmax_apply(x, lo, hi), nan=0.0)
    cells = ad.AnnData(x, obs=pd.DataFrame(index=names), var=pd.DataFrame({"sc_min": lo, "sc_max": hi}, index=genes))
    cells.uns["values"] = values
    cells.uns["qc"] = {"normalised_input": values in ("log", "normalised"), "cells_filtered": False}
    retrained = model.retrain(cells, dataset=str(source) if source else None,
                              training_files={"cells": source} if source and Path(source).is_file() else None,
                              log=log)
    out = scdeal_probabilities(retrained, x).set_axis(names)
    out.index.name = "sample"
    fill = f"0 after per-gene {_scaler(model)} scaling fitted on the input cells"
    prediction = Prediction(out, n_matched, len(genes), fill, values, pd.DataFrame(x, index=names, columns=genes))
    return prediction, retrained


def _scaler(model) -> str:
    """The per-gene scaling of a scDEAL model's cells (``minmax`` for cards that do not say)."""
    return str((model.preprocessing or {}).get("scaler", "minmax"))


def _scale_notes(model, matrix: pd.DataFrame, values: str) -> list[str]:
    """Warnings when the model's input does not look like its training scale (a wrong ``values``)."""
    if values != "normalised" or matrix.empty:
        return []
    x = matrix.to_numpy()
    if _is_scdeal(model) and _scaler(model) == "minmax" and (np.nanmax(x) > 1.5 or np.nanmin(x) < -0.5):
        return [f"values range {np.nanmin(x):.3g}..{np.nanmax(x):.3g}, but the model's cells were min-max scaled to "
                "[0, 1]; is --values counts, tpm or log meant?"]
    if not _is_scdeal(model) and np.nanmin(x) >= 0 and np.nanmax(x) > 20:
        return [f"values range {np.nanmin(x):.3g}..{np.nanmax(x):.3g}, but the model reads per-gene z-scores; "
                "is --values counts, tpm or log meant?"]
    return []


def predict_file(model_dir: str | Path, input: str | Path, output: str | Path, *, values: str = "normalised",
                 min_overlap: float = 0.5, domain: str | None = None, genes_in_rows: bool = False,
                 labels: str | Path | None = None, label_column: str | None = None, retrain: bool = False,
                 save_model: str | Path | None = None, log=None) -> dict:
    """``drugshift predict`` as a function (the command and the workflow's ``predict_file``
    rule call it): load the model folder, read ``input``, predict (or, with ``retrain``,
    retrain a scDEAL transfer on the input cells and predict them), write ``output`` and, with
    ``label_column``, score the predictions against ``labels`` (a table) or, without
    ``labels``, against that column of an h5ad's ``.obs``.

    Progress and warnings go to ``log`` (a :class:`logging.Logger`; stderr lines by default).

    Returns:
        A summary: model, input, output, drug, values, retrained, samples, predicted sensitive,
        genes matched, overlap, fill rule, ignored input columns, notes, metrics (or ``None``).
    """
    say = log.info if log is not None else warn
    note = (lambda m: log.warning(f"warning: {m}")) if log is not None else (lambda m: warn(f"warning: {m}"))
    model = load_model(model_dir)
    data = read_input(input, genes_in_rows=genes_in_rows)
    if label_column and not labels and not (hasattr(data, "obs") and label_column in data.obs):
        raise InputError(input, f"no .obs column {label_column!r} to score against; give --labels FILE")
    ignored = list(getattr(data, "attrs", {}).get("ignored_columns", []))
    if ignored:
        note(f"{input}: ignored {len(ignored)} non-numeric column(s): {', '.join(map(str, ignored[:5]))}")
    if retrain:
        say(f"{input}: retraining the transfer of {model_dir} on {data.shape[0]} cells")
        result, retrained = retrain_samples(model, data, values=values, min_overlap=min_overlap, source=input,
                                            model_dir=model_dir, log=log)
        if save_model:
            retrained.save(save_model)
            say(f"wrote the retrained model {save_model}")
    else:
        result = predict_samples(model, data, values=values, min_overlap=min_overlap, domain=domain, source=input,
                                 model_dir=model_dir)
    say(f"{input}: {result.summary()}")
    for text in result.notes:
        note(text)
    out = write_predictions(data, result.predictions, output)
    n_sensitive = int(result.predictions["sens_label"].sum())
    say(f"wrote {out}: {len(result.predictions)} samples, {n_sensitive} predicted sensitive")
    metrics = None
    if label_column:
        if labels:
            truth = read_labels(labels, label_column)
        else:
            truth = data.obs[label_column].set_axis(data.obs_names.astype(str))
        metrics = labelled_metrics(result.predictions, truth, labels or input,
                                   threshold=float(getattr(retrained if retrain else model, "threshold", 0.5)))
        say(f"AUROC {metrics['auroc']:.3f}, F1 {metrics['f1']:.3f} on {metrics['n']} labelled samples")
    return {"model": str(model_dir), "input": str(input), "output": str(out), "drug": model.drug,
            "values": result.values, "retrained": bool(retrain), "n_samples": len(result.predictions),
            "n_predicted_sensitive": n_sensitive, "n_matched_genes": result.n_matched,
            "n_model_genes": result.n_model_genes, "overlap": result.overlap, "fill_rule": result.fill_rule,
            "ignored_columns": ignored, "notes": result.notes, "metrics": metrics}


def write_predictions(data, predictions: pd.DataFrame, path: str | Path) -> Path:
    """Write predictions by ``path``'s extension: ``.h5ad`` (the input AnnData, or the input
    table as ``.X``, with the predictions in ``.obs``) or a table (``.csv``, ``.tsv``,
    ``.txt``, ``.parquet``: one row per sample)."""
    import anndata as ad

    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".h5ad":
        if hasattr(data, "obs"):
            out = data.copy()
        else:
            out = ad.AnnData(X=data.to_numpy(np.float32), obs=pd.DataFrame(index=data.index.astype(str)),
                             var=pd.DataFrame(index=data.columns.astype(str)))
        for col in predictions.columns:
            out.obs[col] = predictions[col].to_numpy()
        out.write_h5ad(path)
    elif suffix == ".parquet":
        predictions.reset_index().to_parquet(path, index=False)
    elif suffix in (".csv", ".tsv", ".txt"):
        predictions.to_csv(path, sep="," if suffix == ".csv" else "\t")
    else:
        raise InputError(path, f"unknown output format {suffix!r} (use .h5ad, .csv, .tsv, .txt or .parquet)")
    return path


def labelled_metrics(predictions: pd.DataFrame, labels: pd.Series, source: str | Path | None = None,
                     threshold: float = 0.5) -> dict:
    """:func:`~drugshift.evaluate.classification_metrics` on the samples that have a label (0/1),
    labels cut at ``threshold`` (the model's, as ``sens_label``)."""
    y = pd.to_numeric(labels.reindex(predictions.index), errors="coerce")
    keep = y.notna().to_numpy()
    if not keep.any():
        raise InputError(source, "no predicted sample has a label (do the sample ids match?)")
    yk = y[keep].to_numpy()
    if not np.isin(yk, (0, 1)).all():
        raise InputError(source, "labels must be 0 (resistant) or 1 (sensitive)")
    metrics = classification_metrics(yk.astype(int), predictions["sens_prob"].to_numpy()[keep], threshold)
    metrics["n_unlabelled"] = int((~keep).sum())
    return metrics


def warn(message: str) -> None:
    print(f"drugshift: {message}", file=sys.stderr)
