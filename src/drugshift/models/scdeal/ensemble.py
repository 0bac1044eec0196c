"""A deep ensemble of scDEAL models: one saved model object whose prediction is the members'
mean probability and whose spread is a per-cell uncertainty.

Members differ in their seed and in their bulk split (member ``i`` validates on fold ``i`` and is
tested on fold ``i + 1`` of one stratified split of the cell lines,
:func:`drugshift.splits.fold_train_val_test`), so a run no longer hangs on one lucky or unlucky
split. They share the data, the Leiden clusters of the cells and every other parameter, and
train one after the other in this process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from drugshift.cards import array_sha256
from drugshift.checkpoint import read_model_dir, save_model_dir
from drugshift.models.scdeal.data import cell_clusters, check_bulk, check_cells
from drugshift.models.scdeal.diagnostics import member_spread
from drugshift.models.scdeal.model import ScDEAL, _names, diagnose_members, gene_matrix
from drugshift.params import ScDEALParams
from drugshift.train import resolve_device, resolve_precision

__all__ = ["ENSEMBLE_KIND", "ScDEALEnsemble", "load_scdeal", "member_params", "new_scdeal"]

#: The model folder's ``kind``.
ENSEMBLE_KIND = "scdeal-ensemble"

_log = logging.getLogger("drugshift.models.scdeal")


def member_params(params: ScDEALParams, member: int) -> ScDEALParams:
    """Member ``member``'s parameters: its own seed (drawn from the ensemble's seed and its
    index, so members of neighbouring ensemble seeds do not share initial weights) and its fold
    of the ensemble's bulk split."""
    seed = int(np.random.SeedSequence([params.seed, member]).generate_state(1)[0] >> 1)
    return params.replace(seed=seed, ensemble=1, bulk_fold=member, bulk_folds=max(params.ensemble, 5),
                          split_seed=params.seed)


def new_scdeal(params: ScDEALParams | Mapping | None = None, *, device: str | torch.device = "auto",
               precision: str = "fp32"):
    """An untrained :class:`ScDEALEnsemble` when ``params.ensemble`` > 1, else a :class:`ScDEAL`."""
    params = ScDEALParams.from_dict(params)
    return (ScDEALEnsemble if params.ensemble > 1 else ScDEAL)(params, device=device, precision=precision)


