"""A panel: one or more validated series on one frequency, each of its own length.

A wide frame (a DatetimeIndex or `time_col`, one column per target) is a panel of one series.
A long frame (`id_col`, `time_col`, target columns; one row per series and timestamp) is a
panel of as many series as it has ids, which may start and end on their own dates. Series are
kept in the order their ids first appear, each as a `Series` with a private float64 copy of
its values.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from .checks import check_label
from .validate import Series, validate_frame


@dataclass(frozen=True)
class Panel:
    """Series `series[i]` is named `ids[i]`; all share `columns` and `freq`."""

    ids: tuple[Hashable, ...]
    series: tuple[Series, ...]
    columns: list[Hashable]
    freq: pd.DateOffset

    @classmethod
    def of(cls, series: Series, series_id: Hashable = 0) -> Panel:
        """The panel of one (wide) series."""
        return cls((series_id,), (series,), list(series.columns), series.freq)

    @property
    def n_series(self) -> int:
        return len(self.series)

    @property
    def lengths(self) -> np.ndarray:
        """Rows per series, (S,) int64."""
        return np.array([len(s.values) for s in self.series], dtype=np.int64)

    def __getitem__(self, series_id: Hashable) -> Series:
        try:
            return self.series[self.ids.index(series_id)]
        except ValueError:
            raise KeyError(f"no series {series_id!r} in this panel; it has {list(self.ids)}"
                           ) from None


def _long_ids(df: object, id_col: Hashable, time_col: Hashable, name: str) -> pd.Series:
    """The id column of a long frame, after the checks every reader of one makes."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    if id_col == time_col:
        raise ValueError(f"id_col and time_col are both {id_col!r}; they must name two "
                         "columns")
    for role, col in (("id_col", id_col), ("time_col", time_col)):
        if col not in df.columns:
            raise ValueError(f"{name}: {role}={col!r} is not a column of the frame "
                             f"(columns: {list(df.columns)})")
    if df.empty:
        raise ValueError(f"{name} is empty")
    ids = df[id_col]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise ValueError(f"{name}: missing series id in column {id_col!r} at row {row}")
    return ids


def split_long(df: object, *, id_col: Hashable, time_col: Hashable, name: str = "df"
               ) -> dict[Hashable, pd.DataFrame]:
    """Split a long frame into one wide frame per series, in the order ids first appear.

    Each frame keeps `time_col` as a column and every column but `id_col`, its rows sorted by
    time. The caller's frame is never modified.

    Raises
    ------
    TypeError
        If `df` is not a DataFrame.
    ValueError
        If `id_col` or `time_col` is not a column (or they are the same), the frame is empty,
        a row has no id or no parseable timestamp, or a series repeats a timestamp (the
        message names the row or the timestamp, and the series).
    """
    ids = _long_ids(df, id_col, time_col, name)
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(df[time_col]))
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name}: column {time_col!r} cannot be parsed as timestamps: "
                         f"{err}") from err
    if stamps.hasnans:
        row = int(np.flatnonzero(stamps.isna())[0])
        raise ValueError(f"{name}, series {ids.iloc[row]!r}: missing timestamp (NaT) in "
                         f"column {time_col!r} at row {row}")
    ticks = stamps.asi8
    frames = {}
    for sid, positions in ids.groupby(ids, sort=False).indices.items():
        check_label(sid, f"{name}: series id")
        order = positions[np.argsort(ticks[positions], kind="stable")]
        repeated = np.flatnonzero(np.diff(ticks[order]) == 0)
        if repeated.size:
            raise ValueError(f"{name}, series {sid!r}: duplicate timestamp "
                             f"{stamps[order[repeated[0]]]} (two rows of the same "
                             f"({id_col!r}, {time_col!r}) pair)")
        frame = df.iloc[order].drop(columns=[id_col])
        # a column is object-typed for every series if one series holds text: give each
        # series the dtype its own values have, so that validation names the series at fault
        mixed = [c for c in frame.columns if frame[c].dtype == object and c != time_col]
        if mixed:
            frame[mixed] = frame[mixed].infer_objects()
        frames[sid] = frame
    return frames


def check_one_frequency(freqs: dict[Hashable, pd.DateOffset], name: str = "df") -> None:
    """Raise ValueError naming the first series whose frequency differs from the first's."""
    items = list(freqs.items())
    first, freq = items[0]
    for sid, other in items[1:]:
        if other != freq:
            raise ValueError(f"{name}, series {sid!r} has frequency {other.freqstr}, but "
                             f"series {first!r} has {freq.freqstr}; all series must share "
                             "one frequency")


