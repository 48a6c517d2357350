"""Problems: objectives against closed forms, weights, and the duality-gap certificate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import firenets as fn
from firenets.operators import Fourier2D, Matrix, Wavelet2D
from firenets.problems import sparsity_weights, weights_in_levels

from conftest import known_minimiser


def test_objectives_closed_form(rng):
    M = rng.standard_normal((5, 8)) + 1j * rng.standard_normal((5, 8))
    y = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    x = rng.standard_normal(8) + 1j * rng.standard_normal(8)
    w = rng.uniform(0.5, 2, 8)
    l1 = np.sum(w * np.abs(x))
    res = np.linalg.norm(M @ x - y)
    A, yt, xt, wt = (torch.from_numpy(v) for v in (M, y, x, w))
    assert fn.SRLasso(A, yt, lam=0.7, weights=wt).objective(xt).item() == pytest.approx(0.7 * l1 + res, rel=1e-14)
    assert fn.Lasso(A, yt, lam=0.7, weights=wt).objective(xt).item() == pytest.approx(0.7 * l1 + res**2, rel=1e-14)
    p1 = fn.QCBP(A, yt, eta=0.1, weights=wt)
    assert p1.objective(xt).item() == pytest.approx(l1, rel=1e-14)
    assert p1.certificate(xt).infeasibility.item() == pytest.approx(res - 0.1, rel=1e-13)


def test_batched_objective_and_image_shaped_unknowns(rng):
    W = Wavelet2D((16, 16), wavelet="haar", levels=2)
    F = Fourier2D(fn.masks.gaussian((16, 16), 0.4, seed=0).mask)
    A = F @ W.H
    x = torch.from_numpy(rng.standard_normal((3, 16, 16)))
    y = A(x) + 0.01
    p = fn.SRLasso(A, y, lam=0.2)
    obj = p.objective(x)
    assert obj.shape == (3,)
    for b in range(3):
        ref = 0.2 * x[b].abs().sum() + torch.linalg.vector_norm(A(x[b]) - y[b])
        assert obj[b].item() == pytest.approx(ref.item(), rel=1e-13)


def test_weights_in_levels_and_sparsity_weights():
    W = Wavelet2D((32, 32), wavelet="db2", levels=3)
    w = weights_in_levels(W.level_index, [1.0, 2.0, 3.0, 4.0])
    assert w[0, 0] == 1.0 and w[31, 31] == 4.0 and w[4, 0] == 2.0 and w[8, 8] == 3.0
    s = [4.0, 8.0, 16.0, 36.0]
    ws = sparsity_weights(W.level_index, s)
    for level, sl in enumerate(s):
        assert torch.allclose(ws[W.level_index == level], torch.tensor(np.sqrt(64.0 / sl), dtype=torch.float64))
    with pytest.raises(ValueError, match="values must hold 4 weights"):
        weights_in_levels(W.level_index, [1.0, 2.0])
    with pytest.raises(ValueError, match="> 0"):
        weights_in_levels(W.level_index, [1.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("kind", ["lasso", "srlasso", "qcbp"])
@pytest.mark.parametrize("complex_", [False, True])
def test_certificate_zero_at_known_minimiser_and_bounds_suboptimality(kind, complex_):
    A, y, xstar, w, params = known_minimiser(kind, complex_=complex_, seed=3)
    cls = {"lasso": fn.Lasso, "srlasso": fn.SRLasso, "qcbp": fn.QCBP}[kind]
    p = cls(A, y, weights=w, **params)
    c = p.certificate(xstar)
    assert c.infeasibility.item() <= 1e-13
    assert abs(c.gap.item()) <= 1e-12 * max(1.0, c.objective.item())
    fstar = c.objective.item()
    gen = torch.Generator().manual_seed(0)
    for scale in (1e-6, 1e-3, 1e-1):
        d = torch.randn(xstar.shape, generator=gen, dtype=torch.float64).to(xstar.dtype) * scale
        x = xstar + d
        cx = p.certificate(x)
        if kind == "qcbp" and cx.infeasibility.item() > 0:
            continue
        sub = cx.objective.item() - fstar
        assert sub >= -1e-12
        assert cx.gap.item() >= sub - 1e-12  # a valid bound
        assert cx.dual_objective.item() <= fstar + 1e-12  # weak duality


@pytest.mark.parametrize("cls", [fn.Lasso, fn.SRLasso, fn.QCBP])
def test_weak_duality_for_random_dual_points(cls, rng):
    A, y, xstar, w, params = known_minimiser(cls.__name__.lower(), seed=5)
    p = cls(A, y, weights=w, **({"eta": 0.2} if cls is fn.QCBP else {"lam": 0.3}))
    from firenets import reference

    opt = reference.solve(p).objective.item()
    for _ in range(20):
        z = torch.from_numpy(rng.standard_normal(y.shape))
        value, zz = p.dual_value(z)
        assert value.item() <= opt + 1e-9
        assert (A.T @ zz).abs().div(w).max().item() <= getattr(p, "lam", 1.0) * (1 + 1e-12)


def test_certificate_batched_and_with_given_dual(rng):
    A, y, xstar, w, params = known_minimiser("lasso", seed=2)
    Y = torch.stack([y, 2 * y])
    p = fn.Lasso(A, Y, weights=w, **params)
    X = torch.stack([xstar, xstar])
    c = p.certificate(X)
    assert c.gap.shape == (2,)
    assert abs(c.gap[0].item()) < 1e-12 and c.gap[1].item() > 1e-3
    c2 = p.certificate(X, z=torch.zeros_like(Y))
    assert torch.allclose(c2.gap, c.gap)
    with pytest.raises(ValueError, match="batch shape"):
        p.certificate(xstar)


def test_problem_bad_input():
    A = torch.randn(4, 6, dtype=torch.float64)
    y = torch.randn(4, dtype=torch.float64)
    with pytest.raises(ValueError, match="lam must be > 0"):
        fn.SRLasso(A, y, lam=-1.0)
    with pytest.raises(ValueError, match="lam must be > 0"):
        fn.Lasso(A, y, lam=0.0)
    with pytest.raises(ValueError, match="eta must be >= 0"):
        fn.QCBP(A, y, eta=-0.1)
    with pytest.raises(ValueError, match="y must be finite"):
        fn.SRLasso(A, torch.tensor([1.0, float("nan"), 0.0, 0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="y must have trailing shape"):
        fn.SRLasso(A, torch.randn(5, dtype=torch.float64))
    with pytest.raises(TypeError, match="y has dtype torch.float32"):
        fn.SRLasso(A, y.float())
    with pytest.raises(ValueError, match="weights must have shape"):
        fn.SRLasso(A, y, weights=torch.ones(1, dtype=torch.float64))
    with pytest.raises(ValueError, match="weights must be > 0"):
        fn.SRLasso(A, y, weights=torch.zeros(6, dtype=torch.float64))
    with pytest.raises(TypeError, match="weights must be real"):
        fn.SRLasso(A, y, weights=torch.ones(6, dtype=torch.complex128))
    p = fn.SRLasso(A, y)
    with pytest.raises(TypeError, match="x is complex but the problem is real"):
        p.objective(torch.ones(6, dtype=torch.complex128))
    with pytest.raises(ValueError, match="x must have trailing shape"):
        p.objective(torch.ones(7, dtype=torch.float64))
    with pytest.raises(TypeError, match="A must be a LinearOperator"):
        fn.SRLasso([[1.0]], y)
    # a real operator with complex data is a complex problem
    pc = fn.SRLasso(Matrix(A), y.to(torch.complex128))
    assert pc.is_complex and pc.dtype == torch.complex128
