"""End-to-end behaviour of TXLForecaster: learning, memory, persistence, sklearn conventions."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from tolerance import assert_close

from txl_ts import TXLForecaster

QUIET = {"enable_progress_bar": False}
TINY = dict(horizon=8, patch_len=8, stride=4, d_model=16, n_heads=2, n_layers=1, d_ff=32,
            segment_len=4, mem_len=8, n_segments=2, max_epochs=2, trainer_kwargs=QUIET)


def seasonal_frame(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame(
        {
            "load": 10 + 3 * np.sin(2 * np.pi * t / 24) + 0.3 * rng.normal(size=n),
            "temp": -2 + np.cos(2 * np.pi * t / 12) + 0.2 * rng.normal(size=n),
        },
        index=pd.date_range("2022-01-01", periods=n, freq="h", name="time"),
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[TXLForecaster, pd.DataFrame]:
    df = seasonal_frame()
    return TXLForecaster(**TINY).fit(df), df


def test_learns_a_seasonal_series_far_better_than_repeating_the_last_value():
    df = seasonal_frame(n=2400)
    train, test = df.iloc[:2000], df
    model = TXLForecaster(horizon=24, patch_len=8, stride=4, d_model=32, n_heads=2,
                          n_layers=2, d_ff=64, segment_len=8, mem_len=16, n_segments=2,
                          max_epochs=8, lr=3e-3, trainer_kwargs=QUIET).fit(train)
    cutoffs = np.arange(len(train) - 1, len(df) - 24, 7)
    forecasts = model.rolling_forecasts(test, cutoffs)
    actual = np.stack([df.to_numpy()[c + 1 : c + 25] for c in cutoffs])
    repeat_last = np.stack([np.repeat(df.to_numpy()[c : c + 1], 24, axis=0) for c in cutoffs])
    scale = df.iloc[:2000].std().to_numpy()
    mse_model = (((forecasts - actual) / scale) ** 2).mean()
    mse_naive = (((repeat_last - actual) / scale) ** 2).mean()
    assert mse_model < 0.25 * mse_naive, (mse_model, mse_naive)


def copy_task(block: int = 24, n_episodes: int = 150, seed: int = 0) -> pd.DataFrame:
    """Episodes [a, a] of a fresh random shape a: the second copy is predictable only from
    the first, which lies before the current segment."""
    rng = np.random.default_rng(seed)
    shapes = [np.convolve(rng.normal(size=block + 3), np.ones(4) / 4, "valid")[:block] * 2
              for _ in range(n_episodes)]
    y = np.concatenate([np.concatenate([a, a]) for a in shapes])
    return pd.DataFrame({"y": y}, index=pd.date_range("2021-01-01", periods=len(y), freq="h"))


@pytest.mark.slow
def test_memory_beats_no_memory_when_the_signal_lies_before_the_segment():
    block, horizon = 24, 8
    df = copy_task(block)
    n_train = len(df) - 2 * block * 20
    cutoffs = np.arange(n_train - 1, len(df) - horizon - 1)
    offset = (cutoffs + 1) % (2 * block)
    second_copy = (offset >= block) & (offset <= 2 * block - horizon)
    actual = np.stack([df["y"].to_numpy()[c + 1 : c + 1 + horizon] for c in cutoffs])
    errors = {}
    for mem_len in (6, 0):  # a segment is 2 tokens = 16 rows; the copy is 24 rows back,
        # beyond the linear path's lookback of 8 rows (normalised over 2 episodes)
        model = TXLForecaster(
            horizon=horizon, patch_len=8, stride=8, lookback=8, norm_window=96, d_model=32,
            n_heads=2, n_layers=1,
            d_ff=64, segment_len=2, mem_len=mem_len, n_segments=4, max_epochs=15, lr=1e-2,
            dropout=0.0, val_size=0, random_state=1, trainer_kwargs=QUIET,
        ).fit(df.iloc[:n_train])
        forecasts = model.rolling_forecasts(df, cutoffs)[:, :, 0]
        errors[mem_len] = ((forecasts - actual)[second_copy] ** 2).mean()
    assert errors[6] < 0.7 * errors[0], errors


def test_predict_returns_the_next_horizon_timestamps(fitted):
    model, df = fitted
    forecast = model.predict()
    assert list(forecast.columns) == ["load", "temp"]
    expected = pd.date_range(df.index[-1] + pd.Timedelta("1h"), periods=8, freq="h")
    assert forecast.index.equals(expected)
    assert np.isfinite(forecast.to_numpy()).all()


def test_predict_after_another_history_without_refit(fitted):
    model, df = fitted
    other = seasonal_frame(n=300, seed=5)
    other.index = pd.date_range("2030-05-01", periods=300, freq="h")
    forecast = model.predict(history=other)
    assert forecast.index[0] == pd.Timestamp("2030-05-13 12:00")
    assert not np.allclose(forecast.to_numpy(), model.predict().to_numpy())
    # the fitted history, given explicitly, reproduces predict()
    assert_close(model.predict(history=df), model.predict(), torch.float64)  # inference's dtype


def test_predict_does_not_change_the_state(fitted):
    model, df = fitted
    before = model.predict()
    model.predict(history=df.iloc[:500])
    pd.testing.assert_frame_equal(model.predict(), before)


def test_save_load_round_trip_gives_identical_predictions(fitted, tmp_path):
    model, df = fitted
    model.save(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["calibration.json", "config.json", "weights.safetensors"]
    loaded = TXLForecaster.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    history = df.iloc[-400:]
    pd.testing.assert_frame_equal(loaded.predict(history=history), model.predict(history=history))
    assert loaded.get_params() == model.get_params()


def test_load_refuses_another_class(fitted, tmp_path):
    from txl_ts.base import BaseForecaster

    class Other(BaseForecaster):
        pass

    fitted[0].save(tmp_path / "m")
    with pytest.raises(ValueError, match="TXLForecaster"):
        Other.load(tmp_path / "m")


def test_sklearn_conventions(fitted):
    model, _ = fitted
    params = model.get_params()
    assert params["horizon"] == 8 and params["mem_len"] == 8
    copy = clone(model)
    assert copy.get_params() == params
    assert not hasattr(copy, "net_")
    with pytest.raises(NotFittedError):
        copy.predict()
    copy.set_params(mem_len=0, horizon=4)
    assert copy.mem_len == 0 and copy.horizon == 4


def test_same_seed_same_model():
    df = seasonal_frame(n=400)
    a = TXLForecaster(**TINY).fit(df).predict()
    b = TXLForecaster(**TINY).fit(df).predict()
    pd.testing.assert_frame_equal(a, b)


def test_time_col_targets_and_no_mutation():
    df = seasonal_frame(n=400).reset_index()
    df["station"] = "A"
    snapshot = df.copy(deep=True)
    model = TXLForecaster(**{**TINY, "targets": ["load"], "time_col": "time"}).fit(df)
    forecast = model.predict()
    pd.testing.assert_frame_equal(df, snapshot)
    assert list(forecast.columns) == ["load"]
    assert forecast.index[0] == df["time"].iloc[-1] + pd.Timedelta("1h")


def test_daily_frequency_is_inferred_and_continued():
    df = seasonal_frame(n=300)
    df.index = pd.date_range("2000-01-01", periods=300, freq="D")
    forecast = TXLForecaster(**TINY).fit(df).predict()
    assert forecast.index[0] == pd.Timestamp("2000-10-27")
    assert pd.infer_freq(forecast.index) == "D"


@pytest.mark.parametrize("extra", [{"stateful": True}, {"burn_in": 1}, {"mem_len": 0},
                                   {"val_size": 0}, {"val_size": 100}, {"loss": "mse"},
                                   {"loss": "mae"}])
def test_training_modes_fit_and_forecast(extra):
    df = seasonal_frame(n=500)
    model = TXLForecaster(**{**TINY, **extra}).fit(df)
    assert np.isfinite(model.predict().to_numpy()).all()
    assert model.fit_summary_["epochs"] >= 1


def test_validation_data_is_used_for_early_stopping_and_history():
    df = seasonal_frame(n=600)
    model = TXLForecaster(**TINY).fit(df.iloc[:450], validation_data=df.iloc[450:])
    assert model.fit_summary_["n_val_rows"] == 150
    summary = model.fit_summary_
    assert summary["best_val_loss"] is not None
    # the ridge warm start is validated first and never beaten by what training keeps
    assert summary["best_val_loss"] <= summary["start_val_loss"]
    assert isinstance(summary["kept_start"], bool)
    assert model.predict().index[0] == df.index[-1] + pd.Timedelta("1h")
    with pytest.raises(ValueError, match="must continue the timeline"):
        TXLForecaster(**TINY).fit(df.iloc[:450], validation_data=df.iloc[460:])


def test_diverging_training_stops_with_a_clear_error():
    from txl_ts import TrainingDivergedError

    df = seasonal_frame(n=400)
    with pytest.raises(TrainingDivergedError, match="loss became"):
        TXLForecaster(**{**TINY, "lr": 1e30, "max_epochs": 5}).fit(df)


def test_save_with_unstorable_trainer_kwargs_warns_and_still_round_trips(tmp_path):
    from lightning.pytorch.callbacks import Callback

    df = seasonal_frame(n=300)
    kwargs = {**QUIET, "callbacks": [Callback()]}
    model = TXLForecaster(**{**TINY, "trainer_kwargs": kwargs, "max_epochs": 1}).fit(df)
    with pytest.warns(UserWarning, match="trainer_kwargs"):
        model.save(tmp_path / "m")
    loaded = TXLForecaster.load(tmp_path / "m")
    assert loaded.trainer_kwargs is None
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())


def test_default_txl_is_never_far_worse_than_the_seasonal_naive():
    """A smooth day-periodic hourly series with a slow trend: repeating yesterday is nearly
    exact, and the default TXL must stay within 1.2x of it (issue: never far worse)."""
    from txl_ts.baselines.naive import NaiveForecaster

    n, n_fit = 24 * 60, 24 * 45
    t = np.arange(n)
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"temp": 15 + 4 * np.sin(2 * np.pi * t / 24) + 1.5 * np.sin(4 * np.pi * t / 24 + 1)
         + 0.004 * t + 0.05 * rng.normal(size=n)},
        index=pd.date_range("2023-05-01", periods=n, freq="h"),
    )
    model = TXLForecaster(horizon=24, max_epochs=2, trainer_kwargs=QUIET).fit(df.iloc[:n_fit])
    assert (model.patch_len_, model.stride_, model.season_) == (24, 12, 24)  # half stride
    cutoffs = np.arange(n_fit - 1, n - 24)
    actual = np.stack([df.to_numpy()[c + 1 : c + 25] for c in cutoffs])
    naive = NaiveForecaster(24, "seasonal").fit(df.iloc[:n_fit]).rolling_forecasts(df, cutoffs)
    mse_txl = ((model.rolling_forecasts(df, cutoffs) - actual) ** 2).mean()
    mse_naive = ((naive - actual) ** 2).mean()
    assert mse_txl <= 1.2 * mse_naive, (mse_txl, mse_naive)


def test_default_txl_beats_both_seasonal_naives_on_short_half_hourly_load():
    """Ten weeks of half-hourly demand with a daily shape, quieter weekends, a slow trend and
    AR noise. Repeating yesterday fails on every Saturday and Monday; repeating last week is
    the one-line forecast to beat. The default TXL (patch 48, a two-week lookback) must beat
    both: its ridge warm start once fitted on padded lookbacks and was 2x worse than last
    week's values here (the issue measured 3.2x the seasonal naive on real demand)."""
    from benchmarks.common import halfhourly_load_frame
    from txl_ts.baselines.naive import NaiveForecaster

    n_days, fit_days = 84, 70
    n = 48 * n_days
    df = halfhourly_load_frame(n_days)
    n_fit = 48 * fit_days
    model = TXLForecaster(horizon=48, max_epochs=2, trainer_kwargs=QUIET).fit(df.iloc[:n_fit])
    assert (model.patch_len_, model.season_, model.lookback_) == (48, 48, 14 * 48)
    cutoffs = np.arange(n_fit - 1, n - 48)
    actual = np.stack([df.to_numpy()[c + 1 : c + 49] for c in cutoffs])
    mse_txl = ((model.rolling_forecasts(df, cutoffs) - actual) ** 2).mean()
    for season in (48, 7 * 48):
        naive = NaiveForecaster(48, "seasonal", season=season).fit(df.iloc[:n_fit])
        mse_naive = ((naive.rolling_forecasts(df, cutoffs) - actual) ** 2).mean()
        assert mse_txl < mse_naive, (season, mse_txl, mse_naive)


