"""scDEAL's networks and losses (Chen et al., 2022, "scDEAL workflow design"): pure torch, no
training loop, no data handling.

The parts, by paper name:

* ``Eb``/``Db``: the bulk denoising autoencoder (:attr:`ScDEALModule.bulk_dae`);
* ``P``: the drug-response predictor on the shared bottleneck (:attr:`ScDEALModule.predictor`);
* ``Es``/``Ds``: the single-cell denoising autoencoder (:attr:`ScDEALModule.sc_dae`);
* ``Eb₀``/``P₀``: ``Eb`` and ``P`` frozen after step 2, the bulk model before transfer
  (:attr:`ScDEALModule.source_encoder`, :attr:`ScDEALModule.source_predictor`): the
  no-transfer baseline and the consistency anchor's teacher.

``mode="reference"`` reproduces the public reference code where it differs (METHODS.md, "Known
defects"): DAE target = the corrupted input, one Gaussian MMD kernel with σ = 1000, a cluster
regulariser without gradient and no consistency anchor (the joint optimiser holding only ``Es``
is the training plan's business).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drugshift.nn.blocks import DenoisingAutoencoder, Encoder, Predictor, binomial_mask
from drugshift.nn.losses import (
    DEFAULT_BANDWIDTH_SCALES,
    REFERENCE_BANDWIDTHS,
    cluster_similarity_loss,
    gaussian_mmd,
    median_bandwidth,
)
from drugshift.params import ScDEALParams

__all__ = ["PARTS", "ScDEALModule", "soft_cross_entropy"]

#: The parts with their own weights, in the order training initialises them.
PARTS = ("bulk_dae", "predictor", "sc_dae", "source_encoder", "source_predictor")


def soft_cross_entropy(logits: Tensor, target_probs: Tensor) -> Tensor:
    """Mean cross-entropy of ``logits`` against soft targets (the consistency anchor's term)."""
    return -(target_probs * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


class ScDEALModule(nn.Module):
    """``Eb``, ``Db``, ``P``, ``Es``, ``Ds`` and the frozen bulk model ``Eb₀``, ``P₀``.

    Args:
        n_genes: input width (genes, in the model's order).
        params: the hyperparameters (widths, dropout, masking, loss weights, mode).

    The constructor gives every part valid weights without touching torch's global random
    state; training draws each part's initial weights when its stage starts
    (:meth:`initialise`), so that the bulk model does not depend on the cell-side parts'
    sizes and a bulk-only fit (hyperparameter tuning) trains exactly the bulk model of the
    full fit.

    Shapes: cells and bulk ``(n, n_genes)`` → embeddings ``(n, bulk_bottleneck)`` → logits
    ``(n, 2)`` (column 1 = sensitive).
    """

    def __init__(self, n_genes: int, params: ScDEALParams):
        super().__init__()
        self.n_genes = int(n_genes)
        self.params = params
        with torch.random.fork_rng(devices=[]):
            for part in PARTS:
                setattr(self, part, self._build(part))

    def _build(self, part: str) -> nn.Module:
        p = self.params
        if part in ("bulk_dae", "sc_dae"):
            hidden = p.bulk_hidden if part == "bulk_dae" else p.sc_hidden
            return DenoisingAutoencoder(self.n_genes, hidden, p.bulk_bottleneck, p.dropout, p.batchnorm, p.noise_p)
        if part == "source_encoder":
            return Encoder(self.n_genes, p.bulk_hidden, p.bulk_bottleneck, p.dropout, p.batchnorm)
        return Predictor(p.bulk_bottleneck, p.predictor_hidden, 2, p.dropout, p.batchnorm)

    def initialise(self, part: str) -> nn.Module:
        """Fresh initial weights for ``part``, drawn now from torch's global generator on the CPU
        (so a CPU and a GPU run start from the same weights), then moved to this module's device.
        Returns the new part."""
        device = next(self.parameters()).device
        module = self._build(part).to(device)
        setattr(self, part, module)
        return module

    # ----------------------------------------------------------------- parts by paper name

    @property
    def reference(self) -> bool:
        return self.params.mode == "reference"

    @property
    def bulk_encoder(self) -> Encoder:
        """``Eb``."""
        return self.bulk_dae.encoder

    @property
    def sc_encoder(self) -> Encoder:
        """``Es``."""
        return self.sc_dae.encoder

    @property
    def consistency_weight(self) -> float:
        """γ; 0 in reference mode (the reference code has no anchor)."""
        return 0.0 if self.reference else self.params.consistency_weight

    def keep_source_model(self) -> None:
        """Copy ``Eb`` and ``P`` (after step 2) into the frozen bulk model ``Eb₀``, ``P₀``."""
        self.source_encoder.load_state_dict(self.bulk_encoder.state_dict())
        self.source_predictor.load_state_dict(self.predictor.state_dict())
        self.source_encoder.eval()
        self.source_predictor.eval()

    def start_sc_dae_from_bulk(self) -> None:
        """``sc_init='bulk'``: copy ``Eb`` and ``Db`` into ``Es`` and ``Ds``. A gene profile then
        embeds at the same place in both domains and MMD only corrects the domain shift; from
        random weights the alignment is identifiable only up to a symmetry and can swap
        sensitive and resistant cells."""
        self.sc_dae.encoder.load_state_dict(self.bulk_dae.encoder.state_dict())
        self.sc_dae.decoder.load_state_dict(self.bulk_dae.decoder.state_dict())

    def joint_parameters(self):
        """What the joint optimiser updates: ``Eb``, ``Es`` and ``P`` (paper); only ``Es`` in
        reference mode, whose bulk terms then produce gradients that are never applied."""
        if self.reference:
            return list(self.sc_encoder.parameters())
        return list(itertools.chain(self.bulk_encoder.parameters(), self.sc_encoder.parameters(),
                                    self.predictor.parameters()))

    # ----------------------------------------------------------------- losses

    def reconstruction_loss(self, dae: DenoisingAutoencoder, x: Tensor, generator: torch.Generator | None = None,
                            corrupted: Tensor | None = None) -> Tensor:
        """Steps 1 and 3: ``MSE(X, D(E(B(X, p))))``; the target is ``B(X)`` itself in reference mode.
        ``corrupted``: a fixed ``B(X)`` (validation) instead of a fresh mask."""
        return dae.loss(x, generator=generator, target="corrupted" if self.reference else "clean",
                        corrupted=corrupted)

    def predictor_loss(self, x: Tensor, y: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Step 2: ``CE(P(Eb(x')), y)`` with ``x'`` the bulk profiles masked with
        ``predictor_noise_p``; ``Eb`` gets no gradient when ``freeze_bulk_encoder``."""
        p = self.params
        if p.predictor_noise_p > 0:
            x = binomial_mask(x, p.predictor_noise_p, generator)
        if p.freeze_bulk_encoder:
            with torch.no_grad():
                z = self.bulk_encoder(x)
        else:
            z = self.bulk_encoder(x)
        return F.cross_entropy(self.predictor(z), y)

    def joint_loss(self, xb: Tensor, yb: Tensor, xs: Tensor, clusters: Tensor | None = None,
                   anchor: Tensor | None = None, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Step 4 on one bulk and one cell minibatch:
        ``CE(P(Eb(xb')), yb) + α·MMD(Eb(xb'), Es(xs)) + β·cluster_similarity_loss(Es(xs))
        + γ·CE(P(Es(xs)), anchor)``.

        The MMD kernel widths follow the median heuristic of each minibatch (one σ = 1000 in
        reference mode); ``xb'`` is ``xb`` masked with ``predictor_noise_p``.

        Args:
            xb, yb: bulk minibatch and labels.
            xs: cell minibatch.
            clusters: the cells' cluster labels (``None``: no regulariser term).
            anchor: ``(cells, 2)`` soft targets ``softmax(P₀(Eb₀(xs)))`` (``None``: no anchor term).
            generator: generator of the bulk mask.

        Returns:
            ``{"loss", "ce", "mmd"[, "reg"][, "consistency"]}``, scalar tensors (``loss`` attached).
        """
        p = self.params
        if p.predictor_noise_p > 0:
            xb = binomial_mask(xb, p.predictor_noise_p, generator)
        zb = self.bulk_encoder(xb)
        zs = self.sc_encoder(xs)
        ce = F.cross_entropy(self.predictor(zb), yb)
        mmd = gaussian_mmd(zb, zs, REFERENCE_BANDWIDTHS if self.reference else None)
        loss = ce + p.mmd_weight * mmd
        out = {"ce": ce, "mmd": mmd}
        if clusters is not None and p.reg_weight > 0:
            reg = cluster_similarity_loss(zs, clusters, detach=self.reference)
            loss = loss + p.reg_weight * reg
            out["reg"] = reg
        if anchor is not None and self.consistency_weight > 0:
            cons = soft_cross_entropy(self.predictor(zs), anchor)
            loss = loss + self.consistency_weight * cons
            out["consistency"] = cons
        out["loss"] = loss
        return out

    def validation_bandwidths(self, xb: Tensor, xs: Tensor) -> tuple[float, ...]:
        """MMD kernel widths of the joint validation loss, fixed for a whole joint stage: the
        median pairwise distance of ``Eb(xb) ∪ Es(xs)`` (eval mode) times
        ``DEFAULT_BANDWIDTH_SCALES``; σ = 1000 in reference mode. Early stopping compares
        epochs, so every epoch must be measured with the same kernel."""
        if self.reference:
            return REFERENCE_BANDWIDTHS
        with torch.no_grad():
            base = median_bandwidth(self.bulk_encoder(xb), self.sc_encoder(xs))
        return tuple(base * s for s in DEFAULT_BANDWIDTH_SCALES)

    def joint_validation_loss(self, xb: Tensor, yb: Tensor, xs: Tensor, bandwidths, anchor: Tensor | None = None
                              ) -> Tensor:
        """``CE(P(Eb(xb)), yb) + α·MMD_σ(Eb(xb), Es(xs)) [+ γ·CE(P(Es(xs)), anchor)]`` on the
        validation bulk and held-out cells, with the fixed kernel widths ``bandwidths``
        (:meth:`validation_bandwidths`)."""
        zb, zs = self.bulk_encoder(xb), self.sc_encoder(xs)
        loss = F.cross_entropy(self.predictor(zb), yb) + self.params.mmd_weight * gaussian_mmd(zb, zs, bandwidths)
        if anchor is not None and self.consistency_weight > 0:
            loss = loss + self.consistency_weight * soft_cross_entropy(self.predictor(zs), anchor)
        return loss

    # ----------------------------------------------------------------- inference

    def sensitivity(self, encoder: nn.Module, predictor: nn.Module, x: Tensor) -> Tensor:
        """``softmax(predictor(encoder(x)))[:, 1]``: probability of sensitive per row."""
        return F.softmax(predictor(encoder(x)), dim=1)[:, 1]
