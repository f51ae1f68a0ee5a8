"""How many torch intra-op threads the library's own calls use.

The models here are small: one training step is thousands of tiny kernels, so extra OpenMP
threads add synchronisation, not speed. On a 2-core machine beside one busy process, torch's
default (one thread per physical core, 2) made a small default fit + predict 11.7x slower than
one thread for TXLForecaster and 7.7x for DLinearForecaster (`benchmarks/threads.py`,
`benchmarks/results/threads.json`). So `fit`, `predict`, `rolling_forecasts`, `update` (and
so `backtest`, which calls them) run with `LIBRARY_THREADS` (one) intra-op thread and give
the caller's setting back afterwards.

An explicit choice wins, in this order:

1. ``TXL_TS_NUM_THREADS=N`` in the environment: the library's calls use N threads
   (``TXL_TS_NUM_THREADS=0`` leaves torch's setting alone);
2. ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` in the environment: torch already applied it at
   import, and the library changes nothing;
3. ``torch.set_num_threads(n)`` called by the user, detected as a current count that differs
   from torch's own default: the library changes nothing.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

ENV_VAR = "TXL_TS_NUM_THREADS"
STANDARD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
LIBRARY_THREADS = 1  # intra-op threads for models of this size (see the module docstring)

F = TypeVar("F", bound=Callable[..., Any])


def _physical_cores() -> int:
    """Physical cores as torch counts them for its default (logical CPUs if unknown)."""
    try:
        with open("/proc/cpuinfo") as f:
            pairs, phys = set(), None
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    phys = value.strip()
                elif key == "core id":
                    pairs.add((phys, value.strip()))
        if pairs:
            return len(pairs)
    except OSError:
        pass
    return os.cpu_count() or 1


def _torch_default() -> int:
    """torch's own intra-op thread count in a fresh process: read directly when this module is
    the one importing torch, otherwise derived the way torch derives it (physical cores)."""
    fresh = "torch" not in sys.modules
    import torch

    return torch.get_num_threads() if fresh else _physical_cores()


# torch's default at import, before the user could change it (when torch was imported first
# by someone else, the same rule torch follows); tests may replace it
TORCH_DEFAULT_THREADS = _torch_default()


def _env_threads() -> int | None:
    """The count from TXL_TS_NUM_THREADS (None when unset); ValueError when malformed."""
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return None
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise ValueError(f"{ENV_VAR} must be a non-negative integer, got {text!r}")
    return n


def chosen_threads() -> int | None:
    """The intra-op thread count the library's calls should use now.

    Returns
    -------
    int or None
        The count to set for the call, or None to leave torch's current setting alone
        (an explicit user choice: see the module docstring).

    Raises
    ------
    ValueError
        When TXL_TS_NUM_THREADS is not a non-negative integer.
    """
    import torch

    env = _env_threads()
    if env is not None:
        return env or None
    if any(os.environ.get(name, "").strip() for name in STANDARD_ENV_VARS):
        return None
    if torch.get_num_threads() != TORCH_DEFAULT_THREADS:
        return None  # the caller set it (or we are inside one of our own calls)
    return LIBRARY_THREADS


@contextmanager
def torch_threads(n: int | None = -1) -> Iterator[None]:
    """Run the body with `n` torch intra-op threads and restore the caller's count after.

    Parameters
    ----------
    n : int or None, default -1
        Threads to use; -1 means the library's choice (`chosen_threads`), None leaves the
        setting alone.

    Yields
    ------
    None

    Raises
    ------
    ValueError
        When TXL_TS_NUM_THREADS is malformed (only when `n` is -1).
    """
    import torch

    want = chosen_threads() if n == -1 else n
    before = torch.get_num_threads()
    if want is None or want == before:
        yield
        return
    torch.set_num_threads(want)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def with_torch_threads(method: F) -> F:
    """Decorator: run `method` inside `torch_threads()` (the library's thread choice).

    Parameters
    ----------
    method : callable
        The function or method to wrap.

    Returns
    -------
    callable
        The wrapped function, with the same signature and docstring.
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with torch_threads():
            return method(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def worker_threads(accelerator: str, jobs: int) -> int | None:
    """The intra-op thread count for one of `jobs` grid worker processes.

    Parameters
    ----------
    accelerator : str
        The models' accelerator ("cpu", "gpu", "auto", ...).
    jobs : int
        Worker processes sharing this machine.

    Returns
    -------
    int or None
        TXL_TS_NUM_THREADS when set (None for 0), None when OMP_NUM_THREADS or
        MKL_NUM_THREADS is set (already applied by torch); otherwise one thread per worker on
        a CPU (N workers share N cores), and the CPU cores split between the workers when
        they share a GPU.

    Raises
    ------
    ValueError
        When TXL_TS_NUM_THREADS is malformed.
    """
    import torch

    env = _env_threads()
    if env is not None:
        return env or None
    if any(os.environ.get(name, "").strip() for name in STANDARD_ENV_VARS):
        return None
    if accelerator == "cpu" or not torch.cuda.is_available():
        return LIBRARY_THREADS
    return max(1, (os.cpu_count() or 1) // max(1, jobs))
