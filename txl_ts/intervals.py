"""Conformal prediction intervals and quantiles for every forecaster.

At fit, the model forecasts every stride-1 origin of the time-ordered calibration tail whose
whole horizon is known (one `rolling_forecasts` pass) and keeps split-conformal quantiles of
the residuals per horizon step and column (`txl_ts.conformal`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .conformal import Calibration, check_levels
from .frames.output import interval_frame, quantile_frame
from .frames.validate import Series

CALIBRATION_CHUNK_VALUES = 2**24  # forecast values per rolling_forecasts call at calibration


class Intervals:
    """`predict_interval` and `predict_quantiles` from the conformal tables in `calibration_`;
    mixed into `BaseForecaster`."""

    def _calibrate(self, series: Series, valid: Series | None) -> None:
        """Conformal tables from the residuals of every stride-1 origin of the calibration
        tail whose whole horizon is known, in one `rolling_forecasts` pass."""
        residuals, tail_rows = self._calibration_residuals(series, valid)
        self.calibration_ = Calibration.from_residuals(residuals, tail_rows, self.horizon,
                                                       residuals.shape[2])

    def _calibration_residuals(self, series: Series, valid: Series | None
                               ) -> tuple[np.ndarray, int]:
        """The residuals (n_windows, H, C) behind `_calibrate`, and the tail's row count."""
        if valid is None:
            full = series
            tail_start = len(series.values) - self._n_val(len(series.values))
        else:
            full = replace(series, values=np.concatenate([series.values, valid.values]),
                           index=series.index.append(valid.index),
                           x=np.concatenate([series.x, valid.x]))
            tail_start = len(series.values)
        values = full.values
        n, h = len(values), self.horizon
        first = max(tail_start - 1, self._min_history_length()[0] - 1)
        cutoffs = np.arange(first, n - h, dtype=np.int64)  # c + h <= n - 1: targets known
        residuals = np.empty((len(cutoffs), h, values.shape[1]))  # y - y_hat
        if len(cutoffs):
            # chunks of cutoffs bound the memory of long horizons with many columns
            chunk = max(1, CALIBRATION_CHUNK_VALUES // (h * values.shape[1]))
            for lo in range(0, len(cutoffs), chunk):
                part = cutoffs[lo : lo + chunk]
                forecasts = self._rolling_series(full, part)[:, :h]  # (n, H, C)
                rows = part[:, None] + 1 + np.arange(h)[None, :]
                np.subtract(values[rows], forecasts, out=residuals[lo : lo + len(part)])
        return residuals, n - tail_start

    def predict_interval(self, coverage: float | list[float] = 0.9,
                         history: pd.DataFrame | None = None, *,
                         future: pd.DataFrame | None = None,
                         horizon: int | None = None) -> pd.DataFrame:
        """Conformal prediction intervals around `predict(history)`.

        Intervals are symmetric about the point forecast (half width: the conformal quantile
        of the calibration tail's absolute residuals at that horizon step and column), so
        they contain the point forecast and nest as the coverage grows. Coverage is marginal
        over forecast windows and holds when future errors look like the calibration tail's.

        Parameters
        ----------
        coverage : float or list of float, default 0.9
            Level(s) in (0, 1): the share of future values each interval should contain.
            Levels between the calibrated ones need enough calibration windows; a level the
            tail is too short for raises an error naming the levels available (shorten it,
            or fit with a longer validation tail).
        history : DataFrame, optional
            As for `predict`: forecast after this frame instead of after the fitted data and
            every `update` since (the default).
        future : DataFrame, optional
            As for `predict`: the future covariates over the horizon, for a model fitted
            with `future_covariates`.
        horizon : int, optional
            As for `predict`: the number of steps, at most the fitted horizon (the default).

        Returns
        -------
        DataFrame
            Indexed like `predict()`, with MultiIndex columns (column, coverage,
            "lower"/"upper"), coverages ascending, in the data's units.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before `fit`.
        ValueError
            If a level is outside (0, 1) or needs more calibration windows than the model
            has, the model has no calibration (fitted with `val_size=0` and no
            `validation_data`, or saved by a version without intervals), or `history` or
            `horizon` is invalid as for `predict`.
        """
        model = self._snapshot()
        model._check_calibrated()
        levels = check_levels(coverage, "coverage")
        if model.id_col is not None:
            return model._panel_bands("predict_interval", levels, history, future, horizon)
        steps = model._n_steps(horizon)
        half = model.calibration_.half_widths(levels)[:, :steps]  # (L, h, C)
        point = model.predict(history, future=future, horizon=steps)
        return interval_frame(model.columns_, point.index, levels, point.to_numpy() - half,
                              point.to_numpy() + half)

    def predict_quantiles(self, alpha: float | list[float] = (0.1, 0.5, 0.9),
                          history: pd.DataFrame | None = None, *,
                          future: pd.DataFrame | None = None,
                          horizon: int | None = None) -> pd.DataFrame:
        """Quantile forecasts: `predict(history)` plus conformal quantiles of the calibration
        tail's signed residuals, per horizon step and column.

        The quantiles are non-decreasing in alpha. They are not the bounds of
        `predict_interval` (whose intervals are symmetric): a biased model gets skewed
        quantiles, and its median need not equal the point forecast.

        Parameters
        ----------
        alpha : float or list of float, default (0.1, 0.5, 0.9)
            Quantile level(s) in (0, 1). Extreme levels (e.g. 0.01) need more calibration
            windows than a short validation tail gives; the error names the levels available.
        history : DataFrame, optional
            As for `predict`: forecast after this frame instead of after the fitted data and
            every `update` since (the default).
        future : DataFrame, optional
            As for `predict`: the future covariates over the horizon, for a model fitted
            with `future_covariates`.
        horizon : int, optional
            As for `predict`: the number of steps, at most the fitted horizon (the default).

        Returns
        -------
        DataFrame
            Indexed like `predict()`, with MultiIndex columns (column, alpha), alphas
            ascending, in the data's units.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before `fit`.
        ValueError
            If a level is outside (0, 1) or needs more calibration windows than the model
            has, the model has no calibration, or `history` or `horizon` is invalid as for
            `predict`.
        """
        model = self._snapshot()
        model._check_calibrated()
        levels = check_levels(alpha, "alpha")
        if model.id_col is not None:
            return model._panel_bands("predict_quantiles", levels, history, future, horizon)
        steps = model._n_steps(horizon)
        offsets = model.calibration_.offsets(levels)[:, :steps]  # (L, h, C)
        point = model.predict(history, future=future, horizon=steps)
        return quantile_frame(model.columns_, point.index, levels, point.to_numpy() + offsets)

    def _check_calibrated(self) -> None:
        self._check_fitted()
        if self.id_col is not None:  # each series model is checked on its own
            return
        if not hasattr(self, "calibration_"):
            raise ValueError(f"this {type(self).__name__} has no conformal calibration (it was "
                             "saved by a version without intervals); refit it")
