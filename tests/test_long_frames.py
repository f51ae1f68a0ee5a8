"""Long frames (`id_col`, `time_col`, targets) through the public API of every forecaster.

Equivalences: a long frame of one series forecasts as its wide frame does; a global model's
forecast of a fitted series equals its forecast from that series' history; a subset update
equals re-encoding. Then ragged series, per-series scaling, every error case with the series
and timestamp named, intervals in long form, the long backtest, and save/load.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerance import assert_close

from txl_ts import TXLForecaster
from txl_ts.backtest_panel import backtest_long
from txl_ts.baselines import (
    ARIMAForecaster,
    DLinearForecaster,
    LSTMForecaster,
    NaiveForecaster,
)

H = 6
QUIET = {"enable_progress_bar": False}
LONG = dict(id_col="unique_id", time_col="ds")
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
GLOBAL = ("dlinear", "lstm", "txl")
SEEDED = GLOBAL  # the models that take random_state
# (length, first timestamp, scale) of each series: different lengths, starts and ends
SERIES = {"a": (420, "2024-01-01", 1.0), "b": (300, "2024-01-04 05:00", 50.0),
          "c": (360, "2024-01-02 11:00", 0.2)}


def one_series(n: int, start: str, scale: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = scale * (3 + np.sin(2 * np.pi * (t + seed) / 24) + 0.1 * rng.normal(size=n))
    return pd.DataFrame({"ds": pd.date_range(start, periods=n, freq="h"), "y": y})


def panel(series: dict = SERIES) -> pd.DataFrame:
    parts = []
    for seed, (sid, (n, start, scale)) in enumerate(series.items()):
        part = one_series(n, start, scale, seed)
        part.insert(0, "unique_id", sid)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def rows_of(df: pd.DataFrame, sid: str) -> pd.DataFrame:
    return df[df["unique_id"] == sid].reset_index(drop=True)


def make(name: str, **kw):
    """MODELS[name] for the target y; seeded where the model has a seed."""
    if name in SEEDED:
        kw.setdefault("random_state", 0)
    return MODELS[name](targets=["y"], **kw)


def head_and_tail(df: pd.DataFrame, tail: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each series' rows but its last `tail`, and those last rows."""
    from_end = df.groupby("unique_id").cumcount(ascending=False)
    return df[from_end >= tail], df[from_end < tail]


@functools.cache
def fitted_model(name: str):
    """(name, a model fitted on `panel()`, the frame): shared by the tests that only read it."""
    df = panel()
    return name, make(name, **LONG).fit(df), df


@pytest.fixture(params=list(MODELS))
def fitted(request):
    return fitted_model(request.param)


# ---- equivalences ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_a_long_frame_of_one_series_forecasts_as_its_wide_frame(name):
    long = rows_of(panel(), "a")
    wide = long.drop(columns="unique_id")
    by_long = make(name, **LONG).fit(long)
    by_wide = make(name, time_col="ds").fit(wide)
    got, want = by_long.predict(), by_wide.predict()
    assert list(got.columns) == ["unique_id", "ds", "y"]
    assert (got["unique_id"] == "a").all()
    np.testing.assert_array_equal(got["ds"].to_numpy(), want.index.to_numpy())
    assert_close(got["y"], want["y"], np.float32, ops=long.shape[0])


def test_every_fitted_series_forecasts_from_its_own_last_timestamp(fitted):
    name, model, df = fitted
    forecast = model.predict()
    assert list(forecast.columns) == ["unique_id", "ds", "y"]
    assert forecast["unique_id"].value_counts().to_dict() == {sid: H for sid in SERIES}
    for sid in SERIES:
        last = rows_of(df, sid)["ds"].iloc[-1]
        ds = forecast.loc[forecast["unique_id"] == sid, "ds"]
        expected = pd.date_range(last + pd.Timedelta(hours=1), periods=H, freq="h")
        np.testing.assert_array_equal(ds.to_numpy(), expected.to_numpy())
    assert np.isfinite(forecast["y"]).all()


def test_the_batched_forecast_equals_each_series_forecast_from_its_history(fitted):
    name, model, df = fitted
    batched = model.predict()
    for sid in SERIES:
        alone = model.predict(history=rows_of(df, sid))
        want = batched[batched["unique_id"] == sid].reset_index(drop=True)
        np.testing.assert_array_equal(alone["ds"].to_numpy(), want["ds"].to_numpy())
        assert_close(alone["y"], want["y"], np.float32, ops=len(df))


def test_series_model_is_the_wide_model_of_one_series(fitted):
    name, model, df = fitted
    view = model.series_model("b")
    wide = view.predict()
    got = model.predict()
    assert_close(wide["y"].to_numpy(), got.loc[got["unique_id"] == "b", "y"].to_numpy(),
                 np.float32)
    with pytest.raises(ValueError, match="'zz' was not in the fit frame"):
        model.series_model("zz")


