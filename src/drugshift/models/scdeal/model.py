"""The scDEAL model object: fit, predict, embed, save and load (the API the workflow, a notebook
and the command line share)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from drugshift.cards import array_sha256, environment, provenance
from drugshift.checkpoint import read_model_dir, save_model_dir
from drugshift.models.scdeal.data import TrainingData, cell_clusters, check_bulk, check_cells, resample
from drugshift.models.scdeal.diagnostics import domain_auroc, label_thresholds, log_diagnostics, transfer_diagnostics
from drugshift.models.scdeal.module import PARTS, ScDEALModule
from drugshift.models.scdeal.plan import TrainingPlan
from drugshift.nn.inference import apply_in_chunks
from drugshift.params import ScDEALParams
from drugshift.resume import open_checkpoints
from drugshift.train import History, as_float_matrix, resolve_device, resolve_precision

__all__ = ["KIND", "ScDEAL", "diagnose_members", "fit_bulk_model", "gene_matrix"]

#: The model folder's ``kind`` (:func:`drugshift.checkpoint.save_model_dir`).
KIND = "scdeal"
#: Per-gene min-max scaler columns that :func:`drugshift.preprocess.align_to_bulk` leaves in ``cells.var``.
SCALER_COLUMNS = {"cells": ("sc_min", "sc_max"), "bulk": ("bulk_min", "bulk_max")}

_log = logging.getLogger("drugshift.models.scdeal")
#: How the card describes each per-domain scaling (drugshift.preprocess.scaler_fit).
_SCALING_TEXT = {
    "minmax": "per-gene min-max to [0, 1], fitted per domain (drugshift.preprocess.align_to_bulk)",
    "zscore": "per-gene z-score, fitted per domain (drugshift.preprocess.align_to_bulk); the scalers' min is the "
              "mean and max the mean + sd",
}


def _is_anndata(x) -> bool:
    return hasattr(x, "var_names") and hasattr(x, "obs")


def _names(x, axis: str) -> list[str] | None:
    """Gene (``axis='genes'``) or sample names of an AnnData or a DataFrame, else ``None``."""
    if _is_anndata(x):
        return [str(v) for v in (x.var_names if axis == "genes" else x.obs_names)]
    if hasattr(x, "columns") and hasattr(x, "index"):
        return [str(v) for v in (x.columns if axis == "genes" else x.index)]
    return None


class ScDEAL:
    """scDEAL (Chen et al., 2022): drug response learnt from bulk cell lines, transferred to single cells.

    ``fit(bulk, y_bulk, cells)`` runs the paper's four training stages
    (:class:`~drugshift.models.scdeal.plan.TrainingPlan`: bulk DAE, predictor, sc DAE, joint
    DaNN training); ``predict(cells)`` is ``P(Es(x))``, each cell's probability of being
    sensitive (1); ``save(dir)`` / ``ScDEAL.load(dir)`` write and read one model folder
    (``model.json``, the card of :meth:`card`, and ``weights.pt``).

    **scDEAL is transductive.** The cell encoder ``Es`` is trained on the target cells
    themselves (DAE, MMD alignment to the bulk, cluster regulariser), so a saved model
    predicts the cells it was trained with, and cells of the same dataset (same genes, same
    preprocessing, same scaler — see the card's ``preprocessing``). It has not seen the
    distribution of a new dataset: for new data, train the transfer again (``fit`` on the
    same bulk data and the new cells; the bulk stage is deterministic given the seed, and its
    weights are in the folder as ``bulk_dae``, ``source_encoder``, ``source_predictor``).
    :meth:`predict_no_transfer` (the bulk model ``P₀(Eb₀(x))``) involves no cell and applies
    to any cells.

    Inputs: arrays ``(samples, genes)`` in the model's gene order, or AnnData / DataFrames,
    whose genes are matched to the model's by name. Cells are the workflow's processed cells
    (``.X``: log-normalised, min-max scaled per gene), bulk profiles min-max scaled likewise.

    Args:
        params: :class:`~drugshift.params.ScDEALParams` or a mapping of them.
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        precision: ``fp32`` (default), or on CUDA ``bf16`` / ``fp16`` autocast for the training
            steps (:class:`drugshift.train.MixedPrecision`); on another device it is ignored
            with one log line (the :attr:`precision` is then ``fp32``). Predictions are fp32.
            An unknown value is a ``ValueError`` naming the allowed ones.

    Attributes (after ``fit`` or ``load``):
        params, device, genes (input order, or ``None`` when fitted on bare arrays), drug,
        history (:class:`~drugshift.train.History` per stage), bulk_metrics (``val``/``test``
        after joint training, ``source_val``/``source_test`` of the bulk model), split (index
        arrays ``bulk_train`` … ``cells_val_joint``), clusters (Leiden cluster per training cell
        or ``None``), module (:class:`~drugshift.models.scdeal.module.ScDEALModule`),
        diagnostics (label-free transfer diagnostics on the training cells and the reliability
        verdict, :mod:`~drugshift.models.scdeal.diagnostics`), thresholds (the label cut of
        each rule of ``params.label_threshold``).
    """

    def __init__(self, params: ScDEALParams | Mapping | None = None, *, device: str | torch.device = "auto",
                 precision: str = "fp32"):
        self.params = ScDEALParams.from_dict(params)
        self.device = resolve_device(device)
        # The precision training uses on this device: fp32 unless CUDA (resolve_precision logs that).
        self.precision = resolve_precision(precision, self.device, _log)
        self.module: ScDEALModule | None = None
        self.genes: list[str] | None = None
        self.drug: str | None = None
        self.history: dict[str, History] = {}
        self.bulk_metrics: dict[str, dict] = {}
        self.split: dict[str, np.ndarray] = {}
        self.clusters: np.ndarray | None = None
        self.training_data: dict = {}
        self.preprocessing: dict = {}
        self.trained_on: dict = {}
        self.retrained_from: dict | None = None
        self.diagnostics: dict = {}
        self.thresholds: dict[str, float] = {}
        # What :meth:`retrain` needs: the bulk training data as the model saw it, and the random
        # state at the start of the transfer (steps 3-4); saved in the folder.
        self._bulk: tuple[np.ndarray, np.ndarray] | None = None
        self._transfer_start: dict[str, torch.Tensor] | None = None

    # ----------------------------------------------------------------- training

    def fit(self, bulk, y_bulk, cells, *, drug: str | None = None, dataset: str | None = None,
            clusters: np.ndarray | None = None, training_files: Mapping[str, str | Path] | None = None,
            log: logging.Logger | None = None, checkpoints: str | Path | None = None) -> ScDEAL:
        """Train scDEAL end to end (paper, steps 1–4).

        Args:
            bulk: ``(cell_lines, genes)`` bulk expression, scaled like the cells (a DataFrame
                gives the cell-line ids and gene names for the card).
            y_bulk: ``(cell_lines,)`` labels, 1 = sensitive, 0 = resistant.
            cells: ``(cells, genes)`` single-cell expression; an AnnData is matched to the
                bulk's genes by name, and its ``.var`` scalers and ``.uns`` values/QC go into
                the card.
            drug, dataset: names recorded in the card.
            clusters: ``(cells,)`` cluster labels for the regulariser; by default Leiden
                clusters (:func:`~drugshift.models.scdeal.data.cell_clusters`) when
                ``reg_weight > 0``.
            training_files: ``{name: path}`` of the files the inputs were read from; their
                sha256 checksums go into the card.
            log: logger for progress lines.
            checkpoints: a folder for training checkpoints (:mod:`drugshift.resume`, every
                ``params.checkpoint_every`` epochs): a killed fit called again with the same
                folder, parameters and data resumes there and ends with the same weights. The
                folder is deleted when training ends.

        Returns:
            ``self``, with every module in eval mode on :attr:`device`.
        """
        p, log = self.params, log or _log
        self.module = None
        genes = _names(bulk, "genes") or _names(cells, "genes")
        Xb, yb = check_bulk(bulk, y_bulk)
        Xs = check_cells(self._matrix(cells, "X_sc", genes), Xb.shape[1])
        if p.mode == "reference":
            log.info("scDEAL mode=reference: reproducing the reference code's defects (MMD sigma=1000, joint "
                     "optimiser holds Es only, detached regulariser, DAE target = corrupted input)")
        if clusters is None and p.reg_weight > 0:
            clusters = cell_clusters(Xs, p.leiden_resolution, p.seed, neighbors_method=p.leiden_neighbors)
            log.info("scDEAL: %d Leiden clusters at resolution %g", int(clusters.max()) + 1, p.leiden_resolution)
        data = TrainingData.build(Xb, yb, Xs, p, self.device, clusters)
        log.info("scDEAL: %d bulk samples (train %d, val %d, test %d; %d sensitive), %d cells (train %d, held out "
                 "%d), %d genes, device %s", len(yb), len(data.bulk_train), len(data.bulk_val), len(data.bulk_test),
                 int(yb.sum()), len(Xs), len(data.cells_train), len(data.cells_val), Xb.shape[1], self.device)
        self.module = ScDEALModule(Xb.shape[1], p).to(self.device)
        resume = open_checkpoints(checkpoints, KIND, p.to_dict(), p.checkpoint_every, self.device, log,
                                  precision=self.precision, bulk=Xb,
                                  labels=yb, cells=Xs, clusters=data.clusters)
        plan = TrainingPlan(self.module, data, p, log, resume, precision=self.precision)
        plan.bulk_dae()
        plan.predictor()
        self.bulk_metrics = {"source_val": plan.bulk_scores("bulk_val", source=True),
                             "source_test": plan.bulk_scores("bulk_test", source=True)}
        log.info("scDEAL: bulk model validation AUROC=%.3f, test AUROC=%.3f F1=%.3f",
                 self.bulk_metrics["source_val"]["auroc"], self.bulk_metrics["source_test"]["auroc"],
                 self.bulk_metrics["source_test"]["f1"])
        self._bulk, self._transfer_start = (Xb, yb), _random_state(plan)
        self._transfer(plan, data, log)
        self.genes, self.drug = genes, drug
        self._record_training_data(bulk, Xb, yb, cells, Xs, dataset, training_files)
        self.diagnostics, self.thresholds = diagnose_members([self], Xs, p, log)
        if resume is not None:
            resume.discard()
        return self

    def _transfer(self, plan: TrainingPlan, data: TrainingData, log: logging.Logger) -> None:
        """Steps 3-4 (sc DAE, joint training) on a plan whose bulk stage is done."""
        plan.sc_dae()
        plan.joint()
        self.bulk_metrics.update(val=plan.bulk_scores("bulk_val"), test=plan.bulk_scores("bulk_test"))
        log.info("scDEAL: after joint training bulk test AUROC=%.3f F1=%.3f", self.bulk_metrics["test"]["auroc"],
                 self.bulk_metrics["test"]["f1"])
        self.module.eval()
        self.history, self.split, self.clusters = plan.history, data.split(), data.clusters

    def retrain(self, cells, *, dataset: str | None = None, clusters: np.ndarray | None = None,
                training_files: Mapping[str, str | Path] | None = None,
                log: logging.Logger | None = None) -> ScDEAL:
        """A new model for new cells: this model's bulk stage (steps 1–2) as it is, the transfer
        (steps 3–4: sc DAE, joint training) fitted again on ``cells``.

        This is how a transductive model reaches a new dataset. It is much faster than
        :meth:`fit` because the bulk DAE and predictor are reused, and it needs no bulk file:
        the folder keeps the bulk training matrix and labels (their checksums are in the card),
        and the random state at the start of the transfer, so retraining on the training cells
        themselves reproduces this model exactly (on the device it was trained on).

        Args:
            cells: ``(cells, genes)`` in this model's genes, log-normalised and min-max scaled
                per gene *on the new cells* (an AnnData's ``.var`` scaler columns and ``.uns``
                values go into the new card; :func:`drugshift.apply.retrain_samples` prepares
                a raw input).
            dataset, clusters, training_files, log: as for :meth:`fit`.

        Returns:
            The new :class:`ScDEAL`; this one is unchanged.
        """
        base = self._check_fitted()
        if self._bulk is None or self._transfer_start is None:
            raise ValueError("this model holds no bulk training data to retrain from (a model folder written before "
                             "retraining was supported): fit a new model")
        p, log = self.params, log or _log
        Xb, yb = self._bulk
        Xs = check_cells(self._matrix(cells, "X_sc"), Xb.shape[1])
        if clusters is None and p.reg_weight > 0:
            clusters = cell_clusters(Xs, p.leiden_resolution, p.seed, neighbors_method=p.leiden_neighbors)
            log.info("scDEAL: %d Leiden clusters at resolution %g", int(clusters.max()) + 1, p.leiden_resolution)
        data = TrainingData.build(Xb, yb, Xs, p, self.device, clusters)
        log.info("scDEAL retrain: the saved bulk model (%d cell lines) transferred to %d cells (train %d, held out "
                 "%d), %d genes, device %s", len(yb), len(Xs), len(data.cells_train), len(data.cells_val),
                 Xb.shape[1], self.device)
        new = ScDEAL(p, device=self.device, precision=self.precision)
        new.module = module = ScDEALModule(Xb.shape[1], p).to(self.device)
        plan = TrainingPlan(module, data, p, log, precision=self.precision)
        # The module as it was after step 2: Eb = Eb₀, P = P₀ (joint training changed Eb and P
        # but neither the bulk decoder nor the kept bulk model).
        module.bulk_dae.load_state_dict(base.bulk_dae.state_dict())
        module.bulk_dae.encoder.load_state_dict(base.source_encoder.state_dict())
        module.predictor.load_state_dict(base.source_predictor.state_dict())
        module.keep_source_model()
        module.bulk_encoder.eval()
        module.predictor.eval()
        Xr, yr = resample(Xb[data.bulk_train], yb[data.bulk_train], p.sampling, p.seed)
        data.bulk_resampled = torch.as_tensor(np.ascontiguousarray(Xr), device=self.device)
        data.y_resampled = torch.as_tensor(yr.astype(np.int64), device=self.device)
        plan.history = {stage: self.history[stage] for stage in ("bulk_dae", "predictor") if stage in self.history}
        _restore_random_state(plan, self._transfer_start)
        new.bulk_metrics = {k: v for k, v in self.bulk_metrics.items() if k.startswith("source_")}
        new._bulk, new._transfer_start = self._bulk, self._transfer_start
        new._transfer(plan, data, log)
        new.genes, new.drug = self.genes, self.drug
        new._record_training_data(None, Xb, yb, cells, Xs, dataset, training_files)
        # The bulk side is this model's: its cell lines, bulk and label files, bulk scaler.
        new.training_data["cell_lines"] = self.training_data.get("cell_lines")
        bulk_files = {k: v for k, v in (self.training_data.get("files") or {}).items() if k != "cells"}
        new.training_data["files"] = {**bulk_files, **new.training_data["files"]}
        if "bulk_scaler" in self.preprocessing:
            new.preprocessing["bulk_scaler"] = self.preprocessing["bulk_scaler"]
        new.retrained_from = {"cells": self.training_data.get("cells"),
                              "cells_sha256": (self.training_data.get("sha256") or {}).get("cells"),
                              "bulk_stage": "steps 1-2 reused; steps 3-4 fitted on the new cells"}
        new.diagnostics, new.thresholds = diagnose_members([new], Xs, p, log)
        return new

    def _record_training_data(self, bulk, Xb, yb, cells, Xs, dataset, training_files) -> None:
        self.training_data = {
            "n_cell_lines": int(len(yb)), "n_sensitive": int(yb.sum()), "cell_lines": _names(bulk, "samples"),
            "n_cells": int(Xs.shape[0]), "cells": dataset,
            # The matrices as the model saw them (float32, C order), and the files they came from.
            "sha256": {"bulk": array_sha256(Xb), "labels": array_sha256(yb), "cells": array_sha256(Xs)},
            "files": provenance(dict(training_files or {})),
        }
        self.preprocessing = {}
        if _is_anndata(cells):
            var, uns = cells.var, cells.uns
            qc = dict(uns.get("qc", {}))
            self.preprocessing = {
                "cells": {"values": uns.get("values"), "qc": qc,
                          "normalisation": ("none (input already normalised)" if qc.get("normalised_input")
                                            else "normalize_total + log1p")},
                "scaling": _SCALING_TEXT[uns.get("scaling", "minmax")],
                "scaler": uns.get("scaling", "minmax"),
            }
            genes = self.genes or list(map(str, cells.var_names))
            for domain, (lo, hi) in SCALER_COLUMNS.items():
                if lo in var and hi in var:
                    self.preprocessing[f"{domain}_scaler"] = {
                        "min": var.loc[genes, lo].to_numpy(np.float64), "max": var.loc[genes, hi].to_numpy(np.float64)}
        self.trained_on = {"device": str(self.device), "precision": self.precision, "environment": environment()}

    # ----------------------------------------------------------------- inference

    def _check_fitted(self) -> ScDEALModule:
        if self.module is None:
            raise RuntimeError("this ScDEAL model is not trained: call fit() or ScDEAL.load()")
        return self.module

    def _matrix(self, x, what: str, genes: list[str] | None = None) -> np.ndarray:
        """:func:`gene_matrix` of ``x`` in this model's genes and width."""
        return gene_matrix(x, what, genes if genes is not None else self.genes,
                           None if self.module is None else self.module.n_genes)

    def _apply(self, fn, x, what: str) -> np.ndarray:
        return apply_in_chunks(fn, self._matrix(x, what), self.device)

    def predict(self, cells) -> np.ndarray:
        """``P(Es(x))``: each cell's probability of being sensitive (paper, step 5); ``(cells,)``
        float64. Meaningful for the training cells and cells of the same dataset (class docstring)."""
        m = self._check_fitted()
        return self._apply(lambda x: m.sensitivity(m.sc_encoder, m.predictor, x), cells, "X_sc").astype(np.float64)

    @property
    def threshold(self) -> float:
        """The cut of ``sens_label`` under ``params.label_threshold`` (0.5 before diagnostics exist)."""
        return float(self.thresholds.get(self.params.label_threshold, 0.5))

    def predict_no_transfer(self, cells) -> np.ndarray:
        """The bulk model of step 2 applied to cells without transfer (``P₀(Eb₀(x))``); ``(cells,)``."""
        m = self._check_fitted()
        return self._apply(lambda x: m.sensitivity(m.source_encoder, m.source_predictor, x), cells,
                           "X_sc").astype(np.float64)

    def predict_bulk(self, bulk) -> np.ndarray:
        """``P(Eb(x))`` after joint training: probability of sensitivity per bulk sample."""
        m = self._check_fitted()
        return self._apply(lambda x: m.sensitivity(m.bulk_encoder, m.predictor, x), bulk,
                           "X_bulk").astype(np.float64)

    def embed(self, cells) -> np.ndarray:
        """``Es(x)``: ``(cells, bulk_bottleneck)`` float32 embeddings (e.g. for a UMAP)."""
        m = self._check_fitted()
        return self._apply(m.sc_encoder, cells, "X_sc")

    def embed_bulk(self, bulk) -> np.ndarray:
        """``Eb(x)`` after joint training: ``(samples, bulk_bottleneck)`` bulk embeddings."""
        m = self._check_fitted()
        return self._apply(m.bulk_encoder, bulk, "X_bulk")

    def cell_model(self, probabilities: bool = True) -> nn.Sequential:
        """``Es → P [→ softmax]`` as one eval-mode module, ``(cells, genes) → (cells, 2)``; the
        input to integrated-gradient attribution (output 1 = sensitive, 0 = resistant)."""
        m = self._check_fitted()
        layers: list[nn.Module] = [m.sc_encoder, m.predictor]
        if probabilities:
            layers.append(nn.Softmax(dim=1))
        return nn.Sequential(*layers).eval()

    def bulk_model(self, probabilities: bool = True) -> nn.Sequential:
        """``Eb → P [→ softmax]`` after joint training (what :meth:`predict_bulk` uses) as one
        eval-mode module."""
        m = self._check_fitted()
        layers: list[nn.Module] = [m.bulk_encoder, m.predictor]
        if probabilities:
            layers.append(nn.Softmax(dim=1))
        return nn.Sequential(*layers).eval()

    # The parts by name, for attribution (drugshift.interpret) and inspection.
    bulk_encoder = property(lambda self: self._check_fitted().bulk_encoder, doc="``Eb`` after joint training.")
    sc_encoder = property(lambda self: self._check_fitted().sc_encoder, doc="``Es`` after joint training.")
    predictor = property(lambda self: self._check_fitted().predictor, doc="``P`` after joint training.")
    source_encoder = property(lambda self: self._check_fitted().source_encoder, doc="``Eb₀``: ``Eb`` after step 2.")
    source_predictor = property(lambda self: self._check_fitted().source_predictor, doc="``P₀``: ``P`` after step 2.")

    # ----------------------------------------------------------------- persistence

    def card(self) -> dict:
        """The model card (``model.json``): what the model is, what it needs and how it was made.

        Keys: ``method``, ``transductive`` (a note on what the model applies to), ``drug``,
        ``genes`` (input order), ``n_genes``, ``preprocessing`` (values and normalisation of the
        cells, the per-gene min-max scalers of cells and bulk), ``params`` (resolved), ``seed``,
        ``training_data`` (cell lines, sensitive lines, their ids, cells, the training files'
        sha256), ``validation`` (bulk metrics), ``diagnostics`` (label-free transfer
        diagnostics and the reliability verdict), ``thresholds`` (label cut per rule),
        ``training`` (per stage: epochs run, best epoch
        and value, early stop, and the per-epoch curves), ``trained_on`` (device, software
        versions). :func:`~drugshift.checkpoint.save_model_dir` adds the format, kind and
        package version.
        """
        m = self._check_fitted()
        return {
            "method": "scDEAL",
            "transductive": ("the cell encoder was trained on the training cells: predictions apply to those cells "
                             "and cells of the same dataset; new data need the transfer retrained"),
            "drug": self.drug,
            "genes": self.genes,
            "n_genes": m.n_genes,
            "preprocessing": self.preprocessing,
            "params": self.params.to_dict(),
            "seed": self.params.seed,
            "training_data": self.training_data,
            "validation": self.bulk_metrics,
            "diagnostics": self.diagnostics,
            "thresholds": self.thresholds,
            "training": {stage: {**h.to_dict(), "epochs_run": h.epochs_run} for stage, h in self.history.items()},
            "trained_on": self.trained_on,
            **({"retrained_from": self.retrained_from} if self.retrained_from else {}),
        }

    def save(self, directory: str | Path) -> Path:
        """Write the model folder ``directory`` (replacing an earlier one): ``model.json`` (the
        :meth:`card`) and ``weights.pt`` (every part's weights, the splits and clusters, and what
        :meth:`retrain` needs: the bulk training data and the random state of the transfer)."""
        return save_model_dir(directory, kind=KIND, card=self.card(), tensors=self._tensors())

    def _tensors(self, bulk: bool = True) -> dict:
        """What ``weights.pt`` holds (see :meth:`save`); without the bulk training data when
        ``bulk`` is false (an ensemble stores it once for all members)."""
        m = self._check_fitted()
        tensors = {part: getattr(m, part).state_dict() for part in PARTS}
        if self._bulk is not None and self._transfer_start is not None:
            if bulk:
                tensors["bulk_training"] = {"X": torch.as_tensor(self._bulk[0]), "y": torch.as_tensor(self._bulk[1])}
            tensors["transfer_start"] = self._transfer_start
        tensors["training_split"] = {k: torch.as_tensor(np.asarray(v, dtype=np.int64)) for k, v in self.split.items()}
        if self.clusters is not None:
            tensors["training_split"]["clusters"] = torch.as_tensor(np.asarray(self.clusters, dtype=np.int64))
        return tensors

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> ScDEAL:
        """Read a folder written by :meth:`save` onto ``device``; its predictions equal the saved
        model's on the same device, in any process."""
        files = read_model_dir(directory, KIND, device)
        return cls._from_saved(files.card, files.tensors, str(directory), device)

    @classmethod
    def _from_saved(cls, card: dict, tensors: dict, directory: str, device, bulk_training: dict | None = None) -> ScDEAL:
        """The model of a card and its tensors (:meth:`load`; an ensemble's members, whose
        bulk training data ``bulk_training`` are stored once for all)."""
        model = cls(ScDEALParams.from_dict(card["params"], f"{directory}/model.json params"), device=device)
        module = ScDEALModule(int(card["n_genes"]), model.params)
        for part in PARTS:
            if part not in tensors:
                raise ValueError(f"{directory}: weights.pt has no {part!r} weights")
            getattr(module, part).load_state_dict(tensors[part])
        model.module = module.to(model.device).eval()
        split = {k: v.cpu().numpy() for k, v in tensors.get("training_split", {}).items()}
        model.clusters = split.pop("clusters", None)
        model.split = split
        model.genes, model.drug = card.get("genes"), card.get("drug")
        model.preprocessing, model.training_data = card.get("preprocessing", {}), card.get("training_data", {})
        model.bulk_metrics, model.trained_on = card.get("validation", {}), card.get("trained_on", {})
        model.history = {stage: History.from_dict({k: v for k, v in h.items() if k != "epochs_run"})
                         for stage, h in card.get("training", {}).items()}
        model.retrained_from = card.get("retrained_from")
        model.diagnostics, model.thresholds = card.get("diagnostics", {}), card.get("thresholds", {})
        bulk_training = tensors.get("bulk_training", bulk_training)
        if bulk_training is not None and "transfer_start" in tensors:
            Xb = bulk_training["X"].cpu().numpy()
            expected = (model.training_data.get("sha256") or {}).get("bulk")
            if expected and array_sha256(Xb) != expected:
                raise ValueError(f"{directory}: the bulk training data in weights.pt do not match the card's sha256")
            model._bulk = (Xb, bulk_training["y"].cpu().numpy())
            model._transfer_start = {k: v.cpu() for k, v in tensors["transfer_start"].items()}
        return model

    def __repr__(self) -> str:
        state = "untrained" if self.module is None else f"{self.module.n_genes} genes"
        return f"ScDEAL(drug={self.drug!r}, {state}, mode={self.params.mode!r}, seed={self.params.seed})"


def gene_matrix(x, what: str, genes: list[str] | None, n_genes: int | None = None) -> np.ndarray:
    """``x`` as float32 ``(n, genes)`` in the order of ``genes``: named genes (AnnData, DataFrame)
    are matched by name (every gene must be present), bare arrays must have ``n_genes`` columns
    when it is given."""
    names = _names(x, "genes")
    if names is not None and genes is not None and names != genes:
        missing = [g for g in genes if g not in set(names)]
        if missing:
            raise ValueError(f"{what} lacks {len(missing)} of the model's genes (first: {missing[:5]})")
        x = x[:, genes] if _is_anndata(x) else x[genes]
    if _is_anndata(x):
        x = x.X
    return as_float_matrix(x, what, n_genes)


def diagnose_members(members: list[ScDEAL], Xs: np.ndarray, params: ScDEALParams,
                     log: logging.Logger | None = None) -> tuple[dict, dict[str, float]]:
    """Label-free transfer diagnostics and label thresholds of one model or an ensemble's
    members on their training cells ``Xs`` (:mod:`~drugshift.models.scdeal.diagnostics`).

    The bulk side: each member's bulk model on its own validation lines; out of fold, the
    bulk models (``P₀(Eb₀(x))``) on the members' test lines pooled (every test line was unseen by
    the member that scores it). ``bulk_f1`` is cut on the joint models' ``P(Eb(x))`` of the
    validation lines, pooled; ``bulk_rate`` matches the labelled cell lines' share of sensitive
    lines on the ensemble's mean cell probabilities.
    """
    from sklearn.metrics import roc_auc_score

    Xb, yb = members[0]._bulk
    probs = np.column_stack([m.predict(Xs) for m in members])
    base = np.column_stack([m.predict_no_transfer(Xs) for m in members])
    test = [m.split["bulk_test"] for m in members]
    val = [m.split["bulk_val"] for m in members]
    y_test = np.concatenate([yb[rows] for rows in test])
    p_test = np.concatenate([m.predict_no_transfer(Xb[rows]) for m, rows in zip(members, test)])
    diagnostics = transfer_diagnostics(
        probs, base, [m.bulk_metrics["source_val"]["auroc"] for m in members],
        float(roc_auc_score(y_test, p_test)) if 0 < y_test.mean() < 1 else float("nan"),
        [domain_auroc(m.embed_bulk(Xb), m.embed(Xs), seed=params.seed) for m in members], params.uncertain_sd)
    thresholds = label_thresholds(np.concatenate([yb[rows] for rows in val]),
                                  np.concatenate([m.predict_bulk(Xb[rows]) for m, rows in zip(members, val)]),
                                  float(yb.mean()), probs.mean(axis=1))
    log_diagnostics(diagnostics, log)
    (log or _log).info("scDEAL label thresholds: %s (sens_label uses %s)",
                       ", ".join(f"{k} {v:.3f}" for k, v in thresholds.items()), params.label_threshold)
    return diagnostics, thresholds


def _random_state(plan: TrainingPlan) -> dict[str, torch.Tensor]:
    """The random state the transfer stages start from: torch's global generator (initial
    weights, dropout; CUDA's too on a GPU) and the plan's minibatch-order and mask generators."""
    state = {"torch": torch.get_rng_state(), "order": plan.order_generator.get_state(),
             "mask": plan.mask_generator.get_state()}
    if plan.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(plan.device)
    return state


def _restore_random_state(plan: TrainingPlan, state: Mapping[str, torch.Tensor]) -> None:
    """Put :func:`_random_state` back. On a device of another type than the one it was taken on
    (a model trained on a GPU retrained on the CPU, or the reverse), the mask generator's state
    does not fit (a CUDA generator's is a seed and an offset, the CPU's a Mersenne-Twister
    state) and that generator keeps its seed; there is no CUDA state to restore on the CPU. The
    CUDA state goes to the plan's device, whatever its index when the state was taken."""
    torch.set_rng_state(state["torch"].cpu())
    plan.order_generator.set_state(state["order"].cpu())
    mask = state["mask"].cpu()
    if mask.numel() == plan.mask_generator.get_state().numel():
        plan.mask_generator.set_state(mask)
    if plan.device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), plan.device)


def fit_bulk_model(X_bulk, y_bulk, params: ScDEALParams | Mapping | None = None, log: logging.Logger | None = None,
                   device: str | torch.device = "auto") -> dict[str, dict]:
    """Train only scDEAL's bulk model (steps 1–2) and score it on the bulk splits; no cell is seen.

    The same seed gives the same split, initial weights and minibatches as :meth:`ScDEAL.fit`,
    so this is exactly the bulk model that ``fit`` would transfer. Hyperparameter selection
    (:mod:`drugshift.tuning`) uses it.

    Returns:
        ``{"source_val": metrics, "source_test": metrics}`` (:func:`~drugshift.evaluate.classification_metrics`).
    """
    p = ScDEALParams.from_dict(params)
    dev = resolve_device(device)
    Xb, yb = check_bulk(X_bulk, y_bulk)
    module = ScDEALModule(Xb.shape[1], p).to(dev)
    plan = TrainingPlan(module, TrainingData.build(Xb, yb, None, p, dev), p, log or _log)
    plan.bulk_dae()
    plan.predictor()
    return {"source_val": plan.bulk_scores("bulk_val", source=True),
            "source_test": plan.bulk_scores("bulk_test", source=True)}
