"""txl_ts: time-series forecasting with Transformer-XL's segment-level recurrent memory.

The estimators are imported on first use (module `__getattr__`), so that importing the
package, or `python -m txl_ts --help`, does not load torch and Lightning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["TXLForecaster", "TXLState", "TrainingDivergedError"]
__version__ = "0.1.0"

# public name -> the submodule that defines it
_LAZY = {"TXLForecaster": "forecaster", "TXLState": "forecaster",
         "TrainingDivergedError": "training"}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .forecaster import TXLForecaster, TXLState
    from .training import TrainingDivergedError


def __getattr__(name: str) -> Any:
    """Import `TXLForecaster` and the other public names from their submodule on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'txl_ts' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
