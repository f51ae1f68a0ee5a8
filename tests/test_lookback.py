"""lookback="auto" of the lookback models (LSTM, DLinear): the rule TXL's linear path uses,
short low-frequency series that a fixed 336-row lookback could not fit, clear errors, and
persistence of the resolved lookback."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from txl_ts import TXLForecaster
from txl_ts.baselines import DLinearForecaster, LSTMForecaster
from txl_ts.seasonality import auto_lookback

QUIET = {"enable_progress_bar": False}
MODELS = {
    "lstm": lambda **kw: LSTMForecaster(hidden_size=8, n_layers=1, max_epochs=2,
                                        trainer_kwargs=QUIET, **kw),
    "dlinear": lambda **kw: DLinearForecaster(max_epochs=2, trainer_kwargs=QUIET, **kw),
}


def _frame(n: int, freq: str, season: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({
        "a": np.sin(2 * np.pi * t / season) + 0.1 * rng.standard_normal(n),
        "b": 2 + 0.01 * t + 0.2 * rng.standard_normal(n),
    }, index=pd.date_range("2000-01-01", periods=n, freq=freq))


def test_auto_lookback_rule():
    assert auto_lookback(24) == 336  # hourly: the customary two weeks, unchanged
    assert auto_lookback(48) == 672
    assert auto_lookback(7) == 98
    assert auto_lookback(4) == 56
    assert auto_lookback(1) == 56  # no season: 14 of the smallest automatic patch (4)
    assert auto_lookback(1, patch=10) == 140
    # `room`: the most whole seasons (at least one) that fit
    assert auto_lookback(24, room=10_000) == 336
    assert auto_lookback(52, room=233) == 208
    assert auto_lookback(7, room=3) == 7


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("freq, season", [("h", 24), ("D", 7), ("QS", 4)])
def test_default_lookback_follows_the_frequency_as_txl_does(name, freq, season):
    df = _frame(1000, freq, season)  # long enough for 14 seasons: no cap
    model = MODELS[name](horizon=4).fit(df)
    assert model.lookback == "auto"  # the parameter is never changed
    assert model.lookback_ == auto_lookback(season)
    txl = TXLForecaster(horizon=4, max_epochs=1, trainer_kwargs=QUIET).fit(df)
    assert model.lookback_ == txl.lookback_
    assert model.last_window_.shape == (auto_lookback(season), 2)
    assert np.isfinite(model.predict().to_numpy()).all()


@pytest.mark.parametrize("name", MODELS)
def test_short_quarterly_series_fits_where_336_rows_could_not(name):
    # 142 quarters, as the statsmodels macro data's training split, given its validation rows
    df = _frame(172, "QS", 4)
    train, valid = df[:142], df[142:]
    with pytest.raises(ValueError, match="at least 425 are needed.*lookback \\+ horizon"):
        MODELS[name](horizon=4, lookback=336).fit(train, validation_data=valid)
    model = MODELS[name](horizon=4).fit(train, validation_data=valid)
    assert model.lookback_ == 56  # 14 years: (142 - 4) // 2 = 69 rows of room
    forecast = model.predict()
    assert forecast.shape == (4, 2) and np.isfinite(forecast.to_numpy()).all()


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("freq, n, horizon, seasons", [("W", 600, 13, 4), ("D", 80, 7, 4),
                                                      ("5min", 4000, 12, 5)])
def test_auto_lookback_leaves_half_the_training_rows_as_origins(name, freq, n, horizon,
                                                                seasons):
    """A series too short for 14 seasons reads the most whole seasons that leave half of its
    training rows as forecast origins (a fixed 14 seasons would refuse these series)."""
    df = _frame(n, freq, 7)
    model = MODELS[name](horizon=horizon).fit(df)
    season = {"W": 52, "D": 7, "5min": 288}[freq]
    n_train = model.fit_summary_["n_train_rows"]
    assert model.lookback_ == seasons * season
    assert model.lookback_ <= (n_train - horizon) // 2 < model.lookback_ + season
    assert np.isfinite(model.predict().to_numpy()).all()


@pytest.mark.parametrize("name", MODELS)
def test_too_short_for_one_season_names_the_lookback_and_the_frequency(name):
    df = _frame(15, "D", 7)  # 12 training rows: one week of lookback + 7 ahead do not fit
    model = MODELS[name](horizon=7)
    with pytest.raises(ValueError, match=r"df has 15 rows.*lookback \+ horizon = 14 rows"
                                         r".*lookback=7 for frequency D"):
        model.fit(df)
    assert not hasattr(model, "lookback_") and not hasattr(model, "net_")


@pytest.mark.parametrize("name", MODELS)
def test_resolved_lookback_survives_save_load_and_clone(name, tmp_path):
    df = _frame(300, "D", 7)
    model = MODELS[name](horizon=7).fit(df)
    model.save(tmp_path / "m")
    cls = type(model)
    loaded = cls.load(tmp_path / "m")
    assert loaded.lookback == "auto" and loaded.lookback_ == 98
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    fresh = clone(model)
    assert fresh.lookback == "auto" and not hasattr(fresh, "lookback_")


@pytest.mark.parametrize("name", MODELS)
def test_files_without_a_saved_lookback_read_the_integer_parameter(name, tmp_path):
    """Models saved before lookback="auto" have an integer lookback and no extra field."""
    df = _frame(300, "h", 24)
    model = MODELS[name](horizon=6, lookback=48).fit(df)
    model.save(tmp_path / "m")
    config_file = tmp_path / "m" / "config.json"
    config = json.loads(config_file.read_text())
    del config["extra"]["lookback"]
    del config["checksums"]  # nor checksums
    config_file.write_text(json.dumps(config))
    loaded = type(model).load(tmp_path / "m")
    assert loaded.lookback_ == 48
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    config["params"]["lookback"] = "auto"  # and no field to resolve it from: refused
    config_file.write_text(json.dumps(config))
    with pytest.raises(Exception, match="lookback"):
        type(model).load(tmp_path / "m")


def test_lstm_patch_must_divide_the_resolved_lookback():
    df = _frame(300, "D", 7)
    with pytest.raises(ValueError, match=r"patch_len \(8\) must divide the lookback \(98 rows"):
        LSTMForecaster(horizon=7, patch_len=8, max_epochs=1, trainer_kwargs=QUIET).fit(df)
    model = LSTMForecaster(horizon=7, patch_len=14, hidden_size=4, n_layers=1, max_epochs=1,
                           trainer_kwargs=QUIET).fit(df)
    assert model.patch_len_ == 14 and model.lookback_ == 98
