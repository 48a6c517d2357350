"""The analysis form's certificate with and without the Dykstra refinement of the network's dual pair:
per regulariser and depth, the PSNR, the relative gap of the plain certificate and after 20 and 100
rounds, and the seconds of the 20 rounds.

    python benchmarks/certificate.py [--size 256] [--restarts 20,60,120] [--regularisers undecimated,tv,undecimated+tv]

Shepp-Logan, Gaussian 25% (seed 0), noiseless; ``restarts`` blocks of 25 layers, no stopping rule
(docs/firenet.md, "A certificate that tightens with the iterates").
"""

from __future__ import annotations

import argparse
import time

import torch


def report(size: int, restarts: list[int], regularisers: list[str]) -> None:
    import firenets as fn
    from firenets.nets.mri import MRIFirenet
    from firenets.operators import Fourier2D

    torch.set_num_threads(1)  # the timing of one run, beside whatever else the machine runs

    A = Fourier2D(fn.masks.make("gaussian", (size, size), 0.25, seed=0).mask)
    x = fn.data.shepp_logan(size).to(torch.complex128)
    y = A(x)
    print("| regulariser | restarts | PSNR dB | plain | 20 rounds | 100 rounds | seconds of 20 rounds |")
    print("|---|---|---|---|---|---|---|")
    for reg in regularisers:
        for n in restarts:
            net = MRIFirenet(A, regulariser=reg, restarts=n, inner=25, tol=0, xtol=0)
            with torch.no_grad():
                out, dual = net.firenet.solve(y)
                problem = net.firenet.problem(y)
                plain = problem.certificate(out, dual)
                t0 = time.perf_counter()
                twenty = problem.certificate(out, dual, refine=20)
                seconds = time.perf_counter() - t0
                hundred = problem.certificate(out, dual, refine=100)
            psnr = float(fn.metrics.psnr(net._image(out).abs(), x.abs()))
            print(f"| {reg} | {n} | {psnr:.2f} | {float(plain.relative_gap):.2e} | {float(twenty.relative_gap):.2e} "
                  f"| {float(hundred.relative_gap):.2e} | {seconds:.1f} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--restarts", default="20,60,120")
    p.add_argument("--regularisers", default="undecimated,tv,undecimated+tv")
    args = p.parse_args()
    report(args.size, [int(v) for v in args.restarts.split(",")], args.regularisers.split(","))


if __name__ == "__main__":
    main()
