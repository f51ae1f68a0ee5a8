"""`python -m txl_ts tune` workers on a real PostgreSQL server (the `postgres_url` fixture of
conftest.py: a throw-away server on 127.0.0.1, a new empty database per test).

What a multi-machine search relies on: workers started together on an empty database share
one study (no start-up race over Optuna's tables, unique trial numbers), a worker killed hard
(SIGKILL: no cleanup) leaves a RUNNING trial that a restarted worker marks FAIL once its
heartbeats stop, and a worker stopped with SIGTERM fails its trial and exits non-zero.
Every worker is a real process of the command line; the budgets are tiny.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import sqlalchemy

from txl_ts import TXLForecaster
from txl_ts.studies import open_storage

State = optuna.trial.TrialState
ROOT = Path(__file__).parents[1]
# the command's options of every worker but its seed and study: horizon 8 on a small CSV
# (600 rows: a 420-row fit part, a 60-row validation tail), heartbeats every second
COMMON = ("--horizon", "8", "--heartbeat", "1", "--grace-period", "2")
#: seconds a worker may take; far above what they take (a few seconds past the imports)
WAIT = 240


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> Path:
    """An hourly series of 600 rows with a daily season, as a CSV for `--dataset`."""
    n, rng = 600, np.random.default_rng(0)
    t = np.arange(n)
    path = tmp_path_factory.mktemp("data") / "site.csv"
    pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="h"),
                  "load": np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=n)}
                 ).to_csv(path, index=False)
    return path


def worker(csv: Path, url: str, study: str, seed: int, *options: str) -> subprocess.Popen:
    """Start `python -m txl_ts tune` on `study` in `url` as a separate process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "txl_ts", "tune", "--dataset", str(csv), "--storage", url,
         "--study-name", study, "--seed", str(seed), *COMMON, *options],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)


def finish(process: subprocess.Popen) -> str:
    """Wait for `process` and return its output."""
    try:
        out, _ = process.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        pytest.fail(f"a worker ran past {WAIT} s:\n{out[-3000:]}")
    return out


def trials(url: str, study: str) -> list[optuna.trial.FrozenTrial]:
    """The trials of `study`, read afresh (a new storage: nothing cached)."""
    storage = optuna.storages.RDBStorage(url)
    try:
        return optuna.load_study(study_name=study, storage=storage).trials
    finally:
        storage.engine.dispose()


