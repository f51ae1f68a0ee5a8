"""Plots of forecasts, prediction intervals and backtests, on matplotlib.

matplotlib is imported only when a function here is called, and the figures are built
without pyplot (`matplotlib.figure.Figure`), so they work under any backend, Agg included,
in threads and on servers, and nothing stays open in pyplot's figure list. In a notebook the
returned Figure displays itself; `path=` saves it (the format from the suffix).

Time axes use matplotlib's `AutoDateLocator` with a `ConciseDateFormatter`: the locator
picks few enough ticks for the axis width and the formatter writes only what changes (hours
under one date label, days under one month), so labels do not overlap at any span.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover - types only; matplotlib loads on first use
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .backtest import BacktestResult

HISTORY_COLOR = "black"


def _new_figure(n_rows: int, width: float = 10.0, height: float = 3.2) -> tuple[Figure, list]:
    """A pyplot-free figure with `n_rows` stacked axes (works under any backend)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, 1, squeeze=False)[:, 0]
    return fig, list(axes)


def date_axis(ax: Axes) -> None:
    """Give `ax`'s x axis date ticks whose labels never overlap.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        An axes whose x values are timestamps.

    Returns
    -------
    None
        The axes is changed in place.

    Raises
    ------
    ImportError
        If matplotlib is not installed.
    """
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _save(fig: Figure, path: str | Path | None) -> None:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)


def _check_frame(frame: object, name: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame) or not isinstance(frame.index, pd.DatetimeIndex):
        raise TypeError(f"{name} must be a DataFrame with a DatetimeIndex (as predict returns), "
                        f"got {type(frame).__name__}")
    return frame


def _bands(ax: Axes, index: pd.DatetimeIndex, lower: np.ndarray, upper: np.ndarray,
           level: float, color: str, label: str) -> None:
    # wider (higher-coverage) bands lighter, so the narrower one drawn on top stays visible
    ax.fill_between(index, lower, upper, color=color, lw=0,
                    alpha=0.15 if level >= 0.9 else 0.3, label=f"{label} {100 * level:g}%")


