"""CUDA code paths: models trained on a GPU predict the same on the CPU, bf16 / fp16 mixed
precision, seeded CUDA runs, the CUDA random state of checkpoints — and their CPU side
(``precision`` ignored on CPU, bit for bit; the device forms of the loss terms).

Tests marked ``gpu`` need CUDA and are skipped without it; the others run everywhere.
"""

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from test_codeae import config as codeae_config
from test_scdeal import make_world, tiny

from drugshift import resume
from drugshift.models.codeae import CodeAE, DrugResponseModel
from drugshift.models.scdeal import ScDEAL, ScDEALEnsemble
from drugshift.models.scdeal.model import _restore_random_state
from drugshift.nn.losses import _cluster_similarity_on_device, cluster_similarity_loss, gaussian_mmd, median_bandwidth
from drugshift.params import resolve_codeae_params
from drugshift.train import MixedPrecision, check_precision

gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (torch.cuda.is_available() is False)")

ALLOWED = "'fp32', 'bf16', 'fp16'"


def graded_world(seed=0, n_bulk=160, n_cells=240, n_genes=50):
    """Bulk and cells whose response follows one continuous program (16 genes up or down with
    it), so that a trained model ranks cells by it; labels: program > 0. Returns the bulk, its
    labels, the cells and their program values."""
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.3, 0.7, n_genes)
    signal = np.zeros(n_genes)
    signal[:8], signal[8:16] = 1.0, -1.0
    tb, tc = rng.normal(size=n_bulk), rng.normal(size=n_cells)
    Xb = mu + 0.1 * tb[:, None] * signal + rng.normal(0, 0.05, (n_bulk, n_genes))
    Xc = 0.8 * (mu + 0.1 * tc[:, None] * signal + rng.normal(0, 0.05, (n_cells, n_genes))) + 0.1
    return Xb.astype(np.float32), (tb > 0).astype(int), Xc.astype(np.float32), tc


