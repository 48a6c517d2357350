"""``firenets attack``: worst-case perturbations of one method, the noise control and hallucination maps."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import data
from .._progress import Console
from ..acquisition import MASKS, acquire
from ..experiments import attack, reference_makers
from ..experiments.maps import REFERENCE
from ..nets.mri import METHODS, REFERENCE_FIRENET, reconstruction_map
from .options import (
    BUDGET_OPTIONS,
    add_budget,
    add_output,
    budget,
    nonnegative,
    numbers,
    output,
    positive_int,
    rate,
    say,
)


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attack", help="worst-case perturbations, noise control and hallucination maps")
    p.add_argument("image", help="a file or a built-in image (shepp-logan, camera, ellipses:SEED)")
    p.add_argument("--method", choices=METHODS, required=True)
    p.add_argument("--mask", choices=MASKS, default="gaussian", help="default gaussian: the shipped weights' mask")
    p.add_argument("--rate", type=rate, default=0.25, help="default 0.25: the shipped weights' rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--slice", type=int, default=None)
    p.add_argument("--weights", default=None, help="unet/cascade checkpoint (default: shipped)")
    add_budget(p, penalised=True)
    p.add_argument("--lam", type=nonnegative, default=None,
                   help="instead, penalised ascent on Q(r) with this penalty of ||r||^2 (0.01 if only --records "
                        "is given); r then grows while the map's local ratio exceeds sqrt(lam)")
    p.add_argument("--records", type=numbers(int, minimum=1), default=None,
                   help="penalised ascent: iterations after which perturbations 1, 2, ... are recorded "
                        "(20,40,60 if only --lam is given)")
    p.add_argument("--measurement", type=numbers(float, above=0), default=None,
                   help="also the measurement-domain attack for these budgets ||e||/||y|| (e.g. 0.02,0.04,0.08)")
    p.add_argument("--measurement-steps", type=positive_int, default=100,
                   help="measurement-domain attack: the step cap per start (default 100)")
    p.add_argument("--compare-firenet", action="store_true",
                   help="also attack FIRENET (reference depth) at the same norms with the same budget")
    p.add_argument("--no-progress", action="store_true")
    add_output(p, "firenets-attack")
    p.set_defaults(run=run, options=BUDGET_OPTIONS)


def run(args: argparse.Namespace) -> int:
    penalised = args.lam is not None or args.records is not None
    fixed_only = [f"--{n.replace('_', '-')}" for n in ("norms", "steps", "random_starts") if getattr(args, n) is not None]
    if penalised and fixed_only:
        say(args, f"{', '.join(fixed_only)} (fixed-norm ascent) and --lam/--records (penalised ascent) are two "
                  "different modes; give one")
        return 2
    if args.compare_firenet and args.method == "firenet":
        say(args, "--compare-firenet compares another method with FIRENET; the method is FIRENET")
        return 2
    out = Path(args.out)
    with output(args, ("attack.json",)) as staging:
        start = time.perf_counter()
        image = data.load(args.image, slice=args.slice)
        x = image.with_phase  # a file's phase is kept: the attack perturbs the complex image
        acq = acquire(x, mask=args.mask, rate=args.rate, seed=args.seed)
        A = acq.operator
        # FIRENET is attacked at the fixed depth of REFERENCE_FIRENET (as in demo and audit): the
        # stopping rules of the reconstruction defaults would make the depth depend on the input
        f = reconstruction_map(args.method, A, weights=args.weights,
                               **(REFERENCE_FIRENET if args.method == "firenet" else {}))
        compare = {"FIRENET": reference_makers()[REFERENCE]} if args.compare_firenet else None
        progress = Console() if not args.no_progress else None
        meta = {"image": image.source, "method": args.method, "shape": list(x.shape), "mask": acq.mask_kind,
                "rate": acq.rate, "seed": args.seed,
                "weights": "shipped" if args.weights is None and args.method in ("unet", "cascade") else args.weights}
        common = dict(measurement=args.measurement or (), measurement_steps=args.measurement_steps, compare=compare,
                      meta=meta, progress=progress)
        if penalised:
            settings = {"lam": 0.01 if args.lam is None else args.lam, "records": args.records or [20, 40, 60],
                        "lr": args.lr, "momentum": args.momentum, "seed": args.seed}
            res = attack(f, A, x, penalised=settings, measurement_rule={"tol": args.tol, "patience": args.patience},
                         **common)
        else:
            res = attack(f, A, x, budget=budget(args), **common)
        if progress is not None:
            progress.close()
        res.meta.update(firenet_config=getattr(f, "config", None), seconds=time.perf_counter() - start)
        res.write(staging)  # attack.json last: its presence means the run completed
    for line in res.text():
        print(line)
    print(f"wrote {out / 'attack.json'}, attack.png, hallucination.png")
    return 0
