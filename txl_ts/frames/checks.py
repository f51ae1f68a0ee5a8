"""Value checks of the data layer: each raises an error that names the column, the timestamp
and the value at fault, and none modifies its input."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd

# A scaled value (in standard deviations of the training data) beyond this bound is treated as
# poison rather than data: fill values such as netCDF's 9.97e36 or 1e30 land far beyond it,
# while even a 1e6-sigma jump of a real measurement is implausible. Past about 1e7 a float32
# network also stops resolving the ordinary values beside it (24-bit mantissa), so forecasts
# would be meaningless anyway. Override per class or instance with `max_abs_scaled`.
MAX_ABS_SCALED = 1e6

# Column labels that persistence can write to JSON and read back as the same label.
_LABEL_TYPES = (str, int, float, np.integer, np.floating)


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


def check_positive_int(**params: object) -> None:
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")


def check_non_negative_int(**params: object) -> None:
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{key} must be a non-negative integer, got {value!r}")


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

