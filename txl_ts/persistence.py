"""Saving and loading fitted forecasters: JSON and safetensors only, never pickle.

A model directory holds `config.json` (parameters and fitted metadata), `calibration.json`
(the conformal tables) and `weights.safetensors`. Every field read back is checked, and a
corrupt or mismatched directory raises one `CorruptModelError` that names the file and the
field.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pandas.tseries.frequencies import to_offset
from safetensors.torch import load_file, save_file
from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

from .conformal import Calibration
from .frames.roles import resolve_roles
from .frames.scaling import scaler_from_json, scaler_to_json
from .model_files import (  # noqa: F401  (CorruptModelError & co. are part of this API)
    CHECKSUMS,
    MODEL_FILES,
    CorruptModelError,
    MissingModelFileError,
    _config_digest,
    _Fields,
    _get,
    _read_checksums,
    _read_json,
    _sha256,
    _verify_checksums,
)
from .params import NOT_SAVED_BEFORE

# 2: typed column labels, the time zone's name. 3: the conformal calibration in
# calibration.json. Files of versions 1 and 2 still load (without prediction intervals).
FORMAT_VERSION = 3


COVARIATE_ROLES = ("past_covariates", "future_covariates")
# files written before covariates existed lack these; without covariates none of them changes
# a forecast (covariate_width: TXL's future-covariate encoder)
COVARIATE_PARAMS = (*COVARIATE_ROLES, "calendar", "holidays", "covariate_width")
# files written before long frames existed were fitted on wide frames
PANEL_PARAMS = ("id_col",)


def label_to_json(label: Hashable) -> Any:
    """Column labels in config.json: strings as they are, other labels with a type tag."""
    if isinstance(label, str):
        return str(label)
    if isinstance(label, tuple):
        return {"tuple": [label_to_json(x) for x in label]}
    if isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_)):
        return {"int": int(label)}
    if isinstance(label, (float, np.floating)):
        return {"float": float(label)}
    raise TypeError(f"column label {label!r} of type {type(label).__name__} cannot be saved")


def label_from_json(value: Any) -> Hashable:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (kind, inner), = value.items()
        if kind == "tuple" and isinstance(inner, list):
            return tuple(label_from_json(x) for x in inner)
        if kind == "int" and isinstance(inner, int) and not isinstance(inner, bool):
            return inner
        if kind == "float" and isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return float(inner)
    raise ValueError(f"not a column label: {value!r}")


def tz_name(tz: Any) -> str | None:
    """The name of a time zone that pandas can rebuild ("Europe/Berlin"), or None for naive
    timestamps and fixed offsets (the ISO offset of the stored timestamp keeps those)."""
    if tz is None:
        return None
    for attr in ("key", "zone"):  # zoneinfo, pytz
        name = getattr(tz, attr, None)
        if isinstance(name, str):
            return name
    name = str(tz)
    try:
        pd.Timestamp("2000-01-01", tz=name)
    except (ValueError, TypeError, KeyError):
        return None
    return name


def save_model(model: Any, path: str | Path) -> Path:
    """Write `config.json`, `calibration.json` and `weights.safetensors` into `path`.

    The files are written to a temporary directory beside `path` first, so a failure
    (a full disk, an interrupt) leaves an earlier save at `path` intact and never a half
    directory."""
    model._check_fitted()
    config = {
        "format_version": FORMAT_VERSION,
        "class": type(model).__name__,
        "params": params_json(model),
        "fitted": fitted_json(model),
        "extra": model._extra_state(),
    }
    # compact: the quantile tables hold 37 x H x C numbers; null for a model loaded from a
    # file of a version without intervals (it still has none)
    calibration = json.dumps(calibration_json(model), separators=(",", ":"))
    return write_model_dir(path, config, calibration, model._tensors_to_save(), type(model))


def params_json(model: Any) -> dict[str, Any]:
    """The constructor's parameters as config.json stores them."""
    params = _storable_params(model.get_params(deep=False))
    params["targets"] = _targets_to_json(model.targets)
    for name in ("time_col", "id_col"):
        label = getattr(model, name, None)
        params[name] = None if label is None else label_to_json(label)
    for role in COVARIATE_ROLES:
        params[role] = _targets_to_json(getattr(model, role))
    return params


