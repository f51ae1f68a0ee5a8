"""Conformal prediction intervals and quantiles: ordering, save/load, calibration, backtests."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerance import assert_close

from txl_ts import TXLForecaster
from txl_ts.backtest import backtest
from txl_ts.baselines import ARIMAForecaster, LSTMForecaster, NaiveForecaster
from txl_ts.conformal import (
    ALPHA_GRID,
    COVERAGE_GRID,
    SIGNIFICANT_DIGITS,
    Calibration,
    min_windows,
)

QUIET = {"enable_progress_bar": False}
TINY_TXL = dict(patch_len=8, stride=4, d_model=16, n_heads=2, n_layers=1, d_ff=32,
                segment_len=4, mem_len=8, n_segments=2, max_epochs=1, trainer_kwargs=QUIET)
H = 6


def noisy_seasonal(n: int, sigma: float = 0.5, n_cols: int = 2, seed: int = 0) -> pd.DataFrame:
    """A 24-step cycle plus i.i.d. Gaussian noise of known standard deviation `sigma`."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    values = 3 + np.sin(2 * np.pi * t / 24 + np.arange(n_cols)) + sigma * rng.standard_normal(
        (n, n_cols))
    return pd.DataFrame(values, columns=[f"x{j}" for j in range(n_cols)],
                        index=pd.date_range("2024-01-01", periods=n, freq="h"))


MODELS = {
    "naive": lambda: NaiveForecaster(horizon=H, method="last"),
    "snaive": lambda: NaiveForecaster(horizon=H, method="seasonal"),
    "arima": lambda: ARIMAForecaster(horizon=H, order=(1, 0, 0)),
    "lstm": lambda: LSTMForecaster(horizon=H, lookback=24, hidden_size=8, n_layers=1,
                                   max_epochs=1, trainer_kwargs=QUIET),
    "txl": lambda: TXLForecaster(horizon=H, **TINY_TXL),
}


@pytest.fixture(scope="module")
def fitted():
    df = noisy_seasonal(400)
    return {name: make().fit(df[:300]) for name, make in MODELS.items()}, df


# ---- ordering and containment -------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_intervals_nest_around_the_point_and_quantiles_are_ordered(fitted, name):
    models, df = fitted
    model = models[name]
    for history in (None, df[:350]):
        point = model.predict(history)
        iv = model.predict_interval([0.95, 0.5, 0.8, 0.83], history=history)
        assert iv.index.equals(point.index)
        assert iv.columns.names == ["column", "coverage", "bound"]
        assert list(iv.columns.get_level_values("coverage").unique()) == [0.5, 0.8, 0.83, 0.95]
        for col in model.columns_:
            widths = []
            for c in (0.5, 0.8, 0.83, 0.95):
                lo, hi = iv[(col, c, "lower")], iv[(col, c, "upper")]
                assert (lo <= point[col]).all() and (point[col] <= hi).all()
                widths.append((hi - lo).to_numpy())
            assert (np.diff(np.stack(widths), axis=0) >= 0).all()  # nested in the coverage
        q = model.predict_quantiles([0.9, 0.1, 0.5, 0.025, 0.975, 0.33], history=history)
        assert q.index.equals(point.index)
        assert q.columns.names == ["column", "alpha"]
        for col in model.columns_:
            assert list(q[col].columns) == [0.025, 0.1, 0.33, 0.5, 0.9, 0.975]
            assert (np.diff(q[col].to_numpy(), axis=1) >= 0).all()


@pytest.mark.parametrize("name", list(MODELS))
def test_save_load_gives_identical_intervals(fitted, name, tmp_path):
    models, df = fitted
    model = models[name]
    model.save(tmp_path)
    loaded = type(model).load(tmp_path)
    for history in (None, df[:350]):
        pd.testing.assert_frame_equal(loaded.predict_interval([0.8, 0.95], history),
                                      model.predict_interval([0.8, 0.95], history),
                                      check_exact=True)
        pd.testing.assert_frame_equal(loaded.predict_quantiles([0.1, 0.5, 0.9], history),
                                      model.predict_quantiles([0.1, 0.5, 0.9], history),
                                      check_exact=True)
    json.loads((tmp_path / "calibration.json").read_text())  # strict JSON: no NaN / Infinity


