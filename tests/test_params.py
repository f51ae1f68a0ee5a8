"""Parameters declared once: signatures, docstrings, constraints, search space and the grid
all follow the declarations in each estimator's `PARAMS`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import optuna
import pytest

from txl_ts.tuning import default_search_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


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
])
def test_search_space_samples_exactly_what_it_sampled_before(kwargs):
    for seed in (0, 1):
        new = _trials(default_search_space(**kwargs), seed, 12)
        old = _trials(reference_search_space(**kwargs), seed, 12)
        assert new == old