def plot_forecast(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    intervals: pd.DataFrame | None = None,
    *,
    tail: int | None = None,
    columns: Sequence[Hashable] | None = None,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Plot the end of the history, the forecast and its prediction intervals.

    Parameters
    ----------
    history : pandas.DataFrame
        The known rows, with a DatetimeIndex (e.g. the frame the model was fitted on).
    forecast : pandas.DataFrame
        `model.predict(...)`: one row per future timestamp, one column per series.
    intervals : pandas.DataFrame, optional
        `model.predict_interval(...)`: columns (column, coverage, "lower"/"upper"); every
        coverage level becomes a shaded band.
    tail : int, optional
        History rows to show before the forecast (default: four horizons).
    columns : sequence of labels, optional
        The forecast columns to plot (default: all), one panel each.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (then exactly one column); by default a new figure.
    path : str or pathlib.Path, optional
        Save the figure here as well.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Raises
    ------
    TypeError
        When `history` or `forecast` is not a DataFrame with a DatetimeIndex.
    ValueError
        When a column is not in the forecast, or `ax` is given with several columns.
    """
    history = _check_frame(history, "history")
    forecast = _check_frame(forecast, "forecast")
    columns = list(forecast.columns if columns is None else columns)
    missing = [c for c in columns if c not in forecast.columns]
    if missing or not columns:
        raise ValueError(f"columns {missing} are not in the forecast; it has "
                         f"{list(forecast.columns)}")
    if ax is not None and len(columns) != 1:
        raise ValueError(f"ax= draws one column; choose one with columns=, got {columns}")
    tail = 4 * len(forecast) if tail is None else int(tail)
    if ax is None:
        fig, axes = _new_figure(len(columns))
    else:
        fig, axes = ax.figure, [ax]
    for axis, column in zip(axes, columns, strict=True):
        if column in history.columns:
            past = history[column].iloc[-tail:] if tail > 0 else history[column].iloc[:0]
            axis.plot(past.index, past.to_numpy(), color=HISTORY_COLOR, lw=1, label="history")
        line = axis.plot(forecast.index, forecast[column].to_numpy(), lw=1.5,
                         label="forecast")[0]
        if intervals is not None:
            levels = sorted({c for col, c, _ in intervals.columns if col == column},
                            reverse=True)
            for level in levels:
                _bands(axis, intervals.index, intervals[(column, level, "lower")].to_numpy(),
                       intervals[(column, level, "upper")].to_numpy(), float(level),
                       line.get_color(), "interval")
        axis.set_title(str(column))
        date_axis(axis)
    axes[0].legend(fontsize=8, ncol=4)
    _save(fig, path)
    return fig


def _check_kept(result: BacktestResult) -> None:
    if result.y is None or not result.predictions:
        raise ValueError("the backtest kept no forecasts; run backtest(..., "
                         "keep_forecasts=True)")


def plot_backtest_errors(
    result: BacktestResult,
    *,
    metric: str = "mse",
    models: Sequence[str] | None = None,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Plot each model's error by horizon step over all the backtest's windows.

    Parameters
    ----------
    result : txl_ts.backtest.BacktestResult
        A backtest run with `keep_forecasts=True` (the default).
    metric : {"mse", "mae"}, default "mse"
        Squared or absolute error, on values scaled by the backtest's scaler (as in
        `result.metrics`), averaged over windows and columns.
    models : sequence of str, optional
        The models to draw (default: all).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; by default a new figure.
    path : str or pathlib.Path, optional
        Save the figure here as well.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Raises
    ------
    ValueError
        When the forecasts were not kept, `metric` is unknown or a model is not in the result.
    """
    _check_kept(result)
    if metric not in ("mse", "mae"):
        raise ValueError(f"metric must be 'mse' or 'mae', got {metric!r}")
    names = _models(result, models)
    fig, axes = _new_figure(1, 8.0, 4.0) if ax is None else (ax.figure, [ax])
    steps = np.arange(1, result.horizon + 1)
    for name in names:
        err = (result.predictions[name] - result.y) / result.scaler.scale_
        err = err**2 if metric == "mse" else np.abs(err)
        axes[0].plot(steps, err.mean(axis=(0, 2)), label=name)
    axes[0].set_xlabel("horizon step")
    axes[0].set_ylabel(f"{metric.upper()} (scaled)")
    axes[0].set_title(f"error by horizon step over {result.n_windows} windows")
    axes[0].legend(fontsize=8)
    _save(fig, path)
    return fig


def _models(result: BacktestResult, models: Sequence[str] | None) -> list[str]:
    names = list(result.predictions) if models is None else list(models)
    unknown = [n for n in names if n not in result.predictions]
    if unknown or not names:
        raise ValueError(f"models {unknown} are not in the backtest; it has "
                         f"{list(result.predictions)}")
    return names


def _window(result: BacktestResult, cutoff: int | str | pd.Timestamp) -> int:
    """The window number of `cutoff`: a timestamp of the cutoff row, or its row position."""
    if isinstance(cutoff, (int, np.integer)) and not isinstance(cutoff, bool):
        found = np.flatnonzero(result.cutoffs == int(cutoff))
    else:
        stamp = pd.Timestamp(cutoff)
        found = np.flatnonzero(result.cutoff_index == stamp)
    if not len(found):
        first, last = result.cutoff_index[0], result.cutoff_index[-1]
        raise ValueError(f"no backtest window has cutoff {cutoff!r}; the cutoffs run from "
                         f"{first} (row {result.cutoffs[0]}) to {last} (row "
                         f"{result.cutoffs[-1]})")
    return int(found[0])


def plot_backtest_window(
    result: BacktestResult,
    cutoff: int | str | pd.Timestamp,
    *,
    history: pd.DataFrame | None = None,
    column: Hashable | None = None,
    models: Sequence[str] | None = None,
    tail: int | None = None,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Plot one backtest window: the actuals, every model's forecast and the intervals.

    Parameters
    ----------
    result : txl_ts.backtest.BacktestResult
        A backtest run with `keep_forecasts=True` (the default); with `coverage`, the
        intervals of every model are shaded.
    cutoff : int, str or pandas.Timestamp
        The window: the timestamp of its cutoff (the last known row), or that row's position.
    history : pandas.DataFrame, optional
        The backtested frame: its rows before the cutoff are drawn too.
    column : label, optional
        The column to draw (default: the first).
    models : sequence of str, optional
        The models to draw (default: all).
    tail : int, optional
        History rows to show (default: two horizons).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; by default a new figure.
    path : str or pathlib.Path, optional
        Save the figure here as well.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Raises
    ------
    ValueError
        When the forecasts were not kept, or the cutoff, column or a model is not in the
        result.
    """
    _check_kept(result)
    names = _models(result, models)
    w = _window(result, cutoff)
    column = result.columns[0] if column is None else column
    if column not in result.columns:
        raise ValueError(f"column {column!r} is not in the backtest; it has {result.columns}")
    col = result.columns.index(column)
    row = int(result.cutoffs[w])
    future = result.target_index[row + 1 : row + 1 + result.horizon]
    fig, axes = _new_figure(1) if ax is None else (ax.figure, [ax])
    axis = axes[0]
    if history is not None:
        tail = 2 * result.horizon if tail is None else int(tail)
        past = _check_frame(history, "history")[column].iloc[max(0, row + 1 - tail) : row + 1]
        axis.plot(past.index, past.to_numpy(), color=HISTORY_COLOR, lw=1, label="history")
    axis.plot(future, result.y[w, :, col], color=HISTORY_COLOR, lw=2, label="actual")
    for name in names:
        pred = result.predictions[name][w, :, col]
        line = axis.plot(future, pred, lw=1.2, label=name)[0]
        half = result.half_widths.get(name)
        if half is not None and result.coverage is not None:
            for i in np.argsort(result.coverage)[::-1]:
                _bands(axis, future, pred - half[i, :, col], pred + half[i, :, col],
                       float(result.coverage[i]), line.get_color(), name)
    axis.set_title(f"{column}: forecast from {result.cutoff_index[w]}")
    date_axis(axis)
    axis.legend(fontsize=8, ncol=4)
    _save(fig, path)
    return fig
