"""Calibration of FIRENET's default lam per regulariser, on images no benchmark reports.

    python benchmarks/calibrate_lam.py [--size 256] [--rate 0.25] [--noise 0,0.005,0.02] [--dtype complex64]

Calibration images: random-ellipse phantoms with seeds 30000.. (the benchmarks use 10000.. and
training 1, 2) and scikit-image photographs other than the cameraman (moon, coins, brick, clock,
astronaut in grey; the benchmarks report the cameraman and Shepp-Logan). For every regulariser of
``reconstruction.REGULARISERS`` and every lam of a log grid (factor sqrt 10 over three decades, refined by sqrt 2
around the best), each image is sampled with a Gaussian mask (seed = image index) and reconstructed by
MRIFirenet with a depth long enough for the PSNR to settle (``--restarts`` x ``--inner``), at
every noise level of ``--noise`` (complex Gaussian, standard deviation per k-space sample, image
maximum 1). The score of a lam is the mean over images and noise levels of
min(PSNR(lam), 60) - min(PSNR(best lam of that image and noise), 60) (above 60 dB a
reconstruction is exact for any purpose, and noiseless phantoms, recovered to round-off, would
otherwise decide alone); the lams within 0.05 dB of the best score form a plateau, and the one
nearest its centre in log scale is kept (away from where the PSNR falls off). The table prints that mean loss, the worst case's, and the best lam
for each noise level alone (the square-root LASSO's lam is pivotal: in theory its best value
does not depend on the noise level). (P3) is homogeneous in (x, y), so lam is scale-free; it is
searched as lam = kappa sqrt(2 ln N / N) (N pixels), the size of ||A^* e||_inf / ||e|| for
white noise e through the orthonormal rows of A (``reconstruction.default_lam``), and the table
gives kappa, the constant ``REGULARISER_DEFAULTS`` stores.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch

PHOTOGRAPHS = ("moon", "coins", "brick", "clock", "astronaut")


def calibration_images(size: int, phantoms: int = 3) -> dict[str, torch.Tensor]:
    """The calibration set: phantoms (seeds 30000..) and photographs, size x size, max 1."""
    import numpy as np
    import skimage.color
    import skimage.data
    from skimage.transform import resize

    import firenets as fn

    out = {f"ellipses:{30000 + i}": fn.data.ellipses(size, seed=30000 + i) for i in range(phantoms)}
    for name in PHOTOGRAPHS:
        img = getattr(skimage.data, name)()
        if img.ndim == 3:
            img = skimage.color.rgb2gray(img[..., :3])
        img = np.asarray(img, dtype=float)
        side = min(img.shape)  # the central square, then resized
        top, left = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
        img = resize(img[top : top + side, left : left + side], (size, size), anti_aliasing=True)
        out[name] = torch.from_numpy(img / img.max())
    return out


def psnr_of(image: torch.Tensor, regulariser: str, lam: float, *, rate: float, seed: int, noise: float,
            restarts: int, inner: int, dtype: torch.dtype) -> float:
    """PSNR of MRIFirenet(regulariser, lam) on the image sampled at rate (Gaussian mask, seed)."""
    import firenets as fn
    from firenets.reconstruction import MRIFirenet, acquire

    acq = acquire(image, mask="gaussian", rate=rate, seed=seed, noise=noise)
    f = MRIFirenet(acq.operator, regulariser=regulariser, lam=lam, restarts=restarts, inner=inner, dtype=dtype)
    with torch.no_grad():
        x = f(acq.y)
    return fn.metrics.psnr(acq.target, x.abs())


CAP_DB = 60.0


def calibrate(regulariser: str, images: dict[str, torch.Tensor], *, rate: float, noises: list[float], restarts: int,
              inner: int, dtype: torch.dtype, start: float, log=print) -> dict:
    """Search kappa on a log grid (factor sqrt 10, then sqrt 2 around the best) maximising the mean capped PSNR."""
    from firenets.reconstruction import lam_scale

    scale = lam_scale(tuple(next(iter(images.values())).shape))
    table: dict[float, dict[str, float]] = {}
    cases = [(name, i, noise) for noise in noises for i, name in enumerate(images)]

    def evaluate(lam: float) -> None:
        if lam in table:
            return
        t0 = time.perf_counter()
        table[lam] = {f"{name}@{noise:g}": psnr_of(images[name], regulariser, lam * scale, rate=rate, seed=i,
                                                   noise=noise, restarts=restarts, inner=inner, dtype=dtype)
                      for name, i, noise in cases}
        log(f"  {regulariser:15s} kappa {lam:.3e} (lam {lam * scale:.2e}): "
            + " ".join(f"{v:6.2f}" for v in table[lam].values())
            + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)

    def score(lam: float) -> float:
        return statistics.mean(min(v, CAP_DB) for v in table[lam].values())

    # a coarse grid over three decades around the start (factor sqrt 10), extended while the best is
    # at an edge, then refined by factors sqrt 2 around the best
    for e in range(-2, 5):
        evaluate(start * 10 ** (e / 2))
    while True:
        grid = sorted(table)
        best = max(grid, key=score)
        if best == grid[0]:
            evaluate(best / 10**0.5)
        elif best == grid[-1]:
            evaluate(best * 10**0.5)
        else:
            break
    for f in (2**-0.5, 2**0.5):
        evaluate(best * f)
    grid = sorted(table)
    keys = list(table[grid[0]])
    capped = {lam: {k: min(v, CAP_DB) for k, v in table[lam].items()} for lam in grid}
    oracle = {k: max(capped[lam][k] for lam in grid) for k in keys}
    loss = {lam: [capped[lam][k] - oracle[k] for k in keys] for lam in grid}
    chosen, plateau = _choose(grid, {lam: statistics.mean(loss[lam]) for lam in grid})
    per_noise = {}
    for noise in noises:
        ks = [k for k in keys if k.endswith(f"@{noise:g}")]
        per_noise[f"{noise:g}"] = max(grid, key=lambda lam, ks=ks: statistics.mean(capped[lam][k] for k in ks))
    return {"regulariser": regulariser, "kappa": chosen, "lam": chosen * scale, "plateau": plateau, "mean_loss_db": statistics.mean(loss[chosen]),
            "worst_loss_db": min(loss[chosen]), "best_lam_per_noise": per_noise,
            "grid": {f"{lam:.4e}": table[lam] for lam in grid},
            "oracle_lam": {k: max(grid, key=lambda lam, k=k: capped[lam][k]) for k in keys}}


TIE_DB = 0.05


def _choose(grid: list[float], mean_loss: dict[float, float]) -> tuple[float, list[float]]:
    """The kappa to store: among the grid points within TIE_DB of the best mean loss (a plateau where
    the choice is immaterial to 0.05 dB), the one nearest the plateau's centre in log scale, as
    far as the grid allows from where the PSNR falls off on either side."""
    best = max(mean_loss.values())
    tied = sorted(k for k in grid if mean_loss[k] >= best - TIE_DB)
    centre = math.sqrt(tied[0] * tied[-1])
    return min(tied, key=lambda k: abs(math.log(k / centre))), [tied[0], tied[-1]]


def main(argv=None) -> None:
    from firenets.reconstruction import REGULARISER_DEFAULTS, REGULARISERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rate", type=float, default=0.25)
    parser.add_argument("--noise", default="0,0.005,0.02", help="noise levels, comma-separated")
    parser.add_argument("--restarts", type=int, default=16)
    parser.add_argument("--inner", type=int, default=25)
    parser.add_argument("--regularisers", default=",".join(REGULARISERS))
    parser.add_argument("--dtype", choices=["complex64", "complex128"], default="complex64")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="write the full result here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    images = calibration_images(args.size)
    noises = [float(v) for v in args.noise.split(",")]
    print(f"calibration images ({args.size}x{args.size}, Gaussian mask at {args.rate}, noise {noises}, "
          f"{args.restarts} x {args.inner} layers, {args.dtype}): " + ", ".join(images), flush=True)
    results = []
    for reg in args.regularisers.split(","):
        results.append(calibrate(reg, images, rate=args.rate, noises=noises, restarts=args.restarts,
                                 inner=args.inner, dtype=dtype, start=REGULARISER_DEFAULTS[reg]["kappa"]))
    print(f"\n{'regulariser':16s} {'kappa':>10s} {'lam':>10s} {'mean loss dB':>13s} {'worst loss dB':>14s} "
          f"{'plateau (0.05 dB)':>22s}   best kappa per noise level")
    for r in results:
        lo, hi = r["plateau"]
        print(f"{r['regulariser']:16s} {r['kappa']:10.3e} {r['lam']:10.3e} {r['mean_loss_db']:13.2f} "
              f"{r['worst_loss_db']:14.2f} {f'{lo:.2e}..{hi:.2e}':>22s}   "
              + " ".join(f"{k}: {v:.2e}" for k, v in r["best_lam_per_noise"].items()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
