"""The benchmark protocol on a long CSV: many series, one row per series and timestamp.

`python -m txl_ts benchmark|tune --dataset panel.csv --id-col unique_id --time-col ds` reads the
file with `read_long_csv` and splits every series by the protocol of a wide CSV
(`protocol.split_rows`: 70/10/20 in time order, or `--val-size` validation rows before the
last 20%), each on its own length, so series that start and end on their own dates are each
trained, validated and tested on their own rows. `load_long_protocol` does both.

Errors name the file, and where they can the series, the column and the row (a line of the
file), so the command line can show them as one line.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .datasets import _first_bad, parse_time_column
from .frames.calendar import resolve_calendar, resolve_holidays
from .frames.panel import check_one_frequency, split_long
from .frames.validate import frame_frequency
from .protocol import Columns, Split, _columns, _labels, is_file, split_rows


@dataclass(frozen=True)
class LongData:
    """A long CSV ready for the protocol.

    Attributes
    ----------
    df : DataFrame
        The long frame: `id_col`, `time_col` (parsed timestamps), the targets, then the
        covariates; each series' rows in time order, series in the order the file first
        names them.
    splits : dict
        Each series' `Split`, in row positions within that series.
    freq : pandas.DateOffset
        The frequency every series shares.
    targets, covariates : list of str
        The value columns forecast and scored, and the covariate columns.
    id_col, time_col : str
        The columns of the series ids and the timestamps.
    truncated : bool
        Whether `--rows` cut every series to its first rows.
    """

    df: pd.DataFrame
    splits: dict[Hashable, Split]
    freq: pd.DateOffset
    targets: list[str]
    covariates: list[str]
    id_col: str
    time_col: str
    truncated: bool = False

    def borders(self, name: str) -> dict[Hashable, int]:
        """{series: border} for `name` in ("train_end", "test_start", "end")."""
        return {sid: getattr(split, name) for sid, split in self.splits.items()}

    def head(self, rows: Mapping[Hashable, int]) -> pd.DataFrame:
        """The long frame of each series' first `rows[series]` rows."""
        parts = [frame.iloc[: rows[sid]] for sid, frame in self._groups()]
        return pd.concat(parts, ignore_index=True)

    def _groups(self):
        return self.df.groupby(self.id_col, sort=False)


def _read(file: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{file}: not a readable CSV file ({' '.join(str(err).split())})"
                         ) from None


