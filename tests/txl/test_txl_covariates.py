"""TXL with covariates: in the tokens, over the horizon and in the ridge-started ARX path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from tolerance import assert_close

from txl_ts import TXLForecaster
from txl_ts.txl import Stream, TokenGrid, TXLConfig, TXLNet
from txl_ts.txl.covariates import covariate_rows
from txl_ts.txl.memory import forecasts_at
from txl_ts.txl.module import fit_linear_path

F32, F64 = torch.float32, torch.float64
P, S, H, LOOKBACK, NORM, SEASON = 4, 2, 4, 12, 6, 4
GRID = TokenGrid(P, S, H, context=LOOKBACK)
N_PAST, N_FUTURE = 1, 2


def make_net(n_past: int = N_PAST, n_future: int = N_FUTURE, width: int = 8,
             seed: int = 0) -> TXLNet:
    torch.manual_seed(seed)
    net = TXLNet(TXLConfig(n_channels=3, patch_len=P, stride=S, horizon=H,
                           forecast_len=GRID.forecast_len, lookback=LOOKBACK, norm_window=NORM,
                           season=SEASON, d_model=16, n_heads=2, n_layers=2, d_ff=32,
                           dropout=0.0, n_past=n_past, n_future=n_future,
                           covariate_width=width, covariate_dropout=0.0)).eval()
    with torch.no_grad():  # trained-looking weights, so that every path shows in outputs
        for p in (net.head.weight, net.future.arx, net.future.out.weight):
            torch.nn.init.normal_(p, std=0.5)
    return net


def series(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3) targets and (T, K) covariates."""
    g = np.random.default_rng(seed)
    return g.normal(size=(n, 3)), g.normal(size=(n, N_PAST + N_FUTURE))


# ---- the network ----------------------------------------------------------------------------
def test_without_covariates_the_network_has_no_covariate_parts():
    """K = 0 builds exactly the network without covariates: the same parameters, drawn from
    the same random numbers."""
    torch.manual_seed(0)
    config = dict(n_channels=3, patch_len=P, stride=S, horizon=H, forecast_len=GRID.forecast_len,
                  lookback=LOOKBACK, norm_window=NORM, season=SEASON, d_model=16, n_heads=2)
    old = TXLNet(TXLConfig(**config)).state_dict()
    torch.manual_seed(0)
    new = TXLNet(TXLConfig(**config, n_past=0, n_future=0, covariate_width=64)).state_dict()
    assert list(new) == list(old)
    assert all(torch.equal(new[k], old[k]) for k in old)


def test_covariates_enter_the_tokens_and_the_one_token_step_agrees():
    net = make_net()
    _, x = series(40)
    rows = torch.as_tensor(x.T, dtype=F32)  # (K, T)
    cov = covariate_rows(rows, GRID, first_end=LOOKBACK, n_tokens=1)[None]  # (1, 1, K P)
    window = torch.randn(3, 1, net.config.token_rows, generator=torch.Generator().manual_seed(1))
    channels = torch.arange(3)
    contexts = [torch.randn(3, 5, 16) for _ in range(2)]
    with torch.no_grad():
        expected, _ = net(window, channels, contexts, cov)
        out, _, _ = net.step(window, channels, net.keys_values(contexts), cov)
        without, _ = net(window, channels, contexts, torch.zeros_like(cov))
    assert expected.shape == (3, 1, GRID.forecast_len + 8)  # residuals, then the context
    assert_close(out[:, None], expected, F32)
    assert (expected - without).abs().max() > 1e-3  # the covariate rows change the token