def fitted_json(model: Any) -> dict[str, Any]:
    """The fitted metadata of a (wide) model as config.json stores it."""
    covariate_scaler = getattr(model, "covariate_scaler_", None)
    return {
        "columns": [label_to_json(c) for c in model.columns_],
        "freq": model.freq_.freqstr,
        "last_timestamp": model.history_index_[-1].isoformat(),
        "timezone": tz_name(model.history_index_.tz),
        "scaler": scaler_to_json(model.scaler_),
        # what calendar="auto" resolved to at fit (it depends on the training span)
        "calendar_features": list(model._roles().calendar),
        "covariate_scaler": (None if covariate_scaler is None
                             else scaler_to_json(covariate_scaler)),
    }


def calibration_json(model: Any) -> dict[str, Any] | None:
    tables = getattr(model, "calibration_", None)
    return None if tables is None else tables.to_json()


def write_model_dir(path: str | Path, config: dict[str, Any], calibration: str,
                    tensors: dict[str, torch.Tensor], cls: type) -> Path:
    """Write the three files (with their checksums) aside, then install them at `path`."""
    path = Path(path)
    text = json.dumps(config, indent=2, default=_json_default)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.saving-"))
    tmp.chmod(0o755)  # mkdtemp's 0700 would make the saved model private
    try:
        (tmp / "calibration.json").write_text(calibration)
        save_file(tensors, str(tmp / "weights.safetensors"))
        config[CHECKSUMS] = {
            "config.json": _config_digest(json.loads(text), cls),
            **{name: _sha256((tmp / name).read_bytes())
               for name in ("calibration.json", "weights.safetensors")},
        }
        (tmp / "config.json").write_text(json.dumps(config, indent=2, default=_json_default))
        _install_model_dir(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def load_model(cls: type, path: str | Path):
    """Load a model written by `save`; reads only JSON and safetensors, never pickle.

    Every field is checked (types, the estimator's own parameter checks, columns against
    the scaler and the tensors); a corrupt or mismatched directory raises one ValueError
    (`CorruptModelError`) naming the file and the field.
    """
    path = Path(path)
    if not path.is_dir():
        raise MissingModelFileError(f"{path} is not a directory written by save()")
    config_file, weights_file = path / "config.json", path / "weights.safetensors"
    config = _read_json(config_file)
    if isinstance(config, dict) and "panel" in config:
        raise CorruptModelError(f"{config_file}: holds a model fitted on a long frame; load "
                                "it with the estimator's load()")
    model = _model_from_config(cls, config, config_file)
    checksums = _read_checksums(config, config_file)
    tensors = read_tensors(weights_file)
    restore_model(model, _Fields(tensors, f"{weights_file}", "tensor"), config["extra"],
                  config_file, weights_file)
    if config["format_version"] >= 3:  # older files have no calibration: no intervals
        calibration = _read_calibration(path / "calibration.json", model)
        if calibration is not None:
            model.calibration_ = calibration
    # last, so that a field that is plainly wrong is named by the checks above; what passes
    # them may still be a flipped digit in a weight or a scaler mean, which only a digest sees
    if checksums is not None:
        _verify_checksums(checksums, path, config, cls)
    return model


def read_tensors(weights_file: Path) -> dict[str, torch.Tensor]:
    """The tensors of weights.safetensors, every float finite."""
    if not weights_file.is_file():
        raise MissingModelFileError(f"{weights_file}: file is missing")
    try:
        tensors = load_file(str(weights_file))
    except Exception as err:  # safetensors raises its own error types, and OSError
        raise CorruptModelError(f"{weights_file}: not a readable safetensors file "
                                f"({type(err).__name__}: {err})") from err
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CorruptModelError(f"{weights_file}: tensor '{key}' has NaN or infinite "
                                    "values")
    return tensors


def restore_model(model: Any, tensors: dict[str, torch.Tensor], extra: Any,
                  config_file: Path | str, weights_file: Path | str) -> None:
    """The model's own state from its tensors and 'extra' field, checked by a forecast."""
    cls = type(model)
    extra = _Fields(extra, f"{config_file}", "field", "extra.")
    if not isinstance(extra.get("fit_summary", {}), dict):
        raise CorruptModelError(f"{config_file}: field 'extra.fit_summary' must be an object")
    try:
        model._restore(tensors, extra)
        forecast = model._forecast_scaled(None, None, model._probe_covariates())
        if np.shape(forecast) != (model.horizon, len(model.columns_)):
            raise ValueError(f"restored forecast has shape {np.shape(forecast)}, expected "
                             f"{(model.horizon, len(model.columns_))}")
        model._check_forecast(forecast, model._unscale(forecast))
    except CorruptModelError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError,
            FloatingPointError) as err:
        raise CorruptModelError(
            f"{weights_file} and the 'extra' field of {config_file} do not describe a "
            f"valid {cls.__name__} with the stored parameters and columns: "
            f"{type(err).__name__}: {err}"
        ) from err


