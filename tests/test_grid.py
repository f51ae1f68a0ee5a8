"""The benchmark grid CLI: parallel workers, one file per cell, resuming, and no optuna."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from txl_ts.__main__ import main
from txl_ts.grid import Settings, run_grid

TINY_TXL = {"patch_len": 8, "stride": 4, "d_model": 16, "n_heads": 2, "n_layers": 1,
            "d_ff": 32, "segment_len": 4, "n_segments": 2}
CELLS = {f"ETTh1_M_{h}_{m}.json" for h in (12, 24) for m in ("naive", "snaive", "txl-nomem")}


def _argv(out_dir: Path, jobs: int) -> list[str]:
    argv = ["benchmark", "--dataset", "ETTh1", "--rows", "400", "--horizon", "12,24",
            "--models", "naive,snaive,txl-nomem", "--seeds", "2", "--max-epochs", "1",
            "--jobs", str(jobs), "--out-dir", str(out_dir)]
    for key, value in TINY_TXL.items():
        argv += ["--txl-param", f"{key}={value}"]
    return argv


def _mtimes(out_dir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in out_dir.glob("*.json")}


@pytest.mark.slow
def test_grid_writes_cells_and_resumes(tmp_path, capsys):
    out = tmp_path / "grid"
    assert main(_argv(out, jobs=2)) == 0
    assert {p.name for p in out.glob("*.json")} == CELLS
    assert not list(out.rglob("*.tmp"))
    report = json.loads((out / "ETTh1_M_24_txl-nomem.json").read_text())
    entry = report["models"]["txl-nomem"]  # run_benchmark's report format
    assert entry["seeds"] == [0, 1] and len(entry["runs"]) == 2 and not entry["errors"]
    assert entry["std"]["mse"] is not None and entry["params"]["mem_len"] == 0
    assert [r["epochs"] for r in entry["runs"]] == [1, 1]
    assert all(r["stopped_early"] is False for r in entry["runs"])
    assert report["capped"] and report["capped_by"] == ["max_epochs=1", "rows=400"]
    assert report["horizon"] == 24 and report["n_windows"] == 57 and report["truncated"]
    naive = json.loads((out / "ETTh1_M_12_naive.json").read_text())["models"]["naive"]
    assert naive["seeds"] == [None] and len(naive["runs"]) == 1

    # capped runs stay off the scoreboard: listed as quick runs, every cell "missing"
    spec = importlib.util.spec_from_file_location(
        "make_results", Path(__file__).parents[1] / "examples" / "make_results.py")
    make_results = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_results)
    quick = []
    assert make_results.load_all([out], quick) == [] and len(quick) == len(CELLS)
    text = make_results.render([], quick)
    assert "- ETTh1 H=96 DLinear (ours)" in text and "rows=400" in text

    # a rerun of the same command runs nothing and rewrites nothing
    before = _mtimes(out)
    capsys.readouterr()
    assert main(_argv(out, jobs=2)) == 0
    assert "0 cells written, 6 skipped" in capsys.readouterr().out
    assert _mtimes(out) == before

    # a corrupt cell whose seed was lost is rerun; a missing cell file whose seeds are all
    # kept in .parts is rebuilt without running anything; the others are left alone
    (out / "ETTh1_M_12_naive.json").write_text('{"dataset": "ETT')
    (out / ".parts" / "ETTh1_M_12_naive_seed-.json").unlink()
    (out / "ETTh1_M_24_txl-nomem.json").unlink()
    settings = Settings(rows=400, max_epochs=1, txl_params=TINY_TXL)
    result = run_grid(["ETTh1"], [12, 24], ["naive", "snaive", "txl-nomem"], seeds=2,
                      out_dir=out, settings=settings, log=lambda msg: None)
    assert result.n_tasks == 1 and not result.failed
    assert sorted(result.written) == ["ETTh1_M_12_naive", "ETTh1_M_24_txl-nomem"]
    assert len(result.skipped) == 4
    rebuilt = json.loads((out / "ETTh1_M_24_txl-nomem.json").read_text())
    assert rebuilt["models"] == report["models"]
    assert json.loads((out / "ETTh1_M_12_naive.json").read_text())["models"]["naive"]["runs"]
    after = _mtimes(out)
    assert {k for k in after if after[k] != before[k]} == {"ETTh1_M_12_naive.json",
                                                         "ETTh1_M_24_txl-nomem.json"}

    # other settings (a third seed) extend the cell: only the new seed runs
    result = run_grid(["ETTh1"], [12], ["txl-nomem"], seeds=3, out_dir=out,
                      settings=settings, log=lambda msg: None)
    assert result.n_tasks == 1 and result.written == ["ETTh1_M_12_txl-nomem"]


def test_grid_reruns_results_of_other_constructor_parameters(tmp_path):
    """A result whose model had other constructor parameters than the model has now (a default
    changed since it ran) is not finished: its cell and its seeds run again."""
    out = tmp_path / "grid"
    settings = Settings(rows=400, max_epochs=1, txl_params=TINY_TXL)

    def run():
        return run_grid(["ETTh1"], [12], ["txl-nomem", "naive"], seeds=1, out_dir=out,
                        settings=settings, log=lambda msg: None)

    assert run().n_tasks == 2
    assert run().n_tasks == 0  # unchanged: nothing runs
    cell = out / "ETTh1_M_12_txl-nomem.json"
    part = out / ".parts" / "ETTh1_M_12_txl-nomem_seed0.json"
    for path, where in ((cell, ("models", "txl-nomem", "params")), (part, ("params",))):
        data = json.loads(path.read_text())
        params = data
        for key in where:
            params = params[key]
        params["dropout"] = 0.5  # what an older default would have recorded
        path.write_text(json.dumps(data))
    result = run()
    assert result.n_tasks == 1 and result.written == ["ETTh1_M_12_txl-nomem"]
    assert result.skipped == ["ETTh1_M_12_naive"]
    rerun = json.loads(cell.read_text())["models"]["txl-nomem"]["params"]
    assert rerun["dropout"] == 0.1


def test_grid_reruns_failed_cells(tmp_path, capsys):
    out = tmp_path / "grid"
    bad = Settings(rows=400, max_epochs=1, txl_params={**TINY_TXL, "n_heads": 3})
    models = ["naive", "txl"]
    result = run_grid(["ETTh1"], [12], models, seeds=1, out_dir=out, settings=bad,
                      log=lambda msg: None)
    assert result.failed == ["ETTh1_M_12_txl"] and result.written == ["ETTh1_M_12_naive"]
    failed = json.loads((out / "ETTh1_M_12_txl.json").read_text())["models"]["txl"]
    assert failed["errors"] and not failed["runs"] and "mean" not in failed
    # the same command again: the failed cell runs again, the finished one is skipped
    result = run_grid(["ETTh1"], [12], models, seeds=1, out_dir=out, settings=bad,
                      log=lambda msg: None)
    assert result.n_tasks == 1 and result.failed == ["ETTh1_M_12_txl"]
    assert result.skipped == ["ETTh1_M_12_naive"]
    # --force reruns everything
    good = Settings(rows=400, max_epochs=1, txl_params=TINY_TXL)
    result = run_grid(["ETTh1"], [12], ["naive"], seeds=1, out_dir=out, settings=good,
                      force=True, log=lambda msg: None)
    assert result.n_tasks == 1 and result.written == ["ETTh1_M_12_naive"]


@pytest.mark.slow
def test_benchmark_never_imports_optuna(tmp_path):
    """`benchmark` (single cell and grid modules) runs where optuna cannot be imported."""
    script = textwrap.dedent(f"""
        import importlib.abc, sys

        class NoOptuna(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("optuna", "optuna_integration"):
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

        sys.meta_path.insert(0, NoOptuna())
        from txl_ts.__main__ import main
        import txl_ts.grid, txl_ts.forecaster, txl_ts.baselines.lstm, txl_ts.baselines.arima
        code = main(["benchmark", "--dataset", "ETTh1", "--rows", "400", "--horizon", "12",
                     "--models", "naive", "--out", {str(tmp_path / "r.json")!r}])
        assert code == 0, code
        assert not any(m.startswith("optuna") for m in sys.modules), "optuna imported"
        try:  # its --help needs no optuna (the parsers are txl_ts.cli's); running it does
            main(["tune", "--dataset", "ETTh1", "--n-trials", "1"])
        except SystemExit as stop:
            print("tune exit", stop.code)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "tune exit 2" in done.stdout
    assert "needs the package 'optuna'" in done.stderr


def _csv(path: Path, bump: float = 0.0) -> Path:
    """An hourly CSV of 400 rows; `bump` changes one value."""
    t = np.arange(400)
    df = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=400, freq="h"),
                       "a": np.sin(2 * np.pi * t / 24), "b": np.cos(2 * np.pi * t / 24)})
    df.loc[100, "a"] += bump
    df.to_csv(path, index=False)
    return path


