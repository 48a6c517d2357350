"""Cost of one worst-case-perturbation iteration against one forward + backward pass of the map,
and the wall time of the default `firenets attack` on a 256x256 image.

    python benchmarks/attack.py [--size 256] [--repeat 5]

The floor: y = A x requiring grad, out = f(y), ||out||^2 backward (one forward and one backward
pass of f). One attack iteration: ``stability.worst_case`` on the sphere ||r|| = 1% ||x|| (the
default mode of `firenets attack`), its stopping rule off, timed for k and 2k steps per start
(one random direction, both signs: 2 starts), the difference divided by 2k (set-up excluded).
Goal: ratio <= 1.3. FIRENET is the reference FIRENET that attack, audit and demo differentiate.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

import torch

from timing import median_seconds


def iteration_ratio(method: str, size: int, repeat: int, k: int = 4) -> tuple[float, float]:
    """(seconds of one forward + backward of f, seconds of one attack iteration)."""
    import firenets as fn
    from firenets.acquisition import acquire
    from firenets.nets.mri import REFERENCE_FIRENET, reconstruction_map

    x = fn.data.shepp_logan(size)
    acq = acquire(x, rate=0.25)
    A = acq.operator
    f = reconstruction_map(method, A, **(REFERENCE_FIRENET if method == "firenet" else {}))

    def floor() -> None:
        y = A(x.to(torch.complex128)).requires_grad_(True)
        out = f(y)
        (out.abs() ** 2).sum().backward()

    rho = 0.01 * float(torch.linalg.vector_norm(x))

    def attack(n: int):
        return lambda: fn.stability.worst_case(f, A, x, norms=[rho], steps=n, patience=10**6, restarts=0)

    base = median_seconds(floor, repeat, warmup=1)
    per_iter = (median_seconds(attack(2 * k), repeat, warmup=1) - median_seconds(attack(k), repeat, warmup=1)) / (2 * k)
    return base, per_iter


def default_attack_seconds(method: str) -> float:
    """Wall time of `firenets attack shepp-logan --method METHOD` (256x256, defaults)."""
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "firenets", "attack", "shepp-logan", "--method", method,
                        "--out", out, "--no-progress"], check=True, capture_output=True)
        return time.perf_counter() - t0


def report(size: int = 256, repeat: int = 3) -> None:
    print(f"attack iteration vs one forward + backward pass of the map ({size}x{size})")
    print(f"{'map':10} {'f+b ms':>9} {'iteration ms':>13} {'ratio':>6}")
    for method in ("unet", "cascade", "firenet"):
        base, it = iteration_ratio(method, size, repeat)
        print(f"{method:10} {base * 1e3:9.1f} {it * 1e3:13.1f} {it / base:6.2f}")
    print("\ndefault `firenets attack shepp-logan` (256x256), goal < 120 s:")
    for method in ("unet", "cascade", "firenet"):
        sec = default_attack_seconds(method)
        print(f"  {method:8} {sec:6.1f} s   ratio to goal {sec / 120:.2f}")


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
