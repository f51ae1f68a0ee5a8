"""Streaming API of `TXLForecaster`: update / predict / get_state / set_state / reset_state.

The central property: after any sequence of `update` calls, `predict()` equals re-encoding
the whole known history with `predict(history=...)`, because both put the tokens on the same
grid (anchored at the first row of the fit data) and the network's outputs do not depend on
how the tokens arrive.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from tolerance import assert_close

from txl_ts import TXLForecaster, TXLState

N_FIT, N_TOTAL = 200, 560
F64 = torch.float64  # inference runs in float64: streaming and re-encoding differ by its rounding
TINY = dict(
    horizon=8, patch_len=8, stride=4, d_model=16, n_heads=2, n_layers=1, d_ff=32,
    segment_len=4, mem_len=8, n_segments=2, max_epochs=2, random_state=0,
    trainer_kwargs={"enable_progress_bar": False},
)


def _series(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    index = pd.date_range("2021-03-01", periods=n, freq="h")
    return pd.DataFrame(
        {
            "load": np.sin(2 * np.pi * t / 24) + 0.2 * rng.standard_normal(n),
            "temp": 0.5 * np.cos(2 * np.pi * t / 48) + 0.1 * rng.standard_normal(n).cumsum(),
        },
        index=index,
    )


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine: intra-op threads only add contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _series(N_TOTAL)


@pytest.fixture(scope="module")
def fitted(data: pd.DataFrame) -> TXLForecaster:
    return TXLForecaster(**TINY).fit(data.iloc[:N_FIT])


@pytest.fixture
def model(fitted: TXLForecaster) -> TXLForecaster:
    """The module's fitted model, back at its post-fit state (updates never touch weights)."""
    return fitted.reset_state()


def _state_tensors(model: TXLForecaster) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.get_state().stream.to_tensors().items()}


def _assert_same_state(before: dict[str, torch.Tensor], model: TXLForecaster) -> None:
    after = model.get_state().stream.to_tensors()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key


def _assert_matches_reencode(model: TXLForecaster, history: pd.DataFrame) -> None:
    streamed, reencoded = model.predict(), model.predict(history=history)
    pd.testing.assert_index_equal(streamed.index, reencoded.index)
    assert streamed.index[0] == history.index[-1] + pd.Timedelta(hours=1)
    # in units of each column's training std: the scale the network sees
    scale = model.scaler_.scale_
    assert_close(streamed.to_numpy() / scale, reencoded.to_numpy() / scale, F64)


# ---- exactness ------------------------------------------------------------------------------
@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=45), min_size=1, max_size=12))
def test_updates_in_any_chunks_equal_reencoding_the_full_history(fitted, data, sizes):
    model = fitted.reset_state()
    end = N_FIT
    for size in sizes:
        size = min(size, N_TOTAL - end)
        if size == 0:
            break
        model.update(data.iloc[end : end + size])
        end += size
        _assert_matches_reencode(model, data.iloc[:end])


def test_grid_is_anchored_at_the_first_fit_row_with_validation_data(data):
    model = TXLForecaster(**TINY).fit(data.iloc[:150], validation_data=data.iloc[150:203])
    _assert_matches_reencode(model, data.iloc[:203])
    for size in (1, 2, 9, 5):
        end = model.get_state().stream.n_rows
        model.update(data.iloc[end : end + size])
        _assert_matches_reencode(model, data.iloc[: end + size])
    assert model.get_state().stream.n_rows == 203 + 17


def test_update_advances_the_memory_by_the_new_patches_only(model, data):
    seen = []
    hook = model.net_.embed.register_forward_hook(lambda mod, args, out: seen.append(out.shape[1]))
    try:
        end = N_FIT
        for size in (1, 2, 3, 4, 7, 13, 40):
            before = model.grid_.n_tokens(end)  # complete tokens so far
            seen.clear()
            model.update(data.iloc[end : end + size])
            end += size
            after = model.grid_.n_tokens(end)
            assert sum(seen) == after - before, size
    finally:
        hook.remove()


