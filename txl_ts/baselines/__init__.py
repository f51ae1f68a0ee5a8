"""Baseline forecasters to compare TXLForecaster against."""

from .arima import ARIMAForecaster
from .dlinear import DLinearForecaster
from .lstm import LSTMForecaster
from .naive import NaiveForecaster

__all__ = ["ARIMAForecaster", "DLinearForecaster", "LSTMForecaster", "NaiveForecaster"]
