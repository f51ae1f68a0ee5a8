"""Rolling-origin evaluation of forecasters over a span of a DataFrame.

A *window* is an integer cutoff `c` (rows `df[:c + 1]` known) whose whole horizon, rows
`c + 1 .. c + horizon`, lies inside the scored span `[start, end)`. The cutoffs are
`start - 1, start - 1 + stride, ...`; every one whose horizon fits is scored, none is dropped,
and their number is `(end - start - horizon) // stride + 1`.

Without refitting, each model is fitted once (unless it already is) and forecasts every
cutoff through its `rolling_forecasts`, which sees only `df[:last cutoff + 1]`. With
`refit=k`, a fresh clone is fitted on the data up to the first cutoff of every block of `k`
cutoffs (all of it, or the last `train_size` rows) and forecasts that block.

With `coverage`, each model's conformal intervals (the half widths it stored at fit, see
`txl_ts.conformal`) are placed around the same rolling forecasts, so intervals cost no extra
forecasting pass, and scored by their empirical coverage, mean width and interval score.

Covariates (`txl_ts.frames.roles`): `df` holds the targets and the models' covariate columns.
Only the targets (each model's `columns_`) are scored. A model with future covariates reads
their values over each window's horizon from `df` itself, as
`predict(history=df[:c + 1], future=df[c + 1 : c + 1 + H])` would: the *actual* values. With
measured temperatures where a deployment would have temperature forecasts, the scores are an
optimistic bound: the forecast errors of the covariates are not in them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from .backtest_targets import _is_fitted, _rows_ahead, _target_series
from .conformal import check_levels
from .frames.checks import check_positive_int
from .metrics import (
    ModelScores,
    level_tag,
    seasonal_naive_mse,
    summarise,
    warn_if_worse_than_snaive,
)

WINDOWS = ("expanding", "sliding")
MAX_CHUNK_VALUES = 2**24


def count_windows(start: int, end: int, horizon: int, stride: int = 1) -> int:
    """Number of cutoffs `start - 1 + j * stride` whose horizon ends before `end`."""
    return max(0, (end - start - horizon) // stride + 1)


def window_cutoffs(start: int, end: int, horizon: int, stride: int = 1) -> np.ndarray:
    """The integer cutoffs of every window of the span `[start, end)`."""
    return start - 1 + stride * np.arange(count_windows(start, end, horizon, stride))


@dataclass
class BacktestResult:
    """What `backtest` measured; returned by `backtest`, not built by hand.

    Attributes
    ----------
    metrics : DataFrame
        One row per model: `mse`, `mae` (on values z-scored by `scaler`, fitted on the
        training part), `mse_orig`, `mae_orig` (original units), `smape` (percent, a 0/0
        term counts 0), `mase` (MAE over the in-sample MAE of the lag-`mase_lag` naive
        forecast on the training part, per column, then averaged), `fit_seconds`, `n_fits`,
        `predict_seconds`, `n_windows`, and `mse_vs_snaive`: the MSE over that of repeating
        the frequency's last season on the same windows (NaN when the frequency has no known
        season or a window has less than one season before it; `backtest` warns about a
        fitted model above `SNAIVE_WARNING_RATIO`, 1.5); with `coverage`, `coverage_<100c>`,
        `width_<100c>` and `winkler_<100c>` per level c (e.g. `coverage_80`).
    forecasts : DataFrame
        Every forecast in long form (a property; needs `keep_forecasts=True`).
    horizon : int
        The steps scored after each cutoff.
    columns : list
        The target columns.
    cutoffs : numpy.ndarray
        The integer row positions of the cutoffs; `cutoff_index` holds their timestamps.
    n_windows : int
        The number of windows scored.
    scaler : sklearn.preprocessing.StandardScaler
        The scaler of the scaled metrics.
    mase_lag, mase_scale : int, numpy.ndarray
        The naive lag of MASE and its per-column in-sample MAE.
    models : dict
        The last fitted model of each name.
    y, predictions : numpy.ndarray, dict of numpy.ndarray
        Actuals and each model's forecasts, (n_windows, horizon, n_columns) in original
        units (None and empty without `keep_forecasts`).
    target_index : DatetimeIndex
        The timestamps of every row of `df`.
    coverage : numpy.ndarray or None
        The interval levels scored, ascending.
    half_widths, block_half_widths : dict
        Per model, the interval half widths (L, H, C) of its last fit, and of each refit
        block with its number of windows.
    """

    horizon: int
    columns: list[str]
    cutoffs: np.ndarray  # integer row positions
    cutoff_index: pd.DatetimeIndex
    n_windows: int
    metrics: pd.DataFrame
    scaler: StandardScaler
    mase_lag: int
    mase_scale: np.ndarray
    models: dict[str, Any] = field(default_factory=dict)  # the last fitted model of each name
    y: np.ndarray | None = None  # (n_windows, horizon, n_columns) actuals, original units
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    target_index: pd.DatetimeIndex | None = None  # timestamps of all rows of df
    coverage: np.ndarray | None = None  # the interval levels scored, ascending
    half_widths: dict[str, np.ndarray] = field(default_factory=dict)
    # per model, (windows in the block, (L, H, C) half widths) for each refit block in order
    block_half_widths: dict[str, list[tuple[int, np.ndarray]]] = field(default_factory=dict)

    @property
    def forecasts(self) -> pd.DataFrame:
        """Every forecast in long form: cutoff, timestamp, column, y, y_hat, model.

        With `coverage=`, also `lower_<100c>` and `upper_<100c>` per level c (for example
        `lower_80`, `upper_80`): each window's conformal interval, from the calibration of the
        model that made that window's forecast (the one fitted for its refit block).

        Returns
        -------
        DataFrame
            One row per model, window, horizon step and column.

        Raises
        ------
        ValueError
            If the backtest ran with `keep_forecasts=False`.
        """
        if self.y is None:
            raise ValueError("forecasts were not kept; call backtest(..., keep_forecasts=True)")
        n, h, c = self.y.shape
        rows = self.cutoffs[:, None, None] + 1 + np.arange(h)[None, :, None]
        rows = np.broadcast_to(rows, (n, h, c)).ravel()
        cutoff = np.broadcast_to(self.cutoffs[:, None, None], (n, h, c)).ravel()
        column = np.broadcast_to(np.arange(c)[None, None, :], (n, h, c)).ravel()
        frames = []
        for name, y_hat in self.predictions.items():
            frame = pd.DataFrame({
                "cutoff": self.target_index[cutoff],
                "timestamp": self.target_index[rows],
                "column": pd.Categorical.from_codes(column, self.columns),
                "y": self.y.ravel(),
                "y_hat": y_hat.ravel(),
                "model": name,
            })
            blocks = self.block_half_widths.get(name)
            if blocks and self.coverage is not None:
                counts = [count for count, _ in blocks]
                halves = np.stack([half for _, half in blocks])  # (B, L, H, C)
                window_block = np.repeat(np.arange(len(blocks)), counts)  # (n,)
                for k, level in enumerate(self.coverage.tolist()):
                    half = halves[window_block, k]  # (n, H, C)
                    tag = level_tag(level)
                    frame[f"lower_{tag}"] = (y_hat - half).ravel()
                    frame[f"upper_{tag}"] = (y_hat + half).ravel()
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def _position(where: int | pd.Timestamp | str, index: pd.DatetimeIndex, name: str,
              inclusive_end: bool = False) -> int:
    if isinstance(where, (int, np.integer)) and not isinstance(where, bool):
        pos = int(where)
        return pos + len(index) if pos < 0 else pos
    try:
        stamp = pd.Timestamp(where)
    except (ValueError, TypeError) as err:
        raise TypeError(f"{name} must be a row position or a timestamp, got {where!r}") from err
    if inclusive_end:
        return int(index.searchsorted(stamp, side="right"))
    if stamp not in index:
        raise ValueError(f"{name}={stamp} is not a timestamp of df")
    return int(index.get_loc(stamp))


def backtest_frame(
    models: Mapping[str, Any],
    df: pd.DataFrame,
    horizon: int,
    start: int | pd.Timestamp,
    end: int | pd.Timestamp | None = None,
    *,
    stride: int = 1,
    refit: int | None = None,
    window: str = "expanding",
    train_size: int | None = None,
    train_end: int | pd.Timestamp | None = None,
    scaler: StandardScaler | None = None,
    mase_lag: int = 1,
    time_col: str | None = None,
    keep_forecasts: bool = True,
    coverage: float | list[float] | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> BacktestResult:
    """The backtest of one wide frame: `txl_ts.backtest.backtest` documents it."""
    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty dict {name: forecaster}")
    check_positive_int(horizon=horizon, stride=stride, mase_lag=mase_lag)
    if refit is not None:
        check_positive_int(refit=refit)
    levels = None if coverage is None else check_levels(coverage, "coverage")
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")
    if window == "sliding":
        if train_size is None:
            raise ValueError('window="sliding" needs train_size (rows to train on)')
        check_positive_int(train_size=train_size)
    elif train_size is not None:
        raise ValueError('train_size applies only to window="sliding"')
    series = _target_series(models, df, time_col)
    index, values, n_rows = series.index, series.values, len(series.index)
    start = _position(start, index, "start")
    end = n_rows if end is None else _position(end, index, "end", inclusive_end=True)
    train_end = start if train_end is None else _position(train_end, index, "train_end")
    if not 1 <= start <= end <= n_rows:
        raise ValueError(f"need 1 <= start <= end <= len(df) = {n_rows}; got start={start}, "
                         f"end={end}")
    if not 1 <= train_end <= start:
        raise ValueError(f"train_end ({train_end}) must lie in [1, start={start}]")
    cutoffs = window_cutoffs(start, end, horizon, stride)
    if len(cutoffs) == 0:
        raise ValueError(f"no window: the span [{start}, {end}) has {end - start} rows, fewer "
                         f"than the horizon {horizon}")
    train_lo = 0 if window == "expanding" else train_end - train_size
    if train_lo < 0:
        raise ValueError(f"train_size={train_size} exceeds the {train_end} training rows")

    train_values = values[train_lo:train_end]
    if scaler is None:
        scaler = StandardScaler().fit(train_values)
    check_is_fitted(scaler, "scale_")
    if len(train_values) <= mase_lag:
        raise ValueError(f"the training part has {len(train_values)} rows; MASE with "
                         f"mase_lag={mase_lag} needs more")
    mase_scale = np.abs(train_values[mase_lag:] - train_values[:-mase_lag]).mean(axis=0)

    rows = cutoffs[:, None] + 1 + np.arange(horizon)[None, :]  # (n, H)
    # forecasts are requested in chunks of at most MAX_CHUNK_VALUES values, to bound memory
    chunk_size = max(1, MAX_CHUNK_VALUES // (horizon * values.shape[1]))
    y_all = values[rows] if keep_forecasts else None
    scores: dict[str, ModelScores] = {}
    predictions: dict[str, np.ndarray] = {}
    fitted_models: dict[str, Any] = {}
    half_widths: dict[str, np.ndarray] = {}
    block_half_widths: dict[str, list[tuple[int, np.ndarray]]] = {}
    if refit is None:
        blocks = [cutoffs]
    else:
        blocks = [cutoffs[i : i + refit] for i in range(0, len(cutoffs), refit)]

    for name, model in models.items():
        model_began = time.perf_counter()
        score = ModelScores()
        preds = np.empty((len(cutoffs), horizon, values.shape[1])) if keep_forecasts else None
        done = 0
        for block in blocks:
            if refit is None:
                lo = 0
                if _is_fitted(model):
                    fitted = model
                else:
                    valid = df.iloc[train_end:start] if train_end < start else None
                    fitted, seconds = _fit(model, df.iloc[train_lo:train_end], valid)
                    score.fit_seconds += seconds
                    score.n_fits += 1
            else:
                lo = 0 if window == "expanding" else block[0] + 1 - train_size
                if lo < 0:
                    raise ValueError(f"train_size={train_size} exceeds the {block[0] + 1} rows "
                                     f"known at cutoff {block[0]}")
                fitted, seconds = _fit(model, df.iloc[lo : block[0] + 1], None)
                score.fit_seconds += seconds
                score.n_fits += 1
            _check_horizon(name, fitted, horizon, series.columns)
            half = None if levels is None else _half_widths(name, fitted, levels, horizon)
            if half is not None:
                block_half_widths.setdefault(name, []).append((len(block), half))
            ahead = _rows_ahead(fitted)
            if ahead and int(block[-1]) + ahead >= n_rows:
                raise ValueError(
                    f"model {name!r} reads its future covariates over its whole horizon "
                    f"({ahead} steps), but df ends {n_rows - 1 - int(block[-1])} rows after "
                    f"the last cutoff; end the scored span earlier or fit the model with "
                    f"horizon={horizon}")
            for chunk in np.array_split(block, -(-len(block) // chunk_size)):
                began = time.perf_counter()
                # the rows each forecast may read: up to its cutoff, plus the future
                # covariates' rows over the model's horizon after the chunk's last cutoff
                rows_seen = df.iloc[lo : min(n_rows, chunk[-1] + 1 + ahead)]
                y_hat = np.asarray(fitted.rolling_forecasts(rows_seen, chunk - lo),
                                   dtype=np.float64)
                score.predict_seconds += time.perf_counter() - began
                y_hat = y_hat[:, :horizon]  # a longer-horizon model is scored on its start
                if y_hat.shape != (len(chunk), horizon, values.shape[1]):
                    raise ValueError(f"model {name!r} returned forecasts of shape "
                                     f"{y_hat.shape}, expected "
                                     f"{(len(chunk), horizon, values.shape[1])}")
                if not np.isfinite(y_hat).all():
                    raise FloatingPointError(f"model {name!r} produced non-finite forecasts")
                y = values[rows[done : done + len(chunk)]]
                score.add(y, y_hat, scaler.scale_)
                if half is not None:
                    score.add_intervals(y, y_hat, half, levels, scaler.scale_)
                if preds is not None:
                    preds[done : done + len(chunk)] = y_hat
                done += len(chunk)
            fitted_models[name] = fitted
            if half is not None:
                half_widths[name] = half
        scores[name] = score
        if preds is not None:
            predictions[name] = preds
        if progress is not None:
            progress(name, time.perf_counter() - model_began)

    metrics = pd.DataFrame(
        {name: summarise(s, mase_scale, len(cutoffs), levels) for name, s in scores.items()}
    ).T
    metrics.index.name = "model"
    reference = seasonal_naive_mse(values, cutoffs, horizon, series.freq, scaler.scale_)
    metrics["mse_vs_snaive"] = metrics["mse"] / reference if reference else np.nan
    warn_if_worse_than_snaive(metrics, models)
    return BacktestResult(
        horizon=horizon, columns=list(series.columns), cutoffs=cutoffs,
        cutoff_index=index[cutoffs], n_windows=len(cutoffs), metrics=metrics, scaler=scaler,
        mase_lag=mase_lag, mase_scale=mase_scale, models=fitted_models, y=y_all,
        predictions=predictions, target_index=index, coverage=levels, half_widths=half_widths,
        block_half_widths=block_half_widths,
    )


def _fit(model: Any, train: pd.DataFrame, valid: pd.DataFrame | None) -> tuple[Any, float]:
    began = time.perf_counter()
    fitted = clone(model).fit(train, validation_data=valid)
    return fitted, time.perf_counter() - began


def _check_horizon(name: str, model: Any, horizon: int, columns: list[str]) -> None:
    if getattr(model, "horizon", horizon) < horizon:
        raise ValueError(f"model {name!r} has horizon {model.horizon} < backtest horizon "
                         f"{horizon}")
    if list(getattr(model, "columns_", columns)) != list(columns):
        raise ValueError(f"model {name!r} forecasts columns {model.columns_}, but df has "
                         f"{columns}")


def _half_widths(name: str, model: Any, levels: np.ndarray, horizon: int) -> np.ndarray:
    calibration = getattr(model, "calibration_", None)
    if calibration is None:
        raise ValueError(f"model {name!r} has no conformal calibration (calibration_), so its "
                         "intervals cannot be scored; leave coverage out or use a txl_ts "
                         "forecaster")
    try:
        return calibration.half_widths(levels)[:, :horizon]
    except ValueError as err:
        raise type(err)(f"model {name!r}: {err}") from err  # keeps CalibrationError