def test_calibration_uses_every_window_of_the_validation_tail(fitted):
    models, _ = fitted
    # naive / ARIMA: the last 20% of the fit frame; neural: the val_size tail (also 20%)
    for model in models.values():
        assert model.calibration_.tail_rows == 60
        assert model.calibration_.n_windows == 60 - H + 1
    df = noisy_seasonal(400)
    m = NaiveForecaster(horizon=H, method="seasonal").fit(df[:300], validation_data=df[300:380])
    assert (m.calibration_.tail_rows, m.calibration_.n_windows) == (80, 80 - H + 1)


def test_time_col_frames_calibrate_too():
    df = noisy_seasonal(200).rename_axis("date").reset_index()
    m = NaiveForecaster(horizon=H, method="seasonal", time_col="date").fit(df)
    iv = m.predict_interval(0.8)
    assert iv.index[0] == df["date"].iloc[-1] + pd.Timedelta(hours=1)
    assert m.calibration_.n_windows == 40 - H + 1


# ---- calibration on known noise -----------------------------------------------------------
def test_coverage_on_gaussian_noise_matches_the_nominal_level():
    """Seasonal naive on a clean 24-step cycle plus N(0, sigma^2) noise: its residuals are
    N(0, 2 sigma^2), so the 80% half width is 1.2816 * sqrt(2) * sigma and the intervals
    cover about 80% of the test values over many windows."""
    sigma, horizon = 0.5, 12
    df = noisy_seasonal(4000, sigma=sigma, n_cols=3, seed=1)
    model = NaiveForecaster(horizon=horizon, method="seasonal")
    result = backtest({"snaive": model}, df, horizon, start=2000, train_end=1000,
                      coverage=[0.8, 0.95], keep_forecasts=False)
    row = result.metrics.loc["snaive"]
    assert result.n_windows == 1989
    assert 0.75 <= row["coverage_80"] <= 0.85
    assert 0.92 <= row["coverage_95"] <= 0.98
    half = result.half_widths["snaive"]  # (2, H, C) from the 1000-row validation tail
    assert np.allclose(half[0], 1.2816 * math.sqrt(2) * sigma, rtol=0.15)
    assert np.allclose(half[1], 1.96 * math.sqrt(2) * sigma, rtol=0.15)


# ---- backtests ----------------------------------------------------------------------------
def test_backtest_interval_metrics_match_predict_interval(fitted):
    models, df = fitted
    result = backtest({"txl": models["txl"], "snaive": models["snaive"]}, df, H, start=300,
                      coverage=[0.8, 0.95])
    m = result.metrics
    for name in ("txl", "snaive"):
        for tag in ("80", "95"):
            assert 0 <= m.loc[name, f"coverage_{tag}"] <= 1
            assert m.loc[name, f"winkler_{tag}"] >= m.loc[name, f"width_{tag}"] > 0
        assert m.loc[name, "width_95"] > m.loc[name, "width_80"]
        # the interval of window w is predict_interval after the rows known at its cutoff
        w = 17
        cutoff = int(result.cutoffs[w])
        iv = result.models[name].predict_interval([0.8, 0.95], history=df[: cutoff + 1])
        half = result.half_widths[name]
        lower = result.predictions[name][w] - half[1]
        assert_close(iv.xs((0.95, "lower"), axis=1, level=[1, 2]), lower, np.float64)
        y, pred = result.y, result.predictions[name]
        inside = (np.abs(y - pred) <= half[0]).mean()
        assert_close(m.loc[name, "coverage_80"], inside, np.float64, ops=y.size)


def test_backtest_with_refits_scores_each_fit_with_its_own_calibration():
    df = noisy_seasonal(600)
    result = backtest({"s": NaiveForecaster(horizon=H, method="seasonal")}, df, H, start=400,
                      refit=50, coverage=0.9)
    assert result.metrics.loc["s", "n_fits"] == 4
    assert 0.5 < result.metrics.loc["s", "coverage_90"] <= 1


