"""Baselines of the CODE-AE benchmark (paper, Methods, "Baseline models"; Table 1), trained on
exactly the data CODE-AE sees.

* :mod:`.shallow`: no pretraining, scikit-learn: Elastic Net and Random Forest classifiers on
  the labelled cell lines of one drug, hyperparameters from an inner CV on those cell lines only.
  (The MLP, also without pretraining, is CODE-AE's fine-tuning on a random encoder:
  :class:`drugshift.models.codeae.DrugResponseModel` with method ``mlp``.)
* :mod:`.autoencoders`: encoders pretrained on the unlabelled expression of both domains (``ae``,
  ``dae``, ``vae``, ``adae``, ``coral``), then fine-tuned per drug exactly like CODE-AE's shared
  encoder. DSN-MMD and DSN-DANN share CODE-AE's architecture and live in
  :mod:`drugshift.models.codeae`.

The method names are :data:`drugshift.methods.SHALLOW_BASELINES` and
:data:`drugshift.methods.PRETRAINED_BASELINES`; parameters are
:class:`drugshift.params.BaselineParams`.
"""

from drugshift.models.baselines.autoencoders import AutoencoderPlan, BaselineAutoencoder, build_encoder, embed, pretrain_encoder
from drugshift.models.baselines.shallow import ENET_GRID, RF_GRID, fit_shallow

__all__ = ["ENET_GRID", "RF_GRID", "AutoencoderPlan", "BaselineAutoencoder", "build_encoder", "embed", "fit_shallow",
           "pretrain_encoder"]
