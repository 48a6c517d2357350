"""The k-space threat models against closed forms: zero-filling's worst error to the truth under
||e|| <= d is sqrt(||P_null x||^2 + d^2) (A^* is an isometry from the samples onto the range of A^*, which
is orthogonal to the null-space error), reached by the attack to 0.99 and never exceeded; the budgets in
their three normalisations; one coil's per-coil threat is the whole-sample threat."""

from __future__ import annotations

import math

import pytest
import torch

import firenets as fn
from firenets.acquisition import acquire
from firenets.nets.adapter import zero_filled
from firenets.operators import MultiCoilFourier
from firenets.stability import Budget
from firenets.stability.threats import full_kspace_norm, threat_attack

BUDGET = Budget(steps=60, patience=10)


@pytest.fixture(scope="module")
def case():
    x = fn.data.ellipses(32, seed=3).to(torch.complex128) * fn.data.smooth_phase(32, seed=1)
    acq = acquire(x, seed=2)
    return x, acq.operator


def _closed_form(A, x, d):
    null = x - A.adjoint(A(x))
    return math.sqrt(float(torch.linalg.vector_norm(null)) ** 2 + d**2) / float(torch.linalg.vector_norm(x))


@pytest.mark.parametrize("threat", ["kspace", "full-kspace", "coil"])
def test_zero_fillings_worst_error_is_reached_and_never_exceeded(case, threat):
    x, A = case
    t = threat_attack(zero_filled(A), A, x, threat, BUDGET, norms=(0.01, 0.05))
    y_norm, x_norm = float(torch.linalg.vector_norm(A(x))), float(torch.linalg.vector_norm(x))
    assert t.k_norm == pytest.approx(x_norm, rel=1e-12)  # one coil: ||F x|| = ||x||
    assert t.unperturbed == pytest.approx(_closed_form(A, x, 0.0), rel=1e-12)
    for row in t.rows():
        d = row["eta"] * (t.k_norm if threat == "full-kspace" else y_norm)
        exact = _closed_form(A, x, d)
        assert 0.99 * exact <= row["error"] <= exact * (1 + 1e-9)
        assert row["e_over_y"] * y_norm == pytest.approx(row["e_over_x"] * x_norm, rel=1e-12)
        assert row["e_over_y"] <= row["eta"] * (t.k_norm / y_norm if threat == "full-kspace" else 1) * (1 + 1e-12)
        assert row["noise_error"] <= exact * (1 + 1e-9)  # Gaussian e of that norm: at most the worst case


def test_one_coils_per_coil_threat_is_the_whole_sample_threat(case):
    x, A = case
    a = threat_attack(zero_filled(A), A, x, "kspace", Budget(steps=5), norms=(0.02,))
    b = threat_attack(zero_filled(A), A, x, "coil", Budget(steps=5), norms=(0.02,))
    assert b.rows()[0]["error"] == pytest.approx(a.rows()[0]["error"], rel=1e-9)


def test_the_per_coil_budget_holds_for_every_coil_and_the_full_kspace_norm_has_the_maps(case):
    x, A1 = case
    maps = fn.coils.birdcage(4, (32, 32))
    maps = maps / torch.sqrt((maps.abs() ** 2).sum(0, keepdim=True))  # sum_c |S_c|^2 = 1
    A = MultiCoilFourier(maps, A1.mask)
    assert full_kspace_norm(A, x) == pytest.approx(float(torch.linalg.vector_norm(x)), rel=1e-12)
    t = threat_attack(zero_filled(A), A, x, "coil", Budget(steps=10), norms=(0.02,))
    e, y = t.worst.e, A(x)
    per = torch.linalg.vector_norm(e, dim=-1) / torch.linalg.vector_norm(y, dim=-1)
    assert float(per.max()) <= 0.02 * (1 + 1e-12)


def test_bad_threats_are_refused(case):
    x, A = case
    with pytest.raises(ValueError, match="threat must be one of"):
        threat_attack(zero_filled(A), A, x, "image")
    with pytest.raises(ValueError, match="increasing"):
        threat_attack(zero_filled(A), A, x, "kspace", norms=(0.02, 0.01))


def test_a_map_that_returns_magnitudes_is_compared_with_the_truths_magnitude():
    # every sample taken, f(y) = |F^* y|: f(A x) = |x| exactly, so its error to the truth is 0 (to x itself it
    # would be || |x| - x ||, the phase); under ||e|| <= d, || |x + F^* e| - |x| || <= ||F^* e|| = d, with
    # equality for e = F(d x / ||x||): the worst error is d / ||x|| = eta ||A x|| / ||x|| = eta
    from firenets.nets.adapter import NetworkMap
    from firenets.operators import Fourier2D
    from firenets.stability import hallucination_maps, perturbation

    x = fn.data.ellipses(32, seed=3).to(torch.complex128) * fn.data.smooth_phase(32, seed=1)
    A = Fourier2D(torch.ones(32, 32, dtype=torch.bool))
    f = NetworkMap(torch.nn.Identity(), A, "magnitude")
    t = threat_attack(f, A, x, "kspace", BUDGET, norms=(0.02,))
    assert f.returned_complex is False and float(torch.linalg.vector_norm(x.abs() - x)) > 0.5 * t.x_norm
    assert t.unperturbed == pytest.approx(0.0, abs=1e-12)
    assert 0.99 * 0.02 <= t.worst.relative_error <= 0.02 * (1 + 1e-9)
    assert t.noise_errors[0] <= 0.02 * (1 + 1e-9)
    h = hallucination_maps(f, A, x)
    assert h.error_norm == pytest.approx(0.0, abs=1e-9) and h.null_norm == pytest.approx(0.0, abs=1e-9)
    p = perturbation(f, A, x, Budget(norms=(0.02,), steps=20))
    assert p.error == pytest.approx(0.0, abs=1e-12)
    assert 0 < p.worst.stages[0].error <= 0.02 * (1 + 1e-9)  # || |x + r| - |x| || <= ||r||
