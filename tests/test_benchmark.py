"""The standard protocol: splits, window counts, the naive oracle, and the CLI."""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
from tolerance import assert_close

from txl_ts import datasets
from txl_ts.__main__ import main
from txl_ts.backtest import backtest, count_windows
from txl_ts.benchmark import load_protocol, make_model, markdown_table, split_rows

# Naive references computed on the standard protocol, every window, "M", MSE / MAE on
# train-scaled values (the oracle in /work/shared/reference/published_results.md).
ORACLE = {
    ("ETTh1", "naive"): [(1.2944, 0.7132), (1.3249, 0.7331), (1.3299, 0.7460), (1.3351, 0.7550)],
    ("ETTh1", "snaive"): [(0.5122, 0.4333), (0.5808, 0.4692), (0.6499, 0.5008),
                          (0.6554, 0.5141)],
    ("ETTh2", "snaive"): [(0.3905, 0.3802), (0.4819, 0.4285), (0.5324, 0.4656),
                          (0.5255, 0.4739)],
    ("WTH", "snaive"): [(0.7867, 0.5730), (0.8636, 0.6161), (0.9077, 0.6422),
                        (0.9601, 0.6738)],
}
WINDOWS = {"ETTh1": [2785, 2689, 2545, 2161], "ETTh2": [2785, 2689, 2545, 2161],
           "WTH": [6917, 6821, 6677, 6293]}
HORIZONS = (96, 192, 336, 720)


def test_splits():
    assert split_rows("ETTh1", 17420).as_dict() == {"train_end": 8640, "test_start": 11520,
                                                    "end": 14400}
    n = len(datasets.load("WTH"))
    wth = split_rows("WTH", n)
    assert (wth.train_end, n - wth.test_start, wth.end) == (int(0.7 * n), int(0.2 * n), n)
    df, split = load_protocol("ETTh2", "S")
    assert list(df.columns) == ["OT"] and len(df) == 14400
    with pytest.raises(ValueError, match="features"):
        load_protocol("ETTh1", "MS")


@pytest.mark.parametrize("dataset", [pytest.param("ETTh1", marks=pytest.mark.slow), "ETTh2",
                                     pytest.param("WTH", marks=pytest.mark.slow)])
def test_naive_oracle(dataset):
    """Repeat-last and seasonal-naive-24 reproduce the reference to the 4th decimal."""
    df, split = load_protocol(dataset, "M")
    names = [name for (data, name) in ORACLE if data == dataset]
    for k, horizon in enumerate(HORIZONS):
        assert count_windows(split.test_start, split.end, horizon) == WINDOWS[dataset][k]
        models = {name: make_model(name, horizon) for name in names}
        res = backtest(models, df, horizon, start=split.test_start, end=split.end,
                       train_end=split.train_end, keep_forecasts=False)
        assert res.n_windows == WINDOWS[dataset][k]
        for name in names:
            mse, mae = ORACLE[(dataset, name)][k]
            assert res.metrics.loc[name, "mse"] == pytest.approx(mse, abs=5e-5), (name, horizon)
            assert res.metrics.loc[name, "mae"] == pytest.approx(mae, abs=5e-5), (name, horizon)


def test_cli_on_truncated_data(tmp_path, capsys, monkeypatch):
    out = tmp_path / "report.json"
    argv = ["benchmark", "--dataset", "ETTh1", "--rows", "400", "--horizon", "12",
            "--models", "naive,snaive,txl-nomem", "--seeds", "2", "--max-epochs", "1",
            "--features", "S", "--out", str(out)]
    for param in ("patch_len=8", "stride=4", "d_model=16", "n_heads=2", "n_layers=1",
                  "d_ff=32", "segment_len=4", "n_segments=2"):
        argv += ["--txl-param", param]
    monkeypatch.setattr(sys, "argv", ["python -m txl_ts", *argv])
    assert main(argv) == 0
    printed = capsys.readouterr().out
    report = json.loads(Path(out).read_text())
    split = split_rows("ETTh1", 400, truncated=True)
    assert report["split"] == split.as_dict() and report["truncated"]
    assert report["n_windows"] == count_windows(split.test_start, split.end, 12) == 69
    assert report["columns"] == ["OT"]
    assert {"cpu", "cores", "torch", "gpu"} <= set(report["machine"])
    nomem = report["models"]["txl-nomem"]
    assert nomem["seeds"] == [0, 1] and len(nomem["runs"]) == 2
    assert nomem["params"]["mem_len"] == 0 and nomem["params"]["d_model"] == 16
    assert nomem["std"]["mse"] is not None
    assert report["models"]["naive"]["seeds"] == [None]
    for name in ("naive", "snaive", "txl-nomem"):
        assert f"| {name} |" in printed
    assert markdown_table(report) in printed

    # the scoreboard script skips truncated reports, and renders full ones with "missing" cells
    spec = importlib.util.spec_from_file_location(
        "make_results", Path(__file__).parents[1] / "examples" / "make_results.py")
    make_results = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_results)
    assert make_results.load_reports([out]) == {}
    assert report["capped"] and report["capped_by"] == ["max_epochs=1", "rows=400"]
    assert {"epochs", "stopped_early"} <= set(nomem["runs"][0])
    assert nomem["runs"][0]["epochs"] == 1
    report.update(truncated=False, features="M", capped=False, capped_by=[])
    full = tmp_path / "full.json"
    full.write_text(json.dumps(report))
    rows = make_results.load_reports([full])
    assert set(rows) == {("ETTh1", 12, m) for m in ("naive", "snaive", "txl-nomem")}
    text = make_results.render(make_results.load_all([full]))
    mse = report["models"]["txl-nomem"]["mean"]["mse"]
    assert f"{mse:.4f} ± " in text
    # epochs run, in the runs table (and how often TXL kept its validated warm start)
    assert re.search(r"\| 1,1 \(early stop 0/2\)(, warm start kept [12]/2)? \|", text)
    assert "- ETTh1 H=96 TXL (ours)" in text  # listed as missing, never filled in


