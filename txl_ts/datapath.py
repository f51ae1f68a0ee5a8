"""The fitted model's side of the data path: frames checked against what the model was fitted
on (columns, frequency, time zone, the scale of the values), train-only scaling, forecast
arrays back to frames, and forecasts from many cutoffs of one frame (`rolling_forecasts`).
`BaseForecaster` mixes it in; the frame-level work lives in `txl_ts.frames`."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.preprocessing import StandardScaler

from .frames.checks import MAX_ABS_SCALED, check_cutoffs, check_scaled
from .frames.roles import (
    Roles,
    as_labels,
    check_not_targets,
    covariate_values,
    future_values,
    resolve_roles,
)
from .frames.scaling import Scaling
from .frames.stamps import FutureStamps, fast_continuation, future_index
from .frames.validate import Series, validate_frame
from .threads import with_torch_threads


@dataclass(frozen=True)
class PreparedFit:
    """A validated fit frame: the series (and validation rows), scaled, with covariates."""

    series: Series
    valid_series: Series | None
    train: np.ndarray  # (T, C) scaled
    valid: np.ndarray | None  # (V, C) scaled
    x_train: np.ndarray  # (T, K) scaled
    x_valid: np.ndarray | None  # (V, K) scaled

    def joined(self) -> np.ndarray:
        """Training then validation rows (T + V, C)."""
        return self.train if self.valid is None else np.concatenate([self.train, self.valid])


class DataPath:
    """Frame -> validated series -> scaled arrays, and forecasts -> frame, for a fitted model.

    Needs the estimator's `time_col`, `targets`, `horizon` and, once fitted, `columns_`,
    `freq_`, `scaler_` and `history_index_`.
    """

    # scaled values (training standard deviations) beyond this are rejected as poison
    max_abs_scaled: float = MAX_ABS_SCALED

    def _validate_fit_frame(self, df: object, name: str = "df",
                            roles: Roles | None = None) -> Series:
        """The fit frame's targets and covariates; sets `roles_` (they need the frequency),
        or takes `roles` as given (a panel resolves them once for all its series)."""
        min_len, why = self._min_fit_length()
        past = as_labels(self.past_covariates, "past_covariates")
        future = as_labels(self.future_covariates, "future_covariates")
        if self.targets is not None and isinstance(df, pd.DataFrame):
            targets = self.targets
            wanted = (list(targets) if isinstance(targets, list) or (
                isinstance(targets, tuple) and targets not in df.columns) else [targets])
            check_not_targets(Roles(past, future), wanted)
        series = validate_frame(
            df, time_col=self.time_col, targets=self.targets, min_length=min_len,
            min_length_reason=why, name=name, exclude=(*past, *future),
        )
        self.roles_ = roles if roles is not None else resolve_roles(
            self.past_covariates, self.future_covariates, self.calendar, self.holidays,
            series.freq, span=series.index[-1] - series.index[0])
        return self._with_covariates(series, df, name)

    def _roles(self) -> Roles:
        """The fitted roles (a model loaded from a file of an earlier version has none)."""
        return getattr(self, "roles_", None) or Roles()

    def _with_covariates(self, series: Series, df: object, name: str) -> Series:
        """`series` with the raw covariates of the rows of `df` (K = 0 without roles)."""
        roles = self._roles()
        if not roles.n_covariates:
            return replace(series, x=np.empty((len(series.index), 0)))
        return replace(series, x=covariate_values(df, roles, series.index, name))

    def _validate_history(self, history: object, name: str = "history") -> Series:
        """A frame with the fitted target columns (others are ignored when the model was fitted
        with explicit `targets` or covariates), the covariate columns, frequency and time-zone
        awareness, and sane values."""
        min_len, why = self._min_history_length()
        roles = self._roles()
        if (isinstance(history, pd.DataFrame) and roles.future and name == "history"
                and not any(c in history.columns for c in self.columns_)):
            raise ValueError(
                f"history has none of the target columns {self.columns_}; to pass the future "
                "covariates, use predict(future=X) (or predict(history=..., future=X))")
        series = validate_frame(
            history, time_col=self.time_col, expected_columns=self.columns_,
            extra_columns_ok=self.targets is not None or bool(roles.frame_columns),
            expected_freq=self.freq_, min_length=min_len, min_length_reason=why, name=name,
            exclude=roles.frame_columns,
        )
        series = self._in_fitted_zone(series, name)
        self._check_known_values(series, name)
        return self._with_covariates(series, history, name)

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
        if self._roles().n_covariates:
            n = 0  # the fast path knows the targets only

        expected = self._future().values(last, n) if n else None
        if expected is not None:
            values = fast_continuation(df, self.columns_, *expected, last.tz)
            if values is not None and self._within_bound(values):
                return Series(values=values, index=df.index, columns=self.columns_,
                              freq=self.freq_, x=np.empty((len(values), 0)))
        return self._strict_continuation(df, name)

    def _within_bound(self, values: np.ndarray) -> bool:
        """The scaled-value check of `_check_known_values`, as a yes/no for the fast path."""
        if not math.isfinite(self.max_abs_scaled):
            return True
        with np.errstate(over="ignore", invalid="ignore"):
            return bool((np.abs(self._scale(values)) <= self.max_abs_scaled).all())

    def _strict_continuation(self, df: object, name: str) -> Series:
        """`_validate_continuation` with every check done by pandas (any frame, any size)."""
        roles = self._roles()
        series = validate_frame(
            df, time_col=self.time_col, expected_columns=self.columns_,
            extra_columns_ok=self.targets is not None or bool(roles.frame_columns),
            min_length=1, name=name, expected_freq=self.freq_, infer_freq=False,
            exclude=roles.frame_columns,
        )
        series = self._in_fitted_zone(series, name)
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
        return self._with_covariates(series, df, name)

    def _in_fitted_zone(self, series: Series, name: str) -> Series:
        """`series` with its timestamps in the fitted time zone: aware timestamps of another
        zone are the same instants, converted, so forecasts keep the fitted zone."""
        self._check_tz(series, name)
        tz = self.history_index_.tz
        if tz is None or str(series.index.tz) == str(tz):
            return series
        return replace(series, index=series.index.tz_convert(tz))

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

    def _fit_covariate_scaler(self, x_train: np.ndarray) -> None:
        """Train-only statistics of the covariates (None without covariates)."""
        self.covariate_scaler_ = StandardScaler().fit(x_train) if x_train.shape[1] else None

    def _scale_covariates(self, x: np.ndarray, index: pd.DatetimeIndex | None = None,
                          name: str = "df") -> np.ndarray:
        """(T, K) raw covariates -> scaled; NaN (a past covariate after the origin) stays NaN.
        With `index`, values beyond `max_abs_scaled` are refused as for the targets."""
        scaler = getattr(self, "covariate_scaler_", None)
        if scaler is None or not x.shape[1]:
            return np.empty((len(x), 0))
        scaled = (x - scaler.mean_) / scaler.scale_
        if index is not None and math.isfinite(self.max_abs_scaled):
            known = np.where(np.isnan(x), 0.0, scaled)
            check_scaled(known, x, self._roles().names, index, name, self.max_abs_scaled)
        return scaled

    def _future_covariates(self, future: object, last: pd.Timestamp) -> np.ndarray:
        """(H, K) scaled covariates of the `horizon` steps after `last`: past covariates NaN,
        future ones from the frame `future` (ValueError naming what is missing)."""
        roles = self._roles()
        if not roles.n_covariates:
            return np.empty((self.horizon, 0))
        stamps = future_index(last, self.freq_, self.horizon)
        raw = future_values(future, roles, self.time_col, stamps)
        return self._scale_covariates(raw, stamps, "future")

    def _constant_columns(self) -> np.ndarray:
        """Mask of the columns constant in the training data. StandardScaler gives them
        scale_ 1 (and var_ 0), so a model's scaled output for them passes through in raw units;
        a model with nothing learnt about such a column repeats its last value instead."""
        scaler = self.scaler_
        return (scaler.scale_ == 1.0) & (np.sqrt(scaler.var_) != 1.0)

    def _scaling(self) -> Scaling:
        cached = getattr(self, "_scaling_cache", None)
        if (cached is None or cached.scaler is not self.scaler_
                or cached.columns is not self.columns_):
            cached = self._scaling_cache = Scaling(self.scaler_, self.columns_)
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

    def _probe_covariates(self) -> np.ndarray:
        """(H, K) covariates at their training means (past ones NaN): a stand-in horizon for
        checking that a loaded model forecasts at all."""
        probe = np.zeros((self.horizon, self._roles().n_covariates))
        probe[:, : self._roles().n_past] = np.nan
        return probe

    def _horizon_covariates(self, x: np.ndarray, cutoff: int) -> np.ndarray:
        """(H, K) covariates of the horizon after `cutoff`: the past covariates masked."""
        future = x[cutoff + 1 : cutoff + 1 + self.horizon].copy()
        future[:, : self._roles().n_past] = np.nan
        return future

    def _rolling_series(self, series: Series, cutoffs: np.ndarray) -> np.ndarray:
        """`rolling_forecasts` on a validated series (targets and covariates)."""
        roles = self._roles()
        n = len(series.values)
        if roles.future and int(cutoffs.max()) + self.horizon > n - 1:
            raise ValueError(
                f"the future covariates {list(roles.future)} are known in df only up to "
                f"{series.index[-1]}: a cutoff at row {int(cutoffs.max())} needs "
                f"{self.horizon} rows after it; pass horizon more rows, or earlier cutoffs")
        x = self._scale_covariates(series.x, series.index, "df")
        if roles.n_covariates:  # the H rows after the last: derived values, the rest unknown
            stamps = future_index(series.index[-1], self.freq_, self.horizon)
            after = np.full((self.horizon, roles.n_covariates), np.nan)
            after[:, roles.n_past + len(roles.future):] = roles.derived(stamps)
            x = np.concatenate([x, self._scale_covariates(after)])
        else:
            x = np.empty((n + self.horizon, 0))
        scaled = self._scale(series.values)
        return self._unscale_rolling(self._rolling_scaled(scaled, series, cutoffs, x))

    def _n_steps(self, horizon: object) -> int:
        """The number of forecast steps asked for: `horizon`, at most the fitted one."""
        if horizon is None:
            return self.horizon
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or (
                horizon < 1):
            raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
        if horizon > self.horizon:
            raise ValueError(f"horizon={horizon} exceeds the horizon this model was fitted "
                             f"with ({self.horizon}); refit with horizon={horizon} or more")
        return int(horizon)

    def _parse_timestamp(self, text: str) -> pd.Timestamp:
        """A stored ISO timestamp in the fitted time zone (its name survives, not just the
        offset, so wall-clock times stay right across daylight-saving changes)."""
        stamp = pd.Timestamp(text)
        tz = self.history_index_.tz
        if tz is not None and stamp.tz is not None:
            stamp = stamp.tz_convert(tz)
        return stamp

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

    def _unscale_rolling(self, scaled: np.ndarray) -> np.ndarray:
        """(n, H, C) scaled rolling forecasts -> original units, checked like `predict`'s."""
        n, h, c = scaled.shape
        out = self._unscale(scaled.reshape(n * h, c)).reshape(n, h, c)
        self._check_forecast(scaled, out)
        return out

    @with_torch_threads
    def rolling_forecasts(self, df: pd.DataFrame, cutoffs: np.ndarray) -> np.ndarray:
        """Forecasts from many cutoffs of one frame, in one pass where the model allows.

        Each forecast equals `predict(history=df[:c + 1])` for its cutoff `c` (up to float
        rounding for the neural models), but models with `capabilities.fast_rolling` compute
        them all in about one pass over `df`. `backtest` and the interval calibration use it.

        Parameters
        ----------
        df : DataFrame
            A frame with the fitted target columns and frequency (a DatetimeIndex or
            `time_col`); the model's fitted state is not used or changed.
        cutoffs : array-like of int
            Row positions in `df`: rows `df[:c + 1]` are known at cutoff `c`. Each must leave
            the model's minimum history before it; an empty array gives an empty result.

        Returns
        -------
        numpy.ndarray
            Shape (n_cutoffs, horizon, n_columns), in the data's units, in the order of
            `cutoffs`.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before `fit`.
        ValueError
            If `df` is malformed or does not match the fitted columns or frequency, or a
            cutoff is not an integer position inside `df` with enough history before it.
        """
        self._check_fitted()
        if self.id_col is not None:
            raise ValueError("rolling_forecasts takes one series: call it on "
                             "series_model(<id>), or backtest the long frame with "
                             "txl_ts.backtest_panel.backtest_long")
        series = self._validate_history(df, name="df")
        cutoffs = check_cutoffs(cutoffs, len(series.values), self._min_history_length()[0])
        if not len(cutoffs):
            return np.empty((0, self.horizon, len(self.columns_)))
        return self._rolling_series(series, cutoffs)
