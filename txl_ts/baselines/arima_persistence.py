"""Saving and loading `ARIMAForecaster`: the filtered data, the least-squares and
statsmodels parameters as tensors, the orders and the seasonal phase as JSON. Loading
re-runs the Kalman filter over the stored rows with the stored parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .state_space import statsmodels_context


class ARIMAPersistence:
    """Mixed into `ARIMAForecaster`: the `BaseForecaster` persistence hooks."""

    def _tensors_to_save(self) -> dict[str, torch.Tensor]:
        endog = np.column_stack([np.asarray(self.results_[c].model.endog).ravel()
                                 for c in self.columns_])
        tensors = {"endog": torch.from_numpy(endog),
                   "fourier_coef": torch.from_numpy(self.fourier_coef_)}
        for i, col in enumerate(self.columns_):
            tensors[f"params.{i}"] = torch.from_numpy(self.params_[col])
        exog = self._filtered_exog()
        if exog is not None:  # absent without covariates: such files stay as they were
            tensors["exog"] = torch.from_numpy(exog)
            tensors["exog_coef"] = torch.from_numpy(self.exog_coef_)
        return tensors

    def _extra_state(self) -> dict[str, Any]:
        return {
            "periods": self.periods_,
            "frequencies": self.frequencies_.tolist(),
            "origin": self.origin_.isoformat(),
            "end_position": self.end_position_,
            "orders": [list(self.orders_[c]) for c in self.columns_],
            "trends": [self.trends_[c] for c in self.columns_],
            "aic": [self.aic_[c] for c in self.columns_],
            "converged": [self.converged_[c] for c in self.columns_],
            "fit_summary": self.fit_summary_,
        }

    def _restore(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        endog = tensors["endog"].double().numpy()
        cols = self.columns_
        if endog.ndim != 2 or endog.shape[1] != len(cols) or not np.isfinite(endog).all():
            raise ValueError(f"tensor 'endog' has shape {tuple(endog.shape)}, expected "
                             f"(rows, {len(cols)} columns) of finite values")
        # int() / float() / pd.Timestamp() would take true for 1 and a number for a time, and
        # load a model that forecasts from the wrong seasonal position: check the JSON types
        self.periods_ = [int(p) for p in _json_numbers(extra["periods"], "periods", int)]
        self.frequencies_ = np.asarray(_json_numbers(extra["frequencies"], "frequencies"),
                                       dtype=np.float64)
        if not isinstance(extra["origin"], str):
            raise ValueError(f"field 'origin' must be an ISO timestamp, got {extra['origin']!r}")
        self.origin_ = self._parse_timestamp(extra["origin"])
        self.end_position_ = float(_json_numbers([extra["end_position"]], "end_position")[0])
        if self._position(self.history_index_[-1]) != self.end_position_:  # the seasonal phase
            raise ValueError(f"fields 'origin' {extra['origin']!r} and 'end_position' "
                             f"{self.end_position_!r} do not place the last timestamp "
                             f"{self.history_index_[-1]} where save() did")
        for order in _json_list(extra["orders"], "orders"):
            _json_numbers(order, "orders", int)
        if not all(isinstance(t, str) for t in _json_list(extra["trends"], "trends")):
            raise ValueError(f"field 'trends' must list strings, got {extra['trends']!r}")
        self.fourier_coef_ = tensors["fourier_coef"].numpy().copy()
        self.orders_ = {c: tuple(o) for c, o in zip(cols, extra["orders"], strict=True)}
        self.trends_ = dict(zip(cols, extra["trends"], strict=True))
        self.aic_ = dict(zip(cols, extra["aic"], strict=True))
        self.converged_ = dict(zip(cols, extra["converged"], strict=True))
        self.fit_summary_ = extra["fit_summary"]
        self.params_ = {c: tensors[f"params.{i}"].numpy().copy() for i, c in enumerate(cols)}
        exog = self._restore_exog(tensors, len(endog))
        self.results_ = {}
        with statsmodels_context():
            for i, col in enumerate(cols):
                model = self._model(endog[:, i].copy(), self.orders_[col], self.trends_[col],
                                    exog)
                if len(self.params_[col]) != len(model.param_names):
                    raise ValueError(
                        f"tensor 'params.{i}' has {len(self.params_[col])} values, but the "
                        f"stored order of column {col!r} has {len(model.param_names)}")
                self.results_[col] = model.filter(self.params_[col], cov_type="none")

    def _restore_exog(self, tensors: dict[str, torch.Tensor], n_rows: int
                      ) -> np.ndarray | None:
        """Sets `exog_coef_` (C, K_f) and returns the filtered rows' covariates (n_rows, K_f),
        or None for a model without future-known covariates (and files of earlier versions)."""
        roles = self._roles()
        n_known = roles.n_covariates - roles.n_past
        self.exog_coef_ = np.zeros((len(self.columns_), n_known))
        if not n_known:
            return None
        exog = tensors["exog"].double().numpy().copy()
        coef = tensors["exog_coef"].double().numpy().copy()
        for name, array, shape in (("exog", exog, (n_rows, n_known)),
                                   ("exog_coef", coef, self.exog_coef_.shape)):
            if array.shape != shape:
                raise ValueError(f"tensor {name!r} has shape {tuple(array.shape)}, expected "
                                 f"{shape} for {n_known} known-ahead covariates")
        self.exog_coef_ = coef
        return exog


def _json_list(value: Any, field: str) -> list:
    if not isinstance(value, list):
        raise ValueError(f"field '{field}' must be a list, got {value!r}")
    return value


def _json_numbers(value: Any, field: str, kind: type = float) -> list:
    """`value`, a JSON list of finite numbers (integers where `kind` is int; never bools)."""
    kinds = (int,) if kind is int else (int, float)
    if not all(isinstance(v, kinds) and not isinstance(v, bool) and np.isfinite(v)
               for v in _json_list(value, field)):
        raise ValueError(f"field '{field}' must list {'integers' if kind is int else 'numbers'}"
                         f", got {value!r}")
    return value
