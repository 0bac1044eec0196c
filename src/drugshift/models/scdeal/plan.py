"""scDEAL's training plan (paper, steps 1–4): one method per stage, each building its
minibatch step and validation pass from :class:`~drugshift.models.scdeal.module.ScDEALModule`'s
losses and handing them to :func:`drugshift.train.fit` (best validation epoch restored).

Randomness, all from ``params.seed``: torch's global generator (initial weights, dropout), a
CPU generator for minibatch order and cell draws, and one on the data's device for the DAE and
predictor masks. A CPU run is bit-for-bit reproducible.

On CUDA no step waits for the GPU. The minibatch order and the joint stage's cell draws come
from the CPU generator on purpose (the same draws on every device, and the stream of earlier
releases); each draw is a small index tensor copied to the GPU asynchronously
(``non_blocking``), a no-op on CPU. Validation reads one float per epoch.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import Tensor

from drugshift.evaluate import classification_metrics
from drugshift.models.scdeal.data import TrainingData, resample
from drugshift.models.scdeal.module import ScDEALModule
from drugshift.nn.blocks import binomial_mask
from drugshift.params import ScDEALParams
from drugshift.resume import Checkpoints
from drugshift.train import History, MixedPrecision, fit, seed_everything

__all__ = ["TrainingPlan"]


class TrainingPlan:
    """The four stages of scDEAL on one :class:`TrainingData`, in order:
    :meth:`bulk_dae`, :meth:`predictor` (the bulk model), :meth:`sc_dae`, :meth:`joint`.

    Creating a plan seeds torch, NumPy and Python with ``params.seed``; the stages must then run
    in that order (each draws its part's initial weights from the global generator).

    With ``checkpoints`` (:class:`~drugshift.resume.Checkpoints`), every stage is checkpointed
    and a rerun of the same plan resumes where a killed one stopped.

    ``precision`` (``fp32``, ``bf16``, ``fp16``): the arithmetic of the training steps on CUDA
    (:class:`~drugshift.train.MixedPrecision`); fp32 on any other device.

    Attributes:
        history: :class:`~drugshift.train.History` per finished stage.
    """

    def __init__(self, module: ScDEALModule, data: TrainingData, params: ScDEALParams,
                 log: logging.Logger | None = None, checkpoints: Checkpoints | None = None, precision: str = "fp32"):
        self.module, self.data, self.params, self.checkpoints = module, data, params, checkpoints
        self.log = log or logging.getLogger("drugshift.models.scdeal")
        self.device = data.bulk.device
        self.amp = MixedPrecision(precision, self.device)
        self.history: dict[str, History] = {}
        seed_everything(params.seed)
        self.order_generator = torch.Generator().manual_seed(params.seed)  # minibatch order, cell draws
        self.mask_generator = torch.Generator(device=self.device).manual_seed(params.seed + 1)  # DAE masks
        if checkpoints is not None:
            checkpoints.track(order=self.order_generator, masks=self.mask_generator)
            if self.amp.scaler is not None:
                checkpoints.track(loss_scale=self.amp)

    # ----------------------------------------------------------------- helpers

    def _adam(self, parameters) -> torch.optim.Optimizer:
        # torch's single-tensor Adam, not the fused kernel of drugshift.train.adamw (about 15 % of
        # a fit's time at A375's size): a scDEAL fit is sensitive to rounding-level changes of its
        # updates (on the demo, the planted-gene recovery of the interpretation changes with them),
        # so its arithmetic stays that of the models and results made so far.
        return torch.optim.Adam(list(parameters), lr=self.params.lr, weight_decay=self.params.weight_decay)

    def _fit(self, name: str, step, validate, modules, optimiser, n_train: int, epochs: int) -> History:
        p = self.params
        scheduler = None
        if p.lr_decay_patience is not None:  # factor 0.1, as in the reference
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, mode="min", factor=0.1,
                                                                   patience=p.lr_decay_patience)
        return fit(step, validate, modules, n_train=n_train, epochs=epochs, batch_size=p.batch_size,
                   patience=p.patience, generator=self.order_generator, log=self.log, name=name,
                   log_every=p.log_every, scheduler=scheduler, device=self.device, optimisers=[optimiser],
                   checkpoint=self.checkpoints, precision=self.amp)

    def _fit_dae(self, part: str, X: Tensor, train: np.ndarray, val: np.ndarray, name: str, epochs: int) -> History:
        """Steps 1 and 3: reconstruction of the rows ``train`` of ``X`` (indexed per minibatch,
        never copied), validated on the rows ``val`` under one fixed mask so that epochs are
        compared on the same noise."""
        m = self.module
        dae = getattr(m, part)
        opt = self._adam(dae.parameters())
        train_t = torch.as_tensor(train, device=self.device)
        X_val = X[torch.as_tensor(val, device=self.device)]
        val_noisy = binomial_mask(X_val, dae.noise_p, self.mask_generator)

        def step(idx: Tensor) -> dict[str, Tensor]:
            opt.zero_grad(set_to_none=True)
            loss = m.reconstruction_loss(dae, X[train_t[idx]], self.mask_generator)
            self.amp.backward(loss)
            self.amp.step(opt)
            return {"loss": loss.detach()}

        def validate() -> float:
            return m.reconstruction_loss(dae, X_val, corrupted=val_noisy).item()

        return self._fit(name, step, validate, [dae], opt, len(train), epochs)

    def bulk_scores(self, split: str, *, source: bool = False) -> dict:
        """:func:`~drugshift.evaluate.classification_metrics` of ``P(Eb(x))`` on the bulk
        ``split`` (``bulk_val`` or ``bulk_test``); of ``P₀(Eb₀(x))`` with ``source``."""
        m, d = self.module, self.data
        encoder, predictor = (m.source_encoder, m.source_predictor) if source else (m.bulk_encoder, m.predictor)
        encoder.eval()
        predictor.eval()
        rows = getattr(d, split)
        with torch.no_grad():
            prob = m.sensitivity(encoder, predictor, d.bulk[torch.as_tensor(rows, device=self.device)])
        return classification_metrics(d.y_bulk.cpu().numpy()[rows], prob.cpu().numpy().astype(np.float64))

    # ----------------------------------------------------------------- stages

    def bulk_dae(self) -> History:
        """Step 1: the bulk DAE ``Db(Eb(B(Xb)))`` on the bulk training split."""
        self.module.initialise("bulk_dae")
        d = self.data
        self.history["bulk_dae"] = h = self._fit_dae("bulk_dae", d.bulk, d.bulk_train, d.bulk_val, "bulk DAE",
                                                     self.params.epochs_dae)
        return h

    def predictor(self) -> History:
        """Step 2: ``P`` (and ``Eb`` unless ``freeze_bulk_encoder``) by cross-entropy on the
        re-sampled bulk training split, validated by cross-entropy on the validation split; then
        ``Eb``, ``P`` are kept as the frozen bulk model ``Eb₀``, ``P₀``."""
        m, d, p = self.module, self.data, self.params
        y = d.y_bulk.cpu().numpy()
        Xr, yr = resample(d.bulk.cpu().numpy()[d.bulk_train], y[d.bulk_train], p.sampling, p.seed)
        d.bulk_resampled = torch.as_tensor(np.ascontiguousarray(Xr), device=self.device)
        d.y_resampled = torch.as_tensor(yr.astype(np.int64), device=self.device)
        if p.sampling != "none":
            self.log.info("scDEAL: %s re-sampled the training split from %d to %d samples (%d sensitive)",
                          p.sampling, len(d.bulk_train), len(yr), int(yr.sum()))
        P = m.initialise("predictor")
        trained = [P] if p.freeze_bulk_encoder else [m.bulk_encoder, P]
        opt = self._adam(q for module in trained for q in module.parameters())
        val = torch.as_tensor(d.bulk_val, device=self.device)
        X_val, y_val = d.bulk[val], d.y_bulk[val]

        def step(idx: Tensor) -> dict[str, Tensor]:
            opt.zero_grad(set_to_none=True)
            loss = m.predictor_loss(d.bulk_resampled[idx], d.y_resampled[idx], self.mask_generator)
            self.amp.backward(loss)
            self.amp.step(opt)
            return {"loss": loss.detach()}

        def validate() -> float:
            return torch.nn.functional.cross_entropy(m.predictor(m.bulk_encoder(X_val)), y_val).item()

        m.bulk_encoder.eval()  # stays in eval mode when frozen (fit switches only `trained`)
        self.history["predictor"] = h = self._fit("predictor", step, validate, trained, opt, len(yr),
                                                  p.epochs_predictor)
        m.keep_source_model()
        return h

    def sc_dae(self) -> History:
        """Step 3: the sc DAE ``Ds(Es(B(Xs)))`` on the training cells, validated on the held-out
        cells; it starts from the bulk DAE when ``sc_init`` resolves to ``bulk``."""
        m, d, p = self.module, self.data, self.params
        m.initialise("sc_dae")
        from_bulk = p.resolved_sc_init() == "bulk"
        if from_bulk:
            m.start_sc_dae_from_bulk()
        self.log.info("scDEAL: sc encoder initialised from %s", "the bulk DAE" if from_bulk else "random weights")
        epochs = p.epochs_dae if p.epochs_sc_dae is None else p.epochs_sc_dae
        self.history["sc_dae"] = h = self._fit_dae("sc_dae", d.cells, d.cells_train, d.cells_val, "sc DAE", epochs)
        return h

    def joint_validation(self, anchor: Tensor | None = None):
        """The joint stage's validation pass, ``() -> float``: the joint validation loss on the
        bulk validation split and the cells ``cells_val_joint``, with the MMD kernel widths
        fixed now, from the current encoders (see
        :meth:`~drugshift.models.scdeal.module.ScDEALModule.validation_bandwidths`), and kept
        for every epoch of the stage; they are stored as ``self.validation_bandwidths``."""
        m, d = self.module, self.data
        val = torch.as_tensor(d.bulk_val, device=self.device)
        cells = torch.as_tensor(d.cells_val_joint, device=self.device)
        X_val, y_val, xs_val = d.bulk[val], d.y_bulk[val], d.cells[cells]
        anchor_val = None if anchor is None else anchor[cells]
        for part in (m.bulk_encoder, m.sc_encoder):
            part.eval()
        self.validation_bandwidths = bandwidths = m.validation_bandwidths(X_val, xs_val)

        def validate() -> float:
            return m.joint_validation_loss(X_val, y_val, xs_val, bandwidths, anchor_val).item()

        return validate

    def joint(self) -> History:
        """Step 4: joint DaNN training of ``Eb``, ``Es`` and ``P``
        (:meth:`~drugshift.models.scdeal.module.ScDEALModule.joint_loss`). Each step draws a bulk
        minibatch (one epoch = one pass over the re-sampled bulk training split) and an equally
        large random minibatch of training cells."""
        m, d, p = self.module, self.data, self.params
        if self.params.mode == "reference" and p.consistency_weight > 0:
            self.log.info("scDEAL mode=reference: consistency_weight %g ignored (the reference code has no anchor)",
                          p.consistency_weight)
        anchor = None
        if m.consistency_weight > 0:  # soft targets of the frozen bulk model on every cell, once
            with torch.no_grad():
                anchor = torch.softmax(m.source_predictor(m.source_encoder(d.cells)), dim=1)
        clusters = None
        if d.clusters is not None and p.reg_weight > 0:
            clusters = torch.as_tensor(d.clusters, device=self.device)
        cells_train = torch.as_tensor(d.cells_train, device=self.device)
        n_cells, cell_batch = len(d.cells_train), min(p.batch_size, len(d.cells_train))
        trained = [m.bulk_encoder, m.sc_encoder, m.predictor]
        opt = self._adam(m.joint_parameters())

        def step(idx: Tensor) -> dict[str, Tensor]:
            for part in trained:
                part.zero_grad(set_to_none=True)
            # The CPU generator's draw (the same cells on every device), copied without waiting.
            pick = torch.randperm(n_cells, generator=self.order_generator)[:cell_batch]
            cells = cells_train[pick.to(self.device, non_blocking=True)]
            out = m.joint_loss(d.bulk_resampled[idx], d.y_resampled[idx], d.cells[cells],
                               clusters=None if clusters is None else clusters[cells],
                               anchor=None if anchor is None else anchor[cells], generator=self.mask_generator)
            self.amp.backward(out["loss"])
            self.amp.step(opt)
            return {k: v.detach() for k, v in out.items()}

        validate = self.joint_validation(anchor)
        self.history["joint"] = h = self._fit("joint", step, validate, trained, opt, len(d.y_resampled),
                                              p.epochs_joint)
        return h
