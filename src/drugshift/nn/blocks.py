"""Network building blocks shared by the models: MLPs, encoders, decoders, a denoising
autoencoder and a classification head.

All blocks take and return ``float32`` tensors of shape ``(batch, features)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def mlp(
    dims: Sequence[int],
    dropout: float = 0.0,
    batchnorm: bool = False,
    activation: str = "relu",
    last_activation: bool = False,
) -> nn.Sequential:
    """Fully connected stack ``dims[0] → dims[1] → … → dims[-1]``.

    Every hidden layer is ``Linear → [BatchNorm1d] → activation → [Dropout]`` (the order of
    the scDEAL reference blocks). The last layer is a bare ``Linear`` unless
    ``last_activation`` is true, in which case it gets the same BatchNorm/activation/Dropout.

    Args:
        dims: layer widths including input and output, at least two entries, all > 0.
        dropout: dropout probability after each activated layer (0 disables it).
        batchnorm: insert ``BatchNorm1d`` before each activation.
        activation: one of ``relu, leaky_relu, elu, gelu, tanh, sigmoid``.
        last_activation: also activate the output layer.

    Returns:
        ``nn.Sequential`` mapping ``(batch, dims[0]) → (batch, dims[-1])``.
    """
    dims = [int(d) for d in dims]
    if len(dims) < 2:
        raise ValueError(f"mlp needs at least input and output sizes, got dims={dims}")
    if any(d <= 0 for d in dims):
        raise ValueError(f"mlp layer sizes must be positive, got dims={dims}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(_ACTIVATIONS)}")
    layers: list[nn.Module] = []
    n_layers = len(dims) - 1
    for i in range(n_layers):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < n_layers - 1 or last_activation:
            if batchnorm:
                layers.append(nn.BatchNorm1d(dims[i + 1]))
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class LinearHeadMLP(nn.Module):
    """An :func:`mlp` whose last layer is linear: ``(batch, n_in) → (batch, n_out)``.

    The one body behind :class:`Encoder`, :class:`Decoder` and :class:`Predictor`; the
    subclasses only name the ends. Weights live in ``self.net`` (state-dict keys ``net.*``).
    """

    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int, dropout: float = 0.0,
                 batchnorm: bool = True, activation: str = "relu"):
        super().__init__()
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.net = mlp([n_in, *hidden, n_out], dropout, batchnorm, activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Encoder(LinearHeadMLP):
    """Feature extractor ``E``: ``(batch, n_in) → (batch, bottleneck)``.

    Hidden layers are ReLU MLP blocks (paper step 1: "an encoder (Eb), which subtracts X'b to a
    lower-dimensional subspace with a ReLU activation"). The bottleneck itself is linear, as in
    the reference ``AEBase``, so that embeddings can take either sign (the cosine-similarity
    regulariser and MMD act on them).
    """

    def __init__(self, n_in: int, hidden: Sequence[int], bottleneck: int, dropout: float = 0.0,
                 batchnorm: bool = True, activation: str = "relu"):
        super().__init__(n_in, hidden, bottleneck, dropout, batchnorm, activation)


class Decoder(LinearHeadMLP):
    """Reconstruction head ``D``: ``(batch, bottleneck) → (batch, n_out)``.

    Mirror image of :class:`Encoder`; the output layer is linear so that it can reconstruct
    inputs on any scale (the reference used a sigmoid, which only fits min-max scaled data).
    """

    def __init__(self, bottleneck: int, hidden: Sequence[int], n_out: int, dropout: float = 0.0,
                 batchnorm: bool = True, activation: str = "relu"):
        super().__init__(bottleneck, hidden, n_out, dropout, batchnorm, activation)


def binomial_mask(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Masking noise ``B(X, p)`` of the scDEAL DAE: each value is set to zero independently with
    probability ``p`` (paper, step 1: ``X'b = B(Xb, pb)``).

    Args:
        x: tensor of any shape.
        p: probability of zeroing a value, in [0, 1].
        generator: optional ``torch.Generator`` on ``x.device`` for reproducible masks.

    Returns:
        A new tensor with the shape of ``x``; ``x`` itself is never modified (the reference
        code zeroed its input in place, which also corrupted the reconstruction target).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"mask probability must be in [0, 1], got {p}")
    if p == 0.0:
        return x.clone()
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep.to(x.dtype)


class DenoisingAutoencoder(nn.Module):
    """Denoising autoencoder ``D(E(B(X, p)))`` (paper, steps 1 and 3).

    Args:
        n_in: number of input genes.
        hidden: encoder hidden widths (the decoder uses them reversed).
        bottleneck: embedding size.
        dropout, batchnorm: as in :func:`mlp`.
        noise_p: masking probability ``p``; 0 gives a plain autoencoder.

    Shapes: ``encode``: ``(batch, n_in) → (batch, bottleneck)``; ``forward``: ``(batch, n_in) →
    (batch, n_in)`` (no corruption — corruption only happens inside :meth:`loss`).
    """

    def __init__(
        self,
        n_in: int,
        hidden: Sequence[int],
        bottleneck: int,
        dropout: float = 0.0,
        batchnorm: bool = True,
        noise_p: float = 0.2,
    ):
        super().__init__()
        if not 0.0 <= noise_p < 1.0:
            raise ValueError(f"noise_p must be in [0, 1), got {noise_p}")
        self.noise_p = float(noise_p)
        self.encoder = Encoder(n_in, hidden, bottleneck, dropout, batchnorm)
        self.decoder = Decoder(bottleneck, list(hidden)[::-1], n_in, dropout, batchnorm)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))

    def loss(
        self,
        x: Tensor,
        generator: torch.Generator | None = None,
        target: str = "clean",
        corrupted: Tensor | None = None,
    ) -> Tensor:
        """Reconstruction loss ``MSE(X, D(E(B(X, p))))`` (paper eq. for ``loss_recon``).

        Args:
            x: clean inputs ``(batch, n_in)``.
            generator: generator for the mask (on ``x.device``).
            target: ``"clean"`` (the paper: reconstruct ``X`` from ``B(X)``) or ``"corrupted"``
                (the reference code's aliasing defect: the target is ``B(X)`` itself, so the
                network only learns an identity on the masked data).
            corrupted: a precomputed ``B(X)`` to use instead of drawing a new mask (fixed
                validation noise).

        Returns:
            Scalar mean squared error.
        """
        if target not in ("clean", "corrupted"):
            raise ValueError(f"target must be 'clean' or 'corrupted', got {target!r}")
        noisy = corrupted if corrupted is not None else binomial_mask(x, self.noise_p, generator)
        recon = self.forward(noisy)
        return F.mse_loss(recon, x if target == "clean" else noisy)


class Predictor(LinearHeadMLP):
    """Drug-response head ``P``: ``(batch, n_in) → (batch, n_out)`` logits (paper, step 2).

    Returns logits, not probabilities: cross-entropy is applied to them directly (the reference
    applied a softmax and then ``CrossEntropyLoss``, i.e. a double softmax).
    """

    def __init__(self, n_in: int, hidden: Sequence[int], n_out: int = 2, dropout: float = 0.0,
                 batchnorm: bool = True):
        super().__init__(n_in, hidden, n_out, dropout, batchnorm)


class NormalisedEncoder(Encoder):
    """:class:`Encoder` whose embeddings are L2-normalised per sample (CODE-AE: "an additional
    instance normalization layer after the output layer of each encoder to avoid embeddings
    with minimal norm", which the orthogonality loss would otherwise drive towards zero).

    ``(batch, n_in) → (batch, bottleneck)``, every row of unit Euclidean norm. ``latent_dim``
    is the embedding width (the attribute fine-tuning reads from any encoder).
    """

    def __init__(self, n_in: int, hidden: Sequence[int], bottleneck: int, dropout: float = 0.0,
                 batchnorm: bool = False, activation: str = "relu", normalise: bool = True):
        super().__init__(n_in, hidden, bottleneck, dropout, batchnorm, activation)
        self.normalise = bool(normalise)
        self.latent_dim = int(bottleneck)

    def forward(self, x: Tensor) -> Tensor:
        z = self.net(x)
        return F.normalize(z, p=2, dim=1) if self.normalise else z