def test_stream_in_chunks_equals_one_pass_and_rolling_equals_the_stream():
    """Fed in any chunks, with covariates, the stream gives the same token outputs; and the
    batched forecasts from every origin equal the stream's forecast after that origin."""
    net = make_net().double()
    y, x = series(41)
    stream = Stream(net, GRID, segment_len=3, mem_len=4)
    heads, whole = stream.feed(stream.start(3), y, x)
    state, pieces, start = stream.start(3), [], 0
    for size in (5, 1, 1, 7, 2, 13, 12):
        out, state = stream.feed(state, y[start : start + size], x[start : start + size])
        pieces.append(out)
        start += size
    assert_close(torch.cat(pieces), heads, F64)
    assert torch.equal(state.covariates, whole.covariates)
    x_future = np.random.default_rng(5).normal(size=(50, x.shape[1]))
    future = torch.as_tensor(np.concatenate([x, x_future])[:, N_PAST:])
    origins = np.arange(P, 42)
    batched = forecasts_at(net, GRID, heads, GRID.pad(torch.as_tensor(y.T)), origins,
                           future=future)
    for i, o in enumerate(origins):
        _, at = stream.feed(stream.start(3), y[:o], x[:o])
        rows = np.concatenate([x, x_future])[o : o + H]
        assert_close(batched[i], stream.forecast(at, rows), F64, ops=LOOKBACK)


def test_the_horizon_reads_only_future_known_columns_of_the_horizon():
    net = make_net().double()
    y, x = series(30)
    stream = Stream(net, GRID, segment_len=3, mem_len=4)
    _, state = stream.feed(stream.start(3), y, x)
    rows = np.random.default_rng(2).normal(size=(H, x.shape[1]))
    base = stream.forecast(state, rows)
    past = rows.copy()
    past[:, :N_PAST] = np.nan  # never read: a read would turn the forecast into NaN
    assert torch.equal(stream.forecast(state, past), base)
    future = rows.copy()
    future[2, N_PAST] += 1.0
    moved = (stream.forecast(state, future) - base).abs().amax(0)
    assert moved[2] > 1e-3  # the step whose covariate changed
    assert_close(moved[[0, 1, 3]], torch.zeros(3), F64)  # and no other


def test_ridge_arx_start_learns_a_covariate_effect():
    """A target that is a covariate's square plus a daily cycle: the ridge-started ARX path
    forecasts it far better than the same path on the lags alone."""
    g = np.random.default_rng(0)
    n, grid = 600, TokenGrid(8, 4, 8, context=48)
    temp = np.convolve(g.normal(size=n + 20), np.ones(20) / 5, "valid")[:n]
    y = temp ** 2 + np.sin(2 * np.pi * np.arange(n) / 8) + 0.05 * g.normal(size=n)

    def fitted(n_future: int) -> float:
        torch.manual_seed(0)
        net = TXLNet(TXLConfig(n_channels=1, patch_len=8, stride=4, horizon=8,
                               forecast_len=grid.forecast_len, lookback=48, norm_window=48,
                               season=8, n_future=n_future))
        x = torch.as_tensor(temp[None, :n_future * n].reshape(n_future, n), dtype=F32)
        return fit_linear_path(net, grid, [torch.as_tensor(y[None], dtype=F32)], [480],
                               x=[x])["val_mse"]

    assert fitted(1) < 0.1 * fitted(0)


