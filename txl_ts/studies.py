"""The Optuna studies of `txl_ts.tuning.tune`: opening a storage with clear errors and
heartbeats, refusing studies that `tune` cannot continue, and failing the trials of an
interrupted or killed worker instead of leaving them RUNNING.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

ATTR = "txl_ts"  # study user attribute describing what the study was run on

# Seconds a driver may take to connect to a database server before the storage is refused,
# so that an unreachable server fails at once instead of after the driver's long default.
CONNECT_TIMEOUT = 10

# Tries at opening an RDB storage while another worker creates Optuna's tables in the same
# empty database (see `open_storage`).
SCHEMA_ATTEMPTS = 5


def safe_url(url: str) -> str:
    """`url` with its password hidden (`postgresql://user:***@host/db`), for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparseable URL holds no password we can find
        return url


def open_storage(storage: str | optuna.storages.BaseStorage | None,
                 heartbeat_interval: int | None,
                 grace_period: int | None) -> optuna.storages.BaseStorage | None:
    """The storage of `storage`: a URL becomes an `RDBStorage` with heartbeats, so that a
    trial of a killed worker is failed once `grace_period` seconds pass without its heartbeat;
    an object or None is returned as it is. Raises ValueError naming the URL (password
    hidden) and what failed.

    Workers started together on an empty database race to create Optuna's tables, and all but
    one fail (on PostgreSQL: `UniqueViolation ... pg_type_typname_nsp_index`); such a failure
    is retried, up to `SCHEMA_ATTEMPTS` times, after a short random sleep."""
    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if not isinstance(storage, str):
        raise TypeError(f"storage must be an Optuna storage URL, a storage object or None, "
                        f"got {type(storage).__name__}")
    shown = safe_url(storage)
    engine_kwargs: dict[str, Any] = {}
    if storage.startswith(("postgresql", "mysql")):
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT}
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna: wanted
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    storage, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period)
        except Exception as err:  # noqa: BLE001 - sqlalchemy's and the drivers' errors vary
            if attempt + 1 < SCHEMA_ATTEMPTS and _schema_race(err):
                # Another worker is creating Optuna's tables in the same empty database at
                # this moment: once it commits, the tables exist and a new try just uses
                # them. Jitter, so that two workers that collided do not collide again.
                time.sleep(random.uniform(0.2, 1.0) * (attempt + 1))
                continue
            raise ValueError(f"cannot open the Optuna storage {shown}: "
                             f"{_storage_problem(err, storage)}") from err
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _schema_race(err: Exception) -> bool:
    """Whether `err` is what a worker gets when another creates the same Optuna tables at the
    same moment: PostgreSQL's `UniqueViolation ... pg_type_typname_nsp_index` or
    `type/relation ... already exists`, MySQL's `Table ... already exists`, or a duplicate
    row in Optuna's version table."""
    from sqlalchemy import exc

    if not isinstance(err, exc.DBAPIError):
        return False
    text = str(getattr(err, "orig", None) or err).lower()
    return "already exists" in text or "duplicate" in text


def _storage_problem(err: Exception, url: str) -> str:
    """What went wrong, in a few words, without sqlalchemy's long tail."""
    from sqlalchemy import exc

    if isinstance(err, exc.NoSuchModuleError):
        return f"unknown database dialect {url.split(':', 1)[0]!r}"
    if isinstance(err, exc.ArgumentError):
        return "not a database URL (expected e.g. sqlite:///study.db)"
    if isinstance(err, ImportError):  # Optuna re-raises the driver's ModuleNotFoundError
        cause = err if isinstance(err, ModuleNotFoundError) else (err.__cause__
                                                                  or err.__context__)
        name = getattr(cause, "name", None)
        return f"its database driver {name or ''!s} is not installed".replace("  ", " ")
    text = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
    if url.startswith("sqlite") and "unable to open database file" in text:
        return f"{text} (does its folder exist, and may this user write there?)"
    if isinstance(err, exc.OperationalError):
        return f"cannot connect: {text}"
    return f"{type(err).__name__}: {text}"


def where(study: optuna.Study) -> str:
    """A phrase naming `study` and its storage (password hidden), for messages."""
    storage = study._storage
    url = getattr(storage, "url", None) or getattr(
        getattr(storage, "_backend", None), "url", None)
    place = safe_url(url) if url else type(storage).__name__
    return f"study {study.study_name!r} in {place}"


def check_study(study: optuna.Study, setting: dict[str, Any]) -> None:
    """Refuse a study that `tune` cannot continue; record `setting` in a new one.

    A study must minimise one objective (`tune` minimises the validation MSE), must have been
    created by `tune` when it has trials (theirs carry the parameters `tune` refits with), and
    must have been run on the same data, horizon, split and fixed parameters (training
    budget), or its objective values would not be comparable. Raises ValueError.
    """
    if study.directions != [optuna.study.StudyDirection.MINIMIZE]:
        directions = ", ".join(d.name.lower() for d in study.directions)
        raise ValueError(f"{where(study)} has the direction(s) {directions}; tune minimises "
                         "the validation MSE and cannot continue it: use another study name "
                         "or storage")
    old = study.user_attrs.get(ATTR)
    if old is None:
        if study.trials:
            raise ValueError(f"{where(study)} was not created by txl_ts tune (it has "
                             f"{len(study.trials)} trials and no {ATTR!r} user attribute); "
                             "use another study name or storage")
        study.set_user_attr(ATTR, setting)
        return
    diff = sorted(k for k in setting if k in old and old[k] != setting[k])
    if diff:
        raise ValueError(
            f"{where(study)} was run with different {diff} "
            f"({ {k: old.get(k) for k in diff} } now { {k: setting[k] for k in diff} }); "
            "use another study_name or storage"
        )


