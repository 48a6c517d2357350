"""The targeted hallucination attack, checked on maps whose answer is bounded in closed form."""

from __future__ import annotations

import math

import pytest
import torch

import firenets as fn
from firenets import coils
from firenets.operators import Fourier2D, MultiCoilFourier
from firenets.stability.targeted import disc, disc_grid, hallucination_attack
from known_maps import Switch

SHAPE = (32, 32)


@pytest.fixture(scope="module")
def setup():
    mask = fn.masks.make("gaussian", SHAPE, 0.3, seed=1).mask
    A = Fourier2D(mask)
    x = fn.data.ellipses(SHAPE, seed=2).to(torch.complex128)
    return A, x


def _restricted_norm(A, region, iters=300):  # A^*A 1_R acts on images of SHAPE
    """||1_R A^*A 1_R||_op by power iteration (the largest gain of the projection inside R)."""
    g = torch.Generator().manual_seed(0)
    v = torch.randn(SHAPE, generator=g, dtype=torch.complex128) * region
    for _ in range(iters):
        v = A.adjoint(A(v * region)) * region
        v = v / torch.linalg.vector_norm(v)
    return float(torch.linalg.vector_norm(A.adjoint(A(v * region)) * region))


def test_zero_filling_contrast_lies_between_a_feasible_value_and_the_bound(setup):
    A, x = setup
    R = disc(SHAPE, (12, 18), 3)
    P = lambda z: A.adjoint(A(z))  # noqa: E731
    f = fn.nets.adapter.zero_filled(A)
    rho = 0.02 * float(torch.linalg.vector_norm(x))
    base = P(x)
    # first-order optimal direction: P (w e^{i phase(P x)}), w = 1_R / |R|
    w = R.to(torch.complex128) / R.sum() * torch.exp(1j * torch.angle(base))
    r_star = P(w)
    r_star = rho * r_star / torch.linalg.vector_norm(r_star)
    feasible = float(P(x + r_star).abs()[R].mean() - base.abs()[R].mean())
    # <|P(x+r)| - |Px|>_R <= <|P r|>_R <= ||1_R P r|| / sqrt|R| <= rho ||1_R P 1_R||^(1/2)... as an operator norm
    upper = rho * math.sqrt(_restricted_norm(A, R)) / math.sqrt(float(R.sum()))
    res = hallucination_attack(f, A, x, R, [rho])
    a = res.attacks[0]
    assert feasible > 0 and 0.99 * feasible <= a.contrast <= upper * (1 + 1e-9)
    assert float(torch.linalg.vector_norm(a.r)) <= rho * (1 + 1e-12)
    assert res.converged and a.noise_contrast < 0.5 * a.contrast  # random noise creates far less


def test_attack_finds_the_region_where_a_switched_lesion_appears(setup):
    A, x = setup
    g = torch.Generator().manual_seed(9)
    p = A.adjoint(torch.randn(A.shape[0], generator=g, dtype=torch.complex128))
    p = p / torch.linalg.vector_norm(p)
    R = disc(SHAPE, (20, 10), 2.5)
    bump = R.to(torch.complex128)
    L = bump - A.adjoint(A(bump))  # in ker A: the samples cannot see it
    L = 0.5 * L / L.abs()[R].mean()  # contrast 0.5 in R when fully on
    rho = 0.02 * float(torch.linalg.vector_norm(x))
    z0 = float((p.conj() * x).sum().real)
    f = Switch(A, p, L, t=z0 + 0.6 * rho, w=0.3 * rho)
    with torch.no_grad():
        fx = f(A(x))
        along_p = float(f(A(x + rho * p)).abs()[R].mean() - fx.abs()[R].mean())  # a feasible value
    regions = [disc(SHAPE, (10, 22), 2.5), R, disc(SHAPE, (8, 8), 2.5)]
    res = hallucination_attack(f, A, x, regions, [rho])
    a = res.attacks[0]
    assert torch.equal(a.region, R)  # the screening picked the lesion's place
    assert a.contrast >= 0.99 * along_p and along_p > 0.2
    assert a.contrast > 5 * abs(a.input_contrast)  # invented: the perturbed truth barely changes in R
    assert len(res.screening[0]) == 3 and max(res.screening[0]) == res.screening[0][1]
    assert res.summary()["attacks"][0]["region_pixels"] == int(R.sum())


