"""Model directories written by txl_ts 0.1.0, before the data-path redesign, still load and
forecast exactly as they did; a loaded one updates, saves and loads again.

The files in tests/data/saved_0.1.0 were written by `experiments/make_saved_fixtures.py` run
with that version (one torch thread), with the forecasts it gave beside them.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from txl_ts import TXLForecaster
from txl_ts.baselines import ARIMAForecaster, DLinearForecaster, LSTMForecaster, NaiveForecaster

SAVED = Path(__file__).parent / "data" / "saved_0.1.0"
CLASSES = {"naive": NaiveForecaster, "snaive": NaiveForecaster, "arima": ARIMAForecaster,
           "dlinear": DLinearForecaster, "lstm": LSTMForecaster, "txl": TXLForecaster}


def _expected(name: str, what: str) -> np.ndarray:
    header = [0, 1, 2] if what == "interval" else 0
    return pd.read_csv(SAVED / f"{name}_{what}.csv", index_col=0, header=header).to_numpy()


def _close(actual: np.ndarray, expected: np.ndarray) -> None:
    # the same float64 arithmetic on the same stored numbers: equal up to the last bits of
    # float32 networks run with another BLAS build
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0,
                               atol=64 * np.finfo(np.float32).eps * scale)


@pytest.mark.parametrize("name", list(CLASSES))
def test_a_model_saved_by_the_previous_version_forecasts_as_it_did(name):
    model = CLASSES[name].load(SAVED / name)
    forecast = model.predict()
    assert str(forecast.index.tz) == "Europe/Berlin"
    assert list(forecast.columns) == ["load", "temp"]
    _close(forecast.to_numpy(), _expected(name, "predict"))
    _close(model.predict_interval(0.8).to_numpy(), _expected(name, "interval"))


@pytest.mark.parametrize("name", list(CLASSES))
def test_a_model_saved_by_the_previous_version_updates_and_saves_again(name, tmp_path):
    model = CLASSES[name].load(SAVED / name)
    last = model.predict().index[0] - pd.Timedelta(hours=1)
    new = pd.DataFrame({"load": np.linspace(9, 11, 5), "temp": np.linspace(8, 12, 5)},
                       index=pd.date_range(last + pd.Timedelta(hours=1), periods=5, freq="h"))
    model.update(new)
    again = CLASSES[name].load(model.save(tmp_path / name))
    pd.testing.assert_frame_equal(again.predict(), model.predict())
