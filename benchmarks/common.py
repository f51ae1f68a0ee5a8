"""Helpers the benchmark scripts share: machine description, timing, synthetic data, output."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """CPU model, core count, library versions, and the intra-op threads the run used."""
    from txl_ts.benchmark import machine_info

    return {**machine_info(), "torch_threads": torch.get_num_threads()}


def set_threads(n: int) -> None:
    """Fix torch's intra-op threads (1 by default: the 2 shared cores are noisy)."""
    torch.set_num_threads(n)


def sync(device: str | torch.device = "cpu") -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str | torch.device = "cpu") -> tuple[float, Any]:
    """Seconds one call of `fn` takes (device work included) and its result."""
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def synthetic_frame(n_rows: int, n_channels: int, seed: int = 0) -> pd.DataFrame:
    """An hourly multivariate series: daily and weekly cycles, a random walk and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n_channels)[None, :]
    values = (np.sin(2 * np.pi * t / 24 + phase) + 0.5 * np.sin(2 * np.pi * t / 168 + phase)
              + 0.05 * rng.standard_normal((n_rows, n_channels)).cumsum(0)
              + 0.2 * rng.standard_normal((n_rows, n_channels)))
    index = pd.date_range("2015-01-01", periods=n_rows, freq="h")
    return pd.DataFrame(values, index=index, columns=[f"x{i}" for i in range(n_channels)])


def halfhourly_load_frame(n_days: int = 84, seed: int = 1) -> pd.DataFrame:
    """Half-hourly demand: a daily shape, quieter weekends, a slow trend and AR(1) noise (the
    weekly pattern defeats "repeat yesterday"; "repeat last week" is the naive to beat)."""
    n = 48 * n_days
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    day = 2 * np.pi * (t % 48) / 48
    weekend = ((t // 48) % 7 >= 5).astype(float)
    noise = np.zeros(n)
    shocks = 0.15 * rng.normal(size=n)
    for i in range(1, n):  # weather-driven wander
        noise[i] = 0.97 * noise[i - 1] + shocks[i]
    shape = 12 * np.sin(day - 2) + 5 * np.sin(2 * day)
    load = 100 + 0.01 * t / 48 + (1 - 0.35 * weekend) * shape - 15 * weekend + noise
    return pd.DataFrame({"load": load},
                        index=pd.date_range("2024-01-01", periods=n, freq="30min"))


def write_json(out: Path, name: str, payload: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def new_figure(ncols: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(5.5 * ncols, 4), squeeze=False)
    return plt, fig, axes[0]
