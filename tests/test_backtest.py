"""Rolling-origin backtests: exact window counts, no leakage, streaming = re-encoding, refits."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import StandardScaler
from tolerance import assert_close

from txl_ts import TXLForecaster
from txl_ts.backtest import backtest, count_windows
from txl_ts.baselines import NaiveForecaster
from txl_ts.seasonality import season_from_freq

TINY = dict(patch_len=8, stride=4, d_model=16, n_heads=2, n_layers=1, d_ff=32, segment_len=4,
            mem_len=8, n_segments=2, max_epochs=1, trainer_kwargs={"enable_progress_bar": False})


def frame(n: int = 120, n_cols: int = 2, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    cols = {f"x{j}": 5 + np.sin(2 * np.pi * t / 12 + j) + 0.3 * rng.standard_normal(n)
            for j in range(n_cols)}
    return pd.DataFrame(cols, index=pd.date_range("2024-01-01", periods=n, freq="h"))


def brute_force_cutoffs(start: int, end: int, horizon: int, stride: int) -> list[int]:
    return [c for c in range(start - 1, end, stride) if c + horizon <= end - 1]


@pytest.fixture(scope="module")
def tiny_txl():
    df = frame(200)
    return TXLForecaster(horizon=6, random_state=0, **TINY).fit(df[:140]), df


# ---- window counts ------------------------------------------------------------------------
@pytest.mark.parametrize("start,end,horizon,stride,expected", [
    (40, 100, 10, 1, 51), (40, 100, 10, 7, 8), (40, 50, 10, 1, 1), (40, None, 5, 3, 26),
    (11520, 14400, 96, 1, 2785), (11520, 14400, 720, 1, 2161),
])
def test_window_count_examples(start, end, horizon, stride, expected):
    end_ = 120 if end is None else end
    assert count_windows(start, end_, horizon, stride) == expected
    assert len(brute_force_cutoffs(start, end_, horizon, stride)) == expected
    if end_ <= 120:
        res = backtest({"n": NaiveForecaster(horizon=horizon)}, frame(), horizon, start, end,
                       stride=stride)
        assert res.n_windows == expected == res.metrics.loc["n", "n_windows"]


@settings(max_examples=40, deadline=None)
@given(start=st.integers(3, 80), length=st.integers(1, 60), horizon=st.integers(1, 12),
       stride=st.integers(1, 9), refit=st.one_of(st.none(), st.integers(1, 5)))
def test_window_count_property(start, length, horizon, stride, refit):
    df = frame(150)
    end = min(150, start + length)
    expected = brute_force_cutoffs(start, end, horizon, stride)
    model = NaiveForecaster(horizon=horizon)
    if not expected:
        with pytest.raises(ValueError, match="no window"):
            backtest({"n": model}, df, horizon, start, end, stride=stride, refit=refit)
        return
    res = backtest({"n": model}, df, horizon, start, end, stride=stride, refit=refit)
    assert res.n_windows == len(expected)
    assert res.cutoffs.tolist() == expected
    long = res.forecasts
    assert len(long) == len(expected) * horizon * df.shape[1]
    # every scored timestamp is inside the span and after its cutoff
    assert long["timestamp"].min() >= df.index[start]
    assert long["timestamp"].max() <= df.index[end - 1]
    assert (long["timestamp"] > long["cutoff"]).all()
    # the actuals are the frame's values at those timestamps
    lookup = df.stack()
    keys = list(zip(long["timestamp"], long["column"].astype(str), strict=True))
    actual = lookup.loc[keys].to_numpy()
    np.testing.assert_array_equal(long["y"].to_numpy(), actual)


def test_no_window_and_bad_arguments():
    df, naive = frame(), {"n": NaiveForecaster(horizon=5)}
    with pytest.raises(ValueError, match="no window"):
        backtest(naive, df, 5, start=118)
    with pytest.raises(ValueError, match="train_size"):
        backtest(naive, df, 5, start=50, window="sliding")
    with pytest.raises(ValueError, match="window must be"):
        backtest(naive, df, 5, start=50, window="rolling")
    with pytest.raises(TypeError, match="dict"):
        backtest([NaiveForecaster()], df, 5, start=50)
    with pytest.raises(ValueError, match="refit"):
        backtest(naive, df, 5, start=50, refit=0)
    with pytest.raises(ValueError, match="train_end"):
        backtest(naive, df, 5, start=50, train_end=60)


def test_timestamps_for_start_and_end_and_caller_frame_untouched():
    df = frame()
    before = df.copy()
    by_row = backtest({"n": NaiveForecaster(horizon=4)}, df, 4, start=60, end=100)
    by_time = backtest({"n": NaiveForecaster(horizon=4)}, df, 4, start=df.index[60],
                       end=df.index[99])
    assert by_row.n_windows == by_time.n_windows == 37
    pd.testing.assert_frame_equal(by_row.forecasts, by_time.forecasts)
    pd.testing.assert_frame_equal(df, before)


# ---- metrics ------------------------------------------------------------------------------
def test_metrics_match_the_long_forecasts():
    df = frame(150, n_cols=3)
    res = backtest({"last": NaiveForecaster(horizon=6),
                    "seasonal": NaiveForecaster(horizon=6, method="seasonal")},
                   df, 6, start=100, train_end=80, stride=2, mase_lag=12)
    scaler = StandardScaler().fit(df.iloc[:80])
    train = df.iloc[:80].to_numpy()
    mase_scale = np.abs(train[12:] - train[:-12]).mean(axis=0)
    long = res.forecasts
    for name, group in long.groupby("model"):
        col = group["column"].cat.codes.to_numpy()
        err = group["y_hat"].to_numpy() - group["y"].to_numpy()
        scaled = err / scaler.scale_[col]
        row = res.metrics.loc[name]
        n = len(err)  # each metric is a mean over every forecast value, summed in another order
        assert_close(row["mse"], np.mean(scaled**2), np.float64, ops=n)
        assert_close(row["mae"], np.mean(np.abs(scaled)), np.float64, ops=n)
        assert_close(row["mse_orig"], np.mean(err**2), np.float64, ops=n)
        denom = np.abs(group["y"]) + np.abs(group["y_hat"])
        assert_close(row["smape"], 100 * np.mean(2 * np.abs(err) / denom), np.float64, ops=n)
        per_col = [np.abs(err[col == j]).mean() / mase_scale[j] for j in range(3)]
        assert_close(row["mase"], np.mean(per_col), np.float64, ops=n)
    assert res.mase_lag == 12
    # on a 12-periodic series the seasonal naive forecast wins
    assert res.metrics.loc["seasonal", "mse"] < res.metrics.loc["last", "mse"]


def test_season_from_frequency():
    assert season_from_freq(pd.tseries.frequencies.to_offset("h")) == 24
    assert season_from_freq(pd.tseries.frequencies.to_offset("15min")) == 96
    assert season_from_freq(pd.tseries.frequencies.to_offset("D")) == 7
    assert season_from_freq(pd.tseries.frequencies.to_offset("W")) == 52
    assert season_from_freq(pd.tseries.frequencies.to_offset("MS")) == 12
    with pytest.raises(ValueError, match="season="):
        season_from_freq(pd.tseries.frequencies.to_offset("7h"))


def test_naive_rolling_equals_predict():
    df = frame()
    for method in ("last", "seasonal"):
        model = NaiveForecaster(horizon=30, method=method).fit(df[:50])
        cutoffs = np.arange(30, 119)
        fast = model.rolling_forecasts(df, cutoffs)
        for i, c in enumerate(cutoffs[::11]):
            slow = model.predict(history=df.iloc[: c + 1]).to_numpy()
            assert_close(fast[i * 11], slow, np.float64)
    with pytest.raises(ValueError, match="method"):
        NaiveForecaster(method="mean").fit(df)


# ---- leakage ------------------------------------------------------------------------------
def perturbed_after(df: pd.DataFrame, t: int) -> pd.DataFrame:
    out = df.copy()
    out.iloc[t + 1 :] = out.iloc[t + 1 :] * -3.0 + 50.0
    return out


def check_no_leakage(models, df, t, **kwargs):
    a = backtest(models, df, 6, **kwargs)
    b = backtest(models, perturbed_after(df, t), 6, **kwargs)
    known = a.cutoffs <= t
    assert known.any() and (~known).any()
    for name in models:
        pa, pb = a.predictions[name], b.predictions[name]
        assert_close(pa[known], pb[known], np.float64)  # every model here predicts in float64
        # the test has teeth: forecasts made after t do see the change
        assert np.abs(pa[~known] - pb[~known]).max() > 1.0


@pytest.mark.parametrize("refit", [None, 3])
def test_no_leakage_naive(refit):
    models = {"last": NaiveForecaster(horizon=6),
              "seasonal": NaiveForecaster(horizon=6, method="seasonal", season=12)}
    check_no_leakage(models, frame(150), 110, start=100, refit=refit)


def test_no_leakage_txl(tiny_txl):
    model, df = tiny_txl
    check_no_leakage({"txl": model}, df, 170, start=150)


# ---- streaming TXL equals re-encoding -----------------------------------------------------
def test_txl_backtest_streaming_equals_reencoding(tiny_txl):
    model, df = tiny_txl
    res = backtest({"txl": model}, df, 6, start=150, end=190, stride=5, train_end=140)
    assert res.models["txl"] is model  # a fitted model is used as it is
    assert res.metrics.loc["txl", "n_fits"] == 0
    for i, c in enumerate(res.cutoffs):
        reencoded = model.predict(history=df.iloc[: c + 1]).to_numpy()
        assert_close(res.predictions["txl"][i], reencoded, np.float64)


# ---- fitting and refitting ----------------------------------------------------------------
class RecordingNaive(NaiveForecaster):
    """Records the rows every fit saw (clones share the class-level log)."""

    log: list = []

    def fit(self, df, validation_data=None):
        RecordingNaive.log.append((df.index[0], df.index[-1], validation_data is not None))
        return super().fit(df, validation_data)


@pytest.mark.parametrize("window,train_size", [("expanding", None), ("sliding", 30)])
def test_refit_every_k_origins(window, train_size):
    df = frame(150)
    RecordingNaive.log = []
    res = backtest({"r": RecordingNaive(horizon=5)}, df, 5, start=100, stride=2, refit=4,
                   window=window, train_size=train_size)
    n = res.n_windows
    assert n == count_windows(100, 150, 5, 2) == 23
    assert res.metrics.loc["r", "n_fits"] == len(RecordingNaive.log) == -(-n // 4)
    block_starts = res.cutoffs[::4]
    for (first, last, has_valid), c in zip(RecordingNaive.log, block_starts, strict=True):
        assert last == df.index[c]  # refitted on the data up to the block's first cutoff
        assert first == (df.index[0] if window == "expanding" else df.index[c + 1 - train_size])
        assert not has_valid
    assert res.models["r"].history_index_[-1] == df.index[block_starts[-1]]
    # naive forecasts do not depend on the fit, so refitting changes nothing: this checks the
    # alignment of the block-wise (and sliced, for sliding windows) forecasts
    once = backtest({"r": NaiveForecaster(horizon=5)}, df, 5, start=100, stride=2)
    assert_close(res.predictions["r"], once.predictions["r"], np.float64)


def test_single_fit_uses_train_part_and_validation():
    df = frame(150)
    RecordingNaive.log = []
    model = RecordingNaive(horizon=5)
    res = backtest({"r": model}, df, 5, start=110, train_end=90)
    assert RecordingNaive.log == [(df.index[0], df.index[89], True)]
    assert not hasattr(model, "last_")  # the caller's model is cloned, not fitted in place
    assert res.models["r"].history_index_[-1] == df.index[109]  # validation rows absorbed
    sliding = backtest({"r": RecordingNaive(horizon=5)}, df, 5, start=110, train_end=90,
                       window="sliding", train_size=40)
    assert RecordingNaive.log[-1] == (df.index[50], df.index[89], True)
    assert sliding.scaler.n_samples_seen_ == 40


def test_txl_refit_clones(tiny_txl):
    model, df = tiny_txl
    res = backtest({"txl": model}, df, 6, start=170, end=190, stride=5, refit=2,
                   window="sliding", train_size=120)
    assert res.n_windows == 3 and res.metrics.loc["txl", "n_fits"] == 2
    assert res.models["txl"] is not model
    assert res.models["txl"].fit_summary_["n_train_rows"] + \
        res.models["txl"].fit_summary_["n_val_rows"] == 120


# ---- covariates -----------------------------------------------------------------------------
def covariate_frame(n: int = 160, seed: int = 1) -> pd.DataFrame:
    """Hourly y driven by a future-known temperature, with a past-only meter beside it."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    temp = np.cumsum(0.3 * rng.standard_normal(n))
    meter = rng.standard_normal(n)
    y = 2 * temp + 0.5 * np.sin(2 * np.pi * t / 24) + 0.05 * rng.standard_normal(n)
    return pd.DataFrame({"y": y, "temp": temp, "meter": meter},
                        index=pd.date_range("2024-01-01", periods=n, freq="h"))


