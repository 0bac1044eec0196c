"""Training checkpoints (drugshift.resume): a training process killed with SIGKILL and started
again resumes from its checkpoints and ends with the weights, history and predictions of an
uninterrupted run (CPU, bit for bit); checkpoints of other parameters are discarded.

The killed and the resumed trainings are real processes running this file as a script
(``python test_resume.py JOB OUT CHECKPOINTS``) on tiny generated data.
"""

import contextlib
import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from drugshift import resume
from drugshift.models.codeae import CodeAE, DrugResponseModel
from drugshift.models.scdeal import ScDEAL, ScDEALParams
from drugshift.params import resolve_codeae_params

SCDEAL = dict(bulk_hidden=[64, 32], sc_hidden=[64, 32], bulk_bottleneck=8, predictor_hidden=[8], dropout=0.1,
              batch_size=32, lr=3e-3, epochs_dae=40, epochs_predictor=40, epochs_joint=40, patience=0,
              lr_decay_patience=5, reg_weight=0.5, log_every=1000, checkpoint_every=2)
CODEAE = {"seed": 3, "codeae": {
    "params": dict(encoder_hidden=[64, 32], latent=16, decoder_hidden=[32, 64], critic_hidden=[16, 8], lr=1e-3,
                   batch_size=32, warmup_epochs=6, pretrain_epochs=60, log_every=1000, checkpoint_every=2),
    "finetune": dict(classifier_hidden=[8, 4], lr=1e-2, batch_size=32, max_epochs=24, patience=4, n_folds=3,
                     log_every=1000, checkpoint_every=2),
    "baselines": dict(hidden=[32, 16], latent=8, max_epochs=12, warmup_epochs=3, patience=0, log_every=1000,
                      checkpoint_every=2)}}


def world(n_source=300, n_target=200, n_genes=80):
    """Cell lines (labelled through program 0) and cells / patients driven by the same four
    programs, the target shifted; values in [0, 1] for scDEAL, per-gene z-scores for CODE-AE."""
    rng = np.random.default_rng(7)
    W = rng.normal(size=(4, n_genes))
    zs, zt = rng.normal(size=(n_source, 4)), rng.normal(size=(n_target, 4))
    xs = zs @ W + rng.normal(size=(n_source, n_genes)) * 0.5
    xt = zt @ W + rng.normal(size=n_genes) + rng.normal(size=(n_target, n_genes)) * 0.5
    genes = [f"G{i:02d}" for i in range(n_genes)]
    y = (zs[:, 0] > 0).astype(int)
    clusters = (zt[:, 1] > 0).astype(int) + (zt[:, 2] > 0)
    return genes, xs.astype(np.float32), y, xt.astype(np.float32), clusters


def _minmax(x):
    return (x - x.min(0)) / (x.max(0) - x.min(0))


def _zscores(x, genes):
    return pd.DataFrame((x - x.mean(0)) / x.std(0), columns=genes)


def train(job: str, checkpoints=None, **changes):
    """Train ``job`` on :func:`world`: ``scdeal``, the pretraining of ``codeae_adv`` or ``ae``,
    or a drug model of ``mlp`` or ``ae_drug`` (the ``ae`` method: fine-tuning in gradual
    unfreezing stages, encoder pretrained without checkpoints); returns ``(model, inputs it
    predicts)``."""
    genes, xs, y, xt, clusters = world()
    if job == "scdeal":
        params = ScDEALParams(**{**SCDEAL, **changes})
        cells = _minmax(xt)
        model = ScDEAL(params, device="cpu").fit(_minmax(xs), y, cells, clusters=clusters, checkpoints=checkpoints)
        return model, cells
    config = {**CODEAE, "codeae": {k: {**v, **changes} for k, v in CODEAE["codeae"].items()}}
    source, target = _zscores(xs, genes), _zscores(xt, genes)
    method = job.removesuffix("_drug")
    params = resolve_codeae_params(config, method)
    if job in ("codeae_adv", "ae"):
        return CodeAE.pretrain(job, source, target, params, device="cpu", checkpoints=checkpoints), target
    encoder = CodeAE.pretrain(method, source, target, params, device="cpu") if params.kind == "pretrained" else None
    model = DrugResponseModel(method, "Demotinib", params, encoder=encoder, genes=genes)
    return model.fit(source, y, device="cpu", checkpoints=checkpoints), target


def predictions(model, X) -> np.ndarray:
    if isinstance(model, ScDEAL):
        return model.predict(X)
    if isinstance(model, CodeAE):
        return model.embed(X)
    return model.predict_folds(X)


def assert_same_model(folder_a: Path, folder_b: Path) -> None:
    """Every tensor of the two model folders' weights.pt is equal, and so are the cards' training
    histories."""
    a = torch.load(folder_a / "weights.pt", weights_only=True)["tensors"]
    b = torch.load(folder_b / "weights.pt", weights_only=True)["tensors"]
    assert a.keys() == b.keys()
    for part in a:
        assert a[part].keys() == b[part].keys(), part
        differ = [k for k in a[part] if not torch.equal(a[part][k], b[part][k])]
        assert not differ, f"{part}: {differ}"
    card_a, card_b = (json.loads((f / "model.json").read_text()) for f in (folder_a, folder_b))
    for key in ("training", "history", "cv"):
        if key in card_a:
            assert card_a[key] == card_b[key], key


