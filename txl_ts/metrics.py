"""Scoring forecasts: point errors (scaled and in the data's units, sMAPE, MASE), interval
coverage, width and Winkler score, and the seasonal naive reference a fitted model should
beat."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .seasonality import season_from_freq


@dataclass
class ModelScores:
    """Error sums of one model, accumulated window by window."""

    sq_scaled: float = 0.0
    abs_scaled: float = 0.0
    sq: float = 0.0
    abs_col: np.ndarray | None = None  # per column, original units
    smape: float = 0.0
    count: int = 0
    fit_seconds: float = 0.0
    n_fits: int = 0
    predict_seconds: float = 0.0
    covered: np.ndarray | None = None  # per coverage level: values inside the interval
    width: np.ndarray | None = None  # per level: sum of widths, train-scaled
    winkler: np.ndarray | None = None  # per level: sum of interval scores, train-scaled

    def add_intervals(self, y: np.ndarray, y_hat: np.ndarray, half: np.ndarray,
                      levels: np.ndarray, scale: np.ndarray) -> None:
        """Accumulate interval metrics; `half` (L, H, C) half widths, y (n, H, C)."""
        if self.covered is None:
            self.covered, self.width, self.winkler = (np.zeros(len(levels)) for _ in range(3))
        for i, c in enumerate(levels):
            lower, upper = (y_hat - half[i]) / scale, (y_hat + half[i]) / scale
            ys = y / scale
            below, above = np.maximum(lower - ys, 0.0), np.maximum(ys - upper, 0.0)
            width = upper - lower
            self.covered[i] += float(((below == 0) & (above == 0)).sum())
            self.width[i] += float(width.sum())
            # Winkler / interval score at alpha = 1 - c: width plus 2/alpha times the miss
            self.winkler[i] += float((width + 2.0 / (1.0 - c) * (below + above)).sum())

    def add(self, y: np.ndarray, y_hat: np.ndarray, scale: np.ndarray) -> None:
        err = y_hat - y
        scaled = err / scale
        self.sq_scaled += float(np.square(scaled).sum())
        self.abs_scaled += float(np.abs(scaled).sum())
        self.sq += float(np.square(err).sum())
        abs_col = np.abs(err).reshape(-1, err.shape[-1]).sum(axis=0)
        self.abs_col = abs_col if self.abs_col is None else self.abs_col + abs_col
        denom = np.abs(y) + np.abs(y_hat)
        ratio = np.divide(2 * np.abs(err), denom, out=np.zeros_like(denom), where=denom > 0)
        self.smape += float(ratio.sum())
        self.count += err.size


# A fitted model whose MSE is this many times the seasonal naive's on the same windows is
# almost surely mis-specified for the data (repeating the last season is free).
SNAIVE_WARNING_RATIO = 1.5


def seasonal_naive_mse(values: np.ndarray, cutoffs: np.ndarray, horizon: int,
                       freq: pd.DateOffset, scale: np.ndarray) -> float | None:
    """MSE, on values divided by `scale`, of repeating the last season of the frequency at
    every cutoff; None when the frequency has no known season or a cutoff has less than one
    season of history."""
    try:
        season = season_from_freq(freq)
    except ValueError:
        return None
    if len(cutoffs) == 0 or cutoffs.min() + 1 < season:
        return None
    steps = np.arange(horizon) % season - season + 1  # offsets from the cutoff row
    y_hat = values[cutoffs[:, None] + steps[None, :]]  # (n, H, C)
    y = values[cutoffs[:, None] + 1 + np.arange(horizon)[None, :]]
    return float(np.mean(((y - y_hat) / scale) ** 2))


def warn_if_worse_than_snaive(metrics: pd.DataFrame, models: Mapping[str, Any]) -> None:
    worse = metrics.index[metrics["mse_vs_snaive"] > SNAIVE_WARNING_RATIO]
    for name in worse:
        capabilities = getattr(type(models[name]), "capabilities", None)
        if getattr(capabilities, "reference", False):
            continue
        warnings.warn(f"model {name!r} has {metrics.at[name, 'mse_vs_snaive']:.2f}x the MSE of "
                      "the seasonal naive forecast on the same windows; check its settings "
                      "for this data", stacklevel=3)


def level_tag(coverage: float) -> str:
    """Metric suffix of a coverage level: 0.8 -> "80", 0.975 -> "97.5"."""
    return f"{100 * coverage:.6g}"


def summarise(s: ModelScores, mase_scale: np.ndarray, n_windows: int,
               levels: np.ndarray | None = None) -> dict[str, float]:
    n_cols = len(mase_scale)
    per_col_mae = s.abs_col / (s.count / n_cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(mase_scale > 0, per_col_mae / mase_scale, np.nan)
    mase = float(np.nanmean(ratios)) if np.isfinite(ratios).any() else float("nan")
    intervals = {}
    for i, c in enumerate([] if levels is None else levels):
        tag = level_tag(c)
        intervals.update({f"coverage_{tag}": s.covered[i] / s.count,
                          f"width_{tag}": s.width[i] / s.count,
                          f"winkler_{tag}": s.winkler[i] / s.count})
    return {
        "mse": s.sq_scaled / s.count,
        "mae": s.abs_scaled / s.count,
        "mse_orig": s.sq / s.count,
        "mae_orig": float(s.abs_col.sum()) / s.count,
        "smape": 100.0 * s.smape / s.count,
        "mase": mase,
        "fit_seconds": s.fit_seconds,
        "n_fits": s.n_fits,
        "predict_seconds": s.predict_seconds,
        "n_windows": n_windows,
        **intervals,
    }