def test_auto_parameters_resolve_at_fit_without_touching_init_params():
    df = seasonal_frame(n=400)
    df.index = pd.date_range("2000-01-01", periods=400, freq="D")
    model = TXLForecaster(**{**TINY, "patch_len": "auto", "stride": None}).fit(df)
    assert model.patch_len == "auto" and model.stride is None and model.lookback == "auto"
    # horizon 8 is at most two patches of 7: half a patch (`default_stride`)
    assert (model.season_, model.patch_len_, model.stride_) == (7, 7, 3)
    assert model.lookback_ == 14 * 7 and model.norm_window_ == model.lookback_
    half_hourly = seasonal_frame(n=300)
    half_hourly.index = pd.date_range("2000-01-01", periods=300, freq="30min")
    assert TXLForecaster(**{**TINY, "patch_len": "auto", "stride": None}).fit(
        half_hourly).patch_len_ == 48


@pytest.mark.parametrize("horizon, stride", [(96, 24), (49, 24), (48, 12), (24, 12), (6, 12)])
def test_default_stride_halves_when_the_horizon_is_at_most_two_patches(horizon, stride):
    df = seasonal_frame(n=24 * 30)
    df.index = pd.date_range("2000-01-01", periods=len(df), freq="h")
    params = {**TINY, "horizon": horizon, "patch_len": "auto", "stride": None, "max_epochs": 1}
    model = TXLForecaster(**params).fit(df)
    assert (model.patch_len_, model.stride_) == (24, stride)
    assert model.stride is None  # the constructor's value is kept
    assert TXLForecaster(**{**params, "stride": 24}).fit(df).stride_ == 24


