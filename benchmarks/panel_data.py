"""The many-series benchmark panel: three real hourly series of different starts and lengths,
as a long frame (`unique_id`, `ds`, `y`), with its split, test windows and scoring.

Every runner of the panel (the library's models, the peers in `benchmarks.panel_peers`)
imports this module, so that all of them see the same rows and are scored the same way. It
imports numpy, pandas and `txl_ts.datasets` only: no model code, no torch.

Protocol
--------
Series (rows are 0-based positions in the bundled CSV, half-open):

* ``ETTh1_OT``: ETTh1, column OT, rows [0, 14400).
* ``ETTh2_OT``: ETTh2, column OT, rows [2880, 17420).
* ``WTH_WetBulbCelsius``: WTH, column WetBulbCelsius, the last 12,000 rows of the file.

Split, per series, by fixed row counts (the same for every series, so that one ``val_size`` /
``test_size`` serves NeuralForecast and statsforecast): TEST = the last `TEST_ROWS` (2,400)
rows, VALIDATION = the `VAL_ROWS` (1,200) rows before them, TRAIN = the rest
(`split_rows`). Validation rows are for early stopping and selection only; a model may be
refitted on TRAIN + VALIDATION (`fit_frame`) and must then say so.

Test windows: horizon `HORIZON` (24). A window's cutoff c is a 0-based row of its series;
rows [0, c] are known and rows c+1 .. c+H are forecast. Every stride-1 cutoff with
c >= test_start - 1 and c + H <= n - 1 is scored (`cutoffs`): 2,377 windows per series.
Inputs may reach back into validation and training rows; test rows are never used before
the cutoff that makes them known.

Scores (`score`): for each series, MSE and MAE over all its windows and horizon steps of
(forecast - actual) / std, with the series' TRAIN-row std (ddof 0); the mean cancels in the
difference, so this equals the error of values z-scored with the TRAIN mean and std. Pooled:
the unweighted mean of the three per-series MSEs (MAEs), each series weighing the same.
Relative to the seasonal naive (`seasonal_naive`: y[c+1+h] forecast as y[c+1+h-SEASON],
SEASON = 24): per series, MSE / the naive's MSE on the same windows; pooled, pooled MSE /
the naive's pooled MSE (a ratio of means, not a mean of ratios). The same scores on every
24th window (``stride=24``: cutoffs test_start - 1, test_start + 23, ...; 100 windows per
series) serve peers that cannot afford stride 1; they are not comparable with stride-1
scores beyond sampling error, and a report must say which it used.

Data checks: `load_panel` raises `ValueError` if a slice holds a missing value, its
timestamps are not strictly hourly, or it has fewer rows than named; nothing is filled in.

Typical use::

    from benchmarks import panel_data as pd_
    panel = pd_.load_panel()
    fc = {uid: my_model(uid) for uid in pd_.SERIES_IDS}    # (n_windows, HORIZON) each
    print(pd_.score(fc, panel)["pooled"])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from txl_ts import datasets

HORIZON = 24
SEASON = 24
TEST_ROWS = 2400
VAL_ROWS = 1200
PEER_STRIDE = 24
FREQ = "h"
COLUMNS = ("unique_id", "ds", "y")


@dataclass(frozen=True)
class SeriesSpec:
    """One series of the panel: rows [start, stop) of `column` in bundled data set `dataset`
    (Python slice semantics: a negative start counts from the end, stop None is the end)."""

    uid: str
    dataset: str
    column: str
    start: int
    stop: int | None
    length: int  # the rows the slice must hold; a check, not a cap


SPECS = (
    SeriesSpec("ETTh1_OT", "ETTh1", "OT", 0, 14400, 14400),
    SeriesSpec("ETTh2_OT", "ETTh2", "OT", 2880, 17420, 14540),
    SeriesSpec("WTH_WetBulbCelsius", "WTH", "WetBulbCelsius", -12000, None, 12000),
)
SERIES_IDS = tuple(sorted(s.uid for s in SPECS))  # the panel's order: sorted unique_id


# ------------------------------------------------------------------------------------ data

def _check_slice(spec: SeriesSpec, frame: pd.DataFrame, rows: range) -> None:
    """Raise ValueError on a short slice, a missing value or a timestamp off the hourly grid."""
    where = f"{spec.uid} ({spec.dataset}.{spec.column}, file rows [{rows.start}, {rows.stop}))"
    if len(rows) != spec.length:
        raise ValueError(f"{where}: {len(rows)} rows, expected {spec.length}")
    y = frame[spec.column].to_numpy()[rows.start:rows.stop]
    bad = np.flatnonzero(~np.isfinite(y))
    if len(bad):
        raise ValueError(f"{where}: {len(bad)} missing or non-finite values, first at file row "
                         f"{rows.start + int(bad[0])}")
    stamps = frame.index[rows.start:rows.stop]
    off = np.flatnonzero((stamps[1:] - stamps[:-1]) != pd.Timedelta(1, FREQ))
    if len(off):
        i = rows.start + int(off[0])
        raise ValueError(f"{where}: timestamps not hourly: {frame.index[i]} is followed by "
                         f"{frame.index[i + 1]} ({len(off)} such steps)")
    if float(np.std(y[: split_rows(len(y))[0]])) == 0.0:
        raise ValueError(f"{where}: constant over its training rows")


@lru_cache(maxsize=len(datasets.NAMES))
def _file(name: str) -> pd.DataFrame:
    return datasets.load(name)  # read-only here: callers never modify it


@lru_cache(maxsize=1)
def _panel() -> pd.DataFrame:
    parts = []
    for spec in SPECS:
        frame = _file(spec.dataset)
        rows = range(len(frame))[spec.start:spec.stop]
        _check_slice(spec, frame, rows)
        parts.append(pd.DataFrame({
            "unique_id": spec.uid,
            "ds": frame.index[rows.start:rows.stop].to_numpy().astype("datetime64[ns]"),
            "y": frame[spec.column].to_numpy(dtype="float64")[rows.start:rows.stop]}))
    panel = pd.concat(parts, ignore_index=True)
    return panel.sort_values(["unique_id", "ds"], kind="stable", ignore_index=True)


def load_panel() -> pd.DataFrame:
    """The panel as a long frame.

    Returns
    -------
    DataFrame
        Columns ``unique_id`` (str), ``ds`` (datetime64, hourly) and ``y`` (float64), sorted
        by unique_id then ds, with a RangeIndex. A fresh copy on every call.

    Raises
    ------
    ValueError
        If a series' slice is short, holds a missing value, or has timestamps that are not
        strictly hourly (see the module docstring).
    """
    return _panel().copy()


def file_rows() -> dict[str, tuple[int, int]]:
    """Each series' rows in its CSV as (start, stop), negative starts resolved."""
    out = {}
    for spec in SPECS:
        rows = range(len(_file(spec.dataset)))[spec.start:spec.stop]
        out[spec.uid] = (rows.start, rows.stop)
    return out


