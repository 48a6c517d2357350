"""Worst-case perturbations (image and measurement domain) and the noise control, checked on maps
whose worst case is known in closed form."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import firenets as fn
from firenets.operators import Fourier2D
from firenets.stability.constrained import measurement_attack
from firenets.stability.perturbation import noise_control, worst_case
from known_maps import Switch

SHAPE = (32, 32)


@pytest.fixture(scope="module")
def setup():
    mask = fn.masks.make("gaussian", SHAPE, 0.3, seed=1).mask
    A = Fourier2D(mask)
    x = fn.data.ellipses(SHAPE, seed=2)
    return A, x


class Gains(torch.nn.Module):
    """f(y) = A^* (d * y): a linear map whose Lipschitz constant is max |d_j| (A A^* = I)."""

    def __init__(self, A, d):
        super().__init__()
        self.A, self.d = A, d

    def forward(self, y):
        return self.A.adjoint(self.d * y)


def test_fixed_norm_ascent_finds_the_lipschitz_constant_of_a_linear_map(setup):
    A, x = setup
    g = torch.Generator().manual_seed(0)
    d = (0.5 + torch.rand(A.shape[0], generator=g, dtype=torch.float64)).to(torch.complex128)
    d[7] = 4.0  # one sample amplified: the worst perturbation lives on that frequency
    f = Gains(A, d)
    res = worst_case(f, A, x, norms=[0.01, 0.1])  # the default budget and stopping rule
    for stage, rho in zip(res.stages, [0.01, 0.1], strict=True):
        assert stage.ratio <= 4.0 * (1 + 1e-9)  # never above the true constant
        assert stage.ratio >= 0.99 * 4.0  # and the ascent finds it
        assert stage.r_norm == pytest.approx(rho, rel=1e-12)
        assert stage.converged and stage.iteration < 100
    assert res.converged
    assert res.max_ratio == max(s.ratio for s in res.stages)
    # sphere 1 starts from the Jacobian's top direction (here exactly the amplified frequency) and a
    # random one, both signs; sphere 2 from sphere 1's best direction, a random one with both signs and,
    # on the way down, the outer sphere's (2 x 0.1) best
    assert res.local.sigma == pytest.approx(4.0, rel=1e-8)
    assert [s["kind"] for s in res.stages[0].starts] == ["local 1", "local 1, negated", "random", "random, negated",
                                                         "from the next larger sphere"]
    assert [s["kind"] for s in res.stages[1].starts] == ["warm", "random", "random, negated",
                                                         "from the next larger sphere"]
    assert res.outer["size"] == pytest.approx(0.2) and res.outer["ratio"] <= 4 * (1 + 1e-9)


def test_zero_filling_reaches_one_and_never_exceeds_it(setup):
    # f(y) = A^* y: f(A(x+r)) - f(Ax) = A^*A r, an orthogonal projection of r: the worst case is exactly 1
    A, x = setup
    xn = float(torch.linalg.vector_norm(x))
    res = worst_case(fn.nets.adapter.zero_filled(A), A, x, norms=[0.01 * xn, 0.03 * xn])
    for stage in res.stages:
        assert 0.99 <= stage.ratio <= 1 + 1e-12
        # the starts are drawn in the range of A^* (the null-space part of r changes nothing): the
        # perturbation found is its own projection A^*A r, and its ratio is 1 to round-off
        torch.testing.assert_close(A.adjoint(A(stage.r)), stage.r, rtol=0, atol=1e-12 * stage.r_norm)
        assert stage.ratio == pytest.approx(1.0, abs=1e-12)
        # ||x + r - P(x + r)||: the error to the perturbed image is the unsampled part of x + r
        assert stage.error_perturbed >= 0 and stage.error > 0
    assert res.converged


def test_fixed_norm_ascent_finds_the_top_singular_value_of_a_dense_map(setup):
    # f(y) = A^* M y with A A^* = I: ||A^* M A r|| / ||r|| is at most sigma_max(M), reached on range(A^*)
    A, x = setup
    m = A.shape[0]
    g = torch.Generator().manual_seed(5)
    M = torch.randn(m, m, generator=g, dtype=torch.complex128) / m**0.5
    sigma = float(torch.linalg.svdvals(M)[0])

    def f(y):
        return A.adjoint(y @ M.T)

    res = worst_case(f, A, x, norms=[0.05], steps=300, patience=20, tol=1e-4)
    assert res.stages[0].ratio <= sigma * (1 + 1e-9)
    assert res.stages[0].ratio >= 0.99 * sigma
    assert res.converged


def test_fixed_norm_ascent_finds_an_instability_behind_a_smooth_switch(setup):
    A, x = setup
    x = x.to(torch.complex128)
    g = torch.Generator().manual_seed(9)
    u = torch.randn(A.shape[0], generator=g, dtype=torch.complex128)
    p = A.adjoint(u)
    p = p / torch.linalg.vector_norm(p)
    disc = torch.zeros(SHAPE, dtype=torch.complex128)
    disc[10:14, 18:22] = 1
    L = disc - A.adjoint(A(disc))  # invisible to the samples
    rho = 0.02 * float(torch.linalg.vector_norm(x))
    z0 = float((p.conj() * x).sum().real)
    L = L * (5 * rho / torch.linalg.vector_norm(L))
    f = Switch(A, p, L, t=z0 + 0.6 * rho, w=0.3 * rho)
    with torch.no_grad():
        fx = f(A(x))
        along_p = float(torch.linalg.vector_norm(f(A(x + rho * p)) - fx)) / rho  # a known lower bound
        s0 = float(torch.sigmoid(torch.tensor(-0.6 / 0.3)))
    upper = math.sqrt(1 + (5 * (1 - s0)) ** 2)  # ||A^*A r|| <= rho, the switch moves by at most 1 - s0
    assert along_p > 3  # the switch is worth finding: the linear part alone gives 1
    for seed in range(4):  # every seed: one of the two signs of a random start climbs past the switch
        res = worst_case(f, A, x, norms=[rho], seed=seed)
        assert along_p * 0.99 <= res.stages[0].ratio <= upper * (1 + 1e-9)
        assert res.converged
    # (a start of one sign alone stalls, for half the seeds, at about 1.15: the switch turned further off)
    # the output gains the lesion: along L it moves by the switch's rise, sigmoid(4/3) - sigmoid(-2) = 0.67 at rho p
    change = res.stages[0].recon - fx
    assert float((L.conj() * change).sum().real) / float(torch.linalg.vector_norm(L)) ** 2 > 0.6


def test_a_capped_ascent_says_it_did_not_converge(setup):
    A, x = setup
    res = worst_case(fn.nets.adapter.zero_filled(A), A, x, norms=[0.05], steps=2, restarts=0)
    assert res.stages[0].converged is False and res.converged is False
    assert res.summary()["converged"] is False and res.summary()["stages"][0]["starts"][0]["iterations"] == 2


def test_non_finite_output_under_perturbation_names_the_stage(setup):
    A, x = setup
    xn = float(torch.linalg.vector_norm(x))

    def f(y):
        z = A.adjoint(y)
        bad = torch.linalg.vector_norm(y - A(x.to(torch.complex128))) > 0.02 * xn  # breaks beyond 2%
        return z * (torch.nan if bool(bad) else 1.0)

    with pytest.raises(ValueError, match="stage 2"):
        worst_case(f, A, x, norms=[0.01 * xn, 0.03 * xn])


def test_penalised_ascent_grows_along_the_unstable_direction(setup):
    A, x = setup
    c = 3.0
    f = Gains(A, torch.full((A.shape[0],), c, dtype=torch.complex128))
    # ratio c > sqrt(lam): Q is unbounded and r grows geometrically, past ||x|| here (a warning)
    with pytest.warns(RuntimeWarning, match="ran away"):
        res = worst_case(f, A, x, lam=1.0, lr=0.05, momentum=0.9, records=(20, 40, 60), seed=3)
    norms = [s.r_norm for s in res.stages]
    assert norms[0] < norms[1] < norms[2]  # "perturbation 1, 2, 3" of growing norm
    assert res.stages[-1].r_rel > 1
    # Q grows only on range(A^*): the other component decays, so the ratio tends to c
    assert res.stages[-1].ratio == pytest.approx(c, rel=1e-3)
    assert all(s.ratio <= c * (1 + 1e-12) for s in res.stages)
    assert res.summary()["stages"][0].keys() >= {"r_norm", "r_rel", "out_diff", "ratio", "psnr"}


def test_penalised_ascent_shrinks_when_the_map_is_stable_enough(setup):
    A, x = setup
    f = Gains(A, torch.full((A.shape[0],), 0.5, dtype=torch.complex128))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no runaway warning for a bounded ascent
        res = worst_case(f, A, x, lam=1.0, lr=0.05, records=(10, 80), init=1e-3)
    assert res.stages[1].r_norm < res.stages[0].r_norm < 1e-3 * float(torch.linalg.vector_norm(x))


def test_noise_control_of_a_projection_has_ratio_sqrt_rate(setup):
    A, x = setup
    zero_filled = fn.nets.adapter.zero_filled(A)
    ctrl = noise_control(zero_filled, A, x, [0.05, 0.5], seed=1)
    rate = A.shape[0] / (SHAPE[0] * SHAPE[1])
    for stage in ctrl.stages:
        # E ||P r||^2 = rate ||r||^2 for isotropic r; 1024 entries: a 6-sigma band of ~ 0.1
        assert stage.ratio == pytest.approx(math.sqrt(rate), abs=0.1)
        assert stage.ratio <= 1 + 1e-12
    assert [s["r_norm"] for s in ctrl.summary()] == pytest.approx([0.05, 0.5], rel=1e-12)


def test_measurement_attack_on_zero_filling_matches_the_closed_form(setup):
    A, x = setup
    f = fn.nets.adapter.zero_filled(A)
    res = measurement_attack(f, A, x, rels=(0.0, 0.02, 0.08))  # the default stopping rule
    assert res.converged and all(r.iterations < 100 for r in res.results)
    assert [s["kind"] for s in res.results[2].starts] == ["warm", "random", "random", "polish"]
    b = torch.linalg.vector_norm(A.adjoint(A(x.to(torch.complex128))) - x)  # lies in ker(A)
    y0n = torch.linalg.vector_norm(A(x.to(torch.complex128)))
    assert res.results[0].error == pytest.approx(float(b), rel=1e-12)
    for r in res.results[1:]:
        d = r.rel * y0n
        # A^* e is orthogonal to b, so ||b + A^* e||^2 = ||b||^2 + ||e||^2 <= ||b||^2 + d^2
        assert r.error <= float(torch.sqrt(b**2 + d**2)) * (1 + 1e-12)
        assert r.error >= float(torch.sqrt(b**2 + (0.999 * d) ** 2))
        assert r.e_rel <= r.rel * (1 + 1e-12)


def test_attacks_run_through_firenet(setup):
    A, x = setup
    f = fn.reconstruction.MRIFirenet(A, levels=3, restarts=3, inner=5)
    res = worst_case(f, A, x, norms=[0.05], steps=3)
    assert res.stages[0].ratio > 0 and math.isfinite(res.stages[0].psnr)
    m = measurement_attack(f, A, x, rels=(0.0, 0.05), steps=3, restarts=1)
    assert m.results[1].error >= m.results[0].error * 0.999


def test_bad_input(setup):
    A, x = setup
    f = fn.nets.adapter.zero_filled(A)
    with pytest.raises(TypeError, match="callable"):
        worst_case("unet", A, x)
    with pytest.raises(ValueError, match="shape"):
        worst_case(f, A, torch.ones(16, 16, dtype=torch.float64))
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="x"):
        worst_case(f, A, bad)

    def detached(y):
        return A.adjoint(y).detach()

    with pytest.raises(ValueError, match="not differentiable"):
        worst_case(detached, A, x, records=(1,))
    with pytest.raises(ValueError, match="not differentiable"):
        measurement_attack(detached, A, x, rels=(0.01,), steps=1)
    with pytest.raises(ValueError, match="records"):
        worst_case(f, A, x, records=(5, 3))
    with pytest.raises(ValueError, match="norms"):
        worst_case(f, A, x, norms=[0.1, 0.05])
    with pytest.raises(ValueError, match="momentum"):
        worst_case(f, A, x, momentum=1.0)
    with pytest.raises(ValueError, match="patience"):
        worst_case(f, A, x, norms=[0.1], patience=0)
    with pytest.raises(ValueError, match="tol"):
        worst_case(f, A, x, norms=[0.1], tol=-1)
    with pytest.raises(ValueError, match="restarts"):
        worst_case(f, A, x, norms=[0.1], restarts=-1)
    with pytest.raises(ValueError, match="rels"):
        measurement_attack(f, A, x, rels=(0.04, 0.02))
