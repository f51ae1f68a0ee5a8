"""The benchmark grid: every (data set, horizon, model, seed) task in worker processes, resumable.

    python -m txl_ts benchmark --dataset ETTh1,ETTh2 --horizon 96,192 \\
        --models naive,snaive,lstm --seeds 3 --jobs 4 --out-dir DIR

Each (data set, features, horizon, model) cell gets one report,
`DIR/<dataset>_<features>_<horizon>_<model>.json`, in the format of `run_benchmark`'s report
(with covariate roles, `..._<model>_cov-<hash of the roles>.json`: `Settings.tag`)
(`models: {name: entry}`). Every seed of a neural model is a task of its own; deterministic
models run once. A finished seed is kept in `DIR/.parts/` and the cell file is written when
all its seeds are done. Every file is written atomically (temp file + `os.replace`), so an
interrupted grid leaves only whole files, and rerunning the same command resumes it: finished
cells and seeds are skipped; failed, missing or unreadable ones run again (`--force` reruns
everything). A cell or seed finished under other settings (`--rows`, `--max-epochs`, the
model's parameters) does not count as finished, nor does one whose model had other
constructor parameters than the model would have now (a default changed since it ran).
The covariate roles are part of those settings, of the parameters and of the fingerprint
below, so a result with covariates never passes for one without, nor the other way round.

Every cell report and seed file records `data_fingerprint`, a hash of the frame the cell
fits and scores (values, index and columns after `--rows`, `--features` and `--target`). A
result whose fingerprint differs from the data's today is stale and runs again, with a line
saying so. Results written before fingerprints existed carry none and are accepted when
everything else matches (the committed `results/` were computed on the bundled data, which
has not changed). A cell or seed file that is not JSON or not of the grid's shape is moved
aside to `NAME.malformed-<UTC time>` with a warning and runs again.

With `--scheduler tcp://HOST:PORT` (`run_grid(..., scheduler=...)`) the tasks run on a Dask
cluster instead of local processes (`txl_ts.grid_dask`); the results come back here and
this process writes every file, so all of the above holds there too.

The tasks themselves (settings, one task in a worker, a cell's report) live in
`txl_ts.grid_tasks` and the grid's files (their shape, reading them, fingerprints) in
`txl_ts.grid_files`; this module schedules them and resumes.
"""

from __future__ import annotations

import argparse
import functools
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import benchmark, grid_dask
from .benchmark import (
    STOCHASTIC,
    _json_safe,
    check_counts,
    check_data,
    data_options,
    machine_info,
    make_model,
    model_params_from,
    write_json_atomic,
)
from .grid_files import (  # noqa: F401 - fingerprint re-exported
    _data_changed,
    _output_dir,
    _part_problem,
    _read_json,
    _report_problem,
    fingerprint,
)
from .grid_tasks import (  # noqa: F401 - re-exported: txl_ts.grid's public names
    Settings,
    Task,
    _data_fingerprint,
    _init_worker,
    _protocol,
    cell_report,
    data_fingerprint,
    lost_task,
    run_task,
)

PARTS = ".parts"


# ---------------------------------------------------------------- main side