@pytest.mark.parametrize("name", list(MODELS))
def test_update_of_a_subset_equals_re_encoding_and_leaves_the_others_alone(name):
    df = panel()
    cut = 24
    a = rows_of(df, "a")
    fit_frame = df.drop(df.index[(df["unique_id"] == "a").to_numpy()][-cut:])
    model = make(name, **LONG).fit(fit_frame)
    before = model.predict()
    model.update(a.iloc[-cut:])
    after = model.predict()
    # series a advanced by `cut` hours, exactly as re-encoding its whole history would
    a_after = after[after["unique_id"] == "a"].reset_index(drop=True)
    assert a_after["ds"].iloc[0] == a["ds"].iloc[-1] + pd.Timedelta(hours=1)
    reencoded = model.predict(history=a)
    assert_close(a_after["y"], reencoded["y"], np.float32, ops=len(a))
    # b and c are untouched, bit for bit
    for sid in ("b", "c"):
        pd.testing.assert_frame_equal(after[after["unique_id"] == sid].reset_index(drop=True),
                                      before[before["unique_id"] == sid]
                                      .reset_index(drop=True))


def test_a_refused_update_changes_no_series():
    df = panel()
    model = make("txl", **LONG).fit(df)
    before = model.predict()
    good = one_series(4, "2024-01-18 12:00", 1.0, 0).assign(unique_id="a")
    bad = one_series(4, "2024-01-16 11:00", 50.0, 1).assign(unique_id="b")
    bad.loc[2, "y"] = np.nan
    with pytest.raises(ValueError, match=r"series 'b'.*2024-01-16 13:00"):
        model.update(pd.concat([good, bad], ignore_index=True))
    pd.testing.assert_frame_equal(model.predict(), before)
    with pytest.raises(ValueError, match="series 'zz' was not in the fit frame"):
        model.update(good.assign(unique_id="zz"))
    pd.testing.assert_frame_equal(model.predict(), before)


# ---- global models: one network, per-series scaling, cold start -----------------------------
def test_per_series_scaling_keeps_a_huge_and_a_tiny_series_both_accurate():
    n, hold = 1200, 48
    spec = {"big": (n, "2024-01-01", 1e4), "small": (n - 200, "2024-01-05", 1e-2)}
    df = panel(spec)
    train, test = head_and_tail(df, hold)
    model = TXLForecaster(24, max_epochs=15, random_state=0, targets=["y"],
                          trainer_kwargs=QUIET, **LONG).fit(train)
    forecast = model.predict(horizon=24)
    for sid, (_, _, scale) in spec.items():
        actual = rows_of(test, sid)["y"].to_numpy()[:24]
        got = forecast.loc[forecast["unique_id"] == sid, "y"].to_numpy()
        last = rows_of(train, sid)["y"].iloc[-1]
        model_mse = np.mean((got - actual) ** 2)
        naive_mse = np.mean((last - actual) ** 2)
        # a daily sine with 10% noise: repeating the last value is far off, and a model that
        # lost one series to the other's scale would be worse than it by orders of magnitude
        assert model_mse < 0.5 * naive_mse, (sid, model_mse, naive_mse)
        assert np.sqrt(model_mse) < 0.5 * scale, (sid, model_mse)


@pytest.mark.parametrize("name", GLOBAL)
def test_a_global_model_forecasts_a_series_it_never_saw(name):
    _, model, _ = fitted_model(name)
    new = one_series(200, "2024-03-01", 7.0, 5).assign(unique_id="new")
    forecast = model.predict(history=new)
    assert forecast["unique_id"].unique().tolist() == ["new"]
    assert forecast["ds"].iloc[0] == new["ds"].iloc[-1] + pd.Timedelta(hours=1)
    # the series' own scale: a level of about 3 * 7
    assert np.isfinite(forecast["y"]).all()
    assert 7.0 < forecast["y"].mean() < 35.0
    bands = model.predict_interval(0.8, history=new)
    assert (bands["y_lower_80"] <= bands["y_upper_80"]).all()


@pytest.mark.parametrize("name", ["naive", "arima"])
def test_a_local_model_says_it_has_no_model_for_a_new_series(name):
    _, model, _ = fitted_model(name)
    new = one_series(200, "2024-03-01", 7.0, 5).assign(unique_id="new")
    with pytest.raises(ValueError, match="'new' was not in the frame.*one model per series"):
        model.predict(history=new)


