"""CODE-AE: loss terms, the pretraining plan on both domains, fine-tuning with one epoch budget,
and the model objects (fit, predict, save, load in a fresh process) — on tiny generated data."""

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from drugshift.deconfounding import domain_auroc
from drugshift.models.codeae import (
    CodeAE,
    CodeAEModule,
    DrugResponseModel,
    PretrainingPlan,
    finetune,
    random_encoder,
)
from drugshift.nn.losses import coral_loss, gradient_penalty, orthogonality_loss
from drugshift.params import VARIANTS, CodeAEParams, FinetuneParams, resolve_codeae_params

SMALL = dict(encoder_hidden=[32, 16], latent=8, decoder_hidden=[16, 32], critic_hidden=[8, 8], lr=1e-3,
             batch_size=32, warmup_epochs=2, pretrain_epochs=3, log_every=100)
FT = dict(classifier_hidden=[8, 4], lr=1e-2, batch_size=32, max_epochs=60, patience=5, n_folds=3, log_every=100)
BASELINE = dict(hidden=[32, 16], latent=8, max_epochs=2, warmup_epochs=1, log_every=100)


def config(**finetune):
    """A workflow config with the tiny networks above (what resolve_codeae_params reads)."""
    return {"seed": 42, "codeae": {"params": dict(SMALL), "finetune": {**FT, **finetune}, "baselines": dict(BASELINE)}}


def pretrain_params(variant, **changes):
    return CodeAEParams.from_dict({**SMALL, "variant": variant, **changes})


@pytest.fixture(scope="module")
def world():
    """Cell lines and patients driven by the same 4 programs; patients carry a confounder (a
    strong bimodal sub-population shift, like tumour type) and a platform offset. Program 0
    drives response in both domains. Expression as DataFrames with gene names."""
    rng = np.random.default_rng(0)
    n_c, n_t, g = 240, 160, 60
    W = rng.normal(size=(4, g))
    zc, zt = rng.normal(size=(n_c, 4)), rng.normal(size=(n_t, 4))
    xc = zc @ W + rng.normal(size=(n_c, g)) * 0.5
    sub = rng.random(n_t) < 0.5
    xt = zt @ W + np.outer(sub, rng.normal(size=g) * 2.0) + rng.normal(size=(n_t, g)) * 0.5 + 0.5
    genes = [f"G{i:02d}" for i in range(g)]
    xc = pd.DataFrame(((xc - xc.mean(0)) / xc.std(0)).astype(np.float32), columns=genes,
                      index=[f"CL{i}" for i in range(n_c)])
    xt = pd.DataFrame(((xt - xt.mean(0)) / xt.std(0)).astype(np.float32), columns=genes,
                      index=[f"P{i}" for i in range(n_t)])
    yc = (zc[:, 0] + rng.normal(size=n_c) * 0.3 > 0).astype(int)
    yt = (zt[:, 0] > 0).astype(int)
    return xc, yc, xt, yt


# --------------------------------------------------------------------------- losses


def test_coral_loss_is_zero_for_equal_covariances_and_grows_with_scale():
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(0))
    assert coral_loss(x, x + 3.0).item() == pytest.approx(0.0, abs=1e-6)  # mean shifts are ignored
    assert coral_loss(x, 2 * x).item() > coral_loss(x, 1.2 * x).item() > 0
    with pytest.raises(ValueError):
        coral_loss(x[:1], x)


def test_orthogonality_loss_is_scale_free_and_can_be_driven_to_zero():
    g = torch.Generator().manual_seed(0)
    shared = torch.randn(40, 4, generator=g)
    private = torch.randn(40, 4, generator=g).requires_grad_(True)
    start = orthogonality_loss(shared, private)
    scale = torch.rand(40, 1, generator=g) + 0.5
    assert orthogonality_loss(shared, private.detach() * scale).item() == pytest.approx(
        orthogonality_loss(shared, private.detach() * scale * 3).item())
    opt = torch.optim.Adam([private], lr=0.1)
    for _ in range(150):
        opt.zero_grad()
        loss = orthogonality_loss(shared, private)
        loss.backward()
        opt.step()
    assert orthogonality_loss(shared, private).item() < 0.01 * start.item()
    assert orthogonality_loss(shared, shared).item() > start.item()


def test_gradient_penalty_is_zero_for_a_unit_slope_critic_and_differentiable():
    critic = torch.nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.8, 0.0, 0.0]]))  # gradient norm exactly 1
    real, fake = torch.randn(16, 4), torch.randn(20, 4)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        critic.weight.mul_(3.0)
    gp = gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx(4.0, rel=1e-5)
    gp.backward()
    assert critic.weight.grad.abs().sum() > 0


