"""Command line: `python -m txl_ts {demo,benchmark,tune} ...`.

The parsers live in `txl_ts.cli`, which imports only the standard library, so `--help` and
argument errors answer at once. Once the arguments parse, the chosen sub-command's module
(`COMMANDS`) is imported and its `run(args)` called; only that module is imported, so
`benchmark` runs where `tune`'s optuna is not installed.

An error exits with status 1 and one line on stderr (`error: ...`) instead of a traceback;
`--debug` shows the traceback. Ctrl-C exits with status 130.
"""

from __future__ import annotations

import importlib
import sys

from .cli import COMMANDS, build_parser

__all__ = ["COMMANDS", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: `sys.argv[1:]`).

    Returns
    -------
    int
        The exit status: 0 on success, 1 on an error or a failed run, 2 on bad arguments
        (argparse exits with it itself), 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    module_name = COMMANDS[args.command][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is None or err.name.startswith("txl_ts"):
            raise
        parser.exit(2, f"`{args.command}` needs the package {err.name!r}, which is not "
                       "installed here\n")
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except Exception as err:  # every error: one line, not a traceback (unless --debug)
        if args.debug:
            raise
        print(f"error: {_describe(err)}", file=sys.stderr)
        print("(run again with --debug for the traceback)", file=sys.stderr)
        return 1


def _describe(err: BaseException) -> str:
    """The error's message on one line, with its type where the message alone is unclear."""
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, FileNotFoundError) and err.filename:
        return f"no such file: {err.filename}"
    if not isinstance(err, (ValueError, TypeError, FileNotFoundError)):
        text = f"{type(err).__name__}: {text}"
    return text


if __name__ == "__main__":
    sys.exit(main())
