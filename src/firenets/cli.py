"""The ``firenets`` command: parses arguments, calls the library, writes results."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

_PENDING = {
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


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _table(args: argparse.Namespace) -> int:
    from firenets.barriers import table

    out = Path(args.out)
    problem = _unwritable(out)
    if problem:
        print(f"firenets table: --out {out}: {problem}", file=sys.stderr)
        return 2
    mode = "quick (reduced LISTA training)" if args.quick else "full (LISTA: 4000 epochs)"
    print(f"firenets table: K = {args.K}, n = {args.n}, dims = {args.dims}, {mode}", file=sys.stderr)
    result = table.run(Ks=args.K, ns=args.n, dims=args.dims, quick=args.quick, epochs=args.epochs, seed=args.seed,
                       progress=not args.no_progress, checkpoint=args.checkpoint)
    paths = table.write(result, out)
    print(table.text(result))
    print(f"\nwrote {', '.join(str(p) for p in paths)}")
    return 0 if all(result.claims().values()) else 1


def _unwritable(out: Path) -> str | None:
    """Why results cannot be written to the directory ``out`` (None when they can): checked by
    creating it and a probe file before any long computation."""
    import tempfile

    if out.exists() and not out.is_dir():
        return "exists and is not a directory"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe-"):
            pass
    except OSError as exc:
        return f"not writable ({exc.strerror or exc})"
    return None


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
    tab = sub.add_parser("table", help="the impossibility table: FIRENET vs trained LISTA on Omega_K")
    tab.add_argument("--quick", action="store_true", help="reduced LISTA training (same conclusions, ~1 min)")
    tab.add_argument("--dims", choices=["code", "caption"], default="code",
                     help="m = 21, N = 22 (the authors' script) or m = 19, N = 20 (the slide's caption)")
    tab.add_argument("--out", default="firenets-table", help="output directory (default: firenets-table)")
    tab.add_argument("--K", type=_int_list, default=[1, 3, 6], help="digits, comma-separated (default 1,3,6)")
    tab.add_argument("--n", type=_int_list, default=[10, 20, 30], help="input precisions 2^-n (default 10,20,30)")
    tab.add_argument("--epochs", type=int, default=None, help="LISTA epochs (default 4000, or 60 with --quick)")
    tab.add_argument("--seed", type=int, default=0)
    tab.add_argument("--checkpoint", default=None, help="LISTA training checkpoint file (resumed if present)")
    tab.add_argument("--no-progress", action="store_true", help="no progress bar")
    tab.set_defaults(run=_table)
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
    try:
        return int(args.run(args))
    except ValueError as exc:  # bad values the parser could not see: a message, not a traceback
        print(f"firenets {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
