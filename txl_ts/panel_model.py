"""Many series in one estimator: long frames of `id_col`, `time_col` and the targets.

A model fitted on a long frame keeps one fitted wide model per series, its *member*, in
`members_` (id -> model, in the order the ids first appear). Each member owns what is per
series: the scalers fitted on that series' own training rows, its last timestamp, its
streaming state and its conformal calibration. Everything per series therefore runs through
the wide code path unchanged, so a long frame of one series forecasts exactly as the wide
frame does.

Global models (`capabilities.global_model`: TXL, LSTM, DLinear) train one network over every
series (`_fit_shared`, windows drawn across series in proportion to their lengths) and their
members share it; they forecast series never seen at fit (cold start) from a history alone.
Local models (ARIMA, the naive forecasts) fit one model per series, in `n_jobs` processes
where they declare it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from .conformal import Calibration
from .frames.output import column_index, long_frame
from .frames.panel import check_one_frequency, split_long
from .frames.roles import resolve_roles
from .frames.validate import frame_frequency

# fitted attributes a member holds for its own series; the rest of a global member's fitted
# state (the network, the resolved sizes) is shared by every member
SERIES_STATE = ("scaler_", "covariate_scaler_", "history_index_", "calibration_", "state_",
                "fitted_state_", "fitted_timestamp_", "last_window_")


@contextmanager
def series_errors(series_id: Hashable) -> Iterator[None]:
    """Make a ValueError or TypeError raised for one series of a long frame name that
    series."""
    try:
        yield
    except (ValueError, TypeError) as err:
        text = f"series {series_id!r}"
        if text in str(err):
            raise
        try:
            named = type(err)(f"{text}: {err}")
        except Exception:  # an error class with another constructor
            named = ValueError(f"{text}: {err}")
        raise named from err


def _view(model: Any) -> Any:
    """A model object over the same fitted state; `update` on it commits a new state to the
    view only (`_commit` replaces the attribute dict, never edits it)."""
    view = object.__new__(type(model))
    view.__dict__ = model.__dict__
    return view


def _fit_member(template: Any, series_id: Hashable, frame: pd.DataFrame,
                valid: pd.DataFrame | None) -> Any:
    member = template._bare_copy()
    member._fit_frames(frame, valid, where=f", series {series_id!r}")
    return member


class PanelMethods:
    """The long-frame side of `BaseForecaster` (see the module docstring)."""

    id_col: Hashable | None
    time_col: Hashable | None

    # ---- public ---------------------------------------------------------------------------
    def series_model(self, series_id: Hashable):
        """The fitted model of one series of a long-format model.

        Parameters
        ----------
        series_id : label
            An id of the fit frame's `id_col`.

        Returns
        -------
        BaseForecaster
            A wide model (id_col=None) of that series, in its state after every `update`
            so far; a global model's members share the network. Updating it does not change
            this model.

        Raises
        ------
        ValueError
            If the model was fitted on a wide frame, or `series_id` was not in the fit frame.
        """
        self._check_fitted()
        if self.id_col is None:
            raise ValueError("series_model is for models fitted on a long frame (id_col)")
        members = self.members_
        if series_id not in members:
            raise ValueError(f"series {series_id!r} was not in the fit frame; it has "
                             f"{len(members)} series, e.g. {list(members)[:5]}")
        return _view(members[series_id])

    # ---- fit ------------------------------------------------------------------------------
    def _member_template(self):
        """A bare copy that fits one wide series: id_col and n_jobs off."""
        template = self._bare_copy()
        template.id_col = None
        if hasattr(template, "n_jobs"):
            template.n_jobs = None
        return template

    def _fit_panel(self, df: object, validation_data: object) -> None:
        """The body of `fit` for a long frame, on a bare copy."""
        if self.time_col is None:
            raise ValueError(f"id_col={self.id_col!r} needs time_col: name the column that "
                             "holds the timestamps (e.g. time_col='ds')")
        frames = split_long(df, id_col=self.id_col, time_col=self.time_col, name="df")
        valids = {}
        if validation_data is not None:
            valids = split_long(validation_data, id_col=self.id_col, time_col=self.time_col,
                                name="validation_data")
            unknown = [sid for sid in valids if sid not in frames]
            if unknown:
                raise ValueError(f"validation_data: series {unknown[0]!r} is not in df")
        template = self._member_template()
        if self.capabilities.global_model:
            members = self._fit_global(template, frames, valids)
        else:
            freqs = {sid: frame_frequency(frame, self.time_col, f"df, series {sid!r}")
                     for sid, frame in frames.items()}
            check_one_frequency(freqs)
            from joblib import Parallel, delayed

            fitted = Parallel(n_jobs=getattr(self, "n_jobs", None))(
                delayed(_fit_member)(template, sid, frame, valids.get(sid))
                for sid, frame in frames.items())
            members = dict(zip(frames, fitted))
        first = next(iter(members.values()))
        self.members_ = members
        self.columns_ = list(first.columns_)
        self.n_features_in_ = len(self.columns_)
        self.freq_ = first.freq_
        self.roles_ = first.roles_
        self.fit_params_ = self._prediction_params()
        if self.capabilities.global_model:  # the one training run's summary (epochs, losses)
            self.fit_summary_ = first.fit_summary_

    def _fit_global(self, template: Any, frames: dict[Hashable, pd.DataFrame],
                    valids: dict[Hashable, pd.DataFrame]) -> dict[Hashable, Any]:
        """One network over every series; each member gets its own scalers, state and
        calibration. Sets `pooled_calibration_` (the members' residuals in their own scaled
        units, pooled: the intervals of a series never seen at fit)."""
        from .training import check_fit_outcome, naive_mse

        ids = list(frames)
        probe = template._bare_copy()
        first = probe._validate_fit_frame(frames[ids[0]], f"df, series {ids[0]!r}")
        # covariate roles once for all series: calendar="auto" resolves from the whole span
        ends = [pd.to_datetime(f[self.time_col].iloc[[0, -1]]) for f in frames.values()]
        span = max(e.iloc[-1] for e in ends) - min(e.iloc[0] for e in ends)
        roles = resolve_roles(self.past_covariates, self.future_covariates, self.calendar,
                              self.holidays, first.freq, span=span)
        members, fits = {}, []
        for sid in ids:
            member = template._bare_copy()
            fits.append(member._prepare_fit(frames[sid], valids.get(sid),
                                            f", series {sid!r}", roles))
            members[sid] = member
        check_one_frequency({sid: m.freq_ for sid, m in members.items()})
        template.freq_, template.roles_ = first.freq, roles
        template.columns_, template.n_features_in_ = list(first.columns), len(first.columns)
        parts = template._fit_shared(
            [(f.train, f.valid, f.x_train, f.x_valid) for f in fits],
            [f"df, series {sid!r}" for sid in ids])
        shared = {k: v for k, v in template._fitted_attributes().items()
                  if k not in ("freq_", "roles_", "columns_", "n_features_in_")}
        summary = shared.get("fit_summary_")
        if isinstance(summary, dict) and summary.get("best_val_loss") is not None:
            naive = float(np.nanmean([naive_mse(full, start, self.horizon)
                                      for full, _, start in parts]))
            check_fit_outcome(summary, None, self.horizon, naive=naive)
        pooled, tail_rows = [], 0
        for sid, member, fit, part in zip(ids, members.values(), fits, parts):
            member.__dict__.update(shared)
            member._attach(*part)
            with series_errors(sid):
                residuals, tail = member._calibration_residuals(fit.series, fit.valid_series)
            member.calibration_ = Calibration.from_residuals(
                residuals, tail, self.horizon, residuals.shape[2])
            pooled.append(residuals / member.scaler_.scale_)
            tail_rows += tail
        joined = np.concatenate(pooled)
        self.pooled_calibration_ = Calibration.from_residuals(
            joined, tail_rows, self.horizon, joined.shape[2])
        return members

    # ---- forecasts ------------------------------------------------------------------------
    def _split(self, frame: object, name: str) -> dict[Hashable, pd.DataFrame]:
        if frame is None:
            return {}
        return split_long(frame, id_col=self.id_col, time_col=self.time_col, name=name)

    def _forecast_members(self, members: list[Any], x_futures: list[np.ndarray]
                          ) -> list[np.ndarray]:
        """Scaled (H, C) forecasts after each member's known data; a global model overrides
        it with one batched pass."""
        return [m._forecast_scaled(None, None, x) for m, x in zip(members, x_futures)]

    def _history_member(self, series_id: Hashable, frame: pd.DataFrame) -> Any:
        """The model that forecasts after `frame`, a history of `series_id`: its member, or,
        for a series never seen at fit, a global model's cold start."""
        members = self.members_
        if series_id in members:
            return members[series_id]
        if not self.capabilities.global_model:
            raise ValueError(
                f"series {series_id!r} was not in the frame this {type(self).__name__} was "
                "fitted on: it fits one model per series and has none for it; refit with "
                "that series included")
        base = next(iter(members.values()))
        cold = object.__new__(type(base))
        cold.__dict__ = {k: v for k, v in base.__dict__.items()
                         if k not in SERIES_STATE and not k.startswith("_")}
        with series_errors(series_id):
            # scalers from this history itself: it is all the model knows of the series
            cold._prepare_fit(frame, None, f", series {series_id!r}", self.roles_)
        cold.calibration_ = self.pooled_calibration_.scaled(cold.scaler_.scale_)
        return cold

    def _panel_predict(self, history: object, future: object, steps: int) -> pd.DataFrame:
        futures = self._split(future, "future")
        if history is not None:
            frames = self._split(history, "history")
            ids, forecasts = [], []
            for sid, frame in frames.items():
                member = self._history_member(sid, frame)
                with series_errors(sid):
                    forecasts.append(member.predict(frame, future=futures.get(sid),
                                                    horizon=steps))
                ids.append(sid)
            return long_frame(ids, [f.index for f in forecasts],
                              [f.to_numpy() for f in forecasts], self.columns_,
                              id_col=self.id_col, time_col=self.time_col)
        members = self.members_
        if self._roles().n_covariates:
            x_futures = []
            for sid, m in members.items():
                with series_errors(sid):
                    x_futures.append(m._future_covariates(futures.get(sid),
                                                          m.history_index_[-1]))
        else:  # nothing to read per series: the common case stays free of per-series work
            x_futures = [np.empty((self.horizon, 0))] * len(members)
        scaled = np.stack(self._forecast_members(list(members.values()), x_futures))
        return self._long_forecast(members, scaled[:, :steps], steps)

    def _long_forecast(self, members: dict[Hashable, Any], scaled: np.ndarray, steps: int
                       ) -> pd.DataFrame:
        """The long frame of every member's forecast from its scaled (S, steps, C) values,
        in array operations over all series (`predict()` on a thousand series stays a
        few array calls, not a thousand frames)."""
        stats = [m._scaling() for m in members.values()]
        mean = np.stack([st.mean for st in stats])[:, None, :]  # (S, 1, C)
        scale = np.stack([st.scale for st in stats])[:, None, :]
        forecast = scaled * scale + mean  # as each member's `_unscale`
        with np.errstate(invalid="ignore"):
            broken = ~((np.abs(scaled) <= self.max_abs_scaled).all(axis=(1, 2))
                       & np.isfinite(forecast).all(axis=(1, 2)))
        for i in np.flatnonzero(broken)[:1]:
            sid, member = list(members.items())[i]
            with series_errors(sid):
                member._check_forecast(scaled[i], forecast[i])
        ds = self._future_stamps(members, steps)
        n = len(members)
        frame = pd.DataFrame(forecast.reshape(n * steps, -1),
                             columns=column_index(self.columns_))
        frame.insert(0, self.time_col, ds)
        frame.insert(0, self.id_col, pd.Series(list(members), dtype=None).repeat(steps)
                     .to_numpy())
        return frame

    def _future_stamps(self, members: dict[Hashable, Any], steps: int) -> pd.DatetimeIndex:
        """The `steps` timestamps after each member's last one, all series in one index."""
        first = next(iter(members.values())).history_index_
        freq = self.freq_
        if isinstance(freq, pd.offsets.Tick):  # a fixed length: arithmetic on the int64 stamps
            per_unit = pd.Timedelta(1, unit=first.unit).value
            step = freq.nanos // per_unit
            lasts = np.fromiter((m.history_index_.asi8[-1] for m in members.values()),
                                dtype=np.int64, count=len(members))
            ticks = (lasts[:, None] + step * np.arange(1, steps + 1)).ravel()
            stamps = pd.DatetimeIndex(ticks.view(f"M8[{first.unit}]"))
            return stamps if first.tz is None else stamps.tz_localize("UTC").tz_convert(
                first.tz)
        # calendar offsets (months, business days): each series' own date_range
        parts = [m._future().index(m.history_index_[-1], steps) for m in members.values()]
        return parts[0].append(parts[1:]) if len(parts) > 1 else parts[0]

    def _panel_bands(self, method: str, levels: np.ndarray, history: object, future: object,
                     horizon: int | None) -> pd.DataFrame:
        """`predict_interval` / `predict_quantiles` per series, as one long frame with flat
        columns: `<target>_lower_<100c>`, `<target>_upper_<100c>` for coverage c, or
        `<target>_q<100a>` for quantile level a."""
        steps = self._n_steps(horizon)
        futures = self._split(future, "future")
        if history is None:
            items = [(sid, m, None) for sid, m in self.members_.items()]
        else:
            items = [(sid, self._history_member(sid, frame), frame)
                     for sid, frame in self._split(history, "history").items()]
        bands = []
        for sid, member, frame in items:
            with series_errors(sid):
                bands.append(getattr(member, method)(list(levels), frame,
                                                     future=futures.get(sid), horizon=steps))
        columns = [_band_name(key) for key in bands[0].columns] if bands else []
        return long_frame([sid for sid, _, _ in items], [b.index for b in bands],
                          [b.to_numpy() for b in bands], columns, id_col=self.id_col,
                          time_col=self.time_col)

    # ---- streaming ------------------------------------------------------------------------
    def _panel_update(self, new_df: object) -> dict[Hashable, Any]:
        """The members after absorbing `new_df`, rows of any subset of the fitted series;
        the others are untouched. Nothing is committed if any series' rows are refused."""
        frames = self._split(new_df, "new_df")
        members = dict(self.members_)
        for sid, frame in frames.items():
            if sid not in members:
                raise ValueError(
                    f"new_df: series {sid!r} was not in the fit frame; update continues "
                    "fitted series (forecast a new one with predict(history=...))")
            view = _view(members[sid])
            with series_errors(sid):
                view.update(frame)
            members[sid] = view
        return members


def _band_name(key: tuple) -> str:
    """A flat column name for an interval (column, coverage, side) or quantile (column,
    alpha) column of the wide frames."""
    if len(key) == 3:
        column, level, side = key
        return f"{column}_{side}_{100 * level:g}"
    column, level = key
    return f"{column}_q{100 * level:g}"
