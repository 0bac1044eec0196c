"""Loss functions for domain alignment and embedding regularisation.

Under CUDA autocast (bf16 / fp16 training, :class:`drugshift.train.MixedPrecision`) every loss
here is computed in fp32, autocast off: they reduce over the batch (distances by a matmul
expansion, means of similarities), where half precision loses too much. Outside autocast they
run as written. On CUDA none of them reads a value back to the host.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

#: Multipliers applied to the median-distance bandwidth when no bandwidths are given.
DEFAULT_BANDWIDTH_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)

#: The reference scDEAL code: a single Gaussian kernel with sigma = 1000.
REFERENCE_BANDWIDTHS = (1000.0,)


def _fp32(fn: Callable) -> Callable:
    """``fn`` in fp32 under CUDA autocast: floating tensor arguments cast to float32 and autocast
    off inside; unchanged otherwise (so CPU results do not depend on it)."""

    def cast(v):
        return v.float() if isinstance(v, Tensor) and v.is_floating_point() else v

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not torch.is_autocast_enabled("cuda"):
            return fn(*args, **kwargs)
        with torch.autocast(device_type="cuda", enabled=False):
            return fn(*map(cast, args), **{k: cast(v) for k, v in kwargs.items()})

    return wrapper


def _sq_dists(a: Tensor, b: Tensor) -> Tensor:
    # Expanded form is O(n·m·d) in matmul instead of materialising (n, m, d) differences;
    # clamp removes the small negatives the expansion produces through cancellation.
    d2 = (a * a).sum(1, keepdim=True) + (b * b).sum(1).unsqueeze(0) - 2.0 * a @ b.T
    return d2.clamp_min(0.0)


def _median_distance(x: Tensor, y: Tensor) -> Tensor | None:
    """The median Euclidean distance between distinct points of ``x ∪ y`` as a 0-d tensor on
    their device (no host synchronisation), 1 where it is 0 or NaN; ``None`` for fewer than two
    points. Without gradient."""
    with torch.no_grad():
        z = torch.cat([x, y]).detach()
        n = z.shape[0]
        if n < 2:
            return None
        d2 = _sq_dists(z, z)
        # The off-diagonal entries without a boolean mask (whose size the host would have to read):
        # after the first entry, every row of n + 1 entries ends with the next diagonal one.
        off = d2.flatten()[1:].view(n - 1, n + 1)[:, :-1]
        med = off.median().sqrt()
        return torch.where(med > 0, med, torch.ones_like(med))


@_fp32
def median_bandwidth(x: Tensor, y: Tensor) -> float:
    """Median heuristic: the median Euclidean distance between distinct points of ``x ∪ y``.

    Computed without gradient (the bandwidth is a hyperparameter of the kernel, not something to
    optimise). Returns 1.0 when all points coincide. A float: it reads the value back to the
    host (:func:`gaussian_mmd` keeps it on the device instead).
    """
    med = _median_distance(x, y)
    return 1.0 if med is None else float(med)


def _gammas(sigmas: Tensor) -> Tensor:
    """``1 / (2σ²)`` of float64 ``sigmas``, in the order of operations of the Python expression
    ``1.0 / (2.0 * s * s)`` (so that the float32 kernel widths are those of float arithmetic)."""
    return torch.reciprocal(sigmas.mul(2.0).mul(sigmas))


@_fp32
def gaussian_mmd(x: Tensor, y: Tensor, bandwidths: Sequence[float] | None = None) -> Tensor:
    """Squared maximum mean discrepancy between two samples (paper, step 4, ``loss_MMD``).

    ``MMD² = mean k(x, x') + mean k(y, y') − 2 mean k(x, y)`` (biased V-statistic, the form of
    the reference ``mix_rbf_mmd2``), with ``k(a, b) = Σ_σ exp(−‖a − b‖² / (2σ²))``.

    Args:
        x: ``(n, d)`` sample, e.g. ``Eb(Xb)``.
        y: ``(m, d)`` sample, e.g. ``Es(Xs)``.
        bandwidths: kernel widths σ. ``None`` (default) uses the median pairwise distance of the
            pooled sample times ``DEFAULT_BANDWIDTH_SCALES`` (0.25, 0.5, 1, 2, 4), which keeps
            the kernel informative whatever the embedding scale. ``[1000.0]``
            (``REFERENCE_BANDWIDTHS``) reproduces the reference code, whose kernel is almost
            flat for typical embeddings so that MMD is nearly zero.

    Returns:
        Scalar tensor ≥ 0, differentiable with respect to ``x`` and ``y``.
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"gaussian_mmd needs (n, d) and (m, d) inputs, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise ValueError("gaussian_mmd needs at least one sample on each side")
    if bandwidths is None:
        # On the device: σ = median distance × scale, in float64 like Python floats, no readback.
        base = _median_distance(x, y)
        base = torch.ones((), dtype=torch.float64, device=x.device) if base is None else base.double()
        gammas = _gammas(torch.stack([base * s for s in DEFAULT_BANDWIDTH_SCALES])).to(x.dtype)
    else:
        sigmas = [float(s) for s in bandwidths]
        if not sigmas or any(s <= 0 for s in sigmas):
            raise ValueError(f"bandwidths must be positive, got {list(bandwidths)}")
        # Built on the host, copied without waiting for the device (a no-op on CPU).
        gammas = torch.tensor([1.0 / (2.0 * s * s) for s in sigmas], dtype=x.dtype).to(x.device, non_blocking=True)

    def kernel_mean(a: Tensor, b: Tensor) -> Tensor:
        d2 = _sq_dists(a, b)
        return torch.exp(-d2.unsqueeze(0) * gammas.view(-1, 1, 1)).sum(0).mean()

    mmd2 = kernel_mean(x, x) + kernel_mean(y, y) - 2.0 * kernel_mean(x, y)
    return mmd2.clamp_min(0.0)