def codeae_world(seed=0, n_c=200, n_t=120, g=40):
    """Cell lines and patients driven by the same 4 programs (patients shifted); program 0
    drives response. Per-gene z-scores as DataFrames; the cell-line labels and the patients'
    program 0."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(4, g))
    zc, zt = rng.normal(size=(n_c, 4)), rng.normal(size=(n_t, 4))
    xc = zc @ W + rng.normal(size=(n_c, g)) * 0.5
    xt = zt @ W + rng.normal(size=g) + rng.normal(size=(n_t, g)) * 0.5
    genes = [f"G{i:02d}" for i in range(g)]

    def frame(x):
        return pd.DataFrame(((x - x.mean(0)) / x.std(0)).astype(np.float32), columns=genes)

    return frame(xc), (zc[:, 0] > 0).astype(int), frame(xt), zt[:, 0]


def codeae_drug_model(xc, yc, xt, device, precision="fp32", method="codeae_adv", **finetune):
    params = resolve_codeae_params(codeae_config(**finetune), method)
    encoder = CodeAE.pretrain(method, xc, xt, params, device=device, precision=precision)
    model = DrugResponseModel(method, "drug", params, encoder=encoder, precision=precision).fit(xc, yc, device=device)
    return encoder, model


def card(folder):
    return json.loads((folder / "model.json").read_text())


# --------------------------------------------------------------------------- CPU: precision is ignored


def test_an_unknown_precision_is_refused_naming_the_allowed_ones():
    xc, yc, xt, _ = codeae_world()
    params = resolve_codeae_params(codeae_config(), "codeae_adv")
    for make in (lambda: ScDEAL(tiny(), device="cpu", precision="fp8"),
                 lambda: CodeAE.pretrain("codeae_adv", xc, xt, params, device="cpu", precision="half"),
                 lambda: DrugResponseModel("mlp", "drug", resolve_codeae_params(codeae_config(), "mlp"),
                                           precision="tf32"),
                 lambda: MixedPrecision("int8")):
        with pytest.raises(ValueError, match=f"unknown precision .*expected one of {ALLOWED}"):
            make()
    assert check_precision("BF16") == "bf16"


def test_mixed_precision_is_plain_fp32_on_cpu():
    amp = MixedPrecision("fp16", "cpu")
    assert amp.precision == "fp32" and amp.dtype is None and amp.scaler is None
    with amp.autocast():
        assert not torch.is_autocast_enabled("cpu")
    assert amp.state_dict() == {}


def test_bf16_on_cpu_is_ignored_with_one_log_line_and_changes_no_bit_of_scdeal(caplog):
    Xb, yb, Xc, _ = make_world(n_bulk=80, n_cells=120, n_genes=30)
    params = tiny(epochs_dae=4, epochs_predictor=4, epochs_joint=4)
    fp32 = ScDEAL(params, device="cpu").fit(Xb, yb, Xc)
    with caplog.at_level(logging.INFO, logger="drugshift"):
        bf16 = ScDEAL(params, device="cpu", precision="bf16")
    ignored = [r for r in caplog.records if "precision bf16 ignored" in r.getMessage()]
    assert len(ignored) == 1 and "fp32" in ignored[0].getMessage()
    assert bf16.precision == "fp32"
    bf16.fit(Xb, yb, Xc)
    assert np.array_equal(bf16.predict(Xc), fp32.predict(Xc))
    assert np.array_equal(bf16.predict_bulk(Xb), fp32.predict_bulk(Xb))
    assert bf16.trained_on["precision"] == "fp32"


def test_bf16_on_cpu_is_ignored_with_one_log_line_and_changes_no_bit_of_codeae(caplog, tmp_path):
    xc, yc, xt, _ = codeae_world()
    enc32, model32 = codeae_drug_model(xc, yc, xt, "cpu", max_epochs=6, n_folds=2)
    with caplog.at_level(logging.INFO, logger="drugshift"):
        enc16, model16 = codeae_drug_model(xc, yc, xt, "cpu", "bf16", max_epochs=6, n_folds=2)
    ignored = [r.getMessage() for r in caplog.records if "precision bf16 ignored" in r.getMessage()]
    assert len(ignored) == 2, ignored  # one for the pretraining, one for the drug model (not one per fold)
    assert np.array_equal(enc16.embed(xt), enc32.embed(xt))
    assert np.array_equal(model16.predict_folds(xt), model32.predict_folds(xt))
    assert enc16.trained_on == model16.trained_on == {"device": "cpu", "precision": "fp32"}
    assert card(enc16.save(tmp_path / "encoder"))["trained_on"] == enc16.trained_on
    saved = card(model16.save(tmp_path / "drug"))
    assert saved["trained_on"] == {"device": "cpu", "precision": "fp32"}
    assert DrugResponseModel.load(tmp_path / "drug").trained_on == saved["trained_on"]


# --------------------------------------------------------------------------- CPU: device forms of the losses


def _median_bandwidth_with_a_mask(x, y):
    """The median heuristic as written before it avoided host synchronisation."""
    z = torch.cat([x, y])
    d2 = ((z * z).sum(1, keepdim=True) + (z * z).sum(1).unsqueeze(0) - 2.0 * z @ z.T).clamp_min(0.0)
    off = d2[~torch.eye(len(z), dtype=torch.bool)]
    med = float(off.median().sqrt()) if off.numel() else 1.0
    return med if med > 0 else 1.0


def test_the_median_heuristic_without_host_synchronisation_gives_the_same_bits_on_cpu():
    torch.manual_seed(0)
    for n, m in ((1, 0), (1, 1), (2, 3), (17, 40), (64, 64)):
        x, y = torch.randn(n, 6), torch.randn(m, 6)
        assert median_bandwidth(x, y) == _median_bandwidth_with_a_mask(x, y)
    same = torch.ones(5, 3)
    assert median_bandwidth(same, same) == 1.0
    # The kernel widths of the MMD: σ = median × scale, γ = 1 / (2σ²) as float arithmetic.
    x, y = torch.randn(20, 8), torch.randn(30, 8) + 0.5
    base = _median_bandwidth_with_a_mask(x, y)
    widths = [base * s for s in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert torch.equal(gaussian_mmd(x, y), gaussian_mmd(x, y, widths))


def test_the_cluster_regulariser_on_an_accelerator_equals_the_cpu_form():
    torch.manual_seed(1)
    for n, k in ((2, 1), (3, 3), (12, 4), (200, 9)):
        z = torch.randn(n, 8, requires_grad=True)
        clusters = torch.randint(0, k, (n,)) * 7  # any label values
        cpu = cluster_similarity_loss(z, clusters)
        device = _cluster_similarity_on_device(z, clusters)
        assert torch.allclose(cpu, device, atol=1e-6)
        (g_cpu,) = torch.autograd.grad(cpu, z)
        (g_device,) = torch.autograd.grad(device, z)
        assert torch.allclose(g_cpu, g_device, atol=1e-6)
    # No cluster with two cells: 0, attached, with a zero (not NaN) gradient.
    z = torch.randn(5, 4, requires_grad=True)
    loss = _cluster_similarity_on_device(z, torch.arange(5))
    assert loss.item() == 0.0 and torch.equal(torch.autograd.grad(loss, z)[0], torch.zeros(5, 4))


def test_a_gpu_trained_scdeal_retrains_on_the_cpu():
    """The random state kept for retraining holds a CUDA mask generator's state (a seed and an
    offset, 16 bytes) when trained on a GPU; on the CPU that generator keeps its seed."""
    Xb, yb, Xc, _ = make_world(n_bulk=80, n_cells=120, n_genes=30)
    model = ScDEAL(tiny(epochs_dae=3, epochs_predictor=3, epochs_joint=3), device="cpu").fit(Xb, yb, Xc)
    model._transfer_start = {**model._transfer_start, "mask": torch.zeros(16, dtype=torch.uint8),
                             "cuda": torch.zeros(16, dtype=torch.uint8)}
    again = model.retrain(Xc)
    assert np.isfinite(again.predict(Xc)).all()


def test_checkpoints_keep_no_cuda_state_for_cpu_training():
    assert "cuda" not in resume.capture([], [], None, {}, "cpu")["random"]


# --------------------------------------------------------------------------- CUDA


@gpu
@needs_cuda
def test_scdeal_trained_on_cuda_predicts_the_same_on_the_cpu(tmp_path):
    Xb, yb, Xc, _ = make_world()
    model = ScDEAL(tiny(epochs_dae=10, epochs_predictor=10, epochs_joint=10), device="cuda").fit(Xb, yb, Xc)
    assert model.device.type == "cuda"
    on_gpu, bulk_on_gpu = model.predict(Xc), model.predict_bulk(Xb)
    saved = card(model.save(tmp_path / "model"))
    assert saved["trained_on"]["device"].startswith("cuda") and saved["trained_on"]["precision"] == "fp32"
    loaded = ScDEAL.load(tmp_path / "model", device="cpu")
    assert next(loaded.module.parameters()).device.type == "cpu"
    assert np.abs(loaded.predict(Xc) - on_gpu).max() < 1e-4
    assert np.abs(loaded.predict_bulk(Xb) - bulk_on_gpu).max() < 1e-4


@gpu
@needs_cuda
def test_a_scdeal_ensemble_trained_on_cuda_predicts_the_same_on_the_cpu(tmp_path):
    Xb, yb, Xc, _ = make_world()
    model = ScDEALEnsemble(tiny(epochs_dae=5, epochs_predictor=5, epochs_joint=5, ensemble=2), device="cuda")
    model.fit(Xb, yb, Xc)
    on_gpu = model.predict_members(Xc)
    model.save(tmp_path / "model")
    loaded = ScDEALEnsemble.load(tmp_path / "model", device="cpu")
    assert np.abs(loaded.predict_members(Xc) - on_gpu).max() < 1e-4
    assert loaded.diagnostics == model.diagnostics


@gpu
@needs_cuda
def test_codeae_trained_on_cuda_predicts_the_same_on_the_cpu(tmp_path):
    xc, yc, xt, _ = codeae_world()
    encoder, model = codeae_drug_model(xc, yc, xt, "cuda", max_epochs=20)
    assert encoder.device.type == "cuda"
    embedding, on_gpu = encoder.embed(xt), model.predict_folds(xt)
    for saved in (card(encoder.save(tmp_path / "encoder")), card(model.save(tmp_path / "drug"))):
        assert saved["trained_on"]["device"].startswith("cuda") and saved["trained_on"]["precision"] == "fp32"
    assert np.abs(CodeAE.load(tmp_path / "encoder", "cpu").embed(xt) - embedding).max() < 1e-4
    assert np.abs(DrugResponseModel.load(tmp_path / "drug", "cpu").predict_folds(xt) - on_gpu).max() < 1e-4


@gpu
@needs_cuda
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_scdeal_on_cuda_ranks_cells_like_fp32(precision, tmp_path):
    Xb, yb, Xc, _ = graded_world(seed=3)
    params = tiny(seed=3, epochs_dae=15, epochs_predictor=15, epochs_joint=15)
    fp32 = ScDEAL(params, device="cuda").fit(Xb, yb, Xc).predict(Xc)
    model = ScDEAL(params, device="cuda", precision=precision).fit(Xb, yb, Xc)
    assert model.precision == precision
    assert card(model.save(tmp_path / "model"))["trained_on"]["precision"] == precision
    mixed = model.predict(Xc)
    assert np.isfinite(mixed).all() and mixed.dtype == np.float64
    assert not np.array_equal(mixed, fp32)  # the setting reached the training steps
    if precision == "bf16":
        assert spearmanr(mixed, fp32)[0] > 0.9


@gpu
@needs_cuda
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_codeae_on_cuda_ranks_patients_like_fp32(precision):
    xc, yc, xt, _ = codeae_world()
    _, fp32 = codeae_drug_model(xc, yc, xt, "cuda", max_epochs=20)
    encoder, model = codeae_drug_model(xc, yc, xt, "cuda", precision, max_epochs=20)
    assert encoder.trained_on["precision"] == model.trained_on["precision"] == precision
    mixed = model.predict(xt)["sens_prob"].to_numpy()
    assert np.isfinite(mixed).all()
    if precision == "bf16":
        assert spearmanr(mixed, fp32.predict(xt)["sens_prob"])[0] > 0.9


@gpu
@needs_cuda
def test_seeded_cuda_training_is_reproducible():
    Xb, yb, Xc, _ = make_world()
    params = tiny(epochs_dae=10, epochs_predictor=10, epochs_joint=10)
    runs = [ScDEAL(params, device="cuda").fit(Xb, yb, Xc).predict(Xc) for _ in range(2)]
    assert np.array_equal(*runs)
    xc, yc, xt, _ = codeae_world()
    drug = [codeae_drug_model(xc, yc, xt, "cuda", max_epochs=20)[1].predict_folds(xt) for _ in range(2)]
    assert np.array_equal(*drug)


@gpu
@needs_cuda
def test_checkpoints_keep_the_training_devices_cuda_state_only():
    device = torch.device("cuda", torch.cuda.current_device())
    torch.cuda.manual_seed(5)
    state = resume.capture([], [], None, {}, device)
    assert isinstance(state["random"]["cuda"], torch.Tensor)  # one device's state, not one per GPU
    first = torch.rand(4, device=device)
    resume.restore(state, [], [], None, {}, device)
    assert torch.equal(torch.rand(4, device=device), first)