# --------------------------------------------------------------------------- killed processes


def _start(job: str, out: Path, checkpoints: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, job, str(out), str(checkpoints)], stdout=log.open("w"),
                            stderr=subprocess.STDOUT)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 300) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` is true; fail if it ends first."""
    end = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the training ended before the checkpoint awaited: make it longer"
        assert time.monotonic() < end, "no checkpoint appeared"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize(("job", "finished_stages"), [
    ("scdeal", 2),       # killed during the sc DAE (bulk DAE and predictor finished)
    ("codeae_adv", 1),   # killed during adversarial training (warm-up finished)
])
def test_a_killed_training_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path, job, finished_stages):
    checkpoints = tmp_path / "model.resume"
    stage_file = checkpoints / f"stage-{finished_stages - 1:03d}.pt"
    killed = _start(job, tmp_path / "model", checkpoints, tmp_path / "killed.log")
    _kill_when(killed, lambda: stage_file.exists() and (checkpoints / resume.CURRENT).exists())
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "model").exists()

    resumed = _start(job, tmp_path / "model", checkpoints, tmp_path / "resumed.log")
    assert resumed.wait(timeout=600) == 0, (tmp_path / "resumed.log").read_text()[-3000:]
    log = (tmp_path / "resumed.log").read_text()
    assert f"({finished_stages} finished stages, one unfinished)" in log, log
    assert log.count("restored from") == finished_stages and "resuming after epoch" in log, log
    assert not checkpoints.exists(), "checkpoints are deleted when the training ends"

    # The uninterrupted run is a fresh process too: a process's global torch state (left by
    # other tests when this one shares a pytest session) must not enter the comparison.
    whole = _start(job, tmp_path / "uninterrupted", tmp_path / "whole.resume", tmp_path / "whole.log")
    assert whole.wait(timeout=600) == 0, (tmp_path / "whole.log").read_text()[-3000:]
    assert_same_model(tmp_path / "model", tmp_path / "uninterrupted")
    cls = ScDEAL if job == "scdeal" else CodeAE
    X = _minmax(world()[3]) if job == "scdeal" else _zscores(world()[3], world()[0])
    resumed_model, uninterrupted = cls.load(tmp_path / "model"), cls.load(tmp_path / "uninterrupted")
    assert np.array_equal(predictions(resumed_model, X), predictions(uninterrupted, X))


# --------------------------------------------------------------------------- crashes in this process


class _Crash(Exception):
    pass


@contextlib.contextmanager
def crash_after_checkpoint(n: int):
    """Raise right after the ``n``-th epoch checkpoint is written (a crash at that moment)."""
    save, count = resume.Stage.save, [0]

    def saving(self, state, epoch):
        save(self, state, epoch)
        count[0] += 1
        if count[0] == n:
            raise _Crash

    resume.Stage.save = saving
    try:
        with pytest.raises(_Crash):
            yield
    finally:
        resume.Stage.save = save


def _scramble_random_state():
    """What a new process would have: other global random states than the crashed one."""
    torch.manual_seed(12345)
    np.random.seed(54321)


@pytest.mark.parametrize(("job", "crash_at"), [("ae_drug", 1), ("ae_drug", 6), ("mlp", 3), ("ae", 3)])
def test_fine_tuning_and_baseline_pretraining_resume_after_a_crash(tmp_path, job, crash_at):
    """Fine-tuning (3 folds, each in gradual-unfreezing stages or in one) and a pretrained
    baseline resume exactly, from a checkpoint in the first stage or a later one."""
    with crash_after_checkpoint(crash_at):
        train(job, tmp_path / "ck")
    _scramble_random_state()
    resumed, X = train(job, tmp_path / "ck")
    uninterrupted, _ = train(job)
    resumed.save(tmp_path / "a")
    uninterrupted.save(tmp_path / "b")
    assert_same_model(tmp_path / "a", tmp_path / "b")
    assert np.array_equal(predictions(resumed, X), predictions(uninterrupted, X))
    assert not (tmp_path / "ck").exists()


def test_checkpoints_of_other_parameters_are_discarded_with_a_message(tmp_path, caplog):
    with crash_after_checkpoint(3):
        train("mlp", tmp_path / "ck")
    assert (tmp_path / "ck" / resume.CURRENT).exists()
    with caplog.at_level(logging.INFO):
        changed, X = train("mlp", tmp_path / "ck", lr=5e-3)
    assert "belong to another training (differs: " in caplog.text and "params.finetune.lr" in caplog.text
    assert "restored from" not in caplog.text and "resuming after" not in caplog.text
    assert np.array_equal(predictions(changed, X), predictions(train("mlp", lr=5e-3)[0], X))


def test_neutral_parameters_keep_the_checkpoints_and_zero_writes_none(tmp_path, caplog):
    with crash_after_checkpoint(2):
        train("mlp", tmp_path / "ck")
    with caplog.at_level(logging.INFO):
        train("mlp", tmp_path / "ck", checkpoint_every=3, log_every=5)
    assert "resuming from the checkpoints" in caplog.text and "starting afresh" not in caplog.text
    train("mlp", tmp_path / "off", checkpoint_every=0)
    assert not (tmp_path / "off").exists()


if __name__ == "__main__":  # one training job: JOB OUT CHECKPOINTS
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    trained, _ = train(sys.argv[1], Path(sys.argv[3]))
    trained.save(sys.argv[2])
