"""Optuna hyperparameter search for `TXLForecaster`, with pruning and resumable studies.

`tune(df, horizon=...)` splits `df` in time into a fit part and a validation tail (the last
`val_size` rows), fits one model per trial on the fit part with the tail as
`validation_data`, and minimises the validation MSE (see `validation_mse`). Nothing after the
end of `df` is ever read, so pass only the rows you may tune on (never a test split).

Every epoch's validation loss is reported to Optuna through a Lightning callback so the pruner
can stop hopeless trials early. Studies live in memory by default (nothing is written); with
an Optuna storage (an SQLite file, or `--out-dir DIR` on the command line), re-running with
the same `storage` and `study_name` resumes the study, and several worker
processes can share one study through an RDB URL or a `JournalStorage` (see docs/tuning.md).

The command line is `python -m txl_ts tune --dataset ETTh1 --horizon 96 ...` (see `run`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from .backtest import backtest
from .forecaster import TXLForecaster
from .params import Choice, FloatRange, Follows, IntRange, Ratio, Relative
from .training import TrainingDivergedError

SearchSpace = Callable[[optuna.trial.Trial], dict[str, Any]]

#: Errors that fail one trial (recorded in its "error" user attribute) but not the study.
TRIAL_ERRORS: tuple[type[Exception], ...] = (TrainingDivergedError, FloatingPointError,
                                             RuntimeError)

_ATTR = "txl_ts"  # study user attribute describing what the study was run on


@dataclass
class TuneResult:
    """What `tune` returns.

    `best_params` are the sampled `TXLForecaster` parameters of the best trial (derived ones
    such as `n_heads` and `stride` included), `best_model_params` those plus `fixed_params`,
    `best_value` its validation MSE, `best_model` a model refitted with them (None when
    `refit=False` or when no trial completed), `study` the Optuna study.
    """

    study: optuna.Study
    best_params: dict[str, Any] | None
    best_model_params: dict[str, Any] | None
    best_value: float | None
    best_model: TXLForecaster | None


# ---- search space ---------------------------------------------------------------------------
# The search space is the `search` entries of TXLForecaster's declarations (txl_ts.params).
SEARCH = {p.name: p.search for p in TXLForecaster.PARAMS if p.search is not None}
# The order in which the space draws: a seeded sampler gives each draw the next random numbers,
# so this order is part of what a seed means (and of resumed studies). Parameters declared
# searchable later are drawn after these, in declaration order, leaving these draws unchanged.
DRAW_ORDER = ("d_model", "n_heads", "n_layers", "d_ff", "patch_len", "stride", "lookback",
              "segment_len", "mem_len", "dropout", "lr", "batch_size")
LOOKBACK_CHOICES = SEARCH["lookback"].multiples  # seasons (patches without a known season)


def _draw_order() -> tuple[str, ...]:
    return (*(n for n in DRAW_ORDER if n in SEARCH), *(n for n in SEARCH if n not in DRAW_ORDER))


def optuna_name(name: str) -> str:
    """The Optuna parameter that samples `name` (a `Ratio` samples `<name>_ratio`)."""
    return f"{name}_ratio" if isinstance(SEARCH[name], Ratio) else name


def default_search_space(fixed: dict[str, Any] | None = None, *, patch_len: int | None = None,
                         lookbacks: Sequence[int] | None = None) -> SearchSpace:
    """The default, CPU-friendly search space; parameters in `fixed` are not sampled.

    Every distribution is static and comes from the `search` entries of `TXLForecaster`'s
    parameter declarations. `n_heads` is drawn from its choices restricted to the divisors of
    `d_model` (all of them unless `d_model` is fixed to something else), and `stride` is
    `patch_len` times a ratio in {1/2, 1}, so both constraints always hold (a fixed `n_heads`
    or `stride` restricts `d_model` or `patch_len` instead). `d_ff` follows `d_model` (2x)
    unless fixed.

    `patch_len` is the data's default patch (one season; `tune` passes it): `patch_len` is
    then drawn from half, one and two of it (at least 4 steps), else from {8, 16, 32}.
    `lookbacks` are the row counts `lookback` is drawn from (`tune` passes 2, 4, 8 and 14
    seasons, those the data can hold); without them `lookback` stays "auto".
    """
    fixed = dict(fixed or {})
    # keep the constraints when one side of them is fixed
    d_models = tuple(d for d in SEARCH["d_model"].values if d % int(fixed.get("n_heads", 1)) == 0)
    patch_rule = SEARCH["patch_len"]
    base = patch_rule.fallback if patch_len is None else patch_rule.values(patch_len)
    patches = tuple(n for n in base if n >= int(fixed.get("stride", 1)))
    if not d_models or not patches:
        raise ValueError(f"fixed n_heads={fixed.get('n_heads')} / stride={fixed.get('stride')} "
                         f"leave no d_model in {SEARCH['d_model'].values} / patch_len in "
                         f"{tuple(base)}; fix d_model / patch_len too")
    # the values a `Relative` entry is drawn from, for this data (none: not sampled)
    relative = {"patch_len": patches, "lookback": tuple(sorted({int(n) for n in lookbacks or ()}))}
    order = _draw_order()

    def space(trial: optuna.trial.Trial) -> dict[str, Any]:
        p: dict[str, Any] = {}
        value = dict(fixed)  # every parameter fixed or drawn so far, for rules that read one
        for name in order:
            if name in fixed:
                continue
            rule = SEARCH[name]
            if isinstance(rule, Follows):
                p[name] = rule.factor * value[rule.of]
            elif isinstance(rule, Ratio):
                ratio = trial.suggest_categorical(optuna_name(name), rule.ratios)
                p[name] = max(1, int(value[rule.of] * ratio))
            elif isinstance(rule, Relative):
                if not relative[name]:
                    continue
                p[name] = trial.suggest_categorical(name, relative[name])
            elif isinstance(rule, Choice):
                choices = rule.values
                if name == "d_model":
                    choices = d_models
                elif name == "n_heads":
                    choices = [h for h in rule.values if value["d_model"] % h == 0]
                p[name] = trial.suggest_categorical(name, choices)
            elif isinstance(rule, IntRange):
                p[name] = trial.suggest_int(name, rule.low, rule.high, log=rule.log)
            else:
                p[name] = trial.suggest_float(name, rule.low, rule.high, log=rule.log)
            value[name] = p[name]
        return p

    return space


@dataclass
class DataSpace:
    """What the default search space and its first trial take from the data: the resolved
    defaults of `TXLForecaster(horizon, **fixed)` on the data's frequency."""

    patch_len: int
    lookbacks: tuple[int, ...]
    defaults: dict[str, Any]  # the default model in the space's own parameter names

    def search_space(self, fixed: dict[str, Any]) -> SearchSpace:
        return default_search_space(fixed, patch_len=self.patch_len, lookbacks=self.lookbacks)