def fail_stale(study: optuna.Study) -> None:
    """Fail the RUNNING trials whose worker stopped beating (killed hard), when the storage
    keeps heartbeats (otherwise it does nothing); Optuna does this too, but only before each
    new trial it starts, and a study whose trials all ran would never get to it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


class TrialInterrupted(BaseException):
    """Raised by `tune`'s objective when Ctrl-C or SIGTERM stops a fit. A BaseException
    that Optuna lets through unlogged (it would print the fit's traceback for a
    KeyboardInterrupt); `failing_on_interrupt` marks the trial FAIL and raises
    KeyboardInterrupt in its place."""


@contextmanager
def failing_on_interrupt(study: optuna.Study) -> Iterator[Callable[[optuna.trial.Trial], None]]:
    """Around `study.optimize`: yields `started(trial)`, which the objective calls first. On
    Ctrl-C (KeyboardInterrupt, or `TrialInterrupted` from the objective) or an exit, the
    trials started here that are still RUNNING are marked FAIL, with
    "interrupted" in their "error" user attribute, before the exception goes on; otherwise
    they would stay RUNNING in the storage for good. Lightning leaves SIGINT ignored after
    such an exit; its handler is restored."""
    started: list[optuna.trial.Trial] = []
    in_main = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if in_main else None
    try:
        yield started.append
    except (KeyboardInterrupt, SystemExit, TrialInterrupted) as err:
        running = optuna.trial.TrialState.RUNNING
        for trial in started:
            stored = study._storage.get_trial(trial._trial_id)
            if stored.state == running:
                if "error" not in stored.user_attrs:
                    trial.set_user_attr("error", f"interrupted ({type(err).__name__})")
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
        if isinstance(err, TrialInterrupted):
            raise KeyboardInterrupt(*err.args) from err
        raise
    finally:
        if in_main and handler is not None:
            signal.signal(signal.SIGINT, handler)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within: SIGTERM (`kill`, a batch system's stop) raises KeyboardInterrupt, so that the
    running trial is marked FAIL as on Ctrl-C. For the command line only: a library must not
    take over a process's signals. Does nothing outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def make_pruner(pruner: str | optuna.pruners.BasePruner) -> optuna.pruners.BasePruner:
    """The pruner named "median", "hyperband" or "none", or `pruner` itself."""
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    choices = {
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1),
        "none": optuna.pruners.NopPruner,
    }
    if pruner not in choices:
        raise ValueError(f"pruner must be one of {sorted(choices)} or an optuna pruner, "
                         f"got {pruner!r}")
    return choices[pruner]()


def jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """`params` as JSON values (numpy scalars as Python ones, other objects as text)."""
    return json.loads(json.dumps(params, default=lambda o: o.item() if hasattr(o, "item")
                                 else str(o)))


def describe(df: pd.DataFrame, horizon: int, n_fit: int, n_val: int,
             fixed: dict[str, Any]) -> dict[str, Any]:
    """What a study was run on (its `ATTR` user attribute): a resumed study must match."""
    values = np.ascontiguousarray(df.select_dtypes("number").to_numpy(dtype=np.float64))
    fixed = dict(fixed)
    if "trainer_kwargs" in fixed:  # callbacks are objects; the rest sets the training budget
        fixed["trainer_kwargs"] = {k: v for k, v in (fixed["trainer_kwargs"] or {}).items()
                                   if k != "callbacks"}
    return {
        "horizon": int(horizon),
        "n_fit_rows": int(n_fit),
        "n_val_rows": int(n_val),
        "columns": [str(c) for c in df.columns],
        "data_sha1": hashlib.sha1(values.tobytes()).hexdigest()[:12],
        "fixed_params": jsonable(fixed),
    }


def study_storage(storage: str | None, out_dir: Path | None) -> tuple[str | None, str]:
    """The Optuna storage for the `tune` command and a sentence saying where the study lives.

    Nothing is written unless asked for: without `--storage` the study is kept in memory, or,
    with `--out-dir`, in the SQLite file `out_dir/study.db` (a rerun resumes it).

    Parameters
    ----------
    storage : str or None
        `--storage`: an Optuna storage URL, "memory", or None.
    out_dir : pathlib.Path or None
        `--out-dir`, created if missing.

    Returns
    -------
    tuple of (str or None, str)
        The storage URL for `tune` (None: in memory) and the sentence.

    Raises
    ------
    ValueError
        When `out_dir` is an existing file or cannot be created.
    """
    if storage is not None and storage != "memory":
        return storage, (f"stored in {safe_url(storage)} (a rerun with the same --study-name "
                         "resumes it)")
    if storage is None and out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise ValueError(f"--out-dir {out_dir} is an existing file, not a directory")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"cannot create --out-dir {out_dir}: {err.strerror}") from err
        url = f"sqlite:///{(out_dir / 'study.db').resolve()}"
        return url, f"stored in {url} (a rerun with the same --out-dir resumes it)"
    return None, ("kept in memory only: nothing is written (pass --storage URL or --out-dir "
                  "DIR to keep and resume it)")