def _expected_params(task: Task, settings: Settings) -> dict[str, Any] | None:
    """The constructor parameters `task` fits with today, without the seed; None for the
    naives, whose season comes from the data."""
    if task.model in ("naive", "snaive", "snaive-weekly"):
        return None
    roles = settings.model_roles(
        _protocol(task.dataset, settings.features, settings.rows, settings.data)[0]
    ) if settings.roles else None
    model = make_model(task.model, task.horizon, task.seed, settings.max_epochs,
                       settings.txl_params, settings.accelerator, settings.model_params,
                       roles=roles)
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
             log: Callable[[str], None] | None = None,
             scheduler: Any = None) -> GridResult:
    """Run every unfinished (data set, horizon, model, seed) task in `jobs` processes, or on
    a Dask cluster (`scheduler`).

    A cell is finished, and skipped, when its report in `out_dir` matches today's settings,
    model parameters and data fingerprint (see the module's docstring); a finished seed of an
    unfinished cell is reused from `out_dir/.parts`. A cell whose data changed is rerun with a
    line in `log`; a malformed file is moved aside with a warning and rerun.

    Parameters
    ----------
    datasets : list of str
        Bundled data set names or CSV paths.
    horizons : list of int
        Forecast horizons.
    models : list of str
        Model names of `txl_ts.benchmark.MODELS`.
    seeds : int
        Seeds 0..seeds-1 for each stochastic model (one task each); the deterministic
        models run once whatever it is.
    out_dir : pathlib.Path or str
        The grid's folder, created if missing; reuse it to resume.
    jobs : int, default 1
        Worker processes. 1 runs the tasks in this process (no thread settings are
        changed); more spawn workers with one torch thread each on a CPU.
    force : bool, default False
        Rerun every cell, even finished ones (their files are overwritten).
    settings : Settings or None, default None
        What every task shares (features, rows, epochs cap, model parameters, accelerator,
        CSV options); None: `Settings()`, the full protocol.
    log : callable or None, default None
        Receives one line per finished task, stale cell and malformed file; None writes
        them to stderr above the progress bar.
    scheduler : str, distributed.Client, cluster or None, default None
        Run the tasks on this Dask cluster instead (`txl_ts.grid_dask`; needs
        `distributed`): a scheduler's address ("tcp://HOST:8786"), a client (left open)
        or a cluster object. The results come back to this process, which writes every
        file, so resuming, fingerprints and the progress bar work as with `jobs`.

    Returns
    -------
    GridResult
        The cells written, failed and skipped, the number of tasks run, and whether Ctrl-C
        interrupted the grid (every task finished before it is saved; rerun to resume).

    Raises
    ------
    ValueError
        When `out_dir` is an existing file or cannot be created, a data set cannot be
        loaded (the message names the file and the column), or both `jobs` > 1 and
        `scheduler` are given.
    ModuleNotFoundError
        With `scheduler` where `distributed` is not installed.
    ConnectionError
        When no Dask scheduler answers at `scheduler`.
    """
    if scheduler is not None:
        if jobs != 1:
            raise ValueError("give --jobs or --scheduler, not both: on a Dask cluster its "
                             "workers decide how many tasks run at once")
        grid_dask.require()  # before any data is loaded
    settings = settings or Settings()
    log = log or (lambda msg: tqdm.write(msg, file=sys.stderr))
    out_dir = _output_dir(out_dir)
    # a CSV may have changed since an earlier grid of this process read it
    _protocol.cache_clear()
    _data_fingerprint.cache_clear()
    result = GridResult()
    cells: dict[str, list[Task]] = {}
    parts: dict[str, dict[int | None, dict[str, Any]]] = {}
    todo: list[Task] = []
    for dataset in datasets:
        data = data_fingerprint(dataset, settings)
        for horizon in horizons:
            for model in models:
                seed_list = list(range(seeds)) if model in STOCHASTIC else [None]
                tasks = [Task(dataset, horizon, model, s) for s in seed_list]
                cell = tasks[0].cell(settings.features, settings.tag)
                config = settings.config(model)
                expected = _expected_params(tasks[0], settings)
                report = None if force else _read_json(out_dir / f"{cell}.json",
                                                       _report_problem, model, log)
                changed = _data_changed(report, data)
                if not changed and _cell_finished(report, model, seed_list, config, expected):
                    result.skipped.append(cell)
                    continue
                cells[cell], parts[cell] = tasks, {}
                for task in tasks:
                    part = None if force else _read_json(_part_path(out_dir, cell, task.seed),
                                                         _part_problem, model, log)
                    if _data_changed(part, data):
                        changed, part = True, None
                    if _part_ok(part, config, expected):
                        parts[cell][task.seed] = part
                    else:
                        todo.append(task)
                if changed:
                    log(f"{cell}: data changed since the cell was written; rerunning")
    result.n_tasks = len(todo)
    # connect only when there is work: a finished grid resumes without its cluster
    cluster = grid_dask.connect(scheduler) if scheduler is not None and todo else None
    try:
        where = (f" on {cluster.describe()}" if cluster is not None
                 else f" with {min(jobs, len(todo))} worker(s)" if todo else "")
        log(f"grid: {len(cells) + len(result.skipped)} cells, {len(result.skipped)} "
            f"finished already (skipped), {len(todo)} tasks to run{where}")
        return _run_tasks(todo, cells, parts, result, out_dir, jobs, settings, log, cluster)
    finally:
        if cluster is not None:
            cluster.close()


def _run_tasks(todo: list[Task], cells: dict[str, list[Task]],
               parts: dict[str, dict[int | None, dict[str, Any]]], result: GridResult,
               out_dir: Path, jobs: int, settings: Settings, log: Callable[[str], None],
               cluster: grid_dask.Cluster | None) -> GridResult:
    """`run_grid` after the resume check: write the cells whose seeds are all kept, run
    `todo` (here, in `jobs` processes or on `cluster`) and write each cell when its last
    seed finishes."""

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
        cell = task.cell(settings.features, settings.tag)
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
        if cluster is not None:
            grid_dask.run_tasks(cluster, todo, settings, finish, here)
        elif jobs == 1:
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
                    out = lost_task(task, err, here())
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
    """`python -m txl_ts benchmark ... --out-dir DIR`: run the grid and print its summary.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed `benchmark` options (`txl_ts.cli.add_benchmark_arguments`).

    Returns
    -------
    int
        0 when every cell succeeded, 1 when a cell failed, 130 when interrupted.
    """
    settings = Settings(features=args.features, rows=args.rows, max_epochs=args.max_epochs,
                        txl_params=dict(args.txl_param), model_params=model_params_from(args),
                        accelerator=args.accelerator,
                        data=tuple(sorted(data_options(args).items())))
    result = run_grid(args.dataset, args.horizon, args.models, seeds=args.seeds,
                      out_dir=args.out_dir, jobs=args.jobs, force=args.force,
                      settings=settings, scheduler=getattr(args, "scheduler", None))
    print(f"grid: {len(result.written)} cells written, {len(result.skipped)} skipped "
          f"(finished), {len(result.failed)} failed"
          + (f": {', '.join(result.failed)}" if result.failed else "")
          + (" (interrupted)" if result.interrupted else ""))
    if result.interrupted:
        return 130
    return 1 if result.failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `python -m txl_ts benchmark` (`txl_ts.benchmark.add_arguments`).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.
    """
    benchmark.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """`python -m txl_ts benchmark`: the grid with `--out-dir`, otherwise one cell; a long
    CSV (`--id-col`) runs `txl_ts.benchmark_long`.

    The command starts here, above both, so that the one-cell module (`txl_ts.benchmark`)
    never imports the grid. Every data set is loaded first, so a bad CSV fails before any
    model runs.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed `benchmark` options.

    Returns
    -------
    int
        The exit status (see `run_grid_cli` and `txl_ts.benchmark.run`).

    Raises
    ------
    ValueError
        On a bad data set, `--target` or `--out-dir` (one line on the command line).
    """
    if getattr(args, "id_col", None) is not None:  # a long CSV: its own module
        from . import benchmark_long

        return benchmark_long.run(args)
    if args.out_dir is None:
        return benchmark.run(args)
    check_counts(args)
    check_data(args)
    return run_grid_cli(args)
