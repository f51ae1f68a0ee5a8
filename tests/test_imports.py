"""The repository's import graph: no cycles, layers only import downwards, and no script
rebinds an attribute of the package it measures.

Every `import` / `from ... import` of every .py file under txl_ts/, benchmarks/, experiments/
and examples/ counts, wherever it stands: inside functions, under `if TYPE_CHECKING:`, in
`try` blocks. Relative imports are resolved against the importing module's package, and
`from package import name` counts as an import of `package.name` when that is a module.
String imports (`importlib.import_module("txl_ts.x")`) are not seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("txl_ts", "benchmarks", "experiments", "examples")

# The layers of txl_ts, lowest first. A module may import modules of its own layer or of a
# lower one, never of a higher one. An entry names one module (`txl_ts.backtest`; `txl_ts` is
# the package's __init__) or, ending in `.*`, a package with everything under it. A new
# module must be placed here: the test fails for a module the table does not place.
LAYERS: dict[str, tuple[str, ...]] = {
    # plain helpers: the data layer, frequencies, interval calibration, bundled data,
    # Lightning set-up
    "foundation": ("txl_ts.frames.*", "txl_ts.params", "txl_ts.threads", "txl_ts.cli_roles",
                   "txl_ts.cli", "txl_ts.protocol", "txl_ts.protocol_long", "txl_ts.metrics",
                   "txl_ts.seasonality", "txl_ts.conformal",
                   "txl_ts.datasets", "txl_ts.distributed", "txl_ts.training"),
    # the Transformer-XL network, its memory, streaming and training module
    "networks": ("txl_ts.txl.*",),
    # what every estimator shares: the fitted data path, intervals, persistence, the base
    # class, lookback windows
    "estimator base": ("txl_ts.datapath", "txl_ts.intervals", "txl_ts.model_files",
                       "txl_ts.persistence", "txl_ts.persistence_panel", "txl_ts.panel_model",
                       "txl_ts.base", "txl_ts.lookback"),
    "estimators": ("txl_ts.forecaster", "txl_ts.baselines.*", "txl_ts"),
    "workflows": ("txl_ts.machine", "txl_ts.backtest_targets", "txl_ts.backtest_frame",
                  "txl_ts.backtest_panel", "txl_ts.backtest",
                  "txl_ts.benchmark", "txl_ts.benchmark_long", "txl_ts.grid_files",
                  "txl_ts.grid_tasks", "txl_ts.grid_dask", "txl_ts.grid",
                  "txl_ts.search_space", "txl_ts.studies",
                  "txl_ts.tuning_data", "txl_ts.tuning", "txl_ts.demo", "txl_ts.plotting"),
    "command line": ("txl_ts.__main__",),
}

# The folders, lowest first: the package never imports the scripts, benchmarks never import
# experiments, and nothing imports the examples.
FOLDERS = ("txl_ts", "benchmarks", "experiments", "examples")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def source_files() -> dict[str, Path]:
    files = {}
    for top in TOP_LEVEL:
        for path in sorted((ROOT / top).rglob("*.py")):
            files[module_name(path)] = path
    return files


FILES = source_files()


def _resolve_relative(importer: str, importer_is_package: bool, level: int,
                      module: str | None) -> str:
    package = importer.split(".") if importer_is_package else importer.split(".")[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, *([module] if module else [])])


def imports_of(name: str, path: Path) -> list[tuple[str, int]]:
    """(imported module of the repository, line) for every import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (_resolve_relative(name, is_package(path), node.level, node.module)
                    if node.level else node.module or "")
            # `from package import name`: the submodule when there is one, else the package
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in FILES else base
                       for alias in node.names]
        for target in targets:
            # `import a.b.c` names a.b.c; keep the longest prefix that is a file of ours
            parts = target.split(".")
            while parts and ".".join(parts) not in FILES:
                parts.pop()
            if parts and ".".join(parts) != name:
                found.append((".".join(parts), node.lineno))
    return sorted(found)


GRAPH = {name: imports_of(name, path) for name, path in FILES.items()}


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of the directed graph as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layer_of(module: str) -> int | None:
    """Index of the module's layer in LAYERS, or None when no entry places it."""
    for index, entries in enumerate(LAYERS.values()):
        for entry in entries:
            package = entry.removesuffix(".*")
            if module == package or (entry.endswith(".*") and module.startswith(package + ".")):
                return index
    return None


