"""scDEAL's hyperparameters (torch-free: the workflow resolves them when it builds the DAG)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from drugshift.params.base import Params, check, positive_widths

__all__ = ["MODES", "SAMPLING_METHODS", "SC_INIT", "ScDEALParams"]

SAMPLING_METHODS = ("none", "upsampling", "downsampling", "smote")
MODES = ("corrected", "reference")
SC_INIT = ("auto", "bulk", "random")


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
            widths match, else ``random``). See :func:`fit_scdeal` for why.
        sc_val_fraction: fraction of cells held out to validate the sc DAE and the MMD term of
            the joint validation loss (cells carry no labels; nothing else uses them).
        mode: ``corrected`` (the paper) or ``reference`` (the reference code's behaviour).
        seed: seed of every random choice (splits, sampling, initialisation, masks, order).
        log_every: epochs between progress lines.
    """

    label: ClassVar[str] = "scDEAL"

    bulk_hidden: list[int] = field(default_factory=lambda: [512, 256])
    bulk_bottleneck: int = 32
    sc_hidden: list[int] = field(default_factory=lambda: [512, 256])
    predictor_hidden: list[int] = field(default_factory=lambda: [16, 8])
    dropout: float = 0.3
    batchnorm: bool = True
    noise_p: float = 0.2
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 200
    epochs_dae: int = 500
    epochs_sc_dae: int | None = None
    predictor_noise_p: float = 0.0
    epochs_predictor: int = 500
    epochs_joint: int = 500
    patience: int = 30
    lr_decay_patience: int | None = 10
    mmd_weight: float = 0.25
    reg_weight: float = 1.0
    consistency_weight: float = 0.0
    sampling: str = "none"
    leiden_resolution: float = 0.2
    leiden_neighbors: str = "umap"
    freeze_bulk_encoder: bool = False
    sc_init: str = "auto"
    sc_val_fraction: float = 0.2
    mode: str = "corrected"
    seed: int = 42
    log_every: int = 10

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("bulk_hidden", "sc_hidden", "predictor_hidden"):
            positive_widths(name, getattr(self, name), problems)
        if self.bulk_bottleneck <= 0:
            problems.append(f"bulk_bottleneck must be > 0 (got {self.bulk_bottleneck})")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1) (got {self.dropout})")
        if not 0 <= self.noise_p < 1:
            problems.append(f"noise_p must be in [0, 1) (got {self.noise_p})")
        if not self.lr > 0:
            problems.append(f"lr must be > 0 (got {self.lr})")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0 (got {self.weight_decay})")
        if not 0.0 <= self.predictor_noise_p < 1.0:
            problems.append(f"predictor_noise_p must be in [0, 1) (got {self.predictor_noise_p})")
        if self.epochs_sc_dae is not None and int(self.epochs_sc_dae) < 0:
            problems.append(f"epochs_sc_dae must be >= 0 or None (got {self.epochs_sc_dae})")
        if self.batch_size < 2:
            problems.append(f"batch_size must be >= 2 for BatchNorm (got {self.batch_size})")
        for name in ("epochs_dae", "epochs_predictor", "epochs_joint", "patience", "log_every"):
            if int(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        if self.lr_decay_patience is not None and self.lr_decay_patience < 0:
            problems.append(f"lr_decay_patience must be >= 0 or null (got {self.lr_decay_patience})")
        if self.mmd_weight < 0 or self.reg_weight < 0 or self.consistency_weight < 0:
            problems.append(f"mmd_weight, reg_weight and consistency_weight must be >= 0 (got {self.mmd_weight}, "
                            f"{self.reg_weight}, {self.consistency_weight})")
        if self.sampling not in SAMPLING_METHODS:
            problems.append(f"sampling must be one of {SAMPLING_METHODS} (got {self.sampling!r})")
        if self.sc_init not in SC_INIT:
            problems.append(f"sc_init must be one of {SC_INIT} (got {self.sc_init!r})")
        elif self.sc_init == "bulk" and self.sc_hidden != self.bulk_hidden:
            problems.append(
                f"sc_init='bulk' needs sc_hidden == bulk_hidden (got {self.sc_hidden} and {self.bulk_hidden})"
            )
        if self.mode not in MODES:
            problems.append(f"mode must be one of {MODES} (got {self.mode!r})")
        if self.leiden_neighbors not in ("umap", "gauss"):
            problems.append(f"leiden_neighbors must be 'umap' or 'gauss' (got {self.leiden_neighbors!r})")
        if self.leiden_resolution <= 0:
            problems.append(f"leiden_resolution must be > 0 (got {self.leiden_resolution})")
        if not 0 < self.sc_val_fraction < 1:
            problems.append(f"sc_val_fraction must be in (0, 1) (got {self.sc_val_fraction})")
        check(problems, self.label)

    def resolved_sc_init(self) -> str:
        """``bulk`` or ``random``: what ``sc_init`` means for these parameters."""
        if self.sc_init != "auto":
            return self.sc_init
        return "bulk" if self.mode == "corrected" and self.sc_hidden == self.bulk_hidden else "random"
