"""Multi-coil (SENSE) speed: the operator against its floor, FIRENET's layer against one forward and
one adjoint, and a 15-coil slice reconstructed by FIRENET against BART's best ``pics``.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/multicoil.py [--size 320] [--coils 15] [--acceleration 4]
                                                            [--repeat 7] [--threads 2] [--parts 1,2,3]

The scan: the photograph (``data.camera``) at SIZE x SIZE inside an ellipse (zero outside, as an
MRI field of view has background) as the object, COILS birdcage maps
(``coils.birdcage``), its fully sampled k-space, undersampled by fastMRI's random column mask at
ACCELERATION with centre fraction 0.08 (seed 0). Coil maps: ESPIRiT from the mask's fully sampled
centre (``acquisition.acquire_multicoil``); BART gets the same maps. Target: the RSS of the fully
sampled coil images. Timings are medians of interleaved repeats on a machine that may be shared.

1. One application A x of ``operators.MultiCoilFourier`` (and A^* y) against its floor, the C
   single-coil transforms of the coil images S_c x (``Fourier2D`` on a batch of C images; the maps'
   products are the difference).
2. FIRENET's cost per layer (undecimated default, 40 layers of one block, paper schedule) against
   one forward, one adjoint and the regulariser's B and B^* (goal 1.3x, as for one coil).
3. BART ``pics -l1`` (Daubechies-2 with random shifts, its defaults; -w 1 so lam is absolute) over
   lam = 1e-3 x 2^k, k = -3..3, at 50, 100 and 200 iterations: its best PSNR and the wall time of
   that run; FIRENET with its defaults: its PSNR, and the time its restarts first reach BART's best
   minus 0.3 dB (goal: no more than BART's time). Only where ``bart`` is on PATH.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cs_tools  # noqa: E402
import vs_cs  # noqa: E402
from timing import median_seconds  # noqa: E402

MARGIN_DB = 0.3


def scan(size: int, n_coils: int, acceleration: float):
    import firenets as fn
    from firenets import coils
    from firenets.acquisition import acquire_multicoil
    from firenets.operators import MultiCoilFourier

    # the photograph inside an ellipse that leaves a background, as an MRI field of view does (ESPIRiT's
    # maps are smooth and periodic: an object touching the edges of the field of view defeats them)
    r = (torch.arange(size, dtype=torch.float64) - size / 2 + 0.5) / (size / 2)
    inside = (r[:, None] / 0.92) ** 2 + (r[None, :] / 0.8) ** 2 <= 1
    x = (fn.data.camera(size) * inside).to(torch.complex128)
    S = coils.birdcage(n_coils, (size, size))
    k = MultiCoilFourier(S, torch.ones(size, size, dtype=torch.bool)).kspace(x)
    acq = acquire_multicoil(k, mask="fastmri-random", rate=1 / acceleration, center_fraction=0.08, seed=0)
    return acq


def interleaved(fns: dict, repeat: int) -> dict:
    """Median seconds of each function, timed in turn, ``repeat`` rounds after one warm-up each."""
    for fn_ in fns.values():
        fn_()
    samples = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn_ in fns.items():
            t0 = time.perf_counter()
            fn_()
            samples[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def operator_speed(acq, repeat: int) -> None:
    A = acq.operator
    g = torch.Generator().manual_seed(0)
    x = torch.complex(torch.randn(A.in_shape, generator=g, dtype=torch.float64),
                      torch.randn(A.in_shape, generator=g, dtype=torch.float64))
    coil_images = x * A.maps
    y = A(x)
    F = A.single
    with torch.no_grad():
        t = interleaved({"A x": lambda: A(x), "floor (C transforms)": lambda: F(coil_images),
                         "A^* y": lambda: A.adjoint(y), "floor (C adjoints)": lambda: F.adjoint(y)}, repeat)
    C = A.coils
    print(f"\n1. operator, {C} coils {A.in_shape[0]}x{A.in_shape[1]}, rate {A.rate:.3f} (median of {repeat})")
    print(f"   A x   {t['A x'] * 1e3:8.2f} ms   {C} single-coil transforms {t['floor (C transforms)'] * 1e3:8.2f} ms"
          f"   ratio {t['A x'] / t['floor (C transforms)']:.2f}")
    print(f"   A^* y {t['A^* y'] * 1e3:8.2f} ms   {C} single-coil adjoints   {t['floor (C adjoints)'] * 1e3:8.2f} ms"
          f"   ratio {t['A^* y'] / t['floor (C adjoints)']:.2f}", flush=True)


def layer_speed(acq, repeat: int) -> None:
    print("\n2. FIRENET per layer against one forward + one adjoint (+ B and B^*), goal 1.3x")

    def med(fn_, n=5):
        return median_seconds(fn_, n, warmup=1)

    for reg in ("wavelet", "undecimated"):
        vs_cs._layer_one(acq.operator, acq.y, reg, torch.complex128, max(repeat // 3, 1), med)


def against_bart(acq) -> None:
    from firenets.metrics import psnr as _psnr

    target = acq.target.numpy()

    def psnr(image) -> float:
        return float(_psnr(torch.from_numpy(target), torch.from_numpy(np.abs(image))))

    print(f"\n3. reconstruction of the photograph, {acq.operator.coils} coils, {target.shape[0]}x{target.shape[1]}, "
          f"fastMRI random {acq.rate:.3f} (centre fraction 0.08), ESPIRiT maps from {acq.calibration}")
    zf = psnr(acq.zero_filled.numpy())
    print(f"   zero-filled RSS: {zf:.2f} dB", flush=True)
    mask = acq.mask.numpy()
    maps = acq.operator.maps.numpy()
    y = acq.y.numpy()
    best = None
    if cs_tools.bart_available():
        for iters in (50, 100, 200):
            for k in range(-3, 4):
                lam = 1e-3 * 2.0**k
                r = cs_tools.bart_pics_run(y, mask, lam=lam, iters=iters, maps=maps)
                value = psnr(r.image)
                if best is None or value > best[0]:
                    best = (value, lam, iters, r.seconds)
            print(f"   BART pics -l1 at {iters} iterations: best so far {best[0]:.2f} dB (lam {best[1]:.3g}, "
                  f"{best[2]} iterations, {best[3]:.2f} s)", flush=True)
    else:
        print("   bart is not on PATH: the BART row is not measured")
    if best is not None and (best[1] == 1e-3 * 2.0**-3 or best[2] == 200):
        print("   (BART's best lies on the edge of the grid searched: a larger search might do better)")
    for label, options in (("defaults", {}), ("defaults, complex64", {"dtype": torch.complex64})):
        fire = vs_cs.firenet_trace(acq, **options)
        value = psnr(fire["image"])
        print(f"   FIRENET ({label}: {fire['config']['regulariser']}, {fire['layers']} layers): {value:.2f} dB in "
              f"{fire['seconds']:.2f} s", flush=True)
        if best is not None:
            goal = best[0] - MARGIN_DB
            reach = vs_cs.first_time(fire["trace"], psnr, goal)
            verdict = ("never" if reach is None else f"after {reach:.2f} s = {reach / best[3]:.2f} x BART's time "
                       f"({'met' if reach <= best[3] else 'missed'})")
            print(f"   FIRENET ({label}) reaches BART's best - {MARGIN_DB} dB ({goal:.2f}) {verdict}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--coils", type=int, default=15)
    parser.add_argument("--acceleration", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parts", default="1,2,3", help="which parts to run (default 1,2,3)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    parts = set(args.parts.split(","))
    acq = scan(args.size, args.coils, args.acceleration)
    if "1" in parts:
        operator_speed(acq, args.repeat)
    if "2" in parts:
        layer_speed(acq, args.repeat)
    if "3" in parts:
        against_bart(acq)


if __name__ == "__main__":
    main()
