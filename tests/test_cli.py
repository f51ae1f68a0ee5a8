"""The command line: `--help` and argument errors load no heavy module; errors on a user's
CSV exit non-zero with one message naming the file and the column, and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from txl_ts import cli, datasets

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "lightning", "optuna")

PROBE = """
import sys
from txl_ts.__main__ import main
try:
    main({argv!r})
except SystemExit as exit:
    code = exit.code
heavy = [m for m in {heavy!r} if m in sys.modules]
print("HEAVY=" + ",".join(heavy))
sys.exit(code)
"""


def _probe(argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"], ["benchmark", "--help"],
                                  ["tune", "--help"]])
def test_help_imports_no_heavy_module(argv):
    done = _probe(argv)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout
    assert "HEAVY=\n" in done.stdout, done.stdout


@pytest.mark.parametrize("argv", [["benchmark", "--dataset", "ETTh1", "--horizon", "x"],
                                  ["tune", "--dataset", "nope"],
                                  ["benchmark", "--dataset", "missing.csv"],
                                  ["nosuchcommand"]])
def test_argument_errors_import_no_heavy_module(argv):
    done = _probe(argv)
    assert done.returncode == 2
    assert "error:" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2, done.stderr
    assert "HEAVY=\n" in done.stdout, done.stdout


def test_parsers_know_the_bundled_data_sets_and_models():
    from txl_ts.benchmark import MODELS

    assert cli.BUNDLED == datasets.NAMES
    assert cli.MODELS == MODELS


def _csv(path: Path, n: int = 500) -> Path:
    import numpy as np
    import pandas as pd

    t = np.arange(n)
    rng = np.random.default_rng(0)
    pd.DataFrame({"date": pd.date_range("2024-01-01", periods=n, freq="h"),
                  "load": np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n),
                  "temp": np.cos(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n)}
                 ).to_csv(path, index=False)
    return path


def _cli(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "txl_ts", *argv], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600)


TINY_TUNE = ["--horizon", "12", "--n-trials", "1", "--max-epochs", "1",
             "--max-train-batches", "2"]


@pytest.mark.slow
def test_tune_without_storage_writes_nothing(tmp_path):
    data = _csv(tmp_path / "site.csv")
    cwd = tmp_path / "work"
    cwd.mkdir()
    done = _cli(["tune", "--dataset", str(data), *TINY_TUNE], cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "kept in memory" in done.stdout
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.csv", "work"]
    # with --out-dir the study lives there, and the run says so
    done = _cli(["tune", "--dataset", str(data), *TINY_TUNE, "--out-dir", "studies"], cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [p.name for p in (cwd / "studies").iterdir()] == ["study.db"]
    assert "study.db" in done.stdout


def _malformed(tmp_path: Path) -> dict[str, Path]:
    """CSV files with one defect each."""
    good = _csv(tmp_path / "good.csv", 300)
    lines = good.read_text().splitlines()
    files = {}
    text = list(lines)
    text[7] = text[7].split(",")[0] + ",abc,0.5"  # row 6: text in the numeric column "load"
    files["text"] = tmp_path / "text.csv"
    files["text"].write_text("\n".join(text) + "\n")
    gap = list(lines)
    gap[9] = gap[9].split(",")[0] + ",1.0,"  # row 8: no value in "temp"
    files["gap"] = tmp_path / "gap.csv"
    files["gap"].write_text("\n".join(gap) + "\n")
    date = list(lines)
    date[11] = "not a date," + date[11].split(",", 1)[1]  # row 10
    files["date"] = tmp_path / "date.csv"
    files["date"].write_text("\n".join(date) + "\n")
    files["good"] = good
    return files


@pytest.mark.slow
@pytest.mark.parametrize("command", ["benchmark", "tune"])
def test_malformed_csvs_exit_with_one_clear_message(tmp_path, command):
    files = _malformed(tmp_path)
    extra = ["--models", "naive"] if command == "benchmark" else ["--n-trials", "1"]
    cases = [
        (["--dataset", str(files["text"])], ["text.csv", "'load'", "row 6", "abc"]),
        (["--dataset", str(files["gap"])], ["gap.csv", "'temp'", "row 8", "missing"]),
        (["--dataset", str(files["date"])], ["date.csv", "'date'", "row 10", "not a date"]),
        (["--dataset", str(files["good"]), "--time-col", "stamp"], ["good.csv", "'stamp'"]),
        (["--dataset", str(files["good"]), "--target", "price"], ["good.csv", "'price'"]),
    ]
    if command == "benchmark":
        cases.append((["--dataset", str(files["good"]), "--features", "S"],
                      ["good.csv", "--target", "'load', 'temp'"]))
    for argv, expected in cases:
        done = _cli([command, *argv, "--horizon", "12", *extra], tmp_path)
        assert done.returncode == 1, (argv, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) <= 2, done.stderr
        for word in expected:
            assert word in done.stderr, (word, done.stderr)


def test_missing_files_and_bad_arguments_exit_2_and_debug_shows_the_traceback(tmp_path):
    done = _cli(["benchmark", "--dataset", str(tmp_path / "absent.csv")], tmp_path)
    assert done.returncode == 2 and "no such file" in done.stderr and "absent.csv" in done.stderr
    assert "Traceback" not in done.stderr
    done = _cli(["tune", "--dataset", "ETTh1", "--val-size", "1.5"], tmp_path)
    assert done.returncode == 2 and "--val-size" in done.stderr
    files = _malformed(tmp_path)
    done = _cli(["benchmark", "--dataset", str(files["text"]), "--debug"], tmp_path)
    assert done.returncode == 1 and "Traceback" in done.stderr and "text.csv" in done.stderr


def test_csv_options_choose_columns_and_split(tmp_path, capsys):
    from txl_ts.benchmark import load_protocol

    path = _csv(tmp_path / "site.csv", 500)
    df, split = load_protocol(str(path), "S", target=["temp"], val_size=100)
    assert list(df.columns) == ["temp"]
    assert (split.train_end, split.test_start, split.end) == (300, 400, 500)
    renamed = tmp_path / "stamp.csv"
    renamed.write_text(path.read_text().replace("date,", "stamp,", 1))
    df, _ = load_protocol(str(renamed), target="load,temp".split(","), time_col="stamp")
    assert list(df.columns) == ["load", "temp"] and df.index.freqstr == "h"


# ---- covariate options --------------------------------------------------------------------
def test_covariate_flags_parse():
    from txl_ts.frames.calendar import FEATURES

    assert cli.CALENDAR_FEATURES == FEATURES
    parser = cli.build_parser()
    for command in ("benchmark", "tune"):
        args = parser.parse_args([command, "--dataset", "ETTh1", "--target", "OT",
                                  "--past-covariates", "HUFL, HULL", "--future-covariates",
                                  "MUFL", "--calendar", "time_of_day,weekend",
                                  "--holidays", "AU:VIC"])
        assert args.target == ["OT"] and args.past_covariates == ("HUFL", "HULL")
        assert args.future_covariates == ("MUFL",)
        assert args.calendar == ("time_of_day", "weekend") and args.holidays == ("AU", "VIC")
        args = parser.parse_args([command, "--dataset", "ETTh1", "--calendar", "auto",
                                  "--holidays", "us"])
        assert args.calendar == "auto" and args.holidays == "US"
        assert args.past_covariates is args.future_covariates is None
        assert parser.parse_args([command, "--dataset", "ETTh1", "--calendar", "none"]
                                 ).calendar is None


@pytest.mark.parametrize("flag,value,message", [
    ("--calendar", "hour", "unknown calendar feature 'hour'"),
    ("--holidays", "AU:", "AU:VIC"),
    ("--holidays", "12", "country code"),
    ("--past-covariates", "a,b,a", "'a' is named twice"),
    ("--future-covariates", ",", "at least one column"),
])
def test_bad_covariate_flags_are_argument_errors(flag, value, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(["benchmark", "--dataset", "ETTh1", flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and message in err and len(err.strip().splitlines()) == 2


@pytest.mark.parametrize("command", ["benchmark", "tune"])
@pytest.mark.parametrize("argv,expected", [
    (["--future-covariates", "humidity"], ["'humidity'", "--future-covariates"]),
    (["--past-covariates", "temp,price"], ["'price'", "--past-covariates"]),
    (["--target", "load", "--future-covariates", "load"], ["'load'", "--target",
                                                            "--future-covariates"]),
    (["--past-covariates", "temp", "--future-covariates", "temp"], ["'temp'", "one role"]),
    (["--past-covariates", "load,temp"], ["every column is a covariate"]),
    (["--holidays", "AU:ZZZ"], ["ZZZ"]),
])
def test_covariate_errors_are_one_line_naming_the_column_and_the_file(tmp_path, capsys,
                                                                     command, argv, expected):
    from txl_ts.__main__ import main

    data = _csv(tmp_path / "site.csv", 300)
    code = main([command, "--dataset", str(data), "--horizon", "12", *argv])
    assert code == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    for word in ["site.csv", *expected]:
        assert word in errors[0], (word, errors[0])


def test_bundled_data_sets_take_the_covariate_flags():
    from txl_ts.benchmark import load_protocol
    from txl_ts.protocol import model_roles

    past = ("HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL")
    data = {"target": ("OT",), "past_covariates": past, "calendar": "auto"}
    df, split = load_protocol("ETTh1", "M", 400, **data)  # ETTh1 "MS"
    assert list(df.columns) == ["OT", *past] and split.end == 400
    assert model_roles(df, data) == {"targets": ["OT"], "past_covariates": list(past),
                                     "calendar": "auto"}
    # "S" keeps the bundled target and the covariates beside it
    df, _ = load_protocol("ETTh1", "S", 400, future_covariates=("HUFL",))
    assert list(df.columns) == ["OT", "HUFL"]
    assert model_roles(df, {}) == {}  # no covariates: the models take every column
