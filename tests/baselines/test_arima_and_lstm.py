"""ARIMAForecaster and LSTMForecaster: fixed-parameter filtering, rolling fast paths,
persistence and parameter checks."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from statsmodels.tsa.statespace.sarimax import SARIMAX
from threadpoolctl import threadpool_limits
from tolerance import assert_close, tol

from txl_ts.baselines import ARIMAForecaster, LSTMForecaster

QUIET = {"enable_progress_bar": False}


def _frame(values: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame(values, index=pd.date_range("2021-01-01", periods=n, freq="h"))


def _ar_walk(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Column "ar": a stationary AR(1) around 5; column "walk": a random walk."""
    rng = np.random.default_rng(seed)
    ar = np.zeros(n)
    for t in range(1, n):
        ar[t] = 0.6 * ar[t - 1] + rng.standard_normal()
    return _frame({"ar": 5 + ar, "walk": np.cumsum(rng.standard_normal(n))})


def _seasonal(n: int = 400, period: int = 12, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return _frame({
        "x": np.sin(2 * np.pi * t / period) + 0.1 * rng.standard_normal(n),
        "y": 3 + np.sin(2 * np.pi * t / period + 1.0) + 0.1 * rng.standard_normal(n),
    })


def _looped(model, df: pd.DataFrame, cutoffs: np.ndarray) -> np.ndarray:
    return np.stack([model.predict(history=df.iloc[: c + 1]).to_numpy() for c in cutoffs])


# ---- ARIMA ---------------------------------------------------------------------------------
def test_statsmodels_append_equals_filter_with_fixed_params():
    x = _ar_walk()["walk"].to_numpy()
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore")
        res = SARIMAX(x[:150], order=(1, 1, 1)).fit(disp=False)
    appended = res.append(x[150:], refit=False)
    refiltered = SARIMAX(x, order=(1, 1, 1)).filter(res.params)
    # the Kalman filter runs sequentially over the rows: its rounding accumulates over them
    assert_close(appended.forecast(10), refiltered.forecast(10), np.float64, ops=len(x))
    np.testing.assert_array_equal(appended.params, res.params)


def test_arima_validation_data_is_appended_with_fitted_params():
    df = _ar_walk()
    model = ARIMAForecaster(horizon=8, order=(1, 1, 1)).fit(df[:180], validation_data=df[180:])
    alone = ARIMAForecaster(horizon=8, order=(1, 1, 1)).fit(df[:180])
    for col in df.columns:  # parameters come from the training rows only
        np.testing.assert_array_equal(model.params_[col], alone.params_[col])
    after = model.predict()
    assert after.index[0] == df.index[-1] + pd.Timedelta("1h")
    assert_close(after, alone.predict(history=df), np.float64, ops=len(df))


@pytest.mark.parametrize(
    "params",
    [
        {"order": (2, 1, 1)},
        {"order": (1, 0, 1), "trend": "c", "seasonal_order": (1, 0, 0, 12)},
        {"order": (0, 1, 1), "seasonal_order": (0, 1, 1, 12)},
    ],
)
def test_arima_rolling_forecasts_equal_looped_predict(params):
    df = _seasonal(n=260)
    model = ARIMAForecaster(horizon=7, maxiter=15, **params).fit(df[:200])  # any params will do
    cutoffs = np.array([20, 120, 199, 200, 230, 252])
    fast = model.rolling_forecasts(df, cutoffs)
    assert fast.shape == (len(cutoffs), 7, 2)
    assert_close(fast, _looped(model, df, cutoffs), np.float64, ops=len(df))


def test_arima_rolling_forecasts_equal_statsmodels_extend_per_origin():
    df = _ar_walk()
    model = ARIMAForecaster(horizon=5, order=(1, 1, 1), seasonal=False).fit(df[:180])
    cutoffs = np.array([179, 185, 239])
    fast = model.rolling_forecasts(df, cutoffs)
    scaled = model.scaler_.transform(df.to_numpy())
    for j, col in enumerate(df.columns):
        fitted = model.results_[col]
        for i, c in enumerate(cutoffs):
            extended = fitted if c == 179 else fitted.extend(scaled[180 : c + 1, j])
            expected = extended.forecast(5) * model.scaler_.scale_[j] + model.scaler_.mean_[j]
            # extend restarts the filter from the stored state, and with it the covariance
            # recursion that the one-pass filter froze once it had converged (statsmodels'
            # steady state, `ssm.tolerance`): they agree to that convergence, about 1e-9
            # relative here, not to rounding
            np.testing.assert_allclose(fast[i, :, j], expected, rtol=1e-7)


def test_arima_fit_predict_short_series_selects_orders_quietly():
    df = _ar_walk(n=120)
    before = df.copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = ARIMAForecaster(horizon=5, max_p=1, max_q=1).fit(df)
        forecast = model.predict()
    assert not [w for w in caught if "statsmodels" in w.filename], [str(w.message) for w in caught]
    pd.testing.assert_frame_equal(df, before)
    assert model.orders_["ar"][1] == 0 and model.orders_["walk"][1] == 1
    assert model.trends_ == {"ar": "c", "walk": "n"}
    assert all(p <= 1 and q <= 1 for p, _, q in model.orders_.values())
    assert set(model.converged_) == {"ar", "walk"}
    assert list(forecast.columns) == ["ar", "walk"]
    assert forecast.index[0] == df.index[-1] + pd.Timedelta("1h") and len(forecast) == 5
    assert np.isfinite(forecast.to_numpy()).all()
    # the AR(1) column forecast reverts towards its mean, the walk's stays near its last value
    slack = tol(np.float64, df["ar"].abs().max())  # a last value at the mean may stay there
    assert abs(forecast["ar"].iloc[-1] - 5) < abs(df["ar"].iloc[-1] - 5) + slack


def test_arima_save_load_round_trip_without_pickle(tmp_path, monkeypatch):
    df = _seasonal(n=200)
    model = ARIMAForecaster(horizon=6, order=(1, 1, 1), trend="c").fit(df[:150], df[150:])
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.json", "config.json",
                                                          "weights.safetensors"]

    def no_pickle(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    loaded = ARIMAForecaster.load(tmp_path)
    assert loaded.get_params() == {**model.get_params(), "order": [1, 1, 1]}
    assert loaded.orders_ == model.orders_ and loaded.converged_ == model.converged_
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    pd.testing.assert_frame_equal(loaded.predict(history=df[:120]),
                                  model.predict(history=df[:120]))
    cutoffs = np.arange(100, 200, 10)
    np.testing.assert_array_equal(loaded.rolling_forecasts(df, cutoffs),
                                  model.rolling_forecasts(df, cutoffs))


def test_arima_clone_and_errors():
    df = _ar_walk(n=100)
    model = ARIMAForecaster(horizon=4, order=(1, 0, 0))
    with pytest.raises(NotFittedError):
        model.predict()
    model.fit(df)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and not hasattr(copy, "results_")
    with pytest.raises(ValueError, match="cutoffs must lie in"):
        model.rolling_forecasts(df, np.array([50, 100]))
    with pytest.raises(ValueError, match="at least 2"):
        ARIMAForecaster(horizon=4, order=(1, 1, 0)).fit(df).predict(history=df[:1])


def _daily_weekly(n: int, seed: int = 0) -> pd.DataFrame:
    """Hourly load: a daily cycle, weaker on weekends (a weekly cycle), and AR(1) noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    daily = np.sin(2 * np.pi * t / 24) + 0.5 * np.cos(4 * np.pi * t / 24)
    weekend = (t // 24) % 7 >= 5
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.5 * noise[i - 1] + 0.2 * rng.standard_normal()
    return _frame({"load": np.where(weekend, 0.4 * daily - 1.0, daily) + noise})


def test_seasonal_arima_beats_non_seasonal_on_daily_and_weekly_cycles():
    df = _daily_weekly(5 * 168)  # four weeks to fit, one to forecast
    small = dict(horizon=24, max_p=1, max_q=1)
    seasonal = ARIMAForecaster(**small).fit(df[:672])
    plain = ARIMAForecaster(**small, seasonal=False).fit(df[:672])
    assert seasonal.periods_ == [24, 168] and plain.periods_ == []
    cutoffs = np.arange(671, len(df) - 24)
    truth = np.stack([df.iloc[c + 1 : c + 25].to_numpy() for c in cutoffs])
    mse = {name: np.mean((m.rolling_forecasts(df, cutoffs) - truth) ** 2)
           for name, m in (("seasonal", seasonal), ("plain", plain))}
    weekly_naive = np.stack([df.iloc[c - 167 : c - 143].to_numpy() for c in cutoffs])
    assert mse["seasonal"] < 0.25 * mse["plain"], mse
    assert mse["seasonal"] < np.mean((weekly_naive - truth) ** 2), mse


def test_seasonal_arima_places_the_season_by_timestamp():
    t = np.arange(400)
    df = _frame({"x": np.sin(2 * np.pi * t / 24) + 0.01 * np.cos(t)})
    model = ARIMAForecaster(horizon=30, order=(1, 0, 0), periods=[24]).fit(df[:200])
    for end in (150, 211, 397):  # inside, just after and far after the fitted rows
        forecast = model.predict(history=df.iloc[end - 50 : end]).to_numpy()[:, 0]
        expected = np.sin(2 * np.pi * np.arange(end, end + 30) / 24)
        np.testing.assert_allclose(forecast, expected, atol=0.05)
    # a frequency without a known season needs periods= (or seasonal=False)
    odd = df.set_axis(pd.date_range("2021-01-01", periods=400, freq="7h"))
    with pytest.raises(ValueError, match="pass periods="):
        ARIMAForecaster(horizon=5, order=(1, 0, 0)).fit(odd)
    assert ARIMAForecaster(horizon=5, order=(1, 0, 0), periods=[24]).fit(odd).periods_ == [24]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"seasonal": "yes"}, "'seasonal' parameter of ARIMAForecaster must be an instance of "
                              "'bool'"),
        ({"periods": [1]}, "at least 2"),
        ({"periods": 24}, "'periods' parameter of ARIMAForecaster must be an instance of "
                          "'list', an instance of 'tuple' or None"),
        ({"trend": "ct"}, r"'trend' parameter .* a str among \{'n', 'c'\} or None"),
        ({"maxiter": 0}, r"'maxiter' parameter .* an int in the range \[1, inf\)"),
        ({"harmonics": 0}, "harmonics"),
        ({"order": (1, 1)}, "order"),
        ({"order": (1, -1, 0)}, "d must be"),
        ({"seasonal_order": (1, 0, 1)}, "seasonal_order"),
        ({"seasonal_order": (1, 0, 1, 1)}, "at least 2"),
        ({"trend": "ct"}, "trend"),
        ({"max_p": -1}, "max_p"),
        ({"horizon": 0}, "horizon"),
    ],
)
def test_arima_bad_params_raise(params, message):
    with pytest.raises(ValueError, match=message):
        ARIMAForecaster(**params).fit(_ar_walk(n=100))


def test_arima_too_short_fit_frame_names_minimum():
    with pytest.raises(ValueError, match="at least .* are needed"):
        ARIMAForecaster(order=(2, 1, 2), seasonal_order=(1, 0, 1, 24)).fit(_ar_walk(n=30))


# ---- LSTM ----------------------------------------------------------------------------------
LSTM_SMALL = dict(horizon=6, lookback=24, hidden_size=16, n_layers=1, lr=1e-2, batch_size=64,
                  max_epochs=6, val_size=48, trainer_kwargs=QUIET)


@pytest.fixture(scope="module")
def seasonal_lstm():
    df = _seasonal(n=400)
    return LSTMForecaster(**LSTM_SMALL).fit(df[:340]), df


def test_lstm_beats_repeat_last_on_seasonal_series(seasonal_lstm):
    model, df = seasonal_lstm
    assert model.fit_summary_["best_val_loss"] is not None
    cutoffs = np.arange(339, len(df) - 6)  # origins after the fitted rows
    forecasts = model.rolling_forecasts(df, cutoffs)
    truth = np.stack([df.iloc[c + 1 : c + 7].to_numpy() for c in cutoffs])
    repeat_last = np.stack([np.repeat(df.iloc[c : c + 1].to_numpy(), 6, 0) for c in cutoffs])
    mse_lstm = np.mean((forecasts - truth) ** 2)
    mse_naive = np.mean((repeat_last - truth) ** 2)
    assert mse_lstm < 0.5 * mse_naive, (mse_lstm, mse_naive)


def test_lstm_rolling_forecasts_equal_looped_predict(seasonal_lstm):
    model, df = seasonal_lstm
    before = df.copy()
    cutoffs = np.array([23, 24, 100, 250, 339, 399])
    fast = model.rolling_forecasts(df, cutoffs)
    assert_close(fast, _looped(model, df, cutoffs), torch.float32)  # batched against one window
    pd.testing.assert_frame_equal(df, before)
    with pytest.raises(ValueError, match="cutoffs must lie in"):
        model.rolling_forecasts(df, np.array([22]))


def test_lstm_short_history_raises_naming_minimum(seasonal_lstm):
    model, df = seasonal_lstm
    with pytest.raises(ValueError, match="at least 24 are needed.*lookback=24"):
        model.predict(history=df[:23])
    assert len(model.predict(history=df[:24])) == 6


def test_lstm_save_load_identical(seasonal_lstm, tmp_path):
    model, df = seasonal_lstm
    model.save(tmp_path)
    loaded = LSTMForecaster.load(tmp_path)
    assert loaded.get_params() == model.get_params()
    assert loaded.patch_len_ == model.patch_len_ == 24  # hourly: one day per LSTM step
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    pd.testing.assert_frame_equal(loaded.predict(history=df[:300]),
                                  model.predict(history=df[:300]))
    assert loaded.predict().index[0] == df.index[340]


def test_lstm_clone_refits_identically(seasonal_lstm):
    model, df = seasonal_lstm
    fresh = clone(model).set_params(max_epochs=1)
    assert not hasattr(fresh, "net_") and fresh.lookback == model.lookback
    first = fresh.fit(df[:200]).predict()
    second = clone(fresh).fit(df[:200]).predict()
    pd.testing.assert_frame_equal(first, second)


def test_lstm_validation_data_and_channel_embedding():
    df = _seasonal(n=200)
    model = LSTMForecaster(**{**LSTM_SMALL, "max_epochs": 1, "channel_embedding": 3,
                              "window_step": 2}).fit(df[:150], validation_data=df[150:])
    assert model.fit_summary_["n_train_rows"] == 150 and model.fit_summary_["n_val_rows"] == 50
    assert model.predict().index[0] == df.index[-1] + pd.Timedelta("1h")
    assert model.net_.embedding.weight.shape == (2, 3)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"lookback": 0}, "lookback"),
        ({"hidden_size": 2.5}, "hidden_size"),
        ({"dropout": 1.0}, "dropout"),
        ({"lr": 0}, "lr"),
        ({"weight_decay": -1e-3}, "weight_decay"),
        ({"val_size": 1.5}, "val_size"),
        ({"val_size": "tail"}, "val_size"),
        ({"window_step": 0}, "window_step"),
        ({"channel_embedding": -1}, "channel_embedding"),
        ({"patch_len": 5}, "patch_len \\(5\\) must divide lookback \\(24\\)"),
        ({"patch_len": 0}, "patch_len"),
    ],
)
def test_lstm_bad_hyperparameters_raise(params, message):
    with pytest.raises(ValueError, match=message):
        LSTMForecaster(**{**LSTM_SMALL, **params}).fit(_seasonal(n=200))


def test_lstm_too_short_fit_frame_names_minimum():
    with pytest.raises(ValueError, match="lookback \\+ horizon = 30 rows"):
        LSTMForecaster(**LSTM_SMALL).fit(_seasonal(n=60))


@pytest.mark.parametrize("lookback, patch_len, expected", [
    (48, "auto", 24),  # hourly: the day
    (36, "auto", 18),  # the largest divisor of the lookback not above the day
    (24, 1, 1),  # the classic LSTM: one row per step
    (24, 6, 6),
])
def test_lstm_reads_the_lookback_in_patches(lookback, patch_len, expected):
    df = _seasonal(n=200)
    model = LSTMForecaster(**{**LSTM_SMALL, "lookback": lookback, "patch_len": patch_len,
                              "max_epochs": 1}).fit(df)
    assert model.patch_len_ == expected
    assert model.net_.lstm.input_size == expected
    cutoffs = np.array([lookback - 1, 150, 199])
    assert_close(model.rolling_forecasts(df, cutoffs), _looped(model, df, cutoffs), torch.float32)