def test_kspace_threat_reaches_the_closed_form_of_full_sampling():
    # A = F (every entry sampled), f = F^*: f(A x + e) = x + F^* e, and <|x + d|>_R - <|x|>_R <= <|d|>_R
    # <= ||1_R d|| / sqrt|R| <= rho / sqrt|R|, with equality for d = rho / sqrt|R| e^{i phase x} on R
    A = Fourier2D(torch.ones(SHAPE, dtype=torch.bool))
    x = fn.data.ellipses(SHAPE, seed=2).to(torch.complex128) * torch.exp(1j * torch.linspace(0, 2, SHAPE[1]))
    R = disc(SHAPE, (16, 16), 3)
    assert float(x.abs()[R].min()) > 0
    rho = 0.02 * float(torch.linalg.vector_norm(A(x)))
    exact = rho / math.sqrt(float(R.sum()))
    res = hallucination_attack(fn.nets.adapter.zero_filled(A), A, x, R, [rho], threat="kspace")
    a = res.attacks[0]
    assert a.threat == "kspace" and tuple(a.r.shape) == tuple(A.out_shape)
    assert 0.99 * exact <= a.contrast <= exact * (1 + 1e-9)
    assert abs(a.input_contrast - a.contrast) <= 1e-9 * exact  # f = A^+: nothing beyond what the data says
    assert float(torch.linalg.vector_norm(a.r)) <= rho * (1 + 1e-12) and a.rho_rel == pytest.approx(0.02)
    assert res.converged and res.settings["threat"] == "kspace"


def test_sense_zero_filling_under_the_kspace_threat_lies_between_a_feasible_value_and_the_bound():
    # f = A^* (SENSE zero-filling, sum_c |S_c|^2 = 1): the gain <|A^*(y0 + e)|>_R - <|A^* y0|>_R is at most
    # <|A^* e|>_R <= ||1_R A^*|| rho / sqrt|R| = rho ||1_R A^* A 1_R||^(1/2) / sqrt|R|; the first-order
    # direction e = A(1_R e^{i phase(A^* y0)}) is feasible; the truth's change x + A^* e from A's matrix
    mask = fn.masks.make("gaussian", SHAPE, 0.3, seed=1).mask
    A = MultiCoilFourier(coils.birdcage(4, SHAPE), mask)
    x = fn.data.ellipses(SHAPE, seed=2).to(torch.complex128)
    R = disc(SHAPE, (12, 18), 3)
    y0 = A(x)
    rho = 0.02 * float(torch.linalg.vector_norm(y0))
    base = A.adjoint(y0)
    e_star = A(R.to(torch.complex128) * torch.exp(1j * torch.angle(base)))
    e_star = rho * e_star / torch.linalg.vector_norm(e_star)
    feasible = float(A.adjoint(y0 + e_star).abs()[R].mean() - base.abs()[R].mean())
    upper = rho * math.sqrt(_restricted_norm(A, R)) / math.sqrt(float(R.sum()))
    res = hallucination_attack(fn.nets.adapter.zero_filled(A), A, x, R, [rho], threat="kspace")
    a = res.attacks[0]
    assert feasible > 0 and 0.99 * feasible <= a.contrast <= upper * (1 + 1e-9)
    n = SHAPE[0] * SHAPE[1]
    M = A(torch.eye(n, dtype=torch.complex128).reshape(n, *SHAPE)).reshape(n, -1).T
    r_x = (M.conj().T @ a.r.reshape(-1)).reshape(SHAPE)
    truth = float((x + r_x).abs()[R].mean() - x.abs()[R].mean())
    assert a.input_contrast == pytest.approx(truth, rel=1e-6, abs=1e-9 * rho)
    assert res.converged and a.noise_contrast < 0.5 * a.contrast


def test_disc_grid_and_bad_input(setup):
    A, x = setup
    grid = disc_grid(SHAPE, 2, per_side=3)
    assert len(grid) == 9 and all(m.any() for m in grid)
    centres = {tuple(int(v) for v in torch.nonzero(m).double().mean(0).round()) for m in grid}
    assert len(centres) == 9
    f = fn.nets.adapter.zero_filled(A)
    with pytest.raises(ValueError, match="holds no pixel"):
        disc(SHAPE, (100, 100), 2)
    with pytest.raises(ValueError, match="empty"):
        hallucination_attack(f, A, x, torch.zeros(SHAPE, dtype=torch.bool), [0.1])
    with pytest.raises(ValueError, match="shape"):
        hallucination_attack(f, A, x, torch.ones(8, 8, dtype=torch.bool), [0.1])
    with pytest.raises(TypeError, match="boolean"):
        hallucination_attack(f, A, x, torch.ones(SHAPE), [0.1])
    with pytest.raises(ValueError, match="norms"):
        hallucination_attack(f, A, x, grid[0], [0.2, 0.1])
    with pytest.raises(ValueError, match="threat must be one of image, kspace"):
        hallucination_attack(f, A, x, grid[0], [0.1], threat="coil")