def validate_long(
    df: object,
    *,
    id_col: Hashable,
    time_col: Hashable,
    targets: Sequence[Hashable] | None = None,
    min_length: int = 1,
    min_length_reason: str = "",
    name: str = "df",
) -> Panel:
    """Validate a long frame and split it into a `Panel`, one series per id.

    Rows need not be sorted by id; within a series they must be in time order. The caller's
    frame is never modified.

    Parameters
    ----------
    df : DataFrame
        The long frame: one row per series and timestamp.
    id_col : label
        The column naming each row's series. Series keep the order their ids first appear.
    time_col : label
        The column holding the timestamps.
    targets : sequence of labels, optional
        The value columns. Default None: every column but `id_col` and `time_col` (which
        must then all be numeric). Pass it to leave other columns out.
    min_length : int, default 1
        The fewest rows each series must have (a model's minimum fit length).
    min_length_reason : str, default ""
        Why `min_length` is needed, quoted in the error of a short series.
    name : str, default "df"
        What the frame is called in error messages.

    Returns
    -------
    Panel
        The series, their ids, the shared columns and frequency.

    Raises
    ------
    TypeError
        If `df` is not a DataFrame.
    ValueError
        Naming the series and, where there is one, the timestamp: a missing id, time or
        target column, an empty frame, a missing id, a duplicated `(id, time)` pair, a
        missing value, a series too short, a series whose frequency differs from the
        others', or only one-row series (no frequency to infer).
    """
    ids = _long_ids(df, id_col, time_col, name)
    frame = df.drop(columns=[id_col])
    if targets is None:  # every numeric column but the time column, as in a wide frame
        targets = [c for c in frame.columns if c != time_col]
    order = list(dict.fromkeys(ids.tolist()))
    series, freq, freq_of = [], None, None
    positions = ids.groupby(ids, sort=False).indices  # id -> row positions, in frame order
    for sid in order:
        check_label(sid, f"{name}: series id")
        part = frame.iloc[positions[sid]]
        where = f"{name}, series {sid!r}"
        s = validate_frame(part, time_col=time_col, targets=targets, min_length=min_length,
                           min_length_reason=min_length_reason, name=where,
                           infer_freq=len(part) >= 2,
                           expected_freq=None if len(part) >= 2 else freq)
        if freq is None and len(part) >= 2:
            freq, freq_of = s.freq, sid
        elif freq is not None and s.freq != freq:
            raise ValueError(f"{where} has frequency {s.freq.freqstr}, but series {freq_of!r} "
                             f"has {freq.freqstr}; all series must share one frequency")
        series.append(s)
    if freq is None:
        raise ValueError(f"{name}: every series has a single row; at least one needs 2 "
                         "timestamps to infer the frequency")
    # a one-row series took the panel's frequency on trust: give it the panel's
    series = [s if s.freq is not None else Series(s.values, s.index, s.columns, freq)
              for s in series]
    return Panel(tuple(order), tuple(series), list(series[0].columns), freq)


def fit_scalers(panel: Panel, train_rows: Sequence[int] | None = None) -> list[StandardScaler]:
    """One StandardScaler per series: train-only statistics per series and column, so series
    of very different scales are each standardised by their own.

    Parameters
    ----------
    panel : Panel
        The series, from `validate_long` or `Panel.of`.
    train_rows : sequence of int, optional
        Per series, how many of its leading rows are training rows (the scaler sees only
        those). Default None: all rows. Pass it when the tail of each series is held out.

    Returns
    -------
    list of sklearn.preprocessing.StandardScaler
        One fitted scaler per series, in the panel's order.

    Raises
    ------
    ValueError
        If `train_rows` has not one entry per series, or an entry is outside
        [1, rows of its series].
    """
    n = panel.lengths if train_rows is None else np.asarray(train_rows, dtype=np.int64)
    if len(n) != panel.n_series:
        raise ValueError(f"train_rows has {len(n)} entries for {panel.n_series} series")
    scalers = []
    for sid, s, rows in zip(panel.ids, panel.series, n):
        if rows < 1 or rows > len(s.values):
            raise ValueError(f"series {sid!r}: train_rows={int(rows)} is outside "
                             f"[1, {len(s.values)}]")
        scalers.append(StandardScaler().fit(s.values[:rows]))
    return scalers
