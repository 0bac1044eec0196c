"""CODE-AE's hyperparameters and those of its benchmark baselines (torch-free: the workflow
resolves them when it builds the DAG).

Three budgets, three names: ``CodeAEParams.warmup_epochs`` + ``pretrain_epochs`` (fixed-length
pretraining), ``BaselineParams.max_epochs`` (baseline pretraining with early stopping) and
``FinetuneParams.max_epochs`` (fine-tuning, one budget for every method of a benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from drugshift.params.base import Params, check, positive_widths

__all__ = ["ALIGNMENT", "UNFREEZE", "VARIANTS", "BaselineParams", "CodeAEParams", "FinetuneParams"]

#: variant → (alignment term, embedding it acts on).
ALIGNMENT = {
    "base": ("none", "concat"),
    "mmd": ("mmd", "concat"),
    "adv": ("wgan", "concat"),
    "dsn_mmd": ("mmd", "shared"),
    "dsn_dann": ("dann", "shared"),
}
VARIANTS = tuple(ALIGNMENT)
UNFREEZE = ("gradual", "all", "head")


@dataclass
class CodeAEParams(Params):
    """Pretraining hyperparameters (defaults: METHODS.md "CODE-AE model").

    Attributes:
        variant: one of :data:`VARIANTS`.
        encoder_hidden: hidden widths of the shared and private encoders.
        latent: width of each embedding (shared and private).
        decoder_hidden: hidden widths of the decoder (input ``2 × latent``).
        critic_hidden: hidden widths of the critic / domain classifier.
        dropout: dropout after every hidden layer.
        batchnorm: BatchNorm in hidden layers (the paper's ablation "hidden layer normalization").
        normalise: L2-normalise every embedding (the paper's instance normalisation).
        lr: AdamW learning rate (encoders, decoder and critic).
        weight_decay: AdamW weight decay.
        batch_size: samples per domain in a step.
        warmup_epochs: epochs of ``L_base`` before alignment starts (``adv``: Procedure 1 ``nw``;
            other variants add them to ``pretrain_epochs``).
        pretrain_epochs: epochs of the variant's full loss (Procedure 1 ``nt``), a fixed length
            (no early stopping; the last weights are kept). One epoch = one pass over
            the source (cell-line) training rows, each step paired with a random target batch.
        n_critic: critic steps per encoder step (``adv``).
        gp_weight: λ of the gradient penalty (``adv``).
        diff_weight: α, weight of ``L_diff``.
        align_weight: β, weight of the alignment term (MMD, generator or domain-classifier loss).
        val_fraction: share of each domain held out to report reconstruction error per epoch.
        seed: seed of initialisation, splits and minibatch order.
        log_every: epochs between progress lines.
    """

    label: ClassVar[str] = "CODE-AE pretraining"

    variant: str = "adv"
    encoder_hidden: list[int] = field(default_factory=lambda: [512, 256])
    latent: int = 128
    decoder_hidden: list[int] = field(default_factory=lambda: [256, 512])
    critic_hidden: list[int] = field(default_factory=lambda: [64, 32])
    dropout: float = 0.1
    batchnorm: bool = False
    normalise: bool = True
    lr: float = 1e-4
    weight_decay: float = 0.01
    batch_size: int = 64
    warmup_epochs: int = 100
    pretrain_epochs: int = 400
    n_critic: int = 5
    gp_weight: float = 10.0
    diff_weight: float = 1.0
    align_weight: float = 1.0
    val_fraction: float = 0.1
    seed: int = 42
    log_every: int = 50

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("encoder_hidden", "decoder_hidden", "critic_hidden"):
            positive_widths(name, getattr(self, name), problems)
        if self.variant not in VARIANTS:
            problems.append(f"variant must be one of {VARIANTS} (got {self.variant!r})")
        if self.latent <= 0:
            problems.append(f"latent must be > 0 (got {self.latent})")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1) (got {self.dropout})")
        if not self.lr > 0 or self.weight_decay < 0:
            problems.append(f"lr must be > 0 and weight_decay >= 0 (got {self.lr}, {self.weight_decay})")
        if self.batch_size < 2:
            problems.append(f"batch_size must be >= 2 (got {self.batch_size})")
        for name in ("warmup_epochs", "pretrain_epochs", "log_every"):
            if int(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        if self.n_critic < 1:
            problems.append(f"n_critic must be >= 1 (got {self.n_critic})")
        if min(self.gp_weight, self.diff_weight, self.align_weight) < 0:
            problems.append("gp_weight, diff_weight and align_weight must be >= 0")
        if not 0 < self.val_fraction < 0.5:
            problems.append(f"val_fraction must be in (0, 0.5) (got {self.val_fraction})")
        check(problems, self.label)


@dataclass
class FinetuneParams(Params):
    """Fine-tuning hyperparameters (paper: classifier (64, 32), BCE, 5-fold stratified CV, early
    stopping on validation AUROC, gradual unfreezing with learning-rate decay).

    Attributes:
        classifier_hidden: hidden widths of the classifier head (one sigmoid output).
        dropout: dropout in the head.
        lr: AdamW learning rate of the first stage.
        weight_decay: AdamW weight decay.
        batch_size: minibatch size.
        max_epochs: the fine-tuning budget, the same for every method of a benchmark: the most
            epochs over all unfreezing stages together, shared equally among them
            (:meth:`epochs_per_stage`). A method trained in one stage (``unfreeze='all'``, the
            ``mlp`` baseline) may use all of it; CODE-AE with gradual unfreezing over an encoder
            of three linear layers gets ``max_epochs // 4`` per stage.
        patience: epochs without a better validation AUROC before a stage ends.
        n_folds: folds of the stratified cross-validation.
        unfreeze: ``gradual`` (head first, then one encoder layer per stage from the top),
            ``all`` (everything trainable from the start: the no-pretraining ``mlp`` baseline) or
            ``head`` (the encoder stays frozen).
        lr_decay: learning-rate factor at each unfreeze.
        seed: seed of folds, initialisation and minibatch order.
        log_every: epochs between progress lines.
    """

    label: ClassVar[str] = "CODE-AE fine-tuning"

    classifier_hidden: list[int] = field(default_factory=lambda: [64, 32])
    dropout: float = 0.1
    lr: float = 1e-4
    weight_decay: float = 0.01
    batch_size: int = 64
    max_epochs: int = 400
    patience: int = 10
    n_folds: int = 5
    unfreeze: str = "gradual"
    lr_decay: float = 0.1
    seed: int = 42
    log_every: int = 50

    def __post_init__(self) -> None:
        problems: list[str] = []
        positive_widths("classifier_hidden", self.classifier_hidden, problems)
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1) (got {self.dropout})")
        if not self.lr > 0 or self.weight_decay < 0:
            problems.append(f"lr must be > 0 and weight_decay >= 0 (got {self.lr}, {self.weight_decay})")
        if self.batch_size < 2:
            problems.append(f"batch_size must be >= 2 (got {self.batch_size})")
        if self.max_epochs < 0 or self.patience < 0 or self.log_every < 0:
            problems.append("max_epochs, patience and log_every must be >= 0")
        if self.n_folds < 2:
            problems.append(f"n_folds must be >= 2 (got {self.n_folds})")
        if self.unfreeze not in UNFREEZE:
            problems.append(f"unfreeze must be one of {UNFREEZE} (got {self.unfreeze!r})")
        if not 0 < self.lr_decay <= 1:
            problems.append(f"lr_decay must be in (0, 1] (got {self.lr_decay})")
        check(problems, self.label)

    def epochs_per_stage(self, n_stages: int) -> int:
        """Epochs of each of ``n_stages`` unfreezing stages: ``max_epochs`` shared equally
        (at least 1 per stage when ``max_epochs > 0``)."""
        if self.max_epochs == 0:
            return 0
        return max(1, self.max_epochs // max(int(n_stages), 1))



@dataclass
class BaselineParams(Params):
    """Hyperparameters of :func:`pretrain_encoder` (defaults: CODE-AE's architecture and
    optimiser, METHODS.md "CODE-AE model": encoder 512,256 → 128, decoder 256,512, critic /
    discriminator 64,32, dropout 0.1, AdamW lr 1e-4, batch 64, 500 pretraining epochs).

    Attributes:
        hidden: encoder hidden widths.
        latent: embedding width (``encoder.latent_dim``).
        decoder_hidden: decoder hidden widths (``None``: ``hidden`` reversed).
        dropout: dropout after every hidden layer.
        batchnorm: BatchNorm in hidden layers (off, as CODE-AE's encoders).
        lr: AdamW learning rate (autoencoder and discriminator).
        weight_decay: AdamW weight decay (torch's default 0.01).
        batch_size: rows per domain per minibatch.
        max_epochs: maximum epochs (passes over the source training rows), ended earlier by
            ``patience``; for ``adae`` the
            alternating phase, which follows ``warmup_epochs`` of AE and of discriminator
            training.
        patience: early-stopping patience in epochs (0: none, the best epoch is still kept).
        val_fraction: share of each domain's rows held out for the early-stopping objective.
        noise_p: ``dae`` masking probability.
        kl_weight: ``vae`` weight of the KL term. The loss is ``MSE + kl_weight · KL / genes``
            with ``MSE`` the mean over genes and ``KL`` summed over latent dimensions; at 1 this
            is the negative ELBO of a unit-variance Gaussian decoder up to a factor 2 and a
            constant, divided by the number of genes.
        adv_weight: ``adae`` λ, weight of the adversarial term.
        adv_hidden: hidden widths of the ``adae`` domain discriminator.
        warmup_epochs: ``adae`` epochs of plain-AE training and then of discriminator-only
            training before the alternating phase (the reference's ``pretrain_num_epochs``).
        adv_steps: ``adae`` discriminator updates per autoencoder update in the alternating
            phase. An adversary kept near its optimum makes ``−BCE`` a useful signal: on a
            planted mean + covariance shift (3 worlds × 2 seeds, 60 epochs) the embedding's
            domain AUROC fell below plain AE's in 6 of 6 runs with 3 steps, 4 of 6 with 1.
        coral_weight: ``coral`` weight of the CORAL term.
        seed: seed of initialisation, splits, masks and minibatch order.
        log_every: epochs between progress lines.
    """

    label: ClassVar[str] = "baseline pretraining"

    hidden: list[int] = field(default_factory=lambda: [512, 256])
    latent: int = 128
    decoder_hidden: list[int] | None = None
    dropout: float = 0.1
    batchnorm: bool = False
    lr: float = 1e-4
    weight_decay: float = 0.01
    batch_size: int = 64
    max_epochs: int = 500
    patience: int = 50
    val_fraction: float = 0.1
    noise_p: float = 0.2
    kl_weight: float = 1.0
    adv_weight: float = 1.0
    adv_hidden: list[int] = field(default_factory=lambda: [64, 32])
    warmup_epochs: int = 50
    adv_steps: int = 3
    coral_weight: float = 1.0
    seed: int = 42
    log_every: int = 10

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("hidden", "decoder_hidden", "adv_hidden"):
            positive_widths(name, getattr(self, name), problems)
        if int(self.latent) <= 0:
            problems.append(f"latent must be > 0 (got {self.latent})")
        if not 0 <= self.dropout < 1:
            problems.append(f"dropout must be in [0, 1) (got {self.dropout})")
        if not 0 <= self.noise_p < 1:
            problems.append(f"noise_p must be in [0, 1) (got {self.noise_p})")
        if not self.lr > 0:
            problems.append(f"lr must be > 0 (got {self.lr})")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0 (got {self.weight_decay})")
        if int(self.batch_size) < 2:
            problems.append(f"batch_size must be >= 2 (got {self.batch_size})")
        if int(self.adv_steps) < 1:
            problems.append(f"adv_steps must be >= 1 (got {self.adv_steps})")
        for name in ("max_epochs", "patience", "warmup_epochs", "log_every"):
            if int(getattr(self, name)) < 0:
                problems.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        if not 0 < self.val_fraction < 1:
            problems.append(f"val_fraction must be in (0, 1) (got {self.val_fraction})")
        for name in ("kl_weight", "adv_weight", "coral_weight"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0 (got {getattr(self, name)})")
        check(problems, self.label)
