"""``firenets demo``: the whole story on one page."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .._progress import Console
from ..experiments import demo
from .options import add_output, output

PAGE_MARKERS = ("index.html", "results.json")  # a page's completion markers


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the whole story on one page: table, reconstructions, attacks, maps")
    add_output(p, "firenets-demo")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    with output(args, PAGE_MARKERS + ("table/run.json", "table/table.json")) as staging:
        start = time.perf_counter()
        result = demo(progress=Console(bars=not args.no_progress))
        page = result.write(staging, seconds=time.perf_counter() - start)
    print()
    for line in page.terminal():
        print(line)
    print(f"\nwrote {out / 'index.html'} ({time.perf_counter() - start:.0f} s)")
    return 0
