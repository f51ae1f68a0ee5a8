"""Command line: `python -m txl_ts {demo,benchmark,tune} ...`.

Each sub-command lives in its own module, which provides `add_arguments(parser)` and
`run(args)`; this file only wires them together.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "demo": ("txl_ts.demo", "fit on a bundled data set, print and plot a forecast"),
    "benchmark": ("txl_ts.benchmark", "run the standard benchmark protocol"),
    "tune": ("txl_ts.tuning", "Optuna hyperparameter search"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m txl_ts")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue
        modules[name] = module
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
