"""The benchmark grid on a Dask cluster (`run_grid(..., scheduler=...)`, `--scheduler`): the
same results as local workers, resuming, data fingerprints, and one-line errors."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from txl_ts.__main__ import main
from txl_ts.grid import Settings, data_fingerprint, run_grid

TINY_TXL = {"patch_len": 8, "stride": 4, "d_model": 16, "n_heads": 2, "n_layers": 1,
            "d_ff": 32, "segment_len": 4, "n_segments": 2}
MODELS = ["naive", "snaive", "txl-nomem"]
SETTINGS = Settings(rows=400, max_epochs=1, txl_params=TINY_TXL)
CELLS = [f"ETTh1_M_12_{m}" for m in MODELS]


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each. Their environment names no thread count, so
    that the grid itself must give each worker one torch thread (a nanny sets
    OMP_NUM_THREADS=1 by default, which would hide a worker left at torch's default)."""
    distributed = pytest.importorskip(
        "distributed", reason="distributed is not installed (pip install 'txl-ts[dask]')")
    no_threads = {"OMP_NUM_THREADS": "", "MKL_NUM_THREADS": "", "OPENBLAS_NUM_THREADS": ""}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, env=no_threads) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        yield client


def _without_timing(obj):
    """`obj` without the fields that measure time (they differ between any two runs)."""
    if isinstance(obj, dict):
        return {k: _without_timing(v) for k, v in obj.items() if "seconds" not in k}
    if isinstance(obj, list):
        return [_without_timing(v) for v in obj]
    return obj


def _models(out: Path, cell: str) -> dict:
    return _without_timing(json.loads((out / f"{cell}.json").read_text())["models"])


def test_grid_on_dask_equals_local_workers_and_resumes(client, tmp_path, capsys):
    def run(out, **kwargs):
        return run_grid(["ETTh1"], [12], MODELS, seeds=2, out_dir=out, settings=SETTINGS,
                        **kwargs)

    local, remote = tmp_path / "local", tmp_path / "dask"
    assert run(local, jobs=1).written == CELLS
    capsys.readouterr()
    result = run(remote, scheduler=client)
    assert sorted(result.written) == CELLS and result.n_tasks == 4 and not result.failed
    err = capsys.readouterr().err
    assert "4 tasks to run on the Dask cluster at tcp://" in err
    assert "4/4" in err  # the progress bar
    for cell in CELLS:  # same seeds, same data, one thread: the very same numbers
        assert _models(remote, cell) == _models(local, cell), cell
    assert {f.name for f in (remote / ".parts").iterdir()} == \
        {f.name for f in (local / ".parts").iterdir()}
    # the workers were left at one torch thread each, by the grid (not by the environment)
    threads = client.run(lambda: __import__("torch").get_num_threads())
    assert sorted(threads.values()) == [1, 1]

    # resume: a finished grid runs nothing; a lost cell file and seed rerun only that seed
    assert run(remote, scheduler=client).n_tasks == 0
    (remote / "ETTh1_M_12_txl-nomem.json").unlink()
    (remote / ".parts" / "ETTh1_M_12_txl-nomem_seed1.json").unlink()
    result = run(remote, scheduler=client, log=lambda msg: None)
    assert result.n_tasks == 1 and result.written == ["ETTh1_M_12_txl-nomem"]
    assert len(result.skipped) == 2
    assert _models(remote, "ETTh1_M_12_txl-nomem") == _models(local, "ETTh1_M_12_txl-nomem")


def _csv(path: Path, bump: float = 0.0) -> Path:
    t = np.arange(300)
    df = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=300, freq="h"),
                       "a": np.sin(2 * np.pi * t / 24)})
    df.loc[100, "a"] += bump
    df.to_csv(path, index=False)
    return path


def test_grid_on_dask_reruns_cells_whose_data_changed(client, tmp_path):
    """The workers fit the frame the main process sent, whose fingerprint it checked."""
    csv, out, logged = _csv(tmp_path / "site.csv"), tmp_path / "grid", []

    def run():
        logged.clear()
        return run_grid([str(csv)], [12], ["naive"], seeds=1, out_dir=out,
                        scheduler=client, log=logged.append)

    assert run().written == ["site_M_12_naive"]
    assert run().n_tasks == 0
    _csv(csv, bump=1.0)
    assert run().written == ["site_M_12_naive"]
    assert "site_M_12_naive: data changed since the cell was written; rerunning" in logged
    part = json.loads((out / ".parts" / "site_M_12_naive_seed-.json").read_text())
    assert part["data_fingerprint"] == data_fingerprint(str(csv), Settings())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_scheduler_is_one_line_error(tmp_path):
    pytest.importorskip("distributed", reason="distributed is not installed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1",
           "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    done = subprocess.run(
        [sys.executable, "-m", "txl_ts", "benchmark", "--dataset", "ETTh1", "--rows", "400",
         "--horizon", "12", "--models", "naive", "--out-dir", str(tmp_path / "g"),
         "--scheduler", address], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-2000:]
    assert f"cannot reach the Dask scheduler at {address}" in errors[0]
    assert "dask scheduler" in errors[0]


def test_scheduler_without_distributed_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    code = main(["benchmark", "--dataset", "ETTh1", "--rows", "400", "--horizon", "12",
                 "--models", "naive", "--out-dir", str(tmp_path / "g"),
                 "--scheduler", "tcp://127.0.0.1:8786"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1 and len(errors) == 1 and "Traceback" not in err
    assert "'distributed'" in errors[0] and 'pip install "txl-ts[dask]"' in errors[0]
    assert not (tmp_path / "g").exists()  # refused before anything was made


def test_scheduler_and_jobs_exclude_each_other(tmp_path):
    with pytest.raises(ValueError, match="--jobs or --scheduler"):
        run_grid(["ETTh1"], [12], ["naive"], seeds=1, out_dir=tmp_path / "g", jobs=2,
                 scheduler="tcp://127.0.0.1:8786")
