"""Baseline forecasters to compare TXLForecaster against."""

from .naive import NaiveForecaster

__all__ = ["NaiveForecaster"]