# ---- ARIMA's model-based intervals --------------------------------------------------------
def test_arima_model_intervals(fitted):
    models, df = fitted
    arima = models["arima"]
    for history in (None, df[:350]):
        point = arima.predict(history)
        model_iv = arima.predict_interval([0.8, 0.95], history=history, method="model")
        assert model_iv.columns.equals(arima.predict_interval([0.8, 0.95]).columns)
        for col in arima.columns_:
            lo80, hi80 = model_iv[(col, 0.8, "lower")], model_iv[(col, 0.8, "upper")]
            lo95, hi95 = model_iv[(col, 0.95, "lower")], model_iv[(col, 0.95, "upper")]
            assert (lo95 < lo80).all() and (lo80 < point[col]).all()
            assert (point[col] < hi80).all() and (hi80 < hi95).all()
        q = arima.predict_quantiles([0.1, 0.5, 0.9], history=history, method="model")
        assert_close(q.xs(0.5, axis=1, level=1), point, np.float64)
        # the Gaussian 80% interval is the 10% .. 90% quantile forecast
        assert_close(q.xs(0.1, axis=1, level=1), model_iv.xs((0.8, "lower"), axis=1, level=[1, 2]),
                     np.float64)
    with pytest.raises(ValueError, match="method must be one of"):
        arima.predict_interval(0.8, method="bootstrap")


# ---- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, 0.0, [0.8, 1.0], [], "0.8", True,
                                 float("nan")])
def test_levels_outside_the_open_unit_interval_are_refused(fitted, bad):
    model = fitted[0]["snaive"]
    with pytest.raises(ValueError, match="coverage"):
        model.predict_interval(bad)
    with pytest.raises(ValueError, match="alpha"):
        model.predict_quantiles(bad)
    with pytest.raises(ValueError, match="coverage"):
        backtest({"s": model}, fitted[1], H, start=300, coverage=bad)


def test_levels_beyond_the_stored_grid_are_refused(fitted):
    model = fitted[0]["snaive"]
    with pytest.raises(ValueError, match="above 0.99"):
        model.predict_interval(0.995)
    with pytest.raises(ValueError, match="outside"):
        model.predict_quantiles([0.001, 0.5])


def test_a_short_calibration_tail_names_the_minimum():
    df = noisy_seasonal(300)
    # 20% of 60 rows = 12-row tail: 7 windows at horizon 6 are enough for 80%, not 95%
    m = NaiveForecaster(horizon=H, method="seasonal").fit(df[:60])
    assert m.calibration_.n_windows == 7
    m.predict_interval(0.8)
    with pytest.raises(ValueError, match="at least 19 calibration windows.*tail of at least "
                       "24 rows.*has 7 \\(from"):
        m.predict_interval([0.8, 0.95])
    with pytest.raises(ValueError, match="calibration windows"):
        m.predict_quantiles([0.01, 0.5])
    # no validation tail at all: every level is refused, fit itself still works
    lstm = LSTMForecaster(horizon=H, lookback=24, hidden_size=8, n_layers=1, max_epochs=1,
                          val_size=0, trainer_kwargs=QUIET).fit(df)
    assert lstm.calibration_.n_windows == 0
    with pytest.raises(ValueError, match="at least 4 calibration windows.*has 0 \\(from"):
        lstm.predict_interval(0.8)


