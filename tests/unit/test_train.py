"""The shared training loop: drugshift.train."""

import logging

import pytest
import torch
from torch import nn

from drugshift.train import History, deterministic, fit, iterate_minibatches, resolve_device, seed_everything


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device().type == expected
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_resolve_device_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device("cuda")


def test_seed_everything_reproduces_random_streams():
    import random

    import numpy as np

    seed_everything(3)
    a = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(3)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])


def test_seeding_and_training_leave_the_process_torch_settings_alone():
    torch.use_deterministic_algorithms(False)
    seed_everything(3)
    assert not torch.are_deterministic_algorithms_enabled()
    m = nn.Linear(1, 1)
    seen = []
    fit(lambda idx: {"loss": seen.append(torch.are_deterministic_algorithms_enabled()) or 0.0}, lambda: 0.0, [m],
        n_train=2, epochs=1, batch_size=2, patience=None)
    assert seen == [True]
    assert not torch.are_deterministic_algorithms_enabled()
    with deterministic():
        assert torch.are_deterministic_algorithms_enabled()
    assert not torch.are_deterministic_algorithms_enabled()


def test_fit_averages_each_key_over_the_steps_that_reported_it():
    # A key returned every second step (like CODE-AE-ADV's generator loss, logged every
    # n_critic-th critic step) is the mean of those steps, not diluted by the others.
    m = nn.Linear(1, 1)
    calls = iter(range(100))

    def step(idx):
        k = next(calls)
        out = {"loss": torch.tensor(1.0)}
        if k % 2 == 1:
            out["gen"] = torch.tensor(4.0)
        return out

    hist = fit(step, lambda: 0.0, [m], n_train=8, epochs=1, batch_size=2, patience=None)
    assert hist.components["gen"] == [4.0]
    assert hist.components["loss"] == [1.0]


def test_fit_takes_its_budget_by_keyword_only():
    with pytest.raises(TypeError):
        fit(lambda idx: {"loss": 0.0}, lambda: 0.0, [nn.Linear(1, 1)], 4, 1, 2, None)


def test_iterate_minibatches_covers_each_index_once():
    batches = list(iterate_minibatches(10, 4, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    assert all(b.dtype == torch.int64 for b in batches)
    again = list(iterate_minibatches(10, 4, torch.Generator().manual_seed(0)))
    assert all(torch.equal(x, y) for x, y in zip(batches, again))


def test_iterate_minibatches_never_yields_a_single_sample_batch():
    sizes = [len(b) for b in iterate_minibatches(9, 4, torch.Generator().manual_seed(0))]
    assert sizes == [4, 5]
    assert [len(b) for b in iterate_minibatches(1, 4)] == [1]
    assert list(iterate_minibatches(0, 4)) == []


def _counter_fit(vals, patience, epochs=20, **kw):
    """A module whose single weight counts the epochs; validation values are scripted."""
    m = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        m.weight.zero_()
    it = iter(vals)

    def step(idx):
        with torch.no_grad():
            m.weight += 1.0 / 3  # three minibatches of 10 per epoch of 30
        return {"loss": 1.0, "other": 2.0}

    def validate():
        return next(it)

    hist = fit(step, validate, [m], n_train=30, epochs=epochs, batch_size=10, patience=patience,
               generator=torch.Generator().manual_seed(0), **kw)
    return m, hist


def test_fit_early_stops_and_restores_the_best_epoch():
    vals = [5.0, 4.0, 3.0, 3.5, 4.0, 4.5, 1.0, 0.5]
    m, hist = _counter_fit(vals, patience=3)
    assert hist.best_epoch == 3
    assert hist.best_val == 3.0
    assert hist.stopped_early
    assert hist.val == vals[:6]
    assert hist.train == [1.0] * 6
    assert hist.components["other"] == [2.0] * 6
    assert m.weight.item() == pytest.approx(3.0)  # the weights of epoch 3, not of epoch 6
    assert not m.training


def test_fit_without_patience_runs_all_epochs_and_ignores_nan():
    vals = [float("nan"), 2.0, 1.0, 1.5, float("nan")]
    m, hist = _counter_fit(vals, patience=None, epochs=5)
    assert not hist.stopped_early
    assert hist.epochs_run == 5
    assert hist.best_epoch == 3
    assert m.weight.item() == pytest.approx(3.0)


def test_fit_zero_epochs_is_a_no_op():
    m, hist = _counter_fit([], patience=3, epochs=0)
    assert hist.epochs_run == 0 and hist.best_epoch == 0
    assert m.weight.item() == 0.0


def test_fit_logs_progress_lines(caplog):
    log = logging.getLogger("test.fit")
    with caplog.at_level(logging.INFO, logger="test.fit"):
        _counter_fit([5, 4, 3, 2, 1], patience=10, epochs=5, log=log, name="toy", log_every=2)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "[toy] epoch 2/5 train_loss=1 val=4 best=4 (epoch 2)"
    assert lines[-1].startswith("[toy] epoch 5/5 ")
    assert len(lines) == 3


def test_fit_steps_a_plateau_scheduler_on_validation():
    m = nn.Linear(1, 1)
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    hist = fit(lambda idx: {"loss": 0.0}, lambda: 1.0, [m], n_train=4, epochs=3, batch_size=2, patience=None,
               scheduler=sched)
    assert hist.lr == [1.0, 0.5, 0.25]


def test_fit_trains_a_real_model_and_requires_a_loss_key():
    seed_everything(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    m = nn.Linear(3, 1)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)

    def step(idx):
        opt.zero_grad()
        loss = ((m(x[idx]) - y[idx]) ** 2).mean()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    hist = fit(step, lambda: ((m(x) - y) ** 2).mean().item(), [m], n_train=64, epochs=100, batch_size=16, patience=10,
               generator=torch.Generator().manual_seed(0))
    assert hist.best_val < 0.01 * hist.val[0]
    assert History.from_dict(hist.to_dict()) == hist

    with pytest.raises(KeyError, match="loss"):
        fit(lambda idx: {"ce": 1.0}, lambda: 0.0, [m], n_train=4, epochs=1, batch_size=2, patience=None)


@pytest.mark.parametrize(("y", "n_rows", "minimum", "message"), [
    ([0, 1, 1], 4, 1, "3 labels but the matrix has 4 rows"),
    ([0, 1, 2], 3, 1, "must be 0/1"),
    ([0, 1, 1, 1], 4, 2, "need at least 2 samples of each class for the split; got 1 resistant"),
])
def test_binary_labels_are_checked_with_what_is_wrong(y, n_rows, minimum, message):
    from drugshift.train import as_binary_labels

    with pytest.raises(ValueError, match=message):
        as_binary_labels(y, n_rows, "y", minimum, "for the split")


def test_binary_labels_come_back_as_int64():
    from drugshift.train import as_binary_labels

    y = as_binary_labels([1.0, 0.0, True], 3)
    assert y.dtype.name == "int64" and y.tolist() == [1, 0, 1]
