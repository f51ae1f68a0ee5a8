"""The standard long-horizon benchmark protocol: data sets, splits and seasons.

Protocol (as in the Informer / Autoformer / PatchTST line of work, but scoring every window):

* ETTh1, ETTh2: train = rows 0..8639, validation = 8640..11519, test = 11520..14399.
* WTH: 70/10/20 in time order (Time-Series-Library convention): train = the first
  int(0.7 n) rows, test = the last int(0.2 n) rows, validation between.
* Models are fitted on train, with validation as `validation_data` (early stopping only).
  The test inputs may reach back into earlier rows; the test rows are used only for scoring.
* A StandardScaler fitted on train only; MSE / MAE on scaled values over all columns, all
  horizon steps and every stride-1 test window (no drop_last).
* "M": all columns in and out; "S": the target column only (OT; WetBulbCelsius for WTH).
* Any other data set is a CSV path (`--dataset my_load.csv`): a time column ("date" or the
  first) and numeric columns, evenly spaced (`datasets.read_csv`), split 70/10/20 as WTH;
  "S" is its last column. The seasonal naive repeats the frequency's season (yesterday for
  hourly or half-hourly data; `snaive-weekly` last week), and MASE is scaled by that naive.

`--rows N` truncates a data set to its first N rows and splits it in the same proportions
(ETTh: 60/20/20), for quick runs; such results are not comparable with the full protocol.

Covariates (`--past-covariates`, `--future-covariates`, `--calendar`, `--holidays`): the frame
keeps the targets and the covariate columns, every model gets the roles as parameters
(`model_roles`), and only the targets are scored (the scaler above is fitted on the targets'
training rows). Future covariates over each test window are the file's own values, so
with measured values where a deployment would use forecasts of them the scores are an
optimistic bound. ETTh1 "MS" is `--target OT --past-covariates HUFL,HULL,MUFL,MULL,LUFL,LULL`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import cli, datasets
from .frames.calendar import resolve_calendar, resolve_holidays

Columns = str | list[str] | tuple[str, ...] | None

ETT_BORDERS = (8640, 11520, 14400)  # 12 / 4 / 4 months of hourly rows
MASE_LAG = 24  # MASE scaled by the training part's in-sample seasonal-naive (24 h) error
WEEK = pd.Timedelta(days=7)


@dataclass(frozen=True)
class Split:
    """Row borders: train = [0, train_end), validation = [train_end, test_start),
    test = [test_start, end)."""

    train_end: int
    test_start: int
    end: int

    def as_dict(self) -> dict[str, int]:
        return {"train_end": self.train_end, "test_start": self.test_start, "end": self.end}


is_file, dataset_label = cli.is_file, cli.dataset_label


def split_rows(dataset: str, n_rows: int, truncated: bool = False,
               val_size: float | int | None = None) -> Split:
    """The protocol's borders for `dataset` with `n_rows` rows (proportional if truncated;
    70/10/20 for WTH and CSV files; a CSV's validation part is `val_size` rows, or that
    fraction of all rows, before the test part when given)."""
    if val_size is not None and is_file(dataset):
        n_test = int(0.2 * n_rows)
        n_val = int(val_size) if isinstance(val_size, int) else int(round(val_size * n_rows))
        if not 0 < n_val < n_rows - n_test:
            raise ValueError(f"{dataset}: --val-size {val_size} gives {n_val} validation rows; "
                             f"it must leave training rows before them (the last {n_test} of "
                             f"{n_rows} rows are the test part)")
        return Split(n_rows - n_test - n_val, n_rows - n_test, n_rows)
    if dataset in ("ETTh1", "ETTh2"):
        if not truncated:
            if n_rows < ETT_BORDERS[-1]:
                raise ValueError(f"{dataset} needs {ETT_BORDERS[-1]} rows, has {n_rows}")
            return Split(*ETT_BORDERS)
        return Split(int(0.6 * n_rows), int(0.8 * n_rows), n_rows)
    if dataset == "WTH" or is_file(dataset):
        n_test = int(0.2 * n_rows)
        return Split(int(0.7 * n_rows), n_rows - n_test, n_rows)
    raise ValueError(f"unknown data set {dataset!r}; choose one of {list(datasets.NAMES)}")


def load_protocol(dataset: str, features: str = "M", rows: int | None = None, *,
                  target: Columns = None, time_col: str | None = None,
                  val_size: float | int | None = None, past_covariates: Columns = None,
                  future_covariates: Columns = None, calendar: Columns = None,
                  holidays: str | tuple[str, str] | None = None) -> tuple[pd.DataFrame, Split]:
    """The frame (targets per `features` and `target`, then the covariate columns) and the
    split of the protocol.

    `target` (one column or several) keeps only those as targets, whatever `features` says;
    without it "S" keeps a bundled data set's target column, and is an error for a CSV
    (which column is meant cannot be guessed), and "M" every column that is not a
    covariate. `past_covariates` and `future_covariates` are kept beside the targets;
    `calendar` and `holidays` are checked here (on the data's frequency) so that a bad name
    fails before any model runs. `time_col` and `val_size` apply to CSV files
    (`datasets.read_csv`, `split_rows`). Raises ValueError naming the file and the column.
    """
    if features not in ("M", "S"):
        raise ValueError(f"features must be 'M' or 'S', got {features!r}")
    if not is_file(dataset) and (time_col is not None or val_size is not None):
        raise ValueError(f"--time-col and --val-size apply to a CSV file; {dataset} is a "
                         "bundled data set with a fixed split")
    df = (datasets.read_csv(dataset, time_col) if is_file(dataset)
          else datasets.load(dataset))
    df = df[_columns(dataset, df, features, target, past_covariates, future_covariates)]
    if is_file(dataset) and df.isna().to_numpy().any():  # every model would reject it later
        column = df.columns[df.isna().any().to_numpy()][0]
        row = int(np.flatnonzero(df[column].isna().to_numpy())[0])
        raise ValueError(f"{dataset}: column {column!r} has a missing value at row {row} (line "
                         f"{row + 2} of the file, {df.index[row]}); fill or drop it first")
    try:
        resolve_calendar(calendar, df.index.freq)
        resolve_holidays(holidays)
    except ValueError as err:
        raise ValueError(f"{dataset}: {err}") from None
    if rows is not None:
        if rows < 200 or rows > len(df):
            raise ValueError(f"rows must be in [200, {len(df)}], got {rows}")
        df = df.iloc[:rows]
    split = split_rows(dataset, len(df), truncated=rows is not None, val_size=val_size)
    return df.iloc[: split.end], split


def _labels(value: Columns) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _columns(dataset: str, df: pd.DataFrame, features: str, target: Columns,
             past_covariates: Columns, future_covariates: Columns) -> list[str]:
    """The columns the protocol keeps: the targets, then the covariates (one role each)."""
    roles = {"--past-covariates": _labels(past_covariates),
             "--future-covariates": _labels(future_covariates)}
    if target is not None:
        roles = {"--target": _labels(target), **roles}
    role_of: dict[str, str] = {}
    for flag, columns in roles.items():
        for column in columns:
            if column not in df.columns:
                raise ValueError(f"{dataset}: no column {column!r} ({flag}); columns: "
                                 f"{list(df.columns)}")
            if column in role_of:
                raise ValueError(f"{dataset}: column {column!r} is given both in "
                                 f"{role_of[column]} and in {flag}; a column has one role")
            role_of[column] = flag
    covariates = [*roles["--past-covariates"], *roles["--future-covariates"]]
    if target is not None:
        targets = roles["--target"]
    elif features == "S" and is_file(dataset):
        raise ValueError(f"{dataset}: --features S needs --target COLUMN (the column to "
                         f"forecast); columns: {list(df.columns)}")
    elif features == "S":
        targets = [datasets.TARGETS[dataset]]
        if targets[0] in covariates:
            raise ValueError(f"{dataset}: column {targets[0]!r} is the target of --features S, "
                             f"so it cannot also be a covariate")
    else:
        targets = [c for c in df.columns if c not in covariates]
        if not targets:
            raise ValueError(f"{dataset}: every column is a covariate; nothing is left to "
                             f"forecast (columns: {list(df.columns)})")
    return [*targets, *covariates]


def model_roles(df: pd.DataFrame, data: Mapping[str, Any]) -> dict[str, Any]:
    """The role parameters every model of a run gets, from `load_protocol`'s frame and its
    keyword options `data`: `targets` (the frame's columns that are not covariates),
    `past_covariates`, `future_covariates`, `calendar`, `holidays`, those that are set; {}
    when no covariate is (the models then take every column as a target, as before)."""
    past, future = _labels(data.get("past_covariates")), _labels(data.get("future_covariates"))
    calendar, holidays = data.get("calendar"), data.get("holidays")
    if not (past or future or calendar is not None or holidays is not None):
        return {}
    roles: dict[str, Any] = {"targets": [c for c in df.columns if c not in (*past, *future)]}
    if past:
        roles["past_covariates"] = past
    if future:
        roles["future_covariates"] = future
    if calendar is not None:
        roles["calendar"] = calendar if isinstance(calendar, str) else list(calendar)
    if holidays is not None:
        roles["holidays"] = holidays
    return roles


def seasons_of(df: pd.DataFrame) -> tuple[int | None, int | None]:
    """The seasonal naive's lag (the frequency's season by `seasonality.season_from_freq`;
    None when the frequency has none) and the steps in a week for sub-daily data whose step
    divides a week (None otherwise)."""
    return seasons_of_freq(df.index.freq)


def seasons_of_freq(freq: pd.DateOffset) -> tuple[int | None, int | None]:
    """`seasons_of` for a frequency (a long frame's series share one, but no index).

    Parameters
    ----------
    freq : pandas.DateOffset
        The data's frequency.

    Returns
    -------
    tuple of (int or None, int or None)
        The season and the steps in a week, as `seasons_of`.
    """
    from .seasonality import season_from_freq

    try:
        season = season_from_freq(freq)
    except ValueError:
        season = None
    step = pd.Timedelta(freq) if isinstance(freq, pd.offsets.Tick) else None
    if step is None or step >= pd.Timedelta(days=1) or WEEK % step != pd.Timedelta(0):
        return season, None
    return season, int(WEEK / step)