def test_grid_reruns_cells_whose_data_changed(tmp_path):
    csv, out, logged = _csv(tmp_path / "site.csv"), tmp_path / "grid", []

    def run():
        logged.clear()
        return run_grid([str(csv)], [12], ["naive", "snaive"], seeds=1, out_dir=out,
                        log=logged.append)

    assert run().n_tasks == 2
    cell = json.loads((out / "site_M_12_naive.json").read_text())
    part = json.loads((out / ".parts" / "site_M_12_naive_seed-.json").read_text())
    assert cell["data_fingerprint"] == part["data_fingerprint"]
    assert run().skipped == ["site_M_12_naive", "site_M_12_snaive"]
    _csv(csv, bump=1.0)  # the same file name, other data
    result = run()
    assert result.n_tasks == 2 and result.written == ["site_M_12_naive", "site_M_12_snaive"]
    assert "site_M_12_naive: data changed since the cell was written; rerunning" in logged
    assert json.loads((out / "site_M_12_naive.json").read_text())["data_fingerprint"] != \
        cell["data_fingerprint"]
    # results written before fingerprints existed carry none: accepted when all else matches
    for path in (out / "site_M_12_naive.json", out / ".parts" / "site_M_12_naive_seed-.json"):
        data = json.loads(path.read_text())
        del data["data_fingerprint"]
        path.write_text(json.dumps(data))
    assert run().n_tasks == 0 and not any("changed" in line for line in logged)