def test_scoreboard_summary_names_the_cells_decided_inside_the_seed_spread():
    spec = importlib.util.spec_from_file_location(
        "make_results", Path(__file__).parents[1] / "examples" / "make_results.py")
    make_results = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_results)

    def row(mse, std):
        return {"entry": {"mean": {"mse": mse}, "std": {"mse": std}}}

    rows = {}
    for model in make_results.REQUIRED:
        rows[("ETTh1", 96, model)] = row(1.0, 0.0)
        rows[("ETTh1", 192, model)] = row(1.0, 0.0)
    rows[("ETTh1", 96, "txl")] = row(0.400, 0.010)  # wins by 0.001, std 0.01: a tie
    rows[("ETTh1", 96, "dlinear")] = row(0.401, 0.002)
    rows[("ETTh1", 192, "txl")] = row(0.300, 0.001)  # wins by 0.1: settled
    rows[("ETTh1", 192, "lstm")] = row(0.400, 0.001)
    (line,) = make_results.library_best(rows)
    assert "in 2 of 2 cells" in line
    _, close = line.split("In 1 of these cells")
    assert "ETTh1-96 (TXL 0.40000, DLinear (ours) 0.40100, seed std up to 0.0100)" in close
    assert "ETTh1-192" not in close


def _half_hourly_csv(path: Path, n: int = 48 * 21) -> Path:
    import numpy as np
    import pandas as pd

    t = np.arange(n)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "date": pd.date_range("2024-03-04", periods=n, freq="30min").astype(str),
        "load": 10 + 3 * np.sin(2 * np.pi * t / 48) + (t // 48 % 7 >= 5) + 0.1 * rng.normal(size=n),
        "temp": 5 + np.sin(2 * np.pi * t / 48 + 1) + 0.1 * rng.normal(size=n),
    })
    frame.to_csv(path, index=False)
    return path


def test_a_csv_file_runs_the_protocol_with_its_own_seasons(tmp_path):
    """A user's half-hourly CSV: split 70/10/20, the seasonal naives repeat yesterday (48
    steps) and last week (336), MASE is scaled by the 48-step naive, and the reported MSE is
    the one computed by hand over every test window."""
    import numpy as np

    from txl_ts.benchmark import run_benchmark

    path = _half_hourly_csv(tmp_path / "my_load.csv")
    n, h = 48 * 21, 12
    report = run_benchmark(str(path), h, ["snaive", "snaive-weekly"], log=lambda msg: None)
    assert report["dataset"] == "my_load" and report["data_file"] == str(path)
    assert report["split"] == {"train_end": int(0.7 * n), "test_start": n - int(0.2 * n),
                               "end": n}
    assert report["mase_lag"] == 48 and report["columns"] == ["load", "temp"]
    seasons = {m: e["params"]["season"] for m, e in report["models"].items()}
    assert seasons == {"snaive": 48, "snaive-weekly": 336}
    df, split = load_protocol(str(path))
    values = df.to_numpy()
    scaled = (values - values[: split.train_end].mean(0)) / values[: split.train_end].std(0)
    for model, lag in (("snaive", 48), ("snaive-weekly", 336)):
        errors = [((scaled[c + 1: c + 1 + h] - scaled[c + 1 - lag: c + 1 + h - lag]) ** 2).mean()
                  for c in range(split.test_start - 1, n - h)]
        assert_close(report["models"][model]["mean"]["mse"], np.mean(errors), np.float64,
                     ops=len(errors) * h)
    # "S" on a CSV names its column: no silent choice of the last one
    with pytest.raises(ValueError, match="--features S needs --target.*'load', 'temp'"):
        load_protocol(str(path), "S")
    s_df, _ = load_protocol(str(path), "S", target="load")
    assert list(s_df.columns) == ["load"]


def test_csv_data_sets_on_the_command_line_and_in_the_grid(tmp_path, capsys):
    path = _half_hourly_csv(tmp_path / "site_a.csv")
    out = tmp_path / "grid"
    argv = ["benchmark", "--dataset", str(path), "--horizon", "24", "--models", "naive,snaive",
            "--out-dir", str(out)]
    assert main(argv) == 0
    assert {p.name for p in out.glob("*.json")} == {"site_a_M_24_naive.json",
                                                    "site_a_M_24_snaive.json"}
    with pytest.raises(SystemExit):
        main(["benchmark", "--dataset", str(tmp_path / "missing.csv"), "--out", "x.json"])
    assert "no such file" in capsys.readouterr().err


