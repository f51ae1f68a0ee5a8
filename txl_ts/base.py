"""Machinery every forecaster shares: validation, scaling, forecast frames and persistence.

A forecaster subclasses `BaseForecaster` and implements `_fit_scaled`, `_forecast_scaled`
and, for persistence, `_tensors_to_save` / `_restore`. The data path is always

    DataFrame -> validate_frame -> scaler -> model on scaled values -> inverse scaling -> DataFrame
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pandas.tseries.frequencies import to_offset
from safetensors.torch import load_file, save_file
from sklearn.base import BaseEstimator
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from .validation import Series, future_index, validate_frame

FORMAT_VERSION = 1


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


class BaseForecaster(BaseEstimator):
    """Shared behaviour of txl_ts forecasters (not used directly).

    Fitted attributes common to all: `columns_`, `freq_`, `scaler_`, `history_index_`
    (timestamps of the last known history) and `n_features_in_`.
    """

    horizon: int
    targets: list[str] | None
    time_col: str | None

    # ---- hooks for subclasses -------------------------------------------------------------
    def _check_params(self) -> None:
        """Raise ValueError on nonsensical hyperparameters."""

    def _min_fit_length(self) -> tuple[int, str]:
        return self.horizon + 1, "the horizon plus one step"

    def _min_history_length(self) -> tuple[int, str]:
        return 1, "one observation"

    def _fit_scaled(self, train: np.ndarray, valid: np.ndarray | None) -> None:
        raise NotImplementedError

    def _forecast_scaled(self, history: np.ndarray | None) -> np.ndarray:
        """(H, C) scaled forecast after `history` (T, C) scaled, or after the fitted data."""
        raise NotImplementedError

    # ---- data path ------------------------------------------------------------------------
    def _validate_fit_frame(self, df: object, name: str = "df") -> Series:
        min_len, why = self._min_fit_length()
        return validate_frame(
            df, time_col=self.time_col, targets=self.targets, min_length=min_len,
            min_length_reason=why, name=name,
        )

    def _validate_history(self, history: object, name: str = "history") -> Series:
        min_len, why = self._min_history_length()
        return validate_frame(
            history, time_col=self.time_col, expected_columns=self.columns_,
            expected_freq=self.freq_, min_length=min_len, min_length_reason=why, name=name,
        )

    def _validate_continuation(self, df: object, name: str) -> Series:
        """A frame that continues the known timeline: it starts one step after the last known
        timestamp and keeps the fitted frequency, with no gap or overlap."""
        series = validate_frame(
            df, time_col=self.time_col, expected_columns=self.columns_, min_length=1, name=name,
            expected_freq=self.freq_, infer_freq=False,
        )
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
        return series

    def _fit_scaler(self, train: np.ndarray) -> None:
        self.scaler_ = StandardScaler().fit(train)

    def _scale(self, values: np.ndarray) -> np.ndarray:
        return self.scaler_.transform(values)

    def _unscale(self, values: np.ndarray) -> np.ndarray:
        return self.scaler_.inverse_transform(values)

    def _to_frame(self, scaled: np.ndarray, last: pd.Timestamp) -> pd.DataFrame:
        forecast = self._unscale(scaled)
        if not np.isfinite(forecast).all():
            raise FloatingPointError(
                f"{type(self).__name__} produced non-finite forecasts; the model has diverged"
            )
        index = future_index(last, self.freq_, self.horizon)
        return pd.DataFrame(forecast, index=index, columns=self.columns_)

    def _record_data(self, series: Series) -> None:
        self.columns_ = list(series.columns)
        self.n_features_in_ = len(series.columns)
        self.freq_ = series.freq
        self.history_index_ = series.index[-1:]

    # ---- public API -----------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, validation_data: pd.DataFrame | None = None):
        """Fit on `df` (DatetimeIndex or `time_col`).

        `validation_data`, if given, must continue `df` in time; it is used only for early
        stopping (neural models). Scaling statistics come from `df` alone.
        """
        self._check_params()
        series = self._validate_fit_frame(df)
        valid = None
        if validation_data is not None:
            self._record_data(series)
            self.history_index_ = series.index
            valid = self._validate_continuation(validation_data, "validation_data")
        self._record_data(series)
        self._fit_scaler(series.values)
        train_scaled = self._scale(series.values)
        valid_scaled = None if valid is None else self._scale(valid.values)
        self._fit_scaled(train_scaled, valid_scaled)
        if valid is not None:
            self.history_index_ = valid.index[-1:]
        return self

    def predict(self, history: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast the next `horizon` steps after the fitted data, or after `history`."""
        check_is_fitted(self, "scaler_")
        if history is None:
            return self._to_frame(self._forecast_scaled(None), self.history_index_[-1])
        series = self._validate_history(history)
        scaled = self._scale(series.values)
        return self._to_frame(self._forecast_scaled(scaled), series.index[-1])

    def rolling_forecasts(self, df: pd.DataFrame, cutoffs: np.ndarray) -> np.ndarray:
        """Forecasts from every cutoff: rows `df[:c + 1]` are known at integer cutoff `c`.

        Returns (n_cutoffs, horizon, n_columns) in original units. Subclasses override this
        with something faster than one `predict(history=...)` per cutoff.
        """
        check_is_fitted(self, "scaler_")
        series = self._validate_history(df, name="df")
        scaled = self._scale(series.values)
        out = np.empty((len(cutoffs), self.horizon, len(self.columns_)))
        for i, c in enumerate(np.asarray(cutoffs, dtype=int)):
            out[i] = self._unscale(self._forecast_scaled(scaled[: c + 1]))
        return out

    # ---- persistence ----------------------------------------------------------------------
    def _tensors_to_save(self) -> dict[str, torch.Tensor]:
        return {}

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        pass

    def save(self, path: str | Path) -> Path:
        """Write `config.json` and `weights.safetensors` into directory `path`."""
        check_is_fitted(self, "scaler_")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = {
            "format_version": FORMAT_VERSION,
            "class": type(self).__name__,
            "params": _storable_params(self.get_params(deep=False)),
            "fitted": {
                "columns": self.columns_,
                "freq": self.freq_.freqstr,
                "last_timestamp": self.history_index_[-1].isoformat(),
                "scaler": scaler_to_json(self.scaler_),
            },
            "extra": self._extra_state(),
        }
        (path / "config.json").write_text(json.dumps(config, indent=2, default=_json_default))
        tensors = {k: v.detach().cpu().contiguous() for k, v in self._tensors_to_save().items()}
        save_file(tensors, str(path / "weights.safetensors"))
        return path

    @classmethod
    def load(cls, path: str | Path):
        """Load a model written by `save`; reads only JSON and safetensors, never pickle."""
        path = Path(path)
        config = json.loads((path / "config.json").read_text())
        if config.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported format_version {config.get('format_version')}")
        if config["class"] != cls.__name__:
            raise ValueError(f"{path} holds a {config['class']}, not a {cls.__name__}")
        model = cls(**config["params"])
        fitted = config["fitted"]
        model.columns_ = list(fitted["columns"])
        model.n_features_in_ = len(model.columns_)
        model.freq_ = to_offset(fitted["freq"])
        model.history_index_ = pd.DatetimeIndex([pd.Timestamp(fitted["last_timestamp"])])
        model.scaler_ = scaler_from_json(fitted["scaler"])
        model._restore(load_file(str(path / "weights.safetensors")), config["extra"])
        return model


def _storable_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON; ones that JSON cannot hold (e.g. callbacks inside trainer_kwargs,
    which only matter for training) are stored as None, with a warning."""
    out = {}
    for key, value in params.items():
        try:
            json.dumps(value, default=_json_default)
            out[key] = value
        except TypeError:
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
