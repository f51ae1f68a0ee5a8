"""The public API end to end on an accelerator: fit, predict(horizon=), intervals, update,
rolling forecasts (backtest), save/load and predict-during-update, for every neural model.

    python -m experiments.gpu_check --accelerator gpu --out result.json

Checks that each streamed forecast equals the forecast from the whole history (to float32
rounding), that a saved model forecasts the same after loading (on the CPU too), and
records fit times. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import threading
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import torch

from txl_ts import TXLForecaster
from txl_ts.backtest import backtest
from txl_ts.baselines import DLinearForecaster, LSTMForecaster
from txl_ts.datasets import load


def close(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def check(name: str, make, df, accelerator: str) -> dict:
    train, later = df.iloc[:4000], df.iloc[:4300]
    began = time.perf_counter()
    model = make(accelerator).fit(train)
    out = {"fit_seconds": time.perf_counter() - began,
           "epochs": model.fit_summary_.get("epochs"),
           "device": str(next(model.net_.parameters()).device)}
    full = model.predict()
    out["horizon_prefix_equal"] = bool(model.predict(horizon=5).equals(full.iloc[:5]))
    interval = model.predict_interval([0.8, 0.95], horizon=12)
    out["interval_finite"] = bool(np.isfinite(interval.to_numpy()).all())
    streamed = copy.deepcopy(model)
    for lo in range(4000, 4300, 37):
        streamed.update(df.iloc[lo : min(lo + 37, 4300)])
    out["update_vs_history"] = close(streamed.predict().to_numpy(),
                                     model.predict(history=later).to_numpy())
    result = backtest({name: model}, df.iloc[:4600], model.horizon, 4300, stride=1)
    out["backtest_windows"] = int(result.n_windows)
    out["backtest_mse"] = float(result.metrics.loc[name, "mse"])
    with TemporaryDirectory() as tmp:
        loaded = type(model).load(model.save(Path(tmp) / name))
        out["load_vs_saved"] = close(loaded.predict().to_numpy(), full.to_numpy())
    seen, done = [], threading.Event()

    def reader():
        while not done.is_set():
            seen.append(streamed.predict())

    states = [streamed.predict()]
    probe = copy.deepcopy(streamed)
    chunks = [df.iloc[lo : lo + 5] for lo in range(4300, 4400, 5)]
    for chunk in chunks:
        probe.update(chunk)
        states.append(probe.predict())
    thread = threading.Thread(target=reader)
    thread.start()
    for chunk in chunks:
        streamed.update(chunk)
    done.set()
    thread.join()
    by_start = {s.index[0]: s.to_numpy() for s in states}
    out["reads_during_update"] = len(seen)
    out["torn_reads"] = sum(1 for s in seen if s.index[0] not in by_start
                            or close(s.to_numpy(), by_start[s.index[0]]) > 1e-4)
    return out


MODELS = {
    "txl": lambda acc: TXLForecaster(horizon=96, accelerator=acc, max_epochs=5),
    "lstm": lambda acc: LSTMForecaster(horizon=96, accelerator=acc, max_epochs=5),
    "dlinear": lambda acc: DLinearForecaster(horizon=96, accelerator=acc, max_epochs=5),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accelerator", default="gpu")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args(argv)
    df = load("ETTh1")
    report = {"machine": {"gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available()
                          else None, "torch": torch.__version__,
                          "python": platform.python_version()},
              "accelerator": args.accelerator, "models": {}}
    ok = True
    for name in args.models.split(","):
        res = check(name, MODELS[name], df, args.accelerator)
        report["models"][name] = res
        good = (res["horizon_prefix_equal"] and res["interval_finite"]
                and res["update_vs_history"] < 1e-4 and res["load_vs_saved"] < 1e-5
                and res["torn_reads"] == 0)
        ok &= good
        print(name, "ok" if good else "FAILED", json.dumps(res), flush=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
