"""Stacked fine-tuning of many drugs and folds equals fine-tuning each alone (on the CPU)."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from drugshift.models.codeae import DrugResponseModel, random_encoder
from drugshift.models.codeae.plan import auroc_by_pairs, finetune_cv
from drugshift.models.codeae.stacked import finetune_cv_stacked, finetune_drugs
from drugshift.nn.blocks import NormalisedEncoder
from drugshift.params import CodeAEParams, FinetuneParams, resolve_codeae_params

ARCH = CodeAEParams.from_dict(dict(encoder_hidden=[24, 12], latent=8, decoder_hidden=[12, 24], critic_hidden=[8, 8]))
# Dropout on, gradual unfreezing (four stages), early stopping: everything a task can do alone.
FT = FinetuneParams.from_dict(dict(classifier_hidden=[8, 4], dropout=0.2, lr=1e-2, batch_size=16, max_epochs=24,
                                   patience=3, n_folds=3, log_every=0, seed=7))


@pytest.fixture(scope="module")
def screen():
    """70 cell lines × 20 genes; three drugs, each labelled on a different subset of lines, each
    driven by a different gene."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(70, 20)).astype(np.float32)
    labels = {}
    for d, gene in enumerate((0, 5, 9)):
        y = (X[:, gene] + rng.normal(size=70) * 0.5 > 0).astype(float)
        y[rng.random(70) < 0.15 * (d + 1)] = np.nan  # drugs screened on fewer lines
        labels[f"drug{d}"] = y
    return X, labels


def _weights(model):
    return [p.detach() for p in model.parameters()]


def assert_same_folds(alone, stacked):
    assert len(alone) == len(stacked)
    for a, s in zip(alone, stacked):
        assert a.fold == s.fold
        assert [(st["epochs_run"], st["best_epoch"], st["kept"]) for st in a.info["stages"]] == \
            [(st["epochs_run"], st["best_epoch"], st["kept"]) for st in s.info["stages"]]
        assert s.info["val_auroc"] == pytest.approx(a.info["val_auroc"], abs=1e-9)
        assert s.val_metrics["auroc"] == pytest.approx(a.val_metrics["auroc"], abs=1e-9)
        for wa, ws in zip(_weights(a.model), _weights(s.model)):
            torch.testing.assert_close(ws, wa, rtol=1e-4, atol=1e-5)


def test_many_drugs_at_once_equal_one_at_a_time(screen):
    X, labels = screen
    encoder = random_encoder(X.shape[1], ARCH, seed=1)
    with torch.no_grad():  # a "pretrained" encoder: embeddings normalised, as CODE-AE's
        encoder.normalise = True
    stacked = finetune_drugs(encoder, X, labels, FT, device="cpu", group_size=4)
    for drug, y in labels.items():
        rows = np.isfinite(y)
        alone = finetune_cv(encoder, X[rows], y[rows].astype(int), FT, device="cpu")
        assert_same_folds(alone, stacked[drug])
    # Several stages ran (gradual unfreezing) and early stopping ended some of them.
    stages = [st for folds in stacked.values() for f in folds for st in f.info["stages"]]
    assert len(stages) == 3 * 3 * 4
    assert any(st["epochs_run"] < FT.epochs_per_stage(4) for st in stages)


def test_group_size_does_not_change_the_result(screen):
    X, labels = screen
    encoder = random_encoder(X.shape[1], ARCH, seed=2)
    one = finetune_drugs(encoder, X, labels, FT, device="cpu", group_size=1)
    all_ = finetune_drugs(encoder, X, labels, FT, device="cpu", group_size=100)
    for drug in labels:
        assert_same_folds(one[drug], all_[drug])


def test_fresh_encoders_per_fold_as_the_mlp_baseline(screen):
    X, labels = screen
    y = labels["drug0"]
    rows = np.isfinite(y)
    params = FT.replace(unfreeze="all")
    make = lambda k: random_encoder(X.shape[1], ARCH, seed=10 + k)  # noqa: E731
    alone = finetune_cv(make, X[rows], y[rows].astype(int), params, device="cpu")
    stacked = finetune_cv_stacked(make, X[rows], y[rows], params, device="cpu")
    assert_same_folds(alone, stacked)
    assert all(len(f.info["stages"]) == 1 for f in stacked)


def test_auroc_by_pairs_is_scikit_learns_auroc_with_ties_and_padding():
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=(4, 30)), 1)  # rounded: many ties
    labels = (rng.random((4, 30)) < 0.4).astype(np.float32)
    valid = np.ones((4, 30), bool)
    valid[1, 20:] = False
    labels[3] = 1  # one class only
    got = auroc_by_pairs(torch.tensor(scores), torch.tensor(labels), torch.tensor(valid)).numpy()
    assert got[0] == pytest.approx(roc_auc_score(labels[0], scores[0]), abs=1e-12)
    assert got[1] == pytest.approx(roc_auc_score(labels[1, :20], scores[1, :20]), abs=1e-12)
    assert got[2] == pytest.approx(roc_auc_score(labels[2], scores[2]), abs=1e-12)
    assert np.isnan(got[3])


def test_batchnorm_encoders_are_refused(screen):
    X, labels = screen
    encoder = NormalisedEncoder(X.shape[1], [12], 8, dropout=0.1, batchnorm=True)
    with pytest.raises(NotImplementedError, match="normalisation layers"):
        finetune_drugs(encoder, X, labels, FT, device="cpu")


def test_labels_must_match_the_cell_lines(screen):
    X, labels = screen
    encoder = random_encoder(X.shape[1], ARCH, seed=1)
    with pytest.raises(ValueError, match="70 cell lines"):
        finetune_drugs(encoder, X, {"bad": labels["drug0"][:50]}, FT, device="cpu")
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        finetune_drugs(encoder, X, {"bad": np.full(70, 2.0)}, FT, device="cpu")


def test_response_models_of_many_drugs_equal_one_fit_per_drug(screen):
    """DrugResponseModel.fit_drugs (the mlp baseline, stacked) gives each drug the model that
    DrugResponseModel.fit gives it alone: the same CV metrics and the same predictions."""
    X, labels = screen
    genes = [f"G{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=genes, index=[f"CL{i}" for i in range(len(X))])
    table = pd.DataFrame(labels, index=frame.index)
    cfg = {"seed": 42, "codeae": {"params": {"encoder_hidden": [24, 12], "latent": 8, "decoder_hidden": [12, 24]},
                                  "finetune": {**{k: v for k, v in FT.to_dict().items() if k != "seed"},
                                               "unfreeze": "all"}}}
    params = resolve_codeae_params(cfg, "mlp")
    many = DrugResponseModel.fit_drugs("mlp", params, frame, table, device="cpu", group_size=5)
    assert sorted(many) == sorted(labels)
    for drug, model in many.items():
        rows = table[drug].notna().to_numpy()
        alone = DrugResponseModel("mlp", drug, params).fit(frame[rows], table[drug][rows].astype(int), device="cpu")
        assert [r["auroc"] for r in model.cv] == pytest.approx([r["auroc"] for r in alone.cv], abs=1e-9)
        assert model.training_data == alone.training_data
        np.testing.assert_allclose(model.predict(frame)["sens_prob"], alone.predict(frame)["sens_prob"], atol=1e-5)
