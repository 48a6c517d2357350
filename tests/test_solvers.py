"""Baselines and shared steps: plain Chambolle-Pock, ISTA, FISTA, proximal maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import firenets as fn
from firenets import reference
from firenets.solvers import chambolle_pock, fista, ista, project_ball, shrink_ball, soft_threshold
from firenets.solvers.prox import _soft_threshold_

from conftest import known_minimiser


def test_soft_threshold_closed_forms():
    v = torch.tensor([3.0, -0.5, 1.0, -2.0], dtype=torch.float64)
    t = torch.tensor([1.0, 1.0, 1.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(soft_threshold(v, t), torch.tensor([2.0, 0.0, 0.0, -1.5], dtype=torch.float64))
    c = torch.tensor([3 + 4j, 0.3 - 0.4j], dtype=torch.complex128)
    out = soft_threshold(c, 1.0)
    torch.testing.assert_close(out, torch.tensor([(3 + 4j) * 0.8, 0], dtype=torch.complex128))
    # complex: v max(0, 1 - t/|v|) against numpy, with zeros, zero thresholds and per-entry t
    g = np.random.default_rng(3)
    cv = g.standard_normal(50) + 1j * g.standard_normal(50)
    cv[:3] = 0
    ct = np.abs(g.standard_normal(50))
    ct[3:6] = 0
    expected = cv * np.maximum(0, 1 - ct / np.maximum(np.abs(cv), 1e-300))
    got = soft_threshold(torch.from_numpy(cv), torch.from_numpy(ct)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)
    # the same through the autograd node, and written in place (the solvers' no-grad path)
    got = soft_threshold(torch.from_numpy(cv).requires_grad_(True), torch.from_numpy(ct)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)
    tt = torch.from_numpy(ct)
    got = _soft_threshold_(torch.from_numpy(cv.copy()), tt, -tt).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)
    rv = g.standard_normal((4, 50))
    rt = np.abs(g.standard_normal((4, 1)))  # one threshold per row, broadcast
    t_row = torch.from_numpy(rt)
    got = _soft_threshold_(torch.from_numpy(rv.copy()), t_row, -t_row).numpy()
    np.testing.assert_allclose(got, np.sign(rv) * np.maximum(np.abs(rv) - rt, 0), rtol=0, atol=1e-15)
    # the prox of t|.| minimises t|u| + |u - v|^2 / 2: compare with a fine grid search
    grid = torch.linspace(-4, 4, 80001, dtype=torch.float64)
    for val in (-2.3, -0.2, 0.7, 3.1):
        best = grid[torch.argmin(0.8 * grid.abs() + (grid - val) ** 2 / 2)]
        assert abs(soft_threshold(torch.tensor(val, dtype=torch.float64), 0.8).item() - best.item()) < 2e-4


def test_complex_soft_threshold_derivatives():
    # the hand-written derivative against finite differences: in v (Wirtinger), in per-entry and
    # broadcast thresholds t, and finite where v = 0 or t = 0
    g = torch.Generator().manual_seed(0)
    v = torch.randn(3, 5, generator=g, dtype=torch.complex128).requires_grad_(True)
    t = torch.rand(3, 5, generator=g, dtype=torch.float64).requires_grad_(True)
    t_row = torch.rand(3, 1, generator=g, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(soft_threshold, (v, t))
    assert torch.autograd.gradcheck(soft_threshold, (v, t_row))
    assert torch.autograd.gradcheck(lambda u: soft_threshold(u, 0.7), (v,))
    assert torch.autograd.gradgradcheck(soft_threshold, (v, t_row))  # second derivatives too
    v0 = torch.zeros(4, dtype=torch.complex128, requires_grad=True)
    t0 = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64, requires_grad=True)
    torch.view_as_real(soft_threshold(v0, t0)).sum().backward()
    assert torch.isfinite(torch.view_as_real(v0.grad)).all() and torch.isfinite(t0.grad).all()
    torch.testing.assert_close(v0.grad, torch.tensor([1 + 1j, 1 + 1j, 0, 0], dtype=torch.complex128))
    # second derivatives where v = 0 (every iteration starting from zero has it): finite, and the
    # backward built for them gives the same first derivative
    tz = torch.tensor([0.0, 0.5, 0.0, 0.5, 0.3], dtype=torch.float64)
    vz = torch.tensor([0, 0, 0.3 - 0.2j, 0.1j, -1 + 1j], dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda u: soft_threshold(u, tz), (vz,))
    (g1,) = torch.autograd.grad(torch.view_as_real(soft_threshold(vz, tz)).sum(), vz, create_graph=True)
    (g0,) = torch.autograd.grad(torch.view_as_real(soft_threshold(vz, tz)).sum(), vz)
    torch.testing.assert_close(g1.detach(), g0, rtol=0, atol=1e-15)
    (h,) = torch.autograd.grad(torch.view_as_real(g1).pow(2).sum(), vz)
    assert torch.isfinite(torch.view_as_real(h)).all()


def test_ball_maps():
    u = torch.tensor([[3.0, 4.0], [0.3, 0.4]], dtype=torch.float64)
    torch.testing.assert_close(project_ball(u, 1.0, 1), torch.tensor([[0.6, 0.8], [0.3, 0.4]], dtype=torch.float64))
    radius = torch.tensor([[2.5], [1.0]], dtype=torch.float64)  # one per row
    torch.testing.assert_close(project_ball(u, radius, 1), torch.tensor([[1.5, 2.0], [0.3, 0.4]], dtype=torch.float64))
    torch.testing.assert_close(shrink_ball(u, 1.0, 1), torch.tensor([[2.4, 3.2], [0.0, 0.0]], dtype=torch.float64))


@pytest.mark.parametrize("kind", ["lasso", "srlasso", "qcbp"])
def test_plain_chambolle_pock_converges_to_known_minimiser(kind):
    A, y, xstar, w, params = known_minimiser(kind, m=30, N=60, s=3, seed=2)
    cls = {"lasso": fn.Lasso, "srlasso": fn.SRLasso, "qcbp": fn.QCBP}[kind]
    x, _ = chambolle_pock(cls(A, y, weights=w, **params), 20000)
    assert torch.linalg.vector_norm(x - xstar).item() < 1e-6 * torch.linalg.vector_norm(xstar).item()


def test_ista_and_fista_converge_within_their_rate_bounds():
    A, y, xstar, w, params = known_minimiser("lasso", m=40, N=80, s=4, seed=6)
    P = fn.Lasso(A, y, weights=w, **params)
    fstar = P.objective(xstar).item()
    L = 2 * torch.linalg.matrix_norm(A, ord=2).item() ** 2
    r0 = torch.linalg.vector_norm(xstar).item() ** 2  # ||x_0 - x*||^2 with x_0 = 0
    gaps = {"ista": [], "fista": []}
    last = {}
    for name, method in (("ista", ista), ("fista", fista)):
        last[name] = method(P, 3000, callback=lambda k, x, n=name: gaps[n].append(P.objective(x).item() - fstar))
    for k in range(1, 3000, 97):
        # Beck and Teboulle: F(x_k) - F* <= L r0 / (2k) for ISTA, 2 L r0 / (k + 1)^2 for FISTA
        assert gaps["ista"][k - 1] <= L * r0 / (2 * k) + 1e-12
        assert gaps["fista"][k - 1] <= 2 * L * r0 / (k + 1) ** 2 + 1e-12
    for name in ("ista", "fista"):
        assert torch.linalg.vector_norm(last[name] - xstar).item() < 1e-9
    with pytest.raises(TypeError, match="Lasso"):
        ista(fn.SRLasso(A, y), 3)


def test_chambolle_pock_matches_pyproximal_iterates():
    # an independent implementation of the same primal-dual iteration for the Lasso
    import pylops
    import pyproximal
    from pyproximal.optimization.primaldual import PrimalDual

    rng = np.random.default_rng(0)
    M = rng.standard_normal((30, 50)) / np.sqrt(30)
    y = rng.standard_normal(30)
    lam = 0.1
    L = np.linalg.norm(M, 2)
    tau = sigma = 0.99 / L
    P = fn.Lasso(torch.from_numpy(M), torch.from_numpy(y), lam=lam)
    sol = reference.solve(P).x.numpy()
    dist = []
    for niter in (1, 5, 20, 400):
        ref = PrimalDual(
            pyproximal.L1(sigma=lam), pyproximal.L2(b=y, sigma=2.0), pylops.MatrixMult(M),
            x0=np.zeros(50), tau=tau, mu=sigma, theta=1.0, niter=niter, gfirst=False,
        )
        x, _ = chambolle_pock(P, niter, tau=tau, sigma=sigma)
        # the same iteration (the other update order differs by ~0.3 after 5 steps); the
        # remaining ~1e-8 come from how each evaluates the prox of the conjugate
        np.testing.assert_allclose(x.numpy(), ref, rtol=0, atol=1e-7)
        dist.append(np.linalg.norm(ref - sol))
    # and both head for the CVXPY minimiser (plain Chambolle-Pock is slow: that is the point)
    assert dist[-1] < 1e-3 < dist[1]


def test_chambolle_pock_checks_step_sizes():
    A, y, *_ = known_minimiser("lasso", m=10, N=20, s=2, seed=0)
    with pytest.raises(ValueError, match="tau sigma"):
        chambolle_pock(fn.Lasso(A, y), 5, tau=1.0, sigma=1.0, L_A=2.0)
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        chambolle_pock(fn.Lasso(A, y), 0)
