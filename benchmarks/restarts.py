"""The restart parameter study: when does the schedule freeze, and what the adaptive one does.

    python benchmarks/restarts.py

Gaussian 256 x 1024 (entries N(0, 1/m)), 4 signals with 10 nonzeros. For inner-block lengths
p and both schedules, the relative error after 1200 primal-dual steps (and its best value on
the way) for: (P3) noiseless, lam = 0.05 (the minimisers are the signals); (P2) Lasso with 0.1%
noise, lam = 0.01 (against the CVXPY minimisers).

    python benchmarks/restarts.py --imaging

The imaging problem where the adaptive schedule used to oscillate: (P3) in orthonormal Haar
coefficients (5 levels), Shepp-Logan 256 x 256, 25% Gaussian mask, noiseless, lam = 2.5e-4; the
relative suboptimality (F - F*) / F* of every 5th of 40 restarts (2000 steps), F* from a long
run with its certificate.

    python benchmarks/restarts.py --tv

Total variation on the same noiseless samples (MRIFirenet(regulariser="tv"), default lam, 40
restarts of 25 adaptive steps, no stopping rule): PSNR every 5th restart, the primal and dual
movement over a restart, and the relative duality gap at the end, for the shipped primal-weight
smoothing (1/4) and, as an experiment, others (0 freezes the step ratio, 1/2 is PDLP's); then
the default reconstruction with its stopping rules (restarts run, PSNR, relative gap).

    python benchmarks/restarts.py --tv-lasso

The total-variation objective of benchmarks/vs_cs.py's shared section (1/2 ||P F x - y||^2 +
1e-3 TV(x), BART's backward differences, Shepp-Logan 256, as FIRENET's P2 with lam = 2e-3):
relative suboptimality every 20 of 120 restarts of 25 adaptive steps against F* = 1.386498341
(the best value of that benchmark): as shipped, with the primal-weight update frozen, restarting
always at the average or always at the last iterate, and with a 1% larger step-size constant.
"""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import torch

import firenets as fn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from solvers import sparse_gaussian  # noqa: E402