def test_a_partial_patch_is_buffered_exactly(model, data):
    state = model.get_state().stream
    new = data.iloc[N_FIT : N_FIT + 1]
    _, lag = model.grid_.newest(state.n_rows)
    assert lag + 1 < model.stride_  # one row does not complete the next token here
    model.update(new)
    after = model.get_state().stream
    for old, cur in zip(state.memory.mems + state.memory.prefix,
                        after.memory.mems + after.memory.prefix, strict=True):
        assert torch.equal(old, cur)
    assert torch.equal(after.last_head, state.last_head)
    assert after.n_rows == state.n_rows + 1
    # the buffer is the last `context` rows (what the linear path and the next token read)
    assert after.buffer.shape == state.buffer.shape == (2, model.grid_.context)
    scaled = model.scaler_.transform(new.to_numpy())
    assert_close(after.buffer[:, -1], scaled[0], F64)
    torch.testing.assert_close(after.buffer[:, :-1], state.buffer[:, 1:], rtol=0, atol=0)
    _assert_matches_reencode(model, data.iloc[: N_FIT + 1])


def test_predict_never_changes_the_state(model, data):
    model.update(data.iloc[N_FIT : N_FIT + 6])
    state, tensors = model.get_state(), _state_tensors(model)
    first = model.predict()
    model.predict(history=data.iloc[: N_FIT + 30])
    assert model.get_state() == state
    _assert_same_state(tensors, model)
    pd.testing.assert_frame_equal(model.predict(), first)


def test_update_does_not_mutate_the_callers_frame(model, data):
    new = data.iloc[N_FIT : N_FIT + 5].copy()
    copy = new.copy()
    model.update(new)
    pd.testing.assert_frame_equal(new, copy)


