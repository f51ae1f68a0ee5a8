"""Which columns a backtest scores: the targets every model forecasts, never a covariate, and
the rows after a cutoff that a model reading future covariates needs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from .frames.roles import as_labels
from .frames.validate import Series, validate_frame


def _is_fitted(model: Any) -> bool:
    try:
        check_is_fitted(model)
    except NotFittedError:
        return False
    return True


def _model_targets(model: Any, df: pd.DataFrame, time_col: str | None) -> list:
    """The columns `model` forecasts on `df`: its `columns_` once fitted, else its
    `targets`, else every numeric column that is not one of its covariates."""
    if _is_fitted(model) and getattr(model, "columns_", None) is not None:
        return list(model.columns_)
    covariates = [*as_labels(getattr(model, "past_covariates", None), "past_covariates"),
                  *as_labels(getattr(model, "future_covariates", None), "future_covariates")]
    return list(validate_frame(df, time_col=time_col, targets=getattr(model, "targets", None),
                               name="df", exclude=covariates).columns)


def _target_series(models: Mapping[str, Any], df: pd.DataFrame,
                   time_col: str | None) -> Series:
    """`df`'s target values (the columns every model forecasts; never a covariate)."""
    chosen: dict[str, list] = {name: _model_targets(model, df, time_col)
                               for name, model in models.items()}
    first_name, targets = next(iter(chosen.items()))
    for name, columns in chosen.items():
        if columns != targets:
            raise ValueError(f"models {first_name!r} and {name!r} forecast different columns "
                             f"of df ({targets} and {columns}); pass the same targets=[...] "
                             "(and covariate roles) to every model")
    return validate_frame(df, time_col=time_col, targets=targets, name="df")


def _rows_ahead(model: Any) -> int:
    """Rows after a cutoff that `rolling_forecasts` needs in its frame: the model's horizon
    when it reads future covariates over it (`roles_.future`), else none."""
    roles = getattr(model, "roles_", None)
    return int(model.horizon) if roles is not None and roles.future else 0
