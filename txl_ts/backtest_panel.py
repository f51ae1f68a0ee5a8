"""Rolling-origin backtests over every series of a long frame (`id_col`, `time_col`, targets).

Each model is fitted once on the long frame (a global model over all series, a local one per
series), on each series' rows before its `train_end`, with the rows from there to its `start`
as validation data. Then every series is backtested as a wide frame (`txl_ts.backtest_frame`) by
its own fitted model (`series_model`), on the windows of its own scored span: no window of
any series is dropped. Metrics are reported per series and pooled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from .backtest_frame import BacktestResult, _position, backtest_frame
from .backtest_targets import _is_fitted
from .frames.panel import split_long

# metrics averaged over series for the pooled row; counts and seconds are summed, and
# `mse_vs_snaive` is the pooled MSE over the pooled seasonal naive's
SUMMED = ("n_windows", "predict_seconds")


@dataclass
class PanelBacktestResult:
    """What `backtest_long` measured.

    Attributes
    ----------
    metrics : DataFrame
        One row per model, pooled over series: the mean of each series' metric (every
        series weighs the same, whatever its scale: the scaled metrics are on each series'
        own training scale), `n_windows` and `predict_seconds` summed, `fit_seconds` of the
        one fit on the long frame, and `mse_vs_snaive` as the pooled MSE over the pooled
        seasonal naive's.
    per_series : DataFrame
        The metrics of every (series, model), indexed by both.
    results : dict
        The wide `BacktestResult` of each series (forecasts, cutoffs, actuals).
    models : dict
        The fitted long-format model of each name.
    """

    metrics: pd.DataFrame
    per_series: pd.DataFrame
    results: dict[Hashable, BacktestResult]
    models: dict[str, Any]


def backtest_long(
    models: Mapping[str, Any],
    df: pd.DataFrame,
    horizon: int,
    start: int | pd.Timestamp | Mapping[Hashable, int | pd.Timestamp],
    end: int | pd.Timestamp | Mapping[Hashable, int | pd.Timestamp] | None = None,
    *,
    id_col: Hashable,
    time_col: Hashable,
    stride: int = 1,
    train_end: int | pd.Timestamp | Mapping[Hashable, int | pd.Timestamp] | None = None,
    mase_lag: int = 1,
    keep_forecasts: bool = True,
    coverage: float | list[float] | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> PanelBacktestResult:
    """Rolling-origin backtest of `models` on every series of the long frame `df`.

    Parameters
    ----------
    models : dict of str to forecaster
        {name: forecaster}, each with `id_col` and `time_col` set as here. Unfitted ones are
        fitted once on the long frame as described in the module docstring; fitted ones
        (on a long frame holding every series of `df`) are used as they are.
    df : DataFrame
        The long frame: `id_col`, `time_col`, the targets and any covariate columns.
    horizon : int
        Steps scored after each cutoff.
    start, end, train_end : int, Timestamp or mapping
        As for `txl_ts.backtest.backtest`, per series: a row position within each series
        (negative counts from each series' own end, so `start=-720` scores the last 720
        rows of every series whatever its length) or a timestamp found in every series; or
        a mapping {series id: position or timestamp} with an entry for every series, for
        borders of each series' own (a 70/10/20 split of each series' own length).
    id_col, time_col : hashable
        The columns of the series ids and the timestamps.
    stride, mase_lag, keep_forecasts, coverage, progress : optional
        As for `txl_ts.backtest.backtest`.

    Returns
    -------
    PanelBacktestResult
        Pooled and per-series metrics, and each series' wide result.

    Raises
    ------
    ValueError
        As `backtest` does, naming the series; or if a fitted model lacks a series of `df`.
    """
    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty dict {name: forecaster}")
    frames = split_long(df, id_col=id_col, time_col=time_col, name="df")
    spans = {}
    for sid, frame in frames.items():
        index = pd.DatetimeIndex(pd.to_datetime(frame[time_col]))
        where = f"df, series {sid!r}"
        s_i, e_i, t_i = (_of_series(v, sid, n) for v, n in
                         ((start, "start"), (end, "end"), (train_end, "train_end")))
        s = _position(s_i, index, f"start ({where})")
        e = len(index) if e_i is None else _position(e_i, index, f"end ({where})",
                                                      inclusive_end=True)
        t = s if t_i is None else _position(t_i, index, f"train_end ({where})")
        if not 1 <= t <= s:
            raise ValueError(f"{where}: train_end ({t}) must lie in [1, start={s}]")
        spans[sid] = (s, e, t)
    fitted, fit_seconds = {}, {}
    for name, model in models.items():
        for attr in ("id_col", "time_col"):
            if getattr(model, attr, None) != (id_col if attr == "id_col" else time_col):
                raise ValueError(f"model {name!r} has {attr}={getattr(model, attr, None)!r}; "
                                 f"this backtest's frame needs {attr}="
                                 f"{id_col if attr == 'id_col' else time_col!r}")
        if _is_fitted(model):
            fitted[name], fit_seconds[name] = model, 0.0
            continue
        train = _long(frames, {sid: (0, t) for sid, (_, _, t) in spans.items()}, id_col)
        valid_spans = {sid: (t, s) for sid, (s, _, t) in spans.items() if t < s}
        valid = _long(frames, valid_spans, id_col) if valid_spans else None
        began = time.perf_counter()
        fitted[name] = clone(model).fit(train, validation_data=valid)
        fit_seconds[name] = time.perf_counter() - began
    results, rows = {}, []
    for sid, frame in frames.items():
        s, e, t = spans[sid]
        members = {}
        for name, model in fitted.items():
            try:
                members[name] = model.series_model(sid)
            except ValueError as err:
                raise ValueError(f"model {name!r}: {err}") from err
        try:
            result = backtest_frame(members, frame.reset_index(drop=True), horizon, s, e,
                              stride=stride, train_end=t, mase_lag=mase_lag,
                              time_col=time_col, keep_forecasts=keep_forecasts,
                              coverage=coverage)
        except ValueError as err:
            raise type(err)(f"series {sid!r}: {err}") from err
        results[sid] = result
        rows.append(result.metrics.assign(series=sid).reset_index())
    per_series = pd.concat(rows).set_index(["series", "model"])
    metrics = _pooled(per_series, fit_seconds)
    for name in fitted:
        if progress is not None:
            progress(name, fit_seconds[name] + float(metrics.loc[name, "predict_seconds"]))
    return PanelBacktestResult(metrics=metrics, per_series=per_series, results=results,
                               models=fitted)


def _of_series(where: Any, series_id: Hashable, name: str) -> Any:
    """`where` itself, or its entry for `series_id` when it is a mapping (series of their
    own lengths split by their own protocol each have their own borders)."""
    if not isinstance(where, Mapping):
        return where
    if series_id not in where:
        raise ValueError(f"{name} is a mapping of series to positions, but has no entry for "
                         f"series {series_id!r}")
    return where[series_id]


def _long(frames: dict[Hashable, pd.DataFrame], spans: dict[Hashable, tuple[int, int]],
          id_col: Hashable) -> pd.DataFrame:
    """The rows [lo, hi) of each series, as one long frame."""
    parts = [frames[sid].iloc[lo:hi].assign(**{str(id_col): sid})
             for sid, (lo, hi) in spans.items()]
    out = pd.concat(parts, ignore_index=True)
    return out[[str(id_col), *[c for c in out.columns if c != str(id_col)]]]


def _pooled(per_series: pd.DataFrame, fit_seconds: dict[str, float]) -> pd.DataFrame:
    numeric = per_series.apply(pd.to_numeric, errors="coerce")
    pooled = numeric.groupby(level="model", sort=False).mean()
    for col in SUMMED:
        if col in numeric:
            pooled[col] = numeric[col].groupby(level="model", sort=False).sum()
    if "mse_vs_snaive" in numeric:
        snaive = (numeric["mse"] / numeric["mse_vs_snaive"]).groupby(level="model",
                                                                      sort=False).mean()
        pooled["mse_vs_snaive"] = pooled["mse"] / snaive.replace(0.0, np.nan)
    pooled["fit_seconds"] = pd.Series(fit_seconds)
    pooled["n_series"] = per_series.index.get_level_values("series").nunique()
    return pooled
