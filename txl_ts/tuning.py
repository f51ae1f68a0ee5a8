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

A study given as a URL keeps heartbeats: a trial whose worker was killed is marked FAIL by
the next `tune` on the study, and Ctrl-C marks the running trial FAIL before it stops, so no
trial stays RUNNING for good. A study that `tune` cannot continue (one that maximises, or one
created by another program) is refused with a message naming it.

The default search space lives in `txl_ts.search_space` and the study handling (storages,
heartbeats, refusals) in `txl_ts.studies`; their public names are importable from here too.
The space is every `search=` entry of `TXLForecaster`'s parameter declarations, so a
parameter declared searchable (a covariate encoder's, say) is searched without a change here.

Covariates: pass the column roles in `fixed_params` (`targets`, `past_covariates`,
`future_covariates`, `calendar`, `holidays`); every trial's model gets them, the validation
MSE covers the targets only, and a stored study records them (a resumed study must have the
same). On the command line, `--target`, `--past-covariates`, `--future-covariates`,
`--calendar` and `--holidays` do this.

The command line is `python -m txl_ts tune --dataset ETTh1 --horizon 96 ...` (see `run`).
"""

from __future__ import annotations

import argparse
import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd

from .backtest import backtest
from .forecaster import TXLForecaster
from .search_space import (  # noqa: F401 - re-exported: txl_ts.tuning's public names
    DRAW_ORDER,
    LOOKBACK_CHOICES,
    SEARCH,
    DataSpace,
    SearchSpace,
    _draw_order,
    data_space,
    default_search_space,
    first_trial,
    optuna_name,
)
from .studies import (  # noqa: F401 - study_storage re-exported for the command line
    TrialInterrupted,
    check_study,
    describe,
    fail_stale,
    failing_on_interrupt,
    jsonable,
    make_pruner,
    open_storage,
    sigterm_as_interrupt,
    study_storage,
)
from .training import TrainingDivergedError
from .tuning_data import (  # noqa: F401 - split_tail re-exported: txl_ts.tuning's public names
    LongTail,
    long_validation_mse,
    split_long_tail,
    split_tail,
)

#: Errors that fail one trial (recorded in its "error" user attribute) but not the study.
TRIAL_ERRORS: tuple[type[Exception], ...] = (TrainingDivergedError, FloatingPointError,
                                             RuntimeError)


@dataclass
class TuneResult:
    """What `tune` returns.

    Attributes
    ----------
    study : optuna.Study
        The study, with every trial (their "error" user attribute says why one failed).
    best_params : dict or None
        The sampled `TXLForecaster` parameters of the best trial (derived ones such as
        `n_heads` and `stride` included); None when no trial completed.
    best_model_params : dict or None
        Those plus `fixed_params`, `horizon` and the seed: the refit's constructor arguments.
    best_value : float or None
        The best trial's validation MSE.
    best_model : TXLForecaster or None
        A model refitted with `best_model_params` (None when `refit=False` or when no trial
        completed).
    """

    study: optuna.Study
    best_params: dict[str, Any] | None
    best_model_params: dict[str, Any] | None
    best_value: float | None
    best_model: TXLForecaster | None


# ---- objective ------------------------------------------------------------------------------
def validation_mse(model: TXLForecaster, df: pd.DataFrame, n_fit: int) -> float:
    """The validation score `tune` minimises.

    The MSE in the model's scaled units (StandardScaler of the targets in `df[:n_fit]`;
    covariate columns are never scored) over every stride-1
    forecast window that lies entirely in the tail `df[n_fit:]`: cutoffs
    `n_fit - 1 .. len(df) - horizon - 1`, the benchmark protocol applied to the tail.
    Reads only rows of `df`.

    Parameters
    ----------
    model : TXLForecaster
        A model fitted on `df[:n_fit]`.
    df : pandas.DataFrame
        The fit rows followed by the validation tail.
    n_fit : int
        The number of fit rows.

    Returns
    -------
    float
        The MSE (NaN or infinite when the model's forecasts are).
    """
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
    heartbeat_interval: int | None = 60,
    grace_period: int | None = 120,
) -> TuneResult:
    """Search `TXLForecaster` hyperparameters on `df` with Optuna.

    The last `val_size` rows of `df` are the validation tail; each trial fits on the rows
    before it (with the tail as `validation_data` for early stopping and pruning) and scores
    `validation_mse` on the tail. Rows after `df` are never seen: pass only train+validation.
    Trials that raise one of `TRIAL_ERRORS` (divergence, out of memory) are recorded as
    failed, with the message in the trial's "error" user attribute, and the study goes on.

    Parameters
    ----------
    df : pandas.DataFrame
        The rows to tune on (a DatetimeIndex or the model's `time_col`), never a test split.
        A long frame (one row per series and timestamp) when `fixed_params` names `id_col`
        and `time_col`: every trial fits one global model over all series, each series'
        last `val_size` rows are its validation tail, and the score is the pooled
        validation MSE (`long_validation_mse`: the mean of the series' MSEs).
    horizon : int, default 96
        The forecast horizon of every trial's model.
    n_trials : int or None, default 50
        Trials to run in this call, a positive int (a resumed study gets this many more).
        None runs until `timeout`.
    timeout : float or None, default None
        Seconds after which no new trial starts; None: no limit.
    storage : str, optuna.storages.BaseStorage or None, default None
        Where the study lives. None keeps it in memory and writes nothing. A URL
        ("sqlite:///study.db", "postgresql://...") opens an `RDBStorage` with heartbeats
        (see `heartbeat_interval`); a storage object is used as it is. Re-running with the
        same storage and `study_name` resumes the study.
    study_name : str or None, default None
        The study's name; None derives one from the horizon and the data.
    search_space : callable or None, default None
        `callable(trial) -> dict` of `TXLForecaster` parameters. None: the default space of
        `data_space(...)`: patches around the data's season, lookbacks of 2 to 14 seasons,
        and a new study's first trial is the default model, so the best trial is never worse
        on validation than `TXLForecaster()`.
    pruner : str or optuna.pruners.BasePruner, default "median"
        "median", "hyperband", "none" or a pruner; it sees every epoch's validation loss.
    n_jobs : int, default 1
        Trials in threads of this process (not reproducible). For real parallelism run
        several processes on one shared storage.
    random_state : int or None, default 0
        Seeds the TPE sampler (offset by the trials already in the study, so a resumed study
        does not repeat its start-up samples) and every trial's model. Give each worker
        process sharing a study its own value.
    val_size : float, int or mapping, default 0.2
        The validation tail: a fraction in (0, 1) of `len(df)` or a row count of at least
        `horizon`. For a long frame, per series: a fraction of its rows, a row count, or a
        mapping {series id: row count}.
    fixed_params : dict or None, default None
        `TXLForecaster` parameters for every trial (e.g. `max_epochs`, `patience`,
        `trainer_kwargs`, and the column roles `targets`, `past_covariates`,
        `future_covariates`, `calendar`, `holidays` for a frame with covariates); they must
        not overlap the sampled ones. A resumed study must have the same ones (they set the
        training budget and what the model sees).
    refit : bool, default True
        Fit the best parameters once more and return that model; False to skip it.
    show_progress_bar : bool, default False
        Optuna's progress bar.
    heartbeat_interval : int or None, default 60
        For a storage given as a URL: seconds between a running trial's heartbeats. A trial
        whose worker was killed hard (SIGKILL, SIGTERM, a lost machine) is marked FAIL by the
        next `tune` on the study once `grace_period` passes without a heartbeat. None turns
        heartbeats off (then such a trial stays RUNNING).
    grace_period : int or None, default 120
        Seconds without a heartbeat after which a running trial counts as dead; keep it well
        above `heartbeat_interval` (None: twice the interval, Optuna's default).

    Returns
    -------
    TuneResult
        The study, the best trial's parameters and validation MSE, and the refitted model
        (all None but the study when no trial completed, with a RuntimeWarning).

    Raises
    ------
    TypeError
        When `df` is no DataFrame, `n_trials` no int, or `search_space` not callable.
    ValueError
        On a bad `n_trials`, `val_size`, `pruner` or `fixed_params`; when the storage cannot
        be opened (the message names the URL, password hidden); when the stored study
        maximises, was not created by `tune`, or was run on other data, horizon, split or
        fixed parameters.
    KeyboardInterrupt
        On Ctrl-C, after the interrupted trial has been marked FAIL in the storage.
    """
    if n_trials is not None:
        if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral):
            raise TypeError(f"n_trials must be a positive int or None, got {n_trials!r}")
        if n_trials < 1:
            raise ValueError(f"n_trials must be a positive int or None, got {n_trials}")
        n_trials = int(n_trials)
    fixed = dict(fixed_params or {})
    long: LongTail | None = None
    if fixed.get("id_col") is None:
        n_fit, n_val = split_tail(df, val_size, horizon)
        fit_df, tail_df, space_df = df.iloc[:n_fit], df.iloc[n_fit:], df.iloc[:n_fit]
    else:  # a long frame: every series' own tail; the study records the rows in all
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        long = split_long_tail(df, val_size, horizon, id_col=fixed["id_col"],
                               time_col=fixed.get("time_col"))
        fit_df, tail_df, space_df = long.fit, long.tail, long.shortest_fit
        n_fit, n_val = sum(long.n_fit.values()), sum(long.n_val.values())
    for key in ("horizon", "val_size"):
        if key in fixed:
            raise ValueError(f"{key!r} is an argument of tune, not a fixed_param")
    data = data_space(space_df, horizon, fixed) if search_space is None else None
    space = search_space if data is None else data.search_space(fixed)
    if not callable(space):
        raise TypeError("search_space must be a callable(trial) -> dict of model parameters")
    setting = describe(df, horizon, n_fit, n_val, fixed)
    if study_name is None:
        study_name = f"txl_ts-h{horizon}-{setting['data_sha1']}"

    study = optuna.create_study(
        storage=open_storage(storage, heartbeat_interval, grace_period), study_name=study_name,
        direction="minimize", pruner=make_pruner(pruner), load_if_exists=True)
    check_study(study, setting)
    fail_stale(study)
    if data is not None and not study.trials:
        # skip_if_exists: a worker started at the same moment may have enqueued it already
        # (this narrows that race; it cannot close it: both may see no trials)
        study.enqueue_trial(first_trial(data, space), user_attrs={"defaults": True},
                            skip_if_exists=True)
    seed = None if random_state is None else int(random_state) + len(study.trials)
    study.sampler = optuna.samplers.TPESampler(seed=seed)
    use_pruning = not isinstance(study.pruner, optuna.pruners.NopPruner)

    with failing_on_interrupt(study) as started:
        def objective(trial: optuna.trial.Trial) -> float:
            started(trial)
            sampled = space(trial)
            callbacks = [_pruning_callback(trial)] if use_pruning else []
            kwargs = _model_kwargs(horizon, random_state, fixed, sampled, callbacks)
            trial.set_user_attr("model_params", jsonable(sampled))
            trial.set_user_attr("random_state", random_state)
            try:
                model = TXLForecaster(**kwargs).fit(fit_df, validation_data=tail_df)
                score = (validation_mse(model, df, n_fit) if long is None
                         else long_validation_mse(model, df, long))
                if not math.isfinite(score):
                    raise FloatingPointError(f"validation MSE is {score}")
            except TRIAL_ERRORS as err:
                trial.set_user_attr("error", f"{type(err).__name__}: {err}")
                raise
            except (KeyboardInterrupt, SystemExit) as err:
                # Lightning answers a Ctrl-C during a fit with sys.exit(1), which Optuna
                # lets through with the trial still RUNNING; failing_on_interrupt fails it.
                trial.set_user_attr("error", f"interrupted ({type(err).__name__})")
                raise TrialInterrupted(type(err).__name__) from err
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
    """Add the `tune` sub-command's options (defined in `txl_ts.cli`).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.
    """
    from .cli import add_tune_arguments

    add_tune_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """`python -m txl_ts tune`: tune on a data set's train+validation rows and print the best.

    The benchmark's validation split is the validation tail; its test split is never read.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed `tune` options (`txl_ts.cli.add_tune_arguments`).

    Returns
    -------
    int
        0 when a trial completed, 1 when none did.

    Raises
    ------
    ValueError
        On a bad data set, storage, study or `--out-dir` (one line on the command line).
    """
    from .benchmark import data_options, dataset_label, load_protocol
    from .grid_files import short_hash
    from .protocol import model_roles

    optuna.logging.set_verbosity(optuna.logging.INFO)
    data = data_options(args)
    val_size: int | dict[Any, int]
    if getattr(args, "id_col", None) is not None:  # a long CSV: each series split on its own
        from .protocol_long import load_long_protocol, long_roles

        long = load_long_protocol(args.dataset, args.horizon, id_col=args.id_col, **data)
        roles = long_roles(long, data)  # id, time, targets and covariates: fixed
        covariates = {k: v for k, v in roles.items()
                      if k not in ("id_col", "time_col", "targets")}
        # every series' train and validation rows only: no test row reaches tune
        df = long.head(long.borders("test_start"))
        val_size = {sid: s.test_start - s.train_end for sid, s in long.splits.items()}
        n_fit, n_val = sum(long.borders("train_end").values()), sum(val_size.values())
        scope = f"pooled over the validation rows of {len(val_size)} series, {n_val} in all"
    else:
        full, split = load_protocol(args.dataset, **data)
        roles = model_roles(full, data)  # every trial's model gets them (fixed, not searched)
        covariates = roles
        # the benchmark's train and validation rows only: the test split never reaches tune
        df = full.iloc[: split.test_start]
        n_fit, n_val = split.train_end, split.test_start - split.train_end
        val_size, scope = n_val, f"rows {n_fit}..{n_fit + n_val - 1}"
    fixed: dict[str, Any] = dict(roles)
    if args.max_epochs is not None:
        fixed["max_epochs"] = args.max_epochs
    if args.max_train_batches is not None:
        fixed["trainer_kwargs"] = {"limit_train_batches": args.max_train_batches}
    grace_period = args.grace_period or 2 * args.heartbeat
    if grace_period <= args.heartbeat:  # a live worker's trial would be failed between beats
        raise ValueError(f"--grace-period ({grace_period} s) must exceed --heartbeat "
                         f"({args.heartbeat} s)")
    storage, where = study_storage(args.storage, args.out_dir)
    print(f"study: {where}", flush=True)
    # a study with covariates is another study: its own default name, so that both can live
    # in one storage
    tag = f"-cov-{short_hash(jsonable(covariates))}" if covariates else ""
    if covariates:
        print(f"roles: {', '.join(f'{k}={v}' for k, v in covariates.items())}", flush=True)
    with sigterm_as_interrupt():
        result = tune(
            df, horizon=args.horizon, n_trials=args.n_trials, timeout=args.timeout,
            storage=storage,
            study_name=args.study_name or f"{dataset_label(args.dataset)}-h{args.horizon}{tag}",
            pruner=args.pruner, random_state=args.seed, val_size=val_size, fixed_params=fixed,
            refit=args.save_model is not None, heartbeat_interval=args.heartbeat,
            grace_period=grace_period,
        )
    states = pd.Series([t.state.name for t in result.study.trials]).value_counts()
    print(f"study {result.study.study_name!r}: {len(result.study.trials)} trials "
          f"({', '.join(f'{n} {s.lower()}' for s, n in states.items())})")
    if result.best_params is None:
        print("no trial completed")
        return 1
    print(f"validation MSE (scaled, {scope}): {result.best_value:.4f}")
    first = result.study.trials[0]
    if first.state == optuna.trial.TrialState.COMPLETE and first.user_attrs.get("defaults"):
        print(f"  the default model (trial 0): {first.value:.4f}")
    print("best parameters:")
    for key, value in result.best_params.items():
        print(f"  {key} = {value}")
    if args.save_model is not None and result.best_model is not None:
        print(f"saved the refitted best model to {result.best_model.save(args.save_model)}")
    return 0
