"""The rows `tune` fits and scores on: a wide frame's validation tail (`split_tail`), or each
series' own tail in a long frame (`split_long_tail`) and the pooled validation MSE over them
(`long_validation_mse`)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .backtest_panel import backtest_long
from .frames.panel import split_long


def split_tail(df: pd.DataFrame, val_size: float | int, horizon: int) -> tuple[int, int]:
    """Split `df` in time into a fit part and a validation tail.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows to tune on.
    val_size : float or int
        The tail: a fraction in (0, 1) of `len(df)` or a row count.
    horizon : int
        The forecast horizon; the tail must hold at least one.

    Returns
    -------
    tuple of (int, int)
        The fit rows and the validation rows.

    Raises
    ------
    TypeError
        When `df` is no DataFrame or `val_size` no number.
    ValueError
        When the tail is shorter than `horizon` or leaves no rows to fit on.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    n = len(df)
    if isinstance(val_size, bool) or not isinstance(val_size, (int, float, np.integer,
                                                               np.floating)):
        raise TypeError(f"val_size must be a fraction in (0, 1) or a row count, got {val_size!r}")
    if isinstance(val_size, (float, np.floating)) and not float(val_size).is_integer():
        if not 0.0 < val_size < 1.0:
            raise ValueError(f"val_size must be a fraction in (0, 1) or a row count, "
                             f"got {val_size}")
        n_val = int(round(val_size * n))
    else:
        n_val = int(val_size)
    if n_val < horizon:
        raise ValueError(f"the validation tail has {n_val} rows (val_size={val_size} of "
                         f"{n}); at least horizon={horizon} are needed to score one forecast")
    if n_val >= n:
        raise ValueError(f"val_size={val_size} leaves no rows to fit on (df has {n} rows)")
    return n - n_val, n_val


@dataclass(frozen=True)
class LongTail:
    """A long frame split per series into fit rows and a validation tail.

    Attributes
    ----------
    fit, tail : DataFrame
        The long frames of every series' fit rows and of its validation tail.
    n_fit, n_val : dict
        {series: rows} of each part.
    shortest_fit : DataFrame
        The fit rows of the series with the fewest (a wide frame with `time_col`): the
        search space's lookbacks must leave room in every series.
    """

    fit: pd.DataFrame
    tail: pd.DataFrame
    n_fit: dict[Hashable, int]
    n_val: dict[Hashable, int]
    shortest_fit: pd.DataFrame


def split_long_tail(df: pd.DataFrame, val_size: float | int | Mapping[Hashable, int],
                    horizon: int, *, id_col: Hashable, time_col: Hashable | None) -> LongTail:
    """Split every series of the long frame `df` into fit rows and a validation tail.

    Parameters
    ----------
    df : pandas.DataFrame
        The long frame to tune on (`id_col`, `time_col`, targets, covariates).
    val_size : float, int or mapping
        Each series' tail: a fraction in (0, 1) of that series' rows, a row count, or a
        mapping {series: row count} with an entry for every series.
    horizon : int
        The forecast horizon; every tail must hold at least one.
    id_col, time_col : hashable
        The id and time columns (`time_col` is required).

    Returns
    -------
    LongTail
        The fit and tail frames and each series' row counts.

    Raises
    ------
    ValueError
        Naming the series, when its tail is shorter than `horizon`, leaves no fit rows or
        is missing from a mapping; as `frames.panel.split_long` for a malformed frame.
    """
    if time_col is None:
        raise ValueError(f"id_col={id_col!r} needs time_col: name the column of the "
                         "timestamps in fixed_params")
    frames = split_long(df, id_col=id_col, time_col=time_col, name="df")
    fits, tails, n_fit, n_val = [], [], {}, {}
    for sid, frame in frames.items():
        size: Any = val_size
        if isinstance(val_size, Mapping):
            if sid not in val_size:
                raise ValueError(f"val_size has no entry for series {sid!r}")
            size = int(val_size[sid])
        try:
            n_fit[sid], n_val[sid] = split_tail(frame, size, horizon)
        except ValueError as err:
            raise ValueError(f"series {sid!r}: {err}") from None
        frame = frame.assign(**{str(id_col): sid})
        fits.append(frame.iloc[: n_fit[sid]])
        tails.append(frame.iloc[n_fit[sid]:])
    shortest = min(n_fit, key=n_fit.get)
    columns = [id_col, *[c for c in frames[shortest].columns]]
    return LongTail(pd.concat(fits, ignore_index=True)[columns],
                    pd.concat(tails, ignore_index=True)[columns], n_fit, n_val,
                    frames[shortest].iloc[: n_fit[shortest]])


def long_validation_mse(model: Any, df: pd.DataFrame, split: LongTail) -> float:
    """The score `tune` minimises on a long frame: the pooled validation MSE.

    Every stride-1 window inside each series' tail is scored in that series' scaled units
    (the StandardScaler of its fit rows), and the series' MSEs are averaged, each series
    weighing the same (`backtest_panel.backtest_long`'s pooled `mse`).

    Parameters
    ----------
    model : forecaster
        A global model fitted on `split.fit` (with `id_col` and `time_col`).
    df : pandas.DataFrame
        The long frame: fit rows and tails.
    split : LongTail
        Its split.

    Returns
    -------
    float
        The pooled MSE (NaN or infinite when the forecasts are).
    """
    result = backtest_long({"model": model}, df, model.horizon, start=split.n_fit,
                           train_end=split.n_fit, id_col=model.id_col,
                           time_col=model.time_col, keep_forecasts=False)
    return float(result.metrics.loc["model", "mse"])