@pytest.mark.parametrize("content", ["[1, 2]", '{"models": {}, "grid_config": {}}',
                                     '{"models": {"naive": [1]}, "grid_config": {}}',
                                     '{"dataset": "ETT'])
def test_grid_moves_a_malformed_cell_report_aside_and_reruns_it(tmp_path, content):
    out, logged = tmp_path / "grid", []

    def run():
        return run_grid(["ETTh1"], [12], ["naive"], seeds=1, out_dir=out,
                        settings=Settings(rows=400), log=logged.append)

    assert run().written == ["ETTh1_M_12_naive"]
    good = json.loads((out / "ETTh1_M_12_naive.json").read_text())
    (out / "ETTh1_M_12_naive.json").write_text(content)
    (out / ".parts" / "ETTh1_M_12_naive_seed-.json").write_text(content)
    result = run()
    assert result.n_tasks == 1 and result.written == ["ETTh1_M_12_naive"]
    rerun = json.loads((out / "ETTh1_M_12_naive.json").read_text())["models"]["naive"]
    assert rerun["runs"][0]["mse"] == good["models"]["naive"]["runs"][0]["mse"]
    for folder in (out, out / ".parts"):
        aside = list(folder.glob("ETTh1_M_12_naive*.malformed-*"))
        assert len(aside) == 1 and aside[0].read_text() == content
    warnings = [line for line in logged if line.startswith("warning:")]
    assert len(warnings) == 2 and all("malformed" in line for line in warnings)


