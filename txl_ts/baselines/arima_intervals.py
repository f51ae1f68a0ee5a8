"""The Gaussian prediction intervals of ARIMA's state-space model, beside the conformal ones
every forecaster has: `method="model"` in `predict_interval` and `predict_quantiles`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..conformal import check_levels
from ..frames.output import interval_frame, quantile_frame
from .state_space import statsmodels_context

INTERVAL_METHODS = ("conformal", "model")


class ModelIntervals:
    """Mixed into `ARIMAForecaster` before the base, so `method="conformal"` falls through to
    the conformal intervals of `txl_ts.intervals`."""

    def predict_interval(self, coverage: float | list[float] = 0.9,
                         history: pd.DataFrame | None = None,
                         method: str = "conformal", *,
                         future: pd.DataFrame | None = None,
                         horizon: int | None = None) -> pd.DataFrame:
        """Prediction intervals around `predict(history)`, conformal or from the model.

        Parameters
        ----------
        coverage : float or list of float, default 0.9
            Level(s) in (0, 1): the share of future values each interval should contain.
        history : DataFrame, optional
            A frame with the fitted target columns and frequency (a DatetimeIndex or
            `time_col`); its timestamps place the seasonal terms, and the Kalman filter runs
            over it with the fitted parameters. By default the forecast follows the fitted
            data and every `update` since.
        future : DataFrame, optional
            As for `predict`: the future covariates over the horizon, for a model fitted
            with `future_covariates`.
        horizon : int, optional
            How many steps to return: at most the fitted horizon (the default), as the first
            `horizon` steps of the full forecast.
        method : {"conformal", "model"}, default "conformal"
            "conformal": split-conformal, calibrated on the last 20% of the fit data (or on
            `validation_data`), as for every forecaster; its residuals are in-sample for
            ARIMA, whose parameters come from all of `df`. "model": the Gaussian forecast
            distribution of the state-space model (statsmodels' `get_forecast`, mean plus or
            minus z times its standard error, as its `conf_int()`), which assumes the model
            and its estimated parameters are correct. Use "model" when the calibration tail
            is too short for the levels you need, or to compare the two.

        Returns
        -------
        DataFrame
            Indexed like `predict()`, with MultiIndex columns (column, coverage,
            "lower"/"upper"), coverages ascending, in the data's units. Both methods give
            intervals symmetric about the point forecast.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before `fit`.
        ValueError
            If `method` is unknown, a level is outside (0, 1) (or, for "conformal", needs
            more calibration windows than the model has), or `history` or `horizon` is
            invalid as for `predict`.
        """
        if _interval_method(method) == "conformal":
            return super().predict_interval(coverage, history, future=future,
                                            horizon=horizon)
        levels = check_levels(coverage, "coverage")
        point, se = self._model_spread(history, future, horizon)
        half = norm.ppf(0.5 + levels / 2)[:, None, None] * se[None]  # (L, h, C)
        return interval_frame(self.columns_, point.index, levels, point.to_numpy() - half,
                              point.to_numpy() + half)

    def predict_quantiles(self, alpha: float | list[float] = (0.1, 0.5, 0.9),
                          history: pd.DataFrame | None = None,
                          method: str = "conformal", *,
                          future: pd.DataFrame | None = None,
                          horizon: int | None = None) -> pd.DataFrame:
        """Quantile forecasts after the fitted data or after `history`.

        Parameters
        ----------
        alpha : float or list of float, default (0.1, 0.5, 0.9)
            Quantile level(s) in (0, 1).
        history : DataFrame, optional
            A frame with the fitted target columns and frequency (a DatetimeIndex or
            `time_col`); its timestamps place the seasonal terms, and the Kalman filter runs
            over it with the fitted parameters. By default the forecast follows the fitted
            data and every `update` since.
        future : DataFrame, optional
            As for `predict`: the future covariates over the horizon, for a model fitted
            with `future_covariates`.
        horizon : int, optional
            How many steps to return: at most the fitted horizon (the default), as the first
            `horizon` steps of the full forecast.
        method : {"conformal", "model"}, default "conformal"
            "conformal": split-conformal, calibrated on the last 20% of the fit data (or on
            `validation_data`), as for every forecaster; its residuals are in-sample for
            ARIMA, whose parameters come from all of `df`. "model": the Gaussian forecast
            distribution of the state-space model (statsmodels' `get_forecast`, mean plus or
            minus z times its standard error, as its `conf_int()`), which assumes the model
            and its estimated parameters are correct. Use "model" when the calibration tail
            is too short for the levels you need, or to compare the two.

        Returns
        -------
        DataFrame
            Indexed like `predict()`, with MultiIndex columns (column, alpha), alphas
            ascending, in the data's units. With "model" the 0.5 quantile is the point
            forecast; with "conformal" it is shifted by the median residual.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before `fit`.
        ValueError
            If `method` is unknown, a level is outside (0, 1) (or, for "conformal", needs
            more calibration windows than the model has), or `history` or `horizon` is
            invalid as for `predict`.
        """
        if _interval_method(method) == "conformal":
            return super().predict_quantiles(alpha, history, future=future, horizon=horizon)
        levels = check_levels(alpha, "alpha")
        point, se = self._model_spread(history, future, horizon)
        offsets = norm.ppf(levels)[:, None, None] * se[None]  # (L, h, C)
        return quantile_frame(self.columns_, point.index, levels, point.to_numpy() + offsets)

    def _model_spread(self, history: pd.DataFrame | None, future: pd.DataFrame | None,
                      horizon: int | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """The point forecast frame and the model's forecast standard errors (h, C), in the
        data's units. With fixed parameters the Kalman filter's forecast variance depends on
        how many rows were observed, not on their values (nor, with regression coefficients
        estimated by maximum likelihood, on the covariates')."""
        model = self._snapshot()  # one state throughout, whatever another thread updates
        model._check_fitted()
        steps = model._n_steps(horizon)
        point = model.predict(history, future=future, horizon=steps)
        scaled = exog = None
        last = model.history_index_[-1]
        if history is not None:
            series = model._validate_history(history)
            scaled, last = model._scale(series.values), series.index[-1]
            exog = model._known(model._scale_covariates(series.x))
        exog_future = model._known(model._future_covariates(future, last))
        se = np.empty((model.horizon, len(model.columns_)))
        with statsmodels_context():
            for i, col in enumerate(model.columns_):
                res = model.results_[col]
                if scaled is not None:
                    res = res.apply(scaled[:, i], exog=exog, refit=False)
                se[:, i] = np.asarray(res.get_forecast(model.horizon, exog=exog_future).se_mean)
        return point, (se * model.scaler_.scale_)[:steps]


def _interval_method(method: str) -> str:
    if method not in INTERVAL_METHODS:
        raise ValueError(f"method must be one of {INTERVAL_METHODS}, got {method!r}")
    return method
