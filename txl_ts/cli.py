"""The command line's parsers: `python -m txl_ts {demo,benchmark,tune} ...`.

Only the standard library is imported here, so that `--help` and argument errors answer
at once: numpy, pandas, torch, Lightning and optuna load only after the arguments parse, when
`txl_ts.__main__` imports the chosen sub-command's module and calls its `run(args)`.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path
from typing import Any

from .cli_roles import (  # noqa: F401 - re-exported: the parsers of every option live here
    CALENDAR_FEATURES,
    add_role_arguments,
    calendar_arg,
    columns_arg,
    holidays_arg,
)

# (module, one-line help) of every sub-command
COMMANDS = {
    "demo": ("txl_ts.demo", "fit on a bundled data set, print and plot a forecast"),
    "benchmark": ("txl_ts.grid", "run the standard benchmark protocol (one cell or a grid)"),
    "tune": ("txl_ts.tuning", "Optuna hyperparameter search (needs optuna)"),
}
# the bundled data sets (txl_ts.datasets.NAMES; a test keeps the two equal)
BUNDLED = ("ETTh1", "ETTh2", "WTH")
MODELS = ("txl", "txl-nomem", "lstm", "dlinear", "arima", "arima-nonseasonal", "naive", "snaive",
          "snaive-weekly")


def is_file(dataset: str) -> bool:
    """Whether `dataset` names a CSV file rather than a bundled data set.

    Parameters
    ----------
    dataset : str
        A `--dataset` entry.

    Returns
    -------
    bool
        True when it ends in ".csv" (any case).
    """
    return dataset.lower().endswith(".csv")


def dataset_label(dataset: str) -> str:
    """The name reports and grid cells use: a bundled name, or a CSV file's stem.

    Parameters
    ----------
    dataset : str
        A bundled name or a CSV path.

    Returns
    -------
    str
        The label.
    """
    return Path(dataset).stem if is_file(dataset) else dataset


def parse_param(text: str) -> tuple[str, Any]:
    """A `KEY=VALUE` model parameter; the value is read as JSON, then as a Python literal,
    else kept as text.

    Parameters
    ----------
    text : str
        The argument.

    Returns
    -------
    tuple of (str, Any)
        The key and the parsed value.

    Raises
    ------
    argparse.ArgumentTypeError
        When there is no "=".
    """
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"a model parameter is key=value, got {text!r}")
    key, raw = text.split("=", 1)
    for parse in (json.loads, ast.literal_eval):
        try:
            return key.strip(), parse(raw)
        except (ValueError, SyntaxError):
            pass
    return key.strip(), raw


def models_arg(text: str) -> list[str]:
    """Comma-separated model names, each one of `MODELS`.

    Parameters
    ----------
    text : str
        The argument.

    Returns
    -------
    list of str
        The names.

    Raises
    ------
    argparse.ArgumentTypeError
        On an unknown or missing name.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown models {unknown}; choose from {list(MODELS)}")
    return names


def datasets_arg(text: str) -> list[str]:
    """Comma-separated data sets: bundled names or paths to existing .csv files.

    Parameters
    ----------
    text : str
        The argument.

    Returns
    -------
    list of str
        The entries.

    Raises
    ------
    argparse.ArgumentTypeError
        On an unknown name, a missing file, or two entries with the same label.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BUNDLED and not is_file(n)]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown data sets {unknown}; choose from {list(BUNDLED)} or give a .csv path")
    missing = [n for n in names if is_file(n) and not Path(n).is_file()]
    if missing:
        raise argparse.ArgumentTypeError(f"no such file: {', '.join(missing)}")
    labels = [dataset_label(n) for n in names]
    if len(set(labels)) < len(labels):
        raise argparse.ArgumentTypeError(f"two data sets share a name: {labels}")
    return names


def one_dataset_arg(text: str) -> str:
    """One data set, as `datasets_arg` checks it.

    Parameters
    ----------
    text : str
        The argument.

    Returns
    -------
    str
        The entry.

    Raises
    ------
    argparse.ArgumentTypeError
        As `datasets_arg`, or when several are given.
    """
    names = datasets_arg(text)
    if len(names) != 1:
        raise argparse.ArgumentTypeError(f"one data set, got {names}")
    return names[0]


def horizons_arg(text: str) -> list[int]:
    """Comma-separated positive integers.

    Parameters
    ----------
    text : str
        The argument.

    Returns
    -------
    list of int
        The horizons.

    Raises
    ------
    argparse.ArgumentTypeError
        On anything else.
    """
    try:
        horizons = [int(h) for h in text.split(",") if h.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"horizons are comma-separated integers, got {text!r}") from None
    if not horizons or min(horizons) < 1:
        raise argparse.ArgumentTypeError(f"horizons must be positive integers, got {text!r}")
    return horizons


def positive_int(text: str) -> int:
    """A positive integer argument.

    Parameters
    ----------
    text : str
        The argument.

    Returns
    -------
    int
        The value.

    Raises
    ------
    argparse.ArgumentTypeError
        When it is not a positive integer.
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def val_size_arg(text: str) -> float | int:
    """`--val-size`: a fraction in (0, 1) of the rows, or a row count.

    Parameters
    ----------
    text : str
        The argument.

    Returns
    -------
    float or int
        The fraction or the count.

    Raises
    ------
    argparse.ArgumentTypeError
        On anything else.
    """
    try:
        value: float | int = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0.0 < value < 1.0:
            raise argparse.ArgumentTypeError(
                f"--val-size is a fraction in (0, 1) or a row count, got {text!r}") from None
    if value < 1 and isinstance(value, int):
        raise argparse.ArgumentTypeError(f"--val-size as a row count must be positive, got "
                                         f"{text!r}")
    return value


