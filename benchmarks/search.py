"""The worst-case search before and after, on the same maps, images, sizes and stopping rule: the ratio
found per sphere, the forward and backward passes it took, and its seconds.

    python benchmarks/search.py [--maps demo,control,known] [--seeds 1] [--repeat 1] [--threads 2] [--device cpu|cuda]

before: the search of the previous release: random starts only (directions 0), complex128, one start
at a time, no outer sphere: Budget(directions=0, precision="complex128", reach=0), batch=False.
after: the Budget's defaults (the Jacobian's top direction first, complex64 re-evaluated in complex128,
every start of a sphere as one batch, the outer sphere and the way back down).
Both have the budget's step cap (100), stopping rule (tol 1e-3 over 10 steps), lr 0.5, momentum 0.5,
seed 0 and one random pair per sphere.

Maps: demo: the demo's four maps (shipped U-Net, shipped cascade, the reference FIRENET, zero-filling)
on its held-out phantom ellipses:20000, 128x128, Gaussian 25% (seed 0), at ||r|| = 1, 2, 4% of ||x||;
control: the positive control's U-Net on its held-out pairs 0-3, on the sphere of the feasible
r = A^*A (x' - x), beside the feasible ratio (a theorem's lower bound); known: a linear map with
Lipschitz constant 4, zero-filling (1) and the smooth switch of tests/known_maps.py (its lesion
switched on along p: the ratio along p is a lower bound).
Runs alternate before / after per map; with --repeat > 1 the seconds are medians of the repeats.
With --seeds N both searches run with the budget's seed 0..N-1 (the random starts): on a map whose
sphere holds many local maxima (a FIRENET's soft thresholds) one seed's ratio is one draw, so the
table then gives per sphere the median over seeds of each search's ratio, the seeds on which the new
search found at least the old one's ratio, and the passes summed over seeds.
--device cuda puts the operator, the image and the networks on the GPU (both searches run there).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch


def search(f, A, x, norms, budget, *, batch: bool):
    """``worst_case`` on the sphere sizes ``norms`` under ``budget``; (its result, seconds)."""
    from firenets.stability.perturbation import worst_case

    t0 = time.perf_counter()
    wc = worst_case(f, A, x, norms=norms, batch=batch, **budget.sphere())
    return wc, time.perf_counter() - t0


def _on(f, device: str):
    """f with its network (a NetworkMap's) on ``device``."""
    net = getattr(f, "net", None)
    if isinstance(net, torch.nn.Module):
        net.to(device)
    return f


def demo_cases(device: str):
    from firenets import data
    from firenets.experiments.maps import reference_makers
    from firenets.experiments.stages import acquisitions

    x = data.ellipses(128, seed=20_000)
    acq = acquisitions({"ellipses:20000": x})["ellipses:20000"]
    A = acq.operator.to(device)
    xc = x.to(device=device, dtype=torch.complex128)
    xn = float(torch.linalg.vector_norm(xc))
    for label, make in reference_makers().items():
        yield f"demo {label}", _on(make(A), device), A, xc, [rho * xn for rho in (0.01, 0.02, 0.04)], None


def control_cases(device: str):
    from firenets import data
    from firenets.experiments.control import CONTROL_LABEL, PAIR_SEED, control_setup, shipped_control
    from firenets.nets import training
    from firenets.nets.adapter import NetworkMap

    net, record = training.load(shipped_control(), kind="unet")
    c, _, A, lesion, _ = control_setup(record)
    A = A.to(device)
    f = NetworkMap(net.eval().to(device), A, "adjoint", dtype=torch.float64)
    for pair in range(4):
        x = data.ellipses(c["size"], seed=PAIR_SEED + pair).to(device=device, dtype=torch.complex128)
        r = A.adjoint(A(lesion.to(device=device, dtype=torch.complex128)))
        rho = float(torch.linalg.vector_norm(r))
        with torch.no_grad():
            feasible = float(torch.linalg.vector_norm(f(A(x + r)) - f(A(x)))) / rho
        yield f"control {CONTROL_LABEL} pair {pair}", f, A, x, [rho], feasible


def known_cases(device: str):
    import firenets as fn
    from firenets.nets.adapter import zero_filled

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from known_maps import Switch

    A = fn.operators.Fourier2D(fn.masks.gaussian((32, 32), 0.3, seed=0).mask, device=device)
    x = fn.data.shepp_logan(32).to(device=device, dtype=torch.complex128)
    xn = float(torch.linalg.vector_norm(x))
    g = torch.Generator().manual_seed(0)
    d = (0.5 + torch.rand(A.shape[0], generator=g, dtype=torch.float64)).to(device=device, dtype=torch.complex128)
    d[7] = 4.0

    def gains(y):
        return A.adjoint(d * y)

    yield "known linear (4)", gains, A, x, [0.01 * xn, 0.1 * xn], 4.0
    yield "known zero-filling (1)", zero_filled(A), A, x, [0.01 * xn, 0.1 * xn], 1.0
    g = torch.Generator().manual_seed(9)
    p = A.adjoint(torch.randn(A.shape[0], generator=g, dtype=torch.complex128).to(device))
    p = p / torch.linalg.vector_norm(p)
    disc = torch.zeros(32, 32, dtype=torch.complex128, device=device)
    disc[20:28, 10:18] = 1
    L = disc - A.adjoint(A(disc))
    rho = 0.02 * xn
    L = L * (5 * rho / torch.linalg.vector_norm(L))
    z0 = float((p.conj() * x).sum().real)
    f = Switch(A, p, L, t=z0 + 0.6 * rho, w=0.1 * rho)
    with torch.no_grad():
        along = float(torch.linalg.vector_norm(f(A(x + rho * p)) - f(A(x)))) / rho
    yield "known switch (along p)", f, A, x, [rho], along


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", default="demo,control,known")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from dataclasses import replace

    from firenets.stability.budget import Budget

    before, after = Budget(directions=0, precision="complex128", reach=0), Budget()
    seeds = range(args.seeds)
    kinds = {"demo": demo_cases, "control": control_cases, "known": known_cases}
    print(f"{'map':34} {'sphere':>6} {'before':>8} {'after':>8} {'after/before':>12} {'reference':>9} "
          f"{'passes before':>13} {'passes after':>12} {'s before':>8} {'s after':>8}")
    totals = {"passes before": 0, "passes after": 0, "s before": 0.0, "s after": 0.0, "jacobian": 0}
    lower = []
    for kind in args.maps.split(","):
        for label, f, A, x, norms, reference in kinds[kind](args.device):
            times = {"before": [], "after": []}
            runs = []  # per seed: (before, after)
            for seed in seeds:
                for _ in range(args.repeat):  # interleaved
                    wb, tb = search(f, A, x, norms, replace(before, seed=seed), batch=False)
                    wa, ta = search(f, A, x, norms, replace(after, seed=seed), batch=True)
                    times["before"].append(tb)
                    times["after"].append(ta)
                runs.append((wb, wa))
            tb, ta = statistics.median(times["before"]), statistics.median(times["after"])
            xn = float(torch.linalg.vector_norm(x))
            for j in range(len(norms)):
                rb = [wb.stages[j].ratio for wb, _ in runs]
                ra = [wa.stages[j].ratio for _, wa in runs]
                mb, ma = statistics.median(rb), statistics.median(ra)
                ref = "" if reference is None else f"{reference:.4g}"
                held = sum(a >= b for a, b in zip(ra, rb, strict=True))
                print(
                    f"{label:34} {norms[j] / xn:6.3f} {mb:8.4f} {ma:8.4f} {ma / mb:12.4f} {ref:>9} "
                    f"{sum(wb.stages[j].evaluations for wb, _ in runs):13d} "
                    f"{sum(wa.stages[j].evaluations for _, wa in runs):12d} "
                    f"{(tb if j == 0 else 0):8.1f} {(ta if j == 0 else 0):8.1f}"
                    + (
                        f"  after >= before on {held}/{len(runs)} seeds; before {' '.join(f'{v:.4f}' for v in rb)}; "
                        f"after {' '.join(f'{v:.4f}' for v in ra)}"
                        if len(runs) > 1
                        else ""
                    )
                )
            for wb, wa in runs:
                jac = wa.local.products if wa.local is not None else 0
                outer = wa.outer or {}
                print(
                    f"{'':34} seed {wa.settings['seed']}: local sigma_max {wa.local.sigma:.4g} ({jac} Jacobian "
                    f"products, residual {wa.local.residuals[0]:.1e}); outer sphere {outer.get('size', 0) / xn:.3f}: "
                    f"ratio {outer.get('ratio', float('nan')):.4g}, "
                    f"{sum(s['iterations'] for s in outer.get('starts', []))} passes; batched "
                    f"{wa.settings['batched']}, search in {wa.settings['precision']}"
                )
                totals["passes before"] += sum(s.evaluations for s in wb.stages)
                totals["passes after"] += sum(s.evaluations for s in wa.stages) + sum(
                    s["iterations"] for s in outer.get("starts", [])
                )
                totals["jacobian"] += jac
                if wa.max_ratio < wb.max_ratio:
                    lower.append(
                        f"{label} seed {wa.settings['seed']}: {wa.max_ratio:.4f} < {wb.max_ratio:.4f}"
                    )
            totals["s before"] += tb * len(runs)
            totals["s after"] += ta * len(runs)
    print(f"\npasses (forward + backward per start and step; the outer sphere's included): before "
          f"{totals['passes before']}, after {totals['passes after']} plus {totals['jacobian']} Jacobian products "
          f"(each about two backward passes): ratio {totals['passes after'] / totals['passes before']:.2f} "
          "(goal: at most 1/3)")
    print(f"seconds: before {totals['s before']:.1f}, after {totals['s after']:.1f}: ratio "
          f"{totals['s after'] / totals['s before']:.2f}")
    print("maps whose largest ratio found is lower after: " + ("; ".join(lower) if lower else "none"))


if __name__ == "__main__":
    main()
