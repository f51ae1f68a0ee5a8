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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import cli, datasets

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
                  target: str | list[str] | tuple[str, ...] | None = None,
                  time_col: str | None = None,
                  val_size: float | int | None = None) -> tuple[pd.DataFrame, Split]:
    """The frame (columns per `features`) and the split of the protocol.

    `target` (one column or several) keeps only those columns, whatever `features` says;
    without it "S" keeps a bundled data set's target column, and is an error for a CSV
    (which column is meant cannot be guessed). `time_col` and `val_size` apply to CSV files
    (`datasets.read_csv`, `split_rows`). Raises ValueError naming the file and the column.
    """
    if features not in ("M", "S"):
        raise ValueError(f"features must be 'M' or 'S', got {features!r}")
    if not is_file(dataset) and (time_col is not None or val_size is not None):
        raise ValueError(f"--time-col and --val-size apply to a CSV file; {dataset} is a "
                         "bundled data set with a fixed split")
    df = (datasets.read_csv(dataset, time_col) if is_file(dataset)
          else datasets.load(dataset))
    if target is not None:
        wanted = [target] if isinstance(target, str) else list(target)
        missing = [c for c in wanted if c not in df.columns]
        if missing:
            raise ValueError(f"{dataset}: no column {missing[0]!r} (--target); columns: "
                             f"{list(df.columns)}")
        df = df[wanted]
    elif features == "S" and is_file(dataset):
        raise ValueError(f"{dataset}: --features S needs --target COLUMN (the column to "
                         f"forecast); columns: {list(df.columns)}")
    if is_file(dataset) and df.isna().to_numpy().any():  # every model would reject it later
        column = df.columns[df.isna().any().to_numpy()][0]
        row = int(np.flatnonzero(df[column].isna().to_numpy())[0])
        raise ValueError(f"{dataset}: column {column!r} has a missing value at row {row} (line "
                         f"{row + 2} of the file, {df.index[row]}); fill or drop it first")
    if rows is not None:
        if rows < 200 or rows > len(df):
            raise ValueError(f"rows must be in [200, {len(df)}], got {rows}")
        df = df.iloc[:rows]
    split = split_rows(dataset, len(df), truncated=rows is not None, val_size=val_size)
    df = df.iloc[: split.end]
    if features == "S" and target is None:
        df = df[[datasets.TARGETS[dataset]]]
    return df, split


def seasons_of(df: pd.DataFrame) -> tuple[int | None, int | None]:
    """The seasonal naive's lag (the frequency's season by `seasonality.season_from_freq`;
    None when the frequency has none) and the steps in a week for sub-daily data whose step
    divides a week (None otherwise)."""
    from .seasonality import season_from_freq

    freq = df.index.freq
    try:
        season = season_from_freq(freq)
    except ValueError:
        season = None
    step = pd.Timedelta(freq) if isinstance(freq, pd.offsets.Tick) else None
    if step is None or step >= pd.Timedelta(days=1) or WEEK % step != pd.Timedelta(0):
        return season, None
    return season, int(WEEK / step)