def series_values(panel: pd.DataFrame) -> dict[str, np.ndarray]:
    """{unique_id: y as a float array in time order} for the panel's series.

    Raises
    ------
    ValueError
        If `panel` lacks a column of `COLUMNS` or does not hold exactly the series of
        `SERIES_IDS`.
    """
    missing = [c for c in COLUMNS if c not in panel.columns]
    if missing:
        raise ValueError(f"panel lacks columns {missing}; expected {list(COLUMNS)}")
    ids = tuple(sorted(panel["unique_id"].unique()))
    if ids != SERIES_IDS:
        raise ValueError(f"panel holds series {list(ids)}, expected {list(SERIES_IDS)}")
    ordered = panel.sort_values(["unique_id", "ds"], kind="stable")
    return {uid: g["y"].to_numpy(dtype="float64") for uid, g in ordered.groupby("unique_id")}


def lengths(panel: pd.DataFrame) -> dict[str, int]:
    """{unique_id: number of rows}."""
    return {uid: len(y) for uid, y in series_values(panel).items()}


# ---------------------------------------------------------------------------------- split

def split_rows(n: int) -> tuple[int, int]:
    """(train_end, test_start) for a series of `n` rows: TRAIN = [0, train_end), VALIDATION
    = [train_end, test_start), TEST = [test_start, n).

    Raises
    ------
    ValueError
        If `n` leaves fewer than one season plus one horizon of training rows.
    """
    test_start = n - TEST_ROWS
    train_end = test_start - VAL_ROWS
    if train_end < SEASON + HORIZON:
        raise ValueError(f"{n} rows leave {train_end} training rows; at least "
                         f"{SEASON + HORIZON} are needed")
    return train_end, test_start