def data_space(fit_df: pd.DataFrame, horizon: int, fixed: dict[str, Any]) -> DataSpace:
    """The frequency-aware space for `fit_df`: patches around its season, the lookbacks of
    `LOOKBACK_CHOICES` that leave at least half of the fit rows for training origins, and
    the defaults (the first trial of a new study), so that the search starts from the model
    `TXLForecaster()` would fit and can only improve on it on validation."""
    from .frames.validate import _frequency

    model = TXLForecaster(horizon=horizon, **{k: v for k, v in fixed.items()
                                              if k in TXLForecaster().get_params()})
    time_col = model.time_col
    if time_col is not None and time_col in fit_df:
        stamps = pd.DatetimeIndex(fit_df[time_col])
    elif isinstance(fit_df.index, pd.DatetimeIndex):
        stamps = fit_df.index
    else:  # the model's own validation names this problem when a trial fits
        raise ValueError("tune needs a DatetimeIndex or time_col to read the frequency")
    model._resolve(_frequency(stamps, "df"))
    unit = model.season_ if model.season_ > 1 else model.patch_len_
    room = (len(fit_df) - horizon) // 2
    lookbacks = tuple(k * unit for k in LOOKBACK_CHOICES if k * unit <= room) or (2 * unit,)
    params = model.get_params()
    # the default model in the space's own terms: sampled parameters as they are, the ones
    # relative to the data as `fit` resolves them, a ratio as the one that gives the resolved
    # value (None when none does)
    defaults: dict[str, Any] = {}
    for name, rule in SEARCH.items():
        if isinstance(rule, (Choice, IntRange, FloatRange)):
            defaults[name] = params[name]
        elif isinstance(rule, Relative):
            defaults[name] = getattr(model, f"{name}_")
        elif isinstance(rule, Ratio):
            of, resolved = getattr(model, f"{rule.of}_"), getattr(model, f"{name}_")
            defaults[optuna_name(name)] = next(
                (r for r in rule.ratios if max(1, int(of * r)) == resolved), None)
    return DataSpace(model.patch_len_, lookbacks, defaults)


