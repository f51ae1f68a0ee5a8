"""The way back: forecast arrays to DataFrames with the user's own column labels."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd


def column_index(columns: list[Hashable]) -> pd.Index:
    """The frame columns for `columns` (a MultiIndex when the labels are tuples)."""
    if columns and all(isinstance(c, tuple) for c in columns) and len(
            {len(c) for c in columns}) == 1:
        return pd.MultiIndex.from_tuples(columns)
    return pd.Index(columns, dtype=object) if any(
        isinstance(c, tuple) for c in columns) else pd.Index(columns)


def interval_frame(columns: list[Hashable], index: pd.Index, levels: np.ndarray,
                   lower: np.ndarray, upper: np.ndarray) -> pd.DataFrame:
    """Frame from (L, H, C) bounds, columns (column, coverage, "lower"/"upper")."""
    values = np.stack([lower, upper], axis=-1)  # (L, H, C, 2)
    values = values.transpose(1, 2, 0, 3).reshape(len(index), -1)
    multi = pd.MultiIndex.from_tuples(
        [(col, c, bound) for col in columns for c in levels.tolist()
         for bound in ("lower", "upper")], names=["column", "coverage", "bound"])
    return pd.DataFrame(values, index=index, columns=multi)


def quantile_frame(columns: list[Hashable], index: pd.Index, levels: np.ndarray,
                   quantiles: np.ndarray) -> pd.DataFrame:
    """Frame from (L, H, C) quantiles, columns (column, alpha)."""
    values = quantiles.transpose(1, 2, 0).reshape(len(index), -1)
    multi = pd.MultiIndex.from_tuples([(col, a) for col in columns for a in levels.tolist()],
                                      names=["column", "alpha"])
    return pd.DataFrame(values, index=index, columns=multi)


def long_frame(ids: Sequence[Hashable], indexes: Sequence[pd.DatetimeIndex],
               values: Sequence[np.ndarray], columns: list[Hashable], *, id_col: Hashable,
               time_col: Hashable) -> pd.DataFrame:
    """A long frame from per-series forecasts: `values[i]` (H_i, C) at `indexes[i]` for series
    `ids[i]`; columns `id_col`, `time_col`, then `columns`, series in the given order."""
    n = [len(ix) for ix in indexes]
    frame = pd.DataFrame(np.concatenate(values) if values else np.empty((0, len(columns))),
                         columns=column_index(columns))
    frame.insert(0, time_col, indexes[0].append(list(indexes[1:])) if indexes else [])
    # the ids' own dtype (int64 ids stay int64), so the forecast merges with the caller's frame
    frame.insert(0, id_col, pd.Series(list(ids), dtype=None).repeat(n).to_numpy())
    return frame
