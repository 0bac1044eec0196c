"""No code runs from a file a user can swap: a pickle payload planted in any model folder's
weights.pt, in an untrusted skops file or in a training checkpoint is refused by every loader
(the model classes, drugshift.load_model, the command line, the resume of a training), the
error names the file, and the payload never runs."""

import logging

import numpy as np
import pandas as pd
import pytest
import torch

import drugshift
from conftest import Payload
from drugshift import resume
from drugshift.cli import main
from drugshift.models.codeae import CodeAE, DrugResponseModel
from drugshift.models.scdeal import ScDEAL, ScDEALParams
from drugshift.params import resolve_codeae_params

GENES = [f"G{i}" for i in range(12)]
CONFIG = {"seed": 1, "codeae": {
    "params": dict(encoder_hidden=[8], latent=4, decoder_hidden=[8], critic_hidden=[4], batch_size=16,
                   warmup_epochs=1, pretrain_epochs=1, log_every=100),
    "finetune": dict(classifier_hidden=[4], batch_size=16, max_epochs=2, n_folds=2, log_every=100),
    "baselines": dict(hidden=[8], latent=4, max_epochs=1, log_every=100)}}


def _data():
    rng = np.random.default_rng(0)
    X = rng.random((40, len(GENES))).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    return X, y


def _scdeal(folder):
    X, y = _data()
    params = ScDEALParams(bulk_hidden=[8], sc_hidden=[8], bulk_bottleneck=4, predictor_hidden=[4], batch_size=16,
                          epochs_dae=1, epochs_predictor=1, epochs_joint=1, lr_decay_patience=None, log_every=100)
    ScDEAL(params, device="cpu").fit(pd.DataFrame(X, columns=GENES), y, X[:20], clusters=np.zeros(20)).save(folder)
    return ScDEAL.load


def _encoder(folder):
    X, _ = _data()
    frame = pd.DataFrame(X, columns=GENES)
    CodeAE.pretrain("codeae_adv", frame, frame, resolve_codeae_params(CONFIG, "codeae_adv"), device="cpu").save(folder)
    return CodeAE.load


def _drug_model(method):
    def build(folder):
        X, y = _data()
        DrugResponseModel(method, "Demotinib", resolve_codeae_params(CONFIG, method), genes=GENES).fit(
            pd.DataFrame(X, columns=GENES), y, device="cpu").save(folder)
        return DrugResponseModel.load
    return build


def _plant_pickle(folder, marker):
    torch.save({"format": "drugshift-model", "tensors": {}, "x": Payload(marker)}, folder / "weights.pt")
    return folder / "weights.pt"


def _plant_skops(folder, marker):
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    skops.io.dump([FunctionTransformer(func=print)], folder / "estimators.skops")
    return folder / "estimators.skops"


LOADERS = {"ScDEAL.load": _scdeal, "CodeAE.load": _encoder, "DrugResponseModel.load (mlp)": _drug_model("mlp"),
           "DrugResponseModel.load (elasticnet)": _drug_model("elasticnet")}


@pytest.mark.parametrize("build", LOADERS.values(), ids=LOADERS.keys())
def test_a_pickle_payload_in_weights_is_refused_by_every_loader(build, tmp_path):
    folder = tmp_path / "model"
    load = build(folder)
    marker = tmp_path / "executed"
    planted = _plant_pickle(folder, marker)
    for loader in (load, drugshift.load_model):
        with pytest.raises(ValueError, match="not readable as drugshift weights") as e:
            loader(folder)
        assert str(planted) in str(e.value)
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "none.csv"),
                 "--output", str(tmp_path / "p.csv")]) == 2
    assert not marker.exists()


def test_an_untrusted_skops_type_is_refused(tmp_path, capsys):
    folder = tmp_path / "model"
    _drug_model("elasticnet")(folder)
    pd.DataFrame(_data()[0], columns=GENES).to_csv(tmp_path / "x.csv")
    planted = _plant_skops(folder, tmp_path / "executed")
    with pytest.raises(ValueError, match="types drugshift does not load"):
        drugshift.load_model(folder)
    assert main(["predict", "--model", str(folder), "--input", str(tmp_path / "x.csv"),
                 "--output", str(tmp_path / "p.csv")]) == 2
    assert str(planted.parent) in capsys.readouterr().err


def test_a_pickle_payload_in_a_training_checkpoint_is_not_run(tmp_path, caplog):
    """A resume folder is a cache: a planted checkpoint is reported and that stage trained afresh."""
    X, y = _data()
    params = ScDEALParams(bulk_hidden=[8], sc_hidden=[8], bulk_bottleneck=4, predictor_hidden=[4], batch_size=16,
                          epochs_dae=2, epochs_predictor=2, epochs_joint=2, lr_decay_patience=None, log_every=100,
                          checkpoint_every=1)
    checkpoints = tmp_path / "model.resume"

    def fit():
        return ScDEAL(params, device="cpu").fit(pd.DataFrame(X, columns=GENES), y, X[:20], clusters=np.zeros(20),
                                                checkpoints=checkpoints)

    reference = fit().predict(X[:20])
    original_discard = resume.Checkpoints.discard
    resume.Checkpoints.discard = lambda self: None  # keep the folder, to plant into it
    try:
        fit()
    finally:
        resume.Checkpoints.discard = original_discard
    marker = tmp_path / "executed"
    stage = sorted(checkpoints.glob("stage-*.pt"))[0]
    torch.save({"x": Payload(marker)}, stage)
    with caplog.at_level(logging.WARNING):
        again = fit().predict(X[:20])
    assert not marker.exists()
    assert f"{stage}: unreadable checkpoint" in caplog.text
    assert np.array_equal(again, reference)
