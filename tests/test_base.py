"""The shared estimator API on every model: `predict(horizon=)`, `update` for every model,
consistent reads while another thread updates, time zones in streaming, interval levels
between the calibrated ones, backtest bounds, and bounded parsing in `load`."""

from __future__ import annotations

import copy
import json
import threading
import warnings

import numpy as np
import pandas as pd
import pytest

from txl_ts import TXLForecaster
from txl_ts.backtest import backtest
from txl_ts.baselines import ARIMAForecaster, DLinearForecaster, LSTMForecaster, NaiveForecaster
from txl_ts.conformal import CalibrationError
from txl_ts.persistence import CorruptModelError

QUIET = {"enable_progress_bar": False}
H = 6
FACTORIES = {
    "naive": lambda: NaiveForecaster(H),
    "snaive": lambda: NaiveForecaster(H, "seasonal", season=24),
    "arima": lambda: ARIMAForecaster(H, order=(1, 0, 0), maxiter=10),
    "dlinear": lambda: DLinearForecaster(H, lookback=24, kernel=5, max_epochs=2,
                                         trainer_kwargs=QUIET),
    "lstm": lambda: LSTMForecaster(H, lookback=24, hidden_size=8, n_layers=1, max_epochs=2,
                                   trainer_kwargs=QUIET),
    "txl": lambda: TXLForecaster(H, patch_len=4, stride=4, d_model=8, n_heads=2, n_layers=1,
                                 d_ff=16, segment_len=2, mem_len=2, n_segments=2, max_epochs=2,
                                 trainer_kwargs=QUIET),
}


def frame(n: int = 360, tz: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    t = np.arange(n)
    values = np.column_stack([10 + 4 * np.sin(2 * np.pi * t / 24 + k) + rng.normal(0, .3, n)
                              for k in range(2)])
    return pd.DataFrame(values, columns=["a", "b"],
                        index=pd.date_range("2024-03-01", periods=n, freq="h", tz=tz))


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return frame()


@pytest.fixture(scope="module")
def fitted(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: make().fit(data.iloc[:240]) for name, make in FACTORIES.items()}


def _close(a: np.ndarray, b: np.ndarray) -> None:
    """Equal up to float64 rounding of values of this size (the Kalman filter of ARIMA and
    the float32 networks recompute the same sums, possibly in another order)."""
    scale = max(1.0, float(np.max(np.abs(b))))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e4 * np.finfo(np.float32).eps * scale)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_predict_with_a_shorter_horizon_is_the_first_steps(fitted, data, name):
    model = fitted[name]
    full, history = model.predict(), data.iloc[:250]
    pd.testing.assert_frame_equal(model.predict(horizon=2), full.iloc[:2])
    pd.testing.assert_frame_equal(model.predict(history, horizon=3),
                                  model.predict(history).iloc[:3])
    interval = model.predict_interval(0.8, horizon=4)
    assert interval.index.equals(full.index[:4])
    assert (interval.xs("lower", axis=1, level="bound").to_numpy()
            <= full.iloc[:4].to_numpy()).all()
    quantiles = model.predict_quantiles([0.1, 0.9], horizon=4)
    assert quantiles.shape == (4, 4)
    for bad in (H + 1, 0, 2.5, True):
        with pytest.raises(ValueError, match="horizon"):
            model.predict(horizon=bad)
    with pytest.raises(ValueError, match=f"exceeds the horizon this model was fitted with "
                                         f"\\({H}\\)"):
        model.predict_interval(0.8, horizon=H + 1)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_update_equals_forecasting_from_the_whole_history(fitted, data, name):
    model = copy.deepcopy(fitted[name])
    for lo, hi in ((240, 247), (247, 248), (248, 275)):  # chunks of any size
        model.update(data.iloc[lo:hi])
        expected = model.predict(history=data.iloc[:hi])
        got = model.predict()
        assert got.index.equals(expected.index)
        _close(got.to_numpy(), expected.to_numpy())
    assert type(model).capabilities.update


@pytest.mark.parametrize("name", list(FACTORIES))
def test_an_updated_model_saves_and_loads(fitted, data, name, tmp_path):
    model = copy.deepcopy(fitted[name])
    model.update(data.iloc[240:260])
    loaded = type(model).load(model.save(tmp_path / name))
    _close(loaded.predict().to_numpy(), model.predict().to_numpy())
    loaded.update(data.iloc[260:270])
    model.update(data.iloc[260:270])
    _close(loaded.predict().to_numpy(), model.predict().to_numpy())


@pytest.mark.parametrize("name", ["txl", "arima", "lstm"])
def test_predict_during_update_returns_the_state_before_or_after(fitted, data, name):
    """A server streaming sensor rows while answering forecast requests: every forecast a
    reader sees is the one before some update or after it, never a mix of two states."""
    model = copy.deepcopy(fitted[name])
    chunks = [data.iloc[lo : lo + 3] for lo in range(240, 300, 3)]
    valid = []  # every state's forecast, in order
    probe = copy.deepcopy(model)
    valid.append(probe.predict())
    for chunk in chunks:
        probe.update(chunk)
        valid.append(probe.predict())
    seen: list[pd.DataFrame] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen.append(model.predict())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for chunk in chunks:
            model.update(chunk)
    finally:
        done.set()
        thread.join()
    by_start = {f.index[0]: f for f in valid}
    assert seen
    for forecast in seen:
        expected = by_start[forecast.index[0]]  # a KeyError would be a torn index
        _close(forecast.to_numpy(), expected.to_numpy())