def test_read_csv_names_what_is_wrong(tmp_path):
    import pandas as pd

    path = _half_hourly_csv(tmp_path / "ok.csv")
    frame = pd.read_csv(path)
    frame.drop(index=[5]).to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(ValueError, match="gap.csv.*not evenly spaced: 2024-03-04 02:00:00 is "
                       "followed by 2024-03-04 03:00:00"):
        datasets.read_csv(tmp_path / "gap.csv")
    frame.assign(site="north").to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(ValueError, match=r"text.csv.*not numeric: \['site'\]"):
        datasets.read_csv(tmp_path / "text.csv")
    with pytest.raises(ValueError, match="no time column 'stamp'"):
        datasets.read_csv(path, time_col="stamp")
    assert datasets.read_csv(path).index.freqstr == "30min"
    with pytest.raises(ValueError, match="'site' is not timestamps"):
        datasets.read_csv(tmp_path / "text.csv", time_col="site")
    # local time with the offset changing at daylight saving: evenly spaced in UTC
    stamps = pd.date_range("2024-03-30", periods=60, freq="h", tz="Europe/Berlin")
    pd.DataFrame({"date": stamps.astype(str), "x": range(60)}).to_csv(tmp_path / "dst.csv",
                                                                      index=False)
    dst = datasets.read_csv(tmp_path / "dst.csv")
    assert dst.index.freqstr == "h" and str(dst.index.tz) == "UTC"
    assert dst.index[0] == stamps[0]


def test_scoreboard_shows_the_patchtst_peer_where_it_ran(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_results", Path(__file__).parents[1] / "examples" / "make_results.py")
    make_results = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_results)
    runs = [{"mse": 0.37, "mae": 0.39, "steps": 1000}, {"mse": 0.38, "mae": 0.40, "steps": 650}]
    report = {"dataset": "ETTh1", "horizon": 96, "features": "M",
              "machine": {"cpu": "c", "cores": 16, "gpu": "test gpu"},
              "models": {"patchtst-nf": {"runs": runs, "mean": {"mse": 0.375, "mae": 0.395},
                                         "std": {"mse": 0.007, "mae": 0.007}}}}
    (tmp_path / "ETTh1_M_96_patchtst-nf.json").write_text(json.dumps(report))
    peers = make_results.peer_reports(tmp_path)
    (row,) = make_results.peer_row("ETTh1", peers)
    cells = row.split(" | ")
    assert cells[1] == "0.3750 ± 0.0070 / 0.3950 ± 0.0070<br>steps 1000,650"
    assert cells[2:5] == ["-", "-", "-"] and "test gpu" in row  # other horizons never ran
    assert make_results.peer_row("WTH", peers) == []
    assert make_results.peer_reports(tmp_path / "absent") == {}


# ---- covariates -----------------------------------------------------------------------------
def test_covariates_reach_every_model_and_only_the_targets_are_scored(tmp_path):
    """With `temp` a covariate, the naives score `load` alone: exactly what they score on a
    file without `temp`; every model gets the roles and the report records them."""
    import pandas as pd

    from txl_ts.benchmark import run_benchmark

    path = _half_hourly_csv(tmp_path / "site.csv")
    alone = tmp_path / "load_only.csv"
    pd.read_csv(path)[["date", "load"]].to_csv(alone, index=False)
    data = {"future_covariates": ("temp",), "calendar": ("day_of_week",),
            "holidays": ("AU", "VIC")}
    report = run_benchmark(str(path), 12, ["naive", "snaive"], log=lambda msg: None,
                           data=data)
    plain = run_benchmark(str(alone), 12, ["naive", "snaive"], log=lambda msg: None)
    roles = {"targets": ["load"], "future_covariates": ["temp"], "calendar": ["day_of_week"],
             "holidays": ["AU", "VIC"]}
    assert report["roles"] == roles and plain["roles"] == {}
    assert report["scored_columns"] == ["load"] and report["columns"] == ["load", "temp"]
    for name, entry in report["models"].items():
        assert {k: entry["params"][k] for k in roles} == roles
        for metric in ("mse", "mae", "mse_orig", "smape", "mase"):
            assert entry["mean"][metric] == plain["models"][name]["mean"][metric]
    assert "scored on ['load']; future covariates ['temp']" in markdown_table(report)


def test_roles_are_set_by_their_own_flags_not_by_model_parameters():
    with pytest.raises(ValueError, match=r"\['future_covariates'\] set column roles.*"
                                         "--future-covariates"):
        make_model("dlinear", 12, model_params={"dlinear": {"future_covariates": ["temp"]}})
    model = make_model("snaive", 12, roles={"targets": ["y"], "past_covariates": ["p"]})
    assert model.targets == ["y"] and model.past_covariates == ["p"] and model.season == 24
