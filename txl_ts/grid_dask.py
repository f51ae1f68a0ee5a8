"""The benchmark grid's tasks on a Dask cluster: `run_grid(..., scheduler=...)`, or
`python -m txl_ts benchmark ... --out-dir DIR --scheduler tcp://HOST:PORT`.

It needs `dask.distributed` (`pip install "txl-ts[dask]"`), imported only when a scheduler
is given. Every task of the grid is submitted to the cluster; everything else stays in the
main process, as with `--jobs`: which cells are finished, the data fingerprints, the
progress bar and every file. A worker returns the task's result (`run_task`'s seed result)
and the main process writes it, so the workers need no shared file system and resuming
works as with local workers. For the same reason the main process loads each data set once
and sends its frame to the cluster (`Client.scatter`): a worker never reads the CSV, and
fits exactly the data whose fingerprint the main process checked.

Each task runs as it does in a local worker process: the same seed, and torch threads by the
library's rule (`txl_ts.threads.worker_threads`, counting the Dask workers on the worker's
host). A Dask worker process with several threads runs this grid's tasks one at a time:
seeding and torch's thread count are global to a process, so two tasks side by side in one
process would neither be reproducible nor keep to one thread each. Start workers with
`--nthreads 1` and as many `--nworkers` as cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .grid_tasks import Settings, Task, _protocol, lost_task, run_task

EXTRA = "txl-ts[dask]"


def require() -> Any:
    """The `distributed` package, or a one-line error naming the extra that installs it.

    Returns
    -------
    module
        `distributed`.

    Raises
    ------
    ModuleNotFoundError
        When `distributed` is not installed.
    """
    try:
        import distributed
    except ImportError as err:
        raise ModuleNotFoundError(
            "running the grid on a Dask cluster (--scheduler) needs the package "
            f"'distributed', which is not installed here; install it with: "
            f"pip install \"{EXTRA}\"", name="distributed") from err
    return distributed


@dataclass
class Cluster:
    """A client of the cluster that runs the grid's tasks; `owned` when the grid opened it
    (and so closes it), not when the caller passed their own `distributed.Client`."""

    client: Any
    owned: bool

    def describe(self) -> str:
        """Where the tasks run, for the grid's first line: the address and the workers."""
        n = len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        return f"the Dask cluster at {self.client.scheduler.address} ({n} worker(s) now)"

    def close(self) -> None:
        """Close the client when the grid opened it; a caller's client stays open."""
        if self.owned:
            self.client.close()


