"""The default search space of `txl_ts.tuning.tune`, derived from the data.

The distributions are the `search` entries of `TXLForecaster`'s parameter declarations
(`txl_ts.params`); `data_space` places the season-relative ones (patch length, lookback) on
the data's frequency and finds the default model, which a new study tries first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd

from .forecaster import TXLForecaster
from .params import Choice, FloatRange, Follows, IntRange, Ratio, Relative

#: `callable(trial) -> dict` of `TXLForecaster` parameters sampled for one trial.
SearchSpace = Callable[[optuna.trial.Trial], dict[str, Any]]

# The search space is the `search` entries of TXLForecaster's declarations (txl_ts.params).
SEARCH = {p.name: p.search for p in TXLForecaster.PARAMS if p.search is not None}
# The order in which the space draws: a seeded sampler gives each draw the next random numbers,
# so this order is part of what a seed means (and of resumed studies). Parameters declared
# searchable later are drawn after these, in declaration order, leaving these draws unchanged.
DRAW_ORDER = ("d_model", "n_heads", "n_layers", "d_ff", "patch_len", "stride", "lookback",
              "segment_len", "mem_len", "dropout", "lr", "batch_size")
# drawn only for models with future-known covariates (they shape nothing else), so that a
# seed gives the trials of a model without covariates that it gave before they existed
FUTURE_COVARIATE_SEARCH = ("covariate_width", "covariate_dropout")
FUTURE_KNOWN = ("future_covariates", "calendar", "holidays")  # the parameters that add them
LOOKBACK_CHOICES = SEARCH["lookback"].multiples  # seasons (patches without a known season)


def _draw_order() -> tuple[str, ...]:
    return (*(n for n in DRAW_ORDER if n in SEARCH), *(n for n in SEARCH if n not in DRAW_ORDER))


def optuna_name(name: str) -> str:
    """The Optuna parameter that samples `name` (a `Ratio` samples `<name>_ratio`).

    Parameters
    ----------
    name : str
        A searchable `TXLForecaster` parameter (a key of `SEARCH`).

    Returns
    -------
    str
        The name of its Optuna distribution in a trial.
    """
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

    Parameters
    ----------
    fixed : dict or None, default None
        Parameters every trial takes as they are (not sampled); None: none. When they give
        the model future-known covariates (`future_covariates`, `calendar` or `holidays`),
        the covariate encoder's `covariate_width` and `covariate_dropout` are drawn too,
        after the rest.
    patch_len : int or None, default None
        The data's default patch; None: draw `patch_len` from {8, 16, 32}.
    lookbacks : sequence of int or None, default None
        The lookbacks to draw from; None: `lookback` is not sampled.

    Returns
    -------
    callable
        `space(trial) -> dict` of the sampled `TXLForecaster` parameters.

    Raises
    ------
    ValueError
        When a fixed `n_heads` or `stride` leaves no `d_model` or `patch_len` to draw.
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
    if not any(fixed.get(name) for name in FUTURE_KNOWN):
        order = tuple(n for n in order if n not in FUTURE_COVARIATE_SEARCH)

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
                if not relative.get(name):  # no unit known for it on this data: the default
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
        """The default space on this data (`default_search_space`), `fixed` not sampled."""
        return default_search_space(fixed, patch_len=self.patch_len, lookbacks=self.lookbacks)


def data_space(fit_df: pd.DataFrame, horizon: int, fixed: dict[str, Any]) -> DataSpace:
    """The frequency-aware space for `fit_df`: patches around its season, the lookbacks of
    `LOOKBACK_CHOICES` that leave at least half of the fit rows for training origins, and
    the defaults (the first trial of a new study), so that the search starts from the model
    `TXLForecaster()` would fit and can only improve on it on validation.

    Parameters
    ----------
    fit_df : pandas.DataFrame
        The fit rows (a DatetimeIndex or the model's `time_col`).
    horizon : int
        The forecast horizon.
    fixed : dict
        `tune`'s `fixed_params` (a fixed `patch_len` or `time_col` changes the space).

    Returns
    -------
    DataSpace
        The data's patch length, lookbacks and default model.

    Raises
    ------
    ValueError
        When the frequency cannot be read from `fit_df`.
    """
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
        elif isinstance(rule, Relative):  # None (left to the sampler) if fit resolves none
            defaults[name] = getattr(model, f"{name}_", None)
        elif isinstance(rule, Ratio):
            of, resolved = getattr(model, f"{rule.of}_", None), getattr(model, f"{name}_", None)
            defaults[optuna_name(name)] = next(
                (r for r in rule.ratios if of is not None and resolved is not None
                 and max(1, int(of * r)) == resolved), None)
    return DataSpace(model.patch_len_, lookbacks, defaults)


def first_trial(data: DataSpace, space: SearchSpace) -> dict[str, Any]:
    """The defaults, restricted to what `space` samples and to values inside its ranges (a
    default that a fixed parameter or the data rules out is left to the sampler).

    Parameters
    ----------
    data : DataSpace
        The data's defaults.
    space : callable
        The search space the study samples.

    Returns
    -------
    dict
        Optuna parameter values for `study.enqueue_trial`.
    """
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