# ---- bad updates ----------------------------------------------------------------------------
def _with_nan(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.iloc[2, 1] = np.nan
    return frame


def _with_inf(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.iloc[0, 0] = np.inf
    return frame


def _set(frame: pd.DataFrame, column: str, value: object) -> pd.DataFrame:
    return frame.assign(**{column: value})


def _half_hourly(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_axis(frame.index[0] + pd.to_timedelta([0, 30], unit="min"), axis=0)


def _with_inner_gap(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(frame.index[3])


BAD_UPDATES = {
    "gap": (lambda d: d.iloc[N_FIT + 5 : N_FIT + 9], ValueError, r"continue the timeline.*gap"),
    "inner gap": (lambda d: _with_inner_gap(d.iloc[N_FIT + 3 : N_FIT + 9]), ValueError,
                  r"has row 3 .*gap"),
    "overlap": (lambda d: d.iloc[N_FIT + 1 : N_FIT + 6], ValueError,
                r"continue the timeline.*overlap"),
    "missing column": (lambda d: d.iloc[N_FIT : N_FIT + 4][["load"]], ValueError,
                       r"missing \['temp'\]"),
    "extra column": (lambda d: d.iloc[N_FIT : N_FIT + 4].assign(wind=1.0), ValueError,
                     r"unexpected \['wind'\]"),
    "renamed column": (lambda d: d.iloc[N_FIT : N_FIT + 4].rename(columns={"temp": "t"}),
                       ValueError, r"fitted columns"),
    "NaN": (lambda d: _with_nan(d.iloc[N_FIT : N_FIT + 4]), ValueError, r"NaN in column 'temp'"),
    "inf": (lambda d: _with_inf(d.iloc[N_FIT : N_FIT + 4]), ValueError, r"infinite value"),
    "empty": (lambda d: d.iloc[N_FIT:N_FIT], ValueError, r"empty"),
    "no DatetimeIndex": (lambda d: d.iloc[N_FIT : N_FIT + 4].reset_index(drop=True), TypeError,
                         r"DatetimeIndex"),
    "not a frame": (lambda d: d.iloc[N_FIT : N_FIT + 4].to_numpy(), TypeError, r"DataFrame"),
    # single rows, the fast path's case (3 rows are pending: row N_FIT + 3 would be next)
    "1-row gap": (lambda d: d.iloc[N_FIT + 4 : N_FIT + 5], ValueError, r"gap"),
    "1-row overlap": (lambda d: d.iloc[N_FIT + 2 : N_FIT + 3], ValueError, r"overlap"),
    "1-row NaN": (lambda d: _with_nan(d.iloc[N_FIT + 1 : N_FIT + 4]).iloc[2:], ValueError,
                  r"NaN in column 'temp'"),
    "1-row inf": (lambda d: _set(d.iloc[N_FIT + 3 : N_FIT + 4], "load", -np.inf), ValueError,
                  r"infinite value in column 'load'"),
    "wrong frequency": (lambda d: _half_hourly(d.iloc[N_FIT + 3 : N_FIT + 5]), ValueError,
                        r"has row 1 .*overlap"),
    "text column": (lambda d: _set(d.iloc[N_FIT + 3 : N_FIT + 4], "temp", "20.5"), TypeError,
                    r"'temp' is not numeric"),
    "categorical column": (lambda d: _set(d.iloc[N_FIT + 3 : N_FIT + 4], "temp",
                                          pd.Categorical([1.0])), TypeError,
                           r"'temp' is not numeric"),
    "time zone": (lambda d: d.iloc[N_FIT + 3 : N_FIT + 4].tz_localize("UTC"), ValueError,
                  r"time-zone aware timestamps"),
    "huge value": (lambda d: _set(d.iloc[N_FIT + 3 : N_FIT + 4], "load", 9.97e36), ValueError,
                   r"value 9.97e\+36 in column 'load'.*max_abs_scaled"),
}


@pytest.mark.parametrize("case", list(BAD_UPDATES))
def test_a_rejected_update_leaves_the_state_unchanged(model, data, case):
    model.update(data.iloc[N_FIT : N_FIT + 3])  # a partial patch is pending
    make, error, message = BAD_UPDATES[case]
    bad = make(data)
    state, tensors, forecast = model.get_state(), _state_tensors(model), model.predict()
    with pytest.raises(error, match=message):
        model.update(bad)
    assert model.get_state() == state
    _assert_same_state(tensors, model)
    pd.testing.assert_frame_equal(model.predict(), forecast)
    model.update(data.iloc[N_FIT + 3 : N_FIT + 10])  # the stream goes on normally
    _assert_matches_reencode(model, data.iloc[: N_FIT + 10])


def test_streaming_needs_a_fitted_model(data):
    model = TXLForecaster(**TINY)
    with pytest.raises(NotFittedError):
        model.update(data.iloc[:10])
    with pytest.raises(NotFittedError):
        model.get_state()


# ---- state round trips ----------------------------------------------------------------------
def test_get_state_and_set_state_round_trip(model, data):
    model.update(data.iloc[N_FIT : N_FIT + 11])
    saved, forecast = model.get_state(), model.predict()
    model.update(data.iloc[N_FIT + 11 : N_FIT + 50])
    later = model.predict()
    assert later.index[0] > forecast.index[0]
    model.set_state(saved)
    pd.testing.assert_frame_equal(model.predict(), forecast)
    model.update(data.iloc[N_FIT + 11 : N_FIT + 50])  # the same path gives the same result
    pd.testing.assert_frame_equal(model.predict(), later)


def test_set_state_rejects_foreign_states(model, data):
    with pytest.raises(TypeError, match="TXLState"):
        model.set_state(model.get_state().stream)
    state = model.get_state()
    wrong = dataclasses.replace(
        state.stream, buffer=torch.zeros(3, state.stream.buffer.shape[1])
    )
    before = model.get_state()
    with pytest.raises(ValueError, match="columns"):
        model.set_state(TXLState(wrong, state.last_timestamp))
    assert model.get_state() == before
    other = TXLForecaster(**{**TINY, "d_model": 8, "max_epochs": 1}).fit(data.iloc[:N_FIT])
    with pytest.raises(ValueError, match="d_model"):
        model.set_state(other.get_state())
    assert model.get_state() == before


def test_set_state_rejects_mismatched_cached_keys_values(model, data):
    model.update(data.iloc[N_FIT : N_FIT + 4])  # completes a patch: keys/values are cached
    state = model.get_state()
    memory = state.stream.memory
    assert memory.kv is not None
    before = model.get_state()
    wrong = dataclasses.replace(memory, kv=tuple(t[:, :-1] for t in memory.kv))
    with pytest.raises(ValueError, match="cached keys/values"):
        model.set_state(TXLState(dataclasses.replace(state.stream, memory=wrong),
                                 state.last_timestamp))
    assert model.get_state() == before
    model.reset_state()


def test_reset_state_returns_to_the_post_fit_forecast(model, data):
    post_fit = model.predict()
    pd.testing.assert_frame_equal(post_fit, model.predict(history=data.iloc[:N_FIT]))
    model.update(data.iloc[N_FIT : N_FIT + 33])
    assert not model.predict().index.equals(post_fit.index)
    model.reset_state()
    pd.testing.assert_frame_equal(model.predict(), post_fit)
    model.update(data.iloc[N_FIT : N_FIT + 2])  # continues from the fitted data again
    _assert_matches_reencode(model, data.iloc[: N_FIT + 2])


def test_save_and_load_keep_the_streaming_state(model, data, tmp_path):
    model.update(data.iloc[N_FIT : N_FIT + 21])  # 21 rows: a partial patch stays buffered
    assert model.get_state().stream.buffer.shape[1] > 0
    model.save(tmp_path / "model")
    loaded = TXLForecaster.load(tmp_path / "model")
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    _assert_same_state(_state_tensors(model), loaded)
    for m in (model, loaded):
        m.update(data.iloc[N_FIT + 21 : N_FIT + 30])
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())
    _assert_matches_reencode(loaded, data.iloc[: N_FIT + 30])
    loaded.reset_state()
    pd.testing.assert_frame_equal(loaded.predict(), model.reset_state().predict())


def test_save_right_after_fit(model, tmp_path):
    model.save(tmp_path / "fresh")
    loaded = TXLForecaster.load(tmp_path / "fresh")
    pd.testing.assert_frame_equal(loaded.predict(), model.predict())


# ---- float64 inference ----------------------------------------------------------------------
def test_streaming_equals_reencoding_in_the_series_own_units_at_any_scale():
    """Inference runs in float64, so the two routes to a forecast agree far below any unit of
    a series of values near 1e5 (in float32 they differ by about 1e-7 of the series' scale,
    here 1e-3)."""
    data = _series(N_FIT + 20) * 1e4 + 1e5
    model = TXLForecaster(**{**TINY, "val_size": 0}).fit(data.iloc[:N_FIT])
    assert model.net_.head.weight.abs().max() > 0  # a trained residual, not the bare ridge
    for end in range(N_FIT + 1, N_FIT + 14):
        model.update(data.iloc[end - 1 : end])
        streamed = model.predict().to_numpy()
        reencoded = model.predict(history=data.iloc[:end]).to_numpy()
        assert_close(streamed, reencoded, F64, msg=f"end={end}")


def test_the_inference_network_runs_in_float64_and_a_state_must_match_it(model):
    assert model.net_.head.weight.dtype == torch.float64
    state, before = model.get_state(), model.get_state()
    as32 = dataclasses.replace(state.stream, buffer=state.stream.buffer.float())
    with pytest.raises(ValueError, match="dtype torch.float32, expected the network's "
                                         "torch.float64"):
        model.set_state(TXLState(as32, state.last_timestamp))
    assert model.get_state() == before


def test_a_model_saved_with_float32_tensors_loads_and_streams(model, data, tmp_path):
    """Files written before inference moved to float64 hold float32 weights and states."""
    from safetensors.torch import load_file, save_file

    model.update(data.iloc[N_FIT : N_FIT + 9])
    model.save(tmp_path / "m")
    weights = str(tmp_path / "m" / "weights.safetensors")
    save_file({k: v.float() if v.is_floating_point() else v
               for k, v in load_file(weights).items()}, weights)
    config = tmp_path / "m" / "config.json"  # such files had no checksums either
    config.write_text(json.dumps({k: v for k, v in json.loads(config.read_text()).items()
                                  if k != "checksums"}))
    loaded = TXLForecaster.load(tmp_path / "m")
    assert loaded.get_state().stream.buffer.dtype == torch.float64
    # the saved state was rounded to float32 (the float32-trained weights were not)
    assert_close(loaded.predict(), model.predict(), torch.float32)
    loaded.update(data.iloc[N_FIT + 9 : N_FIT + 20])
    # its memory carries float32 rounding, so it matches re-encoding to float32 precision
    assert_close(loaded.predict(), loaded.predict(history=data.iloc[: N_FIT + 20]),
                 torch.float32)
