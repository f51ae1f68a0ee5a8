"""ARIMAForecaster with covariates (ARIMAX): known-ahead covariates as statsmodels exog, past
covariates ignored, and the fast paths (rolling, update, save/load, model intervals) exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tolerance import assert_close

from txl_ts.baselines import ARIMAForecaster

H = 12
SMALL = dict(horizon=H, max_p=1, max_q=1)


def _synthetic(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Hourly: temp an AR(1) (unpredictable far ahead from its own past), y = 2 temp plus a
    daily cycle plus noise; `meter` a past covariate that is pure noise."""
    rng = np.random.default_rng(seed)
    temp = np.zeros(n)
    for t in range(1, n):
        temp[t] = 0.95 * temp[t - 1] + rng.standard_normal()
    t = np.arange(n)
    y = 2 * temp + 0.5 * np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n)
    return pd.DataFrame({"y": y, "temp": temp, "meter": rng.standard_normal(n)},
                        index=pd.date_range("2021-01-01", periods=n, freq="h"))


def _looped(model, df: pd.DataFrame, cutoffs: np.ndarray) -> np.ndarray:
    return np.stack([model.predict(history=df.iloc[: c + 1], future=df.iloc[c + 1 :])
                     .to_numpy() for c in cutoffs])


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _synthetic()


@pytest.fixture(scope="module")
def arimax(data):
    return ARIMAForecaster(**SMALL, future_covariates=["temp"], past_covariates=["meter"],
                           calendar=["time_of_day", "weekend"]).fit(data[:1000])


def test_known_ahead_covariates_beat_the_plain_arima(data, arimax):
    plain = ARIMAForecaster(**SMALL, targets=["y"]).fit(data[:1000])
    cutoffs = np.arange(999, len(data) - H, 7)
    truth = np.stack([data["y"].to_numpy()[c + 1 : c + 1 + H] for c in cutoffs])
    mse = {name: float(np.mean((m.rolling_forecasts(data, cutoffs)[:, :, 0] - truth) ** 2))
           for name, m in (("arimax", arimax), ("plain", plain))}
    assert mse["arimax"] < 0.05 * mse["plain"], mse  # about 0.01 against 20 here
    # the covariate's weight in the data's units: least squares plus the ARIMA's correction
    model = arimax.results_["y"].model
    beta = arimax.exog_coef_[0, 0] + arimax.params_["y"][model.k_trend]  # temp's column
    effect = beta * arimax.scaler_.scale_[0] / arimax.covariate_scaler_.scale_[1]
    assert abs(effect - 2) < 0.05, effect


def test_forecast_reads_future_covariates_after_the_origin_and_never_past_ones(data, arimax):
    history, future = data.iloc[:1100], data.iloc[1100 : 1100 + H]
    base = arimax.predict(history=history, future=future).to_numpy()
    noisy_past = future.assign(meter=future["meter"] + 100.0)
    np.testing.assert_array_equal(arimax.predict(history=history, future=noisy_past), base)
    warmer = future.assign(temp=future["temp"] + 1.0)
    shift = arimax.predict(history=history, future=warmer).to_numpy() - base
    assert np.all(shift > 1.0), shift  # about +2 per degree at every step
    # the same through the one-pass rolling path: rows after the cutoff
    cutoff = np.array([1099])
    rolled = arimax.rolling_forecasts(data.iloc[:1100 + H], cutoff)[0]
    later = data.iloc[:1100 + H].copy()
    later.iloc[1100:, later.columns.get_loc("meter")] += 100.0
    np.testing.assert_array_equal(arimax.rolling_forecasts(later, cutoff)[0], rolled)
    later.iloc[1100:, later.columns.get_loc("temp")] += 1.0
    assert np.all(arimax.rolling_forecasts(later, cutoff)[0] - rolled > 1.0)


def test_past_covariates_are_ignored_entirely(data):
    """The documented limitation: a direct ARIMAX has no future values for them."""
    common = dict(**SMALL, order=(1, 0, 0), future_covariates=["temp"],
                  past_covariates=["meter"])
    other = data.assign(meter=np.cos(np.arange(len(data))))  # any other past covariate
    model = ARIMAForecaster(**common).fit(data[:600])
    changed = ARIMAForecaster(**common).fit(other[:600])
    np.testing.assert_array_equal(model.params_["y"], changed.params_["y"])
    future = data.iloc[700 : 700 + H]
    np.testing.assert_array_equal(model.predict(history=data[:700], future=future),
                                  changed.predict(history=other[:700], future=future))


