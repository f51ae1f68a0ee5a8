"""The benchmark grid: every (data set, horizon, model, seed) task in worker processes, resumable.

    python -m txl_ts benchmark --dataset ETTh1,ETTh2 --horizon 96,192 \\
        --models naive,snaive,lstm --seeds 3 --jobs 4 --out-dir DIR

Each (data set, features, horizon, model) cell gets one report,
`DIR/<dataset>_<features>_<horizon>_<model>.json`, in the format of `run_benchmark`'s report
(`models: {name: entry}`). Every seed of a neural model is a task of its own; deterministic
models run once. A finished seed is kept in `DIR/.parts/` and the cell file is written when
all its seeds are done. Every file is written atomically (temp file + `os.replace`), so an
interrupted grid leaves only whole files, and rerunning the same command resumes it: finished
cells and seeds are skipped; failed, missing or unreadable ones run again (`--force` reruns
everything). A cell or seed finished under other settings (`--rows`, `--max-epochs`, the
model's parameters) does not count as finished, nor does one whose model had other
constructor parameters than the model would have now (a default changed since it ran).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import benchmark
from .benchmark import (
    STOCHASTIC,
    _json_safe,
    check_counts,
    check_data,
    data_options,
    dataset_label,
    group_params,
    load_protocol,
    machine_info,
    make_model,
    mark_capped,
    model_entry,
    model_params_from,
    report_header,
    run_one,
    write_json_atomic,
)

PARTS = ".parts"


@dataclass(frozen=True)
class Settings:
    """What every task of one grid shares."""

    features: str = "M"
    rows: int | None = None
    max_epochs: int | None = None
    txl_params: dict[str, Any] = field(default_factory=dict)
    model_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    accelerator: str = "auto"
    data: tuple[tuple[str, Any], ...] = ()  # load_protocol's CSV options (target, ...)

    def config(self, model: str) -> dict[str, Any]:
        """The settings that a finished result of `model` must match to be reused."""
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

    def cell(self, features: str) -> str:
        return f"{dataset_label(self.dataset)}_{features}_{self.horizon}_{self.model}"


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


def run_task(task: Task, settings: Settings) -> dict[str, Any]:
    """Fit and score one (data set, horizon, model, seed); a failure is returned, not raised."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    began = time.perf_counter()
    df, split = _protocol(task.dataset, settings.features, settings.rows, settings.data)
    row, error, params = run_one(
        task.model, df, split, task.horizon, task.seed, max_epochs=settings.max_epochs,
        txl_params=settings.txl_params, accelerator=settings.accelerator,
        model_params=settings.model_params)
    return _json_safe({
        "task": asdict(task), "config": settings.config(task.model), "row": row,
        "error": error, "params": params, "machine": machine_info(), "started_utc": started,
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": time.perf_counter() - began,
    })


# ---------------------------------------------------------------- main side