def _read_calibration(file: Path, model: Any) -> Calibration | None:
    """The conformal tables, or None where the model was saved without them (it was loaded
    from a file of a version without intervals, then saved again)."""
    return calibration_from_json(_read_json(file, allow_null=True), file, model)


def calibration_from_json(state: Any, file: Path | str, model: Any) -> Calibration | None:
    if state is None:
        return None
    try:
        return Calibration.from_json(state, model.horizon, len(model.columns_))
    except (KeyError, TypeError, ValueError) as err:
        raise CorruptModelError(f"{file}: not a valid calibration for this "
                                f"{type(model).__name__}: {type(err).__name__}: {err}") from err




def _install_model_dir(tmp: Path, path: Path) -> None:
    """Move the files written in `tmp` to `path`: one directory rename when `path` is new or
    holds only model files; otherwise file by file (the user's other files stay), the config
    last, each file replaced atomically."""
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a directory")
    if not path.exists():
        tmp.rename(path)
        return
    if {p.name for p in path.iterdir()} <= set(MODEL_FILES):
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        path.rename(old)
        try:
            tmp.rename(path)
        except OSError:
            old.rename(path)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    for name in reversed(MODEL_FILES):
        os.replace(tmp / name, path / name)


def _model_from_config(cls: type, config: dict[str, Any], file: Path | str,
                       fitted: bool = True):
    """The model of config.json's parameters and, with `fitted`, its fitted metadata."""
    where = str(file)
    version = _get(config, "format_version", int, where, "format_version")
    if version > FORMAT_VERSION or version < 1:
        raise CorruptModelError(
            f"{where}: format_version {version} is not supported (this txl_ts reads 1 to "
            f"{FORMAT_VERSION}); a newer version of txl_ts wrote it, so upgrade txl_ts"
        )
    name = _get(config, "class", str, where, "class")
    if name != cls.__name__:
        raise CorruptModelError(f"{where}: holds a {name}, not a {cls.__name__}")
    params = dict(_get(config, "params", dict, where, "params"))
    _get(config, "extra", dict, where, "extra")
    try:
        if isinstance(params.get("targets"), list):
            params["targets"] = [label_from_json(t) for t in params["targets"]]
        elif params.get("targets") is not None:
            params["targets"] = label_from_json(params["targets"])
        for name in ("time_col", "id_col"):
            if params.get(name) is not None:
                params[name] = label_from_json(params[name])
        for role in COVARIATE_ROLES:
            if isinstance(params.get(role), list):
                params[role] = [label_from_json(t) for t in params[role]]
            elif params.get(role) is not None:
                params[role] = label_from_json(params[role])
    except ValueError as err:
        raise CorruptModelError(f"{where}: field 'params.targets/time_col': {err}") from err
    declared = {p.name: p for p in cls.PARAMS}  # the declarations, as in fit
    known = list(declared)
    unknown = sorted(set(params) - set(known))
    missing = [name for name in known if name not in params]
    # a parameter that shapes only training cannot change a fitted model, so a file written
    # before it existed takes its default; any other missing one would change the forecasts
    # so does a covariate role: files written before covariates existed had none
    defaults = [name for name in missing
                if declared[name].training_only or name in (*COVARIATE_PARAMS, *PANEL_PARAMS)]
    params.update({name: declared[name].default for name in defaults})
    # a parameter added later with the old behaviour as a value (not always its default):
    # the file was fitted with that value
    earlier = [name for name in missing if name not in defaults
               and declared[name].saved_before is not NOT_SAVED_BEFORE]
    params.update({name: declared[name].saved_before for name in earlier})
    missing = [name for name in missing if name not in (*defaults, *earlier)]
    if unknown:
        raise CorruptModelError(f"{where}: unknown field 'params.{unknown[0]}' for "
                                f"{cls.__name__}")
    if missing:  # save writes every parameter; a default would silently change the model
        raise CorruptModelError(f"{where}: missing field 'params.{missing[0]}'")
    for name in known:
        try:
            validate_parameter_constraints({name: cls._parameter_constraints[name]},
                                           {name: params[name]}, caller_name=cls.__name__)
        except InvalidParameterError as err:
            raise CorruptModelError(f"{where}: field 'params.{name}' is invalid: {err}") from err
    model = cls(**params)
    try:
        model._check_params()
    except (ValueError, TypeError) as err:
        raise CorruptModelError(f"{where}: field 'params' is invalid: {err}") from err
    if not fitted:
        return model
    fitted = _get(config, "fitted", dict, where, "fitted")
    raw_columns = _get(fitted, "columns", list, where, "fitted.columns")
    try:
        columns = [label_from_json(c) for c in raw_columns]
    except ValueError as err:
        raise CorruptModelError(f"{where}: field 'fitted.columns': {err}") from err
    if not columns or len(set(columns)) != len(columns):
        raise CorruptModelError(f"{where}: field 'fitted.columns' must list distinct labels, "
                                f"got {columns}")
    freq_text = _get(fitted, "freq", str, where, "fitted.freq")
    try:
        freq = to_offset(freq_text)
    except (ValueError, TypeError) as err:
        raise CorruptModelError(f"{where}: field 'fitted.freq' {freq_text!r}: {err}") from err
    stamp_text = _get(fitted, "last_timestamp", str, where, "fitted.last_timestamp")
    zone = fitted.get("timezone")
    try:
        stamp = pd.Timestamp(stamp_text)
        if pd.isna(stamp):
            raise ValueError("NaT")
    except (ValueError, TypeError) as err:
        raise CorruptModelError(
            f"{where}: field 'fitted.last_timestamp' {stamp_text!r}: {err}") from err
    if zone is not None:
        if not isinstance(zone, str) or stamp.tz is None:
            raise CorruptModelError(f"{where}: field 'fitted.timezone' {zone!r} needs a zone "
                                    "name and a last_timestamp with an offset")
        try:
            stamp = stamp.tz_convert(zone)
        except Exception as err:  # pytz / zoneinfo raise different unknown-zone errors
            raise CorruptModelError(f"{where}: field 'fitted.timezone' {zone!r}: {err}") from err
    scaler_state = _get(fitted, "scaler", dict, where, "fitted.scaler")
    arrays = {}
    for key in ("mean", "scale", "var"):
        raw = _get(scaler_state, key, list, where, f"fitted.scaler.{key}")
        if len(raw) != len(columns) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw):
            raise CorruptModelError(
                f"{where}: field 'fitted.scaler.{key}' must hold {len(columns)} numbers (one "
                f"per column in fitted.columns), got {raw!r:.120}")
        arrays[key] = np.asarray(raw, dtype=np.float64)
        if not np.isfinite(arrays[key]).all():
            raise CorruptModelError(f"{where}: field 'fitted.scaler.{key}' is not finite")
    if not (arrays["scale"] > 0).all() or (arrays["var"] < 0).any():
        raise CorruptModelError(f"{where}: field 'fitted.scaler.scale' must be positive")
    n_seen = _get(scaler_state, "n_samples_seen", int, where, "fitted.scaler.n_samples_seen")
    if n_seen < 1:
        raise CorruptModelError(f"{where}: field 'fitted.scaler.n_samples_seen' must be >= 1")

    model.columns_ = columns
    model.n_features_in_ = len(columns)
    model.freq_ = freq
    model.history_index_ = pd.DatetimeIndex([stamp])
    model.scaler_ = scaler_from_json(scaler_state)
    try:
        calendar = model.calendar
        if calendar == "auto" and "calendar_features" in fitted:
            calendar = _get(fitted, "calendar_features", list, where,
                            "fitted.calendar_features")
        model.roles_ = resolve_roles(model.past_covariates, model.future_covariates,
                                     calendar, model.holidays, freq)
    except (ValueError, TypeError) as err:
        raise CorruptModelError(f"{where}: field 'params' has invalid covariate roles: {err}"
                                ) from err
    model.covariate_scaler_ = _covariate_scaler(fitted, model.roles_.n_covariates, where)
    model.fit_params_ = model._prediction_params()
    return model


