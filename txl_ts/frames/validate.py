"""From a user's DataFrame to a validated series: timestamps, frequency, target columns and a
private float64 copy of the values. Nothing here modifies the caller's frame."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_complex_dtype, is_numeric_dtype
from pandas.tseries.frequencies import to_offset

from .checks import check_label, check_values


@dataclass(frozen=True)
class Series:
    """A validated multivariate series: `values[t, c]` observed at `index[t]` for `columns[c]`."""

    values: np.ndarray  # (T, C) float64, a private copy
    index: pd.DatetimeIndex
    columns: list[Hashable]  # the frame's own labels (str, int, tuple for a MultiIndex, ...)
    freq: pd.DateOffset
    # (T, K) covariates (`txl_ts.frames.roles`), raw; None before the data path adds them
    x: np.ndarray | None = None


def _timestamps(df: pd.DataFrame, time_col: str | None, name: str) -> pd.DatetimeIndex:
    if time_col is not None:
        if time_col not in df.columns:
            raise ValueError(f"{name}: time_col={time_col!r} is not a column of the frame")
        try:
            stamps = pd.DatetimeIndex(pd.to_datetime(df[time_col]))
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"{name}: column {time_col!r} cannot be parsed as timestamps: {err}"
            ) from err
    elif isinstance(df.index, pd.DatetimeIndex):
        stamps = df.index
    else:
        raise TypeError(
            f"{name} needs a DatetimeIndex or time_col=<name of the timestamp column>; "
            f"got an index of type {type(df.index).__name__}"
        )
    if stamps.hasnans:
        bad = int(np.flatnonzero(stamps.isna())[0])
        raise ValueError(f"{name}: missing timestamp (NaT) at row {bad}")
    duplicated = stamps.duplicated()
    if duplicated.any():
        # the usual cause: a long frame of many series handed over as one wide frame
        raise ValueError(f"{name}: duplicate timestamp {stamps[duplicated][0]}; if the frame "
                         "holds several series in long form (one row per series and "
                         "timestamp), name the series column with id_col=")
    if not stamps.is_monotonic_increasing:
        bad = int(np.flatnonzero(np.diff(stamps.asi8) < 0)[0]) + 1
        raise ValueError(
            f"{name}: timestamps are not sorted: {stamps[bad]} comes after {stamps[bad - 1]}"
        )
    return stamps


def _frequency(stamps: pd.DatetimeIndex, name: str) -> pd.DateOffset:
    if len(stamps) < 2:
        raise ValueError(f"{name}: at least 2 timestamps are needed to infer the frequency")
    with warnings.catch_warnings():  # pandas 3 warns that infer_freq will return an offset
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        inferred = pd.infer_freq(stamps) if len(stamps) >= 3 else None
    if inferred is not None:
        return to_offset(inferred)  # accepts a string or an offset
    steps = pd.TimedeltaIndex(stamps[1:] - stamps[:-1])
    counts = steps.value_counts()
    if len(counts) == 1:
        return to_offset(counts.index[0])
    usual = counts.index[0]
    bad = int(np.flatnonzero(steps != usual)[0]) + 1
    raise ValueError(
        f"{name}: irregular frequency: the step before {stamps[bad]} is {steps[bad - 1]}, "
        f"but the usual step is {usual}; resample or fill the series to a regular grid first"
    )


def _is_target_dtype(column: pd.Series) -> bool:
    # bool counts as numeric (0/1) with and without targets=, so both paths agree; complex
    # values would lose their imaginary part
    return (is_numeric_dtype(column) and not isinstance(column.dtype, pd.CategoricalDtype)
            and not is_complex_dtype(column))


def _as_label_list(targets: object, df: pd.DataFrame) -> list[Hashable]:
    if isinstance(targets, str) or (isinstance(targets, tuple) and targets in df.columns):
        return [targets]
    if isinstance(targets, (int, np.integer, float)) and not isinstance(targets, bool):
        return [targets]
    try:
        return list(targets)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"targets must be a list of column labels, got {targets!r}") from None


def _select_targets(
    df: pd.DataFrame, targets: Sequence[Hashable] | None, time_col: Hashable | None, name: str,
    exclude: Sequence[Hashable] = (),
) -> list[Hashable]:
    # `is None` first: with no time_col, a column labelled None must not pass for it (and be
    # dropped from the targets without a word); check_label below rejects it by name
    candidates = [c for c in df.columns if (time_col is None or c != time_col)
                  and c not in exclude]
    if targets is None:
        numeric = [c for c in candidates if _is_target_dtype(df[c])]
        if not numeric:
            raise ValueError(
                f"{name} has no numeric target columns (columns: {list(candidates)})"
            )
        non_numeric = [c for c in candidates if c not in numeric]
        if non_numeric:
            raise TypeError(
                f"{name}: non-numeric columns {non_numeric}; pass targets=[...] to choose the "
                "numeric columns to forecast, or drop the others"
            )
        chosen = numeric
    else:
        chosen = _as_label_list(targets, df)
        if not chosen:
            raise ValueError("targets must name at least one column")
        for c in chosen:  # set() below would fail with a bare "unhashable type"
            try:
                hash(c)
            except TypeError:
                raise TypeError(f"targets must be a list of column labels; {c!r} of type "
                                f"{type(c).__name__} is not a label") from None
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"targets {chosen} name a column more than once")
        if time_col is not None and time_col in chosen:  # it is in the frame, as the time
            raise ValueError(f"{name}: column {time_col!r} is the time_col, so it cannot also "
                             "be a target")
        missing = [c for c in chosen if c not in candidates]
        if missing:
            raise ValueError(f"{name}: target columns {missing} are not in the frame")
        for c in chosen:
            if not _is_target_dtype(df[c]):
                raise TypeError(f"{name}: target column {c!r} is not numeric (dtype "
                                f"{df[c].dtype}{_first_text(df[c])})")
    for c in chosen:
        check_label(c, name)
    return chosen


def frame_frequency(df: pd.DataFrame, time_col: Hashable | None, name: str
                    ) -> pd.DateOffset:
    """The frequency of a frame's timestamps (checked: no NaT, no duplicate, sorted)."""
    return _frequency(_timestamps(df, time_col, name), name)


