"""A small Optuna search on ETTh1's oil temperature (OT), with plots of the study.

Tunes on the first 3000 rows of the benchmark's train split (tiny models, 2 epochs per
trial), then saves Optuna's matplotlib plots as PNG (no plotly needed):

    python examples/tune_optuna.py --n-trials 8 --out out/tune_optuna

Re-running with the same --out resumes the study stored in <out>/study.db.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from optuna.visualization import matplotlib as oplt  # noqa: E402

from txl_ts.datasets import load  # noqa: E402
from txl_ts.tuning import tune  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description="small Optuna search with plots")
    parser.add_argument("--n-trials", type=int, default=8)
    parser.add_argument("--out", default="out/tune_optuna")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.INFO)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    df = load("ETTh1")[["OT"]].iloc[:3000]  # well inside the train split (rows 0..8639)
    result = tune(
        df, horizon=24, n_trials=args.n_trials, storage=f"sqlite:///{out / 'study.db'}",
        study_name="etth1-ot-24", val_size=0.2, random_state=0,
        fixed_params={"max_epochs": 2, "n_segments": 2, "d_model": 32, "n_layers": 1},
        show_progress_bar=True,
    )
    study = result.study
    oplt.plot_optimization_history(study)
    plt.savefig(out / "optimization_history.png", bbox_inches="tight")
    plt.close("all")
    oplt.plot_intermediate_values(study)
    plt.savefig(out / "intermediate_values.png", bbox_inches="tight")
    plt.close("all")
    completed = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    if len(completed) >= 2:
        oplt.plot_param_importances(study)
        plt.savefig(out / "param_importances.png", bbox_inches="tight")
        plt.close("all")
    print(f"best validation MSE {result.best_value:.4f} with {result.best_params}")
    print(f"plots in {out}/")


if __name__ == "__main__":
    main()