# --------------------------------------------------------------------------- pretraining


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_pretrains_on_both_domains(world, variant):
    xc, _, xt, _ = world
    p = pretrain_params(variant)
    torch.manual_seed(p.seed)
    initial = CodeAEModule(xc.shape[1], p).state_dict()  # same seed, same init as inside the plan
    plan = PretrainingPlan(xc, xt, p, device="cpu")
    hist = plan.run()
    after = plan.module.state_dict()
    # The patient data reached the loss: the target's private encoder (used by no other term) moved.
    for key in ("private_target.net.0.weight", "private_source.net.0.weight", "shared_encoder.net.0.weight"):
        assert not torch.equal(initial[key], after[key]), key
    with torch.no_grad():
        emb = plan.module.encode(torch.as_tensor(xt.to_numpy()))
    assert torch.allclose(emb.norm(dim=1), torch.ones(len(xt)), atol=1e-5)  # normalised embeddings
    assert set(hist) == ({"warmup", "adversarial"} if variant == "adv" else {"warmup", "train"})
    assert all(math.isfinite(v) for h in hist.values() for v in h.train)
    expected = {"adv": {"critic", "gp", "gen"}, "mmd": {"mmd"}, "dsn_mmd": {"mmd"}, "dsn_dann": {"domain_bce"}}
    last = hist["adversarial" if variant == "adv" else "train"]
    assert expected.get(variant, set()) <= set(last.components)


def test_adversarial_history_averages_each_loss_over_the_steps_that_computed_it(world):
    """recon / diff / gen are computed every n_critic-th step only; the history reports their mean
    over those steps (weighted by batch size), not their sum divided by every step's samples."""
    xc, _, xt, _ = world
    plan = PretrainingPlan(xc, xt, pretrain_params("adv", warmup_epochs=0, pretrain_epochs=1, n_critic=3), device="cpu")
    seen = []
    step = plan.adversarial_step

    def recording(idx):
        out = step(idx)
        seen.append((len(idx), {k: float(v) for k, v in out.items()}))
        return out

    plan.adversarial_step = recording
    components = plan.run()["adversarial"].components
    assert sum("recon" in out for _, out in seen) < len(seen)  # some steps did not report it
    for key in ("recon", "diff", "gen", "critic"):
        reported = [(n, out[key]) for n, out in seen if key in out]
        mean = sum(n * v for n, v in reported) / sum(n for n, _ in reported)
        assert components[key][0] == pytest.approx(mean, rel=1e-5), key


def test_pretraining_without_patients_differs_from_pretraining_with_them(world):
    """Guard against the reference loader's defect (cell lines only): other patients, another
    shared encoder."""
    xc, _, xt, _ = world
    a = PretrainingPlan(xc, xt, pretrain_params("base"), device="cpu")
    b = PretrainingPlan(xc, xt.to_numpy()[::-1] * 0.5, pretrain_params("base"), device="cpu")
    a.run(), b.run()
    assert not torch.equal(a.module.shared_encoder.net[0].weight, b.module.shared_encoder.net[0].weight)


def test_pretrained_encoder_is_deterministic_and_survives_save_and_load(world, tmp_path):
    xc, _, xt, _ = world
    params = resolve_codeae_params(config(), "codeae_adv")
    first = CodeAE.pretrain("codeae_adv", xc, xt, params, device="cpu")
    again = CodeAE.pretrain("codeae_adv", xc, xt, params, device="cpu")
    assert np.array_equal(first.embed(xc), again.embed(xc))
    loaded = CodeAE.load(first.save(tmp_path / "encoder"))
    assert np.array_equal(loaded.embed(xt), first.embed(xt))
    assert np.array_equal(loaded.embed(xt, "target"), first.embed(xt, "target"))
    assert loaded.genes == list(xc.columns) and loaded.params == first.params
    assert loaded.history["phases"]["adversarial"]["train"] == first.history["phases"]["adversarial"]["train"]
    card = json.loads((tmp_path / "encoder/model.json").read_text())
    assert card["kind"] == "codeae-encoder" and card["format_version"] and card["drugshift_version"]
    assert card["training_data"]["source_sha256"] != card["training_data"]["target_sha256"]
    with pytest.raises(ValueError, match="genes"):
        loaded.embed(xt.iloc[:, :10])