def validate_frame(
    df: object,
    *,
    time_col: str | None = None,
    targets: Sequence[Hashable] | None = None,
    expected_columns: Sequence[Hashable] | None = None,
    extra_columns_ok: bool = False,
    expected_freq: pd.DateOffset | None = None,
    min_length: int = 1,
    min_length_reason: str = "",
    name: str = "df",
    infer_freq: bool = True,
    exclude: Sequence[Hashable] = (),
) -> Series:
    """Validate a user frame and return a private float64 copy of its target values.

    `expected_columns` (from a fitted model) must match the frame's targets exactly, or, with
    `extra_columns_ok` (the model was fitted with explicit targets), be among its columns;
    `expected_freq` must match the inferred frequency; with `infer_freq=False` it is taken as
    given (the caller checks the timestamps itself). Columns in `exclude` (covariates) are
    never taken as targets.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    if df.empty or len(df.columns) == 0:
        raise ValueError(f"{name} is empty")
    duplicated = df.columns[df.columns.duplicated()]
    if len(duplicated):
        raise ValueError(f"{name}: duplicate column names {list(dict.fromkeys(duplicated))}; "
                         "column names must be unique")
    stamps = _timestamps(df, time_col, name)
    if expected_columns is not None:
        expected = list(expected_columns)
        present = [c for c in df.columns if (time_col is None or c != time_col)
                   and c not in exclude]
        missing = [c for c in expected if c not in present]
        extra = [] if extra_columns_ok else [c for c in present if c not in expected]
        if missing or extra:
            raise ValueError(
                f"{name} must have the fitted columns {expected}; "
                f"missing {missing}, unexpected {extra}"
            )
        columns = _select_targets(df, expected, time_col, name)
    else:
        columns = _select_targets(df, targets, time_col, name, exclude)
    if len(df) < min_length:
        why = f" ({min_length_reason})" if min_length_reason else ""
        raise ValueError(f"{name} has {len(df)} rows; at least {min_length} are needed{why}")
    positions = [df.columns.get_loc(c) for c in columns]  # unique labels: ints
    # nullable dtypes: pd.NA becomes NaN, which check_values then locates
    values = df.iloc[:, positions].to_numpy(dtype=np.float64, copy=True, na_value=np.nan)
    check_values(values, columns, stamps, name)
    if len(stamps) == 1 and expected_freq is not None:
        infer_freq = False  # one row has no step to check; the fitted frequency continues it
    freq = _frequency(stamps, name) if infer_freq else expected_freq
    if infer_freq and expected_freq is not None and freq != expected_freq:
        raise ValueError(
            f"{name} has frequency {freq.freqstr}, but the model was fitted at "
            f"{expected_freq.freqstr}"
        )
    return Series(values=values, index=pd.DatetimeIndex(stamps, freq=None), columns=columns,
                  freq=freq)


def _first_text(column: pd.Series) -> str:
    """"; e.g. 'n/a' at row 7": the first value of an object column that is not a number."""
    if column.dtype != object:
        return ""
    numbers = pd.to_numeric(column, errors="coerce")
    bad = np.flatnonzero((numbers.isna() & column.notna()).to_numpy())
    return f"; e.g. {column.iloc[bad[0]]!r} at row {bad[0]}" if bad.size else ""
