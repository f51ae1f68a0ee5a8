"""The library's torch thread choice: set during fit and predict, the caller's count restored
after, explicit choices (environment variables, torch.set_num_threads) respected."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from txl_ts import threads
from txl_ts.baselines import DLinearForecaster
from txl_ts.grid import _init_worker


class RecordThreads(Callback):
    """Records torch's intra-op thread count while training runs."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.seen.append(torch.get_num_threads())


def _frame(n: int = 200) -> pd.DataFrame:
    t = np.arange(n)
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": np.sin(2 * np.pi * t / 12) + 0.1 * rng.standard_normal(n)},
                        index=pd.date_range("2021-01-01", periods=n, freq="h"))


def _fit(callback: RecordThreads) -> DLinearForecaster:
    model = DLinearForecaster(horizon=4, lookback=24, kernel=5, max_epochs=2, val_size=24,
                              trainer_kwargs={"callbacks": [callback]})
    return model.fit(_frame())


@pytest.fixture
def torch_default(monkeypatch):
    """A process whose torch count is at its default (3 here), with no thread variables."""
    for name in (threads.ENV_VAR, *threads.STANDARD_ENV_VARS):
        monkeypatch.delenv(name, raising=False)
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "TORCH_DEFAULT_THREADS", 3)
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


def test_fit_and_predict_use_one_thread_and_restore_the_default(torch_default):
    recorder = RecordThreads()
    model = _fit(recorder)
    assert recorder.seen and set(recorder.seen) == {threads.LIBRARY_THREADS}
    assert torch.get_num_threads() == torch_default

    seen_in_predict = []
    original = model._forward

    def spy(windows):
        seen_in_predict.append(torch.get_num_threads())
        return original(windows)

    model._forward = spy
    model.predict()
    assert seen_in_predict == [threads.LIBRARY_THREADS]
    assert torch.get_num_threads() == torch_default


def test_explicit_set_num_threads_is_respected(torch_default):
    torch.set_num_threads(2)  # differs from the default: the user's choice
    recorder = RecordThreads()
    _fit(recorder)
    assert set(recorder.seen) == {2}
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("name", threads.STANDARD_ENV_VARS)
def test_standard_env_var_leaves_torch_alone(torch_default, monkeypatch, name):
    monkeypatch.setenv(name, "3")
    recorder = RecordThreads()
    _fit(recorder)
    assert set(recorder.seen) == {torch_default}


def test_library_env_var_sets_the_count(torch_default, monkeypatch):
    monkeypatch.setenv(threads.ENV_VAR, "2")
    recorder = RecordThreads()
    _fit(recorder)
    assert set(recorder.seen) == {2}
    assert torch.get_num_threads() == torch_default
    monkeypatch.setenv(threads.ENV_VAR, "two")
    with pytest.raises(ValueError, match=threads.ENV_VAR):
        _fit(RecordThreads())


def test_context_manager_restores_after_an_error(torch_default):
    with pytest.raises(RuntimeError), threads.torch_threads():
        assert torch.get_num_threads() == threads.LIBRARY_THREADS
        raise RuntimeError("boom")
    assert torch.get_num_threads() == torch_default


def test_grid_workers_follow_the_same_rule(torch_default, monkeypatch):
    monkeypatch.setattr("signal.signal", lambda *a: None)  # the worker ignores Ctrl-C
    _init_worker("cpu", 2)
    assert torch.get_num_threads() == threads.LIBRARY_THREADS
    monkeypatch.setenv(threads.ENV_VAR, "2")
    _init_worker("cpu", 2)
    assert torch.get_num_threads() == 2
