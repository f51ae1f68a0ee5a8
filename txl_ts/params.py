"""Constructor parameters, declared once.

Every forecaster lists its parameters in a class attribute `PARAMS`, a tuple of `Param`:
name, default, scikit-learn constraints (as in sklearn's own `_parameter_constraints`), a
one-line description and, optionally, how the tuner samples it and whether it shapes only
training. The `declared` class decorator derives from them

* `_parameter_constraints`, which `BaseForecaster.fit` and `load` check through scikit-learn's
  parameter validation (`_validate_params`), before each model's cross-parameter rules;
* `_TRAINING_ONLY_PARAMS`, the parameters that may change between fit and predict;
* the numpydoc "Parameters" section of the class docstring;

and refuses a class whose `__init__` signature does not name the same parameters with the same
defaults, in the same order. `txl_ts.tuning` builds its search space from the `search`
entries, and the benchmark grid checks `model_params` against the declarations.

Declarations shared by several models are module constants here (`HORIZON`, `LR`, ...); a
model whose default or meaning differs takes `LR.but(default=...)`.
"""

from __future__ import annotations

import dataclasses
import inspect
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, TypeVar

import numpy as np
from sklearn.utils._param_validation import Hidden, Interval, RealNotInt, StrOptions

__all__ = [
    "Choice", "Choices", "FloatRange", "Follows", "IntRange", "Param", "Range", "Ratio",
    "Relative", "declared",
]


# ---- constraints ----------------------------------------------------------------------------
class Range(Interval):
    """scikit-learn's `Interval`, except that a bool is no number here.

    Python counts True as the integer 1, so sklearn's `Interval(Integral, 1, None)` accepts
    `horizon=True`; that is always a mistake in a forecaster's parameters.
    """

    def is_satisfied_by(self, val: object) -> bool:
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


class WholeFloats(Range):
    """Floats without a fractional part (100.0), which `val_size` reads as a row count."""

    def is_satisfied_by(self, val: object) -> bool:
        return super().is_satisfied_by(val) and float(val).is_integer()  # type: ignore[arg-type]


class Choices(StrOptions):
    """scikit-learn's `StrOptions`, naming the options in the order given (a set's order
    changes from run to run, and so would the error message)."""

    def __init__(self, *options: str):
        super().__init__(set(options))
        self.ordered = options

    def __str__(self) -> str:
        return f"a str among {{{', '.join(repr(o) for o in self.ordered)}}}"


def positive_int() -> Range:
    return Range(Integral, 1, None, closed="left")


def non_negative_int() -> Range:
    return Range(Integral, 0, None, closed="left")


# ---- search-space entries -------------------------------------------------------------------
# Plain descriptions: `txl_ts.tuning` turns them into Optuna suggestions (this module does not
# import Optuna). The Optuna parameter name is the parameter's own unless an entry says not.
@dataclass(frozen=True)
class Choice:
    """One of `values` (Optuna categorical)."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class IntRange:
    """An integer in [low, high] (Optuna int, log-uniform with `log`)."""

    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class FloatRange:
    """A float in [low, high] (Optuna float, log-uniform with `log`)."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Relative:
    """One of `multiples` of a unit that the data gives (`unit` says which; the tuner passes
    it), each at least `at_least`; `fallback` when the tuner knows no unit (None: the
    parameter keeps its default)."""

    multiples: tuple[float, ...]
    unit: str
    at_least: int = 1
    fallback: tuple[int, ...] | None = None

    def values(self, unit: int) -> tuple[int, ...]:
        return tuple(sorted({max(self.at_least, int(unit * m)) for m in self.multiples}))


@dataclass(frozen=True)
class Ratio:
    """`of` times a ratio drawn from `ratios` (Optuna name `<name>_ratio`), rounded down, at
    least 1: keeps the parameter within `of` whatever `of` is drawn."""

    of: str
    ratios: tuple[float, ...]


@dataclass(frozen=True)
class Follows:
    """Not sampled: `factor` times the value of `of`."""

    of: str
    factor: int


Search = Choice | IntRange | FloatRange | Relative | Ratio | Follows


