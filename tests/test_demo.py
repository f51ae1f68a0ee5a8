"""The demo's report pieces: the markdown table and the PNG plots, on a small backtest."""

import numpy as np
import pandas as pd

from txl_ts import demo
from txl_ts.backtest import backtest
from txl_ts.baselines import NaiveForecaster


def test_table_and_plots_from_a_small_backtest(tmp_path):
    n = 400
    t = np.arange(n)
    df = pd.DataFrame({"OT": np.sin(2 * np.pi * t / 24), "HUFL": np.cos(2 * np.pi * t / 12)},
                      index=pd.date_range("2020-01-01", periods=n, freq="h"))
    models = {"naive": NaiveForecaster(horizon=12, method="last"),
              "snaive": NaiveForecaster(horizon=12, method="seasonal")}
    result = backtest(models, df, horizon=12, start=300, train_end=250, coverage=[0.8, 0.95])
    text = demo.table({"ETTh1": result})
    assert "| ETTh1 | snaive **(best)** |" in text  # a pure 24 h cycle: seasonal naive is exact
    assert f"| {result.n_windows} |" in text and result.n_windows == 89
    cover = result.metrics.loc["naive"]
    assert f"| {100 * cover['coverage_80']:.1f} / {100 * cover['coverage_95']:.1f} |" in text
    written = demo.plot(result, df, "ETTh1", tmp_path)
    assert [p.name for p in written] == ["forecasts_ETTh1.png", "error_by_step_ETTh1.png"]
    assert all(p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG" for p in written)


def test_backtest_reports_progress_once_per_model():
    n = 300
    t = np.arange(n)
    df = pd.DataFrame({"OT": np.sin(2 * np.pi * t / 24)},
                      index=pd.date_range("2020-01-01", periods=n, freq="h"))
    seen = []
    models = {"naive": NaiveForecaster(horizon=12, method="last"),
              "snaive": NaiveForecaster(horizon=12, method="seasonal")}
    backtest(models, df, horizon=12, start=250, progress=lambda name, s: seen.append((name, s)))
    assert [name for name, _ in seen] == ["naive", "snaive"]
    assert all(s >= 0 for _, s in seen)
