"""CODE-AE: context-aware deconfounding autoencoder (He et al., 2022, Nature Machine Intelligence).

Three stages (paper, Fig. 1b and Methods):

1. **Pretraining** on unlabelled expression of both domains, cell lines (source, ``c``) and
   patients / tumour models (target, ``t``): a shared encoder ``Es``, one private encoder per
   domain, and one decoder on ``concat(private, shared)``; ``L_base = L_recon + α·L_diff`` with
   ``L_recon`` the per-domain MSE and ``L_diff`` the soft orthogonality of shared and private
   embeddings; every embedding is L2-normalised per sample. Variants
   (:data:`drugshift.params.VARIANTS`) add a domain-alignment term:

   * ``base``: none;
   * ``mmd``: ``β·MMD(z_c, z_t)`` with multi-bandwidth Gaussian kernels on ``z = concat(private, shared)``;
   * ``adv``: WGAN-GP (Procedure 1): ``warmup_epochs`` of ``L_base``, then each step updates a
     critic ``F`` with ``mean F(z_t) − mean F(z_c) + λ_gp·GP`` and every ``n_critic``-th step the
     encoders and decoder with ``L_base − β·mean F(z_t)``;
   * ``dsn_mmd`` / ``dsn_dann``: the domain separation network baselines of the paper (same
     architecture; alignment of the *shared* embedding only, by MMD or by a domain classifier
     behind a gradient-reversal layer).

2. **Fine-tuning** per drug: an encoder (CODE-AE's ``Es``, a baseline's pretrained encoder, or a
   fresh random one — the ``mlp`` baseline) plus a classifier ``(64, 32) → 1`` trained with BCE
   on labelled cell lines, stratified 5-fold CV, early stopping on held-out AUROC, gradual
   unfreezing (head first, then one encoder layer at a time from the top, learning rate ×
   ``lr_decay`` at each unfreeze). One epoch budget for every method.

3. **Zero-shot inference** on patients / PDTC models, whose labels are never used for training
   or model selection (they only enter :mod:`drugshift.benchmark`).

Layers (scvi-tools style): :mod:`.module` (the torch modules and their loss terms),
:mod:`.plan` (pretraining plan, fine-tuning stages, cross-validation), :mod:`.model` (the
user-facing :class:`CodeAE` and :class:`DrugResponseModel`, with ``save``/``load``).
"""

from drugshift.models.codeae.model import CodeAE, DrugResponseModel, method_params_from_dict
from drugshift.models.codeae.module import CodeAEModule, DrugClassifier, encoder_spec, random_encoder
from drugshift.models.codeae.plan import FinetunePlan, FoldResult, PretrainingPlan, finetune, finetune_cv, predict_proba

__all__ = [
    "CodeAE",
    "CodeAEModule",
    "DrugClassifier",
    "DrugResponseModel",
    "FinetunePlan",
    "FoldResult",
    "PretrainingPlan",
    "encoder_spec",
    "finetune",
    "finetune_cv",
    "method_params_from_dict",
    "predict_proba",
    "random_encoder",
]