def first_trial(data: DataSpace, space: SearchSpace) -> dict[str, Any]:
    """The defaults, restricted to what `space` samples and to values inside its ranges (a
    default that a fixed parameter or the data rules out is left to the sampler)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the probe is not the user's study
    try:
        trial = optuna.create_study().ask()
    finally:
        optuna.logging.set_verbosity(verbosity)
    space(trial)
    kept = {}
    for name, dist in trial.distributions.items():
        value = data.defaults.get(name)
        if value is None:
            continue
        if isinstance(dist, optuna.distributions.CategoricalDistribution):
            if value in dist.choices:
                kept[name] = value
        elif dist.low <= value <= dist.high:
            kept[name] = value
    return kept


# ---- objective ------------------------------------------------------------------------------
def split_tail(df: pd.DataFrame, val_size: float | int, horizon: int) -> tuple[int, int]:
    """(fit rows, validation rows) of `df`: the validation tail is its last `val_size` rows
    (a fraction of `len(df)` or a count) and must hold at least one full horizon."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    n = len(df)
    if isinstance(val_size, bool) or not isinstance(val_size, (int, float, np.integer,
                                                               np.floating)):
        raise TypeError(f"val_size must be a fraction in (0, 1) or a row count, got {val_size!r}")
    if isinstance(val_size, (float, np.floating)) and not float(val_size).is_integer():
        if not 0.0 < val_size < 1.0:
            raise ValueError(f"val_size must be a fraction in (0, 1) or a row count, "
                             f"got {val_size}")
        n_val = int(round(val_size * n))
    else:
        n_val = int(val_size)
    if n_val < horizon:
        raise ValueError(f"the validation tail has {n_val} rows (val_size={val_size} of "
                         f"{n}); at least horizon={horizon} are needed to score one forecast")
    if n_val >= n:
        raise ValueError(f"val_size={val_size} leaves no rows to fit on (df has {n} rows)")
    return n - n_val, n_val


def validation_mse(model: TXLForecaster, df: pd.DataFrame, n_fit: int) -> float:
    """MSE in the model's scaled units (StandardScaler of `df[:n_fit]`) over every stride-1
    forecast window that lies entirely in the tail `df[n_fit:]`: cutoffs
    `n_fit - 1 .. len(df) - horizon - 1`, the benchmark protocol applied to the tail.
    Reads only rows of `df`."""
    result = backtest({"model": model}, df, model.horizon, start=n_fit, train_end=n_fit,
                      keep_forecasts=False)
    return float(result.metrics.loc["model", "mse"])


def _pruning_callback(trial: optuna.trial.Trial):
    # optuna-integration's callback subclasses lightning.pytorch's Callback (the package this
    # project trains with), so it can go straight into the Trainer.
    try:
        from optuna_integration import PyTorchLightningPruningCallback
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("pruning needs optuna-integration: pip install optuna-integration "
                          "(or pass pruner='none')") from err
    return PyTorchLightningPruningCallback(trial, monitor="val_loss")


