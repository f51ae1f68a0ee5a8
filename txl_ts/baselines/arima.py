"""`ARIMAForecaster`: one state-space (S)ARIMA model per target column, from statsmodels.

Seasonality by default is dynamic harmonic regression: Fourier terms of every seasonal period
of the frequency (`txl_ts.seasonality.seasonal_periods`: 24 and 168 for hourly data) are
regressed out of each column by least squares on the training rows, and an ARIMA models what
remains. Because the Fourier terms are known functions of time, a forecast is the ARIMA
forecast of the remainder plus the terms at the future timestamps, and `rolling_forecasts`
stays one Kalman-filter pass. This handles long and several seasons (336 steps for a week of
half-hours) that a SARIMAX seasonal part cannot: its state would have hundreds of dimensions.

Covariates make it an ARIMAX: the known-ahead ones (`future_covariates`, `calendar`,
`holidays`) join the Fourier terms in the least-squares fit, and enter each column's ARIMA as
statsmodels' `exog` (regression with ARIMA errors), so a forecast reads their values over the
horizon (`predict(future=X)`).

Parameters are estimated once, in `fit`. Forecasting after other data (`predict(history=...)`,
`rolling_forecasts`) runs the Kalman filter with those fixed parameters over the new data; it
never re-estimates.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries import offsets
from statsmodels.tsa.statespace.sarimax import SARIMAX

from ..base import BaseForecaster, Capabilities
from ..frames.checks import check_non_negative_int, check_positive_int
from ..frames.validate import Series
from ..params import (
    COVARIATES,
    HORIZON,
    ID_COL,
    N_JOBS,
    TARGETS,
    TIME_COL,
    Choices,
    Param,
    declared,
    non_negative_int,
    positive_int,
)
from ..seasonality import seasonal_periods
from .arima_intervals import ModelIntervals
from .arima_persistence import ARIMAPersistence
from .state_space import (
    LEAN_FILTER,
    exog_coefficients,
    fourier,
    frequencies,
    kpss_pvalue,
    propagate,
    statsmodels_context,
)

TRENDS = ("n", "c")
KPSS_ALPHA = 0.05

@declared
class ARIMAForecaster(ModelIntervals, ARIMAPersistence, BaseForecaster):
    """Seasonal ARIMA(X) baseline: Fourier seasonality plus an independent statsmodels
    `SARIMAX` per column, on scaled data, with known-ahead covariates as regressors.

    Covariates. The known-ahead ones (future covariates, calendar features, holidays; scaled
    by their training statistics) are regressed out jointly with the Fourier terms by least
    squares, and the remainder's ARIMA takes them as `exog`: a regression with ARIMA errors
    whose coefficients are estimated by maximum likelihood with the ARIMA parameters, as a
    correction to the least-squares ones. A forecast reads the covariates over the horizon
    (`predict(future=X)`). Past covariates are accepted and ignored: a direct ARIMAX forecast
    needs a regressor's value at every step of the horizon, which a past covariate does not
    have (declare a covariate whose future is known, or forecast by you, as a future one).

    Fitted attributes: `periods_` (the seasonal periods used; [] without seasonality),
    `frequencies_` (cycles per step of the Fourier terms), `fourier_coef_` (n_columns,
    1 + 2 * n_frequencies: intercept, then cos / sin weights), `exog_coef_` (n_columns,
    n_known: the least-squares weights of the known-ahead covariates; no columns without
    them; the ARIMA's own exog coefficients are in `params_`), `orders_` (column -> (p, d, q)),
    `trends_`, `params_` (column -> estimated parameters), `aic_`, `converged_` (column ->
    whether the optimiser converged; non-convergence is recorded here instead of warning),
    `fit_summary_`, and the statsmodels results in `results_` (filtered on the remainder of
    the fit data, plus `validation_data` if given, with the estimated parameters).
    """

    PARAMS = (
        HORIZON,
        Param("seasonal", True, ["boolean"],
              "Regress Fourier terms of the seasonal periods out of each column before the "
              "ARIMA. False for a plain ARIMA on the data (series without a cycle, or to "
              "compare)."),
        Param("periods", None, [list, tuple, None],
              "Seasonal periods in steps, each at least 2; None is seasonal_periods(freq, "
              "n_train_rows): the frequency's main season, then longer ones seen at least "
              "twice (24 and 168 hourly). Set it for cycles the frequency does not tell.",
              type_doc="list of int or None"),
        Param("harmonics", None, [positive_int(), None],
              "Fourier pairs per period (cos and sin at k / period, k = 1..harmonics; at most "
              "period // 2, frequencies two periods share kept once). None takes all of them, "
              "up to 168 per period: hourly, the week's full profile, weekday-specific daily "
              "shape included. Fewer give smoother seasonal profiles."),
        Param("order", None, [list, tuple, None],
              "(p, d, q) for every column, or None to select it per column: d is the fewest "
              "differences (up to max_d) after which KPSS does not reject level stationarity "
              "at 5%, then (p, q) minimise the AIC over 0..max_p x 0..max_q. Fix it to fit "
              "faster or to compare a known order.",
              type_doc="(int, int, int) or None"),
        Param("seasonal_order", None, [list, tuple, None],
              "(P, D, Q, s) of a SARIMAX seasonal part on the remainder, e.g. (1, 0, 1, 24), "
              "used as given (seasonal differences precede the KPSS test); None for none. "
              "Its state grows with s, so keep s short; Fourier terms handle long seasons.",
              type_doc="(int, int, int, int) or None"),
        Param("max_p", 2, [non_negative_int()],
              "Largest autoregressive order p searched when order is None; raise it for "
              "long short-term dependence, at the cost of more fits per column."),
        Param("max_d", 1, [non_negative_int()],
              "Most differences d tried when order is None; 2 for series with a trend "
              "in their growth."),
        Param("max_q", 2, [non_negative_int()],
              "Largest moving-average order q searched when order is None; raise it as "
              "max_p, at the same cost."),
        Param("trend", None, [Choices(*TRENDS), None],
              "\"n\" (none) or \"c\" (a constant; a drift when the model is integrated); "
              "None is \"c\" for undifferenced models and \"n\" otherwise."),
        Param("maxiter", 50, [positive_int()],
              "Iteration limit of the L-BFGS likelihood optimisation; raise it when "
              "converged_ reports columns that did not converge."),
        TARGETS,
        *COVARIATES,
        TIME_COL,
        ID_COL,
        N_JOBS,
    )

    capabilities = Capabilities(update=True, fast_rolling=True)

    def __init__(
        self,
        horizon: int = 96,
        seasonal: bool = True,
        periods: Sequence[int] | None = None,
        harmonics: int | None = None,
        order: Sequence[int] | None = None,
        seasonal_order: Sequence[int] | None = None,
        max_p: int = 2,
        max_d: int = 1,
        max_q: int = 2,
        trend: str | None = None,
        maxiter: int = 50,
        targets: list[str] | None = None,
        past_covariates: list[str] | None = None,
        future_covariates: list[str] | None = None,
        calendar: str | list[str] | None = None,
        holidays: str | tuple[str, str] | None = None,
        time_col: str | None = None,
        id_col: str | None = None,
        n_jobs: int | None = None,
    ):
        self.horizon = horizon
        self.seasonal = seasonal
        self.periods = periods
        self.harmonics = harmonics
        self.order = order
        self.seasonal_order = seasonal_order
        self.max_p = max_p
        self.max_d = max_d
        self.max_q = max_q
        self.trend = trend
        self.maxiter = maxiter
        self.targets = targets
        self.past_covariates = past_covariates
        self.future_covariates = future_covariates
        self.calendar = calendar
        self.holidays = holidays
        self.time_col = time_col
        self.id_col = id_col
        self.n_jobs = n_jobs

    # ---- validation -----------------------------------------------------------------------
    def _check_params(self) -> None:
        """The entries of the tuple parameters (their types are checked by the constraints)."""
        if self.periods is not None:
            for period in self.periods:
                check_positive_int(period=period)
                if period < 2:
                    raise ValueError(f"a seasonal period must be at least 2, got {period}")
        if self.order is not None:
            if len(self.order) != 3:
                raise ValueError(f"order must be (p, d, q) or None, got {self.order!r}")
            p, d, q = self.order
            check_non_negative_int(p=p, d=d, q=q)
        if self.seasonal_order is not None:
            so = self.seasonal_order
            if len(so) != 4:
                raise ValueError(f"seasonal_order must be (P, D, Q, s) or None, got {so!r}")
            check_non_negative_int(P=so[0], D=so[1], Q=so[2])
            check_positive_int(s=so[3])
            if so[3] < 2 and any(so[:3]):
                raise ValueError(f"seasonal period s must be at least 2, got {so[3]}")

    def _seasonal(self) -> tuple[int, int, int, int]:
        return tuple(int(v) for v in self.seasonal_order) if self.seasonal_order else (0, 0, 0, 0)

    def _min_fit_length(self) -> tuple[int, str]:
        P, D, Q, s = self._seasonal()
        if self.order is not None:
            p, d, q = (int(v) for v in self.order)
        else:
            p, d, q = self.max_p, self.max_d, self.max_q
        n_states = d + D * s + max(p + P * s, q + Q * s + 1)
        n_params = p + q + P + Q + 2
        return n_states + n_params + 1, (
            f"more rows than the state dimension ({n_states}) plus the parameters ({n_params})"
        )

    def _min_history_length(self) -> tuple[int, str]:
        _, D, _, s = self._seasonal()
        k_diff = max(order[1] for order in self.orders_.values()) + D * s
        return max(2, k_diff + 1), f"one row after the {k_diff} differenced start-up rows"

    # ---- fitting --------------------------------------------------------------------------
    def _model(self, endog: np.ndarray, order: tuple[int, int, int], trend: str,
               exog: np.ndarray | None = None) -> SARIMAX:
        return SARIMAX(endog, exog=exog, order=order, seasonal_order=self._seasonal(),
                       trend=trend)

    def _trend_for(self, d: int) -> str:
        if self.trend is not None:
            return self.trend
        return "c" if d + self._seasonal()[1] == 0 else "n"

    def _select_d(self, x: np.ndarray) -> int:
        _, D, _, s = self._seasonal()
        for _ in range(D):
            x = x[s:] - x[:-s]
        for d in range(self.max_d + 1):
            if d:
                x = np.diff(x)
            if len(x) < 10 or np.ptp(x) == 0:
                return d
            if kpss_pvalue(x) >= KPSS_ALPHA:
                return d
        return self.max_d

    def _estimate(self, x: np.ndarray, order: tuple[int, int, int], exog: np.ndarray | None):
        model = self._model(x, order, self._trend_for(order[1]), exog)
        return model.fit(disp=False, maxiter=self.maxiter, cov_type="none")

    def _fit_column(self, x: np.ndarray, name: str, exog: np.ndarray | None):
        if self.order is not None:
            return self._estimate(x, tuple(int(v) for v in self.order), exog)
        d = self._select_d(x)
        best, errors = None, []
        for p, q in itertools.product(range(self.max_p + 1), range(self.max_q + 1)):
            try:
                res = self._estimate(x, (p, d, q), exog)
            except (np.linalg.LinAlgError, ValueError) as err:
                errors.append(f"({p}, {d}, {q}): {err}")
                continue
            if np.isfinite(res.aic) and (best is None or res.aic < best.aic):
                best = res
        if best is None:
            raise ValueError(f"no ARIMA order could be estimated for column {name!r}: {errors}")
        return best

    def _resolve_periods(self, n_rows: int) -> list[int]:
        if not self.seasonal:
            return []
        if self.periods is not None:
            return sorted({int(p) for p in self.periods})
        try:
            return seasonal_periods(self.freq_, n_rows)
        except ValueError as err:
            raise ValueError(f"{err}: no seasonal period is known; pass periods=[...] or "
                             "seasonal=False") from None

    def _position(self, stamp: pd.Timestamp) -> float:
        """Steps from the last training timestamp (position 0) to `stamp`."""
        if isinstance(self.freq_, offsets.Tick):
            return (stamp - self.origin_) / pd.Timedelta(self.freq_)
        lo, hi = sorted((self.origin_, stamp))
        steps = len(pd.date_range(lo, hi, freq=self.freq_)) - 1
        return float(steps if stamp >= self.origin_ else -steps)

    def _seasonality(self, first: float, n: int) -> np.ndarray:
        """(n, C) scaled seasonal part (intercept included) at positions first .. first + n - 1."""
        return fourier(first + np.arange(n), self.frequencies_) @ self.fourier_coef_.T

    def _known(self, x: np.ndarray | None) -> np.ndarray | None:
        """The future-known covariates (T, K_f) of `x` (T, K): statsmodels' `exog`, or None
        without any. The past covariates (the first `roles_.n_past` columns) are dropped: a
        direct forecast would need their values over the horizon."""
        if x is None:
            return None
        known = x[:, self._roles().n_past :]
        return known if known.shape[1] else None

    def _regression(self, first: float, n: int, exog: np.ndarray | None) -> np.ndarray:
        """(n, C) scaled least-squares part at positions first .. first + n - 1: the seasonal
        terms, plus the covariates `exog` (n, K_f) times their least-squares weights."""
        out = self._seasonality(first, n)
        if exog is not None:
            out += exog @ self.exog_coef_.T
        return out

    def _filtered_exog(self) -> np.ndarray | None:
        """(T, K_f) covariates of the rows the stored results were filtered over, or None."""
        exog = self.results_[self.columns_[0]].model.exog
        return None if exog is None else np.asarray(exog, dtype=np.float64)

    def _fit_scaled(self, train: np.ndarray, valid: np.ndarray | None,
                    x_train: np.ndarray, x_valid: np.ndarray | None) -> None:
        started = time.perf_counter()
        self.periods_ = self._resolve_periods(len(train))
        self.frequencies_ = frequencies(self.periods_, self.harmonics)
        # Position 0 is the last training row, so that validation_data changes nothing in the
        # seasonal fit. BaseForecaster has set history_index_ to the last fitted row (the last
        # validation row when validation_data is given) before calling _fit_scaled.
        n_valid = 0 if valid is None else len(valid)
        self.origin_ = self.history_index_[-1] - n_valid * self.freq_
        self.end_position_ = float(n_valid)  # the last fitted row
        design = fourier(np.arange(1 - len(train), 1.0), self.frequencies_)  # (T, 1 + 2F)
        exog, exog_valid = self._known(x_train), self._known(x_valid)
        # the covariates join the seasonal terms in one least-squares fit, so that a
        # covariate with a daily cycle of its own (temperature) does not bend the seasonal
        # profile; the ARIMA with exog then re-estimates their weights with ARIMA errors
        joint = design if exog is None else np.concatenate([design, exog], axis=1)
        coef = np.linalg.lstsq(joint, train, rcond=None)[0]  # (1 + 2F + K_f, C)
        self.fourier_coef_ = np.ascontiguousarray(coef[: design.shape[1]].T)  # (C, 1 + 2F)
        self.exog_coef_ = np.ascontiguousarray(coef[design.shape[1] :].T)  # (C, K_f)
        train = train - design @ self.fourier_coef_.T
        if exog is not None:
            train = train - exog @ self.exog_coef_.T
        if valid is not None:
            valid = valid - self._regression(1.0, n_valid, exog_valid)
        self.results_, self.orders_, self.trends_ = {}, {}, {}
        self.params_, self.aic_, self.converged_ = {}, {}, {}
        with statsmodels_context():
            for i, col in enumerate(self.columns_):
                res = self._fit_column(train[:, i], col, exog)
                self.orders_[col] = tuple(int(v) for v in res.model.order)
                self.trends_[col] = res.model.trend or "n"
                self.params_[col] = np.asarray(res.params, dtype=np.float64)
                self.aic_[col] = float(res.aic)
                self.converged_[col] = bool(res.mle_retvals.get("converged", False))
                if valid is not None:
                    res = res.append(valid[:, i], exog=exog_valid, refit=False)
                self.results_[col] = res
        self.fit_summary_ = {
            "fit_seconds": time.perf_counter() - started, "n_train_rows": len(train),
            "periods": self.periods_, "n_fourier_terms": 2 * len(self.frequencies_),
            "n_val_rows": 0 if valid is None else len(valid),
            "n_exog": 0 if exog is None else exog.shape[1],
            "all_converged": all(self.converged_.values()),
        }

    # ---- forecasting ----------------------------------------------------------------------
    def _forecast_history(self, series: Series, x_history: np.ndarray,
                          x_future: np.ndarray) -> np.ndarray:
        """After another history, its timestamps place the seasonal terms, and the Kalman
        filter runs over it with the fitted parameters."""
        return self._forecast_scaled(self._scale(series.values), x_history, x_future,
                                     end=self._position(series.index[-1]))

    def _forecast_scaled(self, history: np.ndarray | None,
                         x_history: np.ndarray | None = None,
                         x_future: np.ndarray | None = None,
                         end: float | None = None) -> np.ndarray:
        """(H, C) scaled forecast after `history` (T, C), whose last row is at position `end`
        (None: the fitted data), with covariates `x_history` (T, K) and `x_future` (H, K)."""
        if end is None:
            if history is not None:
                raise ValueError("a history needs its end position for the seasonal terms")
            end = self.end_position_
        last = None if history is None else history[-1]
        exog_future = self._known(x_future)
        exog = None if history is None else self._known(x_history)
        if history is not None:
            history = history - self._regression(end - len(history) + 1, len(history), exog)
        out = self._regression(end + 1, self.horizon, exog_future)
        with statsmodels_context():
            for i, col in enumerate(self.columns_):
                res = self.results_[col]
                if history is not None:
                    res = res.apply(history[:, i], exog=exog, refit=False)
                out[:, i] += res.forecast(self.horizon, exog=exog_future)
        # a column constant in training: the fit on zeros is the optimiser's residue in raw
        # units (-5e-6 for a series of 1e-300); repeat its last value
        flat = self._constant_columns()
        if flat.any():
            if last is None:  # the filter's data is the remainder after the regression
                stored = self._filtered_exog()
                last = self._regression(end, 1, None if stored is None else stored[-1:])[0]
                last = last + np.array([np.asarray(self.results_[c].model.endog).ravel()[-1]
                                        for c in self.columns_])
            out[:, flat] = last[flat]
        return out

    def _advance(self, scaled: np.ndarray, series: Series, x: np.ndarray) -> dict[str, Any]:
        """statsmodels' `append` with the fitted parameters (no refit): the Kalman filter
        over all rows so far, as `predict(history=...)` runs it, so saving the updated model
        keeps every row. It costs a filter pass over the whole series, not only the new rows."""
        exog = self._known(x)
        remainder = scaled - self._regression(self.end_position_ + 1, len(scaled), exog)
        results = {}
        with statsmodels_context():
            for i, col in enumerate(self.columns_):
                results[col] = self.results_[col].append(remainder[:, i], exog=exog,
                                                         refit=False)
        return {"results_": results, "end_position_": self.end_position_ + len(scaled)}

    def _rolling_scaled(self, scaled: np.ndarray, series: Series,
                        cutoffs: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Forecasts from every integer cutoff `c` (rows `df[:c + 1]` known), in one filter pass.

        Per column, the Kalman filter runs once over `df` with the fitted parameters; the
        forecast from cutoff `c` is `d + Z T^(h-1) a` (with the state intercept added at each
        step), where `a` is the filter's one-step predicted state after row `c`. This is the
        same computation `predict(history=df[:c + 1])` does, so the results are equal, at the
        cost of one filter pass plus `horizon` small matrix products over all cutoffs. With
        covariates, the observation intercept x_t' beta of the ARIMA's regression is added
        at each forecast step from the covariates of that step.
        """
        n_rows = len(series.values)
        # covariates of every row and `horizon` rows beyond: (n_rows + H, K_f); the rows
        # after a cutoff are read only in the known-ahead columns `_known` keeps. (User future
        # covariates are NaN past the last row, which no cutoff's horizon reaches.)
        exog = self._known(x)
        # least-squares part at every row of df and `horizon` steps beyond it: (n_rows + H, C)
        season = self._regression(self._position(series.index[0]), n_rows + self.horizon,
                                  exog)
        remainder = scaled - season[:n_rows]
        ahead = cutoffs[:, None] + 1 + np.arange(self.horizon)  # (n_cutoffs, H) row positions
        out = season[ahead]  # (n_cutoffs, H, C)
        for i, col in enumerate(self.columns_):
            model = self.results_[col].model.clone(
                remainder[:, i], exog=None if exog is None else exog[:n_rows])
            with statsmodels_context():
                filtered = model.filter(self.params_[col], return_ssm=True,
                                        conserve_memory=LEAN_FILTER)
            states = filtered.predicted_state[:, cutoffs + 1]  # (k_states, n_cutoffs)
            regression = None if exog is None else (  # (n_cutoffs, H)
                exog[ahead] @ exog_coefficients(model, self.params_[col]))
            out[:, :, i] += propagate(model, states, self.horizon, regression)
        flat = self._constant_columns()  # as in _forecast_scaled
        out[:, :, flat] = scaled[cutoffs][:, None, flat]
        return out