@pytest.mark.parametrize(
    "params",
    [
        {"order": (1, 0, 1), "trend": "c"},
        {"order": (2, 1, 1)},
        {"order": (1, 0, 0), "seasonal_order": (1, 0, 0, 24), "seasonal": False},
    ],
)
def test_rolling_forecasts_equal_predict_per_cutoff(data, params):
    df = data.iloc[:700]
    model = ARIMAForecaster(horizon=H, maxiter=15, future_covariates=["temp"],
                            past_covariates=["meter"], calendar="auto", **params).fit(df[:500])
    cutoffs = np.array([30, 250, 499, 500, 640, len(df) - 1 - H])
    fast = model.rolling_forecasts(df, cutoffs)
    assert fast.shape == (len(cutoffs), H, 1)
    assert_close(fast, _looped(model, df, cutoffs), np.float64, ops=len(df))


def test_update_with_covariates_equals_predict_after_the_whole_history(data, arimax):
    model = ARIMAForecaster(**arimax.get_params()).fit(data[:1000])
    before = model.predict(future=data.iloc[1000:])
    for lo, hi in ((1000, 1001), (1001, 1050), (1050, 1130)):
        model.update(data.iloc[lo:hi])
    np.testing.assert_array_equal(model.params_["y"], arimax.params_["y"])  # no refit
    after = model.predict(future=data.iloc[1130:])
    assert after.index[0] == data.index[1130]
    expected = arimax.predict(history=data.iloc[:1130], future=data.iloc[1130:])
    assert_close(after, expected, np.float64, ops=1130)
    assert not np.allclose(after.to_numpy()[:3], before.to_numpy()[:3])
    with pytest.raises(ValueError, match="temp"):  # update needs the covariates' values
        model.update(data.iloc[1130:1140].drop(columns="temp"))


def test_save_load_round_trip_with_roles(data, arimax, tmp_path):
    model = ARIMAForecaster(**arimax.get_params()).fit(data[:900], data[900:1000])
    model.save(tmp_path)
    loaded = ARIMAForecaster.load(tmp_path)
    assert loaded.roles_ == model.roles_
    np.testing.assert_array_equal(loaded.exog_coef_, model.exog_coef_)
    future = data.iloc[1000:]
    pd.testing.assert_frame_equal(loaded.predict(future=future), model.predict(future=future))
    pd.testing.assert_frame_equal(
        loaded.predict_interval(0.8, method="model", future=future),
        model.predict_interval(0.8, method="model", future=future))
    cutoffs = np.arange(950, 1200, 25)
    np.testing.assert_array_equal(loaded.rolling_forecasts(data, cutoffs),
                                  model.rolling_forecasts(data, cutoffs))
    for m in (loaded, model):
        m.update(data.iloc[1000:1024])
    pd.testing.assert_frame_equal(loaded.predict(future=data.iloc[1024:]),
                                  model.predict(future=data.iloc[1024:]))


def test_model_intervals_read_the_future_covariates(data, arimax):
    history, future = data.iloc[:1100], data.iloc[1100:]
    point = arimax.predict(history=history, future=future)
    bands = arimax.predict_interval([0.5, 0.9], history=history, method="model", future=future)
    lower, upper = bands["y", 0.9, "lower"].to_numpy(), bands["y", 0.9, "upper"].to_numpy()
    assert_close((lower + upper) / 2, point["y"], np.float64)
    assert np.all(np.diff(upper - lower) >= 0)  # widening with the horizon
    assert np.all(bands["y", 0.5, "upper"].to_numpy() < upper)
    # the covariates move the centre, not the width (the exog weights are fixed parameters)
    warmer = future.assign(temp=future["temp"] + 1.0)
    moved = arimax.predict_interval([0.9], history=history, method="model", future=warmer)
    assert_close(moved["y", 0.9, "upper"] - moved["y", 0.9, "lower"], upper - lower,
                 np.float64, scale=float(np.max(upper)))
    assert np.all(moved["y", 0.9, "upper"].to_numpy() > upper + 1.0)
    quantiles = arimax.predict_quantiles([0.1, 0.5, 0.9], method="model",
                                         future=data.iloc[1000:])
    assert_close(quantiles["y", 0.5], arimax.predict(future=data.iloc[1000:])["y"], np.float64)
    with pytest.raises(ValueError, match="temp"):
        arimax.predict_interval(0.9, method="model", future=future.drop(columns="temp"))
    conformal = arimax.predict_interval(0.9, history=history, future=future)
    assert_close((conformal["y", 0.9, "lower"] + conformal["y", 0.9, "upper"]) / 2,
                 point["y"], np.float64)