def connect(scheduler: Any) -> Cluster:
    """A client of `scheduler`: a scheduler address, a `distributed.Client` or a cluster
    object (`distributed.LocalCluster`, anything with `scheduler_address`).

    Parameters
    ----------
    scheduler : str, distributed.Client or cluster
        "tcp://HOST:PORT" (as `dask scheduler` prints it), a client, or a cluster.

    Returns
    -------
    Cluster
        The client, and whether the grid owns it.

    Raises
    ------
    ModuleNotFoundError
        Without `distributed` (see `require`).
    ConnectionError
        When no scheduler answers at the address within Dask's connect timeout
        (`distributed.comm.timeouts.connect`, 30 s unless configured).
    ValueError
        When `scheduler` is not an address Dask understands.
    TypeError
        When `scheduler` is neither an address, a client nor a cluster.
    """
    distributed = require()
    if isinstance(scheduler, distributed.Client):
        return Cluster(scheduler, owned=False)
    address = getattr(scheduler, "scheduler_address", scheduler)
    if not isinstance(address, str):
        raise TypeError(f"scheduler must be an address, a distributed.Client or a cluster, "
                        f"got {type(scheduler).__name__}")
    _check_address(address)
    try:
        # not the default client: the caller's own Dask work keeps whatever client it had
        client = distributed.Client(address, set_as_default=False)
    except (OSError, TimeoutError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ConnectionError(
            f"cannot reach the Dask scheduler at {address} ({reason}); start one with "
            f"`dask scheduler` and workers with `dask worker {address}`, or check the "
            "address") from err
    return Cluster(client, owned=True)


def _check_address(address: str) -> None:
    """A ValueError for an address that names no scheduler (a missing port, an unknown
    scheme). Checked before `Client` is made: a client that fails on such an address keeps
    its event loop busy, and the interpreter then waits 60 s at exit to close it."""
    from distributed.comm import get_address_host_port, parse_address
    from distributed.comm.registry import get_backend

    try:
        scheme, _ = parse_address(address)
        get_backend(scheme)  # an unknown scheme
        if scheme in ("tcp", "tls", "ws", "wss"):
            get_address_host_port(address)  # a missing port
    except ValueError as err:
        raise ValueError(f"{address!r} is not a Dask scheduler address (like "
                         f"tcp://HOST:8786): {' '.join(str(err).split())}") from err


def _workers_per_host(client: Any) -> dict[str, int]:
    """How many Dask workers each host has now (for the thread count on a GPU host)."""
    from distributed.comm import get_address_host

    counts: dict[str, int] = {}
    for address in client.scheduler_info(n_workers=-1).get("workers", {}):
        host = get_address_host(address)
        counts[host] = counts.get(host, 0) + 1
    return counts


# One task at a time in a worker process, whatever its --nthreads (see the module docstring)
_ONE_TASK_AT_A_TIME = threading.Lock()


def _set_threads(accelerator: str, per_host: dict[str, int]) -> None:
    """Torch threads for this worker process as `_init_worker` sets them for a local one.

    Set before every task rather than once per worker: workers that join the cluster later
    get it too, and nothing has to be registered on the cluster."""
    import torch
    from distributed import get_worker
    from distributed.comm import get_address_host

    from .threads import worker_threads

    try:
        jobs = per_host.get(get_address_host(get_worker().address), 1)
    except ValueError:  # not inside a worker (a client that runs the task itself)
        jobs = 1
    n = worker_threads(accelerator, jobs)
    if n is not None and n != torch.get_num_threads():
        torch.set_num_threads(n)


def _run_on_worker(task: Task, settings: Settings, protocol: tuple,
                   per_host: dict[str, int]) -> dict[str, Any]:
    """`run_task` in a Dask worker: one at a time, with the grid's thread rule."""
    with _ONE_TASK_AT_A_TIME:
        _set_threads(settings.accelerator, per_host)
        return run_task(task, settings, protocol)


def run_tasks(cluster: Cluster, todo: list[Task], settings: Settings,
              finish: Callable[[Task, dict[str, Any]], None],
              machine: Callable[[], dict[str, Any]]) -> None:
    """Run `todo` on the cluster and pass each result to `finish` as it arrives.

    Parameters
    ----------
    cluster : Cluster
        The client (`connect`).
    todo : list of Task
        The tasks to run.
    settings : Settings
        The grid's shared settings.
    finish : callable
        Called in this process with (task, seed result) for every task, in the order they
        finish; it writes the files and moves the progress bar.
    machine : callable
        `machine_info` of this process, for a task whose worker died.

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C, after cancelling the tasks that have not finished (re-raised).
    """
    distributed = require()
    client = cluster.client
    # the frames go to the cluster once per data set, not once per task
    frames = {}
    for dataset in dict.fromkeys(t.dataset for t in todo):
        protocol = _protocol(dataset, settings.features, settings.rows, settings.data)
        frames[dataset] = client.scatter([protocol], hash=False)[0]
    per_host = _workers_per_host(client)
    futures = {client.submit(_run_on_worker, task, settings, frames[task.dataset], per_host,
                             pure=False): task for task in todo}
    try:
        for future in distributed.as_completed(futures, loop=client.loop):
            task = futures[future]
            try:
                out = future.result()
            except Exception as err:  # noqa: BLE001 - e.g. KilledWorker: a failed seed
                out = lost_task(task, err, machine())
            finish(task, out)
    except BaseException:
        # Ctrl-C or a file that could not be written: what is still queued would be lost
        client.cancel(list(futures))
        raise
    finally:
        client.cancel(list(frames.values()))