def main() -> None:
    m, N, s, B = 256, 1024, 10, 4
    M, X, g = sparse_gaussian(m, N, s, B)
    Y = X @ M.T
    Yn = Y + 1e-3 * Y.norm(dim=1, keepdim=True) * torch.randn(B, m, generator=g, dtype=torch.float64) / math.sqrt(m)
    lasso_ref = fn.reference.solve(fn.Lasso(M, Yn, lam=0.01)).x
    cases = {
        "P3 noiseless": ({"lam": 0.05}, Y, X),
        "P2 noisy": ({"lam": 0.01, "problem": "lasso"}, Yn, lasso_ref),
    }
    steps = 1200
    print(f"relative error after {steps} steps (best on the way), worst of {B} signals")
    print(f"{'problem':14s} {'p':>4s} {'paper (dual reset, eps_k schedule)':>36s} {'adaptive':>24s}")
    for name, (opts, y, ref) in cases.items():
        for p in (5, 10, 20, 50, 100):
            cells = []
            for schedule in ("paper", "adaptive"):
                net = fn.FIRENET(M, restarts=steps // p, inner=p, delta=0.0, schedule=schedule, **opts)
                errs = [((o - ref).norm(dim=1) / ref.norm(dim=1)).max().item() for o in net.restart_outputs(y)]
                cells.append(f"{errs[-1]:9.1e} ({min(errs):7.1e})")
            print(f"{name:14s} {p:4d} {cells[0]:>36s} {cells[1]:>24s}")


def imaging(steps: int = 2000) -> None:
    from firenets.operators import Fourier2D, Wavelet2D

    x = fn.data.shepp_logan(256)
    F = Fourier2D(fn.masks.gaussian((256, 256), 0.25, seed=0).mask)
    A = F @ Wavelet2D((256, 256), wavelet="haar", levels=5).H
    y = F(x.to(torch.complex128))
    ref = fn.FIRENET(A, lam=2.5e-4, restarts=400, inner=50, delta=0.0, schedule="adaptive", L_A=1.0)
    with torch.no_grad():
        _, cert = ref(y, return_certificate=True)
    best = float(cert.objective)
    print(f"F* in [{best - float(cert.gap):.12g}, {best:.12g}]; relative suboptimality every {steps // 8} steps")
    for schedule in ("paper", "adaptive"):
        for p in (20, 50):
            net = fn.FIRENET(A, lam=2.5e-4, restarts=steps // p, inner=p, delta=1e-9, schedule=schedule, L_A=1.0)
            P = net.problem(y)
            with torch.no_grad():
                outs = net.restart_outputs(y)
            every = len(outs) // 8
            sub = [(float(P.objective(o)) - best) / best for o in outs[every - 1 :: every]]
            print(f"{schedule:9s} p = {p:3d}: " + " ".join(f"{v:8.1e}" for v in sub))


def tv(restarts: int = 40, inner: int = 25) -> None:
    import numpy as np

    import firenets.nets.firenet as fm
    from firenets.metrics import psnr
    from firenets.reconstruction import MRIFirenet, acquire

    acq = acquire(fn.data.shepp_logan(256), mask="gaussian", rate=0.25, seed=0)
    shipped = fm._primal_weight
    print(f"TV, Shepp-Logan 256, 25% Gaussian, noiseless; {restarts} x {inner} adaptive, no stopping rule")
    for smoothing in (0.25, 0.0, 0.1, 0.5):
        moves: list = []
        images: list = []

        def weight(alpha, nx, nz, s=smoothing, moves=moves):
            moves.append((float(nx), float(nz)))
            return shipped(alpha, nx, nz, smoothing=s)

        fm._primal_weight = weight
        try:
            f = MRIFirenet(acq.operator, regulariser="tv", restarts=restarts, inner=inner, tol=0, xtol=0)
            with torch.no_grad():
                x, z = f.firenet._run(acq.y, None, restarts, inner,
                                      trace=lambda k, c, images=images: images.append(c.clone()))
                cert = f.firenet.problem(acq.y).certificate(x, (-z[0], z[1]), support_dual=False)
        finally:
            fm._primal_weight = shipped
        values = [psnr(acq.target.numpy(), np.abs(im.numpy())) for im in images]
        print(f"smoothing {smoothing:4.2f}{' (shipped)' if smoothing == 0.25 else '':10s} relative gap "
              f"{float(cert.relative_gap):.1e}; PSNR every 5th restart: " + " ".join(f"{v:.1f}" for v in values[4::5]))
        if smoothing == 0.25:
            print("  primal / dual movement every 5th restart: "
                  + " ".join(f"{a:.2g}/{b:.2g}" for a, b in moves[4::5]))
    f = MRIFirenet(acq.operator, regulariser="tv")
    with torch.no_grad():
        x, cert = f(acq.y, return_certificate=True)
    print(f"with the default stopping rules: {f.firenet.last_restarts} restarts, PSNR "
          f"{psnr(acq.target.numpy(), np.abs(x.numpy())):.1f} dB, relative gap {float(cert.relative_gap):.1e}")


def tv_lasso(restarts: int = 120, inner: int = 25, f_star: float = 1.386498341) -> None:
    import firenets.nets.firenet as fm
    from firenets.operators import Gradient2D
    from firenets.reconstruction import acquire

    acq = acquire(fn.data.shepp_logan(256), mask="gaussian", rate=0.25, seed=0)
    B = Gradient2D((256, 256), difference="backward")
    shipped, select = fm._primal_weight, fm._select
    L = fm.stacked_norm(acq.operator, B)
    print(f"TV Lasso, Shepp-Logan 256: (F - F*) / F* every 20 of {restarts} restarts of {inner} adaptive steps")
    variants = (  # label, primal-weight update, restart-point choice, step-size constant
        ("shipped", shipped, select, L),
        ("primal weight frozen", functools.partial(shipped, smoothing=0.0), select, L),
        ("restart at the average", shipped, lambda c, a, b: select(torch.ones_like(c), a, b), L),
        ("restart at the last", shipped, lambda c, a, b: select(torch.zeros_like(c), a, b), L),
        ("L_A 1% larger", shipped, select, 1.01 * L),
    )
    for label, weight, choose, L_A in variants:
        fm._primal_weight, fm._select = weight, choose
        try:
            net = fn.FIRENET(acq.operator, lam=2e-3, problem="lasso", analysis=B, restarts=restarts, inner=inner,
                             delta=0.0, schedule="adaptive", L_A=L_A)
            with torch.no_grad():
                outs = net.restart_outputs(acq.y)
        finally:
            fm._primal_weight, fm._select = shipped, select
        P = net.problem(acq.y)
        values = [(float(P.objective(o)) / 2 - f_star) / f_star for o in outs]
        print(f"  {label:22s} " + " ".join(f"{v:8.1e}" for v in values[19::20]), flush=True)


if __name__ == "__main__":
    if "--tv-lasso" in sys.argv:
        tv_lasso()
    elif "--imaging" in sys.argv:
        imaging()
    elif "--tv" in sys.argv:
        tv()
    else:
        main()