# ---- the forecaster -------------------------------------------------------------------------
def synthetic(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Hourly y = 2 temp + a daily cycle + noise; temp is AR(1) noise, unpredictable from its
    own past, and `meter` a past covariate (observed, never known ahead)."""
    g = np.random.default_rng(seed)
    temp = np.zeros(n)
    for i in range(1, n):
        temp[i] = 0.9 * temp[i - 1] + g.normal(0, 0.4)
    t = np.arange(n)
    y = 2 * temp + 0.5 * np.sin(2 * np.pi * t / 24) + g.normal(0, 0.05, n)
    return pd.DataFrame({"y": y, "temp": temp, "meter": y + g.normal(0, 0.1, n)},
                        index=pd.date_range("2021-01-01", periods=n, freq="h"))


def small(**params) -> TXLForecaster:
    return TXLForecaster(horizon=12, d_model=16, n_heads=2, d_ff=32, max_epochs=2,
                         patience=1, verbose=False, random_state=0, targets=["y"], **params)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return synthetic()


@pytest.fixture(scope="module")
def fitted(data) -> TXLForecaster:
    return small(past_covariates=["meter"], future_covariates=["temp"],
                 calendar=["time_of_day"]).fit(data.iloc[:1000])


def held_out_mse(model: TXLForecaster, data: pd.DataFrame) -> float:
    cutoffs = np.arange(1000, len(data) - 13, 3)
    forecasts = model.rolling_forecasts(data, cutoffs)[:, :, 0]
    truth = np.stack([data["y"].to_numpy()[c + 1 : c + 13] for c in cutoffs])
    return float(((forecasts - truth) ** 2).mean())


def test_future_covariates_beat_the_same_model_without(data):
    without = small().fit(data.iloc[:1000])
    with_temp = small(future_covariates=["temp"]).fit(data.iloc[:1000])
    assert held_out_mse(with_temp, data) < 0.5 * held_out_mse(without, data)


def test_rolling_forecasts_equal_predict_per_cutoff(fitted, data):
    cutoffs = np.array([400, 401, 777, 1200, 1400])
    rolled = fitted.rolling_forecasts(data, cutoffs)
    for c, forecast in zip(cutoffs, rolled):
        expected = fitted.predict(history=data.iloc[: c + 1], future=data.iloc[c + 1 :])
        assert_close(forecast, expected.to_numpy(), F64, ops=LOOKBACK)


def test_covariates_after_the_origin_past_ones_unread_future_ones_read(fitted, data):
    c = 1100
    base = fitted.predict(history=data.iloc[: c + 1], future=data.iloc[c + 1 :])
    moved = data.copy()
    moved.iloc[c + 1 :, moved.columns.get_loc("meter")] += 5.0
    same = fitted.rolling_forecasts(moved, np.array([c]))[0]
    assert np.array_equal(same, fitted.rolling_forecasts(data, np.array([c]))[0])
    assert np.array_equal(
        fitted.predict(history=data.iloc[: c + 1], future=moved.iloc[c + 1 :]).to_numpy(),
        base.to_numpy())
    moved = data.copy()
    moved.iloc[c + 1 :, moved.columns.get_loc("temp")] += 1.0
    changed = fitted.predict(history=data.iloc[: c + 1], future=moved.iloc[c + 1 :])
    assert np.abs(changed.to_numpy() - base.to_numpy()).min() > 1e-3


@pytest.mark.parametrize("sizes", [[1] * 9 + [40], [7, 13, 31], [120]])
def test_updates_with_covariates_equal_predict_on_all_rows(fitted, data, sizes):
    model = TXLForecaster.__new__(TXLForecaster)
    model.__dict__ = dict(fitted.__dict__)
    start = 1000
    for size in sizes:
        model.update(data.iloc[start : start + size])
        start += size
    future = data.iloc[start:]
    streamed = model.predict(future=future)
    reencoded = model.predict(history=data.iloc[:start], future=future)
    assert_close(streamed.to_numpy(), reencoded.to_numpy(), F64, ops=LOOKBACK)


def test_save_and_load_keep_the_covariate_rows_of_the_state(fitted, data, tmp_path):
    model = TXLForecaster.__new__(TXLForecaster)
    model.__dict__ = dict(fitted.__dict__)
    model.update(data.iloc[1000:1037])
    model.save(tmp_path / "m")
    loaded = TXLForecaster.load(tmp_path / "m")
    assert torch.equal(loaded.state_.covariates, model.state_.covariates)
    future = data.iloc[1037:]
    pd.testing.assert_frame_equal(loaded.predict(future=future), model.predict(future=future))
    loaded.update(data.iloc[1037:1050])
    model.update(data.iloc[1037:1050])
    pd.testing.assert_frame_equal(loaded.predict(future=data.iloc[1050:]),
                                  model.predict(future=data.iloc[1050:]))