def load_scdeal(directory: str | Path, device: str | torch.device = "cpu"):
    """A scDEAL model folder of either kind (a single model or an ensemble)."""
    import json

    from drugshift.checkpoint import CARD

    try:
        kind = json.loads((Path(directory) / CARD).read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        kind = None  # ScDEAL.load names what is wrong with the folder
    return (ScDEALEnsemble if kind == ENSEMBLE_KIND else ScDEAL).load(directory, device=device)


class _MeanOfMembers(nn.Module):
    """The members' networks side by side, their outputs averaged (probabilities or logits)."""

    def __init__(self, networks: list[nn.Module]):
        super().__init__()
        self.networks = nn.ModuleList(networks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([net(x) for net in self.networks]).mean(dim=0)


class ScDEALEnsemble:
    """``params.ensemble`` scDEAL models (:class:`~drugshift.models.scdeal.ScDEAL`) trained on
    the same bulk data and cells, used as one.

    The interface is :class:`ScDEAL`'s: ``fit``, ``predict`` (the members' mean probability of
    sensitivity), ``predict_no_transfer``, ``predict_bulk``, ``embed``, ``cell_model``,
    ``retrain``, ``save`` / ``load``; plus :meth:`predict_members` and :meth:`predict_sd` (the
    members' probabilities and their spread per cell). One folder holds every member
    (``model.json``: the ensemble's card with each member's; ``weights.pt``: every member's
    weights, the bulk training data once).

    Args:
        params: the ensemble's parameters (``ensemble`` members, ``seed`` of the ensemble).
        device: ``auto``, ``cpu`` or ``cuda[:N]``.

    Attributes (after ``fit`` or ``load``):
        members (list of :class:`ScDEAL`), params, device, genes, drug, diagnostics (over the
        members: agreement, spread, out-of-fold bulk AUROC, verdict), thresholds,
        training_data and preprocessing (as the members').
    """

    def __init__(self, params: ScDEALParams | Mapping | None = None, *, device: str | torch.device = "auto",
                 precision: str = "fp32"):
        self.params = ScDEALParams.from_dict(params)
        if self.params.ensemble < 2:
            raise ValueError(f"an ensemble needs at least 2 members (params.ensemble = {self.params.ensemble}); "
                             "train a single ScDEAL instead")
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device, _log)  # the members' (fp32 unless CUDA)
        self.members: list[ScDEAL] = []
        self.diagnostics: dict = {}
        self.thresholds: dict[str, float] = {}
        self.retrained_from: dict | None = None

    # ----------------------------------------------------------------- training

    def fit(self, bulk, y_bulk, cells, *, drug: str | None = None, dataset: str | None = None,
            clusters: np.ndarray | None = None, training_files: Mapping[str, str | Path] | None = None,
            log: logging.Logger | None = None, checkpoints: str | Path | None = None) -> ScDEALEnsemble:
        """Train every member (:meth:`ScDEAL.fit`, same arguments), then the ensemble's
        diagnostics on the cells.

        With ``checkpoints``, each finished member is kept in ``<checkpoints>/member<i>`` and the
        unfinished one checkpoints its epochs there, so a killed fit called again resumes with
        the member it was training; the folder is deleted at the end.
        """
        p, log = self.params, log or _log
        genes = _names(bulk, "genes") or _names(cells, "genes")
        Xb, yb = check_bulk(bulk, y_bulk)
        Xs = check_cells(gene_matrix(cells, "X_sc", genes), Xb.shape[1])
        if clusters is None and p.reg_weight > 0:  # once, for every member
            clusters = cell_clusters(Xs, p.leiden_resolution, p.seed, neighbors_method=p.leiden_neighbors)
            log.info("scDEAL ensemble: %d Leiden clusters at resolution %g", int(clusters.max()) + 1,
                     p.leiden_resolution)
        root = None if checkpoints is None else Path(checkpoints)
        self.members = []
        for i in range(p.ensemble):
            params = member_params(p, i)
            done = None if root is None else root / f"member{i}"
            member = _finished_member(done, params, Xb, self.device, log)
            if member is None:
                log.info("scDEAL ensemble: member %d of %d (seed %d, bulk fold %d of %d)", i + 1, p.ensemble,
                         params.seed, params.bulk_fold, params.bulk_folds)
                member = ScDEAL(params, device=self.device, precision=self.precision).fit(
                    bulk, y_bulk, cells, drug=drug, dataset=dataset, clusters=clusters, training_files=training_files,
                    log=log, checkpoints=None if root is None else root / f"member{i}.resume")
                if done is not None:
                    member.save(done)
            self.members.append(member)
        self.diagnostics, self.thresholds = diagnose_members(self.members, Xs, p, log)
        if root is not None:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
        return self

    def retrain(self, cells, *, dataset: str | None = None, clusters: np.ndarray | None = None,
                training_files: Mapping[str, str | Path] | None = None,
                log: logging.Logger | None = None) -> ScDEALEnsemble:
        """Every member's :meth:`ScDEAL.retrain` on ``cells`` (same arguments), as a new ensemble."""
        log = log or _log
        first = self._check_fitted()[0]
        Xs = check_cells(first._matrix(cells, "X_sc"), first.module.n_genes)
        if clusters is None and self.params.reg_weight > 0:
            p = self.params
            clusters = cell_clusters(Xs, p.leiden_resolution, p.seed, neighbors_method=p.leiden_neighbors)
        new = ScDEALEnsemble(self.params, device=self.device, precision=self.precision)
        new.members = [m.retrain(cells, dataset=dataset, clusters=clusters, training_files=training_files, log=log)
                       for m in self.members]
        new.retrained_from = new.members[0].retrained_from
        new.diagnostics, new.thresholds = diagnose_members(new.members, Xs, self.params, log)
        return new

    # ----------------------------------------------------------------- inference

    def _check_fitted(self) -> list[ScDEAL]:
        if not self.members:
            raise RuntimeError("this ScDEALEnsemble is not trained: call fit() or ScDEALEnsemble.load()")
        return self.members

    def predict_members(self, cells) -> np.ndarray:
        """``(cells, members)``: each member's probability of sensitivity."""
        return np.column_stack([m.predict(cells) for m in self._check_fitted()])

    def predict(self, cells) -> np.ndarray:
        """The members' mean probability of sensitivity, ``(cells,)`` float64."""
        return self.predict_members(cells).mean(axis=1)

    def predict_sd(self, cells) -> np.ndarray:
        """The members' spread (standard deviation, ddof 1) per cell: the ensemble's uncertainty."""
        return member_spread(self.predict_members(cells))

    def predict_no_transfer(self, cells) -> np.ndarray:
        """The members' bulk models without transfer, averaged."""
        return np.column_stack([m.predict_no_transfer(cells) for m in self._check_fitted()]).mean(axis=1)

    def predict_bulk(self, bulk) -> np.ndarray:
        """The members' ``P(Eb(x))`` after joint training, averaged."""
        return np.column_stack([m.predict_bulk(bulk) for m in self._check_fitted()]).mean(axis=1)

    def embed(self, cells) -> np.ndarray:
        """The first member's ``Es(x)`` (members' embedding spaces differ, so they are not
        averaged); a UMAP of it shows how one member sees the cells."""
        return self._check_fitted()[0].embed(cells)

    def cell_model(self, probabilities: bool = True) -> nn.Module:
        """The members' ``Es → P [→ softmax]`` averaged, ``(cells, genes) → (cells, 2)``: with
        ``probabilities`` exactly the ensemble's :meth:`predict` (column 1), the input to
        integrated-gradient attribution."""
        return _MeanOfMembers([m.cell_model(probabilities) for m in self._check_fitted()]).eval()

    @property
    def threshold(self) -> float:
        """The cut of ``sens_label`` under ``params.label_threshold``."""
        return float(self.thresholds.get(self.params.label_threshold, 0.5))

    def bulk_model(self, probabilities: bool = True) -> nn.Module:
        """The members' ``Eb → P [→ softmax]`` averaged: :meth:`predict_bulk` as one module."""
        return _MeanOfMembers([m.bulk_model(probabilities) for m in self._check_fitted()]).eval()

    # The first member's records (every member was trained on the same data).
    genes = property(lambda self: self._check_fitted()[0].genes)
    drug = property(lambda self: self._check_fitted()[0].drug)
    preprocessing = property(lambda self: self._check_fitted()[0].preprocessing)
    training_data = property(lambda self: self._check_fitted()[0].training_data)

    # ----------------------------------------------------------------- persistence

    def card(self) -> dict:
        """The ensemble's card: ``method``, ``members``, ``drug``, ``genes``, ``n_genes``,
        ``preprocessing``, ``params`` (the ensemble's), ``seed``, ``training_data``,
        ``diagnostics``, ``thresholds``, ``member_cards`` (each member's :meth:`ScDEAL.card`)."""
        members = self._check_fitted()
        first = members[0].card()
        return {
            "method": "scDEAL ensemble",
            "members": len(members),
            "transductive": first["transductive"],
            "drug": first["drug"],
            "genes": first["genes"],
            "n_genes": first["n_genes"],
            "preprocessing": first["preprocessing"],
            "params": self.params.to_dict(),
            "seed": self.params.seed,
            "training_data": first["training_data"],
            "validation": {"members": [m.bulk_metrics for m in members]},
            "diagnostics": self.diagnostics,
            "thresholds": self.thresholds,
            "trained_on": first["trained_on"],
            **({"retrained_from": self.retrained_from} if self.retrained_from else {}),
            "member_cards": [m.card() for m in members],
        }

    def save(self, directory: str | Path) -> Path:
        """Write one model folder holding every member (see the class docstring)."""
        members = self._check_fitted()
        # weights.pt holds one level of named tensor groups: member i's group g is "member<i>.<g>".
        tensors: dict = {f"member{i}.{group}": values for i, m in enumerate(members)
                         for group, values in m._tensors(bulk=False).items()}
        if members[0]._bulk is not None:
            Xb, yb = members[0]._bulk
            tensors["bulk_training"] = {"X": torch.as_tensor(Xb), "y": torch.as_tensor(yb)}
        return save_model_dir(directory, kind=ENSEMBLE_KIND, card=self.card(), tensors=tensors)

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> ScDEALEnsemble:
        """Read a folder written by :meth:`save` onto ``device``."""
        files = read_model_dir(directory, ENSEMBLE_KIND, device)
        card, tensors = files.card, files.tensors
        model = cls(ScDEALParams.from_dict(card["params"], f"{directory}/model.json params"), device=device)
        cards = card.get("member_cards") or []
        groups: dict[str, dict] = {}
        for name, values in tensors.items():
            if name.startswith("member") and "." in name:
                member, group = name.split(".", 1)
                groups.setdefault(member, {})[group] = values
        if len(cards) != card.get("members") or len(groups) != len(cards):
            raise ValueError(f"{directory}: the card lists {card.get('members')} members but weights.pt holds "
                             f"{len(groups)}")
        model.members = [ScDEAL._from_saved(c, groups.get(f"member{i}", {}), f"{directory} member {i}", device,
                                            bulk_training=tensors.get("bulk_training"))
                         for i, c in enumerate(cards)]
        model.diagnostics, model.thresholds = card.get("diagnostics", {}), card.get("thresholds", {})
        model.retrained_from = card.get("retrained_from")
        return model

    def __repr__(self) -> str:
        state = "untrained" if not self.members else f"{self.members[0].module.n_genes} genes"
        drug = self.members[0].drug if self.members else None
        return (f"ScDEALEnsemble(drug={drug!r}, {self.params.ensemble} members, {state}, "
                f"mode={self.params.mode!r}, seed={self.params.seed})")


def _finished_member(folder: Path | None, params: ScDEALParams, Xb: np.ndarray, device: torch.device,
                     log: logging.Logger) -> ScDEAL | None:
    """A member kept by an earlier, killed fit, when its parameters and bulk data are this one's."""
    if folder is None or not (folder / "model.json").is_file():
        return None
    try:
        member = ScDEAL.load(folder, device=device)
    except (ValueError, OSError) as e:
        log.info("scDEAL ensemble: ignoring the unreadable finished member in %s (%s)", folder, e)
        return None
    same = (member.params.to_dict() == params.to_dict()
            and (member.training_data.get("sha256") or {}).get("bulk") == array_sha256(Xb))
    if not same:
        log.info("scDEAL ensemble: %s was trained with other parameters or data; training the member again", folder)
        return None
    log.info("scDEAL ensemble: member %d resumed from %s", params.bulk_fold + 1, folder)
    return member