def read_long_csv(file: str | Path, *, id_col: str, time_col: str, target: Columns = None,
                  past_covariates: Columns = None, future_covariates: Columns = None
                  ) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Read a long CSV: one row per series and timestamp.

    Parameters
    ----------
    file : str or Path
        The CSV: a header row, the id column, the time column and numeric value columns.
        Rows may come in any order; each series must be evenly spaced, all on one frequency.
    id_col, time_col : str
        The columns naming each row's series and holding its timestamp.
    target : str or list of str, optional
        The columns to forecast; default every value column that is not a covariate.
    past_covariates, future_covariates : str or list of str, optional
        Covariate columns kept beside the targets.

    Returns
    -------
    tuple of (DataFrame, list of str, list of str)
        The long frame (`id_col`, `time_col` parsed, targets, covariates; each series in time
        order), the targets and the covariates.

    Raises
    ------
    ValueError
        Naming the file, and the column, the row (line of the file) and the series where
        there is one: an unreadable file, a missing column, a missing id or timestamp, a
        value that is not a number or is missing, a duplicated (id, time) pair, uneven
        timestamps or series of different frequencies.
    """
    file = Path(file)
    frame = _read(file)
    for flag, col in (("--id-col", id_col), ("--time-col", time_col)):
        if col not in frame.columns:
            raise ValueError(f"{file}: no column {col!r} ({flag}); columns: "
                             f"{list(frame.columns)}")
    if id_col == time_col:
        raise ValueError(f"--id-col and --time-col both name {id_col!r}; they must name two "
                         "columns")
    ids = frame[id_col]
    if ids.isna().any():
        raise ValueError(f"{file}: the id column {id_col!r} has an empty value: "
                         f"{_first_bad(ids, ids.isna().to_numpy())}")
    values = frame.drop(columns=[id_col, time_col])
    if values.shape[1] == 0:
        raise ValueError(f"{file}: no value columns besides {id_col!r} and {time_col!r}")
    columns = _columns(str(file), values, "M", target, past_covariates, future_covariates)
    covariates = [*_labels(past_covariates), *_labels(future_covariates)]
    targets = [c for c in columns if c not in covariates]
    for column in columns:
        col = frame[column]
        if not pd.api.types.is_numeric_dtype(col):
            bad = (pd.to_numeric(col, errors="coerce").isna() & col.notna()).to_numpy()
            raise ValueError(f"{file}: column {column!r} must be numeric; "
                             f"{_first_bad(col, bad)} (series {ids.iloc[int(bad.argmax())]!r})")
        if col.isna().any():
            row = int(np.flatnonzero(col.isna().to_numpy())[0])
            raise ValueError(f"{file}: column {column!r} has a missing value at row {row} (line "
                             f"{row + 2} of the file; series {ids.iloc[row]!r}, "
                             f"{frame[time_col].iloc[row]}); fill or drop it first")
    long = frame[[id_col, time_col, *columns]].copy()
    long[time_col] = parse_time_column(file, frame[time_col], time_col)
    long[columns] = long[columns].astype("float64")
    return long, targets, covariates


def load_long_protocol(dataset: str, horizon: int, rows: int | None = None, *,
                       id_col: str, time_col: str | None = None, target: Columns = None,
                       val_size: float | int | None = None, past_covariates: Columns = None,
                       future_covariates: Columns = None, calendar: Columns = None,
                       holidays: str | tuple[str, str] | None = None) -> LongData:
    """A long CSV read, checked and split per series by the protocol.

    Parameters
    ----------
    dataset : str
        The CSV path (a bundled data set is wide, one series, and refused).
    horizon : int
        The forecast horizon: every series' test part must hold at least one window.
    rows : int, optional
        Keep each series' first `rows` rows (a quick run, not the protocol).
    id_col, time_col : str
        The id and time columns; `time_col` is required.
    target, past_covariates, future_covariates : str or list of str, optional
        As for `read_long_csv`.
    val_size : float or int, optional
        Each series' validation rows before its test part (the last 20% of its rows): a
        fraction of that series' rows or a count; default: the 70/10/20 split.
    calendar, holidays : optional
        The covariate roles, checked here on the shared frequency.

    Returns
    -------
    LongData
        The long frame, each series' split, the frequency and the columns' roles.

    Raises
    ------
    ValueError
        As `read_long_csv`; for a bundled data set name, a missing `time_col`, a bad `rows`,
        or a series too short for the split and `horizon` (naming it).
    """
    if not is_file(dataset):
        raise ValueError(f"--id-col reads a long CSV file; {dataset} is a bundled data set "
                         "(wide: one series, no id column)")
    if time_col is None:
        raise ValueError(f"--id-col {id_col} needs --time-col: name the column that holds "
                         "the timestamps")
    if rows is not None and rows < 1:
        raise ValueError(f"rows must be positive, got {rows}")
    long, targets, covariates = read_long_csv(
        dataset, id_col=id_col, time_col=time_col, target=target,
        past_covariates=past_covariates, future_covariates=future_covariates)
    # sorts each series by time; refuses a duplicated (id, time) pair naming both
    frames = split_long(long, id_col=id_col, time_col=time_col, name=dataset)
    if rows is not None:
        frames = {sid: frame.iloc[:rows] for sid, frame in frames.items()}
    freqs = {sid: frame_frequency(frame, time_col, f"{dataset}, series {sid!r}")
             for sid, frame in frames.items()}
    check_one_frequency(freqs, name=dataset)
    freq = next(iter(freqs.values()))
    try:
        resolve_calendar(calendar, freq)
        resolve_holidays(holidays)
    except ValueError as err:
        raise ValueError(f"{dataset}: {err}") from None
    splits = {sid: _series_split(dataset, sid, len(frame), horizon, val_size, rows)
              for sid, frame in frames.items()}
    df = pd.concat([frame.assign(**{id_col: sid}) for sid, frame in frames.items()],
                   ignore_index=True)
    df = df[[id_col, time_col, *targets, *covariates]]
    return LongData(df, splits, freq, targets, covariates, id_col, time_col,
                    truncated=rows is not None)


def _series_split(dataset: str, sid: Hashable, n: int, horizon: int,
                  val_size: float | int | None, rows: int | None) -> Split:
    """One series' split, as a wide CSV of its length would have it."""
    where = f"{dataset}, series {sid!r}"
    try:
        split = split_rows(dataset, n, truncated=rows is not None, val_size=val_size)
    except ValueError as err:
        raise ValueError(f"series {sid!r} ({n} rows): {err}") from None
    n_test = split.end - split.test_start
    if n_test < horizon:
        raise ValueError(f"{where} is too short: its test part (the last 20% of its {n} rows) "
                         f"has {n_test} rows, fewer than the horizon {horizon}; it needs at "
                         f"least {_rows_for_test(horizon)} rows (or a shorter --horizon)")
    if split.train_end < 1 or split.test_start <= split.train_end:
        raise ValueError(f"{where} is too short: {n} rows leave no training or validation "
                         "rows before its test part")
    return split


def _rows_for_test(horizon: int) -> int:
    """The fewest rows whose test part (`split_rows`: int(0.2 n)) holds `horizon` rows."""
    n = max(1, 5 * horizon - 2)  # int(0.2 * n) rounds floats: search near 5 * horizon
    while int(0.2 * n) < horizon:
        n += 1
    return n


def long_roles(data: LongData, options: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters every model of a long run gets: `id_col`, `time_col`, `targets` and the
    covariate roles of `options` (`benchmark.data_options`) that are set.

    Parameters
    ----------
    data : LongData
        The long CSV.
    options : mapping
        `calendar`, `holidays`, `past_covariates`, `future_covariates` (those given).

    Returns
    -------
    dict
        Constructor parameters.
    """
    roles: dict[str, Any] = {"id_col": data.id_col, "time_col": data.time_col,
                             "targets": list(data.targets)}
    for key in ("past_covariates", "future_covariates"):
        if options.get(key):
            roles[key] = _labels(options[key])
    calendar = options.get("calendar")
    if calendar is not None:
        roles["calendar"] = calendar if isinstance(calendar, str) else list(calendar)
    if options.get("holidays") is not None:
        roles["holidays"] = options["holidays"]
    return roles