# ---- the declaration ------------------------------------------------------------------------
# `Param.saved_before` when files written before the parameter existed cannot be read with it
# (a sentinel: None is a value some parameters take)
NOT_SAVED_BEFORE: Any = type("NotSavedBefore", (), {"__repr__": lambda self: "NOT_SAVED_BEFORE"})()
@dataclass(frozen=True)
class Param:
    """One constructor parameter.

    `constraints`: a list of scikit-learn parameter constraints (the parameter is valid when
    one holds), or "no_validation" for parameters checked against the data at fit
    (`targets`, `time_col`). `doc`: what it means and when to change it (the default is
    shown beside it). `search`: how `txl_ts.tuning` samples it, if at all. `training_only`:
    it shapes only training (or where the network runs), so it may change between fit and
    predict. `type_doc`: the type shown in the docstring, when the constraints do not say it.
    `saved_before`: for a parameter that changes forecasts and was added after models could be
    saved, the value that files written before it existed were fitted with (they load with it;
    without it such files are refused as incomplete). It differs from `default` when the new
    parameter's default is not the old behaviour.
    """

    name: str
    default: Any
    constraints: list[Any] | str
    doc: str
    search: Search | None = None
    training_only: bool = False
    type_doc: str | None = None
    saved_before: Any = NOT_SAVED_BEFORE

    def but(self, **changes: Any) -> Param:
        """This declaration with some fields replaced (another default, doc or search)."""
        return dataclasses.replace(self, **changes)

    def type_text(self) -> str:
        if self.type_doc is not None:
            return self.type_doc
        if isinstance(self.constraints, str):
            return "object"
        return " or ".join(_constraint_type(c) for c in self.constraints
                           if not isinstance(c, Hidden))

    def numpydoc(self) -> str:
        body = textwrap.fill(self.doc, width=88, initial_indent="    ",
                             subsequent_indent="    ", break_on_hyphens=False)
        return f"{self.name} : {self.type_text()}, default={self.default!r}\n{body}"


def _constraint_type(constraint: Any) -> str:
    if constraint is None:
        return "None"
    if constraint == "boolean":
        return "bool"
    if isinstance(constraint, Choices):
        return "{" + ", ".join(repr(o) for o in constraint.ordered) + "}"
    if isinstance(constraint, Interval):
        return "int" if constraint.type is Integral else "float"
    if isinstance(constraint, type):
        return constraint.__name__
    return str(constraint)


# ---- shared declarations --------------------------------------------------------------------
HORIZON = Param(
    "horizon", 96, [positive_int()],
    "Steps forecast after each origin. Set it to the lead time you need; the model, its "
    "minimum series length and its prediction intervals are built for it, so changing it "
    "needs a refit.")
TARGETS = Param(
    "targets", None, "no_validation",
    "Columns to forecast: a label or a list of labels; None forecasts every numeric column "
    "and refuses frames with other columns. Pass it when the frame holds columns that are "
    "not to be forecast (they are then ignored). Checked against the frame at fit.",
    type_doc="label, list of labels or None")
PAST_COVARIATES = Param(
    "past_covariates", None, "no_validation",
    "Columns observed only up to the forecast origin (e.g. measured temperature, other "
    "meters): the model reads their history but never needs or sees their future. Frames "
    "passed to fit, update and predict(history=...) must hold them.",
    type_doc="label, list of labels or None")
FUTURE_COVARIATES = Param(
    "future_covariates", None, "no_validation",
    "Columns known ahead (a temperature forecast, a working-day flag, a price): the model "
    "reads their history and their values over the horizon, which predict takes as "
    "future=<DataFrame>. Not forecast.",
    type_doc="label, list of labels or None")
CALENDAR = Param(
    "calendar", None, [Choices("auto"), list, tuple, None],
    "Covariates derived from the timestamps, known ahead by construction: \"auto\" takes "
    "those the frequency resolves (time of day, day of week, day of year for sub-daily data; "
    "month for monthly data), encoded as sine and cosine; or a list among \"time_of_day\", "
    "\"day_of_week\", \"day_of_year\", \"month\", \"weekend\". None uses none.",
    type_doc='"auto", list of str or None')
