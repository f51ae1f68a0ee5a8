"""The bundled real data sets: ETTh1, ETTh2 (electricity load) and WTH (weather); and any
CSV of the same shape (`read_csv`)."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path

import numpy as np
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
    """Load a bundled data set as a float DataFrame indexed by its hourly timestamps.

    Parameters
    ----------
    name : {"ETTh1", "ETTh2", "WTH"}
        ETTh1 and ETTh2: hourly electricity transformer load, 7 columns (target "OT").
        WTH: hourly weather, 12 columns (target "WetBulbCelsius"). `TARGETS` maps each name
        to its target column.

    Returns
    -------
    DataFrame
        float64 columns, an hourly DatetimeIndex named "date" (frequency "h").

    Raises
    ------
    ValueError
        If `name` is not a bundled data set.
    FileNotFoundError
        If its CSV is neither in the installed package nor in the checkout's `datasets/`.
    """
    frame = pd.read_csv(path(name))
    stamps = pd.to_datetime(frame.pop("date"), format="mixed")
    frame.index = pd.DatetimeIndex(stamps, name="date", freq="h")
    return frame.astype("float64")


def read_csv(file: str | Path, time_col: str | None = None) -> pd.DataFrame:
    """Read a CSV of timestamps and numeric columns as a float DataFrame with a regular
    DatetimeIndex: the benchmark's way to run the protocol on the user's own data.

    Parameters
    ----------
    file : str or Path
        The CSV: a header row, one time column and numeric value columns, evenly spaced
        rows in time order, no missing values.
    time_col : str, optional
        The column holding the timestamps. Default None: a column named "date", else the
        first column. Timestamps whose UTC offsets change (daylight saving) are converted to
        UTC.

    Returns
    -------
    DataFrame
        float64 columns (every column but the time column), indexed by a DatetimeIndex
        with the inferred frequency.

    Raises
    ------
    FileNotFoundError
        If `file` does not exist.
    ValueError
        If the file is not a readable CSV, the time column is missing or holds a value that
        is not a timestamp, the rows are fewer than 3 or not evenly spaced, or a value
        column is not numeric; the message names the file, the column and the row.
    """
    file = Path(file)
    try:
        frame = pd.read_csv(file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{file}: not a readable CSV file ({' '.join(str(err).split())})"
                         ) from None
    guessed = time_col is None
    if time_col is None:
        time_col = "date" if "date" in frame.columns else str(frame.columns[0])
    if time_col not in frame.columns:
        raise ValueError(f"{file}: no time column {time_col!r}; columns: {list(frame.columns)}")
    if guessed and pd.api.types.is_numeric_dtype(frame[time_col]):
        # numbers would parse as nanoseconds since 1970 and fail later, less clearly
        raise ValueError(f"{file}: no time column: no column 'date', and the first column "
                         f"{time_col!r} holds numbers, not timestamps; columns: "
                         f"{list(frame.columns)} (name it with time_col / --time-col)")
    parsed = parse_time_column(file, frame.pop(time_col), time_col)
    stamps = pd.DatetimeIndex(parsed, name=time_col)
    if len(stamps) < 3:
        raise ValueError(f"{file}: {len(stamps)} rows; at least 3 are needed to infer a "
                         "frequency")
    freq = pd.infer_freq(stamps)
    if freq is None:
        steps = pd.Series(stamps[1:] - stamps[:-1])
        uneven = np.flatnonzero((steps != steps.mode()[0]).to_numpy())
        if len(uneven) == 0:
            raise ValueError(f"{file}: pandas infers no frequency from {time_col!r}")
        odd = int(uneven[0])
        raise ValueError(f"{file}: the timestamps in {time_col!r} are not evenly spaced: "
                         f"{stamps[odd]} is followed by {stamps[odd + 1]} (the usual step is "
                         f"{steps.mode()[0]})")
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        column = frame[text[0]]
        bad = (pd.to_numeric(column, errors="coerce").isna() & column.notna()).to_numpy()
        raise ValueError(f"{file}: every column but {time_col!r} must be numeric; not numeric: "
                         f"{text}; column {text[0]!r}: {_first_bad(column, bad)}")
    if frame.shape[1] == 0:
        raise ValueError(f"{file}: no value columns")
    frame.index = pd.DatetimeIndex(stamps, freq=freq)
    return frame.astype("float64")


def parse_time_column(file: str | Path, raw: pd.Series, time_col: Hashable) -> pd.Series:
    """A CSV's time column as timestamps (UTC when the offsets change); a ValueError naming
    the file, the column and the first bad row otherwise."""
    try:
        try:
            parsed = pd.to_datetime(raw, format="mixed")
        except ValueError:  # offsets that change (daylight saving): convert to UTC
            parsed = pd.to_datetime(raw, format="mixed", utc=True)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{file}: the time column {time_col!r} is not timestamps: "
                         f"{_first_bad(raw, _bad_stamps(raw), err)}") from None
    if parsed.isna().any():
        raise ValueError(f"{file}: the time column {time_col!r} has an empty value: "
                         f"{_first_bad(raw, parsed.isna().to_numpy())}")
    return parsed


def _bad_stamps(raw: pd.Series) -> np.ndarray:
    """Which entries of `raw` no date parser reads (each parsed on its own)."""
    bad = np.zeros(len(raw), dtype=bool)
    for i, value in enumerate(raw.to_numpy()):
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError):
            bad[i] = True
    return bad


def _first_bad(column: pd.Series, bad: np.ndarray, err: Exception | None = None) -> str:
    """ "row N (line L of the file): 'value'" for the first flagged entry of `column`."""
    where = np.flatnonzero(bad)
    if not len(where):
        return " ".join(str(err).split()) if err is not None else "unknown row"
    i = int(where[0])
    # rows count from 0 after the header; the file's line numbers from 1 with the header
    return f"row {i} (line {i + 2} of the file): {column.iloc[i]!r}"
