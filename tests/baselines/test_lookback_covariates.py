"""Covariates in the lookback models (LSTM, DLinear): they help when the target follows them,
forecasts read no past covariate after the origin, streaming updates stay exact, rolling
forecasts equal per-cutoff predict, and save/load keeps everything."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from pandas.testing import assert_frame_equal
from tolerance import assert_close

from txl_ts.baselines import DLinearForecaster, LSTMForecaster
from txl_ts.lookback import CovariateWindows
from txl_ts.training import Windows

QUIET = {"enable_progress_bar": False}
MODELS = {
    "lstm": lambda **kw: LSTMForecaster(**{"hidden_size": 16, "n_layers": 1, **kw}),
    "dlinear": lambda **kw: DLinearForecaster(**kw),
}
SMALL = dict(horizon=12, lookback=48, max_epochs=10, val_size=150, trainer_kwargs=QUIET)
ROLES = dict(targets=["y", "y2"], past_covariates=["p"], future_covariates=["temp"],
             calendar=["time_of_day"])
N_TRAIN = 1200


def _frame(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Hourly targets driven by an AR(1) 'temperature' (unpredictable from its own past far
    ahead) plus a daily cycle; 'p' is a noise column to use as a past covariate."""
    rng = np.random.default_rng(seed)
    temp = np.zeros(n)
    for i in range(1, n):
        temp[i] = 0.9 * temp[i - 1] + rng.standard_normal()
    t = np.arange(n)
    daily = 0.5 * np.sin(2 * np.pi * t / 24)
    return pd.DataFrame({
        "y": 2 * temp + daily + 0.1 * rng.standard_normal(n),
        "y2": -temp + daily + 0.1 * rng.standard_normal(n),
        "temp": temp,
        "p": rng.standard_normal(n),
    }, index=pd.date_range("2020-01-01", periods=n, freq="h"))


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return _frame()


@pytest.fixture(scope="module", params=list(MODELS))
def fitted(request, df):
    """A model with every kind of covariate: past, future and calendar (K = 1 + 1 + 2)."""
    return MODELS[request.param](**SMALL, **ROLES).fit(df[:N_TRAIN])


def _test_cutoffs(df: pd.DataFrame, horizon: int) -> np.ndarray:
    return np.arange(N_TRAIN, len(df) - horizon - 1, 6)


@pytest.mark.parametrize("name", MODELS)
def test_future_covariates_help_when_the_target_follows_them(df, name):
    """y = 2 temp + a daily cycle: without temp the model can only guess where the AR(1)
    goes; with the horizon's temp it nearly knows the answer."""
    kw = dict(SMALL, targets=["y"])
    plain = MODELS[name](**kw).fit(df[:N_TRAIN])
    informed = MODELS[name](**kw, future_covariates=["temp"]).fit(df[:N_TRAIN])
    cutoffs = _test_cutoffs(df, SMALL["horizon"])
    truth = np.stack([df[["y"]].to_numpy()[c + 1 : c + 1 + SMALL["horizon"]] for c in cutoffs])
    mse = {m: np.mean((model.rolling_forecasts(df, cutoffs) - truth) ** 2)
           for m, model in (("plain", plain), ("informed", informed))}
    assert mse["informed"] <= 0.5 * mse["plain"], mse


def test_no_past_covariate_after_the_origin_is_read(fitted, df):
    c = N_TRAIN + 30
    base = fitted.rolling_forecasts(df, np.array([c]))
    after = df.copy()
    after.iloc[c + 1 :, after.columns.get_loc("p")] += 100.0
    np.testing.assert_array_equal(fitted.rolling_forecasts(after, np.array([c])), base)
    # the same through predict: the past covariate of `future` is never read
    history = df[: c + 1]
    expected = fitted.predict(history=history, future=df[c + 1 :])
    assert_frame_equal(fitted.predict(history=history, future=after[c + 1 :]), expected)
    # but the model does read it up to the origin, and the future covariate after it
    before = df.copy()
    before.iloc[c, before.columns.get_loc("p")] += 3.0
    assert not np.allclose(fitted.rolling_forecasts(before, np.array([c])), base)
    ahead = df.copy()
    ahead.iloc[c + 1 :, ahead.columns.get_loc("temp")] += 3.0
    assert not np.allclose(fitted.rolling_forecasts(ahead, np.array([c])), base)
    changed = fitted.predict(history=history, future=ahead[c + 1 :])
    assert not np.allclose(changed.to_numpy(), expected.to_numpy())