def targets_arg(text: str) -> list[str]:
    """`--target`: comma-separated column names.

    Parameters
    ----------
    text : str
        The argument.

    Returns
    -------
    list of str
        The names.

    Raises
    ------
    argparse.ArgumentTypeError
        When no name is given.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("--target needs at least one column name")
    return names


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that describe a user's CSV and the columns' roles (`benchmark`, `tune`)."""
    parser.add_argument("--target", type=targets_arg, default=None, metavar="COL[,COL...]",
                        help="the column(s) to forecast and score. CSV: with --features S "
                        "required; default every column that is not a covariate. Bundled data "
                        "sets: default per --features (S: OT, WetBulbCelsius)")
    add_role_arguments(parser)
    parser.add_argument("--time-col", default=None, metavar="COL",
                        help="CSV: the timestamp column (default: 'date', else the first; "
                        "required with --id-col)")
    parser.add_argument("--id-col", default=None, metavar="COL",
                        help="a long CSV (one row per series and timestamp): the column "
                        "naming each row's series. Each series is split on its own length; "
                        "each model is fitted once over all series; reports pool the series "
                        "and list each one. Needs --time-col; --features does not apply")
    parser.add_argument("--val-size", type=val_size_arg, default=None, metavar="N|FRACTION",
                        help="CSV: the validation rows before the test split, a count or a "
                        "fraction of all rows (default 0.1: a 70/10/20 split)")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every sub-command takes (`--debug`).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.
    """
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show the Python traceback")


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The `demo` sub-command's options.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.
    """
    parser.add_argument("--horizon", type=positive_int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="demo_output")
    parser.add_argument("--full", action="store_true",
                        help="full training budgets and AIC-selected ARIMA orders (slow)")
    parser.add_argument("--data", default="load,weather",
                        help="comma-separated subset of: load (ETTh1), weather (WTH)")


