"""Rolling-origin backtests: `backtest` scores forecasters on a wide frame
(`txl_ts.backtest_frame`, whose docstring describes the windows) or on a long frame of many
series (`txl_ts.backtest_panel`), whichever the models were built for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
from sklearn.preprocessing import StandardScaler

from .backtest_frame import BacktestResult, backtest_frame, count_windows, window_cutoffs
from .backtest_panel import PanelBacktestResult, backtest_long

__all__ = ["BacktestResult", "PanelBacktestResult", "backtest", "backtest_long",
           "count_windows", "window_cutoffs"]


def backtest(
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
) -> BacktestResult | PanelBacktestResult:
    """Rolling-origin backtest of `models` on the rows `[start, end)` of `df`.

    Every stride-th cutoff whose whole horizon lies in the span is scored (none is dropped);
    each model forecasts them all through its `rolling_forecasts`, seeing only the rows up
    to each cutoff.

    Models with `id_col` set take a long frame (`id_col`, their `time_col`, the targets and
    covariates): then `start`, `end` and `train_end` apply to each series on its own (a
    negative position counts from that series' end), each model is fitted once on the long
    frame, every window of every series is scored, and the result holds metrics per series
    and pooled (`txl_ts.backtest_panel.backtest_long`). `refit`, `window`, `train_size` and
    `scaler` are for wide frames only.

    Parameters
    ----------
    models : dict of str to forecaster
        {name: forecaster}; the names label the rows of `metrics`. Unfitted models are
        fitted (on a clone) as `train_end` says; fitted ones are used as they are (unless
        `refit`), so their horizon must be at least `horizon` and their columns those of
        `df`.
    df : DataFrame
        The whole series, training rows included: a regular DatetimeIndex (or `time_col`),
        the numeric target columns and the models' covariate columns. The targets are the
        models' (`columns_` of a fitted model, else its `targets`, else every numeric column
        that is not one of its covariates); all models must forecast the same ones, and
        only they are scored. Future covariates over each horizon are read from `df` (their
        actual values: an optimistic bound when a deployment would use forecasts of them).
    horizon : int
        Steps scored after each cutoff. A model with a longer horizon is scored on its first
        `horizon` steps.
    start : int or Timestamp
        The first scored row (the first cutoff is `start - 1`): a row position (negative
        counts from the end) or a timestamp of `df`.
    end : int or Timestamp, optional
        Scored rows end before this row position; a timestamp is the last scored row,
        inclusive. Default None: the end of `df`.
    stride : int, default 1
        Rows between consecutive cutoffs. 1 scores every window; raise it to run long spans
        faster, on fewer windows.
    refit : int, optional
        Default None fits each model once. k refits a clone (sklearn.clone) at the first
        cutoff of every block of k cutoffs, on the rows known there: slower, and closer to
        a deployment that retrains on a schedule.
    window : {"expanding", "sliding"}, default "expanding"
        "expanding" trains on every row up to the cutoff (or `train_end`), "sliding" on the
        last `train_size` rows only (for series whose old rows mislead).
    train_size : int, optional
        Rows a sliding window trains on; required with `window="sliding"` and refused
        otherwise.
    train_end : int or Timestamp, optional
        The training part is the rows before it; default None is `start`. Without refits,
        unfitted models are fitted on it, with the rows from `train_end` to `start` as
        `validation_data`: set it before `start` to keep a validation split of your own
        (e.g. 70/10/20). Refits use the rows up to each block's first cutoff instead. The
        metric scaler (unless `scaler` is given) and the MASE scale come from the training
        part.
    scaler : sklearn.preprocessing.StandardScaler, optional
        A fitted scaler for the scaled metrics (`mse`, `mae`, interval widths); default None
        fits one on the training part. Pass one to compare backtests on one scale.
    mase_lag : int, default 1
        Lag of the in-sample naive forecast that scales MASE (1: repeat-last; 24: the
        seasonal naive on hourly data).
    time_col : str, optional
        The column holding the timestamps, for frames without a DatetimeIndex. Default None.
    keep_forecasts : bool, default True
        Keep every forecast (for `BacktestResult.forecasts` and the plots); False keeps only
        the metrics, to save memory on long spans.
    coverage : float or list of float, optional
        Interval level(s) in (0, 1), e.g. [0.8, 0.95]: score each model's conformal
        prediction intervals too (coverage, mean width and interval score in `metrics`,
        bounds in `forecasts`). Default None scores point forecasts only.
    progress : callable, optional
        Called as `progress(name, seconds)` when a model is done (fits and forecasts), e.g.
        to print a line per model on a long run. Default None.

    Returns
    -------
    BacktestResult or PanelBacktestResult
        The metrics per model, the cutoffs, and (with `keep_forecasts`) every forecast; for
        long frames, pooled and per-series metrics and each series' result.

    Raises
    ------
    TypeError
        If `models` is not a non-empty dict, or `start`, `end` or `train_end` is neither a
        row position nor a timestamp.
    ValueError
        If a number is not a positive integer, `window` is unknown, `train_size` is
        missing or misplaced, the span holds no window, a timestamp is not in `df`, a
        model's horizon is shorter than `horizon`, the models forecast different columns,
        a model with future covariates needs rows after the end of `df` (its horizon
        reaches past it from the last cutoff), or a model has no calibration while
        `coverage` is given; for long frames, also if the models disagree on `id_col` or
        `time_col`, or a wide-only option is given.
    FloatingPointError
        If a model produces non-finite forecasts.
    """
    long = {name: getattr(m, "id_col", None) for name, m in models.items()} \
        if isinstance(models, Mapping) else {}
    if not any(v is not None for v in long.values()):
        return backtest_frame(models, df, horizon, start, end, stride=stride, refit=refit,
                              window=window, train_size=train_size, train_end=train_end,
                              scaler=scaler, mase_lag=mase_lag, time_col=time_col,
                              keep_forecasts=keep_forecasts, coverage=coverage,
                              progress=progress)
    id_cols = set(long.values())
    time_cols = {getattr(m, "time_col", None) for m in models.values()}
    if len(id_cols) > 1 or len(time_cols) > 1:
        raise ValueError("a long-frame backtest needs every model to name the same id_col "
                         f"and time_col; got id_col {sorted(map(repr, id_cols))} and "
                         f"time_col {sorted(map(repr, time_cols))}")
    (id_col,), (model_time_col,) = id_cols, time_cols
    if time_col is not None and time_col != model_time_col:
        raise ValueError(f"time_col={time_col!r}, but the models read time_col="
                         f"{model_time_col!r}")
    wide_only = {"refit": refit is not None, "window": window != "expanding",
                 "train_size": train_size is not None, "scaler": scaler is not None}
    given = [name for name, used in wide_only.items() if used]
    if given:
        raise ValueError(f"{', '.join(given)}: not available for a long frame (each series "
                         "is scaled by its own training rows, and models are fitted once)")
    return backtest_long(models, df, horizon, start, end, id_col=id_col,
                         time_col=model_time_col, stride=stride, train_end=train_end,
                         mase_lag=mase_lag, keep_forecasts=keep_forecasts, coverage=coverage,
                         progress=progress)
