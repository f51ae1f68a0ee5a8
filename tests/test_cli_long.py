"""The command line on a long CSV (`--id-col`): `benchmark` splits every series on its own
length, fits each model once over all series and reports pooled and per-series metrics;
`tune` scores the pooled validation MSE of a global model and saves a long model; a bad long
CSV exits with one or two lines, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from txl_ts.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
# three hourly series of their own lengths and starts (and scales), rows shuffled
SERIES = {"a": ("2024-01-01 00:00", 300, 1.0), "b": ("2024-01-03 05:00", 240, 3.0),
          "c": ("2023-12-30 00:00", 270, 0.5)}
LONG = ["--id-col", "unique_id", "--time-col", "ds", "--target", "y", "--horizon", "12"]


def _long_csv(path: Path, series: dict = SERIES) -> Path:
    rng = np.random.default_rng(0)
    parts = []
    for sid, (start, n, scale) in series.items():
        t = np.arange(n)
        parts.append(pd.DataFrame({
            "unique_id": sid, "ds": pd.date_range(start, periods=n, freq="h"),
            "y": scale * np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n) + 5 * scale,
            "note": 1.0}))
    pd.concat(parts).sample(frac=1.0, random_state=0).to_csv(path, index=False)
    return path


def _errors(err: str) -> list[str]:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines


@pytest.mark.slow
def test_benchmark_reports_pooled_and_per_series_metrics(tmp_path, capsys):
    data = _long_csv(tmp_path / "panel.csv")
    out = tmp_path / "report.json"
    code = main(["benchmark", "--dataset", str(data), *LONG, "--val-size", "40",
                 "--models", "naive,snaive,dlinear", "--max-epochs", "1", "--seeds", "2",
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads(out.read_text())
    assert report["layout"] == "long" and report["n_series"] == 3
    assert report["scored_columns"] == ["y"]  # --target leaves "note" out
    for sid, (_, n, _) in SERIES.items():  # each series split on its own length
        split = report["series"][sid]["split"]
        assert split == {"train_end": n - int(0.2 * n) - 40, "test_start": n - int(0.2 * n),
                         "end": n}
    assert report["models"]["dlinear"]["seeds"] == [0, 1]
    assert report["models"]["naive"]["seeds"] == [None]
    for entry in report["models"].values():
        assert not entry["errors"]
        assert set(entry["per_series"]) == set(SERIES)
        for sid, (_, n, _) in SERIES.items():  # every stride-1 window of every test part
            assert entry["per_series"][sid]["n_windows"] == int(0.2 * n) - 12 + 1
        pooled = entry["mean"]
        assert np.isclose(pooled["mse"], np.mean([m["mse"] for m in
                                                  entry["per_series"].values()]))
        assert pooled["coverage_80"] is not None  # 40 validation rows calibrate intervals
    assert report["models"]["snaive"]["mean"]["mse"] < report["models"]["naive"]["mean"]["mse"]
    assert report["capped"] and "max_epochs=1" in report["capped_by"]
    # the markdown: pooled rows per model and a row per (series, model)
    assert "Pooled over series" in printed
    for name in ("naive", "snaive", "dlinear"):
        assert f"| {name} |" in printed
        for sid in SERIES:
            assert f"| {sid} | {SERIES[sid][1]} |" in printed


def test_tune_runs_trials_and_saves_a_long_model(tmp_path, capsys):
    from txl_ts import TXLForecaster

    data = _long_csv(tmp_path / "panel.csv")
    saved = tmp_path / "best"
    code = main(["tune", "--dataset", str(data), *LONG, "--n-trials", "2", "--max-epochs", "1",
                 "--max-train-batches", "2", "--pruner", "none", "--save-model", str(saved)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "2 trials (2 complete)" in printed
    assert "pooled over the validation rows of 3 series" in printed
    model = TXLForecaster.load(saved)
    assert (model.id_col, model.time_col, model.targets) == ("unique_id", "ds", ["y"])
    forecast = model.predict()
    assert list(forecast.columns) == ["unique_id", "ds", "y"]
    assert forecast.groupby("unique_id").size().to_dict() == {sid: 12 for sid in SERIES}
    # each series' forecast starts after its own last validation row (no test row was seen)
    for sid, (start, n, _) in SERIES.items():
        first = forecast.loc[forecast["unique_id"] == sid, "ds"].min()
        assert first == pd.Timestamp(start) + pd.Timedelta(hours=n - int(0.2 * n))


@pytest.mark.parametrize("command", ["benchmark", "tune"])
def test_long_csv_errors_are_one_line(tmp_path, capsys, command):
    data = _long_csv(tmp_path / "panel.csv")
    frame = pd.read_csv(data)
    dup = tmp_path / "dup.csv"
    pd.concat([frame, frame[frame["unique_id"] == "b"].iloc[[3]]]).to_csv(dup, index=False)
    short = _long_csv(tmp_path / "short.csv", {**SERIES, "b": ("2024-01-03", 40, 1.0)})
    cases = [
        (["--dataset", str(data), "--id-col", "unique_id", "--horizon", "12"],
         ["--id-col", "--time-col"]),
        (["--dataset", str(data), "--id-col", "site", "--time-col", "ds", "--horizon", "12"],
         ["panel.csv", "'site'", "--id-col"]),
        (["--dataset", str(dup), *LONG], ["dup.csv", "series 'b'", "duplicate timestamp",
                                          "('unique_id', 'ds')"]),
        (["--dataset", str(short), *LONG], ["short.csv", "series 'b'", "too short", "40 rows"]),
        (["--dataset", "ETTh1", *LONG], ["ETTh1", "bundled", "--id-col"]),
    ]
    if command == "benchmark":
        cases.append((["--dataset", str(data), *LONG, "--features", "S"],
                      ["--features S", "--id-col"]))
        cases.append((["--dataset", str(data), *LONG, "--out-dir", str(tmp_path / "g")],
                      ["--out-dir", "--out"]))
    for argv, expected in cases:
        code = main([command, *argv])
        assert code == 1, argv
        line = _errors(capsys.readouterr().err)[0]
        for word in expected:
            assert word in line, (word, line)


@pytest.mark.slow
def test_malformed_long_csv_in_a_subprocess_exits_without_traceback(tmp_path):
    data = _long_csv(tmp_path / "panel.csv")
    text = data.read_text().splitlines()
    text[5] = ",".join([*text[5].split(",")[:2], "abc", "1.0"])  # row 4: text in "y"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(text) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "txl_ts", "benchmark", "--dataset", str(bad),
                           *LONG, "--models", "naive"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2, done.stderr
    for word in ("bad.csv", "'y'", "row 4", "abc"):
        assert word in done.stderr, (word, done.stderr)


def test_backtest_long_takes_per_series_borders(tmp_path):
    from txl_ts.backtest_panel import backtest_long
    from txl_ts.baselines import NaiveForecaster

    frame = pd.read_csv(_long_csv(tmp_path / "panel.csv"))
    model = NaiveForecaster(12, "seasonal", season=24, id_col="unique_id", time_col="ds",
                            targets=["y"])
    starts = {sid: n - int(0.2 * n) for sid, (_, n, _) in SERIES.items()}
    result = backtest_long({"snaive": model}, frame, 12, start=starts, id_col="unique_id",
                           time_col="ds", train_end={sid: s - 30 for sid, s in starts.items()})
    windows = result.per_series["n_windows"].xs("snaive", level="model").to_dict()
    assert windows == {sid: int(0.2 * n) - 11 for sid, (_, n, _) in SERIES.items()}
    with pytest.raises(ValueError, match="no entry for series 'c'"):
        backtest_long({"snaive": model}, frame, 12, start={"a": 200, "b": 200},
                      id_col="unique_id", time_col="ds")
