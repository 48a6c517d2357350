"""``firenets table``: the impossibility table."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._progress import Console
from ..barriers import table
from .options import add_output, numbers, output, say


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table", help="the impossibility table: FIRENET vs trained LISTA on Omega_K")
    p.add_argument("--quick", action="store_true", help="reduced LISTA training (same conclusions, ~1 min)")
    p.add_argument("--dims", choices=["code", "caption"], default="code",
                   help="m = 21, N = 22 (the authors' script) or m = 19, N = 20 (the slide's caption)")
    add_output(p, "firenets-table")
    p.add_argument("--K", type=numbers(int, minimum=1), default=[1, 3, 6], help="digits, comma-separated (default 1,3,6)")
    p.add_argument("--n", type=numbers(int, minimum=1), default=[10, 20, 30],
                   help="input precisions 2^-n (default 10,20,30)")
    p.add_argument("--epochs", type=int, default=None, help="LISTA epochs (default 4000, or 60 with --quick)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default=None, help="LISTA training checkpoint file (resumed if present)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    with output(args, ("run.json", "table.json")) as staging:
        mode = "quick (reduced LISTA training)" if args.quick else "full (LISTA: 4000 epochs)"
        say(args, f"K = {args.K}, n = {args.n}, dims = {args.dims}, {mode}")
        result = table.run(Ks=args.K, ns=args.n, dims=args.dims, quick=args.quick, epochs=args.epochs,
                           seed=args.seed, progress=Console() if not args.no_progress else None,
                           checkpoint=args.checkpoint)
        paths = table.write(result, staging)
    print(table.text(result))
    print(f"\nwrote {', '.join(str(out / p.name) for p in paths)}")
    return 0 if all(result.claims().values()) else 1
