"""The small estimator base every forecaster shares.

A model implements a few hooks on prepared arrays (values already validated and scaled):

- `_fit_scaled(train, valid, x_train, x_valid)`: fit on (T, C) training rows and an optional
  validation tail, with their (T, K) covariates;
- `_forecast_scaled(history, x_history, x_future)`: the (H, C) forecast after a history, or
  after the fitted data, given the (H, K) covariates of the horizon;
- optionally `_rolling_scaled(scaled, series, cutoffs, x)`: forecasts from many cutoffs at
  once, faster than one `_forecast_scaled` per cutoff;

Covariates (`txl_ts.frames.roles`) come as one scaled matrix `x[t, k]`: the past covariates
first (`roles_.n_past` columns, NaN after the forecast origin: a model must not read them
there), then the future-known ones (user columns, calendar, holidays). K is 0 without
covariates.

and declares what it can do in `capabilities`. The base owns the rest of the data path,

    DataFrame -> validation -> train-only scaling -> model hooks -> inverse scaling -> DataFrame

(`txl_ts.frames`, `txl_ts.datapath`), conformal intervals (`txl_ts.intervals`), the
fit-or-leave-unchanged transactions, and persistence (`txl_ts.persistence`).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .datapath import DataPath, PreparedFit
from .frames.checks import check_outliers
from .frames.roles import Roles
from .frames.validate import Series
from .intervals import Intervals
from .panel_model import PanelMethods
from .persistence_panel import load as load_panel
from .persistence_panel import save as save_panel
from .threads import with_torch_threads

CALIBRATION_SIZE = 0.2  # calibration tail of models without a validation tail of their own


@dataclass(frozen=True)
class Capabilities:
    """What a forecaster can do beyond fit / predict / intervals / save / load.

    `update`: streaming `update(new_rows)` without refitting. `fast_rolling`: forecasts from
    many cutoffs in one pass (`_rolling_scaled`), so backtests and calibration cost about one
    pass over the data rather than one forecast per cutoff. `reference`: a fixed rule rather
    than a fitted model (the naive forecasts), so `backtest` does not warn when it loses to
    the seasonal naive. `global_model`: on a long frame, one network is trained over every
    series (`_fit_shared`); otherwise each series gets a model of its own.
    """

    update: bool = False
    fast_rolling: bool = False
    reference: bool = False
    global_model: bool = False


class BaseForecaster(PanelMethods, DataPath, Intervals, BaseEstimator):
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
    capabilities = Capabilities()

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

    def _fit_scaled(self, train: np.ndarray, valid: np.ndarray | None,
                    x_train: np.ndarray, x_valid: np.ndarray | None) -> None:
        """Fit on `train` (T, C) and `valid` (V, C) scaled targets, with their covariates
        `x_train` (T, K) and `x_valid` (V, K)."""
        raise NotImplementedError

    def _forecast_scaled(self, history: np.ndarray | None, x_history: np.ndarray | None,
                         x_future: np.ndarray) -> np.ndarray:
        """(H, C) scaled forecast after `history` (T, C) scaled with covariates `x_history`
        (T, K), or after the fitted data (both None); `x_future` (H, K) holds the covariates
        of the horizon (NaN in the past-covariate columns)."""
        raise NotImplementedError

    def _forecast_history(self, series: Series, x_history: np.ndarray,
                          x_future: np.ndarray) -> np.ndarray:
        """(H, C) scaled forecast after a validated history; models whose forecast depends on
        the history's timestamps (ARIMA's seasonal terms) override it."""
        return self._forecast_scaled(self._scale(series.values), x_history, x_future)

    def _advance(self, scaled: np.ndarray, series: Series, x: np.ndarray) -> dict[str, Any]:
        """The fitted attributes after absorbing `scaled` (T, C) with covariates `x` (T, K),
        rows that continue the known timeline (`series` holds their timestamps). Builds new
        objects and leaves the current ones untouched: `update` commits the result in one
        step."""
        raise NotImplementedError(f"{type(self).__name__} cannot update")

    def _rolling_scaled(self, scaled: np.ndarray, series: Series,
                        cutoffs: np.ndarray, x: np.ndarray) -> np.ndarray:
        """(n, H, C) scaled forecasts from integer `cutoffs` of `scaled` (T, C): rows
        `scaled[:c + 1]` are known at cutoff `c`. `x` (T + H, K) holds the covariates of every
        row and of the H rows after the last; only its future-known columns may be read after
        a cutoff (`_horizon_covariates`). Override with something faster than one
        `_forecast_scaled` per cutoff (and declare `fast_rolling`)."""
        out = np.empty((len(cutoffs), self.horizon, scaled.shape[1]))
        for i, c in enumerate(cutoffs):
            out[i] = self._forecast_scaled(scaled[: c + 1], x[: c + 1],
                                           self._horizon_covariates(x, c))
        return out

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
        check_is_fitted(self, "columns_")
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

    def set_params(self, **params: Any):
        # sklearn assigns the parameters one by one and raises at the first unknown name, so a
        # call with a typo would leave a fitted model half changed: check every name first
        current = self.get_params(deep=False)
        for key in params:
            name, nested, _ = key.partition("__")
            if name not in current:
                return super().set_params(**{key: params[key]})  # sklearn's error, nothing set
            if nested and not hasattr(current[name], "set_params"):
                raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}: "
                                 f"{name!r} has no sub-parameters; set {name}=... instead")
        return super().set_params(**params)

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

    # ---- public API -----------------------------------------------------------------------
    @with_torch_threads  # one intra-op thread for models this size: see txl_ts.threads
    def fit(self, df: pd.DataFrame, validation_data: pd.DataFrame | None = None):
        """Fit the model on `df` and calibrate its prediction intervals.

        Scaling statistics come from the training rows alone. Without `validation_data`, the
        time-ordered tail of `df` (the model's `val_size`, or the last 20% for models without
        one) is held out for early stopping and calibration. If fitting fails, a previously
        fitted model is left exactly as it was.

        Parameters
        ----------
        df : DataFrame
            The training series: a regular DatetimeIndex (or the timestamps in `time_col`),
            one numeric column per target (or the columns named by `targets`), no missing or
            infinite values. It must hold at least the model's minimum length (the error
            names it).
        validation_data : DataFrame, optional
            Rows that continue `df` in time (same columns and frequency, starting one step
            after its last row). Used only for early stopping (neural models) and as the
            calibration tail of the conformal intervals; `df` is then trained on in full.
            Default None: the tail of `df` plays that role. Pass it when you keep a
            validation split of your own, e.g. to reproduce a benchmark protocol.

        Returns
        -------
        self
            The fitted estimator.

        Raises
        ------
        TypeError
            If `df` or `validation_data` is not a DataFrame.
        ValueError
            If a parameter is invalid (the message names it), the frame is malformed (a gap,
            a missing value, a non-numeric column; the message names the column and
            timestamp), too short for the model, `validation_data` does not continue `df`,
            or an accelerator such as "gpu" is asked for on a machine without one.
        txl_ts.TrainingDivergedError
            If training of a neural model produced non-finite losses.
        """
        self._validate_params()  # each parameter against its declared constraints
        self._check_params()
        work = self._bare_copy()
        if self.id_col is not None:  # a long frame: one member model per series
            work._fit_panel(df, validation_data)
        else:
            work._fit_frames(df, validation_data)
        self._commit(work._fitted_attributes(), replace=True)
        return self

    def _fit_frames(self, df: object, validation_data: object, where: str = "") -> None:
        """The body of `fit`, run on a bare copy (see `_bare_copy`); `where` names the series
        of a long frame in errors."""
        from .training import check_fit_outcome  # training imports torch/lightning lazily

        fit = self._prepare_fit(df, validation_data, where)
        self._fit_scaled(fit.train, fit.valid, fit.x_train, fit.x_valid)
        summary = getattr(self, "fit_summary_", None)
        if isinstance(summary, dict) and "best_val_loss" in summary:
            check_fit_outcome(summary, fit.joined(), self.horizon)
        self._calibrate(fit.series, fit.valid_series)

    def _prepare_fit(self, df: object, validation_data: object, where: str = "",
                     roles: Roles | None = None) -> PreparedFit:
        """Validate the fit frames, fit the train-only scalers and scale: everything `fit`
        does before the model's own `_fit_scaled`. `roles`: the covariate roles of a panel
        (resolved once for every series), instead of resolving them from this frame."""
        name = f"df{where}"
        series = self._validate_fit_frame(df, name, roles)
        self._record_data(series)
        if math.isfinite(self.max_abs_scaled):
            check_outliers(series.values, series.columns, series.index, name,
                           self.max_abs_scaled)
        self._fit_scaler(series.values)
        self._fit_covariate_scaler(series.x)
        x_train = self._scale_covariates(series.x, series.index, name)
        valid = x_valid = None
        if validation_data is not None:
            valid = self._validate_continuation(validation_data, f"validation_data{where}")
            x_valid = self._scale_covariates(valid.x, valid.index, f"validation_data{where}")
        self.history_index_ = (series if valid is None else valid).index[-1:]
        return PreparedFit(series, valid, self._scale(series.values),
                           None if valid is None else self._scale(valid.values),
                           x_train, x_valid)

    @with_torch_threads
    def predict(self, history: pd.DataFrame | None = None, *,
                future: pd.DataFrame | None = None,
                horizon: int | None = None) -> pd.DataFrame:
        """Forecast the steps after the fitted data, or after `history`.

        Parameters
        ----------
        history : DataFrame, optional
            A frame with the fitted target columns and frequency (a DatetimeIndex or
            `time_col`); the forecast starts one step after its last row. By default the
            forecast follows the fitted data and every `update` since. With covariates it
            holds their columns too (past and future ones, for the history's rows).
        future : DataFrame, optional
            The future covariates' values over the horizon, for a model fitted with
            `future_covariates`: a DatetimeIndex (or `time_col`) covering at least the
            `horizon` timestamps after the history's last one (rows at other timestamps are
            ignored), and those columns, without missing values. Calendar and holiday
            features are computed, never read from it. Ignored by models without
            future covariates.
        horizon : int, optional
            How many steps to return: at most the horizon the model was fitted with (the
            default). The model forecasts its whole horizon at once, so a shorter one is its
            first `horizon` steps.

        Returns
        -------
        DataFrame
            One row per future timestamp, one column per target, in the data's units.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before `fit`.
        ValueError
            If `history` is malformed (the message names the column or timestamp),
            `horizon` exceeds the fitted horizon, or `future` is needed and missing, or
            lacks a column, a timestamp or a value (the message names it).
        """
        model = self._snapshot()
        model._check_fitted()
        steps = model._n_steps(horizon)
        if model.id_col is not None:
            return model._panel_predict(history, future, steps)
        if history is None:
            last = model.history_index_[-1]
            x_future = model._future_covariates(future, last)
            frame = model._to_frame(model._forecast_scaled(None, None, x_future), last,
                                    cached=True)
        else:
            series = model._validate_history(history)
            x_future = model._future_covariates(future, series.index[-1])
            x_history = model._scale_covariates(series.x, series.index, "history")
            frame = model._to_frame(model._forecast_history(series, x_history, x_future),
                                    series.index[-1])
        return frame if steps == model.horizon else frame.iloc[:steps]

    @with_torch_threads
    def update(self, new_df: pd.DataFrame):
        """Absorb observations that continue the known timeline, without refitting.

        The next `predict()` forecasts from after the new rows, exactly as
        `predict(history=<all rows so far>)` would (up to float rounding). The fitted
        parameters do not change.

        Parameters
        ----------
        new_df : DataFrame
            Rows that start one step after the last known timestamp, at the fitted frequency,
            with the fitted target columns. Timestamps in another time zone than the fitted
            one are converted to it (the same instants).

        Returns
        -------
        self

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before `fit`.
        ValueError
            If the rows leave a gap, overlap the known timeline, or hold bad values; the
            message names the column and timestamp. The model is then left exactly as it was.

        Notes
        -----
        The new state is built aside and installed in one step, so `predict`,
        `predict_interval` and `predict_quantiles` running in other threads see either the
        state before the update or the one after it, never a mix. Calls that change the
        model (`fit`, `update`, `set_state`, `reset_state`) must not run concurrently with
        one another: serialise them, e.g. with a lock.
        """
        model = self._snapshot()
        model._check_fitted()
        if model.id_col is not None:
            self._commit({"members_": model._panel_update(new_df)})
            return self
        series = model._validate_continuation(new_df, "new_df")
        fitted = model._advance(model._scale(series.values), series,
                                model._scale_covariates(series.x, series.index, "new_df"))
        fitted["history_index_"] = series.index[-1:]
        self._commit(fitted)
        return self

    def _snapshot(self):
        """A view of the fitted state as it is at this moment, for a consistent read.

        `_commit` installs a new attribute dict in one assignment and never edits the old
        one, so a view sharing the current dict never mixes two states: a `predict` running
        while another thread calls `update` returns the forecast of the state before the
        update or of the state after it, never a blend of the two.
        """
        view = object.__new__(type(self))
        view.__dict__ = self.__dict__
        return view

    # ---- persistence ----------------------------------------------------------------------
    def _tensors_to_save(self) -> dict[str, torch.Tensor]:
        return {}

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        pass

    def save(self, path: str | Path) -> Path:
        """Write the fitted model into the directory `path` (JSON and safetensors, no pickle).

        Parameters
        ----------
        path : str or Path
            A directory; created if missing. An earlier save there is replaced atomically and
            other files in it are kept.

        Returns
        -------
        Path
            `path`.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        """
        return save_panel(self, path)

    @classmethod
    def load(cls, path: str | Path):
        """Load a model written by `save`; reads only JSON and safetensors, never pickle.

        Parameters
        ----------
        path : str or Path
            A directory written by `save`.

        Returns
        -------
        BaseForecaster
            The fitted model, of this class.

        Raises
        ------
        txl_ts.persistence.CorruptModelError
            A ValueError naming the file and the field, for a corrupt or mismatched directory
            (`MissingModelFileError`, also a FileNotFoundError, when a file is missing).
        """
        return load_panel(cls, path)


def _same_param(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(np.all(a == b))
    except (TypeError, ValueError):
        return a is b