def wait_running(url: str, study: str, process: subprocess.Popen) -> list[int]:
    """Wait until `study` has a RUNNING trial and return the RUNNING trials' numbers."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the worker ended before running a trial:\n{process.stdout.read()}")
        try:
            running = [t.number for t in trials(url, study) if t.state == State.RUNNING]
        except (KeyError, sqlalchemy.exc.SQLAlchemyError):  # no study (or tables) yet
            running = []
        if running:
            return running
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"no trial was RUNNING after {WAIT} s")


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_storages_opened_together_on_an_empty_database_all_succeed(postgres_url):
    """The start-up race of two workers, in threads: without the retry in `open_storage`,
    one of two workers creating Optuna's tables at once failed about half the time with
    `UniqueViolation ... pg_type_typname_nsp_index`."""
    import threading

    barrier, errors = threading.Barrier(4), []

    def open_one() -> None:
        barrier.wait()
        try:
            storage = open_storage(postgres_url, 60, 120)
            storage.engine.dispose()
        except Exception as err:  # noqa: BLE001 - collected and shown below
            errors.append(err)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)
    assert not errors, errors
    study = optuna.create_study(storage=postgres_url, study_name="after")
    assert study.trials == []


@pytest.mark.slow
def test_two_workers_started_together_share_one_study(postgres_url, csv, tmp_path):
    budget = ("--n-trials", "2", "--max-epochs", "1", "--max-train-batches", "2")
    saved = [tmp_path / f"best_{seed}" for seed in (1, 2)]
    workers = [worker(csv, postgres_url, "shared", seed, *budget, "--save-model", str(path))
               for seed, path in zip((1, 2), saved)]
    outputs = [finish(process) for process in workers]
    for process, out in zip(workers, outputs):
        assert process.returncode == 0, out[-3000:]
        assert "UniqueViolation" not in out and "already exists" not in out
    done = trials(postgres_url, "shared")
    assert len(done) == 4
    assert sorted(t.number for t in done) == [0, 1, 2, 3]  # unique numbers across workers
    assert all(t.state in (State.COMPLETE, State.PRUNED) for t in done), \
        [(t.number, t.state.name, t.user_attrs.get("error")) for t in done]
    assert {t.user_attrs["random_state"] for t in done} == {1, 2}  # both workers ran trials
    # the study's best trial rebuilds a model (its sampled parameters, the fixed budget, its
    # worker's seed) that fits and forecasts
    complete = [t for t in done if t.state == State.COMPLETE]
    best = min(complete, key=lambda t: t.value)
    frame = pd.read_csv(csv, parse_dates=["date"]).set_index("date")
    model = TXLForecaster(horizon=8, max_epochs=1, random_state=best.user_attrs["random_state"],
                          trainer_kwargs={"limit_train_batches": 2, "enable_progress_bar": False},
                          **best.user_attrs["model_params"])
    assert model.fit(frame.iloc[:420]).predict().shape == (8, 1)
    # each worker saved its refit of the best trial it saw; it loads and is one of the trials
    sampled = [t.user_attrs["model_params"] for t in complete]
    for path in saved:
        loaded = TXLForecaster.load(path)
        params = loaded.get_params()
        assert any(all(params[k] == v for k, v in trial.items()) for trial in sampled)
        assert loaded.predict().shape == (8, 1)


@pytest.mark.slow
def test_killed_worker_trial_is_failed_and_sigterm_exits_non_zero(postgres_url, csv):
    """Two workers on two studies at once: one stopped with SIGTERM mid-trial (it must fail
    its trial and exit non-zero), one killed with SIGKILL (its trial stays RUNNING until a
    restarted worker, past the grace period without heartbeats, marks it FAIL)."""
    # trials of up to 30 epochs of 4 batches: a second or more, so that a signal sent as soon
    # as a trial is seen RUNNING lands in it (anywhere in the objective will do: the trial
    # is failed whether the signal lands in the fit, the scoring or the sampling)
    budget = ("--max-train-batches", "4", "--pruner", "none")
    termed = worker(csv, postgres_url, "term", 1, "--n-trials", "3", *budget)
    killed = worker(csv, postgres_url, "kill", 2, "--n-trials", "3", *budget)
    wait_running(postgres_url, "term", termed)
    termed.send_signal(signal.SIGTERM)
    wait_running(postgres_url, "kill", killed)
    killed.send_signal(signal.SIGKILL)
    out = finish(termed)
    finish(killed)
    assert killed.returncode == -signal.SIGKILL

    assert termed.returncode == 130, out[-3000:]  # "interrupted", as on Ctrl-C
    term = trials(postgres_url, "term")
    assert State.RUNNING not in {t.state for t in term}
    failed = [t for t in term if t.state == State.FAIL]
    assert len(failed) == 1
    # a signal landing in Optuna's own code around the objective fails the trial there,
    # without the objective's note; inside the objective the note says why
    assert failed[0].user_attrs.get("error", "interrupted").startswith("interrupted")

    orphans = [t.number for t in trials(postgres_url, "kill") if t.state == State.RUNNING]
    assert len(orphans) == 1  # SIGKILL: nothing could mark it
    time.sleep(2.5)  # past the 2 s grace period (the restarted worker's imports add more)
    restarted = worker(csv, postgres_url, "kill", 3, "--n-trials", "1", *budget)
    out = finish(restarted)
    assert restarted.returncode == 0, out[-3000:]
    after = {t.number: t for t in trials(postgres_url, "kill")}
    assert State.RUNNING not in {t.state for t in after.values()}
    assert after[orphans[0]].state == State.FAIL
    assert [t.user_attrs["random_state"] for t in after.values()
            if t.state == State.COMPLETE][-1] == 3  # the restarted worker's trial ran


def test_grace_period_must_exceed_the_heartbeat(csv, capsys):
    from txl_ts.__main__ import main

    with warnings.catch_warnings():
        code = main(["tune", "--dataset", str(csv), "--horizon", "8", "--storage", "memory",
                     "--heartbeat", "5", "--grace-period", "5"])
    assert code == 1
    assert "--grace-period (5 s) must exceed --heartbeat (5 s)" in capsys.readouterr().err
