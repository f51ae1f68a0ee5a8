"""`NaiveForecaster`: repeat the last value, or the last season, over the horizon."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..base import BaseForecaster, Capabilities
from ..frames.scaling import identity_scaler
from ..frames.validate import Series
from ..params import (
    COVARIATES,
    HORIZON,
    ID_COL,
    TARGETS,
    TIME_COL,
    Choices,
    Param,
    declared,
    positive_int,
)
from ..seasonality import season_from_freq

METHODS = ("last", "seasonal")


@declared
class NaiveForecaster(BaseForecaster):
    """Naive baselines: `method="last"` repeats the last observation; `method="seasonal"`
    repeats the last `season` observations (`season=None` takes it from the frequency, see
    `season_from_freq`: 24 for hourly data).

    Fitted attributes: `season_` (1 for "last") and `last_` (the newest `season_` rows).
    Forecasts are exact copies of observed values, however large: no scaling is involved
    (`scaler_` is the identity, kept for the shared API), and no bound on their size applies.
    """

    capabilities = Capabilities(update=True, fast_rolling=True, reference=True)

    max_abs_scaled = math.inf  # repeating values needs no scale, so no value is absurd

    PARAMS = (
        HORIZON,
        Param("method", "last", [Choices(*METHODS)],
              "\"last\" repeats the last observation; \"seasonal\" repeats the last season. "
              "The seasonal naive is the baseline for series with a daily or weekly cycle."),
        Param("season", None, [positive_int(), None],
              "Rows in a season for method=\"seasonal\" (ignored for \"last\"); None takes "
              "it from the frequency (24 hourly, 7 daily; season_from_freq). Set it for another "
              "cycle, e.g. 168 to repeat last week of hourly data."),
        TARGETS,
        *COVARIATES,
        TIME_COL,
    ID_COL,
    )

    def __init__(
        self,
        horizon: int = 96,
        method: str = "last",
        season: int | None = None,
        targets: list[str] | None = None,
        past_covariates: list[str] | None = None,
        future_covariates: list[str] | None = None,
        calendar: str | list[str] | None = None,
        holidays: str | tuple[str, str] | None = None,
        time_col: str | None = None,
        id_col: str | None = None,
    ):
        self.horizon = horizon
        self.method = method
        self.season = season
        self.targets = targets
        self.past_covariates = past_covariates
        self.future_covariates = future_covariates
        self.calendar = calendar
        self.holidays = holidays
        self.time_col = time_col
        self.id_col = id_col

    def _resolve_season(self, freq: pd.DateOffset) -> int:
        if self.method == "last":
            return 1
        return int(self.season) if self.season is not None else season_from_freq(freq)

    def _min_fit_length(self) -> tuple[int, str]:
        if self.method == "seasonal" and self.season is not None:
            return max(2, int(self.season)), f"one season of {self.season} rows"
        return 2, "two rows to infer the frequency"

    def _min_history_length(self) -> tuple[int, str]:
        return self.season_, f"one season of {self.season_} rows"

    def _fit_scaler(self, train: np.ndarray) -> None:
        self.scaler_ = identity_scaler(train.shape[1], len(train))

    def _fit_scaled(self, train: np.ndarray, valid: np.ndarray | None,
                    x_train: np.ndarray, x_valid: np.ndarray | None) -> None:
        self.season_ = self._resolve_season(self.freq_)
        known = train if valid is None else np.concatenate([train, valid])
        if len(known) < self.season_:
            raise ValueError(f"df has {len(known)} rows; at least season={self.season_} are "
                             "needed")
        self.last_ = known[-self.season_ :].copy()

    def _steps(self) -> np.ndarray:
        """Row offsets (relative to the newest known row) that each horizon step repeats."""
        return np.arange(self.horizon) % self.season_ - self.season_ + 1

    def _forecast_scaled(self, history: np.ndarray | None,
                         x_history: np.ndarray | None = None,
                         x_future: np.ndarray | None = None) -> np.ndarray:
        known = self.last_ if history is None else history
        return known[len(known) - 1 + self._steps()]

    def _advance(self, scaled: np.ndarray, series: Series, x: np.ndarray) -> dict[str, Any]:
        """The forecast repeats the last season: keep it."""
        return {"last_": np.concatenate([self.last_, scaled])[-self.season_:]}

    def _rolling_scaled(self, scaled: np.ndarray, series: Series,
                        cutoffs: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Forecasts from every cutoff, by indexing (the scaling is the identity)."""
        return scaled[cutoffs[:, None] + self._steps()[None, :]]

    # ---- persistence ----------------------------------------------------------------------
    def _tensors_to_save(self) -> dict[str, torch.Tensor]:
        return {"last": torch.as_tensor(self.last_)}

    def _extra_state(self) -> dict[str, Any]:
        return {"season": self.season_}

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        season = extra["season"]
        if (isinstance(season, bool) or not isinstance(season, int) or season < 1
                or (self.method == "last" and season != 1)):
            raise ValueError(f"field 'extra.season' {season!r} is not a valid season for "
                             f"method={self.method!r}")
        last = tensors["last"]
        if tuple(last.shape) != (season, len(self.columns_)) or not last.is_floating_point():
            raise ValueError(f"tensor 'last' has shape {tuple(last.shape)}, expected "
                             f"({season}, {len(self.columns_)}) floats")
        self.season_ = season
        self.last_ = last.double().numpy()
