"""The tasks of the benchmark grid (`txl_ts.grid`): the settings every task shares, one
(data set, horizon, model, seed) task as a worker process runs it, the data fingerprint its
result records, and the report of a cell from its seeds' results."""

from __future__ import annotations

import functools
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from .benchmark import (
    STOCHASTIC,
    _json_safe,
    dataset_label,
    group_params,
    load_protocol,
    machine_info,
    mark_capped,
    model_entry,
    model_roles,
    report_header,
    run_one,
)
from .grid_files import fingerprint, short_hash

ROLE_OPTIONS = ("past_covariates", "future_covariates", "calendar", "holidays")


@dataclass(frozen=True)
class Settings:
    """What every task of one grid shares.

    Attributes
    ----------
    features : str
        "M" (every column) or "S" (the target only).
    rows : int or None
        Truncate each data set to its first rows (a quick, capped run); None: all.
    max_epochs : int or None
        Cap the neural models' epochs (capped); None: their own budgets.
    txl_params, model_params : dict
        Constructor parameters of the TXL models and of each other model group.
    accelerator : str
        Lightning's accelerator for the neural models.
    data : tuple of (str, value) pairs
        `load_protocol`'s options: the CSV's (`target`, `time_col`, `val_size`) and the
        covariate roles (`past_covariates`, `future_covariates`, `calendar`, `holidays`),
        which every model gets (`protocol.model_roles`). They are part of `config`, of the
        data fingerprint and, for the roles, of the cell's file name (`tag`), so results
        with and without covariates never stand for one another.
    """

    features: str = "M"
    rows: int | None = None
    max_epochs: int | None = None
    txl_params: dict[str, Any] = field(default_factory=dict)
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    accelerator: str = "auto"
    data: tuple[tuple[str, Any], ...] = ()  # load_protocol's options (target, roles, ...)

    @property
    def roles(self) -> dict[str, Any]:
        """The covariate options among `data` ({} without covariates)."""
        return {k: v for k, v in self.data if k in ROLE_OPTIONS and v is not None}

    @property
    def tag(self) -> str:
        """The cell-name suffix of a grid with covariates ("_cov-<hash of the roles>"; ""
        without), so that such cells do not overwrite those without in one folder."""
        return f"_cov-{short_hash(_json_safe(self.roles))}" if self.roles else ""

    def model_roles(self, df) -> dict[str, Any]:
        """The role parameters of every model on `df`, this grid's protocol frame."""
        return model_roles(df, dict(self.data))

    def config(self, model: str) -> dict[str, Any]:
        """The settings that a finished result of `model` must match to be reused.

        Parameters
        ----------
        model : str
            A model name of the grid.

        Returns
        -------
        dict
            Features, rows, the model's parameter group, the epochs cap (stochastic models
            only) and the CSV options when any are set.
        """
        params = group_params(model, self.txl_params, self.model_params)
        config = {"features": self.features, "rows": self.rows, "params": params,
                  "max_epochs": self.max_epochs if model in STOCHASTIC else None}
        if self.data:  # absent otherwise, so cells written before these options still match
            config["data"] = dict(self.data)
        return _json_safe(config)


@dataclass(frozen=True)
class Task:
    dataset: str
    horizon: int
    model: str
    seed: int | None

    def cell(self, features: str, tag: str = "") -> str:
        """The cell's name: `<dataset>_<features>_<horizon>_<model><tag>` (`Settings.tag`)."""
        return f"{dataset_label(self.dataset)}_{features}_{self.horizon}_{self.model}{tag}"


# ---------------------------------------------------------------- worker side


def _init_worker(accelerator: str, jobs: int) -> None:
    """Torch threads per worker by the library's rule (`txl_ts.threads.worker_threads`: one
    per worker on a CPU, unless the user chose). Ctrl-C is the main process's job, which
    cancels the pending tasks and stops the workers."""
    import torch

    from .threads import worker_threads

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    n = worker_threads(accelerator, jobs)
    if n is not None:
        torch.set_num_threads(n)


@functools.lru_cache(maxsize=4)
def _protocol(dataset: str, features: str, rows: int | None,
              data: tuple[tuple[str, Any], ...] = ()):
    return load_protocol(dataset, features, rows, **dict(data))


def _fingerprint(df, data: tuple[tuple[str, Any], ...]) -> str:
    """The frame's fingerprint, with the covariate roles folded in when there are any (the
    calendar and holidays change what the models see without changing the frame)."""
    roles = Settings(data=data).roles
    return fingerprint(df, _json_safe(roles) if roles else None)


@functools.lru_cache(maxsize=16)
def _data_fingerprint(dataset: str, features: str, rows: int | None,
                      data: tuple[tuple[str, Any], ...]) -> str:
    return _fingerprint(_protocol(dataset, features, rows, data)[0], data)