def test_adversarial_pretraining_removes_the_confounder(world):
    """Domain classifier AUROC: high on the inputs (the patient sub-population shift), clearly
    lower on CODE-AE-ADV's shared embedding."""
    xc, _, xt, _ = world
    p = resolve_codeae_params({"seed": 42, "codeae": {"params": {**SMALL, "warmup_epochs": 20,
                                                                  "pretrain_epochs": 40}}}, "codeae_adv")
    encoder = CodeAE.pretrain("codeae_adv", xc, xt, p, device="cpu")
    raw = domain_auroc(xc, xt, n_trees=100)
    emb = domain_auroc(encoder.embed(xc), encoder.embed(xt), n_trees=100)
    assert raw > 0.9
    assert emb < raw - 0.1


# --------------------------------------------------------------------------- fine-tuning


def test_gradual_unfreezing_opens_layers_top_down_with_decaying_lr(world):
    xc, yc, _, _ = world
    x = xc.to_numpy()
    enc = random_encoder(x.shape[1], pretrain_params("adv"), seed=0)
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    params = FinetuneParams.from_dict({**FT, "lr_decay": 0.1})
    model, info = finetune(enc, x[:160], yc[:160], x[160:], yc[160:], params, device="cpu")
    # The caller's encoder is untouched (each fold fine-tunes a copy).
    assert all(torch.equal(before[k], v) for k, v in enc.state_dict().items())
    assert [s["open_layers"] for s in info["stages"]] == [0, 1, 2, 3]
    assert [s["lr"] for s in info["stages"]] == pytest.approx([1e-2, 1e-3, 1e-4, 1e-5])
    assert info["val_auroc"] > 0.5
    # Head-only fine-tuning leaves the encoder exactly as pretrained.
    head_model, _ = finetune(enc, x[:160], yc[:160], x[160:], yc[160:], params.replace(unfreeze="head"), device="cpu")
    assert all(torch.equal(before[k], v) for k, v in head_model.encoder.state_dict().items())


def test_every_method_gets_the_same_fine_tuning_budget(world):
    """codeae_adv fine-tunes in four stages (head + three encoder layers), the mlp in one; with
    early stopping off both run exactly max_epochs epochs per fold in total."""
    xc, yc, xt, _ = world
    cfg = config(max_epochs=20, patience=0)
    runs = {}
    for method in ("codeae_adv", "mlp"):
        params = resolve_codeae_params(cfg, method)
        encoder = CodeAE.pretrain(method, xc, xt, params, device="cpu") if method == "codeae_adv" else None
        runs[method] = DrugResponseModel(method, "drug", params, encoder=encoder, genes=list(xc.columns)).fit(
            xc, yc, device="cpu")
    for method, model in runs.items():
        for fold in model.cv:
            assert sum(s["epochs_run"] for s in fold["stages"]) == 20, (method, fold["stages"])
    assert [len(f["stages"]) for f in runs["codeae_adv"].cv] == [4, 4, 4]
    assert [len(f["stages"]) for f in runs["mlp"].cv] == [1, 1, 1]


def test_codeae_drug_model_transfers_to_patients_and_predicts_from_expression_only(world):
    xc, yc, xt, yt = world
    params = resolve_codeae_params({**config(), "codeae": {**config()["codeae"],
                                                            "params": {**SMALL, "pretrain_epochs": 10}}}, "codeae_mmd")
    encoder = CodeAE.pretrain("codeae_mmd", xc, xt, params, device="cpu")
    model = DrugResponseModel("codeae_mmd", "drug", params, encoder=encoder).fit(xc, yc, device="cpu")
    assert all(f["auroc"] > 0.7 for f in model.cv)  # program 0 is learnable on cell lines
    pred = model.predict(xt)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(yt, pred["sens_prob"]) > 0.7  # the shared program transfers zero-shot
    folds = model.predict_folds(xt)
    assert np.allclose(pred["sens_prob"], folds.mean(0)) and np.allclose(pred["sens_prob_sd"], folds.std(0))
    assert (pred["sens_label"] == (pred["sens_prob"] >= 0.5)).all()
    # Columns are matched by gene name, whatever their order.
    shuffled = xt[xt.columns[::-1]]
    assert np.array_equal(model.predict_folds(shuffled), folds)
    assert model.embed(xt).shape == (len(xt), 8)


def test_the_mlp_baseline_trains_a_fresh_encoder_end_to_end(world):
    xc, yc, _, _ = world
    model = DrugResponseModel("mlp", "drug", resolve_codeae_params(config(), "mlp")).fit(xc, yc, device="cpu")
    assert all(len(f["stages"]) == 1 and f["stages"][0]["open_layers"] == 3 for f in model.cv)
    assert all(fold.encoder.normalise is False for fold in model.folds)


