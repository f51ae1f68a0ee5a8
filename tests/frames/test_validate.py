"""Bad input gets a clear error naming the problem, and the caller's frame is never modified."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txl_ts import TXLForecaster
from txl_ts.frames.validate import validate_frame

QUIET = {"enable_progress_bar": False}
TINY = dict(horizon=8, patch_len=8, stride=4, d_model=16, n_heads=2, n_layers=1, d_ff=32,
            segment_len=4, mem_len=8, n_segments=2, max_epochs=1, trainer_kwargs=QUIET)


def frame(n: int = 200) -> pd.DataFrame:
    t = np.arange(n, dtype=float)
    return pd.DataFrame({"a": np.sin(t / 5), "b": np.cos(t / 7)},
                        index=pd.date_range("2023-03-01", periods=n, freq="h"))


def fit(df, **params):
    return TXLForecaster(**{**TINY, **params}).fit(df)


@pytest.fixture(scope="module")
def model():
    return fit(frame())


def with_value(df, column, row, value):
    out = df.copy()
    out.iloc[row, out.columns.get_loc(column)] = value
    return out


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: frame().iloc[:0], ValueError, "empty"),
        (lambda: pd.DataFrame(index=pd.date_range("2020", periods=5, freq="h")), ValueError,
         "empty"),
        (lambda: frame().assign(a="x", b="y"), ValueError, "no numeric target columns"),
        (lambda: frame().assign(c="x"), TypeError, r"non-numeric columns \['c'\]"),
        (lambda: with_value(frame(), "b", 37, np.nan), ValueError,
         r"NaN in column 'b' at 2023-03-02 13:00:00"),
        (lambda: with_value(frame(), "a", 5, np.inf), ValueError,
         r"infinite value in column 'a' at 2023-03-01 05:00:00"),
        (lambda: pd.concat([frame().iloc[:50], frame().iloc[49:]]), ValueError,
         r"duplicate timestamp 2023-03-03 01:00:00"),
        (lambda: frame().iloc[list(range(30)) + [31, 30] + list(range(32, 200))], ValueError,
         r"not sorted: 2023-03-02 06:00:00 comes after 2023-03-02 07:00:00"),
        (lambda: frame().drop(frame().index[[60]]), ValueError,
         r"irregular frequency: the step before 2023-03-03 13:00:00 is 0 days 02:00:00"),
        (lambda: frame(15), ValueError, r"has 15 rows; at least \d+ are needed"),
        (lambda: frame().reset_index(drop=True), TypeError, "needs a DatetimeIndex or time_col"),
        (lambda: [[1.0, 2.0]], TypeError, "must be a pandas DataFrame"),
    ],
    ids=["empty-rows", "no-columns", "no-numeric", "non-numeric", "nan", "inf", "duplicate",
         "unsorted", "irregular", "too-short", "no-index", "not-a-frame"],
)
def test_bad_frames_are_rejected_with_a_clear_error(make, error, message):
    df = make()
    snapshot = df.copy(deep=True) if isinstance(df, pd.DataFrame) else None
    with pytest.raises(error, match=message):
        fit(df)
    if snapshot is not None:
        pd.testing.assert_frame_equal(df, snapshot)


def test_explicit_targets_are_checked():
    df = frame().assign(name="x")
    with pytest.raises(TypeError, match="target column 'name' is not numeric"):
        fit(df, targets=["a", "name"])
    with pytest.raises(ValueError, match=r"target columns \['zzz'\] are not in the frame"):
        fit(df, targets=["zzz"])
    with pytest.raises(ValueError, match="time_col='when' is not a column"):
        fit(df, targets=["a"], time_col="when")


def test_minimum_length_names_the_reason():
    with pytest.raises(ValueError, match=r"patch_len \+ horizon = 16 rows to train on"):
        fit(frame(18))
    fit(frame(16), val_size=0)  # exactly one patch plus the horizon is enough without validation


def test_predict_history_with_other_columns_is_rejected(model):
    other = frame().rename(columns={"b": "c"})
    with pytest.raises(ValueError, match=r"missing \['b'\], unexpected \['c'\]"):
        model.predict(history=other)
    with pytest.raises(ValueError, match="at least 8 are needed"):
        model.predict(history=frame().iloc[:5])
    daily = frame()
    daily.index = pd.date_range("2023-01-01", periods=len(daily), freq="D")
    with pytest.raises(ValueError, match="frequency D"):
        model.predict(history=daily)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"stride": 9, "patch_len": 8}, r"stride \(9\) must not exceed patch_len \(8\)"),
        ({"d_model": 30, "n_heads": 4}, r"d_model \(30\) must be divisible by n_heads \(4\)"),
        ({"horizon": 0}, r"'horizon' parameter of TXLForecaster must be an int in the range "
                         r"\[1, inf\)\. Got 0"),
        ({"horizon": True}, r"'horizon' parameter .* an int in the range \[1, inf\)\. Got True"),
        ({"patch_len": -4}, r"'patch_len' parameter .* an int in the range \[1, inf\) or a str "
                            r"among \{'auto'\}\. Got -4"),
        ({"segment_len": 2.5}, r"'segment_len' parameter .* an int in the range \[1, inf\)"),
        ({"mem_len": -1}, r"'mem_len' parameter .* an int in the range \[0, inf\)"),
        ({"n_segments": 0}, r"'n_segments' parameter .* an int in the range \[1, inf\)"),
        ({"burn_in": 2, "n_segments": 2}, r"burn_in \(2\) must be smaller than n_segments"),
        ({"dropout": 1.5}, r"'dropout' parameter .* a float in the range \[0\.0, 1\.0\)"),
        ({"lr": 0.0}, r"'lr' parameter .* a float in the range \(0\.0, inf\]"),
        ({"val_size": -0.5}, r"'val_size' parameter .* an int in the range \[0, inf\) or a "
                             r"float in the range \[0\.0, 1\.0\)"),
        ({"loss": "l2"}, r"'loss' parameter .* a str among \{'huber', 'mse', 'mae'\}\. "
                         r"Got 'l2'"),
        ({"accelerator": "banana"}, r"'accelerator' parameter of TXLForecaster must be a str "
                                    r"among \{'auto', 'cpu', 'gpu', 'cuda', 'mps', 'tpu'\}\. "
                                    r"Got 'banana'"),
        ({"norm_scale": "yes"}, r"'norm_scale' parameter .* an instance of 'bool'"),
        ({"trainer_kwargs": ["x"]}, r"'trainer_kwargs' parameter .* an instance of 'dict' or "
                                    r"None"),
    ],
)
def test_nonsensical_hyperparameters_are_rejected_in_fit(params, message):
    model = TXLForecaster(**{**TINY, **params})  # __init__ only stores
    with pytest.raises(ValueError, match=message):
        model.fit(frame())


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 60),
    hole=st.integers(1, 58),
    column=st.sampled_from(["a", "b"]),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
)
def test_any_non_finite_value_is_located_exactly(n, hole, column, bad):
    row = hole % n
    df = with_value(frame(n), column, row, bad)
    snapshot = df.copy()
    with pytest.raises(ValueError, match=f"in column '{column}' at {df.index[row]}"):
        validate_frame(df)
    pd.testing.assert_frame_equal(df, snapshot)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 80), freq=st.sampled_from(["h", "15min", "D", "W-SUN", "MS", "B"]))
def test_regular_frequencies_round_trip(n, freq):
    index = pd.date_range("2021-01-04", periods=n, freq=freq)
    df = pd.DataFrame({"x": np.arange(n, dtype=float)}, index=index)
    series = validate_frame(df)
    assert pd.date_range(index[0], periods=n, freq=series.freq).equals(index)
    assert series.values.base is not df["x"].to_numpy().base  # a private copy
