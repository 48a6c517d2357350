"""FIRENET's accuracy-stability frontier: PSNR against the converged worst-case ratio and against
the targeted hallucination contrast, over depth, lam and regulariser, with the shipped networks
and zero-filling as points, all attacked with one budget on the same image, mask and seed.

    python benchmarks/frontier.py [--size 128] [--seed 20000] [--mask gaussian] [--rho 0.01]
                                  [--configs quick|full] [--json out.json]

Image: the held-out ellipse phantom ellipses:SEED at SIZE x SIZE (never seen in training), mask at
25% (seed 0). Attacks: ``stability.battery.Budget()`` (fixed-norm ascent, stopping rule tol 1e-3 over
10 steps, cap 100 per start, one random direction of both signs) at ||r|| = rho ||x||, and the
targeted hallucination attack at the same size on the 3 x 3 grid of discs. lam is a multiple of the
calibrated default (``nets.mri.default_lam``); depth is restarts x inner layers at a fixed depth.
Last, AI + FIRENET: the reference FIRENET warm-started at each network's output (``WarmStarted``).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

QUICK = [
    ("wavelet", 5, 5, 1.0), ("wavelet", 5, 10, 1.0), ("wavelet", 10, 20, 1.0),
    ("wavelet", 5, 10, 4.0), ("wavelet", 5, 10, 20.0),
    ("undecimated", 5, 10, 1.0),
]
FULL = QUICK + [("wavelet", 10, 20, 4.0), ("wavelet", 10, 20, 20.0), ("wavelet", 5, 5, 4.0),
                ("undecimated", 5, 5, 1.0), ("undecimated", 5, 10, 4.0)]


def point(label: str, make, A, x, budget) -> dict:
    import firenets as fn
    from firenets.stability import battery

    f = make(A)
    with torch.no_grad():
        rec = f(A(x))
    psnr = float(fn.metrics.psnr(x.abs(), rec.abs()))
    t0 = time.perf_counter()
    pert = battery.perturbation(f, A, x, budget)
    ha = battery.hallucination_attacks({label: make}, A, x, budget)[label].attacks[0]
    return {"map": label, "psnr": psnr, "ratio": pert.max_ratio, "noise_ratio": pert.max_noise_ratio,
            "error": pert.error, "error_perturbed": pert.worst.stages[0].error, "converged": bool(pert.worst.converged),
            "contrast": ha.contrast, "contrast_max": ha.contrast / float(x.abs().max()),
            "input_contrast": ha.input_contrast, "noise_contrast": ha.noise_contrast,
            "contrast_converged": ha.converged, "seconds": time.perf_counter() - t0,
            "layers": getattr(f, "num_layers", None)}


def run(size: int, seed: int, mask: str, rho: float, configs: list) -> list[dict]:
    import firenets as fn
    from firenets.acquisition import acquire
    from firenets.nets.mri import default_lam, reconstruction_map
    from firenets.stability import battery

    x0 = fn.data.ellipses(size, seed=seed)
    acq = acquire(x0, mask=mask, rate=0.25, seed=0)
    A, x = acq.operator, acq.target
    budget = battery.Budget(norms=(rho,))  # the battery's default stopping rule and starts
    rows = []
    for reg, restarts, inner, mult in configs:
        lam = mult * default_lam(reg, (size, size))
        label = f"FIRENET {reg} {restarts}x{inner} lam x{mult:g}"

        def make(F, reg=reg, restarts=restarts, inner=inner, lam=lam):
            return reconstruction_map("firenet", F, regulariser=reg, restarts=restarts, inner=inner, lam=lam,
                                      tol=0, xtol=0)

        rows.append({**point(label, make, A, x, budget), "regulariser": reg, "depth": f"{restarts}x{inner}",
                     "lam": lam, "lam_multiple": mult})
        print(_line(rows[-1]), flush=True)
    for label, make in battery.reference_makers().items():
        if label.startswith("FIRENET"):
            continue
        rows.append(point(label, make, A, x, budget))
        print(_line(rows[-1]), flush=True)
    # AI + FIRENET: the reference FIRENET started at each network's output (nets.mri.WarmStarted)
    from firenets.nets.mri import REFERENCE_FIRENET, WarmStarted

    for net in ("unet", "cascade"):
        def make(F, net=net):
            return WarmStarted(reconstruction_map(net, F), reconstruction_map("firenet", F, **REFERENCE_FIRENET))

        rows.append(point(f"{'U-Net' if net == 'unet' else 'cascade'} + FIRENET (reference)", make, A, x, budget))
        print(_line(rows[-1]), flush=True)
    return rows


def _line(r: dict) -> str:
    return (f"{r['map']:38s} PSNR {r['psnr']:6.2f}  ratio {r['ratio']:6.2f} (noise {r['noise_ratio']:5.2f}, "
            f"conv {str(r['converged'])[0]})  error {r['error']:.3f} -> {r['error_perturbed']:.3f}  contrast "
            f"{r['contrast']:.4f} ({r['contrast_max']:.1%} of max; truth {r['input_contrast']:+.4f}, noise "
            f"{r['noise_contrast']:+.4f}, conv {str(r['contrast_converged'])[0]})  {r['seconds']:5.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=20_000)
    parser.add_argument("--mask", default="gaussian")
    parser.add_argument("--rho", type=float, default=0.01)
    parser.add_argument("--configs", choices=["quick", "full", "none"], default="quick",
                        help="FIRENET settings to run (none: only the networks and AI + FIRENET)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{args.size}x{args.size} ellipses:{args.seed}, {args.mask} 25% (seed 0), ||r|| = {args.rho:g} ||x||; "
          "one attack budget for every map", flush=True)
    rows = run(args.size, args.seed, args.mask, args.rho, {"quick": QUICK, "full": FULL, "none": []}[args.configs])
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
