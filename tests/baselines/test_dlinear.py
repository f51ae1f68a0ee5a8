"""DLinearForecaster: decomposition, learning, channel independence, rolling fast path,
persistence and parameter checks."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from tolerance import assert_close

from txl_ts.baselines import DLinearForecaster
from txl_ts.baselines.dlinear import DLinearNet

SMALL = dict(horizon=6, lookback=24, kernel=5, max_epochs=15, val_size=48,
             trainer_kwargs={"enable_progress_bar": False})


def _seasonal(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """Two hourly columns with a 12-step cycle, one with a slow trend."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({
        "x": np.sin(2 * np.pi * t / 12) + 0.1 * rng.standard_normal(n),
        "y": 3 + np.sin(2 * np.pi * t / 12 + 1.0) + 0.005 * t + 0.1 * rng.standard_normal(n),
    }, index=pd.date_range("2021-01-01", periods=n, freq="h"))


@pytest.fixture(scope="module")
def fitted():
    df = _seasonal()
    return DLinearForecaster(**SMALL).fit(df[:340]), df


def test_decomposition_sums_to_input_and_keeps_lines():
    net = DLinearNet(lookback=30, horizon=4, kernel=7, n_channels=2, individual=False)
    x = torch.randn(3, 2, 30)
    trend, remainder = net.decompose(x)
    assert_close(trend + remainder, x, torch.float32)
    line = torch.arange(30.0).expand(1, 1, 30)
    trend, _ = net.decompose(line)
    # a moving average keeps a line away from the padded ends
    assert_close(trend[..., 3:-3], line[..., 3:-3], torch.float32, ops=7)  # a sum of 7 rows
    flat, _ = net.decompose(torch.full((1, 1, 30), 2.5))  # edge padding keeps constants
    assert_close(flat, torch.full((1, 1, 30), 2.5), torch.float32, ops=7)
    # an even kernel keeps the length too
    even = DLinearNet(30, 4, 6, 1, False).decompose(torch.randn(2, 1, 30))[0]
    assert even.shape == (2, 1, 30)


def test_dlinear_beats_repeat_last_on_seasonal_series(fitted):
    model, df = fitted
    summary = model.fit_summary_
    assert summary["best_val_loss"] is not None and 1 <= summary["epochs"] <= 15
    cutoffs = np.arange(339, len(df) - 6)  # origins after the fitted rows
    forecasts = model.rolling_forecasts(df, cutoffs)
    truth = np.stack([df.iloc[c + 1 : c + 7].to_numpy() for c in cutoffs])
    repeat_last = np.stack([np.repeat(df.iloc[c : c + 1].to_numpy(), 6, 0) for c in cutoffs])
    mse_model = np.mean((forecasts - truth) ** 2)
    mse_naive = np.mean((repeat_last - truth) ** 2)
    assert mse_model < 0.3 * mse_naive, (mse_model, mse_naive)


def test_dlinear_rolling_forecasts_equal_looped_predict(fitted):
    model, df = fitted
    before = df.copy()
    cutoffs = np.array([23, 24, 100, 250, 339, 399])
    fast = model.rolling_forecasts(df, cutoffs)
    looped = np.stack([model.predict(history=df.iloc[: c + 1]).to_numpy() for c in cutoffs])
    assert_close(fast, looped, torch.float32)  # batched against one window
    pd.testing.assert_frame_equal(df, before)
    with pytest.raises(ValueError, match="cutoffs must lie in"):
        model.rolling_forecasts(df, np.array([22]))


def test_dlinear_shared_maps_are_channel_independent(fitted):
    model, df = fitted
    history = df[:200]
    other = history.assign(y=np.random.default_rng(5).standard_normal(200))
    # column x's forecast reads only column x (in scaled units; each column keeps its scaler)
    pd.testing.assert_series_equal(model.predict(history=history)["x"],
                                   model.predict(history=other)["x"])
    per_column = DLinearForecaster(**{**SMALL, "max_epochs": 1, "individual": True}).fit(df)
    assert len(per_column.net_.trend) == 2 and len(model.net_.trend) == 1


def test_dlinear_short_history_raises_naming_minimum(fitted):
    model, df = fitted
    with pytest.raises(ValueError, match="at least 24 are needed.*lookback=24"):
        model.predict(history=df[:23])
    assert len(model.predict(history=df[:24])) == 6


