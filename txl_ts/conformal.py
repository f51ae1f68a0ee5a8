"""Split-conformal calibration of point forecasts, per horizon step and per column.

At fit, a forecaster forecasts every stride-1 origin of its time-ordered calibration tail whose
whole horizon is known, and `Calibration.from_residuals` turns the residuals `y - y_hat`
(n_windows, H, C) into two small tables of finite-sample conformal quantiles:

* `abs_table` (coverage levels, H, C): the `ceil((n + 1) * coverage)`-th smallest |residual|.
  `y_hat +- abs_table` is a symmetric interval: nested in the coverage, always containing the
  point forecast, and covering a new exchangeable residual with probability >= coverage.
* `signed_table` (alpha levels, H, C): for alpha < 0.5 the `floor((n + 1) * alpha)`-th
  smallest residual, else the `ceil((n + 1) * alpha)`-th; `y_hat + signed_table` are the
  quantile forecasts. Order statistics of one sample at non-decreasing ranks are
  non-decreasing, so the quantiles are monotone in alpha by construction.

Only the tables at the fixed grids `COVERAGE_GRID` and `ALPHA_GRID` are kept, not the raw
residuals: at H=720 with 21 columns and ~2,800 windows those would be 42 million numbers
(about 800 MB as JSON), while the tables hold 37 x H x C numbers (560 thousand, about 6 MB of
JSON), rounded to 8 significant digits at fit to keep the file short (JSON writes floats
exactly, so a saved and loaded model gives identical intervals either way). A level on a grid
is exact; one between two grid levels is interpolated linearly between them (still monotone);
below the coverage grid the half width shrinks linearly to 0 at coverage 0. Coverage above
0.99 and alpha outside [0.005, 0.995] are refused. A level whose conformal rank exceeds the
calibration windows (coverage c needs `ceil(c / (1 - c))` windows, 99 for 0.99) is stored as
infinite and refused with an error that names the minimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

COVERAGE_GRID = (0.2, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99)
ALPHA_GRID = tuple(sorted({0.5} | {round(0.5 + s * c / 2, 6) for c in COVERAGE_GRID
                                   for s in (-1, 1)}))
SIGNIFICANT_DIGITS = 8


class CalibrationError(ValueError):
    """The calibration tail holds too few windows for the requested level."""


def check_levels(levels: float | Sequence[float], name: str) -> np.ndarray:
    """Sorted unique levels in (0, 1) as an array; ValueError naming `name` otherwise."""
    arr = np.atleast_1d(np.asarray(levels, dtype=object))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number in (0, 1) or a non-empty list of them, "
                         f"got {levels!r}")
    out = []
    for v in arr:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be numbers in (0, 1), got {v!r}")
        if not 0.0 < float(v) < 1.0:
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {v}")
        out.append(float(v))
    return np.unique(out)


def min_windows(coverage: float) -> int:
    """Calibration windows n for which the conformal rank ceil((n + 1) c) is at most n."""
    return max(1, math.ceil(coverage / (1.0 - coverage) - 1e-9))


def _alpha_windows(a: float) -> int:
    """Calibration windows for quantile level `a`: rank floor((n + 1) a) >= 1, or
    ceil((n + 1) a) <= n for a >= 0.5."""
    return math.ceil(1 / a - 1 - 1e-9) if a < 0.5 else min_windows(a)


def _order_stat(sorted_r: np.ndarray, k: int, n: int) -> np.ndarray:
    """The k-th smallest (1-based) along axis 0; -inf below rank 1, +inf above rank n."""
    if k < 1:
        return np.full(sorted_r.shape[1:], -np.inf)
    if k > n:
        return np.full(sorted_r.shape[1:], np.inf)
    return sorted_r[k - 1]


def _round(table: np.ndarray) -> np.ndarray:
    finite = np.isfinite(table)
    out = table.copy()
    out[finite] = np.array([float(f"{v:.{SIGNIFICANT_DIGITS - 1}e}") for v in table[finite]])
    return out


@dataclass(frozen=True)
class Calibration:
    """Conformal quantile tables of one fitted forecaster (see the module docstring)."""

    n_windows: int  # calibration windows (stride-1 origins with a fully known horizon)
    tail_rows: int  # rows of the calibration tail
    abs_table: np.ndarray  # (len(COVERAGE_GRID), H, C), original units
    signed_table: np.ndarray  # (len(ALPHA_GRID), H, C), original units

    @classmethod
    def from_residuals(cls, residuals: np.ndarray, tail_rows: int, horizon: int,
                       n_columns: int) -> Calibration:
        """Tables from residuals `y - y_hat` of shape (n_windows, H, C)."""
        n = residuals.shape[0]
        # ranks use a 1e-9 slack so that (n + 1) * level = 19.000000000000004 gives rank 19
        abs_table = np.full((len(COVERAGE_GRID), horizon, n_columns), np.inf)
        signed_table = np.full((len(ALPHA_GRID), horizon, n_columns), np.inf)
        signed_table[np.asarray(ALPHA_GRID) < 0.5] = -np.inf
        for c in range(n_columns):  # one column at a time bounds the sorted copies' memory
            r = residuals[:, :, c]  # (n, H)
            abs_sorted, signed_sorted = np.sort(np.abs(r), axis=0), np.sort(r, axis=0)
            for i, level in enumerate(COVERAGE_GRID):
                abs_table[i, :, c] = _order_stat(abs_sorted, math.ceil((n + 1) * level - 1e-9),
                                                 n)
            for i, a in enumerate(ALPHA_GRID):
                k = (math.floor((n + 1) * a + 1e-9) if a < 0.5
                     else math.ceil((n + 1) * a - 1e-9))
                signed_table[i, :, c] = _order_stat(signed_sorted, k, n)
        return cls(int(n), int(tail_rows), _round(abs_table), _round(signed_table))

    def scaled(self, factor: np.ndarray) -> Calibration:
        """These tables in other units: every column c multiplied by `factor[c]` (> 0)."""
        factor = np.asarray(factor, dtype=np.float64)
        return replace(self, abs_table=self.abs_table * factor,
                       signed_table=self.signed_table * factor)

    # ---- lookup ---------------------------------------------------------------------------
    def _too_few(self, what: str, need: int) -> CalibrationError:
        horizon = self.abs_table.shape[1]
        return CalibrationError(
            f"{what} needs at least {need} calibration windows, i.e. a calibration tail of at "
            f"least {horizon + need - 1} rows at horizon {horizon}; this model has "
            f"{self.n_windows} (from a tail of {self.tail_rows} rows). Coverage c needs "
            "ceil(c / (1 - c)) windows (4 for 0.8, 19 for 0.95, 99 for 0.99): refit with a "
            "longer validation tail (val_size or validation_data), or ask for a lower level"
        )

    def _between(self, what: str, level: float, grid: np.ndarray, table: np.ndarray,
                 need: Callable[[float], int]) -> np.ndarray:
        """Raise the error for a level whose table entries are not calibrated: a level on the
        grid needs its own windows; one between two grid levels is interpolated from both
        neighbours, so it needs the windows of the one that is not calibrated."""
        on_grid = np.isclose(grid, level, rtol=0, atol=1e-12)
        if on_grid.any():
            raise self._too_few(what, need(level))
        hi = int(np.searchsorted(grid, level))
        neighbours = [float(g) for g in grid[max(hi - 1, 0) : hi + 1]]
        missing = [g for g in neighbours if not np.isfinite(table[list(grid).index(g)]).all()]
        available = [float(g) for g, t in zip(grid, table) if np.isfinite(t).all()]
        g = missing[-1] if missing else neighbours[-1]
        horizon = table.shape[1]
        usable = f"at or below {available[-1]:g}" if available else "none: refit first"
        raise CalibrationError(
            f"{what} lies between the calibrated levels {neighbours[0]:g} and "
            f"{neighbours[-1]:g} and is interpolated from both; level {g:g} needs at least "
            f"{need(g)} calibration windows (a calibration tail of at least "
            f"{horizon + need(g) - 1} rows at horizon {horizon}), and this model has "
            f"{self.n_windows} (from a tail of {self.tail_rows} rows). Calibrated levels: "
            f"{', '.join(f'{v:g}' for v in available) or 'none'}; any level between two of "
            f"them works. Ask for a level {usable}, or refit with a longer validation tail "
            "(val_size or validation_data)"
        )

    def half_widths(self, coverages: np.ndarray) -> np.ndarray:
        """(len(coverages), H, C) half widths of the symmetric intervals."""
        grid = np.asarray(COVERAGE_GRID)
        too_high = coverages[coverages > grid[-1]]
        if too_high.size:
            raise ValueError(f"coverage {too_high[0]} is above {grid[-1]}, the highest level "
                             "the calibration stores")
        table = np.concatenate([np.zeros((1, *self.abs_table.shape[1:])), self.abs_table])
        out = _interpolate(np.concatenate([[0.0], grid]), table, coverages)
        bad = ~np.isfinite(out).all(axis=(1, 2))
        if bad.any():
            c = float(coverages[bad][0])
            return self._between(f"coverage {c}", c, grid, self.abs_table, min_windows)
        return out

    def offsets(self, alphas: np.ndarray) -> np.ndarray:
        """(len(alphas), H, C) quantile offsets added to the point forecast."""
        grid = np.asarray(ALPHA_GRID)
        outside = alphas[(alphas < grid[0]) | (alphas > grid[-1])]
        if outside.size:
            raise ValueError(f"alpha {outside[0]} is outside [{grid[0]}, {grid[-1]}], the "
                             "levels the calibration stores")
        out = _interpolate(grid, self.signed_table, alphas)
        bad = ~np.isfinite(out).all(axis=(1, 2))
        if bad.any():
            a = float(alphas[bad][0])
            return self._between(f"alpha {a}", a, grid, self.signed_table, _alpha_windows)
        return out

    # ---- persistence ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        def table(t: np.ndarray) -> list:
            return np.where(np.isfinite(t), t, np.nan).tolist()  # NaN -> null below

        return {"n_windows": self.n_windows, "tail_rows": self.tail_rows,
                "coverage_grid": list(COVERAGE_GRID), "alpha_grid": list(ALPHA_GRID),
                "abs_table": _nan_to_none(table(self.abs_table)),
                "signed_table": _nan_to_none(table(self.signed_table))}

    @classmethod
    def from_json(cls, state: dict[str, Any], horizon: int, n_columns: int) -> Calibration:
        """Tables written by `to_json`, checked against the model's horizon and columns;
        ValueError (or KeyError / TypeError) on anything malformed."""
        if (tuple(state["coverage_grid"]) != COVERAGE_GRID
                or tuple(state["alpha_grid"]) != ALPHA_GRID):
            raise ValueError("the saved calibration uses other level grids than this version")
        n_windows, tail_rows = state["n_windows"], state["tail_rows"]
        for name, v in (("n_windows", n_windows), ("tail_rows", tail_rows)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        tables = []
        for name, grid in (("abs_table", COVERAGE_GRID), ("signed_table", ALPHA_GRID)):
            raw = np.array(state[name], dtype=object)
            if raw.shape != (len(grid), horizon, n_columns):
                raise ValueError(f"{name} has shape {raw.shape}, expected "
                                 f"{(len(grid), horizon, n_columns)}")
            flat = raw.ravel()
            if any(v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)))
                   for v in flat):
                raise ValueError(f"{name} must hold numbers or null")
            table = np.array([np.nan if v is None else v for v in flat],
                             dtype=np.float64).reshape(raw.shape)
            tables.append(table)
        abs_table, signed_table = tables
        abs_table[np.isnan(abs_table)] = np.inf  # a missing level: "too few windows"
        lower = (np.asarray(ALPHA_GRID) < 0.5)[:, None, None]
        missing = np.isnan(signed_table)
        signed_table[missing & lower] = -np.inf
        signed_table[missing & ~lower] = np.inf
        with np.errstate(invalid="ignore"):
            if (abs_table < 0).any() or (np.diff(abs_table, axis=0) < 0).any() or (
                    np.diff(signed_table, axis=0) < 0).any():
                raise ValueError("the quantile tables must be non-negative (abs_table) and "
                                 "non-decreasing in the level")
        return cls(n_windows, tail_rows, abs_table, signed_table)


def _interpolate(grid: np.ndarray, table: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Linear interpolation of table (len(grid), ...) at `levels`, exact on the grid."""
    hi = np.clip(np.searchsorted(grid, levels, side="left"), 1, len(grid) - 1)
    lo = hi - 1
    w = (levels - grid[lo]) / (grid[hi] - grid[lo])
    w = w.reshape(-1, *([1] * (table.ndim - 1)))
    a, b = table[lo], table[hi]
    with np.errstate(invalid="ignore"):  # inf - inf where a level is missing: NaN, refused
        # a + w (b - a), clipped to [a, b]: exact on the grid and monotone despite rounding
        out = np.clip(a + w * (b - a), a, b)
    out = np.where(w == 1.0, b, out)
    return np.where(w == 0.0, a, out)


def _nan_to_none(nested: list) -> list:
    if isinstance(nested, list):
        return [_nan_to_none(v) for v in nested]
    return None if nested != nested else nested
