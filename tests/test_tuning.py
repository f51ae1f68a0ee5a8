"""Tests of the Optuna search: tiny series, tiny models, 1-3 epochs per trial."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from tolerance import assert_close

from txl_ts import TXLForecaster, studies, tuning
from txl_ts.__main__ import main
from txl_ts.datasets import load
from txl_ts.tuning import default_search_space, tune, validation_mse

optuna.logging.set_verbosity(optuna.logging.WARNING)
TINY = dict(patch_len=8, stride=4, d_model=16, n_heads=2, n_layers=1, d_ff=32, segment_len=4,
            mem_len=8, n_segments=2, max_epochs=3, patience=3)
State = optuna.trial.TrialState


def series(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame(
        {"a": np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=n),
         "b": np.cos(2 * np.pi * t / 24) + 0.1 * rng.normal(size=n)},
        index=pd.date_range("2020-01-01", periods=n, freq="h"),
    )


def test_default_search_space_always_valid():
    for fixed in ({}, {"d_model": 36, "patch_len": 12}, {"n_heads": 8, "stride": 16}):
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        space = default_search_space(fixed)
        for _ in range(100):
            params = {**TINY, **fixed, **space(study.ask())}
            assert params["d_model"] % params["n_heads"] == 0
            assert params["stride"] <= params["patch_len"]
            model = TXLForecaster(**params)
            model._validate_params()
            model._check_params()
    fixed_space = default_search_space({"d_model": 36})
    trial = optuna.create_study().ask()
    fixed_space(trial)
    assert set(trial.distributions["n_heads"].choices) == {1, 2, 4}


def test_search_returns_fitted_best_model():
    df = series()
    before = df.copy()
    result = tune(df, horizon=8, n_trials=3, storage=None, val_size=0.25, pruner="none",
                  fixed_params={"max_epochs": 1, "n_segments": 2})
    assert len(result.study.trials) == 3
    values = [t.value for t in result.study.trials if t.state == State.COMPLETE]
    assert result.best_value == min(values)
    model = result.best_model
    assert model.get_params()["d_model"] == result.best_params["d_model"]
    assert model.fit_summary_["n_train_rows"] == 300 and model.fit_summary_["n_val_rows"] == 100
    # the refit reproduces the best trial (same seed, same data)
    assert_close(validation_mse(model, df, 300), result.best_value, torch.float32)
    assert model.predict().shape == (8, 2)
    pd.testing.assert_frame_equal(df, before)


@pytest.fixture(scope="module")
def mixed_study():
    """Trial 0 sane, trial 1 hopeless (lr=300: pruned), trial 2 diverges (lr=inf: failed),
    trial 3 sane again."""
    lrs = [1e-2, 300.0, float("inf"), 3e-3]
    return tune(series(), horizon=8, n_trials=4, storage=None, val_size=0.25,
                search_space=lambda trial: {"lr": lrs[trial.number]},
                fixed_params={**TINY, "max_epochs": 2},
                pruner=optuna.pruners.ThresholdPruner(upper=100.0),
                refit=False)


def test_hopeless_trial_is_pruned(mixed_study):
    sane, hopeless = mixed_study.study.trials[:2]
    assert sane.state == State.COMPLETE and len(sane.intermediate_values) == 2
    assert hopeless.state == State.PRUNED
    assert list(hopeless.intermediate_values) == [0]  # stopped after its first epoch
    assert hopeless.intermediate_values[0] > 100.0


def test_failing_trial_is_recorded_and_study_goes_on(mixed_study):
    failed, last = mixed_study.study.trials[2:]
    assert failed.state == State.FAIL
    assert failed.user_attrs["error"].startswith("TrainingDivergedError:")
    assert last.state == State.COMPLETE
    assert mixed_study.best_params in ({"lr": 1e-2}, {"lr": 3e-3})


def test_resume_adds_trials_to_the_same_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    df = series(300)
    kw = dict(horizon=8, storage=storage, study_name="resume", val_size=0.3, pruner="none",
              fixed_params={**TINY, "max_epochs": 1}, refit=False,
              search_space=lambda t: {"lr": t.suggest_float("lr", 1e-4, 1e-2, log=True)})
    tune(df, n_trials=2, **kw)
    result = tune(df, n_trials=1, **kw)
    trials = result.study.trials
    assert [t.number for t in trials] == [0, 1, 2]
    assert all(t.state == State.COMPLETE for t in trials)
    assert len({t.params["lr"] for t in trials}) == 3  # the resumed sampler does not repeat
    with pytest.raises(ValueError, match="horizon"):
        tune(df, **{**kw, "horizon": 4, "n_trials": 1})
    with pytest.raises(ValueError, match="fixed_params"):
        tune(df, **{**kw, "fixed_params": {**TINY, "max_epochs": 2}, "n_trials": 1})
    assert len(result.study.trials) == 3


def shared_study_worker(path: str, seed: int) -> None:
    """Run two trials of study "shared" in the journal file `path`."""
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    tune(series(300), horizon=8, n_trials=2, storage=storage, study_name="shared",
         val_size=0.3, pruner="none", fixed_params={**TINY, "max_epochs": 1},
         random_state=seed, refit=False,
         search_space=lambda t: {"lr": t.suggest_float("lr", 1e-4, 1e-2, log=True)})


@pytest.mark.slow
def test_two_processes_share_one_study(tmp_path):
    path = str(tmp_path / "journal.log")
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
              f"import test_tuning; test_tuning.shared_study_worker({path!r}, 2)")
    other = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    try:
        shared_study_worker(path, 1)  # this process is the second worker
    finally:
        _, err = other.communicate(timeout=240)
    assert other.returncode == 0, err
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state == State.COMPLETE for t in trials)
    assert len({t.params["lr"] for t in trials}) == 4


class Spy(TXLForecaster):
    """Records the last timestamp of every frame the search hands to the model."""

    seen: list[tuple[str, pd.Timestamp, pd.Timestamp]] = []

    def fit(self, df, validation_data=None):
        Spy.seen.append(("fit", df.index[0], df.index[-1]))
        Spy.seen.append(("validation", validation_data.index[0], validation_data.index[-1]))
        return super().fit(df, validation_data)

    def rolling_forecasts(self, df, cutoffs):
        Spy.seen.append(("rolling", df.index[0], df.index[-1]))
        return super().rolling_forecasts(df, cutoffs)


def test_objective_never_touches_data_after_the_tail(monkeypatch):
    full = series(460)
    full.iloc[400:] = np.nan  # the "test split": reading it would raise in validation
    df = full.iloc[:400]
    monkeypatch.setattr(tuning, "TXLForecaster", Spy)
    Spy.seen.clear()
    result = tune(df, horizon=8, n_trials=2, storage=None, val_size=100, pruner="none",
                  fixed_params={**TINY, "max_epochs": 1},
                  search_space=lambda t: {"dropout": t.suggest_float("dropout", 0.0, 0.2)})
    assert all(t.state == State.COMPLETE for t in result.study.trials)
    kinds = [kind for kind, _, _ in Spy.seen]
    assert kinds.count("fit") == 3 and kinds.count("rolling") >= 2  # 2 trials + the refit
    for kind, start, end in Spy.seen:
        if kind == "fit":
            assert (start, end) == (full.index[0], full.index[299])
        elif kind == "validation":
            assert (start, end) == (full.index[300], full.index[399])
        else:
            assert end <= full.index[399]


def test_cli_tunes_only_on_train_and_validation_rows(monkeypatch, capsys, tmp_path):
    calls = {}

    def fake_tune(df, **kwargs):
        calls.update(kwargs, df=df)
        model = TXLForecaster(horizon=8, **TINY)
        study = optuna.create_study()
        study.add_trial(optuna.trial.create_trial(value=0.7, user_attrs={"defaults": True}))
        study.add_trial(optuna.trial.create_trial(value=0.5))
        return tuning.TuneResult(study, {"lr": 0.01}, None, 0.5, model)

    monkeypatch.setattr(tuning, "tune", fake_tune)
    code = main(["tune", "--dataset", "ETTh1", "--horizon", "96", "--n-trials", "20",
                 "--storage", "memory", "--max-epochs", "2"])
    assert code == 0
    full = load("ETTh1")
    pd.testing.assert_frame_equal(calls["df"], full.iloc[:11520])
    assert calls["val_size"] == 2880 and calls["storage"] is None
    assert calls["study_name"] == "ETTh1-h96" and calls["fixed_params"] == {"max_epochs": 2}
    out = capsys.readouterr().out
    assert "validation MSE" in out and "lr = 0.01" in out
    assert "the default model (trial 0): 0.7000" in out
    assert main(["tune", "--dataset", "WTH", "--n-trials", "1", "--storage", "memory"]) == 0
    wth = load("WTH")
    n_test = int(0.2 * len(wth))
    pd.testing.assert_frame_equal(calls["df"], wth.iloc[: len(wth) - n_test])
    assert calls["val_size"] == len(wth) - n_test - int(0.7 * len(wth))
    # a CSV of the user's: the benchmark's 70/10/20 split, the study named after the file
    csv = tmp_path / "site_a.csv"
    wth.iloc[:600].rename_axis("date").to_csv(csv)
    assert main(["tune", "--dataset", str(csv), "--horizon", "24", "--n-trials", "1",
                 "--storage", "memory"]) == 0
    assert calls["study_name"] == "site_a-h24" and len(calls["df"]) == 600 - int(0.2 * 600)
    pd.testing.assert_frame_equal(calls["df"], wth.iloc[:480], check_freq=False)


def test_default_space_follows_the_season_and_its_first_trial_is_the_default_model():
    df = series(1200)
    fixed = {"max_epochs": 1, "n_segments": 2}
    result = tune(df, horizon=8, n_trials=1, storage=None, val_size=0.25, pruner="none",
                  fixed_params=fixed, refit=False)
    trial = result.study.trials[0]
    assert trial.user_attrs["defaults"] is True
    # hourly: patches of half, one and two days; lookbacks of 2-14 days that fit 900 rows
    assert trial.distributions["patch_len"].choices == (12, 24, 48)
    assert trial.distributions["lookback"].choices == (48, 96, 192, 336)
    assert trial.params == {"d_model": 64, "n_heads": 4, "n_layers": 2, "patch_len": 24,
                            "stride_ratio": 0.5, "lookback": 336, "segment_len": 8,
                            "mem_len": 16, "dropout": 0.1, "lr": 3e-4, "batch_size": 32}
    default = TXLForecaster(horizon=8, random_state=0, **fixed).fit(
        df.iloc[:900], validation_data=df.iloc[900:])
    assert_close(trial.value, validation_mse(default, df, 900), torch.float32)


def test_default_space_on_daily_data_and_short_series():
    daily = series(300).set_axis(pd.date_range("2020-01-01", periods=300, freq="D"))
    space = tuning.data_space(daily.iloc[:240], 7, {})
    assert space.patch_len == 7 and space.lookbacks == (14, 28, 56, 98)
    first = tuning.first_trial(space, space.search_space({}))
    assert first["patch_len"] == 7 and first["stride_ratio"] == 0.5  # stride 3, the default
    assert first["lookback"] == 98
    short = tuning.data_space(daily.iloc[:60], 7, {})  # room for 2 weeks of lookback only
    assert short.lookbacks == (14,)
    assert "lookback" not in tuning.first_trial(short, short.search_space({}))
    fixed = tuning.data_space(daily.iloc[:240], 7, {"patch_len": 14, "lookback": 28})
    first = tuning.first_trial(fixed, fixed.search_space({"patch_len": 14, "lookback": 28}))
    # horizon 7 is at most two patches of 14: the default stride is half of the fixed patch
    assert "patch_len" not in first and "lookback" not in first and first["stride_ratio"] == 0.5


# ---- studies tune cannot continue, bad storages and arguments, interrupted workers --------
QUICK = dict(horizon=8, val_size=0.3, pruner="none", refit=False,
             fixed_params={**TINY, "max_epochs": 1},
             search_space=lambda t: {"lr": t.suggest_float("lr", 1e-4, 1e-2, log=True)})


class Broken(TXLForecaster):
    """A model whose fit raises what the test sets in `Broken.error`, before any training."""

    error: BaseException = RuntimeError("no fit in this test")

    def fit(self, df, validation_data=None):
        raise Broken.error


def test_study_of_another_program_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    other = optuna.create_study(storage=url, study_name="theirs")
    other.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    with pytest.raises(ValueError, match="'theirs'.*other.db.*not created by txl_ts tune"):
        tune(series(300), n_trials=1, storage=url, study_name="theirs", **QUICK)
    assert len(optuna.load_study(study_name="theirs", storage=url).trials) == 2


def test_maximise_study_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'max.db'}"
    optuna.create_study(storage=url, study_name="up", direction="maximize")
    with pytest.raises(ValueError, match="'up'.*maximize.*minimises"):
        tune(series(300), n_trials=1, storage=url, study_name="up", **QUICK)
    assert not optuna.load_study(study_name="up", storage=url).trials


@pytest.mark.parametrize("url, shown, problem", [
    ("foo://x", "foo://x", "unknown database dialect 'foo'"),
    ("postgresql://u:secret@127.0.0.1:1/db", "postgresql://u:***@127.0.0.1:1/db", ""),
    ("sqlite:///{tmp}/no/such/dir/s.db", "sqlite:///{tmp}/no/such/dir/s.db",
     "unable to open database file"),
])
def test_bad_storage_is_a_clear_error(tmp_path, url, shown, problem):
    url, shown = url.format(tmp=tmp_path), shown.format(tmp=tmp_path)
    with pytest.raises(ValueError, match="cannot open the Optuna storage") as info:
        tune(series(300), n_trials=1, storage=url, **QUICK)
    message = str(info.value)
    assert shown in message and problem in message and "secret" not in message
    assert "\n" not in message
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("n_trials, error", [(-1, ValueError), (0, ValueError),
                                             (0.5, TypeError), ("3", TypeError),
                                             (True, TypeError)])
def test_bad_n_trials_is_rejected(n_trials, error):
    with pytest.raises(error, match="n_trials"):
        tune(series(300), n_trials=n_trials, **QUICK)


@pytest.mark.parametrize("value", ["-1", "0", "0.5", "three"])
def test_cli_rejects_bad_n_trials(value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["tune", "--dataset", "ETTh1", "--n-trials", value])
    assert stop.value.code == 2 and "--n-trials" in capsys.readouterr().err


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SystemExit(1)])
def test_interrupted_trial_is_failed_not_left_running(tmp_path, monkeypatch, interrupt):
    """Ctrl-C during a fit (which Lightning turns into sys.exit(1)) leaves no RUNNING trial."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    monkeypatch.setattr(tuning, "TXLForecaster", Broken)
    monkeypatch.setattr(Broken, "error", interrupt)
    with pytest.raises(KeyboardInterrupt):
        tune(series(300), n_trials=3, storage=url, study_name="s", **QUICK)
    trials = optuna.load_study(study_name="s", storage=url).trials
    assert [t.state for t in trials] == [State.FAIL]
    assert trials[0].user_attrs["error"].startswith("interrupted")


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")
def test_trial_of_a_killed_worker_is_failed_by_the_next_run(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    monkeypatch.setattr(tuning, "TXLForecaster", Broken)
    kw = dict(storage=url, study_name="s", heartbeat_interval=1, grace_period=3, **QUICK)
    with pytest.warns(RuntimeWarning, match="no trial"):
        tune(series(300), n_trials=1, **kw)
    # a worker that started a trial, beat once and was killed (SIGKILL: no Python cleanup)
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=3)
    zombie = optuna.load_study(study_name="s", storage=storage).ask()
    storage.record_heartbeat(zombie._trial_id)
    assert storage.get_trial(zombie._trial_id).state == State.RUNNING
    time.sleep(4.5)  # past the grace period without a heartbeat
    with pytest.warns(RuntimeWarning, match="no trial"):
        result = tune(series(300), n_trials=1, **kw)
    states = {t.number: t.state for t in result.study.trials}
    assert states[zombie.number] == State.FAIL
    assert State.RUNNING not in states.values()