def _read_json(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None when it is missing or unreadable (then it is rerun)."""
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _expected_params(task: Task, settings: Settings) -> dict[str, Any] | None:
    """The constructor parameters `task` fits with today, without the seed; None for the
    naives, whose season comes from the data."""
    if task.model in ("naive", "snaive", "snaive-weekly"):
        return None
    model = make_model(task.model, task.horizon, task.seed, settings.max_epochs,
                       settings.txl_params, settings.accelerator, settings.model_params)
    return _without_seed(_json_safe(model.get_params(deep=False)))


# parameters that do not change a result: a finished cell is reused whatever their values
# (and cells written before `verbose` existed still match)
_NOT_COMPARED = ("random_state", "verbose")


def _without_seed(params: Any) -> Any:
    return ({k: v for k, v in params.items() if k not in _NOT_COMPARED}
            if isinstance(params, dict) else params)


def _cell_finished(report: dict[str, Any] | None, model: str, seeds: list[int | None],
                   config: dict[str, Any], expected: dict[str, Any] | None) -> bool:
    if report is None or report.get("grid_config") != config:
        return False
    entry = report.get("models", {}).get(model)
    return (isinstance(entry, dict) and not entry.get("errors") and entry.get("seeds") == seeds
            and len(entry.get("runs") or []) == len(seeds)
            and (expected is None or _without_seed(entry.get("params")) == expected))


def _part_path(out_dir: Path, cell: str, seed: int | None) -> Path:
    return out_dir / PARTS / f"{cell}_seed{'-' if seed is None else seed}.json"


def _part_ok(part: dict[str, Any] | None, config: dict[str, Any],
             expected: dict[str, Any] | None) -> bool:
    return (part is not None and part.get("config") == config and part.get("row") is not None
            and (expected is None or _without_seed(part.get("params")) == expected))


def cell_report(cell_tasks: list[Task], parts: dict[int | None, dict[str, Any]],
                settings: Settings) -> dict[str, Any]:
    """The report of one cell from its seeds' results (`run_benchmark`'s format)."""
    first = cell_tasks[0]
    df, split = _protocol(first.dataset, settings.features, settings.rows, settings.data)
    done = [parts[t.seed] for t in cell_tasks]
    report = report_header(first.dataset, first.horizon, settings.features, df, split,
                           settings.rows, settings.max_epochs, settings.txl_params,
                           settings.model_params, machine=done[0]["machine"])
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
        started_utc=min(p["started_utc"] for p in done),
        finished_utc=max(p["finished_utc"] for p in done),
        runtime_seconds=sum(p["seconds"] for p in done),
        load_average_1m_end=os.getloadavg()[0],
    )
    return _json_safe(report)


@dataclass
class GridResult:
    """Cell names by outcome; `interrupted` when Ctrl-C stopped the grid."""

    written: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    n_tasks: int = 0
    interrupted: bool = False


def run_grid(datasets: list[str], horizons: list[int], models: list[str], *, seeds: int,
             out_dir: Path, jobs: int = 1, force: bool = False,
             settings: Settings | None = None,
             log: Callable[[str], None] | None = None) -> GridResult:
    """Run every unfinished (data set, horizon, model, seed) task in `jobs` processes.

    With `jobs=1` the tasks run in this process (no thread settings are changed).
    """
    settings = settings or Settings()
    log = log or (lambda msg: tqdm.write(msg, file=sys.stderr))
    out_dir = Path(out_dir)
    result = GridResult()
    cells: dict[str, list[Task]] = {}
    parts: dict[str, dict[int | None, dict[str, Any]]] = {}
    todo: list[Task] = []
    for dataset in datasets:
        for horizon in horizons:
            for model in models:
                seed_list = list(range(seeds)) if model in STOCHASTIC else [None]
                tasks = [Task(dataset, horizon, model, s) for s in seed_list]
                cell, config = tasks[0].cell(settings.features), settings.config(model)
                expected = _expected_params(tasks[0], settings)
                if not force and _cell_finished(_read_json(out_dir / f"{cell}.json"), model,
                                                seed_list, config, expected):
                    result.skipped.append(cell)
                    continue
                cells[cell], parts[cell] = tasks, {}
                for task in tasks:
                    part = None if force else _read_json(_part_path(out_dir, cell, task.seed))
                    if _part_ok(part, config, expected):
                        parts[cell][task.seed] = part
                    else:
                        todo.append(task)
    result.n_tasks = len(todo)
    log(f"grid: {len(cells) + len(result.skipped)} cells, {len(result.skipped)} finished "
        f"already (skipped), {len(todo)} tasks to run with {min(jobs, len(todo) or 1)} "
        f"worker(s)")

    def write_cell(cell: str) -> None:
        report = cell_report(cells[cell], parts[cell], settings)
        write_json_atomic(out_dir / f"{cell}.json", report)
        entry = next(iter(report["models"].values()))
        (result.failed if entry["errors"] else result.written).append(cell)

    for cell in cells:  # every seed finished earlier: only the cell file was missing
        if len(parts[cell]) == len(cells[cell]):
            write_cell(cell)
    if not todo:
        return result

    bar = tqdm(total=len(todo), unit="task", desc="grid", file=sys.stderr, dynamic_ncols=True)
    counts = {"done": 0, "failed": 0}

    def finish(task: Task, out: dict[str, Any]) -> None:
        cell = task.cell(settings.features)
        if out["row"] is not None:
            write_json_atomic(_part_path(out_dir, cell, task.seed), out)
            row = out["row"]
            epochs = "" if row.get("epochs") is None else (
                f" epochs={row['epochs']}{' (early stop)' if row.get('stopped_early') else ''}")
            status = f"ok mse={row['mse']:.4f} mae={row['mae']:.4f}{epochs}"
            counts["done"] += 1
        else:
            status = f"FAILED {out['error']}"
            counts["failed"] += 1
        parts[cell][task.seed] = out
        log(f"{cell} seed={task.seed}: {status} ({out['seconds']:.0f}s)")
        bar.set_postfix(counts, refresh=False)
        bar.update()
        if len(parts[cell]) == len(cells[cell]):
            write_cell(cell)

    here = functools.cache(machine_info)  # for tasks whose worker died
    executor = None
    try:
        if jobs == 1:
            for task in todo:
                finish(task, run_task(task, settings))
        else:
            # The workers start with SIGINT ignored (a terminal's Ctrl-C reaches the whole
            # process group; a worker hit while importing would print a traceback).
            in_main = threading.current_thread() is threading.main_thread()
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
            try:
                executor = ProcessPoolExecutor(
                    max_workers=min(jobs, len(todo)), mp_context=get_context("spawn"),
                    initializer=_init_worker, initargs=(settings.accelerator, jobs))
                futures: dict[Future, Task] = {executor.submit(run_task, t, settings): t
                                               for t in todo}
            finally:
                if in_main:
                    signal.signal(signal.SIGINT, previous)
            for future in as_completed(futures):
                task = futures[future]
                try:
                    out = future.result()
                except Exception as err:  # noqa: BLE001 - e.g. a worker killed for memory
                    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
                    out = {"task": asdict(task), "row": None, "params": None, "seconds": 0.0,
                           "error": f"{type(err).__name__}: {err}", "machine": here(),
                           "started_utc": now, "finished_utc": now}
                finish(task, out)
    except KeyboardInterrupt:
        result.interrupted = True
        if executor is not None:
            # The workers ignore SIGINT; kill them so that running tasks do not hold the exit
            # (their results would be lost anyway; Lightning traps SIGTERM during a fit).
            # Python 3.11's executor has no public way to reach them.
            processes = list((getattr(executor, "_processes", None) or {}).values())
            executor.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.kill()
        log(f"interrupted: {bar.n} of {len(todo)} tasks finished and saved; rerun the same "
            f"command to resume")
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        bar.close()
    return result


def run_grid_cli(args: argparse.Namespace) -> int:
    """`python -m txl_ts benchmark ... --out-dir DIR`: 0 when every cell succeeded, 1 when a
    cell failed, 130 when interrupted."""
    settings = Settings(features=args.features, rows=args.rows, max_epochs=args.max_epochs,
                        txl_params=dict(args.txl_param), model_params=model_params_from(args),
                        accelerator=args.accelerator,
                        data=tuple(sorted(data_options(args).items())))
    result = run_grid(args.dataset, args.horizon, args.models, seeds=args.seeds,
                      out_dir=args.out_dir, jobs=args.jobs, force=args.force,
                      settings=settings)
    print(f"grid: {len(result.written)} cells written, {len(result.skipped)} skipped "
          f"(finished), {len(result.failed)} failed"
          + (f": {', '.join(result.failed)}" if result.failed else "")
          + (" (interrupted)" if result.interrupted else ""))
    if result.interrupted:
        return 130
    return 1 if result.failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `python -m txl_ts benchmark` (`txl_ts.benchmark.add_arguments`)."""
    benchmark.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """`python -m txl_ts benchmark`: the grid with `--out-dir`, otherwise one cell
    (`txl_ts.benchmark.run`). The command starts here, above both, so that the one-cell
    module never imports the grid."""
    if args.out_dir is None:
        return benchmark.run(args)
    check_counts(args)
    check_data(args)
    return run_grid_cli(args)
