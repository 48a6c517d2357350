"""The reference FIRENET and zero-filling under the k-space threat, one coil against SENSE.

    python benchmarks/sense_stability.py [--size 64] [--coils 8] [--steps 40] [--threads 1]

For the complex phantom ellipses:7 (smooth phase, seed 3) at SIZE x SIZE, a column mask (fastmri-random)
and a 2-D one (gaussian), both at 25% with seed 0, sampled by one coil (Fourier2D) and by COILS birdcage
coils (MultiCoilFourier): the worst error to the truth ||f(A x + e) - x|| / ||x|| found over
||e|| <= eta ||A x|| (``stability.threat_attack``, threat kspace, step cap --steps), the Gaussian control's
and the unperturbed error, and whether the search converged. Prints one markdown table.
"""

from __future__ import annotations

import argparse
import time

import torch

from firenets import coils, data, masks
from firenets.experiments.maps import REFERENCE, ZERO_FILLED, reference_makers
from firenets.operators import Fourier2D, MultiCoilFourier
from firenets.stability import Budget
from firenets.stability.threats import threat_attack

ETAS = (0.01, 0.025)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--coils", type=int, default=8)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    shape = (args.size, args.size)
    x = data.load("ellipses:7", shape=shape).image.to(torch.complex128) * data.smooth_phase(shape, seed=3)
    makers = reference_makers()
    print(f"ellipses:7 with a smooth phase, {args.size} x {args.size}, 25% sampling, seed 0; threat kspace, "
          f"||e|| <= eta ||A x||, step cap {args.steps}; errors / ||x||")
    print("| mask | coils | map | unperturbed | " + " | ".join(f"eta {e:.1%}: attack / Gaussian" for e in ETAS)
          + " | converged | seconds |")
    print("|---|---|---|---|" + "---|" * len(ETAS) + "---|---|")
    for kind in ("fastmri-random", "gaussian"):
        m = masks.make(kind, shape, 0.25, seed=0).mask
        for C in (1, args.coils):
            A = Fourier2D(m) if C == 1 else MultiCoilFourier(coils.birdcage(C, shape), m)
            for label in (REFERENCE, ZERO_FILLED):
                t0 = time.perf_counter()
                t = threat_attack(makers[label](A), A, x, "kspace", Budget(steps=args.steps, noise_trials=1),
                                  norms=ETAS)
                cells = [f"{r['error']:.3f} / {r['noise_error']:.3f}" for r in t.rows()]
                print(f"| {kind} | {C} | {label} | {t.unperturbed:.3f} | " + " | ".join(cells)
                      + f" | {'yes' if t.converged else 'no (step cap)'} | {time.perf_counter() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
