"""Command line: `python -m txl_ts {demo,benchmark,tune} ...`.

Each sub-command lives in its own module, which provides `add_arguments(parser)` and
`run(args)`; this file only wires them together. Only the chosen sub-command's module is
imported, so `benchmark` runs where `tune`'s optuna is not installed.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "demo": ("txl_ts.demo", "fit on a bundled data set, print and plot a forecast"),
    "benchmark": ("txl_ts.grid", "run the standard benchmark protocol (one cell or a grid)"),
    "tune": ("txl_ts.tuning", "Optuna hyperparameter search (needs optuna)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m txl_ts")
    sub = parser.add_subparsers(dest="command", required=True)
    # The first argument that names a command is the chosen one (options come after it).
    chosen = next((a for a in argv if not a.startswith("-")), None)
    module = None
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as err:
                if err.name is None or err.name.startswith("txl_ts"):
                    raise
                parser.exit(2, f"`{name}` needs the package {err.name!r}, which is not "
                               f"installed here\n")
            module.add_arguments(command)
    args = parser.parse_args(argv)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
