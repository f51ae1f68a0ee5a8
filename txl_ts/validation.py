"""Input validation shared by every forecaster: DataFrames in, clean float arrays out.

Every check raises an error that names what is wrong (the column, the timestamp, the minimum
length), and nothing here modifies the caller's DataFrame.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_complex_dtype, is_numeric_dtype
from pandas.tseries.frequencies import to_offset


@dataclass(frozen=True)
class Series:
    """A validated multivariate series: `values[t, c]` observed at `index[t]` for `columns[c]`."""

    values: np.ndarray  # (T, C) float64, a private copy
    index: pd.DatetimeIndex
    columns: list[Hashable]  # the frame's own labels (str, int, tuple for a MultiIndex, ...)
    freq: pd.DateOffset


# A scaled value (in standard deviations of the training data) beyond this bound is treated as
# poison rather than data: fill values such as netCDF's 9.97e36 or 1e30 land far beyond it,
# while even a 1e6-sigma jump of a real measurement is implausible. Past about 1e7 a float32
# network also stops resolving the ordinary values beside it (24-bit mantissa), so forecasts
# would be meaningless anyway. Override per class or instance with `max_abs_scaled`.
MAX_ABS_SCALED = 1e6

# Column labels that persistence can write to JSON and read back as the same label.
_LABEL_TYPES = (str, int, float, np.integer, np.floating)


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
        raise ValueError(f"{name}: duplicate timestamp {stamps[duplicated][0]}")
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


def check_label(label: object, name: str) -> None:
    """Column labels are kept as given; they must be ones that a saved model can restore."""
    if isinstance(label, tuple):
        for part in label:
            check_label(part, name)
        return
    if (isinstance(label, (bool, np.bool_)) or not isinstance(label, _LABEL_TYPES)
            or (isinstance(label, (float, np.floating)) and not np.isfinite(label))):
        raise TypeError(
            f"{name}: column label {label!r} of type {type(label).__name__} is not supported; "
            "labels must be str, int or float (or tuples of them for a MultiIndex): rename "
            "the columns, e.g. df.columns = df.columns.map(str)"
        )


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
    df: pd.DataFrame, targets: Sequence[Hashable] | None, time_col: Hashable | None, name: str
) -> list[Hashable]:
    candidates = [c for c in df.columns if c != time_col]
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
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"targets {chosen} name a column more than once")
        missing = [c for c in chosen if c not in candidates]
        if missing:
            raise ValueError(f"{name}: target columns {missing} are not in the frame")
        for c in chosen:
            if not _is_target_dtype(df[c]):
                raise TypeError(
                    f"{name}: target column {c!r} is not numeric (dtype {df[c].dtype})")
    for c in chosen:
        check_label(c, name)
    return chosen


def check_values(values: np.ndarray, columns: list[Hashable], index: pd.DatetimeIndex,
                 name: str) -> None:
    """Raise if any value is NaN or infinite, naming the column and the first timestamp."""
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(values[row, col]) else "infinite value"
        raise ValueError(
            f"{name}: {kind} in column {columns[col]!r} at {index[row]} "
            f"({int(bad[:, col].sum())} such values in that column); fill or drop them first"
        )


def check_scaled(scaled: np.ndarray, raw: np.ndarray, columns: list[Hashable],
                 index: pd.DatetimeIndex, name: str, bound: float) -> None:
    """Raise if a scaled value is not finite or lies beyond `bound` standard deviations,
    naming the column, the timestamp and the raw value."""
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(scaled) <= bound)  # also catches NaN
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}: value {float(raw[row, col])!r} in column {columns[col]!r} at "
            f"{index[row]} is "
            f"{abs(scaled[row, col]):.3g} standard deviations of the training data from its "
            f"mean (bound max_abs_scaled={bound:g}; {int(bad[:, col].sum())} such values in "
            "that column); it looks like a fill value or a unit error: fix or drop it first"
        )


def check_outliers(values: np.ndarray, columns: list[Hashable], index: pd.DatetimeIndex,
                   name: str, bound: float) -> None:
    """Reject training values absurdly far from the bulk of their column.

    A fill value such as 1e30 would dominate the standard deviation and so look tame after
    scaling; measured against the median and a robust spread (MAD, or the standard deviation
    where the MAD is 0) it stands out. Also rejects columns whose scaling overflows float64.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        center = np.median(values, axis=0)
        dev = np.abs(values - center)
        spread = 1.4826 * np.median(dev, axis=0)
        std = np.std(values, axis=0)
        spread = np.where(spread > 0, spread, std)
        for c, col in enumerate(columns):
            if not (np.isfinite(center[c]) and np.isfinite(std[c])
                    and np.isfinite(np.mean(values[:, c]))):
                row = int(np.argmax(np.abs(values[:, c])))
                raise ValueError(
                    f"{name}: column {col!r} cannot be standardised in float64 (its mean or "
                    f"standard deviation overflows; largest value {float(values[row, c])!r} at "
                    f"{index[row]}); rescale the column first"
                )
        ratio = np.where(spread > 0, dev / np.where(spread > 0, spread, 1.0), 0.0)
    bad = ~(ratio <= bound)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}: value {float(values[row, col])!r} in column {columns[col]!r} at "
            f"{index[row]} is "
            f"{ratio[row, col]:.3g} robust standard deviations from the column's median "
            f"(bound max_abs_scaled={bound:g}); it looks like a fill value or a unit error: "
            "fix or drop it first"
        )


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
) -> Series:
    """Validate a user frame and return a private float64 copy of its target values.

    `expected_columns` (from a fitted model) must match the frame's targets exactly, or, with
    `extra_columns_ok` (the model was fitted with explicit targets), be among its columns;
    `expected_freq` must match the inferred frequency; with `infer_freq=False` it is taken as
    given (the caller checks the timestamps itself).
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
        present = [c for c in df.columns if c != time_col]
        missing = [c for c in expected if c not in present]
        extra = [] if extra_columns_ok else [c for c in present if c not in expected]
        if missing or extra:
            raise ValueError(
                f"{name} must have the fitted columns {expected}; "
                f"missing {missing}, unexpected {extra}"
            )
        columns = _select_targets(df, expected, time_col, name)
    else:
        columns = _select_targets(df, targets, time_col, name)
    if len(df) < min_length:
        why = f" ({min_length_reason})" if min_length_reason else ""
        raise ValueError(f"{name} has {len(df)} rows; at least {min_length} are needed{why}")
    positions = [df.columns.get_loc(c) for c in columns]  # unique labels: ints
    # nullable dtypes: pd.NA becomes NaN, which check_values then locates
    values = df.iloc[:, positions].to_numpy(dtype=np.float64, copy=True, na_value=np.nan)
    check_values(values, columns, stamps, name)
    freq = _frequency(stamps, name) if infer_freq else expected_freq
    if infer_freq and expected_freq is not None and freq != expected_freq:
        raise ValueError(
            f"{name} has frequency {freq.freqstr}, but the model was fitted at "
            f"{expected_freq.freqstr}"
        )
    return Series(values=values, index=pd.DatetimeIndex(stamps, freq=None), columns=columns,
                  freq=freq)


def check_positive_int(**params: object) -> None:
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")


def check_non_negative_int(**params: object) -> None:
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{key} must be a non-negative integer, got {value!r}")


def future_index(last: pd.Timestamp, freq: pd.DateOffset, horizon: int) -> pd.DatetimeIndex:
    """The `horizon` timestamps that follow `last` at `freq`."""
    return pd.date_range(start=last + freq, periods=horizon, freq=freq)


def check_cutoffs(cutoffs: object, n_rows: int, min_known: int) -> np.ndarray:
    """Integer cutoffs (row positions) with at least `min_known` rows up to each, inside a
    frame of `n_rows` rows."""
    raw = np.asarray(cutoffs)
    if raw.ndim != 1 or not (np.issubdtype(raw.dtype, np.integer) or raw.size == 0):
        raise ValueError("cutoffs must be a 1-d array of integer row positions")
    if raw.size and (raw.min() < min_known - 1 or raw.max() >= n_rows):
        raise ValueError(
            f"cutoffs must lie in [{min_known - 1}, {n_rows - 1}] (at least {min_known} known "
            f"rows, within df of {n_rows} rows); got range [{raw.min()}, {raw.max()}]"
        )
    return raw.astype(np.int64)


# ---- fast path for streaming: small frames that continue a known timeline ------------------
class FutureStamps:
    """The timestamps after a last known one at `freq`, computed a block at a time.

    Streaming moves the last timestamp by one or a few steps per call; one `future_index` per
    block (the same `pd.date_range` as computing them afresh, so DST and calendar offsets come
    out identical) then serves hundreds of calls with a lookup and a slice. It is a cache
    derived from (last timestamp, freq) only: lookups go by the timestamp's value, so a
    model's state never has to keep it in sync, and a failed call cannot leave it stale.
    A block is replaced whole (one attribute), so concurrent readers never mix two blocks.
    """

    def __init__(self, freq: pd.DateOffset, spare: int = 256):
        self.freq, self.spare = freq, spare
        # (block, i8, tz, unit): block[k] is step k + 1 after the anchor; i8 holds
        # [anchor, *block] as int64 in `unit` (UTC for tz-aware stamps)
        self._cache: tuple[pd.DatetimeIndex, np.ndarray, object, str] | None = None

    def _lookup(self, last: pd.Timestamp, n: int) -> tuple[pd.DatetimeIndex, np.ndarray, int]:
        """(block, i8, p): block[p:p + n] are the `n` stamps after `last`; p = -1 where no
        block can hold them (then compute them afresh)."""
        for attempt in range(2):
            cache = self._cache
            if cache is not None and last.tz is cache[2] and last.unit == cache[3]:
                block, i8 = cache[0], cache[1]
                value = last.to_datetime64().astype(np.int64)
                p = int(np.searchsorted(i8, value))
                if p < len(i8) and i8[p] == value and p + n <= len(block):
                    return block, i8, p
            if attempt == 0 and not self._rebuild(last, n):
                break
        return pd.DatetimeIndex([]), np.empty(0, dtype=np.int64), -1

    def _rebuild(self, last: pd.Timestamp, n: int) -> bool:
        try:
            block = future_index(last, self.freq, n + self.spare)
        except (OverflowError, ValueError):  # beyond the datetime range: no spare room
            return False
        if block.unit != last.unit:  # a sub-unit frequency: the lookup by value would not hold
            return False
        anchor = last.to_datetime64().astype(np.int64)
        self._cache = (block, np.concatenate([[anchor], block.asi8]), last.tz, last.unit)
        return True

    def index(self, last: pd.Timestamp, n: int) -> pd.DatetimeIndex:
        """`future_index(last, freq, n)`, from the cached block when it covers them."""
        block, _, p = self._lookup(last, n)
        return future_index(last, self.freq, n) if p < 0 else block[p : p + n]

    def values(self, last: pd.Timestamp, n: int) -> tuple[np.ndarray, str] | None:
        """The next `n` stamps as int64 in unit `unit` (UTC for tz-aware), or None."""
        _, i8, p = self._lookup(last, n)
        return None if p < 0 else (i8[p + 1 : p + 1 + n], last.unit)


def fast_continuation(
    df: object, columns: Sequence[object], expected: np.ndarray, unit: str, tz: object
) -> np.ndarray | None:
    """Values (T, C) float64 (a private copy) of a frame that continues a timeline, checked
    with numpy only; None when any check fails or the frame is unusual.

    Accepting means: a DataFrame with a DatetimeIndex in time zone `tz` and unit `unit`
    whose int64 stamps equal `expected` (so no gap, overlap, duplicate, NaT or other
    frequency), columns exactly `columns` in order, plain numeric non-bool dtypes, every
    value finite. None is not a verdict: the caller then runs the strict pandas path, which
    either accepts the frame too or raises the error that names what is wrong. So the fast
    path can only be more conservative than the strict one, never more lenient.
    """
    if type(df) is not pd.DataFrame or not isinstance(df.index, pd.DatetimeIndex):
        return None
    index = df.index
    if len(index) != len(expected) or index.tz is not tz or index.unit != unit:
        return None
    labels = df.columns.tolist()
    if len(labels) != len(columns) or any(
        type(a) is not type(b) or a != b for a, b in zip(labels, columns)
    ):
        return None
    if not np.array_equal(index.asi8, expected):
        return None
    # plain numpy int/float columns only: bool, object, datetime and every extension dtype
    # (categorical, sparse, nullable, arrow) take the strict path, even where to_numpy would
    # turn them into floats (a categorical of floats does)
    if not all(isinstance(dt, np.dtype) and dt.kind in "fiu" for dt in df.dtypes):
        return None
    values = df.to_numpy()  # one block: a view; several numeric blocks: a new array
    if values.dtype.kind not in "fiu":
        return None
    values = np.array(values, dtype=np.float64)  # private copy
    if not np.isfinite(values).all():
        return None
    return values