def test_update_in_another_time_zone_keeps_the_fitted_zone():
    data = frame(300, tz="Europe/Berlin")
    model = NaiveForecaster(H).fit(data.iloc[:200])
    new = data.iloc[200:210].tz_convert("America/New_York")
    before = copy.deepcopy(model)
    model.update(new)
    assert str(model.predict().index.tz) == "Europe/Berlin"
    assert model.predict().index[0] == data.index[210]
    before.update(data.iloc[200:210])
    pd.testing.assert_frame_equal(model.predict(), before.predict())
    with pytest.raises(ValueError, match="time-zone naive"):
        model.update(data.iloc[210:212].tz_localize(None))


def test_a_level_between_calibrated_levels_names_the_levels_available(data):
    # 20 windows in the tail: 0.9 (9 windows) is calibrated, 0.95 (19) is, 0.975 (39) not
    model = NaiveForecaster(H).fit(data.iloc[:200], validation_data=data.iloc[200:225])
    assert model.calibration_.n_windows == 20
    model.predict_interval(0.93)  # between 0.9 and 0.95: both calibrated
    with pytest.raises(CalibrationError) as err:
        model.predict_interval(0.96)
    message = str(err.value)
    assert "between the calibrated levels 0.95 and 0.975" in message
    assert "level 0.975 needs at least 39 calibration windows" in message
    assert "this model has 20" in message
    assert "0.9, 0.95;" in message and "at or below 0.95" in message


def test_backtest_forecasts_carry_each_window_interval_bounds(data):
    result = backtest({"snaive": NaiveForecaster(H, "seasonal", season=24)}, data, H, 300,
                      stride=5, refit=4, coverage=[0.8, 0.95], train_end=240)
    forecasts = result.forecasts
    for tag in ("80", "95"):
        lower, upper = forecasts[f"lower_{tag}"], forecasts[f"upper_{tag}"]
        assert (lower <= forecasts.y_hat).all() and (forecasts.y_hat <= upper).all()
    assert ((forecasts.upper_95 - forecasts.lower_95)
            >= (forecasts.upper_80 - forecasts.lower_80) - 1e-12).all()
    # each window's bounds come from the model of its own refit block
    first = forecasts[forecasts.cutoff == forecasts.cutoff.min()]
    half = result.block_half_widths["snaive"][0][1][0]  # (H, C) at 0.8
    np.testing.assert_allclose((first.upper_80 - first.y_hat).to_numpy(),
                               half.ravel(), rtol=1e-12)
    assert len(result.block_half_widths["snaive"]) == -(-result.n_windows // 4)


def _saved(tmp_path, data):
    path = NaiveForecaster(H).fit(data.iloc[:200]).save(tmp_path / "m")
    return path, json.loads((path / "config.json").read_text())


def test_load_rejects_deeply_nested_json_naming_the_file(tmp_path, data):
    path, config = _saved(tmp_path, data)
    text = json.dumps(config)
    season = f'"season": {config["extra"]["season"]}'
    assert season in text
    (path / "config.json").write_text(text.replace(season, '"season": ' + "[" * 5000 + "1"
                                                   + "]" * 5000))
    with pytest.raises(CorruptModelError, match=r"config.json: JSON nested too deeply"):
        NaiveForecaster.load(path)
    nested: object = 1
    for _ in range(34):  # parses, but deeper than anything save() writes
        nested = [nested]
    config["extra"]["season"] = nested
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CorruptModelError, match=r"field 'extra.season\[0\].*nested more than"):
        NaiveForecaster.load(path)


def test_load_rejects_huge_integers_naming_the_field(tmp_path, data):
    path, config = _saved(tmp_path, data)
    text = json.dumps(config).replace('"horizon": 6', '"horizon": 1' + "0" * 400)
    (path / "config.json").write_text(text)
    with pytest.raises(CorruptModelError, match=r"field 'params.horizon' holds an integer of "
                                                r"401 digits"):
        NaiveForecaster.load(path)


@pytest.mark.parametrize("name", ["naive", "arima", "txl"])
def test_a_model_loaded_from_format_2_saves_and_loads_again(fitted, name, tmp_path):
    path = fitted[name].save(tmp_path / "v3")
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "format_version": 2}))
    (path / "calibration.json").unlink()
    old = type(fitted[name]).load(path)
    assert not hasattr(old, "calibration_")
    again = type(old).load(old.save(tmp_path / "resaved"))
    pd.testing.assert_frame_equal(again.predict(), old.predict())
    with pytest.raises(ValueError, match="no conformal calibration"):
        again.predict_interval(0.8)


def test_backtest_reports_mse_relative_to_the_seasonal_naive_and_warns(data):
    models = {"snaive": NaiveForecaster(H, "seasonal", season=24),
              "last": NaiveForecaster(H, "last"),
              "poor": DLinearForecaster(H, lookback=24, kernel=5, max_epochs=1, lr=1e-6,
                                        trainer_kwargs=QUIET)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = backtest(models, data, H, 300, train_end=240)
    ratio = result.metrics["mse_vs_snaive"]
    # the same errors, averaged in another order
    assert ratio["snaive"] == pytest.approx(1.0, rel=1e3 * np.finfo(float).eps)
    assert ratio["last"] > 1.5  # a daily cycle of amplitude 4 against noise 0.3
    assert ratio["poor"] > 1.5  # barely trained
    messages = [str(w.message) for w in caught if "seasonal naive" in str(w.message)]
    # the naive rules are references, not fitted models: only the poor fit is flagged
    assert len(messages) == 1 and messages[0].startswith("model 'poor' has")
