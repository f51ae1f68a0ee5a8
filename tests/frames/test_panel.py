"""The data layer's series axis: long frames become panels of ragged series, wide frames a panel
of one, and every error names the series and the timestamp."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import StandardScaler

from txl_ts.frames.output import long_frame
from txl_ts.frames.panel import Panel, fit_scalers, validate_long
from txl_ts.frames.validate import validate_frame


def _long(lengths: dict[str, tuple[str, int]], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for sid, (start, n) in lengths.items():
        parts.append(pd.DataFrame({"unique_id": sid,
                                   "ds": pd.date_range(start, periods=n, freq="h"),
                                   "y": rng.normal(size=n), "x": rng.normal(size=n)}))
    return pd.concat(parts, ignore_index=True)


def test_long_frame_splits_into_ragged_series_in_order_of_appearance():
    df = _long({"b": ("2020-01-01", 30), "a": ("2020-01-03 05:00", 12)})
    shuffled = df.sample(frac=1.0, random_state=0)
    before = shuffled.copy()
    panel = validate_long(shuffled.sort_values("ds", kind="stable"), id_col="unique_id",
                          time_col="ds", targets=["y"])
    assert shuffled.equals(before)  # the caller's frame is untouched
    assert set(panel.ids) == {"a", "b"}
    assert panel["b"].index[0] == pd.Timestamp("2020-01-01")
    assert panel["a"].index[-1] == pd.Timestamp("2020-01-03 16:00")
    assert sorted(panel.lengths.tolist()) == [12, 30]
    assert panel.freq == pd.tseries.frequencies.to_offset("h")
    for sid in panel.ids:
        own = df[df.unique_id == sid]
        np.testing.assert_array_equal(panel[sid].values[:, 0], own["y"].to_numpy())


def test_long_of_one_series_equals_the_wide_frame():
    df = _long({"only": ("2021-03-01", 50)})
    wide = df.drop(columns="unique_id").set_index("ds")
    panel = validate_long(df, id_col="unique_id", time_col="ds")
    single = Panel.of(validate_frame(wide), "only")
    assert panel.columns == single.columns == ["y", "x"]
    np.testing.assert_array_equal(panel["only"].values, single["only"].values)
    assert panel["only"].index.equals(single["only"].index)
    assert panel.freq == single.freq


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: pd.concat([d, d.iloc[[3]]]).sort_values(["unique_id", "ds"]),
     r"series 'a'.*duplicate timestamp 2020-01-01 03:00"),
    (lambda d: d.assign(y=d.y.where(d.index != 40)),
     r"series 'b'.*NaN in column 'y' at 2020-01-01 20:00"),
    (lambda d: d.drop(columns="ds"), r"time_col='ds' is not a column"),
    (lambda d: d.drop(columns="unique_id"), r"id_col='unique_id' is not a column"),
])
def test_errors_name_the_series_and_the_timestamp(mutate, message):
    df = _long({"a": ("2020-01-01", 20), "b": ("2020-01-01", 30)})
    with pytest.raises(ValueError, match=message):
        validate_long(mutate(df), id_col="unique_id", time_col="ds")


def test_a_series_of_another_frequency_is_named():
    df = _long({"a": ("2020-01-01", 20)})
    other = pd.DataFrame({"unique_id": "slow", "ds": pd.date_range("2020-01-01", periods=5,
                                                                    freq="D"),
                          "y": 1.0, "x": 2.0})
    with pytest.raises(ValueError, match=r"series 'slow' has frequency D.*series 'a' has h"):
        validate_long(pd.concat([df, other]), id_col="unique_id", time_col="ds")


def test_a_series_too_short_is_named():
    df = _long({"a": ("2020-01-01", 20), "tiny": ("2020-01-01", 3)})
    with pytest.raises(ValueError, match=r"series 'tiny' has 3 rows; at least 10"):
        validate_long(df, id_col="unique_id", time_col="ds", min_length=10)


def test_per_series_scaling_uses_each_series_own_training_rows():
    df = _long({"big": ("2020-01-01", 40), "small": ("2020-01-01", 25)})
    df.loc[df.unique_id == "big", "y"] *= 1e4
    df.loc[df.unique_id == "small", "y"] *= 1e-2
    panel = validate_long(df, id_col="unique_id", time_col="ds")
    scalers = fit_scalers(panel, train_rows=[30, 20])
    for scaler, sid, rows in zip(scalers, panel.ids, [30, 20]):
        expected = StandardScaler().fit(panel[sid].values[:rows])
        np.testing.assert_array_equal(scaler.mean_, expected.mean_)
        np.testing.assert_array_equal(scaler.scale_, expected.scale_)
        scaled = scaler.transform(panel[sid].values[:rows])
        np.testing.assert_allclose(scaled.std(axis=0), 1.0, rtol=1e-9)
    with pytest.raises(ValueError, match="series 'small': train_rows=26"):
        fit_scalers(panel, train_rows=[30, 26])


def test_long_frame_round_trips_a_panel():
    df = _long({"a": ("2020-01-01", 7), "b": ("2020-02-01", 4)})
    panel = validate_long(df, id_col="unique_id", time_col="ds")
    back = long_frame(panel.ids, [s.index for s in panel.series],
                      [s.values for s in panel.series], panel.columns, id_col="unique_id",
                      time_col="ds")
    pd.testing.assert_frame_equal(back, df, check_dtype=False)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 48), st.integers(2, 40)), min_size=1, max_size=5))
def test_any_ragged_panel_keeps_every_row_of_every_series(spans):
    lengths = {f"s{i}": (str(pd.Timestamp("2022-01-01") + pd.Timedelta(hours=start)), n)
               for i, (start, n) in enumerate(spans)}
    df = _long(lengths, seed=len(spans))
    panel = validate_long(df, id_col="unique_id", time_col="ds")
    assert panel.ids == tuple(lengths)
    assert panel.lengths.tolist() == [n for _, n in spans]
    assert sum(len(s.values) for s in panel.series) == len(df)
