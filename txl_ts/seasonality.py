"""Seasonal periods from a data frequency: the one rule every seasonal model uses.

`season_from_freq` gives the main cycle (the seasonal naive repeats it); `seasonal_periods`
adds the longer cycles that a model with several seasons (the seasonal ARIMA) should know;
`auto_patch_len` turns the main cycle into the patch of the models that read patches, and
`auto_lookback` into the lookback of the models that read a window of recent rows.
"""

from __future__ import annotations

import pandas as pd
from pandas.tseries import offsets

_MINUTE = pd.Timedelta(minutes=1).value
_HOUR = pd.Timedelta(hours=1).value
_DAY = pd.Timedelta(days=1).value
_WEEK = pd.Timedelta(weeks=1).value
MAX_AUTO_PATCH = 96  # longer seasons (5-minute data: 288) are cut into a divisor <= this
LOOKBACK_SEASONS = 14  # two weeks of hourly data, the ETT/WTH benchmarks' customary 336 rows


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


def auto_patch_len(season: int, divides: int | None = None) -> int:
    """The default patch of the patch-reading models (TXL, LSTM): one season (24 hourly, 48
    half-hourly, 7 daily) when that is between 4 and 96 steps, else the largest divisor of a
    longer season up to 96, at least 4. With `divides`, the largest divisor of that length
    (a lookback) not above the patch."""
    if season <= MAX_AUTO_PATCH:
        patch = max(season, 4)
    else:
        patch = max(d for d in range(1, MAX_AUTO_PATCH + 1) if season % d == 0)
    if divides is not None:
        patch = max(d for d in range(1, min(patch, divides) + 1) if divides % d == 0)
    return patch


def auto_lookback(season: int, patch: int | None = None, room: int | None = None) -> int:
    """The default lookback of the models that read recent rows (TXL's linear path, LSTM,
    DLinear): `LOOKBACK_SEASONS` (14) seasons, 336 rows of hourly data, 98 of daily, 56 of
    quarterly; without a season, 14 patches (`patch`, else the automatic one: 56 rows).
    With `room`, the most whole seasons (at least one) that fit in `room` rows."""
    unit = season if season > 1 else patch or auto_patch_len(1)
    n = LOOKBACK_SEASONS if room is None else max(1, min(LOOKBACK_SEASONS, room // unit))
    return n * unit