def add_benchmark_arguments(parser: argparse.ArgumentParser) -> None:
    """The `benchmark` sub-command's options.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.
    """
    parser.add_argument("--dataset", required=True, type=datasets_arg,
                        help=f"comma-separated, from {','.join(BUNDLED)} or paths to "
                        ".csv files (split 70/10/20; several only with --out-dir)")
    parser.add_argument("--horizon", type=horizons_arg, default=[96],
                        help="forecast horizon(s), comma-separated (96,192,336,720 in the "
                        "standard protocol; several only with --out-dir)")
    parser.add_argument("--models", type=models_arg, default=["naive", "snaive"],
                        help=f"comma-separated, from {','.join(MODELS)}")
    parser.add_argument("--features", choices=("M", "S"), default="M",
                        help="M: every column that is not a covariate in and out; S: the "
                        "target column only (a CSV needs --target); covariates are inputs "
                        "in both. With --id-col, --target chooses the columns and S is refused")
    _add_data_arguments(parser)
    parser.add_argument("--seeds", type=positive_int, default=1,
                        help="seeds 0..N-1 for the neural models (mean ± std)")
    parser.add_argument("--max-epochs", type=positive_int, default=None,
                        help="cap the neural models' epochs (the report is marked capped)")
    parser.add_argument("--txl-param", type=parse_param, action="append", default=[],
                        metavar="KEY=VALUE", help="TXLForecaster parameter (repeatable)")
    for name in ("lstm", "dlinear", "arima"):
        parser.add_argument(f"--{name}-param", type=parse_param, action="append", default=[],
                            metavar="KEY=VALUE", help=f"{name} parameter (repeatable)")
    parser.add_argument("--rows", type=positive_int, default=None,
                        help="quick run: truncate the data set to its first N rows (capped)")
    parser.add_argument("--accelerator", default="auto")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--out", type=Path, default=None,
                     help="one data set and horizon: write the JSON report here")
    out.add_argument("--out-dir", type=Path, default=None,
                     help="grid: one report per (data set, features, horizon, model) cell in "
                     "DIR/<dataset>_<features>_<horizon>_<model>.json (with covariates "
                     "..._<model>_cov-<hash of the roles>.json); a rerun resumes")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="grid: worker processes (each uses one torch thread on a CPU; "
                        "on a GPU machine they share the GPU)")
    parser.add_argument("--force", action="store_true",
                        help="grid: rerun every cell, even finished ones")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="grid: run the tasks on the Dask cluster whose scheduler is at "
                        "ADDRESS (tcp://HOST:PORT) instead of --jobs local processes; needs "
                        "pip install \"txl-ts[dask]\"")


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    """The `tune` sub-command's options.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.
    """
    parser.add_argument("--dataset", required=True, type=one_dataset_arg,
                        help=f"a bundled data set ({', '.join(BUNDLED)}) or a .csv path (split "
                        "70/10/20 as in the benchmark); only its train+validation rows are "
                        "used")
    _add_data_arguments(parser)
    parser.add_argument("--horizon", type=positive_int, default=96)
    parser.add_argument("--n-trials", type=positive_int, default=20)
    parser.add_argument("--timeout", type=float, default=None, help="seconds for the search")
    parser.add_argument("--storage", default=None,
                        help="Optuna storage URL (sqlite:///study.db, postgresql://..., "
                             "mysql://...) to keep and resume the study; default: in memory, "
                             "or DIR/study.db with --out-dir")
    parser.add_argument("--out-dir", type=Path, default=None, metavar="DIR",
                        help="keep the study in DIR/study.db (SQLite; a rerun resumes it)")
    parser.add_argument("--study-name", default=None,
                        help="default: <dataset>-h<horizon>, with -cov-<hash of the roles> "
                        "when covariates are given")
    parser.add_argument("--pruner", default="median", choices=("median", "hyperband", "none"))
    parser.add_argument("--seed", type=int, default=0,
                        help="sampler and model seed; give each worker its own")
    parser.add_argument("--max-epochs", type=positive_int, default=None,
                        help="epochs per trial (default: the model's)")
    parser.add_argument("--max-train-batches", type=positive_int, default=None,
                        help="training batches per epoch (Lightning limit_train_batches)")
    parser.add_argument("--save-model", default=None, metavar="DIR",
                        help="save the refitted best model into DIR")
    parser.add_argument("--heartbeat", type=positive_int, default=60, metavar="SECONDS",
                        help="--storage/--out-dir: a running trial records a heartbeat this "
                        "often, so that the trial of a killed worker is marked FAIL by the "
                        "next worker once --grace-period passes without one (default 60)")
    parser.add_argument("--grace-period", type=positive_int, default=None, metavar="SECONDS",
                        help="seconds without a heartbeat after which a running trial counts "
                        "as dead (default: twice --heartbeat); must exceed --heartbeat")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are two lines (the error and where help is), not the
    whole usage text, which for `benchmark` is a screenful."""

    def error(self, message: str):  # type: ignore[override]
        """Exit with status 2 and two lines on stderr.

        Parameters
        ----------
        message : str
            argparse's description of the error.

        Raises
        ------
        SystemExit
            Always, with status 2.
        """
        self.exit(2, f"{self.prog}: error: {message}\n(see {self.prog} --help)\n")


ADDERS = {"demo": add_demo_arguments, "benchmark": add_benchmark_arguments,
          "tune": add_tune_arguments}


def build_parser() -> argparse.ArgumentParser:
    """The whole command line's parser, without importing any heavy module.

    Returns
    -------
    argparse.ArgumentParser
        `python -m txl_ts` with one sub-parser per entry of `COMMANDS`.
    """
    parser = Parser(prog="python -m txl_ts")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        ADDERS[name](command)
        add_common_arguments(command)
    return parser
