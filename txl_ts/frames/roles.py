"""Column roles: which columns of a frame are targets and which are covariates.

- targets: forecast (`txl_ts.frames.validate`);
- past covariates: observed up to the forecast origin, never after it;
- future covariates: known ahead (a temperature forecast, a working-day flag, a price), so a
  forecast needs their values at every step of the horizon (`predict(future=X)`);
- derived covariates: calendar features and holidays (`txl_ts.frames.calendar`), computed
  from the timestamps and so known ahead by construction.

The models see one covariate matrix per stretch of time, `x[t, k]`, with the past covariates
first, then the future ones, then the derived ones. Rows after the origin hold NaN in the
past-covariate columns, so a model that read them would produce NaN, which the data path
refuses: a leak cannot pass silently.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from . import calendar as cal
from .checks import check_label


@dataclass(frozen=True)
class Roles:
    """The covariate columns of a model (targets live in `columns_`)."""

    past: tuple[Hashable, ...] = ()
    future: tuple[Hashable, ...] = ()
    calendar: tuple[str, ...] = ()
    holidays: tuple[str, str | None] | None = None

    @property
    def derived_columns(self) -> list[str]:
        return cal.feature_columns(self.calendar) + (
            [cal.HOLIDAY_COLUMN] if self.holidays else [])

    @property
    def names(self) -> list[Hashable]:
        """Every covariate column of `x`, in order: past, future, derived."""
        return [*self.past, *self.future, *self.derived_columns]

    @property
    def frame_columns(self) -> list[Hashable]:
        """The covariate columns a frame must hold (the derived ones are computed)."""
        return [*self.past, *self.future]

    @property
    def n_past(self) -> int:
        return len(self.past)

    @property
    def n_covariates(self) -> int:
        return len(self.names)

    @property
    def needs_future_frame(self) -> bool:
        return bool(self.future)

    def derived(self, index: pd.DatetimeIndex) -> np.ndarray:
        """(T, n_derived) calendar and holiday values at `index`."""
        parts = [cal.calendar_values(index, self.calendar)]
        if self.holidays:
            parts.append(cal.holiday_values(index, *self.holidays))
        return np.concatenate(parts, axis=1)


def as_labels(value: object, what: str) -> tuple[Hashable, ...]:
    """A role parameter (None, one label or a list of labels) as a tuple of labels."""
    if value is None:
        return ()
    if isinstance(value, (str, int, float, np.integer)) and not isinstance(value, bool):
        labels = [value]
    else:
        try:
            labels = list(value)  # type: ignore[call-overload]
        except TypeError:
            raise TypeError(f"{what} must be a list of column labels, got {value!r}") from None
    for label in labels:
        check_label(label, what)
    if len(set(labels)) != len(labels):
        raise ValueError(f"{what} names a column more than once: {labels}")
    return tuple(labels)


def resolve_roles(past_covariates: object, future_covariates: object, calendar: object,
                  holidays: object, freq: pd.DateOffset,
                  span: pd.Timedelta | None = None) -> Roles:
    """The roles of a model's parameters at frequency `freq`, for training data spanning
    `span` (calendar="auto" keeps the cycles it covers twice); ValueError for a column
    declared in two roles or an unknown calendar feature or holiday calendar."""
    past = as_labels(past_covariates, "past_covariates")
    future = as_labels(future_covariates, "future_covariates")
    both = [c for c in past if c in future]
    if both:
        raise ValueError(f"column {both[0]!r} is declared both in past_covariates and in "
                         "future_covariates; a column has one role")
    roles = Roles(past, future, cal.resolve_calendar(calendar, freq, span),
                  cal.resolve_holidays(holidays))
    clash = [c for c in roles.derived_columns if c in roles.frame_columns]
    if clash:
        raise ValueError(f"covariate column {clash[0]!r} has the name of a derived calendar "
                         "feature; rename the column")
    return roles


def check_not_targets(roles: Roles, targets: Sequence[Hashable]) -> None:
    for column in roles.frame_columns:
        if column in targets:
            role = "past_covariates" if column in roles.past else "future_covariates"
            raise ValueError(f"column {column!r} is both a target and one of the "
                             f"{role}; a column has one role (pass targets=[...] to choose the "
                             "targets)")


def _column_values(df: pd.DataFrame, column: Hashable, role: str, stamps: pd.DatetimeIndex,
                   name: str) -> np.ndarray:
    if column not in df.columns:
        raise ValueError(f"{name}: the {role} column {column!r} is missing (columns: "
                         f"{list(df.columns)})")
    series = df[column]
    if isinstance(series, pd.DataFrame):
        raise ValueError(f"{name}: duplicate column {column!r}")
    if not (is_numeric_dtype(series) or is_bool_dtype(series)) or isinstance(
            series.dtype, pd.CategoricalDtype):
        raise TypeError(f"{name}: the {role} column {column!r} is not numeric (dtype "
                        f"{series.dtype}); encode it as numbers first")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        kind = "NaN" if np.isnan(values[row]) else "an infinite value"
        raise ValueError(f"{name}: {kind} in the {role} column {column!r} at {stamps[row]} "
                         f"({int(bad.sum())} such values); fill or drop them first")
    return values


def covariate_values(df: pd.DataFrame, roles: Roles, stamps: pd.DatetimeIndex,
                     name: str) -> np.ndarray:
    """(T, K) covariates of the rows of `df` (timestamps `stamps`, one per row, in order):
    the frame's past and future covariate columns and the derived ones."""
    parts = [_column_values(df, c, "past covariate", stamps, name)[:, None]
             for c in roles.past]
    parts += [_column_values(df, c, "future covariate", stamps, name)[:, None]
              for c in roles.future]
    parts.append(roles.derived(stamps))
    return np.concatenate(parts, axis=1) if parts else np.empty((len(stamps), 0))


