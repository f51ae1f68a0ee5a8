"""The PatchTST peer: NeuralForecast's PatchTST on the benchmark protocol, as a report that
sits beside ours.

NeuralForecast is not a dependency of txl_ts. Install it into a separate environment
together with this package, then run the script there:

    python -m venv peer && peer/bin/pip install torch neuralforecast==3.3.0 -e .
    OMP_NUM_THREADS=1 peer/bin/python -m benchmarks.patchtst_peer --dataset ETTh1 --horizon 96

Protocol, the same as `python -m txl_ts benchmark`: the split of `load_protocol` (ETT
12/4/4 months, 70/10/20 for WTH and CSV files), a StandardScaler fitted on the training rows
only, and MSE / MAE on the scaled values over every stride-1 test window, all columns and
horizon steps. Each column is one series (PatchTST is channel-independent). The model runs
at NeuralForecast's defaults (MAE loss, patch 16 / stride 8, RevIN) with a 336-row input,
at most 1,000 steps, and early stopping on the validation rows (checked every 50 steps,
patience 5), as the peer in `shared/reference/published_results.md` was measured.
The report (`<dataset>_<features>_<horizon>_patchtst-nf.json`) has the benchmark's layout,
so docs/benchmarks.md can place it beside the library's models; it is rewritten after every seed.

NeuralForecast imports ray for its Auto* hyper-parameter search classes, which the peer never
uses. On a machine without ray (the GPU machine the reports in benchmarks/results/peer came
from), `--without-ray` puts an inert stand-in module in its place before the import.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS
from txl_ts.benchmark import (
    dataset_label,
    load_protocol,
    machine_info,
    model_entry,
    report_header,
    write_json_atomic,
)

NAME = "patchtst-nf"
PEER = dict(input_size=336, max_steps=1000, val_check_steps=50, early_stop_patience_steps=5)


def stand_in_for_ray() -> None:
    """Let `import ray` and `from ray.x.y import Z` succeed with inert objects. For
    neuralforecast's Auto* classes only, which the peer never calls."""
    import importlib.abc
    import importlib.machinery
    import types

    class Inert:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def __call__(self, *args: Any, **kwargs: Any) -> Inert:
            return Inert()

        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            return Inert()

        def __mro_entries__(self, bases: tuple) -> tuple:
            return (object,)  # a class that subclasses a ray class subclasses object

    class Module(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            return Inert()

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            if name == "ray" or name.startswith("ray."):
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
            return None

        def create_module(self, spec):
            module = Module(spec.name)
            module.__path__ = []
            return module

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, Finder())


def long_frame(scaled: pd.DataFrame) -> pd.DataFrame:
    """NeuralForecast's long layout: one series (`unique_id`) per column."""
    stamps = scaled.index.tz_localize(None) if scaled.index.tz is not None else scaled.index
    return pd.concat([pd.DataFrame({"unique_id": col, "ds": stamps, "y": scaled[col].to_numpy()})
                      for col in scaled.columns], ignore_index=True)


def scaled_protocol(dataset: str, features: str) -> tuple[pd.DataFrame, Any]:
    """The protocol's frame, z-scored with the training rows' statistics, and its split."""
    from sklearn.preprocessing import StandardScaler

    df, split = load_protocol(dataset, features)
    scaler = StandardScaler().fit(df.iloc[: split.train_end].to_numpy())
    scaled = pd.DataFrame(scaler.transform(df.to_numpy()), index=df.index, columns=df.columns)
    return scaled, split


def errors(forecasts: pd.DataFrame, horizon: int, n_windows: int) -> dict[str, float]:
    """MSE / MAE over every (window, column, step); checks that no window is missing."""
    counts = forecasts.groupby(["unique_id", "cutoff"]).size()
    n_series = forecasts["unique_id"].nunique()
    if len(counts) != n_windows * n_series or (counts != horizon).any():
        raise RuntimeError(f"expected {n_windows} windows of {horizon} steps per series, got "
                           f"{len(counts) // max(n_series, 1)}")
    err = forecasts[NAME].to_numpy() - forecasts["y"].to_numpy()
    return {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err)))}


def run_seed(scaled: pd.DataFrame, split: Any, horizon: int, seed: int) -> dict[str, Any]:
    from neuralforecast import NeuralForecast
    from neuralforecast.models import PatchTST

    freq = scaled.index.freq
    model = PatchTST(h=horizon, random_seed=seed, alias=NAME, enable_progress_bar=False,
                     enable_model_summary=False, logger=False, **PEER)
    nf = NeuralForecast(models=[model], freq=freq)
    test_size = split.end - split.test_start
    n_windows = test_size - horizon + 1
    began = time.perf_counter()
    forecasts = nf.cross_validation(long_frame(scaled), val_size=split.test_start - split.train_end,
                                    test_size=test_size, n_windows=None, step_size=1,
                                    refit=False, verbose=False)
    seconds = time.perf_counter() - began
    fitted = nf.models[0]
    steps = int(fitted.train_trajectories[-1][0]) + 1 if fitted.train_trajectories else None
    checks = [(int(step), float(loss)) for step, loss in fitted.valid_trajectories]
    return {**errors(forecasts, horizon, n_windows), "seed": seed, "n_windows": n_windows,
            "fit_seconds": seconds, "steps": steps, "validation_checks": checks,
            "stopped_early": steps is not None and steps < PEER["max_steps"]}


def run_cell(dataset: str, horizon: int, features: str, seeds: int, out_dir: Path) -> Path:
    scaled, split = scaled_protocol(dataset, features)
    report = report_header(dataset, horizon, features, scaled, split, None, None, None,
                           {NAME: dict(PEER, library="neuralforecast")}, machine_info())
    import neuralforecast

    report["model_params"][NAME]["version"] = neuralforecast.__version__
    path = out_dir / f"{dataset_label(dataset)}_{features}_{horizon}_{NAME}.json"
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in range(seeds):
        row = run_seed(scaled, split, horizon, seed)
        print(f"{dataset_label(dataset)} {features}-{horizon} seed {seed}: mse={row['mse']:.4f} "
              f"mae={row['mae']:.4f} steps={row['steps']} {row['fit_seconds']:.0f}s", flush=True)
        runs.append(row)
        # written after every seed, so that a run cut short keeps the seeds it finished
        entry = model_entry(list(range(len(runs))), [], [], dict(PEER))
        entry["runs"] = runs
        entry["mean"] = {k: float(np.mean([r[k] for r in runs])) for k in ("mse", "mae")}
        entry["std"] = {k: float(np.std([r[k] for r in runs], ddof=1)) if len(runs) > 1
                        else None for k in ("mse", "mae")}
        report["models"][NAME] = entry
        report["n_windows"] = runs[0]["n_windows"]
        report["capped"], report["capped_by"] = False, []
        report["finished_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        write_json_atomic(path, report)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="ETTh1, ETTh2, WTH or a CSV file")
    parser.add_argument("--horizon", type=int, required=True)
    parser.add_argument("--features", default="M", choices=("M", "S"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out-dir", type=Path, default=RESULTS / "peer")
    parser.add_argument("--without-ray", action="store_true",
                        help="an inert stand-in for ray, which neuralforecast imports")
    args = parser.parse_args(argv)
    if args.without_ray:
        stand_in_for_ray()
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    print(run_cell(args.dataset, args.horizon, args.features, args.seeds, args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
