"""The reference solver against minimisers known in closed form."""

from __future__ import annotations

import math

import pytest
import torch

import firenets as fn
from firenets import reference
from firenets.barriers import omega
from firenets.operators import Fourier2D, Wavelet2D
from firenets.reference import ReferenceAccuracyWarning

from conftest import known_minimiser

CLASSES = {"lasso": fn.Lasso, "srlasso": fn.SRLasso, "qcbp": fn.QCBP}


@pytest.mark.parametrize("kind", sorted(CLASSES))
@pytest.mark.parametrize("complex_", [False, True])
def test_known_minimiser_recovered_to_1e9(kind, complex_):
    A, y, xstar, w, params = known_minimiser(kind, complex_=complex_, seed=11)
    sol = reference.solve(CLASSES[kind](A, y, weights=w, **params))
    err = torch.linalg.vector_norm(sol.x - xstar).item() / torch.linalg.vector_norm(xstar).item()
    assert err < 1e-9
    assert sol.certificate.within(1e-10)
    assert sol.status[0] in ("optimal", "optimal_inaccurate")  # the polish certifies either


def test_batched_solve_equals_one_by_one():
    A, y, xstar, w, params = known_minimiser("srlasso", seed=4)
    Y = torch.stack([y, 0.5 * y, y.flip(0)])
    sol = reference.solve(fn.SRLasso(A, Y, weights=w, **params))
    assert sol.x.shape == (3, xstar.numel())
    torch.testing.assert_close(sol.x[0], xstar, rtol=0, atol=1e-9)
    one = reference.solve(fn.SRLasso(A, Y[2], weights=w, **params))
    torch.testing.assert_close(sol.x[2], one.x, rtol=0, atol=1e-9)


@pytest.mark.parametrize("K,n", [(1, 10), (1, 20), (1, 30), (3, 10), (3, 20), (3, 30), (6, 10)])
@pytest.mark.parametrize("dims", ["code", "caption"])
def test_omega_minimisers_resolved(K, n, dims):
    inst = omega.instance(K, n, dims=dims)
    exact = reference.solve(inst.problem)
    assert inst.distance_to_minimisers(exact.x).item() < 1e-9 * 10.0**-K * 10
    inexact = reference.solve(inst.inexact_problem)
    torch.testing.assert_close(inexact.x, inst.inexact_minimiser, rtol=0, atol=1e-9 * 10.0**-K)


def test_omega_below_float64_resolution_still_certified():
    # K = 6, n = 30: the two candidate minimisers differ in objective by about 1e-24, far below
    # the 1e-16 rounding of the objective, so the certificate cannot tell them apart; the
    # solver returns one of them with a certified gap at rounding level
    inst = omega.instance(6, 30)
    sol = reference.solve(inst.problem)
    assert sol.certificate.gap.item() < 1e-15
    d = min(inst.distance_to_minimisers(sol.x).item(), (sol.x - inst.inexact_minimiser).norm().item())
    assert d < 1e-12


def test_weak_certificate_warns():
    A, y, xstar, w, params = known_minimiser("srlasso", seed=1)
    with pytest.warns(ReferenceAccuracyWarning, match="certified only to relative gap"):
        reference.solve(fn.SRLasso(A, y, weights=w, **params), max_iter=3)


def test_wavelet_fourier_problem_small_image():
    W = Wavelet2D((16, 16), wavelet="haar", levels=2)
    F = Fourier2D(fn.masks.gaussian((16, 16), 0.5, seed=0).mask)
    c = torch.zeros(16, 16, dtype=torch.float64)
    c[0, 0], c[3, 5], c[9, 2] = 4.0, -2.0, 1.5
    y = (F @ W.H)(c)
    sol = reference.solve(fn.QCBP(F @ W.H, y, eta=1e-8))
    assert torch.linalg.vector_norm(sol.x - c).item() < 1e-6 * torch.linalg.vector_norm(c).item()
    assert sol.x.shape == (16, 16) and sol.x.dtype == torch.complex128
    assert sol.certificate.relative_gap.item() < 1e-8


def test_refuses_large_problem_naming_its_size():
    F = Fourier2D(torch.ones(256, 256, dtype=torch.bool))
    p = fn.SRLasso(F, torch.zeros(65536, dtype=torch.complex128))
    with pytest.raises(ValueError, match=r"65536 x 65536 = 4,294,967,296 entries"):
        reference.solve(p)


def test_zero_data_gives_zero():
    A = torch.randn(5, 9, dtype=torch.float64)
    sol = reference.solve(fn.SRLasso(A, torch.zeros(5, dtype=torch.float64)))
    assert sol.x.abs().max().item() == 0.0
    assert sol.certificate.gap.item() == 0.0


def test_rejects_non_problem():
    with pytest.raises(TypeError, match="problem must be"):
        reference.solve("lasso")


def test_omega_distance_formula():
    for K in (1, 3, 6):
        inst = omega.instance(K, 10)
        a = omega.first_row(K, 10, 2, 1)
        rho_min = a[1].item() / a[0].item() * (1 - omega.DELTA)
        d = (inst.minimiser - inst.inexact_minimiser).norm().item()
        assert d == pytest.approx(3 * rho_min / ((1 - omega.DELTA) * 10.0**K), rel=1e-12)
        assert math.isclose(d, 3 * 10.0**-K, rel_tol=1e-2)