def _future_stamps(future: pd.DataFrame, time_col: Hashable | None) -> pd.DatetimeIndex:
    if time_col is not None and time_col in future.columns:
        try:
            return pd.DatetimeIndex(pd.to_datetime(future[time_col]))
        except (ValueError, TypeError) as err:
            raise ValueError(f"future: column {time_col!r} cannot be parsed as timestamps: "
                             f"{err}") from err
    if isinstance(future.index, pd.DatetimeIndex):
        return future.index
    where = f"time_col={time_col!r} column" if time_col is not None else "DatetimeIndex"
    raise TypeError(f"future needs a {where} with the future timestamps; got an index of "
                    f"type {type(future.index).__name__}")


def future_values(future: object, roles: Roles, time_col: Hashable | None,
                  stamps: pd.DatetimeIndex) -> np.ndarray:
    """(H, K) covariates at the forecast timestamps `stamps`: NaN for the past covariates
    (unknown after the origin), the future ones from the frame `future`, the derived ones
    computed. Rows of `future` at other timestamps are ignored.

    Raises ValueError naming what is missing: the frame, a column, a timestamp or a value.
    """
    h = len(stamps)
    past = np.full((h, roles.n_past), np.nan)
    derived = roles.derived(stamps)
    if not roles.future:
        return np.concatenate([past, derived], axis=1)
    span = f"the {h} timestamps from {stamps[0]} to {stamps[-1]}"
    if future is None:
        raise ValueError(f"this model uses the future covariates {list(roles.future)}: pass "
                         f"future=<DataFrame> with their values at {span}")
    if not isinstance(future, pd.DataFrame):
        raise TypeError(f"future must be a pandas DataFrame, got {type(future).__name__}")
    missing = [c for c in roles.future if c not in future.columns]
    if missing:
        raise ValueError(f"future: the future covariate column {missing[0]!r} is missing "
                         f"(columns: {list(future.columns)})")
    given = _future_stamps(future, time_col)
    if (given.tz is None) != (stamps.tz is None):
        raise ValueError(f"future has {'naive' if given.tz is None else 'time-zone aware'} "
                         f"timestamps, but the forecast's are "
                         f"{'naive' if stamps.tz is None else f'aware ({stamps.tz})'}")
    if given.tz is not None:
        given = given.tz_convert(stamps.tz)
    if given.has_duplicates:
        raise ValueError(f"future: duplicate timestamp {given[given.duplicated()][0]}")
    positions = given.get_indexer(stamps)
    if (positions < 0).any():
        first = stamps[int(np.flatnonzero(positions < 0)[0])]
        n_missing = int((positions < 0).sum())
        raise ValueError(f"future has no row for {first} ({n_missing} of {span} missing); "
                         f"it must cover at least the next {h} timestamps")
    rows = future.iloc[positions]
    known = np.stack([_column_values(rows, c, "future covariate", stamps, "future")
                      for c in roles.future], axis=1)
    return np.concatenate([past, known, derived], axis=1)
