"""scDEAL: transfer of bulk cell-line drug response to single cells (Chen et al., 2022).

Five steps (paper, "scDEAL workflow design"):

1. bulk denoising autoencoder ``Db(Eb(B(Xb)))``,
2. predictor ``P`` on ``Eb``'s bottleneck, cross-entropy, bulk split 64/16/20 and optional
   class re-sampling,
3. single-cell denoising autoencoder ``Ds(Es(B(Xs)))``,
4. joint DaNN training of ``Eb``, ``Es`` and ``P`` on
   ``CE(P(Eb(Xb)), Yb) + α·MMD(Eb(Xb), Es(Xs)) + β·regulariser(Es(Xs), clusters)``
   (+ ``γ·consistency``, off in the paper),
5. transfer: ``P(Es(Xs))`` is each cell's probability of being sensitive (1).

``mode="corrected"`` implements the paper; ``mode="reference"`` reproduces the public reference
code's behaviour where it differs (METHODS.md, "Known defects"). scDEAL is transductive: see
:class:`ScDEAL`.

Layers (one job each):

* :mod:`~drugshift.models.scdeal.module`: the torch networks and their losses (:class:`ScDEALModule`);
* :mod:`~drugshift.models.scdeal.plan`: the training stages (:class:`TrainingPlan`);
* :mod:`~drugshift.models.scdeal.data`: input checks, re-sampling, cell clusters, splits;
* :mod:`~drugshift.models.scdeal.model`: the user-facing :class:`ScDEAL` (fit, predict, save, load);
* :mod:`~drugshift.models.scdeal.ensemble`: :class:`ScDEALEnsemble`, a deep ensemble of them used as one
  model (mean probability, per-cell spread);
* :mod:`~drugshift.models.scdeal.diagnostics`: label-free transfer diagnostics, the reliability
  verdict and label thresholds.

The parameters are :class:`drugshift.params.ScDEALParams`.
"""

from drugshift.models.scdeal.data import TrainingData, cell_clusters, resample, validation_cells
from drugshift.models.scdeal.ensemble import ENSEMBLE_KIND, ScDEALEnsemble, load_scdeal, member_params, new_scdeal
from drugshift.models.scdeal.model import KIND, ScDEAL, fit_bulk_model
from drugshift.models.scdeal.module import ScDEALModule
from drugshift.models.scdeal.plan import TrainingPlan
from drugshift.params import MODES, SAMPLING_METHODS, SC_INIT, ScDEALParams

__all__ = [
    "ENSEMBLE_KIND",
    "KIND",
    "MODES",
    "SAMPLING_METHODS",
    "SC_INIT",
    "ScDEAL",
    "ScDEALEnsemble",
    "ScDEALModule",
    "ScDEALParams",
    "TrainingData",
    "TrainingPlan",
    "cell_clusters",
    "fit_bulk_model",
    "load_scdeal",
    "member_params",
    "new_scdeal",
    "resample",
    "validation_cells",
]

