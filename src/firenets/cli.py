"""The ``firenets`` command: parses arguments, calls the library, writes results."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

_PENDING = {
    "table": "the impossibility table (FIRENET vs trained LISTA on Omega_K)",
    "reconstruct": "reconstruct an image from simulated or real k-space",
    "attack": "worst-case perturbations of a reconstruction network",
    "train": "train a U-Net or deep-cascade reconstruction network",
    "demo": "the whole story on one page",
}


def _info(args: argparse.Namespace) -> int:
    import platform

    import torch

    import firenets

    print(f"firenets {firenets.__version__}")
    print(f"python {platform.python_version()}, torch {torch.__version__}")
    print(f"cuda available: {torch.cuda.is_available()}")
    return 0


def _pending(name: str):
    def run(args: argparse.Namespace) -> int:
        print(f"firenets {name}: not available in this version yet", file=sys.stderr)
        return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``firenets`` command."""
    from firenets import __version__

    parser = argparse.ArgumentParser(
        prog="firenets",
        description="Stable and accurate neural networks for inverse problems, and an audit of any "
        "reconstruction network.",
    )
    parser.add_argument("--version", action="version", version=f"firenets {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="versions and devices")
    info.set_defaults(run=_info)
    for name, text in _PENDING.items():
        p = sub.add_parser(name, help=f"{text} (not available yet)")
        p.set_defaults(run=_pending(name))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``firenets`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 0
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
