"""txl_ts.plotting: figures render to PNG under Agg, the interval bands are drawn, and the
date labels of a long axis do not overlap."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from txl_ts.backtest import backtest
from txl_ts.baselines import NaiveForecaster
from txl_ts.plotting import plot_backtest_errors, plot_backtest_window, plot_forecast

matplotlib.use("Agg")


def _frame(n: int = 400) -> pd.DataFrame:
    t = np.arange(n)
    rng = np.random.default_rng(0)
    return pd.DataFrame({"load": np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n),
                         "temp": np.cos(2 * np.pi * t / 12) + 0.1 * rng.standard_normal(n)},
                        index=pd.date_range("2020-01-01", periods=n, freq="h"))


def _bands(fig: Figure) -> list[PolyCollection]:
    return [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)]


def _is_png(path) -> bool:
    return path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"


def _no_overlapping_labels(fig: Figure) -> bool:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # the library's figures carry no canvas: pyplot-free
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
        if len(boxes) < 2:
            return False
        if any(a.overlaps(b) for a, b in zip(boxes, boxes[1:])):
            return False
    return True


@pytest.fixture(scope="module")
def fitted():
    df = _frame()
    return NaiveForecaster(horizon=24, method="seasonal").fit(df), df


def test_plot_forecast_draws_history_forecast_and_one_band_per_level(fitted, tmp_path):
    model, df = fitted
    forecast = model.predict()
    intervals = model.predict_interval([0.8, 0.95])
    fig = plot_forecast(df, forecast, intervals, tail=72, path=tmp_path / "f.png")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # one panel per column
    assert len(_bands(fig)) == 4  # two levels x two columns
    lines = fig.axes[0].get_lines()
    assert len(lines[0].get_xdata()) == 72 and len(lines[1].get_xdata()) == 24
    assert _is_png(tmp_path / "f.png")
    assert _no_overlapping_labels(fig)


def test_plot_forecast_into_a_given_axes_and_its_errors(fitted):
    model, df = fitted
    fig = Figure(figsize=(4, 3))  # narrow: matplotlib's default date labels overlap here
    ax = fig.subplots()
    assert plot_forecast(df, model.predict(), columns=["temp"], ax=ax, tail=300) is fig
    assert _bands(fig) == []  # no intervals given, none drawn
    assert _no_overlapping_labels(fig)
    with pytest.raises(ValueError, match="one column"):
        plot_forecast(df, model.predict(), ax=ax)
    with pytest.raises(ValueError, match="price"):
        plot_forecast(df, model.predict(), columns=["price"])
    with pytest.raises(TypeError, match="DatetimeIndex"):
        plot_forecast(df.reset_index(), model.predict())


@pytest.fixture(scope="module")
def result():
    df = _frame(600)
    models = {"naive": NaiveForecaster(horizon=24, method="last"),
              "snaive": NaiveForecaster(horizon=24, method="seasonal")}
    return backtest(models, df, horizon=24, start=450, train_end=400,
                    coverage=[0.8, 0.95]), df


def test_backtest_error_plot_has_one_line_per_model(result, tmp_path):
    res, _ = result
    fig = plot_backtest_errors(res, path=tmp_path / "e.png")
    assert isinstance(fig, Figure) and _is_png(tmp_path / "e.png")
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["naive", "snaive"]
    assert all(len(line.get_xdata()) == 24 for line in lines)
    with pytest.raises(ValueError, match="metric"):
        plot_backtest_errors(res, metric="rmse")


def test_backtest_window_plot_by_timestamp_or_row(result, tmp_path):
    res, df = result
    stamp = res.cutoff_index[10]
    fig = plot_backtest_window(res, stamp, history=df, column="temp", path=tmp_path / "w.png")
    assert isinstance(fig, Figure) and _is_png(tmp_path / "w.png")
    assert len(_bands(fig)) == 4  # two models x two levels
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["history", "actual", "naive", "snaive"]
    by_row = plot_backtest_window(res, int(res.cutoffs[10]), models=["snaive"])
    assert len(_bands(by_row)) == 2
    assert _no_overlapping_labels(fig)
    with pytest.raises(ValueError, match="no backtest window"):
        plot_backtest_window(res, "1999-01-01")


def test_a_backtest_without_kept_forecasts_is_a_clear_error():
    df = _frame()
    res = backtest({"naive": NaiveForecaster(horizon=12)}, df, horizon=12, start=300,
                   keep_forecasts=False)
    with pytest.raises(ValueError, match="keep_forecasts=True"):
        plot_backtest_errors(res)