HOLIDAYS = Param(
    "holidays", None, [str, list, tuple, None],
    "Public holidays as a known-ahead 0/1 covariate, from the `holidays` package: a country "
    "code (\"US\") or a (country, subdivision) pair ((\"AU\", \"VIC\")). None uses none.",
    type_doc="str, (str, str) or None")
COVARIATES = (PAST_COVARIATES, FUTURE_COVARIATES, CALENDAR, HOLIDAYS)
TIME_COL = Param(
    "time_col", None, "no_validation",
    "Column that holds the timestamps; None reads them from the DatetimeIndex. Pass it for "
    "frames with the time in a column.",
    type_doc="label or None")
ID_COL = Param(
    "id_col", None, "no_validation",
    "Column naming each row's series, for a long frame (one row per series and timestamp, "
    "as NeuralForecast and statsforecast take it: id_col=\"unique_id\", time_col=\"ds\"). "
    "None takes a wide frame of one series. Series may start and end on their own dates; "
    "neural models train one set of weights over all of them, statistical ones fit one "
    "model per series. Needs time_col.",
    type_doc="label or None")
N_JOBS = Param(
    "n_jobs", None, [Range(Integral, None, None, closed="neither"), None],
    "Processes that fit the per-series models of a long frame (joblib's convention: None "
    "is 1, -1 every core). Ignored for a wide frame.",
    training_only=True)
RANDOM_STATE = Param(
    "random_state", 0, [Range(Integral, None, None, closed="neither"), None],
    "Seed of the weight initialisation, the sampling of training windows and their "
    "shuffling; the same seed gives the same model on the same machine. Vary it to measure "
    "the spread between runs; None leaves the generators unseeded.",
    training_only=True)
ACCELERATOR = Param(
    "accelerator", "auto", [Choices("auto", "cpu", "gpu", "cuda", "mps", "tpu")],
    "Lightning accelerator to train on; \"auto\" takes a GPU when there is one. Forecasts "
    "run on CUDA or MPS when it selects them, else on the CPU. Set \"cpu\" to keep a GPU free "
    "or to compare timings. \"gpu\" or \"cuda\" on a machine without a GPU raises a "
    "ValueError at fit rather than falling back to the CPU.",
    training_only=True)
TRAINER_KWARGS = Param(
    "trainer_kwargs", None, [dict, None],
    "Extra keyword arguments for the Lightning Trainer (e.g. enable_progress_bar, "
    "limit_train_batches, callbacks), applied over txl_ts's own settings. Entries JSON "
    "cannot hold (callbacks) are saved as None. Data-parallel training: {\"devices\": 2, "
    "\"strategy\": \"ddp_fork\"} (or \"ddp_spawn\", which needs an `if __name__ == "
    "\"__main__\"` guard; a plain \"ddp\" runs as \"ddp_fork\" unless torchrun or SLURM "
    "started the processes) trains on disjoint shards of the windows with the validation "
    "loss reduced over the processes; the fitted model comes back to the calling process.",
    training_only=True)
VERBOSE = Param(
    "verbose", None, ["boolean", None],
    "Training output. None shows one progress bar when stdout is a terminal and nothing "
    "otherwise (scripts and log files stay clean); True also prints one line per epoch to "
    "stderr when it is not a terminal; False prints nothing.",
    type_doc="bool or None", training_only=True)
MAX_EPOCHS = Param(
    "max_epochs", 30, [positive_int()],
    "Upper bound on the training epochs; early stopping usually ends training sooner. Lower "
    "it for quick runs, raise it when training still improves at the last epoch.",
    training_only=True)
PATIENCE = Param(
    "patience", 3, [positive_int()],
    "Epochs without a lower validation loss before training stops (needs a validation "
    "tail). Raise it when the validation loss is noisy.",
    training_only=True)
BATCH_SIZE = Param(
    "batch_size", 32, [positive_int()],
    "Training windows per gradient step. Larger batches run faster per epoch (on a GPU "
    "especially) and may want a larger lr.",
    training_only=True)
