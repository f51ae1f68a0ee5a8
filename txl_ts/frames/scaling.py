"""Train-only scaling of the data layer: the fitted statistics, their JSON form, and the
plain-array view the per-step path uses."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler

from .output import column_index


def scaler_to_json(scaler: StandardScaler) -> dict[str, Any]:
    return {
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        "var": scaler.var_.tolist(),
        "n_samples_seen": int(np.max(scaler.n_samples_seen_)),
    }


def scaler_from_json(state: dict[str, Any]) -> StandardScaler:
    scaler = StandardScaler()
    scaler.mean_ = np.asarray(state["mean"], dtype=np.float64)
    scaler.scale_ = np.asarray(state["scale"], dtype=np.float64)
    scaler.var_ = np.asarray(state["var"], dtype=np.float64)
    scaler.n_samples_seen_ = int(state["n_samples_seen"])
    scaler.n_features_in_ = len(scaler.mean_)
    return scaler


def identity_scaler(n_columns: int, n_samples: int) -> StandardScaler:
    """A fitted StandardScaler that leaves values exactly as they are (mean 0, scale 1)."""
    return scaler_from_json({"mean": [0.0] * n_columns, "scale": [1.0] * n_columns,
                             "var": [1.0] * n_columns, "n_samples_seen": n_samples})


class Scaling:
    """The fitted scaling statistics as plain float64 arrays, for the per-step path.

    sklearn's transform is (x - mean_) / scale_ and its inverse x * scale_ + mean_, in float64:
    the same operations on the same arrays give bit-identical results without sklearn's
    per-call input checks (about 0.5 ms per call). Derived, never fitted state:
    `BaseForecaster._scaling` rebuilds it whenever `scaler_` or `columns_` is another object
    (after fit, load or any `_commit` of new fitted attributes).
    """

    def __init__(self, scaler: StandardScaler, columns: list[Hashable]):
        self.scaler, self.columns = scaler, columns
        self.mean = np.asarray(scaler.mean_, dtype=np.float64)
        self.scale = np.asarray(scaler.scale_, dtype=np.float64)
        self.column_index = column_index(columns)  # forecast frames get shallow copies