COVARIATE_ROLES = dict(future_covariates=["temp"], past_covariates=["meter"], calendar="auto")


def tiny_dlinear(horizon: int = 4, **roles):
    from txl_ts.baselines import DLinearForecaster

    return DLinearForecaster(horizon=horizon, lookback=24, max_epochs=2, random_state=0,
                             trainer_kwargs={"enable_progress_bar": False}, **roles)


@pytest.mark.filterwarnings("ignore:model 'dlinear' has:UserWarning")  # 2 epochs: untrained
def test_backtest_with_covariates_equals_a_predict_loop():
    """Each rolling forecast is `predict(history=df[:c + 1], future=df[c + 1 : c + 1 + H])`:
    the frame's own future covariates are the known future, and only the target is scored."""
    df = covariate_frame()
    models = {"dlinear": tiny_dlinear(**COVARIATE_ROLES),
              "naive": NaiveForecaster(horizon=4, **COVARIATE_ROLES)}
    res = backtest(models, df, 4, start=130, train_end=110, stride=3, coverage=0.8)
    assert res.columns == ["y"] and res.y.shape == (res.n_windows, 4, 1)
    assert_close(res.scaler.mean_, np.array([df["y"].iloc[:110].mean()]), np.float64, ops=110)
    for name, model in res.models.items():
        for i, c in enumerate(res.cutoffs):
            expected = model.predict(history=df.iloc[: c + 1],
                                     future=df.iloc[c + 1 : c + 1 + 4]).to_numpy()
            # DLinear computes in float32, batched here against one window there
            assert_close(res.predictions[name][i], expected, np.float32, ops=24)
    long = res.forecasts  # per-window intervals still come with the forecasts
    assert set(long["column"]) == {"y"}
    assert (long["lower_80"] <= long["y_hat"]).all() and (long["y_hat"] <= long["upper_80"]).all()
    assert (long["upper_80"] > long["lower_80"]).any()


