"""Baseline forecasters to compare TXLForecaster against."""

from .arima import ARIMAForecaster
from .lstm import LSTMForecaster
from .naive import NaiveForecaster

__all__ = ["ARIMAForecaster", "LSTMForecaster", "NaiveForecaster"]
