"""Generated bad long frames for every estimator: one defect in one series of a ragged panel.

Whatever the panel (how many series, their lengths and starts, which series is broken and
where), `fit` refuses it with a ValueError (a TypeError for text in a numeric column) naming
the broken series (and the timestamp, where there is one), the caller's frame is left as it
was, and a fitted model refuses the same defect in `update` without changing any series'
forecast.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_long_frames import LONG, MODELS, make, panel

DEFECTS = ("duplicate", "nan", "inf", "gap", "nat", "no_id", "text")


def broken(df: pd.DataFrame, sid: str, row: int, defect: str) -> tuple[pd.DataFrame, str]:
    """`df` with `defect` at row `row` of series `sid`, and the regex its error must match."""
    out = df.copy()
    positions = np.flatnonzero((out["unique_id"] == sid).to_numpy())
    at = positions[row % len(positions)]
    stamp = out.loc[at, "ds"]
    named = f"series '{sid}'"
    if defect == "duplicate":
        return pd.concat([out, out.iloc[[at]]], ignore_index=True), \
            f"{named}.*duplicate timestamp {stamp}"
    if defect in ("nan", "inf"):
        out.loc[at, "y"] = np.nan if defect == "nan" else np.inf
        return out, f"{named}.*{stamp}"
    if defect == "gap":
        inner = positions[1:-1]
        drop = inner[row % len(inner)]
        after = out.loc[drop + 1, "ds"]
        return out.drop(index=drop), f"{named}.*irregular frequency: the step before {after}"
    if defect == "nat":
        out["ds"] = out["ds"].astype(object)
        out.loc[at, "ds"] = None
        return out, f"{named}.*NaT"
    if defect == "no_id":
        out["unique_id"] = out["unique_id"].astype(object)
        out.loc[at, "unique_id"] = None
        return out, f"missing series id in column 'unique_id' at row {at}"
    out["y"] = out["y"].astype(object)
    out.loc[at, "y"] = "n/a"
    return out, f"{named}.*target column 'y' is not numeric"


spans = st.lists(st.tuples(st.integers(60, 140), st.integers(0, 96)), min_size=2, max_size=4)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spans, st.data())
def test_any_defect_in_any_series_is_refused_by_every_estimator_naming_it(spans, data):
    series = {f"s{i}": (n, str(pd.Timestamp("2024-01-01") + pd.Timedelta(hours=h)), 1.0)
              for i, (n, h) in enumerate(spans)}
    df = panel(series)
    sid = data.draw(st.sampled_from(list(series)))
    row = data.draw(st.integers(1, 10_000))
    defect = data.draw(st.sampled_from(DEFECTS))
    bad, message = broken(df, sid, row, defect)
    copy = bad.copy()
    for name in MODELS:
        # min_fit rows of the tiny test models are below 60, so only the defect can fail
        with pytest.raises((ValueError, TypeError), match=message):
            make(name, **LONG).fit(bad)
        pd.testing.assert_frame_equal(bad, copy)


@functools.cache
def _fitted(name: str):
    df = panel({"a": (200, "2024-01-01", 1.0), "b": (150, "2024-01-02 07:00", 30.0)})
    return make(name, **LONG).fit(df), df


def _next_rows(df: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    parts = []
    for sid, part in df.groupby("unique_id", sort=False):
        ds = pd.date_range(part["ds"].max() + pd.Timedelta(hours=1), periods=n, freq="h")
        parts.append(pd.DataFrame({"unique_id": sid, "ds": ds,
                                   "y": part["y"].iloc[-n:].to_numpy()}))
    return pd.concat(parts, ignore_index=True)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(MODELS)), st.sampled_from(["a", "b"]),
       st.integers(0, 4), st.sampled_from(("duplicate", "nan", "inf", "text")))
def test_a_refused_long_update_changes_no_series(name, sid, row, defect):
    model, df = _fitted(name)
    before = model.predict()
    new = _next_rows(df)
    bad, message = broken(new, sid, row, defect)
    with pytest.raises((ValueError, TypeError), match=message):
        model.update(bad)
    pd.testing.assert_frame_equal(model.predict(), before)
