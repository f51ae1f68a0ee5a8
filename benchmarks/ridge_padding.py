"""The ridge warm start with and without origins whose lookback reaches into the padding.

Before a series is `lookback` rows long, the linear path reads copies of the first row, not
data. This fits TXL's ridge warm start (the linear path alone, network untrained) both ways:
- on ten weeks of synthetic half-hourly load (`benchmarks.common.halfhourly_load_frame`, the
  series of tests/test_forecaster.py), beside the seasonal naives of one day and one week and
  the default TXL trained as usual;
- on the standard protocol (ETTh1, ETTh2, WTH at horizons 96/336/720, "M"), validation and
  test MSE (scaled units, every window).
Results: benchmarks/results/ridge_padding.json.

    OMP_NUM_THREADS=1 python -m benchmarks.ridge_padding
"""

from __future__ import annotations

import argparse
import functools
from contextlib import contextmanager

import numpy as np
import torch

from benchmarks.common import RESULTS, halfhourly_load_frame, machine, write_json
from txl_ts import forecaster as forecaster_module
from txl_ts.txl.module import fit_linear_path

QUIET = {"enable_progress_bar": False}


@contextmanager
def _ridge(complete_lookback: bool, train: bool):
    """Fit the ridge with or without padded origins; skip the network's training unless
    `train`."""
    real_ridge, real_fit = forecaster_module.fit_linear_path, forecaster_module.fit_module
    forecaster_module.fit_linear_path = functools.partial(
        fit_linear_path, complete_lookback=complete_lookback)
    if not train:
        forecaster_module.fit_module = lambda *a, **k: {"epochs": 0, "best_val_loss": None,
                                                         "stopped_early": False}
    try:
        yield
    finally:
        forecaster_module.fit_linear_path, forecaster_module.fit_module = real_ridge, real_fit


def synthetic() -> dict:
    from txl_ts import TXLForecaster
    from txl_ts.baselines.naive import NaiveForecaster

    df = halfhourly_load_frame(84)
    n, n_fit, h = len(df), 48 * 70, 48
    cutoffs = np.arange(n_fit - 1, n - h)
    actual = np.stack([df.to_numpy()[c + 1 : c + h + 1] for c in cutoffs])

    def mse(model) -> float:
        return float(((model.rolling_forecasts(df, cutoffs) - actual) ** 2).mean())

    out = {}
    for name, complete, train in (("ridge with padded origins", False, False),
                                  ("ridge, complete lookbacks only", True, False),
                                  ("TXL default (trained), complete lookbacks", True, True),
                                  ("TXL default (trained), padded origins", False, True)):
        with _ridge(complete, train):
            model = TXLForecaster(horizon=h, random_state=0, trainer_kwargs=QUIET)
            out[name] = mse(model.fit(df.iloc[:n_fit]))
    for season, name in ((48, "seasonal naive, one day"), (336, "seasonal naive, one week")):
        out[name] = mse(NaiveForecaster(h, "seasonal", season=season).fit(df.iloc[:n_fit]))
    return out


def protocol(datasets: list[str], horizons: list[int]) -> list[dict]:
    from benchmarks.txl_ablation import run_cell

    rows = []
    for dataset in datasets:
        for horizon in horizons:
            row = {"dataset": dataset, "horizon": horizon}
            for complete in (False, True):
                with _ridge(complete, train=False):
                    cell = run_cell(dataset, horizon, "default", 0)
                key = "complete" if complete else "padded"
                row[key] = {"test": cell["mse"], "val": cell["ridge_val_mse"],
                            "alpha": cell["ridge_alpha"]}
            rows.append(row)
            print(row, flush=True)
    return rows


def section_lines(results) -> list[str]:
    """Rendered into docs/benchmarks.md section 4 by `benchmarks.txl_ablation.section`."""
    import json

    path = results / "ridge_padding.json"
    if not path.exists():
        return []
    d = json.loads(path.read_text())
    m = d["machine"]
    lines = [
        "The ridge warm start with and without padded origins (`python -m "
        f"benchmarks.ridge_padding`; {m['cpu']}, {m['cores']} cores, torch {m['torch']}, commit "
        f"{(m.get('git_commit') or '?')[:10]}). Ten weeks of synthetic half-hourly load, "
        "horizon 48, MSE over every window of the last two weeks:", "",
        "| forecast | MSE |", "|---|---:|",
        *[f"| {k} | {v:.4f} |" for k, v in d["synthetic"].items()], "",
        "The linear path alone (network untrained) on the standard protocol, seed 0: test MSE "
        "(validation MSE):", "",
        "| cell | padded origins | complete lookbacks only |", "|---|---|---|",
    ]
    for r in d["protocol"]:
        lines.append(f"| {r['dataset']}-{r['horizon']} | " + " | ".join(
            f"{r[k]['test']:.4f} ({r[k]['val']:.4f})" for k in ("padded", "complete")) + " |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="ETTh1,ETTh2,WTH")
    parser.add_argument("--horizons", default="96,336,720")
    args = parser.parse_args()
    torch.set_num_threads(1)
    payload = {"benchmark": "ridge_padding", "machine": machine(), "synthetic": synthetic()}
    print(payload["synthetic"], flush=True)
    payload["protocol"] = protocol(args.datasets.split(","),
                                   [int(h) for h in args.horizons.split(",")])
    write_json(RESULTS, "ridge_padding", payload)


if __name__ == "__main__":
    main()
