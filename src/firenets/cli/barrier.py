"""``firenets barrier``: the training-data part of the barrier (K - 1 digits need the revealing sample,
K - 2 need none beyond L), on the class of ``barriers.samples``, certified in rational arithmetic."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import report
from ..barriers import samples
from .options import add_output, number, numbers, output, say


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("barrier", help="how many training samples K - 1 and K - 2 correct digits need (certified)")
    p.add_argument("--K", type=number(int, minimum=3), default=3, help="the digits no algorithm reaches (default 3)")
    p.add_argument("--L", type=number(int, minimum=0), default=2,
                   help="the samples the K - 2 digit network may read (default 2)")
    p.add_argument("--R", type=number(int, minimum=2), default=64, help="training samples in each member (default 64)")
    p.add_argument("--M", type=numbers(int, minimum=1), default=None,
                   help="positions of the revealing sample, comma-separated (default L + 1, R / 2, R)")
    p.add_argument("--n", type=numbers(int, minimum=1), default=list(samples.PRECISIONS),
                   help="input precisions 2^-n the worst case runs over (default "
                        f"{','.join(map(str, samples.PRECISIONS))})")
    p.add_argument("--trials", type=number(int, minimum=1), default=4000,
                   help="simulated runs per point of the success probability (default 4000)")
    p.add_argument("--no-networks", action="store_true", help="leave out the float64 FIRENET and trained LISTA")
    p.add_argument("--seed", type=int, default=0)
    add_output(p, "firenets-barrier")
    p.set_defaults(run=run, options={"K": "--K", "L": "--L", "R": "--R", "M": "--M", "n": "--n",
                                     "trials": "--trials"})


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    with output(args, ("barrier.json",)) as staging:
        say(args, f"K = {args.K}, L = {args.L}, R = {args.R} ...")
        result = samples.run(K=args.K, L=args.L, R=args.R, Ms=None if args.M is None else tuple(args.M),
                             precisions=tuple(args.n), networks=not args.no_networks, trials=args.trials,
                             seed=args.seed)
        report.staircase_figure(staging / "barrier.png", result)
        (staging / "barrier.txt").write_text(samples.text(result) + "\n")
        report.write_json(staging / "barrier.json", result.summary())  # completion marker, last
    print(samples.text(result))
    print(f"\nwrote {out / 'barrier.json'}, barrier.txt, barrier.png ({result.seconds:.1f} s)")
    return 0 if all(result.claims().values()) else 1