def data_fingerprint(dataset: str, settings: Settings) -> str:
    """The `fingerprint` of `dataset` as the grid's cells use it under `settings`.

    Parameters
    ----------
    dataset : str
        A bundled data set's name or a CSV path.
    settings : Settings
        The grid's settings (`features`, `rows` and the CSV options select the frame).

    Returns
    -------
    str
        The fingerprint that the grid's cell reports and seed files record.
    """
    return _data_fingerprint(dataset, settings.features, settings.rows, settings.data)


def run_task(task: Task, settings: Settings, protocol: tuple | None = None) -> dict[str, Any]:
    """Fit and score one (data set, horizon, model, seed); a failure is returned, not raised.

    Parameters
    ----------
    task : Task
        What to run.
    settings : Settings
        The grid's shared settings.
    protocol : tuple of (pandas.DataFrame, Split) or None, default None
        The data set's frame and split as `load_protocol` gives them under `settings`;
        None loads them here. A Dask worker gets them from the main process, as it may not
        see the CSV file (`txl_ts.grid_dask`).

    Returns
    -------
    dict
        The seed file's content: the task, the settings it must match to be reused, the
        data fingerprint, the scores (`row`, None on failure), the error, the model's
        parameters, the machine and the times.
    """
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    began = time.perf_counter()
    df, split = protocol or _protocol(task.dataset, settings.features, settings.rows,
                                      settings.data)
    row, error, params = run_one(
        task.model, df, split, task.horizon, task.seed, max_epochs=settings.max_epochs,
        txl_params=settings.txl_params, accelerator=settings.accelerator,
        model_params=settings.model_params, roles=settings.model_roles(df))
    return _json_safe({
        "task": asdict(task), "config": settings.config(task.model),
        "data_fingerprint": _fingerprint(df, settings.data), "row": row,
        "error": error, "params": params, "machine": machine_info(), "started_utc": started,
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - began,
    })


def lost_task(task: Task, err: BaseException, machine: dict[str, Any]) -> dict[str, Any]:
    """The result of a task that never returned one (its worker died, was killed for memory,
    or the cluster lost it): a failure, so that the cell is written and reruns next time.

    Parameters
    ----------
    task : Task
        The task.
    err : BaseException
        What its future raised.
    machine : dict
        `machine_info()` of the main process (the worker's is gone).

    Returns
    -------
    dict
        A seed result of `run_task`'s shape with `row` None.
    """
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"task": asdict(task), "row": None, "params": None, "seconds": 0.0,
            "error": f"{type(err).__name__}: {err}", "machine": machine,
            "started_utc": now, "finished_utc": now}


def _cell_fingerprint(done: list[dict[str, Any]], dataset: str, settings: Settings) -> str:
    """The data the seeds were computed on: "mixed" (never current, so the cell reruns)
    when the file changed between them; today's when no seed recorded one."""
    seen = {p["data_fingerprint"] for p in done if p.get("data_fingerprint") is not None}
    if len(seen) > 1:
        return "mixed"
    return seen.pop() if seen else data_fingerprint(dataset, settings)


def cell_report(cell_tasks: list[Task], parts: dict[int | None, dict[str, Any]],
                settings: Settings) -> dict[str, Any]:
    """The report of one cell from its seeds' results (`run_benchmark`'s format).

    Parameters
    ----------
    cell_tasks : list of Task
        The cell's tasks, one per seed.
    parts : dict
        Each seed's `run_task` result, by seed.
    settings : Settings
        The grid's shared settings.

    Returns
    -------
    dict
        The report, with the grid's `grid_config` and `data_fingerprint`, which a rerun
        compares to decide whether the cell is finished.
    """
    first = cell_tasks[0]
    df, split = _protocol(first.dataset, settings.features, settings.rows, settings.data)
    done = [parts[t.seed] for t in cell_tasks]
    report = report_header(first.dataset, first.horizon, settings.features, df, split,
                           settings.rows, settings.max_epochs, settings.txl_params,
                           settings.model_params, machine=done[0]["machine"],
                           roles=settings.model_roles(df))
    runs, errors, params = [], [], None
    for part in done:
        params = part["params"] or params
        if part["row"] is None:
            errors.append({"seed": part["task"]["seed"], "error": part["error"]})
            continue
        machine = part["machine"]
        runs.append({**part["row"], "machine": machine.get("gpu") or machine.get("cpu")})
    report["models"][first.model] = model_entry([t.seed for t in cell_tasks], runs, errors,
                                                params)
    if runs:
        report["n_windows"] = runs[0]["n_windows"]
    mark_capped(report, settings.rows)
    report.update(
        grid_config=settings.config(first.model),
        data_fingerprint=_cell_fingerprint(done, first.dataset, settings),
        started_utc=min(p["started_utc"] for p in done),
        finished_utc=max(p["finished_utc"] for p in done),
        runtime_seconds=sum(p["seconds"] for p in done),
        load_average_1m_end=os.getloadavg()[0],
    )
    return _json_safe(report)
