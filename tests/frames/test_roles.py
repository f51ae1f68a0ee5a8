"""Column roles, calendar features and holidays of the data layer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txl_ts.frames import calendar as cal
from txl_ts.frames.roles import Roles, covariate_values, future_values, resolve_roles

HOURLY = pd.tseries.frequencies.to_offset("h")


@pytest.mark.parametrize("freq, features", [
    ("30min", ("time_of_day", "day_of_week", "day_of_year")),
    ("h", ("time_of_day", "day_of_week", "day_of_year")),
    ("D", ("day_of_week", "day_of_year")),
    ("W", ("day_of_year",)),
    ("MS", ("month",)),
    ("QS", ("month",)),
    ("YS", ()),
])
def test_auto_calendar_takes_what_the_step_resolves(freq, features):
    assert cal.auto_features(pd.tseries.frequencies.to_offset(freq)) == features


def test_periodic_features_are_on_the_unit_circle_and_wrap_around():
    index = pd.date_range("2024-12-31 22:00", periods=5, freq="h")
    values = cal.calendar_values(index, ["time_of_day", "day_of_year"])
    assert values.shape == (5, 4)
    np.testing.assert_allclose(values[:, 0] ** 2 + values[:, 1] ** 2, 1.0, rtol=1e-12)
    # 23:00 and 00:00 are neighbours on the circle, one hour (1/24 of a turn) apart
    angle = np.arctan2(values[:, 0], values[:, 1])
    step = np.angle(np.exp(1j * np.diff(angle)))
    np.testing.assert_allclose(step, 2 * np.pi / 24, rtol=1e-9)
    assert cal.feature_columns(["time_of_day", "weekend"]) == [
        "time_of_day_sin", "time_of_day_cos", "weekend"]


@settings(max_examples=50, deadline=None)
@given(st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                    max_value=pd.Timestamp("2060-01-01").to_pydatetime()))
def test_day_of_week_repeats_every_week(stamp):
    index = pd.DatetimeIndex([stamp, stamp + pd.Timedelta(days=7)])
    values = cal.calendar_values(index, ["day_of_week", "time_of_day", "weekend"])
    np.testing.assert_allclose(values[0], values[1], atol=1e-12)


def test_unknown_calendar_feature_is_named():
    with pytest.raises(ValueError, match="unknown feature 'hour'"):
        cal.resolve_calendar(["hour"], HOURLY)


def test_holidays_of_victoria():
    index = pd.date_range("2014-01-01", periods=48 * 3, freq="30min")
    flags = cal.holiday_values(index, "AU", "VIC")[:, 0]
    assert flags[:48].all() and not flags[48:].any()  # New Year's Day only
    # Melbourne Cup day is a holiday in Victoria, not in New South Wales
    cup = pd.DatetimeIndex(["2014-11-04 12:00"])
    assert cal.holiday_values(cup, "AU", "VIC")[0, 0] == 1.0
    assert cal.holiday_values(cup, "AU", "NSW")[0, 0] == 0.0


def test_holidays_use_the_local_date_of_aware_timestamps():
    stamp = pd.DatetimeIndex(["2014-12-31 14:00"], tz="UTC").tz_convert("Australia/Melbourne")
    assert stamp[0].day == 1  # already New Year's Day in Melbourne
    assert cal.holiday_values(stamp, "AU", "VIC")[0, 0] == 1.0


@pytest.mark.parametrize("holidays, message", [
    ("XX", "unknown country code 'XX'"),
    (("AU", "ZZZ"), "holidays: "),
    (("AU", "VIC", "x"), "country code or"),
])
def test_bad_holiday_calendars_are_named(holidays, message):
    with pytest.raises(ValueError, match=message):
        cal.resolve_holidays(holidays)


def test_roles_order_past_then_future_then_derived():
    roles = resolve_roles(["m"], ["t", "w"], ["weekend"], ("AU", "VIC"), HOURLY)
    assert roles.names == ["m", "t", "w", "weekend", "holiday"]
    assert roles.n_past == 1 and roles.frame_columns == ["m", "t", "w"]


def test_a_column_has_one_role():
    with pytest.raises(ValueError, match="'t' is declared both"):
        resolve_roles(["t"], ["t"], None, None, HOURLY)
    with pytest.raises(ValueError, match="name of a derived calendar feature"):
        resolve_roles(["weekend"], None, ["weekend"], None, HOURLY)


def test_covariate_values_name_the_column_and_the_timestamp():
    index = pd.date_range("2024-01-01", periods=4, freq="h")
    roles = Roles(past=("m",), future=("t",))
    df = pd.DataFrame({"m": [1.0, 2, 3, 4], "t": [0.0, np.nan, 1, 1]}, index=index)
    with pytest.raises(ValueError, match=r"NaN in the future covariate column 't' at "
                                         r"2024-01-01 01:00:00"):
        covariate_values(df, roles, index, "df")
    with pytest.raises(ValueError, match="past covariate column 'm' is missing"):
        covariate_values(df.drop(columns="m"), roles, index, "df")
    with pytest.raises(TypeError, match="'m' is not numeric"):
        covariate_values(df.assign(m="a", t=0.0), roles, index, "df")


def test_future_values_mask_the_past_covariates_and_ignore_extra_rows():
    stamps = pd.date_range("2024-01-02", periods=3, freq="h")
    roles = Roles(past=("m",), future=("t",), calendar=("weekend",))
    future = pd.DataFrame({"t": np.arange(10.0)},
                          index=pd.date_range("2024-01-01 22:00", periods=10, freq="h"))
    x = future_values(future, roles, None, stamps)
    assert np.isnan(x[:, 0]).all()
    np.testing.assert_array_equal(x[:, 1], [2.0, 3.0, 4.0])
    np.testing.assert_array_equal(x[:, 2], [0.0, 0.0, 0.0])  # a Tuesday


def test_auto_calendar_leaves_out_cycles_the_training_data_do_not_cover_twice():
    half_hourly = pd.tseries.frequencies.to_offset("30min")
    assert cal.auto_features(half_hourly, pd.Timedelta(days=250)) == (
        "time_of_day", "day_of_week")
    assert cal.auto_features(half_hourly, pd.Timedelta(days=3 * 365)) == (
        "time_of_day", "day_of_week", "day_of_year")
    assert cal.auto_features(half_hourly, pd.Timedelta(days=10)) == ("time_of_day",)