# ---- the quantile tables ------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 150), h=st.integers(1, 3), seed=st.integers(0, 10_000))
def test_tables_are_conformal_order_statistics_and_monotone(n, h, seed):
    rng = np.random.default_rng(seed)
    residuals = rng.standard_t(3, size=(n, h, 2)) + rng.normal()
    cal = Calibration.from_residuals(residuals, tail_rows=n + h - 1, horizon=h, n_columns=2)
    abs_sorted = np.sort(np.abs(residuals), axis=0)
    for i, c in enumerate(COVERAGE_GRID):
        k = math.ceil((n + 1) * c - 1e-9)
        if n >= min_windows(c):
            assert k <= n
            # the tables keep SIGNIFICANT_DIGITS digits: one unit in the last of them
            np.testing.assert_allclose(cal.abs_table[i], abs_sorted[k - 1],
                                       rtol=10.0 ** (1 - SIGNIFICANT_DIGITS))
        else:
            assert np.isinf(cal.abs_table[i]).all()
    finite_cov = np.array([c for c in COVERAGE_GRID if n >= min_windows(c)])
    if finite_cov.size:
        probe = np.unique(np.concatenate([finite_cov, np.linspace(0.01, finite_cov[-1], 17)]))
        half = cal.half_widths(probe)
        assert (half >= 0).all() and (np.diff(half, axis=0) >= 0).all()
    finite_alpha = np.array([a for a in ALPHA_GRID if np.isfinite(
        cal.signed_table[ALPHA_GRID.index(a)]).all()])
    if finite_alpha.size:
        probe = np.unique(np.concatenate([finite_alpha, np.linspace(finite_alpha[0],
                                                                    finite_alpha[-1], 17)]))
        assert (np.diff(cal.offsets(probe), axis=0) >= 0).all()
    again = Calibration.from_json(json.loads(json.dumps(cal.to_json())), h, 2)
    np.testing.assert_array_equal(again.abs_table, cal.abs_table)
    np.testing.assert_array_equal(again.signed_table, cal.signed_table)


def test_benchmark_keeps_point_metrics_when_the_validation_split_is_too_short():
    from txl_ts.benchmark import INTERVAL_METRICS, load_protocol, model_entry, run_one

    df, split = load_protocol("ETTh1", rows=400)  # 80 validation rows
    row, error, _ = run_one("snaive", df, split, 24, None)  # 57 windows: both levels
    assert error is None and 0 < row["coverage_80"] <= row["coverage_95"] <= 1
    row, error, _ = run_one("snaive", df, split, 70, None)  # 11 windows: too few for 95%
    assert error is None and row["mse"] > 0
    assert all(row[key] is None for key in INTERVAL_METRICS)
    assert "at least 19 calibration windows" in row["interval_error"]
    assert np.isnan(model_entry([None], [row], [], None)["mean"]["coverage_80"])


def test_corrupt_or_missing_calibration_file_and_older_formats(fitted, tmp_path):
    from txl_ts.persistence import CorruptModelError, MissingModelFileError

    model = fitted[0]["snaive"]
    model.save(tmp_path)
    cal_file, config_file = tmp_path / "calibration.json", tmp_path / "config.json"
    good = cal_file.read_text()
    state = json.loads(good)
    state["abs_table"][0][0][0] = -1.0  # a negative half width
    cal_file.write_text(json.dumps(state))
    with pytest.raises(CorruptModelError, match="calibration.json.*non-negative"):
        NaiveForecaster.load(tmp_path)
    state = json.loads(good)
    state["signed_table"] = state["signed_table"][:3]
    cal_file.write_text(json.dumps(state))
    with pytest.raises(CorruptModelError, match="signed_table has shape"):
        NaiveForecaster.load(tmp_path)
    cal_file.unlink()
    with pytest.raises(MissingModelFileError, match="calibration.json"):
        NaiveForecaster.load(tmp_path)
    # a model saved before intervals (format 2) loads, and says why it has no intervals
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "format_version": 2}))
    old = NaiveForecaster.load(tmp_path)
    pd.testing.assert_frame_equal(old.predict(), model.predict())
    with pytest.raises(ValueError, match="no conformal calibration"):
        old.predict_interval(0.8)


def test_tuple_column_labels_nest_under_the_column_level():
    df = noisy_seasonal(200)
    df.columns = pd.MultiIndex.from_tuples([("load", "a"), ("load", "b")])
    m = NaiveForecaster(horizon=H, method="seasonal").fit(df)
    iv = m.predict_interval(0.8)
    assert list(iv.columns) == [(("load", "a"), 0.8, "lower"), (("load", "a"), 0.8, "upper"),
                                (("load", "b"), 0.8, "lower"), (("load", "b"), 0.8, "upper")]
    point = m.predict()
    assert (iv[(("load", "a"), 0.8, "lower")] <= point[("load", "a")]).all()