def _model_kwargs(horizon: int, random_state: int | None, fixed: dict[str, Any],
                  sampled: dict[str, Any], callbacks: list) -> dict[str, Any]:
    clash = sorted(set(fixed) & set(sampled))
    if clash:
        raise ValueError(f"parameters {clash} are both in fixed_params and sampled by the "
                         "search space; drop them from one of the two")
    kwargs: dict[str, Any] = {"horizon": horizon, "random_state": random_state,
                              **fixed, **sampled}
    trainer_kwargs = dict(kwargs.get("trainer_kwargs") or {})
    trainer_kwargs.setdefault("enable_progress_bar", False)
    trainer_kwargs["callbacks"] = list(trainer_kwargs.get("callbacks") or []) + callbacks
    kwargs["trainer_kwargs"] = trainer_kwargs
    return kwargs


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(params, default=lambda o: o.item() if hasattr(o, "item")
                                 else str(o)))


# ---- study set-up ---------------------------------------------------------------------------
def _make_pruner(pruner: str | optuna.pruners.BasePruner) -> optuna.pruners.BasePruner:
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    choices = {
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1),
        "none": optuna.pruners.NopPruner,
    }
    if pruner not in choices:
        raise ValueError(f"pruner must be one of {sorted(choices)} or an optuna pruner, "
                         f"got {pruner!r}")
    return choices[pruner]()


def _describe(df: pd.DataFrame, horizon: int, n_fit: int, n_val: int,
              fixed: dict[str, Any]) -> dict[str, Any]:
    values = np.ascontiguousarray(df.select_dtypes("number").to_numpy(dtype=np.float64))
    fixed = dict(fixed)
    if "trainer_kwargs" in fixed:  # callbacks are objects; the rest sets the training budget
        fixed["trainer_kwargs"] = {k: v for k, v in (fixed["trainer_kwargs"] or {}).items()
                                   if k != "callbacks"}
    return {
        "horizon": int(horizon),
        "n_fit_rows": int(n_fit),
        "n_val_rows": int(n_val),
        "columns": [str(c) for c in df.columns],
        "data_sha1": hashlib.sha1(values.tobytes()).hexdigest()[:12],
        "fixed_params": _jsonable(fixed),
    }


def _check_same_setting(study: optuna.Study, setting: dict[str, Any]) -> None:
    """A resumed study must have been run on the same data, horizon, split and fixed
    parameters (training budget), or its objective values would not be comparable."""
    old = study.user_attrs.get(_ATTR)
    if old is None:
        study.set_user_attr(_ATTR, setting)
        return
    diff = sorted(k for k in setting if k in old and old[k] != setting[k])
    if diff:
        raise ValueError(
            f"study {study.study_name!r} was run with different {diff} "
            f"({ {k: old.get(k) for k in diff} } now { {k: setting[k] for k in diff} }); "
            "use another study_name or storage"
        )


