"""Building blocks and losses: drugshift.nn."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from drugshift.nn import (
    REFERENCE_BANDWIDTHS,
    Decoder,
    DenoisingAutoencoder,
    Encoder,
    Predictor,
    binomial_mask,
    cluster_similarity_loss,
    gaussian_mmd,
    mlp,
)


def test_mlp_layers_and_shapes():
    net = mlp([10, 8, 4], dropout=0.1, batchnorm=True)
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout, nn.Linear]
    assert net(torch.randn(5, 10)).shape == (5, 4)
    last = mlp([10, 4], dropout=0.0, batchnorm=False, activation="tanh", last_activation=True)
    assert [type(m) for m in last] == [nn.Linear, nn.Tanh]


@pytest.mark.parametrize("dims", [[5], [5, 0, 2]])
def test_mlp_rejects_bad_sizes(dims):
    with pytest.raises(ValueError):
        mlp(dims)


def test_mlp_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        mlp([3, 2], activation="swish-ish")


def test_encoder_decoder_predictor_shapes():
    x = torch.randn(6, 20)
    z = Encoder(20, [16, 8], 4, dropout=0.2)(x)
    assert z.shape == (6, 4)
    assert Decoder(4, [8, 16], 20)(z).shape == (6, 20)
    logits = Predictor(4, [8], n_out=2, dropout=0.1)(z)
    assert logits.shape == (6, 2)
    # logits, not probabilities: rows need not sum to one
    assert not torch.allclose(logits.sum(1), torch.ones(6))


def test_binomial_mask_zeroes_about_p():
    x = torch.ones(400, 500)
    g = torch.Generator().manual_seed(0)
    m = binomial_mask(x, 0.3, g)
    assert abs((m == 0).float().mean().item() - 0.3) < 0.01
    assert torch.all(x == 1), "input must not be modified in place"
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(binomial_mask(x, 0.0), x)
    # reproducible with a seeded generator
    a = binomial_mask(x, 0.5, torch.Generator().manual_seed(3))
    b = binomial_mask(x, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    with pytest.raises(ValueError):
        binomial_mask(x, 1.5)


def test_dae_loss_reconstructs_the_clean_input():
    torch.manual_seed(0)
    dae = DenoisingAutoencoder(12, [10], 3, dropout=0.0, batchnorm=False, noise_p=0.5).eval()
    x = torch.rand(32, 12) + 0.5
    loss = dae.loss(x, torch.Generator().manual_seed(7))
    noisy = binomial_mask(x, 0.5, torch.Generator().manual_seed(7))
    with torch.no_grad():
        recon = dae(noisy)
    assert torch.allclose(loss, F.mse_loss(recon, x))
    assert not torch.allclose(loss, F.mse_loss(recon, noisy))
    # the reference behaviour (target = corrupted input) is still available
    ref = dae.loss(x, torch.Generator().manual_seed(7), target="corrupted")
    assert torch.allclose(ref, F.mse_loss(recon, noisy))


def test_dae_with_zero_noise_is_a_plain_autoencoder():
    torch.manual_seed(0)
    dae = DenoisingAutoencoder(8, [6], 2, dropout=0.0, batchnorm=False, noise_p=0.0).eval()
    x = torch.rand(10, 8)
    assert torch.allclose(dae.loss(x), F.mse_loss(dae(x), x))


def test_dae_learns_to_reconstruct():
    torch.manual_seed(0)
    x = torch.rand(64, 3) @ torch.rand(3, 16)
    dae = DenoisingAutoencoder(16, [32], 4, dropout=0.0, batchnorm=False, noise_p=0.1)
    opt = torch.optim.Adam(dae.parameters(), lr=1e-2)
    first = dae.loss(x).item()
    for _ in range(200):
        opt.zero_grad()
        loss = dae.loss(x)
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first


def test_mmd_zero_for_identical_and_grows_with_shift():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(100, 5, generator=g)
    y = torch.randn(100, 5, generator=g)
    assert gaussian_mmd(x, x).item() == pytest.approx(0.0, abs=1e-6)
    same = gaussian_mmd(x, y).item()
    values = [gaussian_mmd(x, y + s).item() for s in (0.5, 1.0, 2.0, 4.0)]
    assert same < values[0]
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert gaussian_mmd(x, y + 1.0, bandwidths=[0.5, 1.0, 2.0]).item() > same


def test_mmd_reference_bandwidth_is_nearly_blind():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50, 4, generator=g)
    shifted = x + 3.0
    ref = gaussian_mmd(x, shifted, bandwidths=list(REFERENCE_BANDWIDTHS)).item()
    default = gaussian_mmd(x, shifted).item()
    assert 0 <= ref < 1e-4 < default


def test_mmd_is_differentiable_and_checks_shapes():
    x = torch.randn(20, 3, requires_grad=True)
    y = torch.randn(30, 3) + 1
    gaussian_mmd(x, y).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        gaussian_mmd(torch.randn(4, 3), torch.randn(4, 2))
    with pytest.raises(ValueError):
        gaussian_mmd(x, y, bandwidths=[0.0])


def test_cluster_similarity_loss_values():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    z = torch.stack([a, 2 * a, b, 3 * b])
    assert cluster_similarity_loss(z, torch.tensor([0, 0, 1, 1])).item() == pytest.approx(0.0, abs=1e-6)
    # orthogonal pairs inside each cluster: similarity 0, loss 1
    assert cluster_similarity_loss(z, torch.tensor([5, 9, 5, 9])).item() == pytest.approx(1.0, abs=1e-6)
    # opposite vectors: similarity -1, loss 2; singleton clusters are ignored
    z2 = torch.stack([a, -a, b])
    assert cluster_similarity_loss(z2, torch.tensor([0, 0, 1])).item() == pytest.approx(2.0, abs=1e-6)
    # no cluster with two cells: zero
    assert cluster_similarity_loss(z2, torch.tensor([0, 1, 2])).item() == 0.0


def test_cluster_similarity_loss_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(30, 4, generator=g)
    cl = torch.randint(0, 4, (30,), generator=g)
    expected = []
    for c in cl.unique():
        zc = F.normalize(z[cl == c], dim=1)
        n = zc.shape[0]
        if n >= 2:
            s = zc @ zc.T
            expected.append(1 - (s.sum() - s.diagonal().sum()) / (n * (n - 1)))
    assert cluster_similarity_loss(z, cl).item() == pytest.approx(torch.stack(expected).mean().item(), abs=1e-5)


def test_cluster_similarity_gradient_reaches_encoder_unless_detached():
    torch.manual_seed(0)
    enc = Encoder(10, [8], 4, dropout=0.0, batchnorm=True)
    x = torch.randn(24, 10)
    cl = torch.arange(24) % 3
    cluster_similarity_loss(enc(x), cl).backward()
    grads = [p.grad for p in enc.parameters()]
    assert all(gr is not None for gr in grads)
    assert enc.net[0].weight.grad.abs().sum() > 0

    enc.zero_grad(set_to_none=True)
    loss = cluster_similarity_loss(enc(x), cl, detach=True)
    assert not loss.requires_grad
    assert loss.item() > 0
    assert all(p.grad is None for p in enc.parameters())