LR = Param(
    # inf is allowed, as it always was: training then diverges, which tune records as a
    # failed trial rather than a broken search space
    "lr", 1e-3, [Range(Real, 0, None, closed="right")],
    "Learning rate of the optimiser. Lower it when the training loss jumps or diverges, "
    "raise it when training stops early without improving.",
    training_only=True)
WEIGHT_DECAY = Param(
    "weight_decay", 1e-4, [Range(Real, 0, None, closed="both")],
    "Weight decay of the optimiser (L2 regularisation of the weights). Raise it when the "
    "validation loss rises while the training loss falls.",
    training_only=True)
DROPOUT = Param(
    "dropout", 0.1, [Range(Real, 0, 1, closed="left")],
    "Dropout rate in training (inactive in forecasts). Raise it when the model overfits, "
    "lower it for short training runs.",
    training_only=True)
VAL_SIZE = Param(
    "val_size", 0.2,
    [non_negative_int(), Range(RealNotInt, 0, 1, closed="left"),
     Hidden(WholeFloats(RealNotInt, 0, None, closed="left"))],
    "Time-ordered tail of the fit frame held out for early stopping and to calibrate the "
    "prediction intervals: a fraction in [0, 1) or a row count; 0 disables it (no early "
    "stopping; the intervals then have no calibration data). validation_data passed to fit "
    "takes its place.",
    training_only=True)
WINDOW_STEP = Param(
    "window_step", 1, [positive_int()],
    "Rows between the starts of consecutive training windows: 1 trains on every window; "
    "larger values train faster on long series, on fewer windows (benchmark reports mark "
    "such runs as capped).",
    training_only=True)
LOOKBACK = Param(
    "lookback", "auto", [positive_int(), Choices("auto")],
    "Rows of history the network reads before each forecast origin; \"auto\" is 14 seasons "
    "of the frequency (336 hourly, 98 daily), fewer when the training rows would leave less "
    "than half of them as forecast origins. Histories passed to predict need at least this "
    "many rows.")


# ---- deriving from the declarations ---------------------------------------------------------
E = TypeVar("E", bound=type)


def check_signature(cls: type, params: Sequence[Param]) -> None:
    """TypeError unless `cls.__init__` takes exactly `params`, in order, with their
    defaults, and nothing else."""
    signature = inspect.signature(cls.__init__)
    found = [(p.name, p.default) for p in list(signature.parameters.values())[1:]]
    declared_ = [(p.name, p.default) for p in params]
    if found != declared_ or any(p.kind is not p.POSITIONAL_OR_KEYWORD
                                 for p in list(signature.parameters.values())[1:]):
        raise TypeError(f"{cls.__name__}.__init__ takes {found}, but {cls.__name__}.PARAMS "
                        f"declares {declared_}: they must agree")


def parameters_section(params: Sequence[Param]) -> str:
    """The numpydoc "Parameters" section for `params`."""
    return "Parameters\n----------\n" + "\n".join(p.numpydoc() for p in params)


def declared(cls: E) -> E:
    """Class decorator: derive constraints, training-only names and the docstring's
    Parameters section from `cls.PARAMS` (see the module docstring)."""
    params: tuple[Param, ...] = cls.PARAMS  # type: ignore[attr-defined]
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise TypeError(f"{cls.__name__}.PARAMS declares a parameter twice: {names}")
    check_signature(cls, params)
    cls._parameter_constraints = {p.name: p.constraints for p in params}  # type: ignore
    cls._TRAINING_ONLY_PARAMS = tuple(p.name for p in params  # type: ignore[attr-defined]
                                      if p.training_only)
    summary = inspect.cleandoc(cls.__doc__ or "")
    cls.__doc__ = f"{summary}\n\n{parameters_section(params)}\n"
    return cls


def param_names(cls: type) -> tuple[str, ...]:
    """The names `cls` declares (its constructor parameters), in order."""
    return tuple(p.name for p in cls.PARAMS)  # type: ignore[attr-defined]


def by_name(params: Sequence[Param]) -> dict[str, Param]:
    return {p.name: p for p in params}