@_fp32
def cluster_similarity_loss(z: Tensor, clusters: Tensor, detach: bool = False) -> Tensor:
    """Cell-cluster regulariser of the DaNN loss (paper, step 4, ``β·regulizer``).

    For every cluster ``c`` with at least two cells in the batch, ``1 − mean_{i≠j∈c} cos(z_i,
    z_j)``; the loss is the mean over those clusters. Minimising it makes cells of the same
    (Leiden) cluster embed alike, which is how the paper preserves cellular heterogeneity.

    Args:
        z: ``(n, d)`` embeddings, e.g. ``Es(Xs)`` of a minibatch.
        clusters: ``(n,)`` integer cluster labels of the same cells (any values).
        detach: compute on detached embeddings, as the reference code did (it went through
            numpy), so the term contributes a value but no gradient.

    Returns:
        Scalar tensor in [0, 2]; 0 (still attached to ``z`` unless detached) when no cluster has
        two cells in the batch.
    """
    if z.ndim != 2:
        raise ValueError(f"z must be (n, d), got shape {tuple(z.shape)}")
    clusters = torch.as_tensor(clusters, device=z.device)
    if clusters.shape != (z.shape[0],):
        raise ValueError(f"clusters must have shape ({z.shape[0]},), got {tuple(clusters.shape)}")
    if detach:
        z = z.detach()
    if z.shape[0] < 2:
        return z.sum() * 0.0
    if z.device.type != "cpu":
        return _cluster_similarity_on_device(z, clusters)
    _, codes = torch.unique(clusters, return_inverse=True)
    onehot = F.one_hot(codes).to(z.dtype)  # (n, C)
    zn = F.normalize(z, dim=1)
    sim = zn @ zn.T
    # Σ_{i,j∈c} sim_ij, then drop the i=j terms (1, or 0 for an all-zero embedding).
    within = ((sim @ onehot) * onehot).sum(0)
    self_sim = (sim.diagonal().unsqueeze(1) * onehot).sum(0)
    counts = onehot.sum(0)
    valid = counts >= 2
    if not bool(valid.any()):
        return z.sum() * 0.0
    pairs = counts[valid] * (counts[valid] - 1)
    mean_sim = (within[valid] - self_sim[valid]) / pairs
    return (1.0 - mean_sim).mean()


