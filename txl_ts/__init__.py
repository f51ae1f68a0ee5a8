"""txl_ts: time-series forecasting with Transformer-XL's segment-level recurrent memory."""

from .forecaster import TXLForecaster, TXLState
from .training import TrainingDivergedError

__all__ = ["TXLForecaster", "TXLState", "TrainingDivergedError"]
__version__ = "0.1.0"