def test_training_windows_carry_no_past_covariate_after_the_origin():
    lookback, horizon, n_past = 3, 2, 1
    values = torch.arange(10.0)[None]  # (C=1, T=10)
    x = torch.stack([100 + torch.arange(10.0), 200 + torch.arange(10.0)], 1)  # (T, K=2)
    data = CovariateWindows(Windows(values, lookback + horizon, 2, 4, end=10), x, n_past,
                            lookback, horizon)
    targets, x_window, x_future = data[1]  # rows 2 .. 6, origin at row 4
    torch.testing.assert_close(targets, values[:, 2:7])
    torch.testing.assert_close(x_window, x[2:5])
    torch.testing.assert_close(x_future, x[5:7, n_past:])  # the future column only
    _, x_window, x_future = data[3]  # rows 6 .. 10: row 10 is beyond the data
    torch.testing.assert_close(x_future, torch.tensor([[209.0], [0.0]]))


def test_rolling_forecasts_equal_predict_with_future(fitted, df):
    cutoffs = np.array([fitted.lookback_ - 1, 500, N_TRAIN + 7, len(df) - 14])
    fast = fitted.rolling_forecasts(df, cutoffs)
    looped = np.stack([fitted.predict(history=df[: c + 1], future=df[c + 1 :]).to_numpy()
                       for c in cutoffs])
    assert_close(fast, looped, torch.float32)


def test_update_is_exact_and_keeps_lookback_rows(fitted, df):
    model = copy.deepcopy(fitted)
    model.update(df[N_TRAIN : N_TRAIN + 5]).update(df[N_TRAIN + 5 : N_TRAIN + 90])
    end = N_TRAIN + 90
    assert model.last_window_.shape == (model.lookback_, 2 + 4)  # C targets + K covariates
    streamed = model.predict(future=df[end:])
    refit_free = fitted.predict(history=df[:end], future=df[end:])
    assert_close(streamed, refit_free, torch.float32)
    assert_frame_equal(fitted.predict(future=df[N_TRAIN:]),
                       fitted.predict(history=df[:N_TRAIN], future=df[N_TRAIN:]))


def test_save_load_round_trips_roles_and_window(fitted, df, tmp_path):
    fitted.save(tmp_path / "m")
    loaded = type(fitted).load(tmp_path / "m")
    assert loaded.roles_ == fitted.roles_
    np.testing.assert_array_equal(loaded.last_window_, fitted.last_window_)
    future = df[N_TRAIN:]
    assert_frame_equal(loaded.predict(future=future), fitted.predict(future=future))
    cutoffs = np.array([N_TRAIN, N_TRAIN + 50])
    np.testing.assert_array_equal(loaded.rolling_forecasts(df, cutoffs),
                                  fitted.rolling_forecasts(df, cutoffs))
    loaded.update(df[N_TRAIN : N_TRAIN + 24])
    assert_close(loaded.predict(future=df[N_TRAIN + 24 :]),
                 fitted.predict(history=df[: N_TRAIN + 24], future=df[N_TRAIN + 24 :]),
                 torch.float32)


def test_each_window_reads_its_own_covariates(fitted):
    """Two windows of two channels in one batch forecast as each window does alone: the
    covariates of window n reach both of its channels and no other window."""
    lookback, horizon = fitted.lookback_, fitted.horizon
    rng = torch.Generator().manual_seed(0)
    windows = torch.randn(2, 2, lookback, generator=rng)
    covariates = (torch.randn(2, lookback, 4, generator=rng),
                  torch.randn(2, horizon, 3, generator=rng))
    with torch.no_grad():
        batched = fitted._forward(windows, covariates)
        for n in range(2):
            alone = fitted._forward(windows[n : n + 1],
                                    (covariates[0][n : n + 1], covariates[1][n : n + 1]))
            assert_close(batched[n], alone[0], torch.float32, ops=lookback)
        swapped = fitted._forward(windows, (covariates[0].flip(0), covariates[1].flip(0)))
    assert not torch.allclose(swapped, batched)