def _cluster_similarity_on_device(z: Tensor, clusters: Tensor) -> Tensor:
    """:func:`cluster_similarity_loss` without host synchronisation (no ``unique``, no boolean
    mask, no test of a value), for accelerators; equal to the CPU form up to rounding.

    Per cell ``i`` of cluster ``c``: ``row_i = Σ_{j∈c, j≠i} cos(z_i, z_j)`` and ``n_c``; then
    ``Σ_{i∈c} row_i / (n_c(n_c − 1))`` is cluster ``c``'s mean similarity and
    ``Σ_{i∈c} 1 / n_c = 1`` counts it, so both sums over cells run over the clusters with at
    least two cells without listing them.
    """
    same = (clusters.unsqueeze(1) == clusters.unsqueeze(0)).to(z.dtype)  # (n, n)
    zn = F.normalize(z, dim=1)
    sim = zn @ zn.T
    counts = same.sum(1)  # n_c of each cell's cluster
    row = (sim * same).sum(1) - sim.diagonal()
    valid = counts >= 2
    zero = torch.zeros_like(counts)
    mean_sims = torch.where(valid, row / (counts * (counts - 1)).clamp_min(1.0), zero).sum()
    n_valid = torch.where(valid, 1.0 / counts, zero).sum().round()
    # No cluster with two cells: 0, still attached to z (as the CPU form's z.sum() * 0).
    return (n_valid - mean_sims) / n_valid.clamp_min(1.0)


@_fp32
def coral_loss(x: Tensor, y: Tensor) -> Tensor:
    """Deep CORAL loss (Sun & Saenko, 2016): distance between the two samples' feature covariances.

    ``‖C_x − C_y‖²_F / (4 d²)`` with ``C`` the unbiased ``(d, d)`` covariance of each sample.

    Args:
        x: ``(n, d)`` source features (e.g. cell-line embeddings), ``n ≥ 2``.
        y: ``(m, d)`` target features (e.g. patient embeddings), ``m ≥ 2``.

    Returns:
        Scalar tensor ≥ 0, differentiable with respect to ``x`` and ``y``.
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"coral_loss needs (n, d) and (m, d) inputs, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError("coral_loss needs at least two samples on each side (covariance)")
    d = x.shape[1]

    def cov(a: Tensor) -> Tensor:
        a = a - a.mean(0, keepdim=True)
        return a.T @ a / (a.shape[0] - 1)

    return ((cov(x) - cov(y)) ** 2).sum() / (4.0 * d * d)


@_fp32
def orthogonality_loss(shared: Tensor, private: Tensor) -> Tensor:
    """Soft orthogonality ``L_diff`` of domain separation networks (CODE-AE, eq. for ``L_diff``):
    the squared Frobenius norm ``‖S^T P‖²_F`` of the product of the shared and private
    embeddings of the same samples, divided by the number of entries of ``S^T P``.

    Each embedding is centred and L2-normalised per row before the product (as in the DSN and
    CODE-AE reference implementations), so the loss measures correlation, not scale.

    Args:
        shared: ``(n, d_s)`` shared-encoder embeddings.
        private: ``(n, d_p)`` private-encoder embeddings of the same ``n`` samples.

    Returns:
        Scalar tensor ≥ 0; 0 when the two embeddings span orthogonal directions.
    """
    if shared.ndim != 2 or private.ndim != 2 or shared.shape[0] != private.shape[0]:
        raise ValueError(f"orthogonality_loss needs (n, d_s) and (n, d_p) inputs of the same samples, "
                         f"got {tuple(shared.shape)} and {tuple(private.shape)}")
    s = shared - shared.mean(0, keepdim=True)
    p = private - private.mean(0, keepdim=True)
    s = F.normalize(s, dim=1)
    p = F.normalize(p, dim=1)
    return (s.T @ p).pow(2).mean()


@_fp32
def gradient_penalty(critic: torch.nn.Module, real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP gradient penalty (Gulrajani et al., 2017): ``E[(‖∇_x̂ F(x̂)‖₂ − 1)²]`` at random
    interpolates ``x̂ = ε·real + (1 − ε)·fake``, ``ε ~ U(0, 1)`` per sample.

    Args:
        critic: module mapping ``(n, d) → (n, 1)`` scores.
        real, fake: ``(n, d)`` and ``(m, d)`` samples (the larger is truncated to the smaller).
        generator: optional generator (on the samples' device) for ``ε``.

    Returns:
        Scalar tensor, differentiable with respect to the critic's parameters (``create_graph``).
    """
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"gradient_penalty needs (n, d) and (m, d) inputs, got {tuple(real.shape)} and {tuple(fake.shape)}")
    n = min(real.shape[0], fake.shape[0])
    real, fake = real[:n].detach(), fake[:n].detach()
    eps = torch.rand(n, 1, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
    scores = critic(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return ((grad.norm(2, dim=1) - 1.0) ** 2).mean()