def test_the_graph_sees_imports_inside_functions_and_type_checking_blocks(tmp_path):
    """The walker itself: every kind of import becomes an edge."""
    source = ("from __future__ import annotations\n"
              "from typing import TYPE_CHECKING\n"
              "from . import backtest\n"
              "if TYPE_CHECKING:\n    from .txl.net import TXLNet\n"
              "def f():\n    from ..txl_ts import grid\n    import txl_ts.demo\n")
    path = tmp_path / "probe.py"
    path.write_text(source)
    edges = {m for m, _ in imports_of("txl_ts._probe_", path)}
    assert edges == {"txl_ts.backtest", "txl_ts.txl.net", "txl_ts.grid",
                                   "txl_ts.demo"}
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None


def test_no_import_cycle():
    cycle = find_cycle({name: [m for m, _ in edges] for name, edges in GRAPH.items()})
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_package_module_has_a_layer():
    unplaced = [m for m in FILES if m.split(".")[0] == "txl_ts" and layer_of(m) is None]
    assert not unplaced, (f"{', '.join(unplaced)}: not in any layer; add them to LAYERS in "
                          "tests/test_imports.py (a module may import its own layer and the "
                          "ones listed before it)")


def test_package_modules_import_only_their_layer_or_lower():
    names = list(LAYERS)
    upward = []
    for module, edges in GRAPH.items():
        if module.split(".")[0] != "txl_ts" or layer_of(module) is None:
            continue
        for target, line in edges:
            low, high = layer_of(module), layer_of(target)
            if high is not None and high > low:
                upward.append(f"{FILES[module].relative_to(ROOT)}:{line}: {module} "
                              f"({names[low]}) imports {target} ({names[high]})")
    assert not upward, "imports from a lower layer up:\n" + "\n".join(upward)


def test_folders_import_only_downwards():
    upward = [f"{FILES[module].relative_to(ROOT)}:{line}: {module} imports {target}"
              for module, edges in GRAPH.items() for target, line in edges
              if FOLDERS.index(target.split(".")[0]) > FOLDERS.index(module.split(".")[0])]
    assert not upward, "\n".join(upward)


def _bound_to_package(tree: ast.AST) -> set[str]:
    """Names a script binds by importing from txl_ts (modules, classes or functions)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names
                      if a.name.split(".")[0] == "txl_ts"}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module and (
                node.module.split(".")[0] == "txl_ts"):
            names |= {a.asname or a.name for a in node.names}
    return names


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def package_rebinds(source: str) -> list[tuple[int, str]]:
    """(line, text) of every assignment to an attribute of a name imported from txl_ts, and
    every setattr / delattr on one."""
    tree = ast.parse(source)
    bound = _bound_to_package(tree)
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("setattr", "delattr") and node.args):
            if _root_name(node.args[0]) in bound:
                found.append((node.lineno, ast.unparse(node)))
            continue
        flat = []
        for target in targets:
            flat += target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
        for target in flat:
            if isinstance(target, ast.Attribute) and _root_name(target) in bound:
                found.append((node.lineno, ast.unparse(target)))
    return sorted(found)


def test_the_rebinding_check_sees_assignments_setattr_and_aliases():
    source = ("import txl_ts.forecaster as fm\nfrom txl_ts import TXLForecaster\n"
              "from txl_ts.txl import module\nimport numpy as np\n"
              "fm.fit_module = None\nTXLForecaster._build_net = None\n"
              "setattr(module, 'TXLNet', None)\nmodule.LAGS, x = 1, 2\nnp.pi = 3\n"
              "model = TXLForecaster()\nmodel.horizon = 3\n")
    assert [line for line, _ in package_rebinds(source)] == [5, 6, 7, 8]


SCRIPTS = [path for name, path in FILES.items() if name.split(".")[0] != "txl_ts"]


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_script_rebinds_package_attributes(path):
    """An ablation is a parameter of a real code path, or an experiment through the public
    API: a script that swaps a function or class of txl_ts measures code that does not ship."""
    found = package_rebinds(path.read_text())
    assert not found, "\n".join(f"{path.relative_to(ROOT)}:{line}: assigns {text}"
                                for line, text in found)
