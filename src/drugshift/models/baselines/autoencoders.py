"""Pretrained baselines of the CODE-AE benchmark: an encoder learnt from the unlabelled
expression of the source (cell lines) **and** target (patients / PDTC) domains, then fine-tuned
per drug exactly like CODE-AE's shared encoder.

========  ===================================================================================
``ae``    plain autoencoder, ``MSE(x, D(E(x)))``
``dae``   denoising autoencoder: binomial mask ``B(x, p)`` on the input, clean target
          ``MSE(x, D(E(B(x, p))))`` (Vincent et al., 2008)
``vae``   variational autoencoder (Kingma & Welling, 2014); the returned encoder outputs the
          posterior mean ``μ(x)``
``adae``  adversarial deconfounding autoencoder (Dincer et al., 2020): a domain discriminator
          ``F`` on the embedding learns which domain a sample comes from while the autoencoder
          minimises ``MSE − λ·BCE(F(E(x)), domain)``; AE warm-up, discriminator warm-up, then
          alternating updates (``adv_steps`` discriminator updates per autoencoder update),
          as in ADAE and the CODE-AE reference ``train_adae``
``coral`` autoencoder + Deep CORAL (Sun & Saenko, 2016): ``MSE + w·CORAL(E(x_s), E(x_t))``
          aligns the two domains' embedding covariances
========  ===================================================================================

Training procedure (the same for every pretrained baseline, and the CODE-AE reference's): AdamW,
each epoch one pass over the source training rows in minibatches of ``batch_size``, every
minibatch paired with an equally large random minibatch of target rows; the reconstruction term
is the mean of the two domains' MSEs, so both domains weigh the same whatever their sizes.
``val_fraction`` of each domain's rows (unlabelled expression only) is held out; the epoch with
the lowest held-out objective is kept (early stopping with ``patience``), through
:func:`drugshift.train.fit`.

The returned encoder is a :class:`drugshift.nn.blocks.NormalisedEncoder` with
``normalise=False``: ``(n, genes) → (n, latent_dim)``.

On CUDA no step waits for the GPU: the target minibatch is drawn by the CPU order generator
and its indices are copied without waiting (``non_blocking``; a no-op on CPU); validation reads
its values once per epoch. ``precision`` (``fp32``, ``bf16``, ``fp16``) is the arithmetic of
the training steps on CUDA (:class:`~drugshift.train.MixedPrecision`); fp32 elsewhere.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drugshift.methods import PRETRAINED_BASELINES
from drugshift.nn.blocks import Decoder, NormalisedEncoder, binomial_mask, mlp
from drugshift.nn.inference import apply_in_chunks
from drugshift.nn.losses import coral_loss
from drugshift.params import BaselineParams
from drugshift.resume import Checkpoints
from drugshift.splits import holdout
from drugshift.train import History, MixedPrecision, adamw, as_float_matrix, fit, resolve_device, seed_everything

__all__ = ["AutoencoderPlan", "BaselineAutoencoder", "build_encoder", "embed", "pretrain_encoder"]

_log = logging.getLogger(__name__)


def build_encoder(n_genes: int, params: BaselineParams) -> NormalisedEncoder:
    """The encoder every pretrained baseline returns, untrained: ``(n, n_genes) → (n, latent)``
    with a linear output layer and no embedding normalisation; ``latent_dim`` = ``params.latent``."""
    p = params
    return NormalisedEncoder(int(n_genes), p.hidden, p.latent, p.dropout, p.batchnorm, normalise=False)


def embed(encoder: nn.Module, x) -> np.ndarray:
    """``encoder(x)`` in eval mode, as a float32 numpy array ``(n, latent)``."""
    encoder.eval()
    return apply_in_chunks(encoder, as_float_matrix(x, "x"), next(encoder.parameters()).device)


class BaselineAutoencoder(nn.Module):
    """Encoder + decoder (+ the VAE's log-variance head) with the baselines' loss terms."""

    def __init__(self, n_genes: int, p: BaselineParams, variational: bool):
        super().__init__()
        self.n_genes = int(n_genes)
        self.encoder = build_encoder(n_genes, p)
        dec_hidden = p.decoder_hidden if p.decoder_hidden is not None else list(p.hidden)[::-1]
        self.decoder = Decoder(p.latent, dec_hidden, n_genes, p.dropout, p.batchnorm)
        # log σ² from the last hidden layer, beside the mean (the encoder's output layer).
        self.logvar = nn.Linear(p.hidden[-1] if p.hidden else n_genes, p.latent) if variational else None

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(μ(x), log σ²(x))`` of the VAE's Gaussian posterior."""
        h = self.encoder.net[:-1](x)
        return self.encoder.net[-1](h), self.logvar(h)

    def reconstruction(self, x_in: Tensor, x_clean: Tensor) -> Tensor:
        """``MSE(x_clean, D(E(x_in)))``."""
        return F.mse_loss(self.decoder(self.encoder(x_in)), x_clean)

    def kl(self, x: Tensor) -> Tensor:
        """KL divergence of the posterior from N(0, I), summed over latent dimensions, averaged
        over samples, divided by the number of genes (the scale of the mean-over-genes MSE)."""
        mu, logvar = self.posterior(x)
        return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean() / self.n_genes

    def vae_terms(self, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``(reconstruction of a posterior sample, KL)`` of one domain's minibatch."""
        mu, logvar = self.posterior(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)).mean() / self.n_genes
        return F.mse_loss(self.decoder(z), x), kl


class AutoencoderPlan:
    """Pretraining of one baseline (see the module docstring); :meth:`run` returns the encoder
    and the history. The same ``params.seed`` gives bit-identical weights on CPU."""

    def __init__(self, method: str, source, target, params: BaselineParams,
                 device: str | torch.device = "cpu", log: logging.Logger | None = None,
                 checkpoints: Checkpoints | None = None, precision: str = "fp32"):
        if method not in PRETRAINED_BASELINES:
            raise ValueError(f"unknown pretrained baseline {method!r}; expected one of {PRETRAINED_BASELINES}")
        p = self.params = params
        self.method, self.log = method, log or _log
        Xs, Xt = as_float_matrix(source, "source"), as_float_matrix(target, "target")
        if Xs.shape[1] != Xt.shape[1]:
            raise ValueError(f"source has {Xs.shape[1]} genes but target has {Xt.shape[1]}; "
                             "align both to the same gene order first")
        if min(len(Xs), len(Xt)) < 4:
            raise ValueError(f"need at least 4 rows per domain, got {len(Xs)} source and {len(Xt)} target")
        self.device = dev = resolve_device(device)
        self.amp = MixedPrecision(precision, dev)
        self.n_source, self.n_target, self.n_genes = len(Xs), len(Xt), Xs.shape[1]
        # The order of these draws fixes the run: keep it when editing.
        seed_everything(p.seed)
        rng = np.random.default_rng(p.seed)
        s_tr, s_va = holdout(len(Xs), p.val_fraction, rng)
        t_tr, t_va = holdout(len(Xt), p.val_fraction, rng)
        self.generator = torch.Generator().manual_seed(p.seed)
        self.noise = torch.Generator(device=dev).manual_seed(p.seed + 1)
        self.checkpoints = checkpoints
        if checkpoints is not None:
            checkpoints.track(order=self.generator, noise=self.noise)
            if self.amp.scaler is not None:
                checkpoints.track(loss_scale=self.amp)
        self.S, self.T = torch.as_tensor(Xs[s_tr], device=dev), torch.as_tensor(Xt[t_tr], device=dev)
        self.S_val, self.T_val = torch.as_tensor(Xs[s_va], device=dev), torch.as_tensor(Xt[t_va], device=dev)
        # A fixed mask for the held-out rows, so that DAE epochs are compared on the same noise.
        self.S_val_in = binomial_mask(self.S_val, p.noise_p, self.noise) if method == "dae" else self.S_val
        self.T_val_in = binomial_mask(self.T_val, p.noise_p, self.noise) if method == "dae" else self.T_val
        torch.manual_seed(p.seed)
        self.ae = BaselineAutoencoder(self.n_genes, p, variational=method == "vae").to(dev)
        self.opt = adamw(self.ae.parameters(), p.lr, p.weight_decay)
        self.disc: nn.Module | None = None
        self.opt_disc: torch.optim.Optimizer | None = None

    def target_batch(self, k: int) -> Tensor:
        k = min(k, len(self.T))
        pick = torch.randperm(len(self.T), generator=self.generator)[:k]
        return self.T[pick.to(self.device, non_blocking=True)]

    # ------------------------------------------------------------------ objectives

    def objective(self, xs: Tensor, xt: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The method's objective on one paired minibatch (training mode: noise, sampling)."""
        p, ae, parts = self.params, self.ae, {}
        if self.method == "vae":
            (rs, ks), (rt, kt) = ae.vae_terms(xs, self.noise), ae.vae_terms(xt, self.noise)
            rec, kl = (rs + rt) / 2, (ks + kt) / 2
            parts["kl"] = kl.detach()
            loss = rec + p.kl_weight * kl
        elif self.method == "dae":
            rec = (ae.reconstruction(binomial_mask(xs, p.noise_p, self.noise), xs)
                   + ae.reconstruction(binomial_mask(xt, p.noise_p, self.noise), xt)) / 2
            loss = rec
        else:
            zs, zt = ae.encoder(xs), ae.encoder(xt)
            rec = (F.mse_loss(ae.decoder(zs), xs) + F.mse_loss(ae.decoder(zt), xt)) / 2
            loss = rec
            if self.method == "coral":
                c = coral_loss(zs, zt)
                parts["coral"] = c.detach()
                loss = rec + p.coral_weight * c
        parts["reconstruction"] = rec.detach()
        return loss, parts

    def val_reconstruction(self) -> float:
        """Held-out reconstruction MSE, mean of the two domains."""
        ae = self.ae
        return 0.5 * (ae.reconstruction(self.S_val_in, self.S_val).item()
                      + ae.reconstruction(self.T_val_in, self.T_val).item())

    def domain_bce(self, zs: Tensor, zt: Tensor) -> Tensor:
        """The discriminator's BCE; 0 = source (cell lines), 1 = target, as in the reference."""
        logits = self.disc(torch.cat([zs, zt])).squeeze(1)
        truth = torch.cat([torch.zeros(len(zs), device=self.device), torch.ones(len(zt), device=self.device)])
        return F.binary_cross_entropy_with_logits(logits, truth)

    # ------------------------------------------------------------------ steps and validation

    def autoencoder_step(self, idx: Tensor) -> dict[str, Tensor]:
        self.opt.zero_grad(set_to_none=True)
        loss, parts = self.objective(self.S[idx], self.target_batch(len(idx)))
        self.amp.backward(loss)
        self.amp.step(self.opt)
        return {"loss": loss.detach(), **parts}

    def validate_autoencoder(self) -> float:
        """Held-out objective: reconstruction, + the KL (vae) or CORAL (coral) term."""
        p, v = self.params, self.val_reconstruction()
        if self.method == "vae":
            v += p.kl_weight * 0.5 * (self.ae.kl(self.S_val).item() + self.ae.kl(self.T_val).item())
        elif self.method == "coral":
            v += p.coral_weight * coral_loss(self.ae.encoder(self.S_val), self.ae.encoder(self.T_val)).item()
        return v

    def discriminator_step(self, idx: Tensor) -> dict[str, Tensor]:
        with torch.no_grad():
            zs, zt = self.ae.encoder(self.S[idx]), self.ae.encoder(self.target_batch(len(idx)))
        self.opt_disc.zero_grad(set_to_none=True)
        loss = self.domain_bce(zs, zt)
        self.amp.backward(loss)
        self.amp.step(self.opt_disc)
        return {"loss": loss.detach()}

    def validate_discriminator(self) -> float:
        return self.domain_bce(self.ae.encoder(self.S_val), self.ae.encoder(self.T_val)).item()

    def adversarial_step(self, idx: Tensor) -> dict[str, Tensor]:
        p, ae = self.params, self.ae
        d_loss = sum(self.discriminator_step(idx)["loss"] for _ in range(p.adv_steps)) / p.adv_steps
        xs, xt = self.S[idx], self.target_batch(len(idx))
        self.disc.eval()  # the adversary is fixed (no dropout) while the autoencoder moves
        self.opt.zero_grad(set_to_none=True)
        zs, zt = ae.encoder(xs), ae.encoder(xt)
        rec = (F.mse_loss(ae.decoder(zs), xs) + F.mse_loss(ae.decoder(zt), xt)) / 2
        adv = self.domain_bce(zs, zt)
        loss = rec - p.adv_weight * adv
        self.amp.backward(loss)
        self.amp.step(self.opt)
        self.disc.train()
        return {"loss": loss.detach(), "reconstruction": rec.detach(), "domain_bce": adv.detach(),
                "discriminator": d_loss}

    def validate_adversarial(self) -> float:
        # Reconstruction plus how much domain information the current discriminator still finds
        # in held-out embeddings (BCE below chance, log 2); not recon − λ·BCE, which is
        # unbounded below once the discriminator is fooled into confident mistakes.
        return self.val_reconstruction() + self.params.adv_weight * max(0.0, math.log(2.0) - self.validate_discriminator())

    # ------------------------------------------------------------------ run

    def run(self) -> tuple[NormalisedEncoder, dict]:
        """Returns ``(encoder, history)``: the encoder (eval mode, on the device) and ``method``,
        ``seed``, ``n_genes``, ``n_source``, ``n_target``, ``params``, ``phases`` (name →
        :meth:`History.to_dict`: ``pretrain``, or for ``adae`` ``ae_warmup``,
        ``discriminator_warmup``, ``adversarial``) and ``val_reconstruction``."""
        p, n_s = self.params, len(self.S)
        common = dict(n_train=n_s, batch_size=p.batch_size, patience=p.patience, generator=self.generator,
                      log=self.log, log_every=p.log_every, device=self.device, checkpoint=self.checkpoints,
                      precision=self.amp)
        phases: dict[str, History] = {}
        if self.method != "adae":
            phases["pretrain"] = fit(self.autoencoder_step, self.validate_autoencoder, [self.ae],
                                     epochs=p.max_epochs, name=f"{self.method} pretrain", optimisers=[self.opt],
                                     **common)
        else:
            self.disc = mlp([p.latent, *p.adv_hidden, 1], p.dropout).to(self.device)
            self.opt_disc = adamw(self.disc.parameters(), p.lr, p.weight_decay)
            optimisers = [self.opt, self.opt_disc]
            phases["ae_warmup"] = fit(self.autoencoder_step, self.validate_autoencoder, [self.ae],
                                      epochs=p.warmup_epochs, name="adae AE warm-up", optimisers=optimisers, **common)
            phases["discriminator_warmup"] = fit(self.discriminator_step, self.validate_discriminator, [self.disc],
                                                 epochs=p.warmup_epochs, name="adae discriminator warm-up",
                                                 optimisers=optimisers, **common)
            phases["adversarial"] = fit(self.adversarial_step, self.validate_adversarial, [self.ae, self.disc],
                                        epochs=p.max_epochs, name="adae adversarial", optimisers=optimisers, **common)
        self.ae.eval()
        with torch.no_grad():
            val_rec = self.val_reconstruction()
        self.log.info("%s: held-out reconstruction MSE %.4f", self.method, val_rec)
        history = {"method": self.method, "seed": int(p.seed), "n_genes": self.n_genes,
                   "n_source": self.n_source, "n_target": self.n_target, "params": p.to_dict(),
                   "phases": {k: h.to_dict() for k, h in phases.items()}, "val_reconstruction": float(val_rec)}
        return self.ae.encoder.eval(), history


def pretrain_encoder(method: str, source, target, params: BaselineParams, *, device: str | torch.device = "cpu",
                     log: logging.Logger | None = None, checkpoints: Checkpoints | None = None,
                     precision: str = "fp32") -> tuple[NormalisedEncoder, dict]:
    """Pretrain a baseline encoder on unlabelled source and target expression
    (:class:`AutoencoderPlan`; ``checkpoints``: :class:`~drugshift.resume.Checkpoints`;
    ``precision``: ``fp32``, ``bf16`` or ``fp16``, CUDA only); returns ``(encoder, history)``.

    Raises:
        ValueError: unknown method, shapes that do not match, non-finite values, or fewer than
            4 rows in a domain.
    """
    return AutoencoderPlan(method, source, target, params, device, log, checkpoints, precision).run()
