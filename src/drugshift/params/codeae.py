"""CODE-AE's hyperparameters and those of its benchmark baselines (torch-free: the workflow
resolves them when it builds the DAG).

Three budgets, three names: ``CodeAEParams.warmup_epochs`` + ``pretrain_epochs`` (fixed-length
pretraining), ``BaselineParams.max_epochs`` (baseline pretraining with early stopping) and
``FinetuneParams.max_epochs`` (fine-tuning, one budget for every method of a benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from drugshift.params.base import Params, rule

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
        checkpoint_every: epochs between training checkpoints of a workflow job (0: none), from
            which a killed job resumes with the weights of an uninterrupted run
            (:mod:`drugshift.resume`; the default as ``scdeal.params.checkpoint_every``).
    """

    label: ClassVar[str] = "CODE-AE pretraining"

    variant: str = rule("adv", choices=VARIANTS)
    encoder_hidden: list[int] = rule(factory=lambda: [512, 256], widths=True)
    latent: int = rule(128, gt=0)
    decoder_hidden: list[int] = rule(factory=lambda: [256, 512], widths=True)
    critic_hidden: list[int] = rule(factory=lambda: [64, 32], widths=True)
    dropout: float = rule(0.1, ge=0, lt=1)
    batchnorm: bool = False
    normalise: bool = True
    lr: float = rule(1e-4, gt=0)
    weight_decay: float = rule(0.01, ge=0)
    batch_size: int = rule(64, ge=2)
    warmup_epochs: int = rule(100, ge=0)
    pretrain_epochs: int = rule(400, ge=0)
    n_critic: int = rule(5, ge=1)
    gp_weight: float = rule(10.0, ge=0)
    diff_weight: float = rule(1.0, ge=0)
    align_weight: float = rule(1.0, ge=0)
    val_fraction: float = rule(0.1, gt=0, lt=0.5)
    seed: int = 42
    log_every: int = rule(50, ge=0)
    checkpoint_every: int = rule(50, ge=0)


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
        checkpoint_every: epochs between training checkpoints of a workflow job (0: none), from
            which a killed job resumes with the weights of an uninterrupted run
            (:mod:`drugshift.resume`; the default as ``scdeal.params.checkpoint_every``).
    """

    label: ClassVar[str] = "CODE-AE fine-tuning"

    classifier_hidden: list[int] = rule(factory=lambda: [64, 32], widths=True)
    dropout: float = rule(0.1, ge=0, lt=1)
    lr: float = rule(1e-4, gt=0)
    weight_decay: float = rule(0.01, ge=0)
    batch_size: int = rule(64, ge=2)
    max_epochs: int = rule(400, ge=0)
    patience: int = rule(10, ge=0)
    n_folds: int = rule(5, ge=2)
    unfreeze: str = rule("gradual", choices=UNFREEZE)
    lr_decay: float = rule(0.1, gt=0, le=1)
    seed: int = 42
    log_every: int = rule(50, ge=0)
    checkpoint_every: int = rule(50, ge=0)

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
        checkpoint_every: epochs between training checkpoints of a workflow job (0: none), from
            which a killed job resumes with the weights of an uninterrupted run
            (:mod:`drugshift.resume`; the default as ``scdeal.params.checkpoint_every``).
    """

    label: ClassVar[str] = "baseline pretraining"

    hidden: list[int] = rule(factory=lambda: [512, 256], widths=True)
    latent: int = rule(128, gt=0)
    decoder_hidden: list[int] | None = rule(None, widths=True)
    dropout: float = rule(0.1, ge=0, lt=1)
    batchnorm: bool = False
    lr: float = rule(1e-4, gt=0)
    weight_decay: float = rule(0.01, ge=0)
    batch_size: int = rule(64, ge=2)
    max_epochs: int = rule(500, ge=0)
    patience: int = rule(50, ge=0)
    val_fraction: float = rule(0.1, gt=0, lt=1)
    noise_p: float = rule(0.2, ge=0, lt=1)
    kl_weight: float = rule(1.0, ge=0)
    adv_weight: float = rule(1.0, ge=0)
    adv_hidden: list[int] = rule(factory=lambda: [64, 32], widths=True)
    warmup_epochs: int = rule(50, ge=0)
    adv_steps: int = rule(3, ge=1)
    coral_weight: float = rule(1.0, ge=0)
    seed: int = 42
    log_every: int = rule(10, ge=0)
    checkpoint_every: int = rule(50, ge=0)
