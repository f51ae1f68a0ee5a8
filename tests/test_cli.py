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
