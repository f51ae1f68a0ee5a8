"""The per-step fast path (streaming at sensor rates): an accelerator only, never a change of
meaning. Cached future timestamps equal fresh ones (time zones, DST, calendar offsets), plain
array scaling equals sklearn's bit for bit, the numpy continuation checks accept only what the
strict pandas path accepts (with the same values), and a well-formed row never needs pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.preprocessing import StandardScaler
from test_streaming import TINY, _assert_matches_reencode
from tolerance import assert_close

from txl_ts import TXLForecaster
from txl_ts.baselines import NaiveForecaster
from txl_ts.frames.stamps import FutureStamps, future_index


# ---- cached future timestamps -----------------------------------------------------------
@pytest.mark.parametrize("tz", [None, "Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize("freq", ["h", "15min", "D", "B", "W-SUN", "MS", "ME"])
def test_cached_future_stamps_equal_fresh_ones(freq, tz):
    # March 2021 holds both zones' spring DST change, so sub-daily steps cross it too
    grid = pd.date_range("2021-03-10", periods=700, freq=freq, tz=tz)
    offset = grid.freq
    cache = FutureStamps(offset, spare=7)  # small blocks: many rebuilds on the way
    rng = np.random.default_rng(0)
    walk = list(range(650)) + rng.integers(0, 650, 40).tolist()  # forward, then jumps
    for k in walk:
        last = grid[k]
        n = int(rng.integers(1, 30))
        fresh = future_index(last, offset, n)
        cached = cache.index(last, n)
        pd.testing.assert_index_equal(cached, fresh, exact=True)
        assert cached.freq == fresh.freq
        values, unit = cache.values(last, n)
        assert unit == fresh.unit and np.array_equal(values, fresh.asi8)


def test_cached_future_stamps_follow_the_unit_of_the_last_stamp():
    cache = FutureStamps(pd.tseries.frequencies.to_offset("h"))
    for unit in ("s", "us", "ns", "s"):
        last = pd.Timestamp("2022-01-01 05:00").as_unit(unit)
        fresh = future_index(last, cache.freq, 3)
        pd.testing.assert_index_equal(cache.index(last, 3), fresh, exact=True)
        assert cache.values(last, 3)[1] == fresh.unit


# ---- scaling as plain arrays --------------------------------------------------------------
def _frame(n: int, tz: str | None = None, start: str = "2021-03-27") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    index = pd.date_range(start, periods=n, freq="h", tz=tz)
    return pd.DataFrame({"a": 10 + rng.standard_normal(n).cumsum(),
                         "b": 1e3 * rng.standard_normal(n)}, index=index)


@pytest.fixture(scope="module")
def naive() -> NaiveForecaster:
    return NaiveForecaster(horizon=4).fit(_frame(48, tz="Europe/Berlin"))


@settings(max_examples=50, deadline=None)
@given(values=arrays(np.float64, st.tuples(st.integers(1, 20), st.just(2)),
                     elements=st.floats(-1e12, 1e12)))
def test_array_scaling_is_bit_identical_to_sklearn(naive, values):
    assert np.array_equal(naive._scale(values), naive.scaler_.transform(values))
    assert np.array_equal(naive._unscale(values), naive.scaler_.inverse_transform(values))


# ---- numpy continuation checks vs the strict pandas path ----------------------------------
def _continuation(model: NaiveForecaster, n: int) -> pd.DataFrame:
    last = model.history_index_[-1]
    index = future_index(last, model.freq_, n)
    rng = np.random.default_rng(n)
    return pd.DataFrame({"a": rng.standard_normal(n), "b": rng.standard_normal(n)}, index=index)


def _set(frame: pd.DataFrame, row: int, col: int, value) -> pd.DataFrame:
    frame = frame.copy()
    frame.iloc[row % len(frame), col] = value
    return frame


def _reindexed(frame: pd.DataFrame, index) -> pd.DataFrame:
    return frame.set_axis(pd.DatetimeIndex(index), axis=0)


MUTATIONS = {
    "none": lambda f, r: f,
    "gap": lambda f, r: _reindexed(f, f.index + pd.Timedelta(hours=1)),
    "overlap": lambda f, r: _reindexed(f, f.index - pd.Timedelta(hours=1)),
    "half-hourly": lambda f, r: _reindexed(
        f, f.index[0] + pd.to_timedelta(np.arange(len(f)) * 30, unit="min")),
    "duplicate stamp": lambda f, r: _reindexed(f, f.index[[0] + list(range(len(f) - 1))]),
    "reversed": lambda f, r: f.iloc[::-1],
    "NaT": lambda f, r: _reindexed(f, [pd.NaT] + list(f.index[1:])),
    "NaN": lambda f, r: _set(f, r, 1, np.nan),
    "inf": lambda f, r: _set(f, r, 0, np.inf),
    "-inf": lambda f, r: _set(f, r, 1, -np.inf),
    "huge": lambda f, r: _set(f, r, 0, 1e30),
    "int": lambda f, r: f.assign(a=np.arange(len(f))),
    "float32": lambda f, r: f.astype("float32"),
    "bool": lambda f, r: f.assign(b=True),
    "text": lambda f, r: f.assign(b="x"),
    "nullable": lambda f, r: f.astype("Float64"),
    "categorical": lambda f, r: f.assign(b=pd.Categorical(f["b"])),
    "sparse": lambda f, r: f.astype(pd.SparseDtype("float64")),
    "complex": lambda f, r: f.assign(a=f["a"] + 1j),
    "swapped columns": lambda f, r: f[["b", "a"]],
    "extra column": lambda f, r: f.assign(c=1.0),
    "missing column": lambda f, r: f[["a"]],
    "renamed": lambda f, r: f.rename(columns={"a": "A"}),
    "integer labels": lambda f, r: f.set_axis([0, 1], axis=1),
    "UTC": lambda f, r: f.tz_convert("UTC"),
    "naive": lambda f, r: f.tz_localize(None),
    "unit s": lambda f, r: _reindexed(f, f.index.as_unit("s")),
    "unit ns": lambda f, r: _reindexed(f, f.index.as_unit("ns")),
    "empty": lambda f, r: f.iloc[:0],
    "no DatetimeIndex": lambda f, r: f.reset_index(drop=True),
    "array": lambda f, r: f.to_numpy(),
}


def _outcome(validate, frame) -> tuple:
    try:
        s = validate(frame, "new_df")
    except (TypeError, ValueError) as err:
        return type(err), str(err)
    return (s.values.dtype, s.values.tobytes(), list(s.index.asi8), str(s.index.tz),
            s.index.unit, list(s.columns))


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 6), mutation=st.sampled_from(list(MUTATIONS)), row=st.integers(0, 5),
       advanced=st.integers(0, 30))
def test_fast_path_accepts_only_what_the_strict_path_accepts(naive, n, mutation, row, advanced):
    """Same values and index when accepted, same error when rejected; the stream is moved
    `advanced` steps on first (across the DST change in the fitted zone)."""
    train = _frame(48 + advanced, tz="Europe/Berlin")
    model = NaiveForecaster(horizon=4).fit(train)
    # the base class's machinery with a real scaler and a finite bound, as TXL / LSTM have
    model.scaler_ = StandardScaler().fit(train.to_numpy())
    model.max_abs_scaled = 1e6
    frame = MUTATIONS[mutation](_continuation(model, n), row)
    snapshot = frame.copy()
    assert _outcome(model._validate_continuation, frame) == _outcome(
        model._strict_continuation, frame)
    if isinstance(frame, pd.DataFrame):
        pd.testing.assert_frame_equal(frame, snapshot)  # the caller's frame is untouched
    else:
        np.testing.assert_array_equal(frame, snapshot)


@pytest.mark.parametrize("mutation", ["none", "int", "float32", "huge"])
@pytest.mark.parametrize("n", [1, 3, 40])
def test_well_formed_frames_take_the_fast_path(naive, monkeypatch, n, mutation):
    def strict(*args, **kwargs):
        raise AssertionError("the pandas path ran")

    monkeypatch.setattr(naive, "_strict_continuation", strict)
    monkeypatch.setattr(naive, "max_abs_scaled", 1e6)  # the naive model has no bound itself
    frame = MUTATIONS[mutation](_continuation(naive, n), 0)
    if mutation == "huge":  # poison is not well-formed: the strict path must name it
        with pytest.raises(AssertionError, match="pandas path"):
            naive._validate_continuation(frame, "new_df")
    else:
        series = naive._validate_continuation(frame, "new_df")
        assert np.array_equal(series.values, frame.to_numpy(dtype=np.float64))


def test_a_forecast_frame_shares_nothing_mutable_with_the_next(berlin):
    model, _ = berlin
    first = model.reset_state().predict()
    expected = first.copy()
    first.columns.name, first.index.name = "renamed", "renamed"
    first.iloc[0, 0] = 1e9
    pd.testing.assert_frame_equal(model.predict(), expected)


def test_fast_path_copies_the_values(naive):
    frame = _continuation(naive, 3)
    series = naive._validate_continuation(frame, "new_df")
    series.values[:] = 0.0
    assert (frame.to_numpy() != 0.0).all()


# ---- the TXL stream on the fast path ------------------------------------------------------
@pytest.fixture(scope="module")
def berlin() -> tuple[TXLForecaster, pd.DataFrame]:
    """A tiny TXL on hourly Berlin time; the spring DST change is at row 170 (streamed)."""
    data = _frame(260, tz="Europe/Berlin", start="2021-03-21")
    return TXLForecaster(**TINY).fit(data.iloc[:150]), data


def test_streaming_across_dst_matches_reencoding(berlin, monkeypatch):
    model, data = berlin
    model.reset_state()

    def strict(*args, **kwargs):
        raise AssertionError("a well-formed row went through the pandas path")

    monkeypatch.setattr(model, "_strict_continuation", strict)
    for end in range(151, 261):  # one row at a time, all on the fast path
        model.update(data.iloc[end - 1 : end])
        if end % 9 == 0 or 168 <= end <= 173 or end == 260:
            _assert_matches_reencode(model, data.iloc[:end])
    assert str(model.predict().index.tz) == "Europe/Berlin"


def test_a_row_that_completes_no_patch_does_not_run_the_network(berlin):
    model, data = berlin
    model.reset_state()
    calls = []
    hook = model.net_.embed.register_forward_hook(lambda *args: calls.append(1))  # any pass
    try:
        end = 150
        for _ in range(3 * model.stride_):
            lag = model.grid_.newest(model.get_state().stream.n_rows)[1]
            calls.clear()
            model.update(data.iloc[end : end + 1])
            end += 1
            completes = model.grid_.newest(model.get_state().stream.n_rows)[1] == 0
            assert len(calls) == int(completes), (lag, calls)
    finally:
        hook.remove()


def test_the_stream_state_keeps_no_view_of_the_fit_history(berlin):
    model, _ = berlin
    for state in (model.fitted_state_, model.reset_state().get_state().stream):
        n = state.buffer.numel() * state.buffer.element_size()
        assert state.buffer.untyped_storage().nbytes() == n  # not a view into the history
        last = state.last_head
        assert last.untyped_storage().nbytes() == last.numel() * last.element_size()


def test_a_batched_update_equals_single_row_updates(berlin):
    model, data = berlin
    model.reset_state().update(data.iloc[150:190])
    batched = model.predict()
    model.reset_state()
    for end in range(151, 191):
        model.update(data.iloc[end - 1 : end])
    single = model.predict()
    assert single.index.equals(batched.index) and single.columns.equals(batched.columns)
    assert_close(single, batched, torch.float64)  # inference's dtype
    assert torch.equal(model.get_state().stream.buffer,
                       model.reset_state().update(data.iloc[150:190]).get_state().stream.buffer)
