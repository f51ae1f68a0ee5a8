"""Timestamps after a forecast origin, and the numpy-only fast path for frames that continue a
known timeline (streaming updates)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def future_index(last: pd.Timestamp, freq: pd.DateOffset, horizon: int) -> pd.DatetimeIndex:
    """The `horizon` timestamps that follow `last` at `freq`."""
    return pd.date_range(start=last + freq, periods=horizon, freq=freq)


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