def test_the_fitted_stride_is_saved_and_older_files_keep_theirs(tmp_path):
    """`stride=None` resolved to the whole patch before `default_stride` halved it at short
    horizons: a file is loaded with the stride it was fitted with, whichever version wrote it."""
    import json

    df = seasonal_frame(n=24 * 30)
    df.index = pd.date_range("2000-01-01", periods=len(df), freq="h")
    params = {**TINY, "horizon": 12, "patch_len": 24, "stride": None, "max_epochs": 1}
    model = TXLForecaster(**params).fit(df)
    path = model.save(tmp_path / "new") or tmp_path / "new"
    assert json.loads((path / "config.json").read_text())["extra"]["stride"] == 12
    loaded = TXLForecaster.load(path)
    assert loaded.stride_ == 12
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())

    # as the earlier version wrote it: stride=None meant 24 here, and no extra.stride
    old = TXLForecaster(**{**params, "stride": 24}).fit(df)
    path = old.save(tmp_path / "old") or tmp_path / "old"
    config = json.loads((path / "config.json").read_text())
    config["params"]["stride"] = None
    del config["extra"]["stride"]
    del config["checksums"]  # nor any checksums
    (path / "config.json").write_text(json.dumps(config))
    loaded = TXLForecaster.load(path)
    assert loaded.stride is None and loaded.stride_ == 24
    pd.testing.assert_frame_equal(loaded.predict(), old.predict())

    for bad, message in ((8, "contradicts"), ("12", "must be an integer")):
        path = model.save(tmp_path / f"bad{bad}") or tmp_path / f"bad{bad}"
        config = json.loads((path / "config.json").read_text())
        config["params"]["stride"] = 12 if bad == 8 else None
        config["extra"]["stride"] = bad
        (path / "config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match=f"config.json.*{message}"):
            TXLForecaster.load(path)


def test_ridge_prior_is_repeat_last_where_a_season_back_says_little():
    """Quarterly random walks: last year's value is a poor forecast, the last value a good
    one. The warm start's prior follows validation (repeat-last), and the default TXL is then
    no worse than repeating the last value on held-out quarters; on a clearly seasonal
    series the seasonal prior stays."""
    from txl_ts.baselines.naive import NaiveForecaster

    rng = np.random.default_rng(3)
    n, n_fit, horizon = 240, 200, 4
    walk = pd.DataFrame(np.cumsum(rng.normal(size=(n, 3)), axis=0), columns=["a", "b", "c"],
                        index=pd.date_range("1960-01-01", periods=n, freq="QS"))
    model = TXLForecaster(horizon=horizon, max_epochs=2, trainer_kwargs=QUIET)
    model.fit(walk.iloc[:n_fit])
    assert model.season_ == 4 and model.fit_summary_["linear_init_prior"] == "last"
    cutoffs = np.arange(n_fit - 1, n - horizon)
    actual = np.stack([walk.to_numpy()[c + 1 : c + 1 + horizon] for c in cutoffs])
    mse = {}
    for name, forecaster in (("txl", model),
                             ("last", NaiveForecaster(horizon).fit(walk.iloc[:n_fit])),
                             ("season", NaiveForecaster(horizon, "seasonal", season=4)
                              .fit(walk.iloc[:n_fit]))):
        mse[name] = ((forecaster.rolling_forecasts(walk, cutoffs) - actual) ** 2).mean()
    assert mse["txl"] <= 1.05 * mse["last"] < mse["season"], mse
    seasonal = TXLForecaster(**TINY).fit(seasonal_frame(n=1200))
    assert seasonal.fit_summary_["linear_init_prior"] == "seasonal"
