"""BART ``pics`` and SigPy against each other on single-coil 2-D MRI: each method's best-of-lambda
PSNR/SSIM at the iteration count where PSNR settles, and its median time.

    python benchmarks/cs_tools.py [--images shepp camera] [--size 256] [--repeats 3] [--max-iters 3200]

prints, for a 25% Gaussian mask, each method's best-of-lambda PSNR/SSIM at the iteration count
where PSNR settles (< 0.01 dB on doubling; "3200+" when it has not by the cap) and its median
time over interleaved runs. The tools: ``cs_kspace`` (the samples as NumPy arrays), ``cs_bart``
and ``cs_sigpy`` (the runners and what each minimises), ``cs_objectives`` (those objectives),
``cs_search`` (iterations to convergence, best lam).

References: Uecker et al., "Berkeley Advanced Reconstruction Toolbox", ISMRM 2015 (BART);
Ong and Lustig, "SigPy: a python package for high performance iterative reconstruction",
ISMRM 2019; Lustig, Donoho, Pauly, MRM 58 (2007) (l1-wavelet CS-MRI).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import numpy as np
import torch

import firenets
from cs_bart import bart_pics, bart_pics_run
from cs_search import best_of_lambda, iteration_trace, lam_grid, tune
from cs_sigpy import sigpy_l1wavelet, sigpy_tv
from firenets.metrics import psnr, ssim
from firenets.operators import Fourier2D


def _methods(y: np.ndarray, mask: np.ndarray) -> dict[str, tuple[Callable, float, int]]:
    """name -> (run(lam, iters) -> (image, seconds), first lam, first iteration count)."""

    def bart_run(**kw):
        return lambda lam, n: bart_pics(y, mask, lam=lam, iters=n, **kw)

    return {
        "BART l1 dau2 -n": (bart_run(shifts=False), 2e-3, 50),
        "BART l1 dau2 -n, scaled": (bart_run(shifts=False, scale=True), 1e-2, 50),
        "BART l1 dau2+shifts": (bart_run(), 2e-3, 50),
        "BART TV": (bart_run(regulariser="tv"), 2e-3, 100),
        "BART TV, scaled": (bart_run(regulariser="tv", scale=True), 1e-2, 100),
        "SigPy l1 db4": (lambda lam, n: sigpy_l1wavelet(y, mask, lam=lam, iters=n), 2e-3, 50),
        "SigPy TV": (lambda lam, n: sigpy_tv(y, mask, lam=lam, iters=n), 2e-3, 100),
    }


def measure(
    name: str, target: np.ndarray, mask: np.ndarray, *, repeats: int = 5, max_iters: int = 3200
) -> list[dict]:
    """Best-of-lambda PSNR/SSIM, converged iteration count and median seconds of each method on one image.

    BART's l1 with random shifts never settles (each run ends on a different shift): it is tuned at
    the iteration count where the unshifted run settled, and its PSNR trace over counts is kept.
    """
    y = Fourier2D(torch.from_numpy(mask))(torch.from_numpy(target).to(torch.complex128)).numpy()

    def metric(image):
        return psnr(target, np.abs(image))

    methods = _methods(y, mask)
    rows: list[dict] = []
    for label, (run, lam0, n0) in methods.items():
        row: dict = {"image": name, "method": label}
        if "shifts" in label:
            n = next(r["iters"] for r in rows if r["method"] == "BART l1 dau2 -n")
            search = best_of_lambda(lambda v, n=n, run=run: run(v, n), lam_grid(lam0), metric)
            lam, image, score = search.lam, search.image, search.score
            trace = iteration_trace(
                lambda k, run=run, lam=lam: run(lam, k), [25, 50, 100, 200, 400, 800, 1600, 3200]
            )
            history = [(k, metric(im), sec) for k, sec, im in trace]
        else:
            lam, conv = tune(run, lam0, n0, metric, max_iters=max_iters)
            n, image, score, history = conv.iters, conv.image, conv.score, conv.history
            row["settled"] = conv.settled
        row.update(lam=lam, iters=n, psnr=score, ssim=ssim(target, np.abs(image)), history=history)
        if "scaled" in label:
            row["scaling"] = bart_pics_run(y, mask, lam=lam, iters=1, scale=True).scaling
        rows.append(row)
        print(f"  tuned {label}: lam {lam:.4g}, iters {n}, PSNR {score:.2f}, history {history}", flush=True)
    times: dict[str, list[float]] = {r["method"]: [] for r in rows}
    for _ in range(repeats):  # interleaved, so that load on the shared cores hits every method alike
        for r in rows:
            times[r["method"]].append(methods[r["method"]][0](r["lam"], r["iters"])[1])
    for r in rows:
        r["seconds"] = float(np.median(times[r["method"]]))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Print the best-of-lambda table on Shepp-Logan and cameraman with a 25% Gaussian mask."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=["shepp", "camera"], choices=["shepp", "camera"])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-iters", type=int, default=3200)
    args = parser.parse_args(argv)
    mask = firenets.masks.gaussian((args.size, args.size), 0.25, seed=0).mask.numpy()
    header = (
        f"{'image':7s}{'method':30s}{'lam':>10s}{'scale c':>9s}{'iters':>7s}{'PSNR':>8s}{'SSIM':>8s}{'s':>8s}"
    )
    for name in args.images:
        target = (firenets.data.shepp_logan if name == "shepp" else firenets.data.camera)(args.size).numpy()
        rows = measure(name, target, mask, repeats=args.repeats, max_iters=args.max_iters)
        print(header)
        for r in rows:
            c = f"{r['scaling']:.4g}" if "scaling" in r else "-"
            its = f"{r['iters']}" + ("" if r.get("settled", True) else "+")
            print(
                f"{r['image']:7s}{r['method']:30s}{r['lam']:10.4g}{c:>9s}{its:>7s}{r['psnr']:8.2f}"
                f"{r['ssim']:8.4f}{r['seconds']:8.3f}"
            )
            print(" " * 7 + "  PSNR by iterations: " + ", ".join(f"{n}: {p:.2f}" for n, p, _ in r["history"]))
        print(flush=True)


if __name__ == "__main__":
    main()
