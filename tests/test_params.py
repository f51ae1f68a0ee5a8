"""Parameters declared once: signatures, docstrings, constraints, search space and the grid
all follow the declarations in each estimator's `PARAMS`."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.utils._param_validation import validate_parameter_constraints

from txl_ts import TXLForecaster
from txl_ts.baselines import ARIMAForecaster, DLinearForecaster, LSTMForecaster, NaiveForecaster
from txl_ts.benchmark import (
    ESTIMATORS,
    PARAM_GROUP,
    STOCHASTIC,
    estimator_class,
    group_params,
    make_model,
)
from txl_ts.params import LR, Param, declared, positive_int
from txl_ts.persistence import CorruptModelError
from txl_ts.tuning import DRAW_ORDER, SEARCH, _draw_order, default_search_space

optuna.logging.set_verbosity(optuna.logging.WARNING)
ESTIMATOR_CLASSES = [TXLForecaster, LSTMForecaster, DLinearForecaster, ARIMAForecaster,
                     NaiveForecaster]


# ---- each estimator's declarations against its signature, docstring and constraints ---------
@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES)
def test_init_signature_is_exactly_the_declarations(cls):
    signature = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [(p.name, p.default) for p in signature] == [(p.name, p.default) for p in cls.PARAMS]
    # __init__ only stores: get_params gives back the declared defaults
    assert cls().get_params(deep=False) == {p.name: p.default for p in cls.PARAMS}


def test_a_signature_that_drifts_from_the_declarations_is_refused_at_class_creation():
    with pytest.raises(TypeError, match="must agree"):
        @declared
        class Drifted:
            PARAMS = (Param("a", 1, [positive_int()], "A."),)

            def __init__(self, a: int = 2):
                self.a = a


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES)
def test_docstring_documents_every_declared_parameter(cls):
    doc = inspect.getdoc(cls)
    section = doc[doc.index("Parameters\n----------\n"):]
    entries = re.findall(r"^(\w+) : (.+), default=(.+)$", section, flags=re.MULTILINE)
    assert [(name, default) for name, _, default in entries] == [
        (p.name, repr(p.default)) for p in cls.PARAMS]
    for p in cls.PARAMS:
        body = section.split(f"\n{p.name} : ", 1)[1].split("\n", 1)[1]
        first = body.split("\n")[0]
        assert first.startswith("    ") and len(first.strip()) > 20, p.name


def test_txl_docstring_types():
    doc = inspect.getdoc(TXLForecaster)
    assert "norm_scale : bool, default=False\n    Divide by the causal standard deviation" in doc
    assert "patch_len : int or {'auto'}, default='auto'" in doc
    assert "loss : {'huber', 'mse', 'mae'}, default='huber'" in doc


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES)
def test_constraints_come_from_the_declarations_and_hold_for_the_defaults(cls):
    assert cls._parameter_constraints == {p.name: p.constraints for p in cls.PARAMS}
    validate_parameter_constraints(cls._parameter_constraints, cls().get_params(),
                                   caller_name=cls.__name__)


def test_shared_declarations_are_reused_with_their_own_defaults():
    lrs = {cls.__name__: next(p for p in cls.PARAMS if p.name == "lr")
           for cls in (TXLForecaster, LSTMForecaster, DLinearForecaster)}
    assert lrs["LSTMForecaster"] is LR
    assert {k: v.default for k, v in lrs.items()} == {
        "TXLForecaster": 3e-4, "LSTMForecaster": 1e-3, "DLinearForecaster": 0.005}
    assert all(v.constraints == LR.constraints for v in lrs.values())


def test_training_only_names_follow_the_flags():
    # the names TXLForecaster listed by hand before they were derived
    assert set(TXLForecaster._TRAINING_ONLY_PARAMS) == {
        "accelerator", "trainer_kwargs", "lr", "weight_decay", "dropout", "max_epochs",
        "patience", "batch_size", "random_state", "val_size", "loss", "linear_init",
        "n_segments", "burn_in", "stateful", "verbose", "covariate_dropout"}
    assert set(LSTMForecaster._TRAINING_ONLY_PARAMS) == {
        "accelerator", "trainer_kwargs", "lr", "weight_decay", "dropout", "max_epochs",
        "patience", "batch_size", "random_state", "val_size", "window_step", "verbose"}
    # fitting series in parallel does not change what is fitted
    assert ARIMAForecaster._TRAINING_ONLY_PARAMS == ("n_jobs",)
    assert NaiveForecaster._TRAINING_ONLY_PARAMS == ()


def _hourly(n: int = 200) -> pd.DataFrame:
    t = np.arange(n)
    return pd.DataFrame({"a": np.sin(2 * np.pi * t / 24), "b": np.cos(2 * np.pi * t / 24)},
                        index=pd.date_range("2024-01-01", periods=n, freq="h"))


def test_a_training_only_parameter_may_change_after_fit_but_not_others():
    model = LSTMForecaster(horizon=4, lookback=24, hidden_size=4, n_layers=1, max_epochs=1,
                           trainer_kwargs={"enable_progress_bar": False}).fit(_hourly())
    forecast = model.predict()
    model.set_params(lr=0.5, window_step=3, accelerator="cpu")
    pd.testing.assert_frame_equal(model.predict(), forecast)
    model.set_params(hidden_size=8)
    with pytest.raises(ValueError, match="hidden_size=4 -> 8"):
        model.predict()


@pytest.mark.parametrize("field, value", [
    ("method", "mean"), ("horizon", 0), ("horizon", True), ("season", "24")])
def test_load_checks_stored_params_through_the_declarations(tmp_path, field, value):
    path = NaiveForecaster(horizon=6, method="seasonal").fit(_hourly()).save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    config["params"][field] = value
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CorruptModelError, match=rf"config.json: field 'params\.{field}' is "
                                                rf"invalid: The '{field}' parameter"):
        NaiveForecaster.load(path)


def test_load_names_a_bad_accelerator_with_its_choices(tmp_path):
    model = DLinearForecaster(horizon=4, lookback=24, kernel=5, max_epochs=1,
                              trainer_kwargs={"enable_progress_bar": False}).fit(_hourly())
    path = model.save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    config["params"]["accelerator"] = "banana"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CorruptModelError, match=r"field 'params\.accelerator' is invalid: .*"
                                                r"\{'auto', 'cpu', 'gpu', 'cuda', 'mps', 'tpu'\}"):
        DLinearForecaster.load(path)
    config["params"]["accelerator"] = "cpu"
    (path / "config.json").write_text(json.dumps(config))
    pd.testing.assert_frame_equal(DLinearForecaster.load(path).predict(), model.predict())


# ---- the benchmark grid's parameter groups --------------------------------------------------
def test_parameter_groups_follow_the_estimator_classes():
    for name in ESTIMATORS:
        cls = estimator_class(name)
        group = PARAM_GROUP.get(name)
        same_class = {m for m in ESTIMATORS if estimator_class(m) is cls}
        # every model of a class is configured by the same group (or none: the naives)
        assert {PARAM_GROUP.get(m) for m in same_class} == {group}
        assert (name in STOCHASTIC) == ("random_state" in cls._parameter_constraints)
    assert group_params("arima-nonseasonal", {"d_model": 8}, {"arima": {"maxiter": 5}}) == {
        "maxiter": 5}
    assert group_params("txl-nomem", {"d_model": 8}, {"lstm": {"lr": 1.0}}) == {"d_model": 8}
    assert group_params("snaive", {"d_model": 8}, {"arima": {"maxiter": 5}}) == {}


def test_make_model_applies_a_group_and_the_run_settings_where_declared():
    model = make_model("arima-nonseasonal", 12, seed=3, max_epochs=2,
                       model_params={"arima": {"maxiter": 5}})
    assert model.get_params()["maxiter"] == 5 and model.get_params()["seasonal"] is False
    model = make_model("txl-nomem", 12, seed=3, max_epochs=2, txl_params={"mem_len": 8})
    assert (model.mem_len, model.random_state, model.max_epochs) == (0, 3, 2)
    assert model.trainer_kwargs == {"enable_progress_bar": False}
    with pytest.raises(ValueError, match=r"unknown lstm parameter\(s\) \['d_model'\]: "
                                         r"LSTMForecaster declares horizon, lookback"):
        make_model("lstm", 12, model_params={"lstm": {"d_model": 8}})


# ---- the search space -----------------------------------------------------------------------
def test_covariate_encoder_is_searched_only_with_future_known_covariates():
    def drawn(fixed):
        return set(_trials(default_search_space(fixed), 0, 1)[0][1])

    assert not drawn({}) & {"covariate_width", "covariate_dropout"}
    assert {"covariate_width", "covariate_dropout"} <= drawn({"holidays": "AU"})


def test_search_entries_are_drawn_in_a_fixed_order():
    # today's order first (a seed's trials depend on it); a parameter declared searchable
    # later would be drawn after these
    assert set(DRAW_ORDER) <= set(SEARCH)
    assert _draw_order()[: len(DRAW_ORDER)] == DRAW_ORDER
    assert SEARCH["lr"] == next(p.search for p in TXLForecaster.PARAMS if p.name == "lr")


# ---- the search space as it was before it was derived from the declarations -----------------
# A frozen copy: the derived space must sample the same distributions under the same Optuna
# names in the same order, so that stored studies resume and a seed gives the same trials.
_D_MODELS = (16, 32, 64, 128)
_HEADS = (1, 2, 4, 8)


def reference_search_space(fixed: dict[str, Any] | None = None, *, patch_len: int | None = None,
                           lookbacks: Sequence[int] | None = None
                           ) -> Callable[[optuna.trial.Trial], dict[str, Any]]:
    fixed = dict(fixed or {})
    d_models = tuple(d for d in _D_MODELS if d % int(fixed.get("n_heads", 1)) == 0)
    base = (8, 16, 32) if patch_len is None else sorted({max(4, patch_len // 2), patch_len,
                                                          2 * patch_len})
    patches = tuple(n for n in base if n >= int(fixed.get("stride", 1)))
    lookback_rows = tuple(sorted({int(n) for n in lookbacks or ()}))

    def space(trial: optuna.trial.Trial) -> dict[str, Any]:
        p: dict[str, Any] = {}

        def pick(name: str, sample: Callable[[], Any]) -> Any:
            if name in fixed:
                return fixed[name]
            p[name] = sample()
            return p[name]

        d_model = pick("d_model", lambda: trial.suggest_categorical("d_model", d_models))
        heads = [h for h in _HEADS if d_model % h == 0]
        pick("n_heads", lambda: trial.suggest_categorical("n_heads", heads))
        pick("n_layers", lambda: trial.suggest_int("n_layers", 1, 3))
        if "d_ff" not in fixed:
            p["d_ff"] = 2 * d_model
        patch = pick("patch_len", lambda: trial.suggest_categorical("patch_len", patches))
        if "stride" not in fixed:
            ratio = trial.suggest_categorical("stride_ratio", (0.5, 1.0))
            p["stride"] = max(1, int(patch * ratio))
        if lookback_rows:
            pick("lookback", lambda: trial.suggest_categorical("lookback", lookback_rows))
        pick("segment_len", lambda: trial.suggest_categorical("segment_len", (8, 16, 32)))
        pick("mem_len", lambda: trial.suggest_categorical("mem_len", (0, 16, 32, 64)))
        pick("dropout", lambda: trial.suggest_float("dropout", 0.0, 0.3))
        pick("lr", lambda: trial.suggest_float("lr", 1e-4, 1e-2, log=True))
        pick("batch_size", lambda: trial.suggest_categorical("batch_size", (16, 32, 64)))
        # added with covariates: drawn last, and only for models with future-known ones
        if any(fixed.get(k) for k in ("future_covariates", "calendar", "holidays")):
            pick("covariate_width",
                 lambda: trial.suggest_categorical("covariate_width", (0, 16, 32, 64)))
            pick("covariate_dropout", lambda: trial.suggest_float("covariate_dropout", 0.0, 0.3))
        return p

    return space


def _trials(space, seed: int, n: int) -> list[tuple[dict, dict, dict]]:
    """(model params, Optuna params, distributions) of `n` TPE trials told a made-up value."""
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=4))
    out = []
    for i in range(n):
        trial = study.ask()
        params = space(trial)
        out.append((params, dict(trial.params), dict(trial.distributions)))
        study.tell(trial, float((i * 7919) % 13))  # a deterministic objective, any will do
    return out


@pytest.mark.parametrize("kwargs", [
    {},
    {"patch_len": 24, "lookbacks": (48, 96, 192, 336)},
    {"patch_len": 7, "lookbacks": (14, 28)},
    {"fixed": {"n_heads": 8, "stride": 16}},
    {"fixed": {"d_model": 36, "patch_len": 12, "lr": 1e-3}, "patch_len": 24},
    {"fixed": {"d_ff": 64, "mem_len": 0}, "patch_len": 48, "lookbacks": (96,)},
    {"fixed": {"future_covariates": ["temp"]}, "patch_len": 24, "lookbacks": (48, 96)},
    {"fixed": {"calendar": "auto", "covariate_width": 0}},
    {"fixed": {"past_covariates": ["meter"]}},  # past ones only: no encoder to search
])
def test_search_space_samples_exactly_what_it_sampled_before(kwargs):
    for seed in (0, 1):
        new = _trials(default_search_space(**kwargs), seed, 12)
        old = _trials(reference_search_space(**kwargs), seed, 12)
        assert new == old
