"""FIRENET's adaptive schedule over long runs: per regulariser and image, the objective of every
restart's output, its largest rise from one restart to the next, and the final PSNR.

    python benchmarks/convergence.py [--size 256] [--restarts 120] [--regularisers wavelet,undecimated,tv,undecimated+tv]

Shepp-Logan and the photograph, Gaussian 25% (seed 0), noiseless; ``restarts`` blocks of 25 layers,
no stopping rule (docs/firenet.md, "Convergence").
"""

from __future__ import annotations

import argparse
import time

import torch


def report(size: int, restarts: int, regularisers: list[str]) -> None:
    import firenets as fn
    from firenets.nets.mri import MRIFirenet
    from firenets.operators import Fourier2D

    A = Fourier2D(fn.masks.make("gaussian", (size, size), 0.25, seed=0).mask)
    print(f"{'image':8} {'regulariser':15} {'final objective':>16} {'largest rise':>13} {'at':>4} {'PSNR':>7} {'s':>5}")
    for name, img in (("shepp", fn.data.shepp_logan(size)), ("camera", fn.data.camera(size))):
        x = img.to(torch.complex128)
        y = A(x)
        for reg in regularisers:
            t0 = time.perf_counter()
            net = MRIFirenet(A, regulariser=reg, restarts=restarts, inner=25, tol=0, xtol=0)
            outs = net.firenet.restart_outputs(y)
            problem = net.firenet.problem(y)
            objective = [float(problem.objective(o)) for o in outs]
            rises = [(b - a) / abs(a) for a, b in zip(objective, objective[1:], strict=False)]
            worst = max(rises)
            psnr = float(fn.metrics.psnr(net._image(outs[-1]).abs(), x.abs()))
            print(f"{name:8} {reg:15} {objective[-1]:16.10g} {worst:13.2e} {rises.index(worst) + 2:>4} {psnr:7.2f} "
                  f"{time.perf_counter() - t0:5.0f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--restarts", type=int, default=120)
    parser.add_argument("--regularisers", default="wavelet,undecimated,tv,undecimated+tv")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report(args.size, args.restarts, args.regularisers.split(","))


if __name__ == "__main__":
    main()
