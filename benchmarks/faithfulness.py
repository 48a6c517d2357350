"""Region bounds at 256 x 256: seconds per certified interval (both ends), beside one FIRENET
reconstruction of the same samples measured in the same run.

    python benchmarks/faithfulness.py [--size 256] [--repeat 3] [--threads 2]

Shepp-Logan, Gaussian 25% (seed 0), noise 0.001 per sample (eta from it); discs of radius 5 at three
places; the reconstruction examined is the default FIRENET's and zero-filling's; prior wavelet+box,
slack 0.1, tol 3e-3 and 1e-2 (``stability.region_bounds``'s default and the pages'). Per case: the
median seconds over ``repeat`` runs (interleaved with the FIRENET reconstruction it is compared to),
the iterations of each end, whether both converged, and the interval.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

CENTRES = ((205, 128), (128, 128), (100, 90))  # (row, column), scaled to the size


def report(size: int = 256, repeat: int = 3) -> None:
    import firenets as fn
    from firenets.stability import region_bounds
    from firenets.stability.targeted import disc

    x = fn.data.shepp_logan(size)
    rec = fn.reconstruct(x, "firenet", noise=1e-3)
    acq = rec.acquisition
    recons = {"FIRENET": rec.image, "zero-filled": rec.zero_filled}
    cases = [(name, c, tol) for name in recons for c in CENTRES for tol in (3e-3, 1e-2)]
    times: dict = {case: [] for case in cases}
    base, last = [], {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn.reconstruct(x, "firenet", noise=1e-3)
        base.append(time.perf_counter() - t0)
        for case in cases:
            name, (r, c), tol = case
            region = disc((size, size), (round(r * size / 256), round(c * size / 256)), max(2, round(5 * size / 256)))
            t0 = time.perf_counter()
            last[case] = region_bounds(acq.y, acq.operator, recons[name], region, noise=1e-3, tol=tol)
            times[case].append(time.perf_counter() - t0)
    fire = statistics.median(base)
    print(f"region bounds, Shepp-Logan {size}x{size}, Gaussian 25%, noise 0.001, wavelet+box slack 0.1; "
          f"one FIRENET reconstruction {fire:.2f} s (median of {repeat})")
    print(f"{'recon':12} {'disc':>10} {'tol':>6} {'seconds':>8} {'/ FIRENET':>9} {'iterations':>11} {'conv':>5}  interval")
    for case in cases:
        name, centre, tol = case
        b = last[case]
        sec = statistics.median(times[case])
        its = f"{b.lower.iterations}+{b.upper.iterations}"
        print(f"{name:12} {str(centre):>10} {tol:6.0e} {sec:8.2f} {sec / fire:9.2f} {its:>11} {str(b.converged):>5}  "
              f"[{b.interval[0]:.4f}, {b.interval[1]:.4f}]")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report(args.size, args.repeat)


if __name__ == "__main__":
    main()