# ---- long intervals, backtest, save/load ----------------------------------------------------
def test_intervals_in_long_form_per_series(fitted):
    name, model, df = fitted
    bands = model.predict_interval([0.8, 0.95])
    assert list(bands.columns) == ["unique_id", "ds", "y_lower_80", "y_upper_80",
                                   "y_lower_95", "y_upper_95"]
    assert bands["unique_id"].value_counts().to_dict() == {sid: H for sid in SERIES}
    assert (bands["y_lower_95"] <= bands["y_lower_80"]).all()
    assert (bands["y_lower_80"] <= bands["y_upper_80"]).all()
    assert (bands["y_upper_80"] <= bands["y_upper_95"]).all()
    # each series' band is on its own scale: b is 50 times a
    width = (bands["y_upper_80"] - bands["y_lower_80"]).groupby(bands["unique_id"]).mean()
    assert width["b"] > 5 * width["a"] > 5 * 5 * width["c"] / 5


def test_the_long_backtest_scores_every_window_of_every_series():
    df = panel()
    models = {"snaive": NaiveForecaster(H, "seasonal", season=24, targets=["y"], **LONG),
              "txl": make("txl", **LONG)}
    result = backtest_long(models, df, H, start=-48, stride=1, **LONG)
    per = result.per_series
    # 48 scored rows per series: cutoffs at each of them that leave a full horizon
    assert set(per.reset_index()["series"] if "series" in per.index.names
               else per["series"]) == set(SERIES)
    assert (per["n_windows"] == 48 - H + 1).all()
    assert set(result.metrics.index) == {"snaive", "txl"}
    assert (result.metrics["n_windows"] == 3 * (48 - H + 1)).all()
    assert result.metrics.loc["snaive", "mse_vs_snaive"] == pytest.approx(1.0)


def test_save_and_load_round_trip_a_long_model_exactly(fitted, tmp_path):
    name, model, df = fitted
    model.save(tmp_path / name)
    loaded = type(model).load(tmp_path / name)
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    pd.testing.assert_frame_equal(loaded.predict_interval(0.8), model.predict_interval(0.8))
    new = one_series(3, "2024-01-18 12:00", 1.0, 0).assign(unique_id="a")
    original = copy.deepcopy(model)  # the shared fitted model stays as the other tests read it
    pd.testing.assert_frame_equal(loaded.update(new).predict(), original.update(new).predict())


def test_the_callers_long_frame_is_not_modified(fitted):
    name, model, df = fitted
    shuffled = df.sample(frac=1.0, random_state=0)
    copy = shuffled.copy()
    model.predict(history=shuffled[shuffled["unique_id"] != "zz"])
    pd.testing.assert_frame_equal(shuffled, copy)


# ---- errors name the series and the timestamp -----------------------------------------------
def _duplicate(df):
    return pd.concat([df, df.iloc[[350]]], ignore_index=True)


def _missing(df):
    out = df.copy()
    out.loc[(out["unique_id"] == "b").to_numpy().nonzero()[0][10], "y"] = np.nan
    return out


def _other_freq(df):
    c = rows_of(df, "c").iloc[::2].assign(unique_id="c")
    return pd.concat([df[df["unique_id"] != "c"], c], ignore_index=True)


def _too_short(df):
    return pd.concat([df, one_series(5, "2024-01-01", 1.0, 9).assign(unique_id="d")],
                     ignore_index=True)


@pytest.mark.parametrize("mutate,message", [
    (_duplicate, r"series 'a'.*duplicate.*2024-01-15 14:00|duplicate.*series 'a'"),
    (_missing, r"series 'b'.*2024-01-04 15:00"),
    (_other_freq, r"series 'c'"),
    (_too_short, r"series 'd'"),
])
@pytest.mark.parametrize("name", ["naive", "txl"])
def test_bad_long_frames_name_the_series(mutate, message, name):
    df = mutate(panel())
    with pytest.raises(ValueError, match=message):
        MODELS[name](targets=["y"], **LONG).fit(df)


def test_id_col_needs_time_col_and_an_id_column():
    df = panel()
    with pytest.raises(ValueError, match="needs time_col"):
        MODELS["naive"](targets=["y"], id_col="unique_id").fit(df)
    with pytest.raises(ValueError, match="'site'"):
        MODELS["naive"](targets=["y"], id_col="site", time_col="ds").fit(df)


def test_a_wide_frame_with_duplicate_timestamps_hints_at_id_col():
    df = panel()
    with pytest.raises(ValueError, match="id_col"):
        MODELS["naive"](targets=["y"], time_col="ds").fit(df.drop(columns="unique_id"))


