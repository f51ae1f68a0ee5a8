"""The bundled real data sets: ETTh1, ETTh2 (electricity load) and WTH (weather)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

NAMES = ("ETTh1", "ETTh2", "WTH")
TARGETS = {"ETTh1": "OT", "ETTh2": "OT", "WTH": "WetBulbCelsius"}

_HERE = Path(__file__).resolve().parent
# Installed wheel: txl_ts/data/; source checkout or editable install: <repo>/datasets/.
SEARCH_PATH = (_HERE / "data", _HERE.parent / "datasets")


def path(name: str) -> Path:
    """Where the CSV of data set `name` lies; raises FileNotFoundError naming where it looked."""
    if name not in NAMES:
        raise ValueError(f"unknown data set {name!r}; choose one of {list(NAMES)}")
    for folder in SEARCH_PATH:
        candidate = folder / f"{name}.csv"
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(f) for f in SEARCH_PATH)
    raise FileNotFoundError(f"{name}.csv was not found; looked in: {looked}")


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set as a float DataFrame indexed by its hourly timestamps."""
    frame = pd.read_csv(path(name))
    stamps = pd.to_datetime(frame.pop("date"), format="mixed")
    frame.index = pd.DatetimeIndex(stamps, name="date", freq="h")
    return frame.astype("float64")
