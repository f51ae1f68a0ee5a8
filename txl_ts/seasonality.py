"""Seasonal periods from a data frequency: the one rule every seasonal model uses.

`season_from_freq` gives the main cycle (the seasonal naive repeats it); `seasonal_periods`
adds the longer cycles that a model with several seasons (the seasonal ARIMA) should know.
"""

from __future__ import annotations

import pandas as pd
from pandas.tseries import offsets

_MINUTE = pd.Timedelta(minutes=1).value
_HOUR = pd.Timedelta(hours=1).value
_DAY = pd.Timedelta(days=1).value
_WEEK = pd.Timedelta(weeks=1).value


def season_from_freq(freq: pd.DateOffset) -> int:
    """Steps in one natural cycle of `freq`.

    Sub-daily steps (hours, minutes, ...) cycle over a day (24 for hourly, 96 for 15-minute),
    sub-minute steps over a minute; daily over a week (7; business days 5), weekly over a
    year (52), monthly 12, quarterly 4, yearly 1. Raises ValueError when the step does not
    divide its cycle; pass `season=` then.
    """
    if isinstance(freq, offsets.Tick):
        step = pd.Timedelta(freq).value
        if step < _MINUTE:
            cycle = _MINUTE
        elif step < _DAY:
            cycle = _DAY
        elif step == _DAY:
            return 7
        else:
            cycle = None
        if cycle is not None and cycle % step == 0:
            return cycle // step
    elif isinstance(freq, offsets.Day) and freq.n == 1:
        return 7
    elif isinstance(freq, offsets.BusinessDay) and freq.n == 1:
        return 5
    elif isinstance(freq, offsets.Week) and freq.n == 1:
        return 52
    elif isinstance(freq, (offsets.MonthBegin, offsets.MonthEnd)) and 12 % freq.n == 0:
        return 12 // freq.n
    elif isinstance(freq, (offsets.QuarterBegin, offsets.QuarterEnd)) and freq.n == 1:
        return 4
    elif isinstance(freq, (offsets.YearBegin, offsets.YearEnd)):
        return 1
    raise ValueError(f"no natural season is known for frequency {freq.freqstr!r}; pass season=")


def seasonal_periods(freq: pd.DateOffset, n_rows: int | None = None,
                     yearly: bool = False) -> list[int]:
    """Seasonal periods of `freq`, the main one (`season_from_freq`) first.

    The rule: sub-daily steps have a daily and a weekly cycle (hourly [24, 168], half-hourly
    [48, 336], 15-minute [96, 672]); sub-minute steps a minute and an hour cycle (1 s: [60,
    3600]); daily data a week [7], plus a year [365] only with `yearly=True` (a year of daily
    rows is rarely enough to estimate it); business days [5]; weekly [52]; monthly [12];
    quarterly [4]; yearly data none ([]). With `n_rows`, periods longer than half the data
    (fewer than two full cycles seen) are dropped. Raises ValueError where
    `season_from_freq` does.
    """
    main = season_from_freq(freq)
    if main == 1:
        return []
    periods = [main]
    if isinstance(freq, offsets.Tick):
        step = pd.Timedelta(freq).value
        if step < _MINUTE and _HOUR % step == 0:
            periods.append(_HOUR // step)
        elif _MINUTE <= step < _DAY:  # main is the day; a step dividing a day divides a week
            periods.append(_WEEK // step)
    if main == 7 and yearly:
        periods.append(365)
    if n_rows is not None:
        periods = [p for p in periods if 2 * p <= n_rows]
    return periods