def _covariate_scaler(fitted: dict[str, Any], n_covariates: int, where: str) -> Any:
    """The covariates' scaler of `fitted` (None without covariates), checked."""
    state = fitted.get("covariate_scaler")
    if state is None:
        if n_covariates:
            raise CorruptModelError(f"{where}: field 'fitted.covariate_scaler' is missing, but "
                                    f"the parameters declare {n_covariates} covariate columns")
        return None
    if not isinstance(state, dict) or not n_covariates:
        raise CorruptModelError(f"{where}: field 'fitted.covariate_scaler' must be an object "
                                "for a model with covariates, and null without")
    for key in ("mean", "scale", "var"):
        raw = _get(state, key, list, where, f"fitted.covariate_scaler.{key}")
        if len(raw) != n_covariates or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                and np.isfinite(v) for v in raw):
            raise CorruptModelError(f"{where}: field 'fitted.covariate_scaler.{key}' must hold "
                                    f"{n_covariates} finite numbers")
    if min(state["scale"]) <= 0:
        raise CorruptModelError(f"{where}: field 'fitted.covariate_scaler.scale' must be "
                                "positive")
    _get(state, "n_samples_seen", int, where, "fitted.covariate_scaler.n_samples_seen")
    return scaler_from_json(state)


def _targets_to_json(targets: Any) -> Any:
    """`targets` as given: one label, or a list of labels (any other iterable becomes one)."""
    if targets is None:
        return None
    if isinstance(targets, (str, tuple)) or not hasattr(targets, "__iter__"):
        return label_to_json(targets)
    return [label_to_json(t) for t in targets]


def _storable_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON; ones that JSON cannot hold (e.g. callbacks inside trainer_kwargs,
    which only matter for training) are stored as None, with a warning."""
    out = {}
    for key, value in params.items():
        try:
            json.dumps(value, default=_json_default)
            out[key] = value
        except (TypeError, ValueError):
            warnings.warn(f"parameter {key}={value!r} cannot be stored as JSON; the saved "
                          "model gets None instead", stacklevel=3)
            out[key] = None
    return out


def _json_default(obj: object) -> object:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, (tuple, set)):
        return list(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in config.json")
