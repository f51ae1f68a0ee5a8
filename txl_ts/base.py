"""Machinery every forecaster shares: validation, scaling, forecast frames and persistence.

A forecaster subclasses `BaseForecaster` and implements `_fit_scaled`, `_forecast_scaled`
and, for persistence, `_tensors_to_save` / `_restore`. The data path is always

    DataFrame -> validate_frame -> scaler -> model on scaled values -> inverse scaling -> DataFrame
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pandas.tseries.frequencies import to_offset
from safetensors.torch import load_file, save_file
from sklearn.base import BaseEstimator
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from .conformal import Calibration, check_levels
from .validation import (
    MAX_ABS_SCALED,
    FutureStamps,
    Series,
    check_cutoffs,
    check_outliers,
    check_scaled,
    fast_continuation,
    future_index,
    validate_frame,
)

# 2: typed column labels, the time zone's name. 3: the conformal calibration in
# calibration.json. Files of versions 1 and 2 still load (without prediction intervals).
FORMAT_VERSION = 3
CALIBRATION_SIZE = 0.2  # calibration tail of models without a validation tail of their own
CALIBRATION_CHUNK_VALUES = 2**24  # forecast values per rolling_forecasts call at calibration


class CorruptModelError(ValueError):
    """A saved model directory that cannot be loaded; the message names the file and field."""


class MissingModelFileError(CorruptModelError, FileNotFoundError):
    """The directory, or one of its two files, does not exist (a ValueError as well)."""


def scaler_to_json(scaler: StandardScaler) -> dict[str, Any]:
    return {
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        "var": scaler.var_.tolist(),
        "n_samples_seen": int(np.max(scaler.n_samples_seen_)),
    }


def scaler_from_json(state: dict[str, Any]) -> StandardScaler:
    scaler = StandardScaler()
    scaler.mean_ = np.asarray(state["mean"], dtype=np.float64)
    scaler.scale_ = np.asarray(state["scale"], dtype=np.float64)
    scaler.var_ = np.asarray(state["var"], dtype=np.float64)
    scaler.n_samples_seen_ = int(state["n_samples_seen"])
    scaler.n_features_in_ = len(scaler.mean_)
    return scaler


def identity_scaler(n_columns: int, n_samples: int) -> StandardScaler:
    """A fitted StandardScaler that leaves values exactly as they are (mean 0, scale 1)."""
    return scaler_from_json({"mean": [0.0] * n_columns, "scale": [1.0] * n_columns,
                             "var": [1.0] * n_columns, "n_samples_seen": n_samples})


def label_to_json(label: Hashable) -> Any:
    """Column labels in config.json: strings as they are, other labels with a type tag."""
    if isinstance(label, str):
        return str(label)
    if isinstance(label, tuple):
        return {"tuple": [label_to_json(x) for x in label]}
    if isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_)):
        return {"int": int(label)}
    if isinstance(label, (float, np.floating)):
        return {"float": float(label)}
    raise TypeError(f"column label {label!r} of type {type(label).__name__} cannot be saved")


def label_from_json(value: Any) -> Hashable:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (kind, inner), = value.items()
        if kind == "tuple" and isinstance(inner, list):
            return tuple(label_from_json(x) for x in inner)
        if kind == "int" and isinstance(inner, int) and not isinstance(inner, bool):
            return inner
        if kind == "float" and isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return float(inner)
    raise ValueError(f"not a column label: {value!r}")


def tz_name(tz: Any) -> str | None:
    """The name of a time zone that pandas can rebuild ("Europe/Berlin"), or None for naive
    timestamps and fixed offsets (the ISO offset of the stored timestamp keeps those)."""
    if tz is None:
        return None
    for attr in ("key", "zone"):  # zoneinfo, pytz
        name = getattr(tz, attr, None)
        if isinstance(name, str):
            return name
    name = str(tz)
    try:
        pd.Timestamp("2000-01-01", tz=name)
    except (ValueError, TypeError, KeyError):
        return None
    return name


class _Scaling:
    """The fitted scaling statistics as plain float64 arrays, for the per-step path.

    sklearn's transform is (x - mean_) / scale_ and its inverse x * scale_ + mean_, in float64:
    the same operations on the same arrays give bit-identical results without sklearn's
    per-call input checks (about 0.5 ms per call). Derived, never fitted state:
    `BaseForecaster._scaling` rebuilds it whenever `scaler_` or `columns_` is another object
    (after fit, load or any `_commit` of new fitted attributes).
    """

    def __init__(self, scaler: StandardScaler, columns: list[Hashable]):
        self.scaler, self.columns = scaler, columns
        self.mean = np.asarray(scaler.mean_, dtype=np.float64)
        self.scale = np.asarray(scaler.scale_, dtype=np.float64)
        self.column_index = _column_index(columns)  # forecast frames get shallow copies


class BaseForecaster(BaseEstimator):
    """Shared behaviour of txl_ts forecasters (not used directly).

    Fitted attributes common to all: `columns_`, `freq_`, `scaler_`, `history_index_`
    (timestamps of the last known history), `n_features_in_` and `calibration_` (the
    conformal quantile tables behind `predict_interval` / `predict_quantiles`).

    Calibration: at fit, the model forecasts every stride-1 origin of the time-ordered
    calibration tail whose whole horizon is known (one `rolling_forecasts` pass) and keeps
    split-conformal quantiles of the residuals per horizon step and column (see
    `txl_ts.conformal`). The tail is `validation_data` when given, else the last
    `_n_val(len(df))` rows of `df`: the neural models' validation tail (`val_size`), or the
    last 20% of `df` for models without one (naive, ARIMA; their parameters come from all of
    `df`, so for ARIMA these residuals are in-sample). The scaler still comes from the
    training part only.

    Every public call either succeeds or leaves the fitted state exactly as it was: `fit`
    builds the new state on a bare copy and commits it in one step (`_commit`).
    """

    PARAMS: tuple[Any, ...]  # the constructor's parameters (`txl_ts.params.Param`), in order
    horizon: int
    targets: list[Hashable] | None
    time_col: Hashable | None
    # scaled values (training standard deviations) beyond this are rejected as poison
    max_abs_scaled: float = MAX_ABS_SCALED

    # ---- hooks for subclasses -------------------------------------------------------------
    def _check_params(self) -> None:
        """Raise ValueError on nonsensical hyperparameters."""

    def _min_fit_length(self) -> tuple[int, str]:
        return self.horizon + 1, "the horizon plus one step"

    def _min_history_length(self) -> tuple[int, str]:
        return 1, "one observation"

    def _n_val(self, n_rows: int) -> int:
        """Rows of the time-ordered tail of a fit frame held out for validation and
        calibration: the model's `val_size` if it has one, else `CALIBRATION_SIZE`."""
        from .training import validation_rows  # training imports torch/lightning lazily

        return validation_rows(getattr(self, "val_size", CALIBRATION_SIZE), n_rows)

    def _fit_scaled(self, train: np.ndarray, valid: np.ndarray | None) -> None:
        raise NotImplementedError

    def _forecast_scaled(self, history: np.ndarray | None) -> np.ndarray:
        """(H, C) scaled forecast after `history` (T, C) scaled, or after the fitted data."""
        raise NotImplementedError

    # ---- fitted-state guard ---------------------------------------------------------------
    # parameters that shape only training, or where the network runs: they may change between
    # fit and predict (a failed refit with another lr leaves a working model). Both this and
    # `_parameter_constraints` are derived from each estimator's `PARAMS` (`txl_ts.params`).
    _TRAINING_ONLY_PARAMS: tuple[str, ...] = ()
    _parameter_constraints: dict[str, Any] = {}

    def _prediction_params(self) -> dict[str, Any]:
        # the objects themselves: set_params replaces them, so an identity test finds changes
        return {k: v for k, v in self.get_params(deep=False).items()
                if k not in self._TRAINING_ONLY_PARAMS}

    def _check_fitted(self) -> None:
        """NotFittedError before `fit`; ValueError naming the parameters that `set_params`
        changed since `fit` (the fitted state was built for the old values)."""
        check_is_fitted(self, "scaler_")
        fitted = getattr(self, "fit_params_", None)
        if fitted is None:
            return
        # identity first, not get_params(): this runs on every streaming update
        changed = [f"{k}={v!r} -> {getattr(self, k, None)!r}" for k, v in fitted.items()
                   if getattr(self, k, None) is not v
                   and not _same_param(v, getattr(self, k, None))]
        if changed:
            raise ValueError(f"parameters changed since fit: {', '.join(changed)}; the fitted "
                             "model was built for the old values: refit, or set them back")

    # ---- transactions ---------------------------------------------------------------------
    def _fitted_attributes(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def _bare_copy(self):
        """A copy with the same parameters and no fitted state, to fit on aside."""
        work = object.__new__(type(self))
        fitted = self._fitted_attributes()
        work.__dict__.update({k: v for k, v in vars(self).items() if k not in fitted})
        return work

    def _commit(self, fitted: dict[str, Any], replace: bool = False) -> None:
        """Install new fitted attributes in one step (`replace`: drop all the old ones)."""
        if replace:
            old = self._fitted_attributes()
            state = {k: v for k, v in vars(self).items() if k not in old}
        else:
            state = dict(vars(self))
        state.update(fitted)
        self.__dict__ = state

    # ---- data path ------------------------------------------------------------------------
    def _validate_fit_frame(self, df: object, name: str = "df") -> Series:
        min_len, why = self._min_fit_length()
        return validate_frame(
            df, time_col=self.time_col, targets=self.targets, min_length=min_len,
            min_length_reason=why, name=name,
        )

    def _validate_history(self, history: object, name: str = "history") -> Series:
        """A frame with the fitted target columns (others are ignored when the model was fitted
        with explicit `targets`), frequency and time-zone awareness, and sane values."""
        min_len, why = self._min_history_length()
        series = validate_frame(
            history, time_col=self.time_col, expected_columns=self.columns_,
            extra_columns_ok=self.targets is not None,
            expected_freq=self.freq_, min_length=min_len, min_length_reason=why, name=name,
        )
        self._check_known_values(series, name)
        return series

    def _validate_continuation(self, df: object, name: str) -> Series:
        """A frame that continues the known timeline: it starts one step after the last known
        timestamp and keeps the fitted frequency, with no gap or overlap, and its values are
        sane on the fitted scale. The one place that checks update / validation_data frames.

        A well-formed frame is accepted by numpy checks against the cached next timestamps
        (`fast_continuation` plus the scaled-value bound, tens of microseconds); anything else
        goes through `_strict_continuation`, which accepts it too or raises the error that
        names the problem. The fast path is never more lenient than the strict one.
        """
        last = self.history_index_[-1]
        n = len(df) if isinstance(df, pd.DataFrame) and self.time_col is None else 0
        expected = self._future().values(last, n) if n else None
        if expected is not None:
            values = fast_continuation(df, self.columns_, *expected, last.tz)
            if values is not None and self._within_bound(values):
                return Series(values=values, index=df.index, columns=self.columns_,
                              freq=self.freq_)
        return self._strict_continuation(df, name)

    def _within_bound(self, values: np.ndarray) -> bool:
        """The scaled-value check of `_check_known_values`, as a yes/no for the fast path."""
        if not math.isfinite(self.max_abs_scaled):
            return True
        with np.errstate(over="ignore", invalid="ignore"):
            return bool((np.abs(self._scale(values)) <= self.max_abs_scaled).all())

    def _strict_continuation(self, df: object, name: str) -> Series:
        """`_validate_continuation` with every check done by pandas (any frame, any size)."""
        series = validate_frame(
            df, time_col=self.time_col, expected_columns=self.columns_,
            extra_columns_ok=self.targets is not None, min_length=1, name=name,
            expected_freq=self.freq_, infer_freq=False,
        )
        self._check_tz(series, name)
        last = self.history_index_[-1]
        expected = future_index(last, self.freq_, len(series.index))
        wrong = np.flatnonzero(series.index != expected)
        if len(wrong):
            i = int(wrong[0])
            where = "starts" if i == 0 else f"has row {i}"
            raise ValueError(
                f"{name} must continue the timeline after {last} at frequency "
                f"{self.freq_.freqstr}: it {where} at {series.index[i]}, expected {expected[i]} "
                f"({'overlap' if series.index[i] < expected[i] else 'gap'})"
            )
        self._check_known_values(series, name)
        return series

    def _check_tz(self, series: Series, name: str) -> None:
        fitted_tz = self.history_index_.tz
        if (series.index.tz is None) != (fitted_tz is None):
            raise ValueError(
                f"{name} has {'time-zone naive' if series.index.tz is None else 'time-zone aware'}"
                f" timestamps, but the model was fitted on "
                f"{'naive' if fitted_tz is None else f'aware ({fitted_tz})'} ones"
            )

    def _check_known_values(self, series: Series, name: str) -> None:
        """Values must be sane on the fitted scale (finite ones are checked by validation)."""
        self._check_tz(series, name)
        if math.isfinite(self.max_abs_scaled):
            check_scaled(self._scale(series.values), series.values, series.columns,
                         series.index, name, self.max_abs_scaled)

    def _fit_scaler(self, train: np.ndarray) -> None:
        self.scaler_ = StandardScaler().fit(train)

    def _scaling(self) -> _Scaling:
        cached = getattr(self, "_scaling_cache", None)
        if (cached is None or cached.scaler is not self.scaler_
                or cached.columns is not self.columns_):
            cached = self._scaling_cache = _Scaling(self.scaler_, self.columns_)
        return cached

    def _future(self) -> FutureStamps:
        """Cached timestamps after the last known one (see FutureStamps), for `freq_`."""
        cached = getattr(self, "_future_cache", None)
        if cached is None or cached.freq is not self.freq_:
            cached = self._future_cache = FutureStamps(self.freq_)
        return cached

    def _scale(self, values: np.ndarray) -> np.ndarray:
        stats = self._scaling()
        if values.ndim != 2 or values.shape[1] != len(stats.mean):
            raise ValueError(f"expected values of shape (T, {len(stats.mean)}), got {values.shape}")
        return (values - stats.mean) / stats.scale

    def _unscale(self, values: np.ndarray) -> np.ndarray:
        stats = self._scaling()
        if values.ndim != 2 or values.shape[1] != len(stats.mean):
            raise ValueError(f"expected values of shape (T, {len(stats.mean)}), got {values.shape}")
        return values * stats.scale + stats.mean

    def _check_forecast(self, scaled: np.ndarray, forecast: np.ndarray) -> None:
        """Never hand out non-finite or absurd forecasts: they mean a broken model."""
        with np.errstate(invalid="ignore"):
            absurd = not (np.abs(scaled) <= self.max_abs_scaled).all()
        if absurd or not np.isfinite(forecast).all():
            raise FloatingPointError(
                f"{type(self).__name__} produced non-finite or absurd forecasts (beyond "
                f"max_abs_scaled={self.max_abs_scaled:g} training standard deviations); "
                "the model has diverged"
            )

    def _to_frame(self, scaled: np.ndarray, last: pd.Timestamp, cached: bool = False
                  ) -> pd.DataFrame:
        """The forecast frame after `last`; `cached` takes the index from the block of future
        timestamps (for predict() on the stream, whose last timestamp moves step by step)."""
        forecast = self._unscale(scaled)
        self._check_forecast(scaled, forecast)
        index = (self._future().index(last, self.horizon) if cached
                 else future_index(last, self.freq_, self.horizon))
        # a shallow copy of the cached labels: Index names are mutable, and a caller renaming
        # one forecast's columns must not rename the next forecast's
        return pd.DataFrame(forecast, index=index, columns=self._scaling().column_index.copy(),
                            copy=False)

    def _record_data(self, series: Series) -> None:
        self.fit_params_ = self._prediction_params()
        self.columns_ = list(series.columns)
        self.n_features_in_ = len(series.columns)
        self.freq_ = series.freq
        self.history_index_ = series.index[-1:]

    # ---- public API -----------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, validation_data: pd.DataFrame | None = None):
        """Fit on `df` (DatetimeIndex or `time_col`).

        `validation_data`, if given, must continue `df` in time; it is used only for early
        stopping (neural models) and as the calibration tail of the conformal intervals.
        Scaling statistics come from `df` alone. If fitting fails, a previously fitted model is
        left exactly as it was.
        """
        self._validate_params()  # each parameter against its declared constraints
        self._check_params()
        work = self._bare_copy()
        work._fit_frames(df, validation_data)
        self._commit(work._fitted_attributes(), replace=True)
        return self

    def _fit_frames(self, df: object, validation_data: object) -> None:
        """The body of `fit`, run on a bare copy (see `_bare_copy`)."""
        from .training import check_fit_outcome  # training imports torch/lightning lazily

        series = self._validate_fit_frame(df)
        self._record_data(series)
        self.history_index_ = series.index
        if math.isfinite(self.max_abs_scaled):
            check_outliers(series.values, series.columns, series.index, "df",
                           self.max_abs_scaled)
        self._fit_scaler(series.values)
        valid = None
        if validation_data is not None:
            valid = self._validate_continuation(validation_data, "validation_data")
        train_scaled = self._scale(series.values)
        valid_scaled = None if valid is None else self._scale(valid.values)
        self.history_index_ = (series if valid is None else valid).index[-1:]
        self._fit_scaled(train_scaled, valid_scaled)
        summary = getattr(self, "fit_summary_", None)
        if isinstance(summary, dict) and "best_val_loss" in summary:
            full = train_scaled if valid_scaled is None else np.concatenate(
                [train_scaled, valid_scaled])
            check_fit_outcome(summary, full, self.horizon)
        self._calibrate(series, valid)

    def _calibrate(self, series: Series, valid: Series | None) -> None:
        """Conformal tables from the residuals of every stride-1 origin of the calibration
        tail whose whole horizon is known, in one `rolling_forecasts` pass."""
        if valid is None:
            values, index = series.values, series.index
            tail_start = len(values) - self._n_val(len(values))
        else:
            values = np.concatenate([series.values, valid.values])
            index = series.index.append(valid.index)
            tail_start = len(series.values)
        n, h = len(values), self.horizon
        first = max(tail_start - 1, self._min_history_length()[0] - 1)
        cutoffs = np.arange(first, n - h, dtype=np.int64)  # c + h <= n - 1: targets known
        residuals = np.empty((len(cutoffs), h, values.shape[1]))  # y - y_hat
        if len(cutoffs):
            frame = pd.DataFrame(values, index=index, columns=_column_index(self.columns_))
            if self.time_col is not None:
                frame.index.name = None
                frame.insert(0, self.time_col, index)
                frame.index = pd.RangeIndex(n)
            # chunks of cutoffs bound the memory of long horizons with many columns
            chunk = max(1, CALIBRATION_CHUNK_VALUES // (h * values.shape[1]))
            for lo in range(0, len(cutoffs), chunk):
                part = cutoffs[lo : lo + chunk]
                forecasts = self.rolling_forecasts(frame, part)[:, :h]  # (n, H, C)
                rows = part[:, None] + 1 + np.arange(h)[None, :]
                np.subtract(values[rows], forecasts, out=residuals[lo : lo + len(part)])
        self.calibration_ = Calibration.from_residuals(residuals, n - tail_start, h,
                                                       values.shape[1])

    def predict(self, history: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast the next `horizon` steps after the fitted data, or after `history`."""
        self._check_fitted()
        if history is None:
            return self._to_frame(self._forecast_scaled(None), self.history_index_[-1],
                                  cached=True)
        series = self._validate_history(history)
        scaled = self._scale(series.values)
        return self._to_frame(self._forecast_scaled(scaled), series.index[-1])

    def rolling_forecasts(self, df: pd.DataFrame, cutoffs: np.ndarray) -> np.ndarray:
        """Forecasts from every cutoff: rows `df[:c + 1]` are known at integer cutoff `c`.

        Returns (n_cutoffs, horizon, n_columns) in original units. Subclasses override this
        with something faster than one `predict(history=...)` per cutoff.
        """
        self._check_fitted()
        series = self._validate_history(df, name="df")
        cutoffs = check_cutoffs(cutoffs, len(series.values), self._min_history_length()[0])
        scaled = self._scale(series.values)
        out = np.empty((len(cutoffs), self.horizon, len(self.columns_)))
        for i, c in enumerate(cutoffs):
            out[i] = self._forecast_scaled(scaled[: c + 1])
        return self._unscale_rolling(out)

    def _unscale_rolling(self, scaled: np.ndarray) -> np.ndarray:
        """(n, H, C) scaled rolling forecasts -> original units, checked like `predict`'s."""
        n, h, c = scaled.shape
        out = self._unscale(scaled.reshape(n * h, c)).reshape(n, h, c)
        self._check_forecast(scaled, out)
        return out

    # ---- intervals --------------------------------------------------------------------------
    def predict_interval(self, coverage: float | list[float] = 0.9,
                         history: pd.DataFrame | None = None) -> pd.DataFrame:
        """Conformal prediction intervals around `predict(history)`.

        Returns a frame indexed like `predict()` with MultiIndex columns (column, coverage,
        "lower"/"upper"), coverages ascending. Intervals are symmetric about the point
        forecast (half width: the conformal quantile of the calibration tail's absolute
        residuals at that horizon step and column), so they contain the point forecast and
        nest as the coverage grows.
        """
        self._check_calibrated()
        levels = check_levels(coverage, "coverage")
        half = self.calibration_.half_widths(levels)  # (L, H, C)
        point = self.predict(history)
        return self._interval_frame(point, levels, point.to_numpy() - half,
                                    point.to_numpy() + half)

    def predict_quantiles(self, alpha: float | list[float] = (0.1, 0.5, 0.9),
                          history: pd.DataFrame | None = None) -> pd.DataFrame:
        """Quantile forecasts: `predict(history)` plus conformal quantiles of the calibration
        tail's signed residuals, per horizon step and column.

        Returns a frame indexed like `predict()` with MultiIndex columns (column, alpha),
        alphas ascending; the quantiles are non-decreasing in alpha. They are not the bounds
        of `predict_interval` (whose intervals are symmetric): a biased model gets skewed
        quantiles, and its median need not equal the point forecast.
        """
        self._check_calibrated()
        levels = check_levels(alpha, "alpha")
        offsets = self.calibration_.offsets(levels)  # (L, H, C)
        point = self.predict(history)
        return self._quantile_frame(point, levels, point.to_numpy() + offsets)

    def _check_calibrated(self) -> None:
        self._check_fitted()
        if not hasattr(self, "calibration_"):
            raise ValueError(f"this {type(self).__name__} has no conformal calibration (it was "
                             "saved by a version without intervals); refit it")

    def _interval_frame(self, point: pd.DataFrame, levels: np.ndarray, lower: np.ndarray,
                        upper: np.ndarray) -> pd.DataFrame:
        """Frame from (L, H, C) bounds, columns (column, coverage, lower/upper)."""
        values = np.stack([lower, upper], axis=-1)  # (L, H, C, 2)
        values = values.transpose(1, 2, 0, 3).reshape(len(point), -1)
        columns = pd.MultiIndex.from_tuples(
            [(col, c, bound) for col in self.columns_ for c in levels.tolist()
             for bound in ("lower", "upper")], names=["column", "coverage", "bound"])
        return pd.DataFrame(values, index=point.index, columns=columns)

    def _quantile_frame(self, point: pd.DataFrame, levels: np.ndarray,
                        quantiles: np.ndarray) -> pd.DataFrame:
        """Frame from (L, H, C) quantiles, columns (column, alpha)."""
        values = quantiles.transpose(1, 2, 0).reshape(len(point), -1)
        columns = pd.MultiIndex.from_tuples(
            [(col, a) for col in self.columns_ for a in levels.tolist()],
            names=["column", "alpha"])
        return pd.DataFrame(values, index=point.index, columns=columns)

    # ---- persistence ----------------------------------------------------------------------
    def _tensors_to_save(self) -> dict[str, torch.Tensor]:
        return {}

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        pass

    def _parse_timestamp(self, text: str) -> pd.Timestamp:
        """A stored ISO timestamp in the fitted time zone (its name survives, not just the
        offset, so wall-clock times stay right across daylight-saving changes)."""
        stamp = pd.Timestamp(text)
        tz = self.history_index_.tz
        if tz is not None and stamp.tz is not None:
            stamp = stamp.tz_convert(tz)
        return stamp

    def save(self, path: str | Path) -> Path:
        """Write `config.json`, `calibration.json` and `weights.safetensors` into `path`.

        The files are written to a temporary directory beside `path` first, so a failure
        (a full disk, an interrupt) leaves an earlier save at `path` intact and never a half
        directory."""
        self._check_fitted()
        path = Path(path)
        params = _storable_params(self.get_params(deep=False))
        params["targets"] = _targets_to_json(self.targets)
        params["time_col"] = None if self.time_col is None else label_to_json(self.time_col)
        config = {
            "format_version": FORMAT_VERSION,
            "class": type(self).__name__,
            "params": params,
            "fitted": {
                "columns": [label_to_json(c) for c in self.columns_],
                "freq": self.freq_.freqstr,
                "last_timestamp": self.history_index_[-1].isoformat(),
                "timezone": tz_name(self.history_index_.tz),
                "scaler": scaler_to_json(self.scaler_),
            },
            "extra": self._extra_state(),
        }
        text = json.dumps(config, indent=2, default=_json_default)
        # compact: the quantile tables hold 37 x H x C numbers
        calibration = json.dumps(self.calibration_.to_json(), separators=(",", ":"))
        tensors = {k: v.detach().cpu().contiguous() for k, v in self._tensors_to_save().items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.saving-"))
        tmp.chmod(0o755)  # mkdtemp's 0700 would make the saved model private
        try:
            (tmp / "config.json").write_text(text)
            (tmp / "calibration.json").write_text(calibration)
            save_file(tensors, str(tmp / "weights.safetensors"))
            _install_model_dir(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return path

    @classmethod
    def load(cls, path: str | Path):
        """Load a model written by `save`; reads only JSON and safetensors, never pickle.

        Every field is checked (types, the estimator's own parameter checks, columns against
        the scaler and the tensors); a corrupt or mismatched directory raises one ValueError
        (`CorruptModelError`) naming the file and the field.
        """
        path = Path(path)
        if not path.is_dir():
            raise MissingModelFileError(f"{path} is not a directory written by save()")
        config_file, weights_file = path / "config.json", path / "weights.safetensors"
        config = _read_json(config_file)
        model = _model_from_config(cls, config, config_file)
        if not weights_file.is_file():
            raise MissingModelFileError(f"{weights_file}: file is missing")
        try:
            tensors = load_file(str(weights_file))
        except Exception as err:  # safetensors raises its own error types, and OSError
            raise CorruptModelError(f"{weights_file}: not a readable safetensors file "
                                    f"({type(err).__name__}: {err})") from err
        for key, tensor in tensors.items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise CorruptModelError(f"{weights_file}: tensor '{key}' has NaN or infinite "
                                        "values")
        tensors = _Fields(tensors, f"{weights_file}", "tensor")
        extra = _Fields(config["extra"], f"{config_file}", "field", "extra.")
        if not isinstance(extra.get("fit_summary", {}), dict):
            raise CorruptModelError(f"{config_file}: field 'extra.fit_summary' must be an object")
        try:
            model._restore(tensors, extra)
            forecast = model._forecast_scaled(None)
            if np.shape(forecast) != (model.horizon, len(model.columns_)):
                raise ValueError(f"restored forecast has shape {np.shape(forecast)}, expected "
                                 f"{(model.horizon, len(model.columns_))}")
            model._check_forecast(forecast, model._unscale(forecast))
        except CorruptModelError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError,
                FloatingPointError) as err:
            raise CorruptModelError(
                f"{weights_file} and the 'extra' field of {config_file} do not describe a "
                f"valid {cls.__name__} with the stored parameters and columns: "
                f"{type(err).__name__}: {err}"
            ) from err
        if config["format_version"] >= 3:  # older files have no calibration: no intervals
            model.calibration_ = _read_calibration(path / "calibration.json", model)
        return model


def _read_calibration(file: Path, model: BaseForecaster) -> Calibration:
    state = _read_json(file)
    try:
        return Calibration.from_json(state, model.horizon, len(model.columns_))
    except (KeyError, TypeError, ValueError) as err:
        raise CorruptModelError(f"{file}: not a valid calibration for this "
                                f"{type(model).__name__}: {type(err).__name__}: {err}") from err


def _same_param(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(np.all(a == b))
    except (TypeError, ValueError):
        return a is b


MODEL_FILES = ("config.json", "calibration.json", "weights.safetensors")


def _install_model_dir(tmp: Path, path: Path) -> None:
    """Move the files written in `tmp` to `path`: one directory rename when `path` is new or
    holds only model files; otherwise file by file (the user's other files stay), the config
    last, each file replaced atomically."""
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a directory")
    if not path.exists():
        tmp.rename(path)
        return
    if {p.name for p in path.iterdir()} <= set(MODEL_FILES):
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        path.rename(old)
        try:
            tmp.rename(path)
        except OSError:
            old.rename(path)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    for name in reversed(MODEL_FILES):
        os.replace(tmp / name, path / name)


class _Fields(dict):
    """A dict whose missing keys raise CorruptModelError naming the file and the key."""

    def __init__(self, data: Any, where: str, what: str, prefix: str = ""):
        if not isinstance(data, dict):
            raise CorruptModelError(f"{where}: field '{prefix.rstrip('.')}' must be an object")
        super().__init__(data)
        self.where, self.what, self.prefix = where, what, prefix

    def __missing__(self, key: str) -> Any:
        raise CorruptModelError(f"{self.where}: missing {self.what} '{self.prefix}{key}'")


def _read_json(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise MissingModelFileError(f"{file}: file is missing")
    try:
        config = json.loads(file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptModelError(f"{file}: not valid JSON ({err})") from err
    if not isinstance(config, dict):
        raise CorruptModelError(f"{file}: must hold a JSON object, got {type(config).__name__}")
    return config


def _get(data: dict[str, Any], key: str, kinds: type | tuple[type, ...], where: str,
         field: str) -> Any:
    """data[key], which must be of `kinds` (bool never counts as a number)."""
    if key not in data:
        raise CorruptModelError(f"{where}: missing field '{field}'")
    value = data[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,))):
        names = kinds.__name__ if isinstance(kinds, type) else "/".join(k.__name__ for k in kinds)
        raise CorruptModelError(f"{where}: field '{field}' must be {names}, got "
                                f"{type(value).__name__} {value!r:.80}")
    return value


def _model_from_config(cls: type, config: dict[str, Any], file: Path):
    where = str(file)
    version = _get(config, "format_version", int, where, "format_version")
    if version > FORMAT_VERSION or version < 1:
        raise CorruptModelError(
            f"{where}: format_version {version} is not supported (this txl_ts reads 1 to "
            f"{FORMAT_VERSION}); a newer version of txl_ts wrote it, so upgrade txl_ts"
        )
    name = _get(config, "class", str, where, "class")
    if name != cls.__name__:
        raise CorruptModelError(f"{where}: holds a {name}, not a {cls.__name__}")
    params = dict(_get(config, "params", dict, where, "params"))
    _get(config, "extra", dict, where, "extra")
    try:
        if isinstance(params.get("targets"), list):
            params["targets"] = [label_from_json(t) for t in params["targets"]]
        elif params.get("targets") is not None:
            params["targets"] = label_from_json(params["targets"])
        if params.get("time_col") is not None:
            params["time_col"] = label_from_json(params["time_col"])
    except ValueError as err:
        raise CorruptModelError(f"{where}: field 'params.targets/time_col': {err}") from err
    known = [p.name for p in cls.PARAMS]  # the declarations, as in fit
    unknown = sorted(set(params) - set(known))
    missing = [name for name in known if name not in params]
    if unknown:
        raise CorruptModelError(f"{where}: unknown field 'params.{unknown[0]}' for "
                                f"{cls.__name__}")
    if missing:  # save writes every parameter; a default would silently change the model
        raise CorruptModelError(f"{where}: missing field 'params.{missing[0]}'")
    for name in known:
        try:
            validate_parameter_constraints({name: cls._parameter_constraints[name]},
                                           {name: params[name]}, caller_name=cls.__name__)
        except InvalidParameterError as err:
            raise CorruptModelError(f"{where}: field 'params.{name}' is invalid: {err}") from err
    model = cls(**params)
    try:
        model._check_params()
    except (ValueError, TypeError) as err:
        raise CorruptModelError(f"{where}: field 'params' is invalid: {err}") from err

    fitted = _get(config, "fitted", dict, where, "fitted")
    raw_columns = _get(fitted, "columns", list, where, "fitted.columns")
    try:
        columns = [label_from_json(c) for c in raw_columns]
    except ValueError as err:
        raise CorruptModelError(f"{where}: field 'fitted.columns': {err}") from err
    if not columns or len(set(columns)) != len(columns):
        raise CorruptModelError(f"{where}: field 'fitted.columns' must list distinct labels, "
                                f"got {columns}")
    freq_text = _get(fitted, "freq", str, where, "fitted.freq")
    try:
        freq = to_offset(freq_text)
    except (ValueError, TypeError) as err:
        raise CorruptModelError(f"{where}: field 'fitted.freq' {freq_text!r}: {err}") from err
    stamp_text = _get(fitted, "last_timestamp", str, where, "fitted.last_timestamp")
    zone = fitted.get("timezone")
    try:
        stamp = pd.Timestamp(stamp_text)
        if pd.isna(stamp):
            raise ValueError("NaT")
    except (ValueError, TypeError) as err:
        raise CorruptModelError(
            f"{where}: field 'fitted.last_timestamp' {stamp_text!r}: {err}") from err
    if zone is not None:
        if not isinstance(zone, str) or stamp.tz is None:
            raise CorruptModelError(f"{where}: field 'fitted.timezone' {zone!r} needs a zone "
                                    "name and a last_timestamp with an offset")
        try:
            stamp = stamp.tz_convert(zone)
        except Exception as err:  # pytz / zoneinfo raise different unknown-zone errors
            raise CorruptModelError(f"{where}: field 'fitted.timezone' {zone!r}: {err}") from err
    scaler_state = _get(fitted, "scaler", dict, where, "fitted.scaler")
    arrays = {}
    for key in ("mean", "scale", "var"):
        raw = _get(scaler_state, key, list, where, f"fitted.scaler.{key}")
        if len(raw) != len(columns) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            raise CorruptModelError(
                f"{where}: field 'fitted.scaler.{key}' must hold {len(columns)} numbers (one "
                f"per column in fitted.columns), got {raw!r:.120}")
        arrays[key] = np.asarray(raw, dtype=np.float64)
        if not np.isfinite(arrays[key]).all():
            raise CorruptModelError(f"{where}: field 'fitted.scaler.{key}' is not finite")
    if not (arrays["scale"] > 0).all() or (arrays["var"] < 0).any():
        raise CorruptModelError(f"{where}: field 'fitted.scaler.scale' must be positive")
    n_seen = _get(scaler_state, "n_samples_seen", int, where, "fitted.scaler.n_samples_seen")
    if n_seen < 1:
        raise CorruptModelError(f"{where}: field 'fitted.scaler.n_samples_seen' must be >= 1")

    model.columns_ = columns
    model.n_features_in_ = len(columns)
    model.freq_ = freq
    model.history_index_ = pd.DatetimeIndex([stamp])
    model.scaler_ = scaler_from_json(scaler_state)
    model.fit_params_ = model._prediction_params()
    return model


def _targets_to_json(targets: Any) -> Any:
    """`targets` as given: one label, or a list of labels (any other iterable becomes one)."""
    if targets is None:
        return None
    if isinstance(targets, (str, tuple)) or not hasattr(targets, "__iter__"):
        return label_to_json(targets)
    return [label_to_json(t) for t in targets]


def _column_index(columns: list[Hashable]) -> pd.Index:
    """The frame columns for `columns` (a MultiIndex when the labels are tuples)."""
    if columns and all(isinstance(c, tuple) for c in columns) and len(
            {len(c) for c in columns}) == 1:
        return pd.MultiIndex.from_tuples(columns)
    return pd.Index(columns, dtype=object) if any(
        isinstance(c, tuple) for c in columns) else pd.Index(columns)


def _storable_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON; ones that JSON cannot hold (e.g. callbacks inside trainer_kwargs,
    which only matter for training) are stored as None, with a warning."""
    out = {}
    for key, value in params.items():
        try:
            json.dumps(value, default=_json_default)
            out[key] = value
        except (TypeError, ValueError):
            warnings.warn(f"parameter {key}={value!r} cannot be stored as JSON; the saved "
                          "model gets None instead", stacklevel=3)
            out[key] = None
    return out


def _json_default(obj: object) -> object:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, (tuple, set)):
        return list(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in config.json")
