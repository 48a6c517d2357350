"""Time and iterations to reach relative accuracy: FIRENET, plain Chambolle-Pock, FISTA, CVXPY.

(a) Gaussian 256 x 1024, 10-sparse, a batch of 64, noiseless. FIRENET and Chambolle-Pock solve
    SRLasso(lam = 0.05), whose minimisers are the sparse vectors themselves (checked by their
    certificates); FISTA solves Lasso(lam = 0.01), whose minimisers are computed in closed form
    on the support and certified (by the reference solver where the support changes). CVXPY/Clarabel solves a few SRLasso instances (timed per
    instance, times 64).
(b) A 256 x 256 phantom, 25% variable-density Fourier samples, db4 wavelets (4 levels): the
    unknown is the wavelet coefficient image. All methods are measured against one reference
    minimiser of SRLasso(lam = 1e-3): a long adaptive FIRENET run, which equals the sparse image
    (exact recovery). FISTA solves Lasso(lam = 1e-4) and is measured against that problem's own
    minimiser (a long adaptive FIRENET run for P2). CVXPY refuses it (N = 65536).
"""

from __future__ import annotations

import math
import statistics
import time

import torch

import firenets as fn
from firenets.operators import Fourier2D, Matrix, Wavelet2D
from firenets.solvers import chambolle_pock, fista

TARGETS = (1e-4, 1e-6, 1e-8, 1e-10)


def _first_hits(errors: list[float], per_step: int = 1) -> dict[float, int | None]:
    out = {}
    for t in TARGETS:
        k = next((i for i, e in enumerate(errors) if e <= t), None)
        out[t] = None if k is None else (k + 1) * per_step
    return out


def _rel(x: torch.Tensor, ref: torch.Tensor) -> float:
    d = torch.linalg.vector_norm((x - ref).reshape(x.shape[0], -1), dim=-1)
    return (d / torch.linalg.vector_norm(ref.reshape(ref.shape[0], -1), dim=-1)).max().item()


def _time_per_step(fn_, steps: int) -> float:
    t0 = time.perf_counter()
    fn_(steps)
    return (time.perf_counter() - t0) / steps


def _overhead(A, x: torch.Tensor, y: torch.Tensor, lam: float, inner: int, L_A: float,
              restarts: int = 5, rounds: int = 7) -> tuple[float, float, float]:
    """(seconds per FIRENET layer, seconds per A x + A^* y pair, median of their paired ratios).

    The machines are shared and their speed drifts; so each round times a FIRENET inference
    (averaged over its layers) and, right after, as many operator pairs, and the ratio is taken
    round by round. The pairs cycle through several inputs, as the iteration's do: applying an
    operator to the very same tensor again and again runs measurably faster than it ever does
    inside an iteration.
    """
    net = fn.FIRENET(A, lam=lam, restarts=restarts, inner=inner, schedule="adaptive", L_A=L_A)
    g = torch.Generator().manual_seed(0)
    xs = [x + 1e-3 * torch.randn(x.shape, generator=g, dtype=x.dtype) for _ in range(4)]
    ys = [y + 1e-3 * torch.randn(y.shape, generator=g, dtype=y.dtype) for _ in range(4)]
    per, floor = [], []
    with torch.no_grad():
        net(y)
        for _ in range(rounds):
            t0 = time.perf_counter()
            net(y)
            per.append((time.perf_counter() - t0) / net.num_layers)
            t0 = time.perf_counter()
            for i in range(net.num_layers):
                A(xs[i % 4])
                A.adjoint(ys[i % 4])
            floor.append((time.perf_counter() - t0) / net.num_layers)
    ratios = [p / f for p, f in zip(per, floor, strict=True)]
    return statistics.median(per), statistics.median(floor), statistics.median(ratios)


def _lasso_minimisers(M: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, lam: float) -> torch.Tensor:
    """Noiseless Lasso minimisers in closed form on the support: x_S = x0_S - (lam/2) P sign."""
    out = torch.zeros_like(X)
    for b in range(X.shape[0]):
        S = torch.nonzero(X[b]).reshape(-1)
        AS = M[:, S]
        out[b, S] = X[b, S] - (lam / 2) * torch.linalg.solve(AS.T @ AS, torch.sign(X[b, S]))
    cert = fn.Lasso(M, Y, lam=lam).certificate(out)
    # where the shrinkage flips a sign the support changes: solve those with the reference solver
    bad = torch.nonzero(cert.relative_gap > 1e-12).reshape(-1)
    if bad.numel():
        out[bad] = fn.reference.solve(fn.Lasso(M, Y[bad], lam=lam)).x
    return out


