"""Saving and loading models fitted on a long frame (`id_col`): the same three files as a wide
model, holding every series' model.

config.json keeps the parameters once and, under "panel", the series ids and each series'
fitted metadata and 'extra' state; weights.safetensors keeps the tensors of series i under
"series.<i>." and, for a global model, the shared network once under "net.";
calibration.json keeps each series' conformal tables and the pooled ones a global model uses
for series never seen at fit. Format 4: earlier versions of txl_ts refuse these files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .model_files import CorruptModelError, _Fields, _read_checksums, _read_json, _verify_checksums
from .persistence import (
    _model_from_config,
    calibration_from_json,
    calibration_json,
    fitted_json,
    label_from_json,
    label_to_json,
    load_model,
    params_json,
    read_tensors,
    restore_model,
    save_model,
    write_model_dir,
)

PANEL_FORMAT = 4
SHARED = "net."  # a global model's network, saved once


def save(model: Any, path: str | Path) -> Path:
    """Write a fitted model: a long-format one as the module docstring says, a wide one by
    `txl_ts.persistence.save_model`."""
    model._check_fitted()
    if model.id_col is None:
        return save_model(model, path)
    members = model.members_
    shared = model.capabilities.global_model
    records, tensors, tables = [], {}, []
    for i, member in enumerate(members.values()):
        records.append({"fitted": fitted_json(member), "extra": member._extra_state()})
        for key, value in member._tensors_to_save().items():
            if shared and key.startswith(SHARED):
                if i == 0:
                    tensors[key] = value
                continue
            tensors[f"series.{i}.{key}"] = value
        tables.append(calibration_json(member))
    pooled = getattr(model, "pooled_calibration_", None)
    config = {
        "format_version": PANEL_FORMAT,
        "class": type(model).__name__,
        "params": params_json(model),
        "panel": {"ids": [label_to_json(sid) for sid in members], "global": shared,
                  "members": records},
    }
    calibration = json.dumps({"members": tables,
                              "pooled": None if pooled is None else pooled.to_json()},
                             separators=(",", ":"))
    return write_model_dir(path, config, calibration, tensors, type(model))


def load(cls: type, path: str | Path):
    """Read a directory written by `save`: a long-format model (every field is checked as
    for a wide model, and errors name the file, the field and the series), or a wide one
    (`txl_ts.persistence.load_model`)."""
    path = Path(path)
    config_file, weights_file = path / "config.json", path / "weights.safetensors"
    config = _read_json(config_file) if path.is_dir() else None
    if not isinstance(config, dict) or "panel" not in config:
        return load_model(cls, path)
    where = str(config_file)
    if config.get("format_version") != PANEL_FORMAT:
        raise CorruptModelError(f"{where}: a long-format model needs format_version "
                                f"{PANEL_FORMAT}, got {config.get('format_version')!r}")
    checksums = _read_checksums(config, config_file)
    panel = _Fields(config["panel"], where, "field", "panel.")
    params = config.get("params")
    if not isinstance(params, dict) or params.get("id_col") is None:
        raise CorruptModelError(f"{where}: field 'params.id_col' must name the id column")
    head = _model_from_config(cls, {**config, "format_version": 3, "extra": {}},
                              config_file, fitted=False)
    raw_ids, records = panel["ids"], panel["members"]
    if (not isinstance(raw_ids, list) or not isinstance(records, list) or not raw_ids
            or len(raw_ids) != len(records)):
        raise CorruptModelError(f"{where}: fields 'panel.ids' and 'panel.members' must be "
                                "lists of one entry per series")
    try:
        ids = [label_from_json(sid) for sid in raw_ids]
    except ValueError as err:
        raise CorruptModelError(f"{where}: field 'panel.ids': {err}") from err
    if len(set(ids)) != len(ids):
        raise CorruptModelError(f"{where}: field 'panel.ids' repeats a series id")
    if panel["global"] is not cls.capabilities.global_model:
        raise CorruptModelError(f"{where}: field 'panel.global' contradicts {cls.__name__}")
    tensors = read_tensors(weights_file)
    tables = _read_json(path / "calibration.json")
    if not isinstance(tables, dict) or not isinstance(tables.get("members"), list) or len(
            tables["members"]) != len(ids):
        raise CorruptModelError(f"{path / 'calibration.json'}: must hold one calibration per "
                                "series under 'members'")
    member_params = {**params, "id_col": None}
    if "n_jobs" in member_params:
        member_params["n_jobs"] = None
    shared = {k: v for k, v in tensors.items() if k.startswith(SHARED)}
    members, net = {}, None
    for i, (sid, record) in enumerate(zip(ids, records)):
        label = f"{where} (series {sid!r})"
        if not isinstance(record, dict):
            raise CorruptModelError(f"{where}: field 'panel.members[{i}]' must be an object")
        member = _model_from_config(
            cls, {"format_version": 3, "class": cls.__name__, "params": member_params,
                  "fitted": record.get("fitted"), "extra": record.get("extra")}, label)
        prefix = f"series.{i}."
        own = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        restore_model(member, _Fields({**shared, **own}, f"{weights_file} (series {sid!r})",
                                      "tensor"),
                      record.get("extra"), label, f"{weights_file} (series {sid!r})")
        if net is None:
            net = getattr(member, "net_", None)
        elif shared:  # one network object for every series, as after fit
            member.net_ = net
        calibration = calibration_from_json(tables["members"][i],
                                            f"{path / 'calibration.json'} (series {sid!r})",
                                            member)
        if calibration is not None:
            member.calibration_ = calibration
        members[sid] = member
    first = members[ids[0]]
    head.members_ = members
    head.columns_, head.n_features_in_ = list(first.columns_), len(first.columns_)
    head.freq_, head.roles_ = first.freq_, first.roles_
    head.fit_params_ = head._prediction_params()
    if shared and hasattr(first, "fit_summary_"):
        head.fit_summary_ = first.fit_summary_
    pooled = calibration_from_json(tables.get("pooled"), path / "calibration.json", first)
    if pooled is not None:
        head.pooled_calibration_ = pooled
    if checksums is not None:
        _verify_checksums(checksums, path, config, cls)
    return head