# ---- public API -----------------------------------------------------------------------------
def tune(
    df: pd.DataFrame,
    horizon: int = 96,
    n_trials: int | None = 50,
    timeout: float | None = None,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    search_space: SearchSpace | None = None,
    pruner: str | optuna.pruners.BasePruner = "median",
    n_jobs: int = 1,
    random_state: int | None = 0,
    val_size: float | int = 0.2,
    fixed_params: dict[str, Any] | None = None,
    refit: bool = True,
    show_progress_bar: bool = False,
) -> TuneResult:
    """Search `TXLForecaster` hyperparameters on `df` with Optuna.

    The last `val_size` rows of `df` are the validation tail; each trial fits on the rows
    before it (with the tail as `validation_data` for early stopping and pruning) and scores
    `validation_mse` on the tail. Rows after `df` are never seen: pass only train+validation.

    - `storage`: an Optuna storage URL or object (e.g. "sqlite:///study.db") to keep the
      study; `None` (default) keeps it in memory and writes nothing. Re-running with the
      same `storage` and `study_name` resumes the study and runs `n_trials` more trials.
      `study_name` defaults to one derived from the horizon and the data.
    - `search_space`: `callable(trial) -> dict` of `TXLForecaster` parameters; default
      `data_space(...).search_space(fixed_params)`: patches around the data's season and
      lookbacks of 2 to 14 seasons, and a new study's first trial is the default model, so
      the best trial is never worse on validation than `TXLForecaster()`. `fixed_params`
      are passed to every trial (e.g. `max_epochs`, `patience`, `trainer_kwargs`) and must
      not overlap sampled ones.
    - `pruner`: "median", "hyperband", "none" or an `optuna.pruners.BasePruner`.
    - `random_state` seeds the TPE sampler (offset by the number of trials already in the
      study, so a resumed study does not repeat its start-up samples) and is every trial's
      model seed. Give each worker process sharing a study its own `random_state`.
    - Trials that raise one of `TRIAL_ERRORS` (divergence, out of memory) are recorded as
      failed, with the message in the trial's "error" user attribute; the study goes on.
    - `n_jobs > 1` runs trials in threads of this process (not reproducible); for real
      parallelism run several processes on one shared storage.
    """
    n_fit, n_val = split_tail(df, val_size, horizon)
    fixed = dict(fixed_params or {})
    for key in ("horizon", "val_size"):
        if key in fixed:
            raise ValueError(f"{key!r} is an argument of tune, not a fixed_param")
    fit_df, tail_df = df.iloc[:n_fit], df.iloc[n_fit:]
    data = data_space(fit_df, horizon, fixed) if search_space is None else None
    space = search_space if data is None else data.search_space(fixed)
    if not callable(space):
        raise TypeError("search_space must be a callable(trial) -> dict of model parameters")
    setting = _describe(df, horizon, n_fit, n_val, fixed)
    if study_name is None:
        study_name = f"txl_ts-h{horizon}-{setting['data_sha1']}"

    study = optuna.create_study(storage=storage, study_name=study_name, direction="minimize",
                                pruner=_make_pruner(pruner), load_if_exists=True)
    _check_same_setting(study, setting)
    if data is not None and not study.trials:
        study.enqueue_trial(first_trial(data, space), user_attrs={"defaults": True})
    seed = None if random_state is None else int(random_state) + len(study.trials)
    study.sampler = optuna.samplers.TPESampler(seed=seed)
    use_pruning = not isinstance(study.pruner, optuna.pruners.NopPruner)

    def objective(trial: optuna.trial.Trial) -> float:
        sampled = space(trial)
        callbacks = [_pruning_callback(trial)] if use_pruning else []
        kwargs = _model_kwargs(horizon, random_state, fixed, sampled, callbacks)
        trial.set_user_attr("model_params", _jsonable(sampled))
        trial.set_user_attr("random_state", random_state)
        try:
            model = TXLForecaster(**kwargs).fit(fit_df, validation_data=tail_df)
            score = validation_mse(model, df, n_fit)
            if not math.isfinite(score):
                raise FloatingPointError(f"validation MSE is {score}")
        except TRIAL_ERRORS as err:
            trial.set_user_attr("error", f"{type(err).__name__}: {err}")
            raise
        trial.set_user_attr("epochs", model.fit_summary_["epochs"])
        trial.set_user_attr("best_val_loss", model.fit_summary_["best_val_loss"])
        return score

    study.optimize(objective, n_trials=n_trials, timeout=timeout, n_jobs=n_jobs,
                   catch=TRIAL_ERRORS, show_progress_bar=show_progress_bar)

    completed = study.get_trials(deepcopy=False,
                                 states=(optuna.trial.TrialState.COMPLETE,))
    if not completed:
        warnings.warn(f"no trial of study {study_name!r} completed; see the trials' states "
                      "and their 'error' user attributes", RuntimeWarning, stacklevel=2)
        return TuneResult(study, None, None, None, None)
    best = study.best_trial
    best_params = dict(best.user_attrs["model_params"])
    # the seed of the worker that ran the best trial, so that the refit reproduces it
    model_params = _model_kwargs(horizon, best.user_attrs.get("random_state", random_state),
                                 fixed, best_params, [])
    best_model = None
    if refit:
        best_model = TXLForecaster(**model_params).fit(fit_df, validation_data=tail_df)
    return TuneResult(study, best_params, model_params, float(best.value), best_model)