def _rows(panel: pd.DataFrame, part: str) -> pd.DataFrame:
    for rows in lengths(panel).values():  # checks the columns and the series
        split_rows(rows)  # raises on a series too short for the split
    ordered = panel.sort_values(["unique_id", "ds"], kind="stable", ignore_index=True)
    position = ordered.groupby("unique_id").cumcount().to_numpy()
    n = ordered.groupby("unique_id")["y"].transform("size").to_numpy()
    train_end, test_start = n - TEST_ROWS - VAL_ROWS, n - TEST_ROWS
    keep = {"train": position < train_end,
            "validation": (position >= train_end) & (position < test_start),
            "fit": position < test_start,
            "test": position >= test_start}[part]
    return ordered[keep].reset_index(drop=True)


def train_frame(panel: pd.DataFrame) -> pd.DataFrame:
    """The TRAIN rows of every series (long frame, same columns)."""
    return _rows(panel, "train")


def validation_frame(panel: pd.DataFrame) -> pd.DataFrame:
    """The VALIDATION rows of every series: the `VAL_ROWS` rows before the test rows."""
    return _rows(panel, "validation")


def fit_frame(panel: pd.DataFrame) -> pd.DataFrame:
    """TRAIN + VALIDATION rows of every series: what a model refitted before the test sees."""
    return _rows(panel, "fit")


def holdout_frame(panel: pd.DataFrame) -> pd.DataFrame:
    """The TEST rows of every series: the last `TEST_ROWS` (not named test_*, which pytest
    would collect where it is imported)."""
    return _rows(panel, "test")


# -------------------------------------------------------------------------------- windows