# ---- property: a long frame is its wide frames side by side ---------------------------------
@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.integers(50, 120), st.integers(0, 72)), min_size=1, max_size=4))
def test_any_ragged_long_frame_forecasts_as_its_series_one_by_one(spans):
    series = {f"s{i}": (n, str(pd.Timestamp("2024-01-01") + pd.Timedelta(hours=shift)), 1.0)
              for i, (n, shift) in enumerate(spans)}
    df = panel(series)
    long = NaiveForecaster(H, "seasonal", season=24, targets=["y"], **LONG).fit(df).predict()
    for sid in series:
        wide = (NaiveForecaster(H, "seasonal", season=24, targets=["y"], time_col="ds")
                .fit(rows_of(df, sid).drop(columns="unique_id")).predict())
        got = long[long["unique_id"] == sid]
        np.testing.assert_array_equal(got["ds"].to_numpy(), wide.index.to_numpy())
        np.testing.assert_array_equal(got["y"].to_numpy(), wide["y"].to_numpy())


# ---- with covariates ------------------------------------------------------------------------
def with_temperature(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with a column temp, known ahead, that y follows."""
    rng = np.random.default_rng(3)
    out = df.copy()
    out["temp"] = rng.normal(size=len(out)).cumsum() * 0.1
    out["y"] = out["y"] + out["temp"]
    return out


def future_temperature(df: pd.DataFrame, steps: int = H) -> pd.DataFrame:
    """The `steps` hours of temp after each series' end."""
    parts = []
    for sid, part in df.groupby("unique_id", sort=False):
        ds = pd.date_range(part["ds"].max() + pd.Timedelta(hours=1), periods=steps, freq="h")
        parts.append(pd.DataFrame({"unique_id": sid, "ds": ds,
                                   "temp": np.linspace(0, 1, steps)}))
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("name", ["txl", "arima"])
def test_long_frames_take_covariates_known_ahead_per_series(name):
    df = with_temperature(panel())
    model = make(name, future_covariates=["temp"], **LONG).fit(df)
    future = future_temperature(df)
    forecast = model.predict(future=future)
    assert forecast["unique_id"].value_counts().to_dict() == {sid: H for sid in SERIES}
    # the future rows of one series drive that series only
    warmer = future.assign(temp=np.where(future["unique_id"] == "b", future["temp"] + 5,
                                         future["temp"]))
    changed = model.predict(future=warmer)
    moved = (changed["y"] - forecast["y"]).abs().groupby(forecast["unique_id"]).max()
    assert moved["b"] > 0
    assert moved["a"] == moved["c"] == 0
    with pytest.raises(ValueError, match=r"series 'c'"):
        model.predict(future=future[future["unique_id"] != "c"])
    bands = model.predict_interval(0.8, future=future)
    assert {"y_lower_80", "y_upper_80"} <= set(bands.columns)


def test_backtest_takes_a_long_frame_when_the_models_name_id_col():
    from txl_ts.backtest import backtest

    df = panel()
    models = {"snaive": NaiveForecaster(H, "seasonal", season=24, targets=["y"], **LONG)}
    by_backtest = backtest(models, df, H, start=-48)
    by_long = backtest_long(models, df, H, start=-48, **LONG)
    timed = [c for c in by_long.per_series.columns if c.endswith("seconds")]
    pd.testing.assert_frame_equal(by_backtest.per_series.drop(columns=timed),
                                  by_long.per_series.drop(columns=timed))
    with pytest.raises(ValueError, match="refit: not available for a long frame"):
        backtest(models, df, H, start=-48, refit=24)
    mixed = {**models, "wide": NaiveForecaster(H, "seasonal", season=24, targets=["y"],
                                               time_col="ds")}
    with pytest.raises(ValueError, match="same id_col"):
        backtest(mixed, df, H, start=-48)


@pytest.mark.parametrize("name", GLOBAL)
def test_a_global_fit_reports_its_one_training_run(name, tmp_path):
    _, model, _ = fitted_model(name)
    summary = model.fit_summary_
    assert summary["n_series"] == len(SERIES)
    assert summary["epochs"] >= 1
    model.save(tmp_path / name)
    assert type(model).load(tmp_path / name).fit_summary_ == summary


def test_integer_ids_come_back_as_integers_and_merge_with_the_input(tmp_path):
    df = panel()
    df["unique_id"] = df["unique_id"].map({"a": 101, "b": 7, "c": 55})
    model = MODELS["naive"](targets=["y"], **LONG).fit(df)
    forecast = model.predict()
    assert forecast["unique_id"].dtype == df["unique_id"].dtype
    joined = forecast.merge(df[["unique_id"]].drop_duplicates(), on="unique_id")
    assert len(joined) == len(forecast)
    model.save(tmp_path / "m")
    pd.testing.assert_frame_equal(type(model).load(tmp_path / "m").predict(), forecast)
