"""The ``firenets`` command: one module per command (its parser and its run); each parses, calls an
experiment or the library, and writes through ``report``. Exit codes: 0 success, 2 a usage error (a
bad option, input or output place), 1 a failure (an OS error, a run in the way, a stage that failed),
130 Ctrl-C; a one-line message on stderr, the traceback only with ``--debug``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from .._io import OutputError
from .._validation import ArgumentError
from . import attack, audit, barrier, demo, faithfulness, info, reconstruct, table, train

COMMANDS = (info, table, barrier, reconstruct, train, attack, demo, audit, faithfulness)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``firenets`` command."""
    parser = argparse.ArgumentParser(
        prog="firenets",
        description="Stable and accurate neural networks for inverse problems, and an audit of any "
        "reconstruction network.",
    )
    parser.add_argument("--version", action="version", version=f"firenets {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add(sub)
    return parser


def _message(args: argparse.Namespace, exc: BaseException) -> str:
    """The error's one line; a library argument named by the option the user spelled."""
    if isinstance(exc, ArgumentError):
        option = getattr(args, "options", {}).get(exc.argument)
        if option is not None:
            return f"{option} {exc.detail}"
    if isinstance(exc, OSError) and not isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if getattr(exc, "filename", None) else "")
    if isinstance(exc, MemoryError):
        return f"out of memory ({exc})"
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``firenets`` console script; ``argv`` default sys.argv[1:]."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 0
    args.argv = argv
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"firenets {args.command}: interrupted; nothing of this run claims to be complete", file=sys.stderr)
        return 130
    except (OutputError, ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError, ArithmeticError,
            OSError, MemoryError) as exc:
        if args.debug:
            raise
        print(f"firenets {args.command}: {_message(args, exc)}", file=sys.stderr)
        if isinstance(exc, OutputError):
            return 2 if exc.usage else 1
        if isinstance(exc, (OSError, MemoryError)) and not isinstance(
                exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
            return 1  # the disk is full, read-only, a permission, memory: a failure
        return 2  # bad input


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