def test_covariate_columns_are_never_scored():
    df = covariate_frame()
    with_covariates = backtest({"n": NaiveForecaster(horizon=4, **COVARIATE_ROLES)}, df, 4,
                               start=120)
    targets_only = backtest({"n": NaiveForecaster(horizon=4)}, df[["y"]], 4, start=120)
    scores = ["mse", "mae", "mse_orig", "mae_orig", "smape", "mase", "mse_vs_snaive"]
    pd.testing.assert_frame_equal(with_covariates.metrics[scores],
                                  targets_only.metrics[scores])
    # explicit targets ignore every other column too
    explicit = backtest({"n": NaiveForecaster(horizon=4, targets=["y"])}, df, 4, start=120)
    pd.testing.assert_frame_equal(explicit.metrics[scores], targets_only.metrics[scores])


def test_models_must_agree_on_the_targets():
    df = covariate_frame()
    with pytest.raises(ValueError, match="forecast different columns"):
        backtest({"a": NaiveForecaster(horizon=4, future_covariates=["temp"],
                                       past_covariates=["meter"]),
                  "b": NaiveForecaster(horizon=4)}, df, 4, start=120)


def test_longer_model_horizon_reads_future_covariates_beyond_the_scored_steps():
    df = covariate_frame()
    model = NaiveForecaster(horizon=8, future_covariates=["temp"], targets=["y"])
    res = backtest({"n": model}, df, 4, start=120, end=152)  # 8 rows left after the last cutoff
    assert res.n_windows == 29
    with pytest.raises(ValueError, match="future covariates over its whole horizon"):
        backtest({"n": model}, df, 4, start=120)  # the last cutoff has only 4 rows after it


@pytest.mark.parametrize("window,train_size", [("expanding", None), ("sliding", 60)])
def test_refits_with_future_covariates_forecast_as_one_fit(window, train_size):
    """Refitted blocks get their horizon's covariate rows too (naive forecasts do not depend
    on the fit, so every block must give the single fit's forecasts)."""
    df = covariate_frame()
    model = NaiveForecaster(horizon=4, targets=["y"], future_covariates=["temp"])
    once = backtest({"n": model}, df, 4, start=120, stride=2)
    blocks = backtest({"n": model}, df, 4, start=120, stride=2, refit=3, window=window,
                      train_size=train_size)
    assert blocks.metrics.loc["n", "n_fits"] == -(-once.n_windows // 3)
    assert_close(blocks.predictions["n"], once.predictions["n"], np.float64)
