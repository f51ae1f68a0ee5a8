"""The benchmark grid's files on disk: what a well-formed cell report or seed file is, reading
them (a malformed one is moved aside, never overwritten), the data fingerprint that ties a
result to the data it was computed on, and the output directory."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd


def fingerprint(df: pd.DataFrame, roles: dict[str, Any] | None = None) -> str:
    """A hash of what a cell computes on: the frame's values, index and columns, and the
    columns' covariate roles when there are any.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame of the cell, as `load_protocol` returns it.
    roles : dict, optional
        The covariate options (JSON values); None or {}: none, and the fingerprint is the
        frame's alone (as before covariates existed).

    Returns
    -------
    str
        32 hexadecimal digits; equal frames with equal roles give equal fingerprints.
    """
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    digest.update(json.dumps([str(c) for c in df.columns]).encode())
    digest.update(json.dumps([str(t) for t in df.dtypes]).encode())
    if roles:
        digest.update(json.dumps(roles, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def short_hash(obj: Any) -> str:
    """8 hexadecimal digits of the JSON of `obj` (keys sorted): a short, stable label."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:8]


def _report_problem(obj: Any, model: str) -> str | None:
    """What makes `obj` no report of the cell of `model` (None: nothing). A report without
    `grid_config` (one of `benchmark --out`) is well-formed: it is rerun, not moved aside."""
    if not isinstance(obj, dict):
        return f"a JSON {type(obj).__name__}, not an object"
    if not isinstance(obj.get("models"), dict):
        return "no 'models' object"
    if not isinstance(obj.get("grid_config", {}), dict):
        return "a 'grid_config' that is not an object"
    entry = obj["models"].get(model)
    if not isinstance(entry, dict):
        return f"no entry for the model {model!r}"
    missing = [k for k in ("seeds", "runs", "errors") if not isinstance(entry.get(k), list)]
    return f"the entry of {model!r} has no list {missing[0]!r}" if missing else None


_PART_KEYS: dict[str, tuple[type, ...]] = {
    "task": (dict,), "config": (dict,), "row": (dict, type(None)),
    "params": (dict, type(None)), "machine": (dict,), "started_utc": (str,),
    "finished_utc": (str,), "seconds": (int, float)}


def _part_problem(obj: Any, model: str) -> str | None:
    """What makes `obj` no seed file written by the grid (None: nothing)."""
    if not isinstance(obj, dict):
        return f"a JSON {type(obj).__name__}, not an object"
    for key, types in _PART_KEYS.items():
        if not isinstance(obj.get(key), types) or isinstance(obj.get(key), bool):
            return f"no valid {key!r}"
    row = obj["row"]
    if row is not None and not all(isinstance(row.get(k), (int, float))
                                   for k in ("mse", "mae", "n_windows")):
        return "a row without its mse, mae and n_windows"
    return None


def _read_json(path: Path, problem: Callable[[Any, str], str | None], model: str,
               log: Callable[[str], None]) -> dict[str, Any] | None:
    """The parsed file, or None when it is missing or malformed (then it is rerun). A
    malformed file is moved aside, not overwritten, so that nothing is lost."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as err:
        log(f"warning: cannot read {path} ({err.strerror}); rerunning it")
        return None
    try:
        obj = json.loads(text)
        reason = problem(obj, model)
    except ValueError as err:
        reason = f"not JSON ({err})"
    if reason is None:
        return obj
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    aside = path.with_name(f"{path.name}.malformed-{stamp}")
    try:
        os.replace(path, aside)
        where = f"moved to {aside.name}"
    except OSError as err:
        where = f"could not move it aside: {err.strerror}"
    log(f"warning: {path} is malformed ({reason}); {where}; rerunning it")
    return None


def _data_changed(obj: dict[str, Any] | None, data: str) -> bool:
    """Whether `obj` was computed on other data than `data` (a file written before data
    fingerprints existed has none and counts as computed on today's data)."""
    stored = None if obj is None else obj.get("data_fingerprint")
    return stored is not None and stored != data


def _output_dir(out_dir: Path | str) -> Path:
    """`out_dir`, created if missing; a clear error when it cannot be a directory."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"the output directory {out_dir} is an existing file, not a "
                         "directory; pass a directory (it is created if missing)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot create the output directory {out_dir}: "
                         f"{err.strerror}") from err
    return out_dir
