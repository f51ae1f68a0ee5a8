"""The command line's covariate options (`benchmark` and `tune`): which columns are past or
future covariates, the calendar features and the public holidays.

Standard library only, like `txl_ts.cli`: the names are checked against the lists here, and
the holiday codes when the data loads (`txl_ts.protocol.load_protocol`).
"""

from __future__ import annotations

import argparse

# the calendar features (txl_ts.frames.calendar.FEATURES; a test keeps the two equal)
CALENDAR_FEATURES = ("time_of_day", "day_of_week", "day_of_year", "month", "weekend")


def columns_arg(text: str) -> tuple[str, ...]:
    """`--past-covariates` / `--future-covariates`: comma-separated column names, each once.

    Parameters
    ----------
    text : str
        The argument.

    Returns
    -------
    tuple of str
        The names.

    Raises
    ------
    argparse.ArgumentTypeError
        When no name is given or one is given twice.
    """
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected at least one column name")
    twice = [n for i, n in enumerate(names) if n in names[:i]]
    if twice:
        raise argparse.ArgumentTypeError(f"column {twice[0]!r} is named twice")
    return tuple(names)


def calendar_arg(text: str) -> str | tuple[str, ...] | None:
    """`--calendar`: "auto", "none", or comma-separated names of `CALENDAR_FEATURES`.

    Parameters
    ----------
    text : str
        The argument.

    Returns
    -------
    str, tuple of str or None
        "auto", None for "none", or the feature names.

    Raises
    ------
    argparse.ArgumentTypeError
        On an unknown or repeated feature name.
    """
    if text.strip().lower() in ("auto", "none"):
        return "auto" if text.strip().lower() == "auto" else None
    names = columns_arg(text)
    unknown = [n for n in names if n not in CALENDAR_FEATURES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown calendar feature {unknown[0]!r}; choose "
                                         f"'auto', 'none' or from {list(CALENDAR_FEATURES)}")
    return names


def holidays_arg(text: str) -> str | tuple[str, str]:
    """`--holidays`: a country code, optionally with a subdivision: "US", "AU:VIC".

    Parameters
    ----------
    text : str
        The argument.

    Returns
    -------
    str or tuple of (str, str)
        The country, or (country, subdivision). Whether the `holidays` package knows them is
        checked when the data loads.

    Raises
    ------
    argparse.ArgumentTypeError
        When the text is not COUNTRY or COUNTRY:SUBDIVISION.
    """
    country, colon, subdivision = (part.strip() for part in text.partition(":"))
    if not country.isalpha() or (colon and (not subdivision or " " in subdivision)):
        raise argparse.ArgumentTypeError(f"--holidays is a country code with an optional "
                                         f"subdivision, such as US or AU:VIC; got {text!r}")
    return (country.upper(), subdivision) if subdivision else country.upper()


def add_role_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--future-covariates`, `--past-covariates`, `--calendar` and `--holidays`.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.
    """
    parser.add_argument("--future-covariates", type=columns_arg, default=None,
                        metavar="COL[,COL...]",
                        help="columns known ahead (a temperature forecast, a price): every "
                        "model reads their values over the horizon. The backtest takes the "
                        "file's own values as the known future, so with measured values where "
                        "you would deploy with forecasts the scores are an optimistic bound")
    parser.add_argument("--past-covariates", type=columns_arg, default=None,
                        metavar="COL[,COL...]",
                        help="columns observed only up to each forecast origin (e.g. ETTh1 "
                        "'--target OT --past-covariates HUFL,HULL,MUFL,MULL,LUFL,LULL'); "
                        "never scored")
    parser.add_argument("--calendar", type=calendar_arg, default=None,
                        metavar="auto|none|NAME[,NAME...]",
                        help="calendar covariates from the timestamps: 'auto' (those the "
                        f"frequency resolves) or from {', '.join(CALENDAR_FEATURES)}; "
                        "default none")
    parser.add_argument("--holidays", type=holidays_arg, default=None, metavar="CC[:SUBDIV]",
                        help="a public-holiday flag as a known-ahead covariate, e.g. US or "
                        "AU:VIC (the holidays package's codes)")
