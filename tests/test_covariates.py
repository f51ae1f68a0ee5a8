"""Covariates through the public API of every forecaster: roles, `future=`, its errors,
update, intervals, save/load, and the caller's frames left alone.

Whether a model *learns* from its covariates is tested per model (tests/txl,
tests/baselines); here every model must accept them and keep the contract of the data path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from txl_ts import TXLForecaster
from txl_ts.backtest import backtest
from txl_ts.baselines import (
    ARIMAForecaster,
    DLinearForecaster,
    LSTMForecaster,
    NaiveForecaster,
)

H = 6
QUIET = {"enable_progress_bar": False}
ROLES = dict(targets=["y"], past_covariates=["meter"], future_covariates=["temp"],
             calendar="auto", holidays=("AU", "VIC"))
MODELS = {
    "naive": lambda **kw: NaiveForecaster(H, "seasonal", season=24, **kw),
    "arima": lambda **kw: ARIMAForecaster(H, order=(1, 0, 0), maxiter=10, **kw),
    "dlinear": lambda **kw: DLinearForecaster(H, lookback=24, kernel=5, max_epochs=1,
                                              trainer_kwargs=QUIET, **kw),
    "lstm": lambda **kw: LSTMForecaster(H, lookback=24, hidden_size=8, n_layers=1,
                                        max_epochs=1, trainer_kwargs=QUIET, **kw),
    "txl": lambda **kw: TXLForecaster(H, patch_len=4, stride=4, d_model=8, n_heads=2,
                                      n_layers=1, d_ff=16, segment_len=2, mem_len=2,
                                      n_segments=2, max_epochs=1, trainer_kwargs=QUIET, **kw),
}


def frame(n: int = 400, seed: int = 0, start: str = "2024-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=n, freq="h")
    temp = np.cumsum(rng.normal(size=n)) * 0.3
    y = 2 * temp + np.sin(2 * np.pi * np.arange(n) / 24) + 0.1 * rng.normal(size=n)
    return pd.DataFrame({"y": y, "temp": temp, "meter": rng.normal(size=n),
                         "note": "text"}, index=index)


def future_of(df: pd.DataFrame, n: int = H) -> pd.DataFrame:
    """The temperatures of the `n` hours after `df`."""
    later = frame(len(df) + n)
    return later.iloc[len(df):][["temp"]]


@pytest.fixture(scope="module", params=list(MODELS))
def fitted(request):
    df = frame()
    return request.param, MODELS[request.param](**ROLES).fit(df), df


def test_the_forecast_holds_the_targets_only(fitted):
    _, model, df = fitted
    out = model.predict(future=future_of(df))
    assert list(out.columns) == ["y"]
    assert out.index[0] == df.index[-1] + pd.Timedelta("1h") and len(out) == H
    assert np.isfinite(out.to_numpy()).all()


def test_without_targets_every_numeric_column_outside_a_role_is_a_target():
    df = frame().drop(columns="note").assign(other=1.0)
    model = NaiveForecaster(H, past_covariates=["meter"], future_covariates="temp").fit(df)
    assert model.columns_ == ["y", "other"]


@pytest.mark.parametrize("bad, message", [
    (None, r"uses the future covariates \['temp'\]: pass future="),
    ("no column", "future covariate column 'temp' is missing"),
    ("late", "future has no row for 2024-01-17 16:00:00"),
    ("nan", "NaN in the future covariate column 'temp' at 2024-01-17 18:00:00"),
    ("not a frame", "future must be a pandas DataFrame"),
])
def test_a_missing_future_is_named(fitted, bad, message):
    _, model, df = fitted
    future = future_of(df)
    cases = {None: None, "no column": future.rename(columns={"temp": "t"}),
             "late": future.iloc[1:],
             "nan": future.assign(temp=np.where(np.arange(H) == 2, np.nan, future["temp"])),
             "not a frame": future.to_numpy()}
    with pytest.raises((ValueError, TypeError), match=message):
        model.predict(future=cases[bad])
    with pytest.raises((ValueError, TypeError), match=message):
        model.predict_interval(0.8, future=cases[bad])


def test_future_rows_beyond_the_horizon_are_ignored(fitted):
    _, model, df = fitted
    exact = model.predict(future=future_of(df))
    longer = future_of(df, 3 * H)
    pd.testing.assert_frame_equal(model.predict(future=longer.iloc[::-1]), exact)


def test_future_frames_passed_as_history_are_refused(fitted):
    _, model, df = fitted
    with pytest.raises(ValueError, match=r"use predict\(future=X\)"):
        model.predict(future_of(df))


def test_history_and_future_together(fitted):
    _, model, df = fitted
    history = df.iloc[:300]
    out = model.predict(history=history, future=df.iloc[300:])
    assert out.index[0] == df.index[300] and list(out.columns) == ["y"]
    with pytest.raises(ValueError, match="past covariate column 'meter' is missing"):
        model.predict(history=history.drop(columns="meter"), future=df.iloc[300:])


def test_intervals_and_quantiles_take_future(fitted):
    _, model, df = fitted
    future = future_of(df)
    point = model.predict(future=future)
    bands = model.predict_interval([0.5, 0.9], future=future)
    quantiles = model.predict_quantiles([0.1, 0.9], future=future)
    lower, upper = bands[("y", 0.9, "lower")], bands[("y", 0.9, "upper")]
    assert (lower <= point["y"]).all() and (point["y"] <= upper).all()
    assert (quantiles[("y", 0.1)] <= quantiles[("y", 0.9)]).all()


def test_update_takes_targets_and_covariates_and_a_bad_one_changes_nothing(fitted):
    name, model, df = fitted
    later = frame(len(df) + 30).iloc[len(df):]
    future = frame(len(df) + 30 + H).iloc[len(df) + 30:][["temp"]]
    before = model.predict(future=future_of(df))
    broken = later.drop(columns="meter")
    with pytest.raises(ValueError, match="past covariate column 'meter' is missing"):
        model.update(broken)
    pd.testing.assert_frame_equal(model.predict(future=future_of(df)), before)
    work = MODELS[name](**ROLES).fit(df)
    work.update(later)
    streamed = work.predict(future=future)
    assert streamed.index[0] == later.index[-1] + pd.Timedelta("1h")
    reencoded = work.predict(history=pd.concat([df, later]), future=future)
    # ARIMA's update extends the fitted filter; the rest re-encode exactly (float rounding)
    np.testing.assert_allclose(streamed.to_numpy(), reencoded.to_numpy(),
                               rtol=1e-6, atol=1e-6 * np.abs(df["y"]).max())


def test_save_and_load_keep_every_role(fitted, tmp_path):
    name, model, df = fitted
    model.save(tmp_path / name)
    loaded = type(model).load(tmp_path / name)
    assert loaded.roles_ == model.roles_
    future = future_of(df)
    pd.testing.assert_frame_equal(loaded.predict(future=future), model.predict(future=future))
    pd.testing.assert_frame_equal(loaded.predict_interval(0.8, future=future),
                                  model.predict_interval(0.8, future=future))


def test_the_callers_frames_are_not_modified(fitted):
    name, _, df = fitted
    snapshot = df.copy()
    future = future_of(df)
    future_copy = future.copy()
    model = MODELS[name](**ROLES).fit(df)
    model.predict(future=future)
    model.predict(history=df, future=future)
    pd.testing.assert_frame_equal(df, snapshot)
    pd.testing.assert_frame_equal(future, future_copy)


def test_backtest_scores_the_targets_only(fitted):
    name, _, df = fitted
    result = backtest({name: MODELS[name](**ROLES)}, df.drop(columns="note"),
                      horizon=H, start=-4 * H, stride=H)
    assert set(result.forecasts.columns) >= {"y"}
    assert "temp" not in result.forecasts.columns


def test_roles_cannot_change_after_fit():
    model = NaiveForecaster(H, **ROLES).fit(frame())
    model.set_params(future_covariates=["meter"], past_covariates=None)
    with pytest.raises(ValueError, match="parameters changed since fit"):
        model.predict(future=future_of(frame()))


def test_a_column_in_two_roles_is_refused():
    with pytest.raises(ValueError, match="'temp' is both a target and one of the "
                                         "future_covariates"):
        NaiveForecaster(H, targets=["y", "temp"], future_covariates=["temp"]).fit(frame())
    with pytest.raises(ValueError, match="declared both in past_covariates and in "
                                         "future_covariates"):
        NaiveForecaster(H, targets="y", past_covariates="temp",
                        future_covariates="temp").fit(frame())


def test_calendar_only_needs_no_future_frame():
    df = frame()
    model = NaiveForecaster(H, targets="y", calendar="auto", holidays="AU").fit(df)
    assert model.roles_.names[-1] == "holiday" and not model.roles_.future
    assert len(model.predict()) == H


def test_models_without_future_covariates_ignore_future():
    df = frame()
    model = NaiveForecaster(H, targets="y").fit(df)
    pd.testing.assert_frame_equal(model.predict(future=future_of(df)), model.predict())


def test_rolling_forecasts_need_the_horizon_of_covariates_after_each_cutoff():
    df = frame()
    model = NaiveForecaster(H, **ROLES).fit(df)
    with pytest.raises(ValueError, match="known in df only up to"):
        model.rolling_forecasts(df, np.array([len(df) - 2]))
    assert model.rolling_forecasts(df, np.array([len(df) - 1 - H])).shape == (1, H, 1)