# ---- command line ---------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `tune` sub-command's options (defined in `txl_ts.cli`)."""
    from .cli import add_tune_arguments

    add_tune_arguments(parser)


def study_storage(storage: str | None, out_dir: Path | None) -> tuple[str | None, str]:
    """The Optuna storage for the `tune` command and a sentence saying where the study lives.

    Nothing is written unless asked for: without `--storage` the study is kept in memory, or,
    with `--out-dir`, in the SQLite file `out_dir/study.db` (a rerun resumes it).

    Parameters
    ----------
    storage : str or None
        `--storage`: an Optuna storage URL, "memory", or None.
    out_dir : pathlib.Path or None
        `--out-dir`.

    Returns
    -------
    tuple of (str or None, str)
        The storage URL for `tune` (None: in memory) and the sentence.
    """
    if storage is not None and storage != "memory":
        return storage, f"stored in {storage} (a rerun with the same --study-name resumes it)"
    if storage is None and out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(out_dir / 'study.db').resolve()}"
        return url, f"stored in {url} (a rerun with the same --out-dir resumes it)"
    return None, ("kept in memory only: nothing is written (pass --storage URL or --out-dir "
                  "DIR to keep and resume it)")


def run(args: argparse.Namespace) -> int:
    from .benchmark import data_options, dataset_label, load_protocol

    optuna.logging.set_verbosity(optuna.logging.INFO)
    full, split = load_protocol(args.dataset, **data_options(args))
    # the benchmark's train and validation rows only: the test split never reaches tune
    df = full.iloc[: split.test_start]
    n_fit, n_val = split.train_end, split.test_start - split.train_end
    fixed: dict[str, Any] = {}
    if args.max_epochs is not None:
        fixed["max_epochs"] = args.max_epochs
    if args.max_train_batches is not None:
        fixed["trainer_kwargs"] = {"limit_train_batches": args.max_train_batches}
    storage, where = study_storage(args.storage, args.out_dir)
    print(f"study: {where}", flush=True)
    result = tune(
        df, horizon=args.horizon, n_trials=args.n_trials, timeout=args.timeout,
        storage=storage,
        study_name=args.study_name or f"{dataset_label(args.dataset)}-h{args.horizon}",
        pruner=args.pruner, random_state=args.seed, val_size=n_val, fixed_params=fixed,
        refit=args.save_model is not None,
    )
    states = pd.Series([t.state.name for t in result.study.trials]).value_counts()
    print(f"study {result.study.study_name!r}: {len(result.study.trials)} trials "
          f"({', '.join(f'{n} {s.lower()}' for s, n in states.items())})")
    if result.best_params is None:
        print("no trial completed")
        return 1
    print(f"validation MSE (scaled, rows {n_fit}..{n_fit + n_val - 1}): {result.best_value:.4f}")
    first = result.study.trials[0]
    if first.state == optuna.trial.TrialState.COMPLETE and first.user_attrs.get("defaults"):
        print(f"  the default model (trial 0): {first.value:.4f}")
    print("best parameters:")
    for key, value in result.best_params.items():
        print(f"  {key} = {value}")
    if args.save_model is not None and result.best_model is not None:
        print(f"saved the refitted best model to {result.best_model.save(args.save_model)}")
    return 0
