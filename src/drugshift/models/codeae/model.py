"""The user-facing CODE-AE objects: a pretrained encoder and a per-drug response model.

* :class:`CodeAE`: the pretrained encoder of one benchmark method, learnt from unlabelled
  expression of cell lines (source) and patients / tumour models (target): a CODE-AE variant or
  a DSN baseline (:class:`~drugshift.models.codeae.module.CodeAEModule`, whose shared encoder
  ``Es`` is fine-tuned) or a pretrained baseline (:mod:`drugshift.models.baselines`).
* :class:`DrugResponseModel`: the ``k`` cross-validation fold models of one method for one
  drug; :meth:`~DrugResponseModel.predict` averages them.

Both save to and load from one folder (:mod:`drugshift.checkpoint`): the card ``model.json``
(genes in input order, per-domain standardisation, resolved parameters, the drug, checksums of
the training data, cross-validation metrics, format and package versions), ``weights.pt``
(tensors only, read with ``weights_only=True``) and, for the scikit-learn baselines,
``estimators.skops``. A folder is all a fresh process needs to reproduce the predictions.

Typical use::

    params = resolve_codeae_params(config, "codeae_adv")
    encoder = CodeAE.pretrain("codeae_adv", cell_lines, patients, params)
    model = DrugResponseModel("codeae_adv", "Cisplatin", params, encoder=encoder).fit(X, y)
    model.save("cisplatin_model")
    DrugResponseModel.load("cisplatin_model").predict(new_patients)   # sens_prob, sens_prob_sd, sens_label
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from drugshift.cards import array_sha256, environment, provenance
from drugshift.checkpoint import read_model_dir, save_model_dir
from drugshift.evaluate import classification_metrics, predicted_labels
from drugshift.models.codeae.module import (
    CodeAEModule,
    DrugClassifier,
    encoder_from_spec,
    encoder_spec,
    random_encoder,
)
from drugshift.models.codeae.plan import FoldResult, PretrainingPlan, finetune_cv, predict_proba
from drugshift.nn.inference import apply_in_chunks
from drugshift.params import BaselineParams, CodeAEMethodParams, CodeAEParams, FinetuneParams
from drugshift.resume import open_checkpoints
from drugshift.splits import cv_folds
from drugshift.train import as_binary_labels, as_float_matrix, check_precision, resolve_device, resolve_precision

__all__ = ["CodeAE", "DrugResponseModel", "Standardisation", "method_params_from_dict"]

ENCODER_KIND = "codeae-encoder"
DRUG_KIND = "codeae-drug"

#: Per-domain standardisation: domain → ``(mean, sd)`` per gene, in the model's gene order.
Standardisation = Mapping[str, tuple[np.ndarray, np.ndarray]]

_log = logging.getLogger(__name__)


def method_params_from_dict(d: Mapping | CodeAEMethodParams) -> CodeAEMethodParams:
    """:class:`CodeAEMethodParams` from its :meth:`~CodeAEMethodParams.to_dict` form (a model
    card, or a rule's ``params``)."""
    if isinstance(d, CodeAEMethodParams):
        return d
    kind = d["kind"]
    pretrain = None
    if d.get("pretrain") is not None:
        pretrain = (CodeAEParams if kind == "codeae" else BaselineParams).from_dict(d["pretrain"])
    return CodeAEMethodParams(d["method"], kind, pretrain, CodeAEParams.from_dict(d["architecture"]),
                              FinetuneParams.from_dict(d["finetune"]))


def _genes_of(x, n: int | None = None) -> list[str]:
    if isinstance(x, pd.DataFrame):
        return [str(g) for g in x.columns]
    return [f"gene_{i}" for i in range(n if n is not None else np.shape(x)[1])]


def _matrix(x, genes: Sequence[str], what: str) -> np.ndarray:
    """``x`` as C-contiguous float32 ``(samples, genes)`` in the model's gene order. A DataFrame
    is matched by column name (extra columns are ignored); an array must already be in that
    order. C order whatever the source's layout, so that a prediction does not depend on how
    the table was built (BLAS sums in another order on a column-major matrix)."""
    if isinstance(x, pd.DataFrame):
        missing = [g for g in genes if g not in x.columns]
        if missing:
            raise ValueError(f"{what} lacks {len(missing)} of the model's {len(genes)} genes, e.g. {missing[:5]}")
        x = x[list(genes)]
    return np.ascontiguousarray(as_float_matrix(x, what, len(genes)))


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


class CodeAE:
    """The pretrained encoder of one CODE-AE benchmark method (a CODE-AE variant, a DSN
    baseline or a pretrained baseline), for :class:`DrugResponseModel` to fine-tune.

    Attributes:
        method: the benchmark method (``codeae_adv``, ``dsn_mmd``, ``vae``, …).
        params: the resolved parameters (:func:`drugshift.params.resolve_codeae_params`).
        network: a :class:`CodeAEModule` (CODE-AE and DSN) or the baseline's encoder.
        genes: input genes, in order.
        history: per-phase training history.
        training_data: checksums (and, from the workflow, files) of the pretraining data.
        trained_on: ``device`` and ``precision`` of the pretraining (:meth:`pretrain`).
    """

    def __init__(self, method: str, params: CodeAEMethodParams | Mapping, network: nn.Module, genes: Sequence[str],
                 history: Mapping | None = None, training_data: Mapping | None = None, *,
                 trained_on: Mapping | None = None):
        self.method = method
        self.params = method_params_from_dict(params)
        if self.params.kind not in ("codeae", "pretrained"):
            raise ValueError(f"method {method!r} ({self.params.kind}) has no pretraining stage")
        self.network = network.eval()
        self.genes = [str(g) for g in genes]
        self.history = dict(history or {})
        self.training_data = dict(training_data or {})
        self.trained_on = dict(trained_on or {})

    @classmethod
    def pretrain(cls, method: str, source, target, params: CodeAEMethodParams | Mapping, *,
                 device: str | torch.device = "auto", precision: str = "fp32", log: logging.Logger | None = None,
                 files: Mapping[str, str | Path] | None = None, checkpoints: str | Path | None = None) -> CodeAE:
        """Pretrain ``method`` on unlabelled ``source`` (cell lines × genes) and ``target``
        (patients × genes) expression with the same genes (DataFrames are matched by name).

        ``precision``: ``fp32`` (default), or on CUDA ``bf16`` / ``fp16`` autocast for the
        training steps (:class:`drugshift.train.MixedPrecision`; ignored with one log line on
        another device; embeddings are computed in fp32). ``files`` (name → path) adds the
        input files' checksums to the card. ``checkpoints``: a folder for training checkpoints
        (:mod:`drugshift.resume`; deleted when training ends).

        Raises:
            ValueError: parameters of another method, or an unknown ``precision`` (the message
                names the allowed ones).
        """
        params = method_params_from_dict(params)
        if params.method != method:
            raise ValueError(f"parameters of {params.method!r} given for method {method!r}")
        dev = resolve_device(device)
        precision = resolve_precision(precision, dev, log or _log)
        genes = _genes_of(source)
        Xs, Xt = _matrix(source, genes, "source"), _matrix(target, genes, "target")
        every = getattr(params.pretrain, "checkpoint_every", 0)  # (no pretraining: an error below)
        resume = open_checkpoints(checkpoints, f"{ENCODER_KIND} {method}", {"pretrain": params.to_dict()["pretrain"]},
                                  every, dev, log, precision=precision, source=Xs, target=Xt)
        if params.kind == "codeae":
            plan = PretrainingPlan(Xs, Xt, params.pretrain, device, log, resume, precision)
            phases = plan.run()
            network = plan.module
            history = {"phases": {k: h.to_dict() for k, h in phases.items()},
                       "split": {k: v.tolist() for k, v in plan.split.items()}}
        elif params.kind == "pretrained":
            from drugshift.models.baselines import pretrain_encoder

            network, history = pretrain_encoder(method, Xs, Xt, params.pretrain, device=device, log=log,
                                                checkpoints=resume, precision=precision)
        else:
            raise ValueError(f"method {method!r} ({params.kind}) has no pretraining stage")
        data = {"source_sha256": array_sha256(Xs), "target_sha256": array_sha256(Xt),
                "n_source": len(Xs), "n_target": len(Xt)}
        if files:
            data["files"] = provenance(files)
        if resume is not None:
            resume.discard()
        return cls(method, params, network, genes, history, data,
                   trained_on={"device": str(dev), "precision": precision})

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    @property
    def encoder(self) -> nn.Module:
        """The encoder fine-tuned per drug: CODE-AE's shared encoder ``Es``, or the baseline's."""
        return self.network.shared_encoder if isinstance(self.network, CodeAEModule) else self.network

    def embed(self, X, domain: str | None = None) -> np.ndarray:
        """Embeddings of ``X`` (samples × genes): the encoder's output ``(n, latent)``, or for
        CODE-AE with ``domain`` (``source``/``target``) ``concat(private, shared)``
        ``(n, 2·latent)``."""
        X = _matrix(X, self.genes, "X")
        self.network.eval()
        if domain is None:
            return apply_in_chunks(self.encoder, X, self.device)
        if not isinstance(self.network, CodeAEModule):
            raise ValueError(f"{self.method} has one encoder for both domains; embed without domain")
        if domain not in ("source", "target"):
            raise ValueError(f"domain must be 'source' or 'target', got {domain!r}")

        def both(x):
            s, p, _ = self.network.parts(x, domain)
            return torch.cat([p, s], 1)

        return apply_in_chunks(both, X, self.device)

    def deconfounding(self, source, target) -> dict[str, float]:
        """:func:`drugshift.deconfounding.domain_auroc` of cell lines (``source``) against patients
        (``target``) on the inputs and on this encoder's embeddings (seed: the method's)."""
        from drugshift.deconfounding import domain_auroc

        seed = self.params.pretrain.seed
        Xs, Xt = _matrix(source, self.genes, "source"), _matrix(target, self.genes, "target")
        return {"input": domain_auroc(Xs, Xt, seed), "embedding": domain_auroc(self.embed(Xs), self.embed(Xt), seed)}

    def card(self) -> dict:
        """The model card (``model.json``)."""
        card = {"method": self.method, "method_kind": self.params.kind, "genes": self.genes,
                "n_genes": len(self.genes), "params": self.params.to_dict(), "history": self.history,
                "training_data": self.training_data, "trained_on": self.trained_on, "environment": environment()}
        if self.params.kind == "pretrained":
            card["encoder"] = encoder_spec(self.network)
        return card

    def save(self, directory: str | Path) -> Path:
        """Write the model folder (:func:`drugshift.checkpoint.save_model_dir`)."""
        return save_model_dir(directory, kind=ENCODER_KIND, card=self.card(), tensors={"network": _state(self.network)})

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> CodeAE:
        """Read a folder written by :meth:`save`; the network in eval mode on ``device``."""
        dev = resolve_device(device)
        files = read_model_dir(directory, ENCODER_KIND, dev)
        card = files.card
        params = method_params_from_dict(card["params"])
        if params.kind == "codeae":
            network = CodeAEModule(card["n_genes"], params.pretrain)
        else:
            network = encoder_from_spec(card["encoder"])
        network.load_state_dict(files.tensors["network"])
        return cls(card["method"], params, network.to(dev), card["genes"], card.get("history"),
                   card.get("training_data"), trained_on=card.get("trained_on"))


class DrugResponseModel:
    """One benchmark method's model of one drug: ``k`` fold models from stratified
    cross-validation on labelled cell lines, averaged at prediction.

    * ``codeae`` / ``pretrained``: each fold fine-tunes a copy of ``encoder.encoder`` with a
      classifier head (:func:`~drugshift.models.codeae.plan.finetune_cv`);
    * ``mlp``: each fold trains a fresh random encoder of CODE-AE's architecture and the head,
      everything trainable from the start, with the same epoch budget;
    * ``shallow``: each fold fits :func:`drugshift.models.baselines.fit_shallow` (Elastic Net,
      Random Forest) with its inner CV.

    Args:
        method, drug: the benchmark method and the drug (GDSC name).
        params: resolved parameters of ``method``.
        genes: input genes in order (default: ``encoder.genes``, or the columns of ``fit``'s X).
        standardisation: per-domain ``(mean, sd)`` of each gene, as used to standardise the
            training data; ``predict(X, domain=…)`` applies them to data on that domain's scale.
        encoder: the pretrained :class:`CodeAE` (``codeae`` and ``pretrained`` methods).
        precision: ``fp32`` (default), or on CUDA ``bf16`` / ``fp16`` autocast for the training
            steps of the network methods (:class:`drugshift.train.MixedPrecision`); ignored with
            one log line when :meth:`fit` runs on another device; predictions are fp32. An
            unknown value is a ``ValueError`` naming the allowed ones.
    """

    def __init__(self, method: str, drug: str, params: CodeAEMethodParams | Mapping, *,
                 genes: Sequence[str] | None = None, standardisation: Standardisation | None = None,
                 encoder: CodeAE | None = None, precision: str = "fp32"):
        self.method, self.drug = method, drug
        self.precision = check_precision(precision)
        self.params = method_params_from_dict(params)
        if self.params.method != method:
            raise ValueError(f"parameters of {self.params.method!r} given for method {method!r}")
        if self.params.kind in ("codeae", "pretrained"):
            if encoder is None:
                raise ValueError(f"method {method!r} needs its pretrained encoder (a CodeAE)")
            if encoder.method != method:
                raise ValueError(f"the encoder was pretrained by {encoder.method!r}, not {method!r}")
        self.encoder = encoder
        self.encoder_info = {} if encoder is None else {"method": encoder.method, "params": encoder.params.to_dict(),
                                                        "training_data": encoder.training_data}
        if genes is None and encoder is not None:
            genes = encoder.genes
        if genes is not None and encoder is not None and list(genes) != encoder.genes:
            raise ValueError("the genes differ from those the encoder was pretrained on")
        self.genes = None if genes is None else [str(g) for g in genes]
        self.standardisation = {k: (np.asarray(m, np.float64), np.asarray(s, np.float64))
                                for k, (m, s) in dict(standardisation or {}).items()}
        self.folds: list = []
        self.cv: list[dict] = []
        self.training_data: dict = {}
        self.architecture: dict = {}
        self.trained_on: dict = {}

    @property
    def kind(self) -> str:
        return self.params.kind

    # ------------------------------------------------------------------ training

    def fit(self, X, y, *, device: str | torch.device = "auto", log: logging.Logger | None = None,
            files: Mapping[str, str | Path] | None = None, checkpoints: str | Path | None = None) -> DrugResponseModel:
        """Cross-validate on labelled cell lines: ``X`` (cell lines × genes), ``y`` 0/1
        (1 = sensitive). Every method uses the folds of :func:`drugshift.splits.cv_folds` with
        the parameters' seed. ``files`` (name → path) adds the input files' checksums to the card.
        ``checkpoints``: a folder for training checkpoints of the network methods
        (:mod:`drugshift.resume`; deleted when training ends).
        """
        log = log or _log
        if self.genes is None:
            self.genes = _genes_of(X)
        X = _matrix(X, self.genes, "X")
        y = as_binary_labels(y, len(X), "y")
        p, name = self.params.finetune, f"{self.method} {self.drug}"
        resume, trained_on = None, {"device": "cpu", "precision": "fp32"}  # scikit-learn: the CPU
        if self.kind != "shallow":
            dev = resolve_device(device)
            precision = resolve_precision(self.precision, dev, log)
            trained_on = {"device": str(dev), "precision": precision}
            resume = open_checkpoints(checkpoints, f"{DRUG_KIND} {self.method} {self.drug}", self.params.to_dict(),
                                      p.checkpoint_every, dev, log, precision=precision, X=X, y=y,
                                      encoder=None if self.encoder is None else self.encoder.encoder)
        if self.kind in ("codeae", "pretrained"):
            folds = finetune_cv(self.encoder.encoder, X, y, p, device=device, log=log, name=name, checkpoints=resume,
                                precision=precision)
        elif self.kind == "mlp":
            arch = self.params.architecture
            folds = finetune_cv(lambda k: random_encoder(X.shape[1], arch, p.seed + k), X, y, p, device=device,
                                log=log, name=name, checkpoints=resume, precision=precision)
        else:
            folds = self._fit_shallow(X, y, log)
        if resume is not None:
            resume.discard()
        return self._fitted(folds, X, y, trained_on, files, log)

    def _fitted(self, folds: list[FoldResult], X: np.ndarray, y: np.ndarray, trained_on: dict,
                files: Mapping[str, str | Path] | None, log: logging.Logger) -> DrugResponseModel:
        """Keep the fold models, their metrics and the training data's card entries."""
        p, name = self.params.finetune, f"{self.method} {self.drug}"
        self.trained_on = trained_on
        self.folds = [f.model for f in folds]
        self.cv = [{"fold": f.fold, **f.val_metrics, **{k: v for k, v in f.info.items() if k != "history"}}
                   for f in folds]
        if isinstance(self.folds[0], DrugClassifier):
            self.architecture = {"encoder": encoder_spec(self.folds[0].encoder),
                                 "head": {"hidden": list(p.classifier_hidden), "dropout": p.dropout}}
        self.training_data = {"X_sha256": array_sha256(X), "y_sha256": array_sha256(y),
                              "n_cell_lines": int(len(y)), "n_sensitive": int(y.sum())}
        if files:
            self.training_data["files"] = provenance(files)
        log.info("%s: held-out cell-line AUROC per fold %s", name, [round(r["auroc"], 3) for r in self.cv])
        return self

    @classmethod
    def fit_drugs(cls, method: str, params: CodeAEMethodParams | Mapping, X, labels, *,
                  encoder: CodeAE | None = None, genes: Sequence[str] | None = None,
                  standardisation: Standardisation | None = None, device: str | torch.device = "auto",
                  log: logging.Logger | None = None, group_size: int | None = None,
                  files: Mapping[str, str | Path] | None = None) -> dict[str, DrugResponseModel]:
        """One fitted model per drug, as :meth:`fit` gives it, the folds of all drugs of a
        network method trained together (:func:`~drugshift.models.codeae.stacked.finetune_drugs`:
        stacked weights, one batched step for ``group_size`` fold models; on the CPU the same
        models as one :meth:`fit` per drug, to float tolerance). Scikit-learn methods fit one
        drug after the other.

        Args:
            X: cell lines × genes (a DataFrame, or an array in ``genes`` order).
            labels: cell lines × drugs, 1 sensitive, 0 resistant, NaN unscreened (a DataFrame
                whose rows are X's, or a mapping drug → labels aligned to X's rows). Each drug
                is cross-validated on its labelled lines.
            group_size: fold models per stacked group (default
                :data:`~drugshift.models.codeae.stacked.GROUP_SIZE`; a GPU takes hundreds).

        Returns:
            drug → :class:`DrugResponseModel`, fp32 and without training checkpoints.
        """
        from drugshift.models.codeae.stacked import GROUP_SIZE, finetune_drugs

        log = log or _log
        if isinstance(labels, pd.DataFrame):
            if isinstance(X, pd.DataFrame) and not labels.index.equals(X.index):
                raise ValueError("the labels' rows must be X's cell lines, in X's order")
            labels = {str(d): labels[d].to_numpy(dtype=np.float64) for d in labels.columns}
        models = {d: cls(method, d, params, genes=genes, standardisation=standardisation, encoder=encoder)
                  for d in labels}
        if not models:
            return {}
        first = next(iter(models.values()))
        gene_order = first.genes or _genes_of(X)
        Xm = _matrix(X, gene_order, "X")
        ys = {d: np.asarray(y, dtype=np.float64).ravel() for d, y in labels.items()}
        for m in models.values():
            m.genes = list(gene_order)
        if first.kind == "shallow":
            for d, m in models.items():
                rows = np.isfinite(ys[d])
                m.fit(Xm[rows], ys[d][rows], log=log, files=files)
            return models
        p = first.params.finetune
        if first.kind == "mlp":
            arch = first.params.architecture
            enc = lambda k: random_encoder(Xm.shape[1], arch, p.seed + k)  # noqa: E731
        else:
            enc = encoder.encoder
        dev = resolve_device(device)
        folds = finetune_drugs(enc, Xm, ys, p, device=dev, log=log, group_size=group_size or GROUP_SIZE,
                               name=method)
        for d, m in models.items():
            rows = np.isfinite(ys[d])
            y = as_binary_labels(ys[d][rows], int(rows.sum()), f"labels of {d}")
            m._fitted(folds[d], Xm[rows], y, {"device": str(dev), "precision": "fp32"}, files, log)
        return models

    def _fit_shallow(self, X: np.ndarray, y: np.ndarray, log: logging.Logger) -> list[FoldResult]:
        from drugshift.models.baselines import fit_shallow

        p = self.params.finetune
        results = []
        for k, (tr, va) in enumerate(cv_folds(y, p.n_folds, p.seed)):
            search = fit_shallow(self.method, X[tr], y[tr], p.seed + k, log=log)
            est = search.best_estimator_
            val = classification_metrics(y[va], est.predict_proba(X[va])[:, 1])
            log.info("[%s %s] fold %d: held-out cell-line AUROC %.3f (%d lines)", self.method, self.drug, k,
                     val["auroc"], len(va))
            info = {"best_params": {k2.removeprefix("model__"): v for k2, v in search.best_params_.items()},
                    "inner_cv_auroc": float(search.best_score_)}
            results.append(FoldResult(fold=k, model=est, val_metrics=val, info=info))
        return results

    # ------------------------------------------------------------------ prediction

    def _inputs(self, X, domain: str | None) -> np.ndarray:
        if not self.folds:
            raise RuntimeError(f"{self.method} / {self.drug}: the model is not fitted")
        M = _matrix(X, self.genes, "X")
        if domain is None:
            return M
        if domain not in self.standardisation:
            raise ValueError(f"no standardisation for domain {domain!r}; the model has "
                             f"{sorted(self.standardisation) or 'none'}")
        mean, sd = self.standardisation[domain]
        z = (M.astype(np.float64) - mean) / sd
        return np.nan_to_num(z, nan=0.0).astype(np.float32)

    def predict_folds(self, X, *, domain: str | None = None) -> np.ndarray:
        """``(n_folds, n)`` probabilities of sensitivity, one row per fold model.

        ``X``: samples × genes (a DataFrame is matched by gene name) on the model's input scale,
        or, with ``domain``, on that domain's scale before standardisation (the model applies
        the stored per-gene mean and SD of that domain).
        """
        M = self._inputs(X, domain)
        rows = []
        for m in self.folds:
            if isinstance(m, nn.Module):
                rows.append(predict_proba(m, M))
            else:
                rows.append(np.asarray(m.predict_proba(M)[:, 1], dtype=np.float64))
        return np.vstack(rows)

    def predict(self, X, *, domain: str | None = None, folds: bool = False) -> pd.DataFrame:
        """Per sample: ``sens_prob`` (mean over the fold models), ``sens_prob_sd`` (their
        standard deviation, ddof 0) and ``sens_label`` (1 = sensitive, ``sens_prob ≥ 0.5``),
        after each fold model's probability ``fold_<k>`` when ``folds``; the index is ``X``'s
        (a DataFrame) or ``0…n−1``. ``domain``: see :meth:`predict_folds`."""
        probs = self.predict_folds(X, domain=domain)
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(probs.shape[1])
        out = pd.DataFrame({f"fold_{k}": row for k, row in enumerate(probs)} if folds else {}, index=index)
        mean = probs.mean(axis=0)
        out["sens_prob"], out["sens_prob_sd"], out["sens_label"] = mean, probs.std(axis=0), predicted_labels(mean)
        return out

    def embed(self, X, *, fold: int = 0, domain: str | None = None) -> np.ndarray:
        """The fine-tuned encoder's embedding of ``X`` in fold ``fold`` (network methods only)."""
        model = self.folds[fold] if self.folds else None
        if not isinstance(model, DrugClassifier):
            raise TypeError(f"{self.method} has no embedding (not a network)")
        M = self._inputs(X, domain)
        return apply_in_chunks(model.encoder, M, next(model.parameters()).device)

    # ------------------------------------------------------------------ persistence

    def card(self) -> dict:
        """The model card (``model.json``)."""
        card = {"method": self.method, "method_kind": self.kind, "drug": self.drug, "genes": self.genes,
                "n_genes": len(self.genes or []), "n_folds": len(self.folds), "params": self.params.to_dict(),
                "standardisation": sorted(self.standardisation), "architecture": self.architecture,
                "cv": self.cv, "training_data": self.training_data, "pretrained_encoder": self.encoder_info,
                "trained_on": self.trained_on, "environment": environment()}
        return card

    def save(self, directory: str | Path) -> Path:
        """Write the model folder (:func:`drugshift.checkpoint.save_model_dir`)."""
        if not self.folds:
            raise RuntimeError(f"{self.method} / {self.drug}: nothing to save, the model is not fitted")
        tensors = {f"fold_{k}": _state(m) for k, m in enumerate(self.folds) if isinstance(m, nn.Module)}
        tensors["standardisation"] = {f"{d}/{part}": torch.as_tensor(v)
                                      for d, (mean, sd) in self.standardisation.items()
                                      for part, v in (("mean", mean), ("sd", sd))}
        estimators = [m for m in self.folds if not isinstance(m, nn.Module)]
        return save_model_dir(directory, kind=DRUG_KIND, card=self.card(), tensors=tensors, estimators=estimators)

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> DrugResponseModel:
        """Read a folder written by :meth:`save`; networks in eval mode on ``device``."""
        dev = resolve_device(device)
        files = read_model_dir(directory, DRUG_KIND, dev)
        card = files.card
        std = files.tensors.get("standardisation", {})
        standardisation = {d: (std[f"{d}/mean"].cpu().numpy(), std[f"{d}/sd"].cpu().numpy())
                           for d in card["standardisation"]}
        model = cls.__new__(cls)
        model.method, model.drug = card["method"], card["drug"]
        model.params = method_params_from_dict(card["params"])
        model.encoder = None  # the fold models carry their fine-tuned encoders
        model.encoder_info = card.get("pretrained_encoder", {})
        model.genes = list(card["genes"])
        model.standardisation = standardisation
        model.cv, model.training_data = card["cv"], card["training_data"]
        model.architecture = card["architecture"]
        model.trained_on = card.get("trained_on", {})
        model.precision = model.trained_on.get("precision", "fp32")
        if files.estimators:
            model.folds = list(files.estimators)
        else:
            arch = card["architecture"]
            model.folds = []
            for k in range(card["n_folds"]):
                net = DrugClassifier(encoder_from_spec(arch["encoder"]), arch["head"]["hidden"], arch["head"]["dropout"])
                net.load_state_dict(files.tensors[f"fold_{k}"])
                model.folds.append(net.to(dev).eval())
        if len(model.folds) != card["n_folds"]:
            raise ValueError(f"{directory}: the card lists {card['n_folds']} folds, the files hold {len(model.folds)}")
        return model