def _cli(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "txl_ts", *argv], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["text", "no time column", "bad date", "bad storage"])
def test_tune_cli_errors_are_one_line(tmp_path, case):
    csv = tmp_path / "site.csv"
    frame = series(400).rename_axis("date")
    if case == "text":
        frame = frame.astype(object)
        frame.iloc[50, 0] = "oops"
    frame.to_csv(csv, index=case != "no time column")
    if case == "bad date":
        lines = csv.read_text().splitlines()
        lines[51] = "notadate," + lines[51].split(",", 1)[1]
        csv.write_text("\n".join(lines) + "\n")
    argv = ["tune", "--dataset", str(csv), "--horizon", "8", "--n-trials", "1",
            "--max-epochs", "1"]
    if case == "bad storage":
        argv += ["--storage", "foo://x"]
    done = _cli(*argv)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-2000:]
    assert ("foo://x" if case == "bad storage" else "site.csv") in errors[0]


def test_tune_out_dir_that_is_a_file_is_an_error(tmp_path, capsys):
    path = tmp_path / "study"
    path.write_text("not a folder")
    assert main(["tune", "--dataset", "ETTh1", "--n-trials", "1", "--out-dir", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"error: --out-dir {path} is an existing file" in err and "Traceback" not in err


# ---- covariates ---------------------------------------------------------------------------
def covariate_series(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """y driven by a future-known temperature, with a past-only meter beside it."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    temp = np.cumsum(0.3 * rng.standard_normal(n))
    return pd.DataFrame(
        {"y": 2 * temp + 0.5 * np.sin(2 * np.pi * t / 24) + 0.05 * rng.normal(size=n),
         "temp": temp, "meter": rng.normal(size=n)},
        index=pd.date_range("2020-01-01", periods=n, freq="h"))


ROLES = {"future_covariates": ["temp"], "past_covariates": ["meter"], "calendar": "auto"}


class RoleSpy(TXLForecaster):
    """Records the roles of every model the search fits."""

    fitted: list[dict] = []

    def fit(self, df, validation_data=None):
        RoleSpy.fitted.append({k: self.get_params()[k] for k in ROLES})
        return super().fit(df, validation_data)


def test_tune_passes_the_roles_to_every_trial_and_scores_the_targets_only(monkeypatch):
    monkeypatch.setattr(tuning, "TXLForecaster", RoleSpy)
    RoleSpy.fitted = []
    result = tune(covariate_series(), horizon=8, n_trials=2, storage=None, val_size=100,
                  pruner="none", fixed_params={**TINY, "max_epochs": 1, **ROLES},
                  search_space=lambda t: {"dropout": t.suggest_float("dropout", 0.0, 0.2)})
    assert [t.state for t in result.study.trials] == [State.COMPLETE] * 2
    assert RoleSpy.fitted == [ROLES] * 3  # two trials and the refit
    model = result.best_model
    assert model.columns_ == ["y"] and model.roles_.future == ("temp",)
    assert {k: result.best_model_params[k] for k in ROLES} == ROLES
    # the score is the targets' MSE: the refit reproduces it, from the same backtest
    assert_close(validation_mse(model, covariate_series(), 300), result.best_value,
                 torch.float32)
    assert result.study.user_attrs[studies.ATTR]["fixed_params"]["future_covariates"] == ["temp"]


def test_declared_search_entries_are_searched_without_a_list_here(monkeypatch):
    """A parameter that a model declares with `search=` (a covariate encoder's, say) is
    sampled by the default space and started at its default: nothing in tuning lists them."""
    from txl_ts import search_space
    from txl_ts.params import Choice, Relative

    monkeypatch.setitem(search_space.SEARCH, "weight_decay", Choice((0.0, 1e-4, 0.01)))
    monkeypatch.setitem(search_space.SEARCH, "patience",  # a unit the tuner does not know
                        Relative((1, 2), unit="something new"))
    assert search_space._draw_order()[-2:] == ("weight_decay", "patience")
    trial = optuna.create_study().ask()
    sampled = default_search_space()(trial)
    assert sampled["weight_decay"] in (0.0, 1e-4, 0.01) and "patience" not in sampled
    data = search_space.data_space(covariate_series(), 8, dict(ROLES))
    assert data.defaults["weight_decay"] == TXLForecaster().weight_decay
    assert search_space.first_trial(data, data.search_space(dict(ROLES)))["weight_decay"] == \
        TXLForecaster().weight_decay


def test_cli_tune_fixes_the_roles_and_names_the_study_apart(monkeypatch, tmp_path):
    calls = {}

    def fake_tune(df, **kwargs):
        calls.update(kwargs, df=df)
        study = optuna.create_study()
        study.add_trial(optuna.trial.create_trial(value=0.5))
        return tuning.TuneResult(study, {"lr": 0.01}, None, 0.5, None)

    monkeypatch.setattr(tuning, "tune", fake_tune)
    csv = tmp_path / "site.csv"
    covariate_series(600).rename_axis("date").to_csv(csv)
    argv = ["tune", "--dataset", str(csv), "--horizon", "24", "--storage", "memory"]
    assert main([*argv, "--future-covariates", "temp", "--past-covariates", "meter",
                 "--calendar", "auto", "--holidays", "AU:VIC"]) == 0
    assert calls["fixed_params"] == {"targets": ["y"], **ROLES, "holidays": ("AU", "VIC")}
    assert list(calls["df"].columns) == ["y", "meter", "temp"]
    with_roles = calls["study_name"]
    assert with_roles.startswith("site-h24-cov-")
    assert main(argv) == 0
    assert calls["study_name"] == "site-h24" and calls["fixed_params"] == {}
