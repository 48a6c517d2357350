"""``firenets info``: versions and devices."""

from __future__ import annotations

import argparse
import platform

import torch

from .. import __version__


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="versions and devices")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print(f"firenets {__version__}")
    print(f"python {platform.python_version()}, torch {torch.__version__}")
    print(f"cuda available: {torch.cuda.is_available()}")
    return 0