def _cli(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "txl_ts", *argv], capture_output=True,
                          text=True, env=env, timeout=300)


def _one_error(done: subprocess.CompletedProcess, *phrases: str) -> None:
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-2000:]
    for phrase in phrases:
        assert phrase in errors[0]


def test_out_dir_that_is_a_file_is_one_line_error(tmp_path):
    path = tmp_path / "results"
    path.write_text("not a folder")
    done = _cli("benchmark", "--dataset", "ETTh1", "--rows", "400", "--horizon", "12",
                "--models", "naive", "--out-dir", str(path))
    _one_error(done, str(path), "not a directory")
    assert path.read_text() == "not a folder"


@pytest.mark.slow
def test_malformed_csv_in_the_grid_with_workers_is_one_line_error(tmp_path):
    csv = _csv(tmp_path / "bad.csv")
    lines = csv.read_text().splitlines()
    lines[51] = lines[51].split(",")[0] + ",oops,0.5"
    csv.write_text("\n".join(lines) + "\n")
    done = _cli("benchmark", "--dataset", f"{csv},ETTh1", "--rows", "400", "--horizon", "12",
                "--models", "naive,snaive", "--jobs", "2", "--out-dir", str(tmp_path / "g"))
    _one_error(done, "bad.csv", "'a'", "oops")


def test_grid_reruns_a_one_cell_report_without_moving_it_aside(tmp_path):
    """A report of `benchmark --out` (no grid_config) is well-formed, only not the grid's."""
    out = tmp_path / "grid"
    out.mkdir()
    (out / "ETTh1_M_12_naive.json").write_text(json.dumps(
        {"models": {"naive": {"seeds": [None], "runs": [], "errors": []}}}))
    result = run_grid(["ETTh1"], [12], ["naive"], seeds=1, out_dir=out,
                      settings=Settings(rows=400), log=lambda msg: None)
    assert result.n_tasks == 1 and result.written == ["ETTh1_M_12_naive"]
    assert not list(out.glob("*.malformed-*"))


def test_results_with_and_without_covariates_never_stand_for_one_another(tmp_path):
    """The roles are part of a cell's settings, fingerprint and file name: a grid with
    covariates runs its own cells beside those without, and each reruns only itself."""
    csv, out = _csv(tmp_path / "site.csv"), tmp_path / "grid"
    plain = Settings()
    calendar = Settings(data=(("calendar", "auto"),))  # the frame is the same: roles differ
    covariate = Settings(data=(("future_covariates", ("b",)),))

    def run(settings):
        return run_grid([str(csv)], [12], ["naive"], seeds=1, out_dir=out,
                        settings=settings, log=lambda msg: None)

    assert plain.tag == "" and calendar.tag != covariate.tag != ""
    for settings in (plain, calendar, covariate):
        assert run(settings).n_tasks == 1
    files = sorted(p.name for p in out.glob("*.json"))
    assert files == sorted(["site_M_12_naive.json", f"site_M_12_naive{calendar.tag}.json",
                            f"site_M_12_naive{covariate.tag}.json"])
    reports = {name: json.loads((out / name).read_text()) for name in files}
    assert len({r["data_fingerprint"] for r in reports.values()}) == 3
    assert len({json.dumps(r["grid_config"]) for r in reports.values()}) == 3
    with_b = reports[f"site_M_12_naive{covariate.tag}.json"]
    assert with_b["roles"] == {"targets": ["a"], "future_covariates": ["b"]}
    assert with_b["models"]["naive"]["params"]["future_covariates"] == ["b"]
    for settings in (plain, calendar, covariate):  # each finds its own cell finished
        assert run(settings).n_tasks == 0
