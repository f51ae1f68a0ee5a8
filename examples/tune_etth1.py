"""Tune TXLForecaster on ETTh1 (horizon 96) and compare it with the default parameters.

The search sees only the benchmark's train (rows 0..8639) and validation (8640..11519) rows;
the test split (11520..14399) is scored once at the end, for both models, with the benchmark
protocol (StandardScaler of the train rows, every stride-1 window, all 7 columns).

To fit a small CPU budget every model - the defaults and every trial - trains under the same
reduced budget (`--max-epochs` epochs of at most `--max-train-batches` batches, early stopping
patience 2), so the comparison is "tuned vs default hyperparameters at equal training budget".

    python examples/tune_etth1.py --timeout 1080 --out out/tune_etth1
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import optuna

from txl_ts import TXLForecaster
from txl_ts.backtest import backtest
from txl_ts.benchmark import load_protocol, machine_info
from txl_ts.tuning import tune, validation_mse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=40)
    parser.add_argument("--timeout", type=float, default=18 * 60, help="search seconds")
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--max-train-batches", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/tune_etth1")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.INFO)

    df, split = load_protocol("ETTh1")  # rows 0..14399
    tune_df = df.iloc[: split.test_start]  # train + validation only
    n_fit = split.train_end
    fixed = {"max_epochs": args.max_epochs, "patience": 2,
             "trainer_kwargs": {"limit_train_batches": args.max_train_batches}}
    report: dict = {"machine": machine_info(), "args": vars(args), "fixed_params": fixed,
                    "split": split.as_dict()}

    began = time.perf_counter()
    defaults = TXLForecaster(horizon=96, random_state=args.seed, **{
        **fixed, "trainer_kwargs": {**fixed["trainer_kwargs"], "enable_progress_bar": False}})
    defaults.fit(tune_df.iloc[:n_fit], validation_data=tune_df.iloc[n_fit:])
    report["defaults_fit_seconds"] = time.perf_counter() - began
    print(f"defaults fitted in {report['defaults_fit_seconds']:.0f}s", flush=True)

    began = time.perf_counter()
    result = tune(tune_df, horizon=96, n_trials=args.n_trials, timeout=args.timeout,
                  storage=f"sqlite:///{out / 'study.db'}", study_name="etth1-96",
                  pruner="median", random_state=args.seed, val_size=len(tune_df) - n_fit,
                  fixed_params=fixed, refit=True)
    report["search_seconds"] = time.perf_counter() - began
    study = result.study
    report["trials"] = [{"number": t.number, "state": t.state.name, "value": t.value,
                         "params": t.user_attrs.get("model_params"),
                         "epochs_reported": len(t.intermediate_values),
                         "error": t.user_attrs.get("error")} for t in study.trials]
    report["best_params"] = result.best_params

    scores = {}
    for name, model in (("defaults", defaults), ("tuned", result.best_model)):
        test = backtest({name: model}, df, 96, start=split.test_start, end=split.end,
                        train_end=split.train_end, keep_forecasts=False)
        scores[name] = {"val_mse": validation_mse(model, tune_df, n_fit),
                        "test_mse": float(test.metrics.loc[name, "mse"]),
                        "test_mae": float(test.metrics.loc[name, "mae"]),
                        "test_windows": int(test.n_windows),
                        "epochs": model.fit_summary_["epochs"]}
        print(name, scores[name], flush=True)
    report["scores"] = scores
    report["best_value_in_study"] = result.best_value
    report["load_average_1m_end"] = os.getloadavg()[0]
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    states = {s: sum(t["state"] == s for t in report["trials"])
              for s in ("COMPLETE", "PRUNED", "FAIL")}
    print(f"{len(study.trials)} trials {states} in {report['search_seconds']:.0f}s; "
          f"best {result.best_params}")


if __name__ == "__main__":
    main()
