"""The restart parameter study: when does the schedule freeze, and what the adaptive one does.

    python benchmarks/restarts.py

Gaussian 256 x 1024 (entries N(0, 1/m)), 4 signals with 10 nonzeros. For inner-block lengths
p and both schedules, the relative error after 1200 primal-dual steps (and its best value on
the way) for: (P3) noiseless, lam = 0.05 (the minimisers are the signals); (P2) Lasso with 0.1%
noise, lam = 0.01 (against the CVXPY minimisers).
"""

from __future__ import annotations

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


if __name__ == "__main__":
    main()
