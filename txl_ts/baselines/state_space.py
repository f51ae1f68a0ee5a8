"""The statsmodels side of `ARIMAForecaster`: Fourier terms, the KPSS test, the Kalman
forecast propagated from many states at once, and a quiet single-threaded context."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction

import numpy as np
from statsmodels.tools.sm_exceptions import ModelWarning
from statsmodels.tsa.statespace import kalman_filter as kf
from statsmodels.tsa.statespace.sarimax import SARIMAX
from statsmodels.tsa.stattools import kpss
from threadpoolctl import threadpool_limits

MAX_HARMONICS = 168  # default cap per period: keeps minute data's weekly period tractable

# The one-pass rolling filter keeps only the predicted state means.
LEAN_FILTER = (
    kf.MEMORY_NO_FORECAST_COV | kf.MEMORY_NO_PREDICTED_COV | kf.MEMORY_NO_FILTERED
    | kf.MEMORY_NO_GAIN | kf.MEMORY_NO_SMOOTHING | kf.MEMORY_NO_STD_FORECAST
)


@contextmanager
def statsmodels_context() -> Iterator[None]:
    """Single-threaded BLAS and no estimation chatter while statsmodels runs.

    The state-space matrices are tiny, so BLAS threads only add synchronisation (fits ran
    about 80x slower with two threads on a busy 2-core machine). Warnings about starting
    values and convergence are silenced; convergence is recorded in `converged_` instead.
    """
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ModelWarning)
        warnings.filterwarnings("ignore", module=r"statsmodels(\.|$)")
        yield


def frequencies(periods: Sequence[int], harmonics: int | None) -> np.ndarray:
    """Distinct Fourier frequencies k / period (cycles per step), k = 1..min(harmonics,
    period // 2) (None: MAX_HARMONICS), over all periods, in increasing order."""
    found = {Fraction(k, p) for p in periods
             for k in range(1, min(harmonics or MAX_HARMONICS, p // 2) + 1)}
    return np.array(sorted(float(f) for f in found), dtype=np.float64)


def fourier(positions: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """(n, 1 + 2F) regressors at `positions`: 1, then cos and sin of 2 pi f t for each f.

    The sine at f = 1/2 is zero at integer steps; least squares gives it no weight.
    """
    angles = 2 * np.pi * positions[:, None] * frequencies[None, :]  # (n, F)
    return np.concatenate([np.ones((len(positions), 1)), np.cos(angles), np.sin(angles)], 1)


def kpss_pvalue(x: np.ndarray) -> float:
    """KPSS level-stationarity p-value (statsmodels >= 0.15 returns a result object)."""
    try:
        return float(kpss(x, regression="c", nlags="auto", result_object=True).pvalue)
    except TypeError:  # statsmodels 0.14: a plain tuple, no result_object argument
        return float(kpss(x, regression="c", nlags="auto")[1])


def time_invariant(model: SARIMAX, name: str, ndim: int) -> np.ndarray:
    """System matrix `name`, checking that a time-varying one is in fact constant."""
    matrix = np.asarray(model.ssm[name])
    if matrix.ndim == ndim:
        return matrix
    if not np.all(matrix == matrix[..., :1]):
        raise NotImplementedError(f"rolling forecasts need a time-invariant {name}")
    return matrix[..., 0]


def exog_coefficients(model: SARIMAX, params: np.ndarray) -> np.ndarray:
    """The (k_exog,) regression coefficients in a SARIMAX parameter vector (trend first)."""
    k_trend = model.k_trend
    return np.asarray(params[k_trend : k_trend + model.k_exog], dtype=np.float64)


def propagate(model: SARIMAX, states: np.ndarray, horizon: int,
              regression: np.ndarray | None = None) -> np.ndarray:
    """Forecasts (n, horizon) from one-step predicted states (k_states, n).

    A model with exogenous regressors has a time-varying observation intercept, x_t' beta
    (statsmodels' regression with ARIMA errors, `mle_regression`): pass its values at the
    forecast steps as `regression` (n, horizon). Otherwise the intercept is the model's own,
    constant one.
    """
    design = time_invariant(model, "design", 2)  # (1, k)
    transition = time_invariant(model, "transition", 2)  # (k, k)
    state_intercept = time_invariant(model, "state_intercept", 1)  # (k,)
    if regression is None:
        obs_intercept = time_invariant(model, "obs_intercept", 1)  # (1,)
    out = np.empty((states.shape[1], horizon))
    for h in range(horizon):
        if regression is None:
            out[:, h] = design[0] @ states + obs_intercept[0]
        else:
            out[:, h] = design[0] @ states + regression[:, h]
        states = transition @ states + state_intercept[:, None]
    return out