def test_dlinear_save_load_identical_without_pickle(fitted, tmp_path, monkeypatch):
    model, df = fitted
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.json", "config.json",
                                                           "weights.safetensors"]

    def no_pickle(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    loaded = DLinearForecaster.load(tmp_path)
    assert loaded.get_params() == model.get_params()
    assert loaded.fit_summary_ == model.fit_summary_
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    pd.testing.assert_frame_equal(loaded.predict(history=df[:300]),
                                  model.predict(history=df[:300]))
    cutoffs = np.arange(30, 390, 7)
    np.testing.assert_array_equal(loaded.rolling_forecasts(df, cutoffs),
                                  model.rolling_forecasts(df, cutoffs))
    assert loaded.predict().index[0] == df.index[340]


def test_dlinear_clone_refits_identically_and_uses_validation_data():
    df = _seasonal(n=200)
    model = DLinearForecaster(**{**SMALL, "max_epochs": 2})
    first = model.fit(df[:150], validation_data=df[150:])
    assert first.fit_summary_["n_train_rows"] == 150 and first.fit_summary_["n_val_rows"] == 50
    assert first.predict().index[0] == df.index[-1] + pd.Timedelta("1h")
    copy = clone(first)
    assert not hasattr(copy, "net_") and copy.get_params() == first.get_params()
    pd.testing.assert_frame_equal(copy.fit(df[:150], validation_data=df[150:]).predict(),
                                  first.predict())


@pytest.mark.parametrize(
    "params, message",
    [
        ({"lookback": 0}, "lookback"),
        ({"kernel": 0}, "kernel"),
        ({"individual": "yes"}, "individual"),
        ({"lr": 0}, "lr"),
        ({"lr_decay": 0.0}, "lr_decay"),
        ({"weight_decay": -1e-3}, "weight_decay"),
        ({"val_size": 1.5}, "val_size"),
        ({"window_step": 0}, "window_step"),
        ({"normalize": "last_value"}, "normalize"),
    ],
)
def test_dlinear_bad_hyperparameters_raise(params, message):
    with pytest.raises(ValueError, match=message):
        DLinearForecaster(**{**SMALL, **params}).fit(_seasonal(n=200))


def test_dlinear_too_short_fit_frame_names_minimum():
    with pytest.raises(ValueError, match="lookback \\+ horizon = 30 rows"):
        DLinearForecaster(**SMALL).fit(_seasonal(n=60))


@pytest.mark.parametrize("normalize", ["last", "mean", "revin"])
def test_dlinear_normalize_moves_the_forecast_with_the_window_level(normalize):
    # the level (and, for revin, the scale) comes out of each window and back into its
    # forecast: shifting a window shifts its forecast by the same amount, whatever the maps
    torch.manual_seed(0)
    net = DLinearNet(lookback=30, horizon=4, kernel=7, n_channels=2, individual=False,
                     normalize=normalize)
    x = torch.randn(3, 2, 30)
    with torch.no_grad():
        base, shifted = net(x), net(x + 50.0)
        assert_close(shifted, base + 50.0, torch.float32, ops=60)
        if normalize == "revin":
            assert_close(net(3.0 * x + 50.0), 3.0 * base + 50.0, torch.float32, ops=60)
        # the paper's DLinear has no such property: its maps see the level itself
        plain = DLinearNet(30, 4, 7, 2, False, normalize="none")
        assert not torch.allclose(plain(x + 50.0), plain(x) + 50.0, atol=1.0)


@pytest.mark.parametrize("normalize", ["none", "last", "revin"])
def test_dlinear_forecasts_a_level_shifted_series_at_its_new_level(normalize):
    # trained on a cycle around 0, forecast from a history 8 training standard deviations
    # higher (the summer after a winter): with normalisation the forecast sits at the new
    # level; the paper's DLinear pulls it back towards the training level
    df = _seasonal(n=400)[["x"]]
    model = DLinearForecaster(**{**SMALL, "normalize": normalize, "max_epochs": 5}).fit(df[:340])
    shift = 8 * float(df["x"][:340].std())
    later = df[340:] + shift
    history = pd.concat([df[:340], later[:30]])
    forecast = model.predict(history=history)["x"].to_numpy()
    truth = later["x"].to_numpy()[30:36]
    error = abs(forecast.mean() - truth.mean())
    if normalize == "none":
        assert error > 0.2 * shift, (forecast, truth)
    else:
        assert error < 0.05 * shift, (forecast, truth)


def test_dlinear_saved_before_normalize_existed_loads_without_it(tmp_path):
    # such files were fitted without normalisation, which is no longer the default
    model = DLinearForecaster(**{**SMALL, "normalize": "none", "max_epochs": 2})
    model.fit(_seasonal(n=200))
    model.save(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    del config["params"]["normalize"]
    del config["checksums"]  # edited on purpose (the message of a checksum mismatch says so)
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = DLinearForecaster.load(tmp_path)
    assert loaded.normalize == "none"  # what such files were fitted with, not the default
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
