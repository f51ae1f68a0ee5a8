"""The files of a saved model and the checks that reading them makes: the error types, the
bounded JSON reader (size, depth, integer range), typed field access, and the SHA-256 digest
of each file. `txl_ts.persistence` writes and reads models with them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


class CorruptModelError(ValueError):
    """A saved model directory that cannot be loaded; the message names the file and field."""


class MissingModelFileError(CorruptModelError, FileNotFoundError):
    """The directory, or one of its two files, does not exist (a ValueError as well)."""


# config.json of format 3 lists a SHA-256 per file: a flipped bit in a weight, a scaler mean
# or a calibration table would otherwise load and forecast wrong numbers without a word.
# Files written before the field existed have none and load unchecked.
CHECKSUMS = "checksums"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _config_digest(config: dict[str, Any], cls: type) -> str:
    """The digest of config.json's content (not its layout): the parsed JSON without the
    checksums and without the parameters that only shape training, which a user may edit
    (e.g. the accelerator) without changing the fitted model."""
    content = {k: v for k, v in config.items() if k != CHECKSUMS}
    training_only = {p.name for p in cls.PARAMS if p.training_only}
    if isinstance(content.get("params"), dict):
        content["params"] = {k: v for k, v in content["params"].items()
                             if k not in training_only}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return _sha256(text.encode())


def _read_checksums(config: dict[str, Any], file: Path) -> dict[str, str] | None:
    # a file marked as an older format is read as one (tests and users downgrade files that
    # way); those formats had no checksums
    if CHECKSUMS not in config or config["format_version"] < 3:
        return None
    checksums = config[CHECKSUMS]
    if not isinstance(checksums, dict) or set(checksums) != set(MODEL_FILES) or not all(
            isinstance(v, str) and len(v) == 64 for v in checksums.values()):
        raise CorruptModelError(f"{file}: field '{CHECKSUMS}' must map each of {MODEL_FILES} "
                                "to a SHA-256 hex digest")
    return checksums


def _verify_checksums(checksums: dict[str, str], path: Path, config: dict[str, Any],
                      cls: type) -> None:
    for name in MODEL_FILES:
        file = path / name
        actual = (_config_digest(config, cls) if name == "config.json"
                  else _sha256(file.read_bytes()))
        if actual != checksums[name]:
            raise CorruptModelError(
                f"{file}: content does not match its SHA-256 in config.json (the file is "
                "damaged; if you edited a file on purpose, delete the field "
                f"'{CHECKSUMS}' from config.json to load it unchecked)")


MODEL_FILES = ("config.json", "calibration.json", "weights.safetensors")


class _Fields(dict):
    """A dict whose missing keys raise CorruptModelError naming the file and the key."""

    def __init__(self, data: Any, where: str, what: str, prefix: str = ""):
        if not isinstance(data, dict):
            raise CorruptModelError(f"{where}: field '{prefix.rstrip('.')}' must be an object")
        super().__init__(data)
        self.where, self.what, self.prefix = where, what, prefix

    def __missing__(self, key: str) -> Any:
        raise CorruptModelError(f"{self.where}: missing {self.what} '{self.prefix}{key}'")


# What `load` parses is bounded: a model file is written by `save`, whose JSON is a few
# levels deep and whose numbers fit in 64 bits; anything beyond is corrupt or hostile, and
# must fail with a clear error rather than a RecursionError or an overflow deep inside.
MAX_JSON_BYTES = 512 * 2**20  # the calibration tables of a 720-step, 100-column model: ~60 MB
MAX_JSON_DEPTH = 32
MAX_JSON_INT = 2**63 - 1


def _read_json(file: Path, allow_null: bool = False) -> dict[str, Any] | None:
    if not file.is_file():
        raise MissingModelFileError(f"{file}: file is missing")
    size = file.stat().st_size
    if size > MAX_JSON_BYTES:
        raise CorruptModelError(f"{file}: {size} bytes, more than a saved model's JSON can "
                                f"hold ({MAX_JSON_BYTES}); not a file written by save()")
    try:
        config = json.loads(file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptModelError(f"{file}: not valid JSON ({err})") from err
    except RecursionError:
        raise CorruptModelError(f"{file}: JSON nested too deeply (save() writes at most "
                                f"{MAX_JSON_DEPTH} levels)") from None
    except ValueError as err:  # an integer literal beyond Python's digit limit
        raise CorruptModelError(f"{file}: not valid JSON ({err})") from err
    if config is None and allow_null:
        return None
    if not isinstance(config, dict):
        raise CorruptModelError(f"{file}: must hold a JSON object, got {type(config).__name__}")
    _check_bounds(config, file)
    return config


def _check_bounds(data: Any, file: Path) -> None:
    """Depth and integer size of parsed JSON, walked without recursion; the error names the
    field."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise CorruptModelError(f"{file}: field '{path}' is nested more than "
                                    f"{MAX_JSON_DEPTH} levels deep; not a file written by save()")
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1)
                         for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and (
                abs(value) > MAX_JSON_INT):
            raise CorruptModelError(f"{file}: field '{path}' holds an integer of "
                                    f"{len(str(abs(value)))} digits, beyond 64 bits")


def _get(data: dict[str, Any], key: str, kinds: type | tuple[type, ...], where: str,
         field: str) -> Any:
    """data[key], which must be of `kinds` (bool never counts as a number)."""
    if key not in data:
        raise CorruptModelError(f"{where}: missing field '{field}'")
    value = data[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,))):
        names = kinds.__name__ if isinstance(kinds, type) else "/".join(k.__name__ for k in kinds)
        raise CorruptModelError(f"{where}: field '{field}' must be {names}, got "
                                f"{type(value).__name__} {value!r:.80}")
    return value