def cutoffs(n: int, stride: int = 1) -> np.ndarray:
    """Test cutoffs of a series of `n` rows: c = test_start - 1, test_start - 1 + stride, ...
    while c + HORIZON <= n - 1. The window of c forecasts rows c+1 .. c+HORIZON."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    _, test_start = split_rows(n)
    return np.arange(test_start - 1, n - HORIZON, stride)


def n_windows(n: int, stride: int = 1) -> int:
    """How many test windows a series of `n` rows has at `stride`."""
    return len(cutoffs(n, stride))


def cutoff_times(panel: pd.DataFrame, stride: int = 1) -> dict[str, pd.DatetimeIndex]:
    """{unique_id: the timestamps of its cutoffs} (the ``cutoff`` column NeuralForecast and
    statsforecast write)."""
    out = {}
    for uid, g in panel.sort_values(["unique_id", "ds"], kind="stable").groupby("unique_id"):
        out[uid] = pd.DatetimeIndex(g["ds"].to_numpy()[cutoffs(len(g), stride)])
    return out


def _windows(y: np.ndarray, c: np.ndarray) -> np.ndarray:
    return y[c[:, None] + 1 + np.arange(HORIZON)]


def targets(panel: pd.DataFrame, stride: int = 1) -> dict[str, np.ndarray]:
    """{unique_id: (n_windows, HORIZON) actual values of its test windows}."""
    return {uid: _windows(y, cutoffs(len(y), stride))
            for uid, y in series_values(panel).items()}


def seasonal_naive(panel: pd.DataFrame, stride: int = 1) -> dict[str, np.ndarray]:
    """{unique_id: (n_windows, HORIZON) seasonal-naive forecasts}: y[c+1+h] forecast as
    y[c+1+h-SEASON], which is known at cutoff c because HORIZON <= SEASON."""
    return {uid: _windows(y, cutoffs(len(y), stride) - SEASON)
            for uid, y in series_values(panel).items()}


def train_stats(panel: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """{unique_id: (mean, std)} of its TRAIN rows (std with ddof 0)."""
    out = {}
    for uid, y in series_values(panel).items():
        train = y[: split_rows(len(y))[0]]
        out[uid] = (float(train.mean()), float(train.std()))
    return out


def standardise(panel: pd.DataFrame) -> pd.DataFrame:
    """A copy of `panel` with y z-scored per series with its TRAIN mean and std."""
    stats = train_stats(panel)
    out = panel.copy()
    mean = out["unique_id"].map({k: v[0] for k, v in stats.items()}).to_numpy(dtype=float)
    std = out["unique_id"].map({k: v[1] for k, v in stats.items()}).to_numpy(dtype=float)
    out["y"] = (out["y"].to_numpy(dtype=float) - mean) / std
    return out


def destandardise(forecasts: dict[str, np.ndarray], panel: pd.DataFrame
                  ) -> dict[str, np.ndarray]:
    """Forecasts made on `standardise(panel)` mapped back to original units."""
    stats = train_stats(panel)
    return {uid: np.asarray(f, dtype=float) * stats[uid][1] + stats[uid][0]
            for uid, f in forecasts.items()}


def forecasts_from_long(frame: pd.DataFrame, column: str, panel: pd.DataFrame,
                        stride: int = 1) -> dict[str, np.ndarray]:
    """Turn a cross-validation frame (``unique_id``, ``ds``, ``cutoff``, `column`: the layout
    of NeuralForecast's and statsforecast's ``cross_validation``) into `score`'s input.

    Raises
    ------
    ValueError
        If a series is missing or extra, its cutoffs are not exactly `cutoff_times(panel,
        stride)`, a window does not hold HORIZON consecutive rows after its cutoff, or a value
        is missing.
    """
    expected = cutoff_times(panel, stride)
    got = set(frame["unique_id"].astype(str).unique())
    if got != set(expected):
        raise ValueError(f"forecast series {sorted(got)}, expected {sorted(expected)}")
    out = {}
    step = pd.Timedelta(1, FREQ)
    for uid, g in frame.assign(unique_id=frame["unique_id"].astype(str)).groupby("unique_id"):
        g = g.sort_values(["cutoff", "ds"])
        cut = pd.DatetimeIndex(g["cutoff"].unique())
        if not cut.equals(expected[uid]):
            raise ValueError(f"{uid}: {len(cut)} cutoffs from {cut.min()} to {cut.max()}; the "
                             f"protocol has {len(expected[uid])} from {expected[uid][0]} to "
                             f"{expected[uid][-1]} (stride {stride})")
        lead = (pd.DatetimeIndex(g["ds"]) - pd.DatetimeIndex(g["cutoff"])) // step
        if len(g) != len(cut) * HORIZON or not np.array_equal(
                np.asarray(lead).reshape(len(cut), HORIZON),
                np.broadcast_to(np.arange(1, HORIZON + 1), (len(cut), HORIZON))):
            raise ValueError(f"{uid}: windows are not the {HORIZON} hours after each cutoff")
        out[uid] = g[column].to_numpy(dtype=float).reshape(len(cut), HORIZON)
    return out


# -------------------------------------------------------------------------------- scoring

def _errors(forecasts: dict[str, np.ndarray], panel: pd.DataFrame, stride: int
            ) -> dict[str, np.ndarray]:
    actual = targets(panel, stride)
    extra, missing = set(forecasts) - set(actual), set(actual) - set(forecasts)
    if extra or missing:
        raise ValueError(f"forecasts for {sorted(forecasts)}; expected {sorted(actual)} "
                         f"(missing {sorted(missing)}, unknown {sorted(extra)})")
    stats = train_stats(panel)
    out = {}
    for uid, want in actual.items():
        f = np.asarray(forecasts[uid], dtype=float)
        if f.shape != want.shape:
            raise ValueError(f"{uid}: forecasts of shape {f.shape}, expected {want.shape} "
                             f"(windows at stride {stride} x horizon {HORIZON})")
        if not np.isfinite(f).all():
            raise ValueError(f"{uid}: forecasts hold NaN or infinite values")
        out[uid] = (f - want) / stats[uid][1]
    return out


def score(forecasts: dict[str, np.ndarray], panel: pd.DataFrame, stride: int = 1
          ) -> dict[str, Any]:
    """Score forecasts of every test window of every series.

    Parameters
    ----------
    forecasts : dict of str to ndarray
        {unique_id: (n_windows(n, stride), HORIZON) forecasts in original units}, row i being
        the window of ``cutoffs(n, stride)[i]``. Exactly the series of `SERIES_IDS`.
    panel : DataFrame
        `load_panel()`'s frame (actuals and TRAIN statistics come from it).
    stride : int, default 1
        1 for the protocol's windows; `PEER_STRIDE` (24) for every 24th window.

    Returns
    -------
    dict
        ``stride``; ``series``: {unique_id: {mse, mae, mse_vs_snaive, mae_vs_snaive,
        n_windows}}; ``pooled``: {mse, mae (unweighted means over series), mse_vs_snaive,
        mae_vs_snaive (pooled over pooled seasonal naive)}; ``snaive``: the seasonal naive's
        own per-series and pooled mse / mae on these windows.

    Raises
    ------
    ValueError
        If a series is missing or unknown, a shape is wrong, or a forecast is not finite.
    """
    err = _errors(forecasts, panel, stride)
    ref = _errors(seasonal_naive(panel, stride), panel, stride)
    series, naive = {}, {}
    for uid in SERIES_IDS:
        e, r = err[uid], ref[uid]
        naive[uid] = {"mse": float(np.mean(r**2)), "mae": float(np.mean(np.abs(r)))}
        mse, mae = float(np.mean(e**2)), float(np.mean(np.abs(e)))
        series[uid] = {"mse": mse, "mae": mae, "mse_vs_snaive": mse / naive[uid]["mse"],
                       "mae_vs_snaive": mae / naive[uid]["mae"], "n_windows": len(e)}
    pooled = {m: float(np.mean([series[u][m] for u in SERIES_IDS])) for m in ("mse", "mae")}
    naive_pooled = {m: float(np.mean([naive[u][m] for u in SERIES_IDS])) for m in ("mse", "mae")}
    pooled["mse_vs_snaive"] = pooled["mse"] / naive_pooled["mse"]
    pooled["mae_vs_snaive"] = pooled["mae"] / naive_pooled["mae"]
    return {"stride": stride, "pooled": pooled, "series": series,
            "snaive": {"pooled": naive_pooled, "series": naive}}


def protocol_record() -> dict[str, Any]:
    """The protocol as a JSON-ready dict for reports: series and their file rows, per-series
    split rows and dates, TRAIN statistics, window counts, metric definitions."""
    panel = _panel()
    values = series_values(panel)
    rows = file_rows()
    stats = train_stats(panel)
    series = {}
    for spec in SPECS:
        uid = spec.uid
        n = len(values[uid])
        train_end, test_start = split_rows(n)
        ds = panel.loc[panel["unique_id"] == uid, "ds"].reset_index(drop=True)
        series[uid] = {
            "dataset": spec.dataset, "column": spec.column, "file_rows": list(rows[uid]),
            "rows": n, "first_ds": str(ds.iloc[0]), "last_ds": str(ds.iloc[-1]),
            "train_rows": [0, train_end], "validation_rows": [train_end, test_start],
            "test_rows": [test_start, n], "test_first_ds": str(ds.iloc[test_start]),
            "train_mean": stats[uid][0], "train_std": stats[uid][1],
            "windows": n_windows(n), f"windows_stride{PEER_STRIDE}": n_windows(n, PEER_STRIDE)}
    return {
        "panel": "benchmarks.panel_data: ETTh1 OT, ETTh2 OT, WTH WetBulbCelsius (hourly)",
        "frequency": FREQ, "horizon": HORIZON, "season": SEASON, "test_rows": TEST_ROWS,
        "validation_rows": VAL_ROWS, "series": series,
        "windows": "every stride-1 cutoff c with c >= test_start - 1 and c + H <= n - 1; "
                   "rows [0, c] known, rows c+1..c+H forecast",
        "metric": "per series: MSE / MAE of (forecast - actual) / TRAIN std (ddof 0), every "
                  "window and step; pooled: unweighted mean over series",
        "relative": "mse_vs_snaive: per series MSE / seasonal-naive MSE (y[c+1+h-24]) on the "
                    "same windows; pooled: pooled MSE / pooled seasonal-naive MSE",
        "peer_stride": PEER_STRIDE,
    }