def test_predict_applies_a_domains_standardisation(world):
    xc, yc, xt, _ = world
    mean, sd = np.full(xc.shape[1], 3.0), np.full(xc.shape[1], 2.0)
    model = DrugResponseModel("elasticnet", "drug", resolve_codeae_params(config(), "elasticnet"),
                              genes=list(xc.columns), standardisation={"patients": (mean, sd)}).fit(xc, yc)
    raw = xt * 2.0 + 3.0  # the patients on their own scale
    assert np.allclose(model.predict_folds(raw, domain="patients"), model.predict_folds(xt), atol=1e-6)
    with pytest.raises(ValueError, match="no standardisation for domain 'tcga'"):
        model.predict_folds(raw, domain="tcga")


@pytest.mark.parametrize(("method", "encoder_method", "message"), [
    ("codeae_adv", None, "needs its pretrained encoder"),
    ("ae", None, "needs its pretrained encoder"),
    ("codeae_adv", "codeae_mmd", "pretrained by 'codeae_mmd'"),
])
def test_a_drug_model_needs_its_own_pretrained_encoder(world, method, encoder_method, message):
    xc, _, xt, _ = world
    encoder = None
    if encoder_method:
        encoder = CodeAE.pretrain(encoder_method, xc, xt, resolve_codeae_params(config(), encoder_method), device="cpu")
    with pytest.raises(ValueError, match=message):
        DrugResponseModel(method, "drug", resolve_codeae_params(config(), method), encoder=encoder)


@pytest.mark.parametrize(("X", "message"), [
    (lambda xc: xc.iloc[:, 5:], "lacks 5 of the model's 60 genes"),
    (lambda xc: xc.to_numpy()[:, :10], "has 10 genes; the model expects 60"),
])
def test_inputs_without_the_models_genes_are_refused(world, X, message):
    xc, yc, _, _ = world
    model = DrugResponseModel("elasticnet", "drug", resolve_codeae_params(config(), "elasticnet")).fit(xc, yc)
    with pytest.raises(ValueError, match=message):
        model.predict(X(xc))


# --------------------------------------------------------------------------- model folders

_FRESH = """
import sys
import numpy as np
import pandas as pd
from drugshift.models.codeae import DrugResponseModel
model = DrugResponseModel.load(sys.argv[1])
X = pd.read_parquet(sys.argv[2])
np.save(sys.argv[3], model.predict_folds(X))
"""


@pytest.mark.parametrize("method", ["codeae_adv", "ae", "mlp", "elasticnet", "random_forest"])
def test_a_saved_drug_model_reproduces_its_predictions_in_a_fresh_process(world, tmp_path, monkeypatch, method):
    """The model folder alone (model.json, weights.pt, estimators.skops) is enough: a new Python
    process loads it and predicts exactly what the trained object predicted."""
    xc, yc, xt, _ = world
    params = resolve_codeae_params(config(max_epochs=12), method)
    encoder = CodeAE.pretrain(method, xc, xt, params, device="cpu") if params.kind in ("codeae", "pretrained") else None
    model = DrugResponseModel(method, "Demotinib", params, encoder=encoder, genes=list(xc.columns),
                              standardisation={"patients": (np.zeros(60), np.ones(60))})
    from drugshift.models import baselines

    fit_shallow = baselines.fit_shallow  # a smaller forest: the test is about the folder, not the fit
    monkeypatch.setattr(baselines, "fit_shallow", lambda *a, **k: fit_shallow(*a, **{**k, "n_estimators": 20}))
    model.fit(xc, yc, device="cpu")
    folder = model.save(tmp_path / "model")
    xt.to_parquet(tmp_path / "x.parquet")
    proc = subprocess.run([sys.executable, "-c", _FRESH, str(folder), str(tmp_path / "x.parquet"),
                           str(tmp_path / "p.npy")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(np.load(tmp_path / "p.npy"), model.predict_folds(xt))
    card = json.loads((folder / "model.json").read_text())
    assert card["genes"] == list(xc.columns) and card["drug"] == "Demotinib" and card["method"] == method
    assert card["params"]["finetune"]["max_epochs"] == 12 and len(card["cv"]) == 3
    assert card["training_data"]["n_cell_lines"] == len(yc) and len(card["training_data"]["X_sha256"]) == 64
    assert (folder / "estimators.skops").exists() == (params.kind == "shallow")
    loaded = DrugResponseModel.load(folder)
    assert loaded.card()["cv"] == card["cv"]
    assert np.array_equal(loaded.predict_folds(xt * 1.0, domain="patients"), model.predict_folds(xt))
