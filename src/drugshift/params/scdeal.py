"""scDEAL's hyperparameters (torch-free: the workflow resolves them when it builds the DAG)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from drugshift.params.base import Params, rule

__all__ = ["LABEL_THRESHOLDS", "MODES", "SAMPLING_METHODS", "SC_INIT", "ScDEALParams"]

SAMPLING_METHODS = ("none", "upsampling", "downsampling", "smote")
MODES = ("corrected", "reference")
SC_INIT = ("auto", "bulk", "random")
LABEL_THRESHOLDS = ("paper", "bulk_f1", "bulk_rate")


@dataclass
class ScDEALParams(Params):
    """Hyperparameters of scDEAL (:class:`drugshift.models.scdeal.ScDEAL`) (defaults: METHODS.md "Reference code defaults",
    except ``lr`` which the reference ignored and ``patience``, which it did not have).

    Attributes:
        bulk_hidden: hidden widths of the bulk encoder ``Eb`` (decoder mirrors them).
        bulk_bottleneck: embedding size shared by ``Eb`` and ``Es`` (``P`` reads both).
        sc_hidden: hidden widths of the single-cell encoder ``Es``.
        predictor_hidden: hidden widths of ``P``.
        dropout: dropout probability in every block.
        batchnorm: BatchNorm in every hidden layer.
        noise_p: DAE masking probability (0 = plain autoencoder).
        lr: Adam learning rate for every stage.
        weight_decay: Adam weight decay.
        batch_size: minibatch size (bulk; the sc minibatch in joint training has the same size).
        epochs_dae: maximum epochs of each DAE pretraining (bulk and sc).
        epochs_sc_dae: maximum epochs of the sc DAE pretraining when it should differ from
            ``epochs_dae`` (``None``: same). 0 keeps the sc encoder at its initialisation.
        predictor_noise_p: masking probability applied to bulk inputs wherever the bulk
            cross-entropy is trained (step 2 and the CE term of step 4); 0 (the paper) trains
            ``P`` on clean bulk profiles. Masking teaches the bulk model the dropout it will see
            in cells, in the spirit of the DAE; on the demo it lifts the bulk model's AUROC on
            cells from 0.68–0.86 to 0.93–0.95 across seeds.
        epochs_predictor: maximum epochs of the predictor stage.
        epochs_joint: maximum epochs of joint DaNN training.
        patience: early-stopping patience (epochs without validation improvement; 0 = none).
        lr_decay_patience: ``ReduceLROnPlateau`` patience (factor 0.1, as in the reference);
            ``None`` disables the scheduler.
        mmd_weight: α, weight of the MMD term.
        reg_weight: β, weight of the cell-cluster regulariser (0 disables it and skips Leiden).
        consistency_weight: γ, weight of a label-free anchor in joint training (not in the
            paper; 0 disables it): the cross-entropy of ``P(Es(x))`` against the soft
            predictions of the frozen bulk model (the no-transfer model ``P₀(Eb₀(x))``) on the
            same cells. MMD matches the two embedding distributions but not which cells go
            where, so on real cells it can swap sensitive and resistant; the anchor keeps the
            bulk model's orientation while MMD and the regulariser refine the cells' embedding.
        sampling: class balancing of the bulk training split: ``none``, ``upsampling``,
            ``downsampling`` or ``smote``.
        leiden_resolution: resolution of the Leiden clustering of cells.
        leiden_neighbors: scanpy's kNN connectivity kernel for that clustering: ``umap``
            (scanpy's default; JIT-compiles for ~10 s once per process) or ``gauss``.
        freeze_bulk_encoder: keep ``Eb`` fixed while training ``P`` in step 2 (the reference's
            ``--freeze_pretrain``, default off: ``Eb`` is fine-tuned with ``P``).
        sc_init: initial weights of the sc DAE before its pretraining: ``random`` (the paper and
            the reference: an independent DAE), ``bulk`` (copy of the bulk DAE after step 2;
            needs ``sc_hidden == bulk_hidden``) or ``auto`` (``bulk`` in corrected mode when the
            widths match, else ``random``). See ``ScDEALModule.start_sc_dae_from_bulk`` for why.
        sc_val_fraction: fraction of cells held out to validate the sc DAE and the MMD term of
            the joint validation loss (cells carry no labels; nothing else uses them).
        mode: ``corrected`` (the paper) or ``reference`` (the reference code's behaviour).
        seed: seed of every random choice (splits, sampling, initialisation, masks, order).
        ensemble: number of models trained and averaged (a deep ensemble,
            :class:`drugshift.models.scdeal.ScDEALEnsemble`). Members differ in seed and in
            the bulk split: member ``i`` validates on fold ``i`` and is tested on fold ``i + 1``
            of a stratified ``max(ensemble, 5)``-fold split of the cell lines, so every cell
            line validates once when ``ensemble ≥ 5``. Predictions are the members' mean
            probability and their spread (``sens_prob_sd``); 1 trains a single model on the
            64/16/20 split.
        bulk_fold, bulk_folds, split_seed: a member's bulk split (set by the ensemble for each
            member; ``bulk_fold`` ``None`` means the 64/16/20 split with ``seed``):
            :func:`drugshift.splits.fold_train_val_test` with these values.
        label_threshold: how the binary label ``sens_label`` is cut from ``sens_prob``:
            ``paper`` (0.5, the paper's rule), ``bulk_f1`` (the threshold that maximises F1 on
            the bulk validation cell lines, pooled over members) or ``bulk_rate`` (the cells'
            quantile that labels the bulk training lines' share of sensitive lines
            sensitive). Neither alternative reads a cell label; all three are reported.
        uncertain_sd: ensemble spread (sd of the members' probabilities) above which a cell
            counts as uncertain in the transfer diagnostics (0.15: the members disagree by more
            than ±0.15 on a probability, a third of the way to the 0.5 boundary).
        log_every: epochs between progress lines.
        checkpoint_every: epochs between training checkpoints of a workflow job (0: none), from
            which a killed job resumes with the weights of an uninterrupted run
            (:mod:`drugshift.resume`). At 50 a checkpoint (the stage's weights, optimiser state
            and best weights: 37 MB, 0.04 s CPU for the paper's widths on 2000 genes) costs under
            2% of the 50 epochs it follows (0.35 s each for 1000 cell lines), and a kill loses at
            most 50 epochs.
    """

    label: ClassVar[str] = "scDEAL"

    bulk_hidden: list[int] = rule(factory=lambda: [512, 256], widths=True)
    bulk_bottleneck: int = rule(32, gt=0)
    sc_hidden: list[int] = rule(factory=lambda: [512, 256], widths=True)
    predictor_hidden: list[int] = rule(factory=lambda: [16, 8], widths=True)
    dropout: float = rule(0.3, ge=0, lt=1)
    batchnorm: bool = True
    noise_p: float = rule(0.2, ge=0, lt=1)
    lr: float = rule(1e-3, gt=0)
    weight_decay: float = rule(0.0, ge=0)
    batch_size: int = rule(200, ge=2)
    epochs_dae: int = rule(500, ge=0)
    epochs_sc_dae: int | None = rule(None, ge=0)
    predictor_noise_p: float = rule(0.0, ge=0, lt=1)
    epochs_predictor: int = rule(500, ge=0)
    epochs_joint: int = rule(500, ge=0)
    patience: int = rule(30, ge=0)
    lr_decay_patience: int | None = rule(10, ge=0)
    mmd_weight: float = rule(0.25, ge=0)
    reg_weight: float = rule(1.0, ge=0)
    consistency_weight: float = rule(0.0, ge=0)
    sampling: str = rule("none", choices=SAMPLING_METHODS)
    leiden_resolution: float = rule(0.2, gt=0)
    leiden_neighbors: str = rule("umap", choices=("umap", "gauss"))
    freeze_bulk_encoder: bool = False
    sc_init: str = rule("auto", choices=SC_INIT)
    sc_val_fraction: float = rule(0.2, gt=0, lt=1)
    mode: str = rule("corrected", choices=MODES)
    seed: int = 42
    ensemble: int = rule(1, ge=1)
    bulk_fold: int | None = rule(None, ge=0)
    bulk_folds: int = rule(5, ge=3)
    split_seed: int | None = None
    label_threshold: str = rule("paper", choices=LABEL_THRESHOLDS)
    uncertain_sd: float = rule(0.15, gt=0, le=0.5)
    log_every: int = rule(10, ge=0)
    checkpoint_every: int = rule(50, ge=0)

    def cross_checks(self) -> list[str]:
        problems = []
        if self.sc_init == "bulk" and self.sc_hidden != self.bulk_hidden:
            problems.append(f"sc_init='bulk' needs sc_hidden == bulk_hidden (got {self.sc_hidden} and {self.bulk_hidden})")
        if self.bulk_fold is not None and self.bulk_fold >= self.bulk_folds:
            problems.append(f"bulk_fold must be below bulk_folds ({self.bulk_folds}), got {self.bulk_fold}")
        return problems

    def resolved_sc_init(self) -> str:
        """``bulk`` or ``random``: what ``sc_init`` means for these parameters."""
        if self.sc_init != "auto":
            return self.sc_init
        return "bulk" if self.mode == "corrected" and self.sc_hidden == self.bulk_hidden else "random"
