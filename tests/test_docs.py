"""The public API documents every parameter it takes (numpydoc).

A small parser of our own, not numpydoc's: a section is a title line followed by a line of
dashes, and a parameter entry is a line at the docstring's own indentation that starts with
its name (or several names separated by ", ") followed by " :".

"""

from __future__ import annotations

import inspect
import re

import pytest

from txl_ts import TXLForecaster, plotting
from txl_ts.backtest import backtest
from txl_ts.backtest_panel import backtest_long
from txl_ts.baselines import (
    ARIMAForecaster,
    DLinearForecaster,
    LSTMForecaster,
    NaiveForecaster,
)
from txl_ts.grid import run_grid
from txl_ts.tuning import tune

ESTIMATORS = [TXLForecaster, LSTMForecaster, DLinearForecaster, ARIMAForecaster,
              NaiveForecaster]
METHODS = ["fit", "predict", "predict_interval", "predict_quantiles", "update", "save", "load",
           "rolling_forecasts", "series_model"]
TXL_METHODS = ["get_state", "set_state", "reset_state"]
FUNCTIONS = [backtest, backtest_long, tune, run_grid, plotting.plot_forecast,
             plotting.plot_backtest_errors, plotting.plot_backtest_window, plotting.date_axis]

_ENTRY = re.compile(r"^([A-Za-z_]\w*(?:, [A-Za-z_]\w*)*) :")


def sections(doc: str) -> dict[str, list[str]]:
    """{section title: its lines} of a cleaned docstring (the summary under "")."""
    lines = doc.splitlines()
    out: dict[str, list[str]] = {"": []}
    current, i = "", 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and set(nxt.strip()) == {"-"} and len(nxt.strip()) >= len(
                line.strip()):
            current = line.strip()
            out[current] = []
            i += 2
            continue
        out[current].append(line)
        i += 1
    return out


def documented_parameters(doc: str) -> set[str]:
    """Names of the entries of the "Parameters" section."""
    names: set[str] = set()
    for line in sections(doc).get("Parameters", []):
        match = _ENTRY.match(line)
        if match:
            names.update(match.group(1).split(", "))
    return names


def signature_parameters(func) -> list[str]:
    params = inspect.signature(func).parameters.values()
    return [p.name for p in params if p.name not in ("self", "cls")
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def test_parser_reads_numpydoc():
    doc = inspect.cleandoc("""Summary.

        Parameters
        ----------
        a : int
            The a.
        b, c : str
            Two at once.
        not_an_entry: here
            d : an indented line is no entry

        Returns
        -------
        e : int
            A return value, not a parameter.
        """)
    assert documented_parameters(doc) == {"a", "b", "c"}
    assert set(sections(doc)) == {"", "Parameters", "Returns"}


def _check_function(func, where: str) -> None:
    doc = inspect.getdoc(func)  # inherited from the base class when not overridden
    assert doc, f"{where} has no docstring"
    wanted = signature_parameters(func)
    found = documented_parameters(doc)
    missing = [p for p in wanted if p not in found]
    assert not missing, f"{where} does not document parameter(s) {missing}"
    extra = sorted(found - set(wanted))
    assert not extra, f"{where} documents parameter(s) {extra} it does not take"
    titles = sections(doc)
    for title in ("Returns", "Raises"):
        assert title in titles, f"{where} has no {title} section"
    if wanted:
        assert "Parameters" in titles, f"{where} has no Parameters section"


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("method", METHODS)
def test_estimator_methods_document_their_parameters(cls, method):
    _check_function(getattr(cls, method), f"{cls.__name__}.{method}")


@pytest.mark.parametrize("method", TXL_METHODS)
def test_txl_state_methods_document_their_parameters(method):
    _check_function(getattr(TXLForecaster, method), f"TXLForecaster.{method}")


@pytest.mark.parametrize("func", FUNCTIONS, ids=lambda f: f.__name__)
def test_functions_document_their_parameters(func):
    _check_function(func, f"{func.__module__}.{func.__name__}")


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_class_docstring_documents_every_init_parameter(cls):
    doc = inspect.getdoc(cls)
    wanted = signature_parameters(cls.__init__)
    found = documented_parameters(doc)
    missing = [p for p in wanted if p not in found]
    assert not missing, f"{cls.__name__} does not document __init__ parameter(s) {missing}"
    assert not found - set(wanted), f"{cls.__name__} documents {found - set(wanted)}"