def sparse_gaussian(m: int, N: int, s: int, B: int, seed: int = 0):
    """(M, X, generator): M with N(0, 1/m) entries and B signals with s N(0, 1) nonzeros."""
    g = torch.Generator().manual_seed(seed)
    M = torch.randn(m, N, generator=g, dtype=torch.float64) / math.sqrt(m)
    X = torch.zeros(B, N, dtype=torch.float64)
    for b in range(B):
        X[b, torch.randperm(N, generator=g)[:s]] = torch.randn(s, generator=g, dtype=torch.float64)
    return M, X, g


def _paper_and_plain_rows(rows, A, Y, truth, lam, per, max_iter, *, inner, delta, cp_steps) -> None:
    """Add the rows of FIRENET with the paper's schedule and of plain Chambolle-Pock on (P3)."""
    paper = fn.FIRENET(A, lam=lam, restarts=max_iter // inner, inner=inner, delta=delta)
    errs = [_rel(o, truth) for o in paper.restart_outputs(Y)]
    rows[f"FIRENET (paper schedule, p={inner})"] = {"hits": _first_hits(errs, inner), "per_iter": per, "note": ""}
    P = fn.SRLasso(A, Y, lam=lam)
    errs = []
    chambolle_pock(P, max_iter, callback=lambda k, x, z: errs.append(_rel(x, truth)))
    per_cp = _time_per_step(lambda n: chambolle_pock(P, n), cp_steps)
    rows["Chambolle-Pock (plain)"] = {"hits": _first_hits(errs), "per_iter": per_cp, "note": ""}


def gaussian(max_iter: int = 4000) -> dict:
    m, N, s, B = 256, 1024, 10, 64
    M, X, _ = sparse_gaussian(m, N, s, B)
    Y = X @ M.T
    A = Matrix(M)
    lam = 0.05
    rows = {}

    t0 = time.perf_counter()
    net = fn.FIRENET(A, lam=lam, eps=1e-10)
    calib = time.perf_counter() - t0
    long = fn.FIRENET(A, lam=lam, restarts=max_iter // net.inner, inner=net.inner, schedule="adaptive")
    errs = [_rel(o, X) for o in long.restart_outputs(Y)]
    per, floor, ratio = _overhead(A, X, Y, lam, net.inner, net.L_A, restarts=10)
    rows["FIRENET (adaptive, calibrated)"] = {"hits": _first_hits(errs, net.inner), "per_iter": per,
                                              "note": f"inner={net.inner}; calibration {calib:.1f} s"}
    _paper_and_plain_rows(rows, A, Y, X, lam, per, max_iter, inner=50, delta=1e-12, cp_steps=200)

    lam_l = 0.01
    XL = _lasso_minimisers(M, X, Y, lam_l)
    PL = fn.Lasso(A, Y, lam=lam_l)
    errs = []
    fista(PL, max_iter, callback=lambda k, x: errs.append(_rel(x, XL)))
    per_f = _time_per_step(lambda n: fista(PL, n), 200)
    rows["FISTA (Lasso, lam=0.01)"] = {"hits": _first_hits(errs), "per_iter": per_f, "note": ""}

    k = 3
    t0 = time.perf_counter()
    sol = fn.reference.solve(fn.SRLasso(A, Y[:k], lam=lam))
    per_instance = (time.perf_counter() - t0) / k
    rows["CVXPY/Clarabel (+ polish)"] = {
        "hits": None, "per_iter": None, "total": per_instance * B,
        "note": f"reached {_rel(sol.x, X[:k]):.1e} in {per_instance:.2f} s per instance (x {B})",
    }
    return {"title": f"(a) Gaussian {m}x{N}, {s}-sparse, batch {B}", "rows": rows, "floor": floor,
            "ratio": ratio, "firenet": "FIRENET (adaptive, calibrated)"}


def _phantom(n: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, n, dtype=torch.float64),
                            torch.linspace(-1, 1, n, dtype=torch.float64), indexing="ij")
    img = torch.zeros(n, n, dtype=torch.float64)
    for (cy, cx, ry, rx, v) in [(0, 0, 0.9, 0.7, 1.0), (0, 0, 0.8, 0.6, -0.6), (-0.3, 0.2, 0.2, 0.15, 0.3),
                                (0.3, -0.25, 0.15, 0.25, 0.2), (0.5, 0.1, 0.05, 0.05, 0.4)]:
        img[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] += v
    return img


def imaging(max_iter: int = 1000, size: int = 256) -> dict:
    mask = fn.masks.gaussian((size, size), 0.25, seed=0).mask
    F = Fourier2D(mask)
    W = Wavelet2D((size, size), wavelet="db4", levels=4)
    A = F @ W.H
    c = W(_phantom(size))
    # keep the largest 1% of the phantom's wavelet coefficients: an exactly sparse image
    k = c.numel() // 100
    c0 = torch.where(c.abs() >= c.abs().flatten().kthvalue(c.numel() - k).values, c, torch.zeros_like(c))
    c0 = c0.to(torch.complex128)
    y = A(c0)[None]
    lam = 1e-3
    rows = {}

    ref_net = fn.FIRENET(A, lam=lam, restarts=3 * max_iter // 20, inner=20, schedule="adaptive")
    with torch.no_grad():
        ref, cert = ref_net(y, return_certificate=True)
    net = fn.FIRENET(A, lam=lam, restarts=max_iter // 20, inner=20, schedule="adaptive")
    errs = [_rel(o, ref) for o in net.restart_outputs(y)]
    per, floor, ratio = _overhead(A, c0[None], y, lam, 20, ref_net.L_A)  # complex iterates, as FIRENET's
    rows["FIRENET (adaptive, p=20)"] = {
        "hits": _first_hits(errs, 20), "per_iter": per,
        "note": f"reference: relative gap {cert.relative_gap.item():.1e}, {_rel(ref, c0[None]):.1e} from the "
                "sparse image",
    }
    _paper_and_plain_rows(rows, A, y, ref, lam, per, max_iter, inner=10, delta=1e-9, cp_steps=50)

    # noiseless and exactly sparse, the SRLasso minimiser fits the data (A x* = y), so no Lasso
    # shares it: FISTA solves Lasso(lam_l) against that problem's own minimiser (a long run)
    lam_l = 1e-4
    PL = fn.Lasso(A, y, lam=lam_l)
    ref_l = fn.FIRENET(A, lam=lam_l, problem="lasso", restarts=2 * max_iter // 20, inner=20, schedule="adaptive",
                       L_A=ref_net.L_A)(y)
    errs = []
    fista(PL, max_iter, callback=lambda k, x: errs.append(_rel(x, ref_l)))
    per_f = _time_per_step(lambda n: fista(PL, n), 50)
    rows[f"FISTA (Lasso, lam={lam_l:.0e})"] = {"hits": _first_hits(errs), "per_iter": per_f,
                                               "note": "against its own minimiser"}
    rows["CVXPY/Clarabel"] = {"hits": None, "per_iter": None, "note": f"refused: N = {size * size} unknowns"}
    return {"title": f"(b) {size}x{size} phantom (1% of its db4 coefficients), 25% Gaussian-density Fourier",
            "rows": rows, "floor": floor, "ratio": ratio, "firenet": "FIRENET (adaptive, p=20)"}


def memory(size: int = 256) -> dict:
    """Peak resident memory of a process running FIRENET inference, 5 and 50 restarts of 10 layers.

    One iterate of the batch of 8 complex 256 x 256 coefficient images is 8 MiB: storing the
    iterates of 500 layers would take 4 GiB.
    """
    import subprocess
    import sys

    code = (
        "import resource, torch, firenets as fn\n"
        "from firenets.operators import Fourier2D, Wavelet2D\n"
        f"n={size}; F=Fourier2D(fn.masks.gaussian((n,n),0.25,seed=0).mask); W=Wavelet2D((n,n),levels=3)\n"
        "A=F@W.H; y=A(torch.randn(8,n,n,dtype=torch.float64))\n"
        "net=fn.FIRENET(A, lam=1e-3, restarts=int(__import__('sys').argv[1]), inner=10)\n"
        "with torch.no_grad(): net(y)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = {}
    for restarts in (5, 50):
        res = subprocess.run([sys.executable, "-c", code, str(restarts)], capture_output=True, text=True, check=True)
        out[restarts * 10] = int(res.stdout.strip()) / 1024  # MiB
    return out


def report(section: dict) -> None:
    print(section["title"])
    rows, ref = section["rows"], section["rows"][section["firenet"]]
    head = f"{'method':34s} {'ms/iter':>8s} " + " ".join(f"{'to ' + format(t, '.0e'):>22s}" for t in TARGETS)
    print(head)

    def cell(row, t):
        if row["hits"] is None:
            return f"{'-':>22s}"
        k = row["hits"][t]
        if k is None:
            return f"{'not reached':>22s}"
        secs = k * row["per_iter"]
        base = ref["hits"][t]
        ratio = "" if base is None else f"x{secs / (base * ref['per_iter']):.1f}"
        return f"{k:>6d} it {secs:6.2f} s {ratio:>5s}"

    for name, row in rows.items():
        ms = "-" if row["per_iter"] is None else f"{row['per_iter'] * 1e3:.2f}"
        print(f"{name:34s} {ms:>8s} " + " ".join(cell(row, t) for t in TARGETS) + (f"  {row['note']}" if row["note"] else ""))
    print(f"FIRENET time per iteration / (one A + one A^* application) = {section['ratio']:.2f}"
          f"  (median of paired rounds; floor {section['floor'] * 1e3:.2f} ms)")
    print()
