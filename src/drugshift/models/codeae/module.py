"""CODE-AE's networks as pure torch modules, with every loss term as a method.

* :class:`CodeAEModule`: shared encoder ``Es``, private encoders ``Ec_p`` (cell lines, the
  source) and ``Et_p`` (patients / tumour models, the target), one decoder ``D`` on
  ``concat(private, shared)`` and, for ``adv`` and ``dsn_dann``, a critic ``F``.
* :class:`DrugClassifier`: an encoder with a classifier head, the per-drug model of fine-tuning.

Nothing here trains: :mod:`drugshift.models.codeae.plan` calls these methods in its steps.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from drugshift.nn.blocks import Decoder, NormalisedEncoder, Predictor, mlp
from drugshift.nn.losses import gaussian_mmd, gradient_penalty, orthogonality_loss
from drugshift.params import ALIGNMENT, CodeAEParams

__all__ = ["CodeAEModule", "DrugClassifier", "encoder_from_spec", "encoder_spec", "linear_layers", "random_encoder"]


class _GradReverse(torch.autograd.Function):
    """Identity forward, negated gradient backward (DANN's gradient-reversal layer)."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class CodeAEModule(nn.Module):
    """CODE-AE (He et al., 2022, Fig. 1b) for one variant of :data:`drugshift.params.ALIGNMENT`.

    Shapes: ``(batch, n_genes)`` in; embeddings ``(batch, latent)``, every row of unit L2 norm
    when ``params.normalise``; reconstructions ``(batch, n_genes)``.
    """

    def __init__(self, n_genes: int, params: CodeAEParams):
        super().__init__()
        p = params
        self.n_genes = int(n_genes)
        self.align, self.align_on = ALIGNMENT[p.variant]

        def encoder() -> NormalisedEncoder:
            return NormalisedEncoder(n_genes, p.encoder_hidden, p.latent, p.dropout, p.batchnorm,
                                     normalise=p.normalise)

        # Creation order fixes the initialisation drawn from the seeded global generator.
        self.shared_encoder = encoder()
        self.private_source = encoder()
        self.private_target = encoder()
        self.decoder = Decoder(2 * p.latent, p.decoder_hidden, n_genes, p.dropout, p.batchnorm)
        z_dim = 2 * p.latent if self.align_on == "concat" else p.latent
        self.critic = mlp([z_dim, *p.critic_hidden, 1]) if self.align in ("wgan", "dann") else None

    def autoencoder_parameters(self):
        """Parameters of the encoders and the decoder (not the critic)."""
        return itertools.chain(self.shared_encoder.parameters(), self.private_source.parameters(),
                               self.private_target.parameters(), self.decoder.parameters())

    def encode(self, x: Tensor) -> Tensor:
        """``Es(x)``: the shared (deconfounded) embedding, the input of fine-tuning."""
        return self.shared_encoder(x)

    def parts(self, x: Tensor, domain: str) -> tuple[Tensor, Tensor, Tensor]:
        """``(shared, private, reconstruction)`` of samples of ``domain`` (``source``/``target``)."""
        private_encoder = self.private_source if domain == "source" else self.private_target
        s, p = self.shared_encoder(x), private_encoder(x)
        return s, p, self.decoder(torch.cat([p, s], dim=1))

    def aligned(self, s: Tensor, p: Tensor) -> Tensor:
        """The embedding the alignment term compares: ``concat(private, shared)`` or ``shared``."""
        return torch.cat([p, s], dim=1) if self.align_on == "concat" else s

    # ------------------------------------------------------------------ loss terms

    def base_terms(self, xc: Tensor, xt: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(L_recon, L_diff, z_c, z_t)`` of a source and a target minibatch: the sum of the two
        domains' reconstruction MSEs, the sum of their soft-orthogonality terms, and the
        embeddings the alignment term compares."""
        sc, pc, rc = self.parts(xc, "source")
        st, pt, rt = self.parts(xt, "target")
        recon = F.mse_loss(rc, xc) + F.mse_loss(rt, xt)
        diff = orthogonality_loss(sc, pc) + orthogonality_loss(st, pt)
        return recon, diff, self.aligned(sc, pc), self.aligned(st, pt)

    def reconstruction_error(self, xc: Tensor, xt: Tensor) -> Tensor:
        """``MSE_c + MSE_t`` of the reconstructions (the held-out value reported per epoch)."""
        _, _, rc = self.parts(xc, "source")
        _, _, rt = self.parts(xt, "target")
        return F.mse_loss(rc, xc) + F.mse_loss(rt, xt)

    def mmd(self, zc: Tensor, zt: Tensor) -> Tensor:
        """Multi-bandwidth Gaussian MMD between the domains' embeddings (``mmd``, ``dsn_mmd``)."""
        return gaussian_mmd(zc, zt)

    def critic_loss(self, zc: Tensor, zt: Tensor, gp_weight: float,
                    generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """WGAN-GP critic objective (Procedure 1): ``mean F(z_t) − mean F(z_c) + λ·GP``, with the
        embeddings fixed. Returns ``(loss, GP)``."""
        gp = gradient_penalty(self.critic, zc, zt, generator)
        return self.critic(zt).mean() - self.critic(zc).mean() + gp_weight * gp, gp

    def generator_loss(self, zt: Tensor) -> Tensor:
        """``−mean F(z_t)``: the encoders make target embeddings score like source ones."""
        return -self.critic(zt).mean()

    def dann_loss(self, zc: Tensor, zt: Tensor) -> Tensor:
        """Domain-classifier BCE behind a gradient-reversal layer (``dsn_dann``): the critic learns
        the domain (1 = source) while the encoders receive the negated gradient."""
        z = _GradReverse.apply(torch.cat([zc, zt]))
        dom = torch.cat([torch.ones(len(zc), device=z.device), torch.zeros(len(zt), device=z.device)])
        return F.binary_cross_entropy_with_logits(self.critic(z).squeeze(1), dom)


class DrugClassifier(nn.Module):
    """``sigmoid(head(encoder(x)))``: an encoder with a classifier head whose single output is the
    logit of sensitivity (1 = sensitive). ``forward`` returns logits ``(batch,)``."""

    def __init__(self, encoder: nn.Module, hidden: Sequence[int], dropout: float = 0.1):
        super().__init__()
        latent = getattr(encoder, "latent_dim", None)
        if latent is None:
            raise ValueError("the encoder needs a 'latent_dim' attribute (its embedding width)")
        self.encoder = encoder
        self.head = Predictor(int(latent), hidden, 1, dropout, batchnorm=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x)).squeeze(1)

    def bce(self, x: Tensor, y: Tensor) -> Tensor:
        """Binary cross-entropy of the logits against 0/1 float labels."""
        return F.binary_cross_entropy_with_logits(self(x), y)


def random_encoder(n_genes: int, params: CodeAEParams, seed: int) -> NormalisedEncoder:
    """A freshly initialised encoder of CODE-AE's shared-encoder architecture, without embedding
    normalisation: fine-tuned with ``unfreeze='all'`` it is the paper's ``MLP`` baseline."""
    torch.manual_seed(seed)
    return NormalisedEncoder(n_genes, params.encoder_hidden, params.latent, params.dropout, params.batchnorm,
                             normalise=False)


def linear_layers(module: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of ``module`` from input to output."""
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def encoder_spec(encoder: nn.Module) -> dict:
    """Constructor arguments of a :class:`NormalisedEncoder` read from its layers, so that a
    fine-tuned copy can be rebuilt whichever method pretrained it."""
    if not isinstance(encoder, NormalisedEncoder):
        raise TypeError(f"expected a NormalisedEncoder, got {type(encoder).__name__}")
    linears = linear_layers(encoder)
    drop = [m.p for m in encoder.modules() if isinstance(m, nn.Dropout)]
    return {"n_in": linears[0].in_features, "hidden": [m.out_features for m in linears[:-1]],
            "bottleneck": linears[-1].out_features, "dropout": float(drop[0]) if drop else 0.0,
            "batchnorm": any(isinstance(m, nn.BatchNorm1d) for m in encoder.modules()),
            "normalise": bool(encoder.normalise)}


def encoder_from_spec(spec: dict) -> NormalisedEncoder:
    """An untrained :class:`NormalisedEncoder` of the architecture :func:`encoder_spec` read."""
    return NormalisedEncoder(**spec)
