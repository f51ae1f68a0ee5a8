"""The frequency -> seasonal periods rule, in one place."""

from __future__ import annotations

import pytest
from pandas.tseries.frequencies import to_offset

from txl_ts.baselines.naive import season_from_freq as naive_season
from txl_ts.seasonality import auto_patch_len, season_from_freq, seasonal_periods


@pytest.mark.parametrize(
    "freq, main, periods",
    [
        ("h", 24, [24, 168]),
        ("30min", 48, [48, 336]),
        ("15min", 96, [96, 672]),
        ("2h", 12, [12, 84]),
        ("min", 1440, [1440, 10080]),
        ("s", 60, [60, 3600]),
        ("D", 7, [7]),
        ("B", 5, [5]),
        ("W", 52, [52]),
        ("MS", 12, [12]),
        ("ME", 12, [12]),
        ("QS", 4, [4]),
        ("YS", 1, []),
    ],
)
def test_seasonality_rule_table(freq, main, periods):
    offset = to_offset(freq)
    assert season_from_freq(offset) == main
    assert seasonal_periods(offset) == periods
    if periods:
        assert periods[0] == main  # the main season first, as the seasonal naive uses it


def test_seasonal_periods_options_and_errors():
    assert seasonal_periods(to_offset("D"), yearly=True) == [7, 365]
    assert seasonal_periods(to_offset("h"), n_rows=300) == [24]  # a week needs 336 rows
    assert seasonal_periods(to_offset("h"), n_rows=47) == []
    assert naive_season is season_from_freq  # the seasonal naive uses the same rule
    for freq in ("7h", "2D"):
        with pytest.raises(ValueError, match="no natural season"):
            seasonal_periods(to_offset(freq))


@pytest.mark.parametrize("season, divides, expected", [
    (24, None, 24), (48, None, 48), (7, None, 7), (1, None, 4), (288, None, 96),
    (24, 336, 24), (48, 336, 48), (96, 336, 84), (16, 336, 16), (24, 36, 18), (24, 5, 5),
])
def test_auto_patch_len(season, divides, expected):
    patch = auto_patch_len(season, divides)
    assert patch == expected
    assert divides is None or divides % patch == 0
