"""The local worst case (top singular values of the Jacobian of r -> f(A(x + r)) at 0) against closed
forms and a dense SVD, and its use as the sphere search's first starts."""

from __future__ import annotations

import math

import pytest
import torch

import firenets as fn
from firenets.nets.adapter import zero_filled
from firenets.stability.local import lanczos, local_worst_case
from firenets.stability.perturbation import worst_case
from known_maps import Switch

SHAPE = (16, 16)


@pytest.fixture(scope="module")
def setup():
    A = fn.operators.Fourier2D(fn.masks.gaussian(SHAPE, 0.35, seed=3).mask)
    x = fn.data.shepp_logan(SHAPE[0]).to(torch.complex128)
    return A, x


def _real_linear(A):
    """f(y) = K * z + 0.3 K2 * conj(z), z = A^* y (circular convolutions): real-linear, not complex-linear."""
    g = torch.Generator().manual_seed(1)
    K = torch.randn(SHAPE, generator=g, dtype=torch.complex128)
    K2 = torch.randn(SHAPE, generator=g, dtype=torch.complex128)

    def f(y):
        z = A.adjoint(y)
        return torch.fft.ifft2(K * torch.fft.fft2(z)) + 0.3 * torch.fft.ifft2(K2 * torch.fft.fft2(z.conj()))

    return f


def _dense_jacobian(f, A, x):
    """J of r -> f(A(x + r)) as a real 2N x 2N matrix, column by column (the map is linear in r)."""
    n = x.numel()
    base = f(A(x))
    cols = []
    for j in range(2 * n):
        e = torch.zeros(n, dtype=torch.complex128)
        e[j % n] = 1 if j < n else 1j
        out = (f(A(x + e.reshape(x.shape))) - base).reshape(-1)
        cols.append(torch.cat([out.real, out.imag]))
    return torch.stack(cols, 1)


def test_a_linear_maps_sigma_max_exactly(setup):
    A, x = setup
    f = _real_linear(A)
    s = torch.linalg.svdvals(_dense_jacobian(f, A, x))
    lw = local_worst_case(f, A, x, k=1, steps=300, tol=1e-12)
    assert lw.converged and lw.method == "double vjp"
    assert abs(lw.sigma - float(s[0])) <= 1e-8 * float(s[0])
    # the vector attains it: ||J v|| = sigma_max, ||v|| = 1, v in range(A^*)
    v = lw.vectors[0]
    with torch.no_grad():
        jv = f(A(v))
    assert abs(float(torch.linalg.vector_norm(jv)) - lw.sigma) <= 1e-8 * lw.sigma
    assert float(torch.linalg.vector_norm(v - A.adjoint(A(v)))) <= 1e-10


def test_zero_filling_has_local_worst_case_one(setup):
    A, x = setup
    lw = local_worst_case(zero_filled(A), A, x, k=2)
    assert lw.converged
    assert all(abs(s - 1) <= 1e-12 for s in lw.sigmas)  # J = A^* A: a projection, sigma 1 twice (degenerate)


def test_lanczos_finds_the_top_of_a_known_spectrum():
    """A diagonal operator with eigenvalues 1, 1/2, ..., on C^n under the real inner product: on R^2n each
    eigenvalue is double (real and imaginary parts), so the top three are 1, 1, 1/2, to 1e-10; a
    single Krylov space holds one copy of each, so the second copy needs the restart after breakdown."""
    n = 40
    lam = torch.tensor([1.0 / (i + 1) for i in range(n)], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)

    def op(v):
        return lam * v

    start = torch.complex(torch.randn(n, generator=g, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64))
    thetas, vectors, residuals, products = lanczos(op, start, k=3, steps=200, tol=1e-12,
                                                   restart=lambda: torch.randn(n, generator=g, dtype=torch.complex128))
    assert thetas == pytest.approx([1.0, 1.0, 0.5], abs=1e-10)
    assert all(r <= 1e-10 for r in residuals)
    for t, v in zip(thetas, vectors, strict=True):
        assert float(torch.linalg.vector_norm(op(v) - t * v)) <= 1e-8


def _switch(A, x, *, offset, width):
    """The smooth switch of known_maps: p a unit image in range(A^*), L a lesion in ker A of norm 5 rho,
    switching at Re <p, r> = offset rho with width ``width`` rho."""
    g = torch.Generator().manual_seed(9)
    p = A.adjoint(torch.randn(A.shape[0], generator=g, dtype=torch.complex128))
    p = p / torch.linalg.vector_norm(p)
    disc = torch.zeros(SHAPE, dtype=torch.complex128)
    disc[5:8, 9:12] = 1
    L = disc - A.adjoint(A(disc))
    rho = 0.02 * float(torch.linalg.vector_norm(x))
    L = L * (5 * rho / torch.linalg.vector_norm(L))
    z0 = float((p.conj() * x).sum().real)
    return Switch(A, p, L, t=z0 + offset * rho, w=width * rho), p, L, rho


@pytest.mark.parametrize("offset,width", [(0.6, 0.3), (0.6, 0.1)])
def test_the_smooth_switchs_local_value_in_closed_form(setup, offset, width):
    """J = A^* A + c L p^T with c = sigmoid'(-offset / width) / (width rho), L in ker A (orthogonal to
    range(A^*)) and p a unit vector in range(A^*): sigma_max^2 = 1 + c^2 ||L||^2, attained at p."""
    A, x = setup
    f, p, L, rho = _switch(A, x, offset=offset, width=width)
    s = torch.sigmoid(torch.tensor(-offset / width, dtype=torch.float64))
    c = float(s * (1 - s)) / (width * rho)
    exact = math.sqrt(1 + (c * float(torch.linalg.vector_norm(L))) ** 2)
    lw = local_worst_case(f, A, x, k=1, steps=60, tol=1e-10)
    assert lw.converged
    assert abs(lw.sigma - exact) <= 1e-8 * exact
    assert abs(abs(complex((lw.vectors[0].conj() * p).sum()).real) - 1) <= 1e-6  # the direction is +-p


def test_a_sharp_switch_is_found_by_the_sphere_search_beyond_its_local_value(setup):
    """Switched on at 0.6 rho with width 0.1 rho: the local value is 1.008, yet the sphere of radius rho
    holds the lesion; the search from the local directions finds it, and the result keeps both numbers
    apart (the local value is not the worst case)."""
    A, x = setup
    f, p, L, rho = _switch(A, x, offset=0.6, width=0.1)
    with torch.no_grad():
        along_p = float(torch.linalg.vector_norm(f(A(x + rho * p)) - f(A(x)))) / rho
    res = worst_case(f, A, x, norms=[rho], restarts=0, directions=1)
    assert res.local is not None and abs(res.local.sigma - 1) < 1e-2
    assert along_p > 4
    assert res.stages[0].ratio >= 0.99 * along_p
    assert res.max_ratio > 4 * res.local.sigma
    assert res.stages[0].starts[0]["kind"].startswith("local 1")
    assert res.summary()["local"]["sigma"] == res.local.sigma


def test_the_search_from_local_directions_is_checked_against_its_rules(setup):
    A, x = setup
    with pytest.raises(ValueError, match="directions"):
        worst_case(zero_filled(A), A, x, norms=[0.1], directions=-1)
    with pytest.raises(ValueError, match="precision"):
        worst_case(zero_filled(A), A, x, norms=[0.1], precision="float16")
    with pytest.raises(ValueError, match="k"):
        local_worst_case(zero_filled(A), A, x, k=0)


def test_a_complex64_search_reports_complex128_ratios(setup):
    """The search runs in complex64; the recorded r is re-evaluated in complex128: for zero-filling
    (ratio exactly 1 on every sphere in range(A^*)) the ratio is 1 to complex128's rounding."""
    A, x = setup
    res = worst_case(zero_filled(A), A, x, norms=[0.05, 0.1], precision="complex64", restarts=0)
    assert res.settings["precision"] == "complex64"
    for s in res.stages:
        assert s.r.dtype == torch.complex128
        assert abs(s.ratio - 1) <= 1e-12
        assert abs(s.r_norm - res.settings["norms"][res.stages.index(s)]) <= 1e-12 * s.r_norm


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here: the GPU path runs where one exists")
def test_the_search_runs_on_the_gpu_as_on_the_cpu():
    """Attacks, FIRENET and the operator on one CUDA device: the local worst case and the sphere ratios
    agree with the CPU's (complex128 search, to rounding), and every recorded tensor stays on the device."""
    from firenets.nets.mri import REFERENCE_FIRENET, MRIFirenet

    mask = fn.masks.gaussian((32, 32), 0.3, seed=0).mask
    x = fn.data.shepp_logan(32).to(torch.complex128)
    xn = float(torch.linalg.vector_norm(x))
    out = {}
    for device in ("cpu", "cuda"):
        A = fn.operators.Fourier2D(mask, device=device)
        f = MRIFirenet(A, **REFERENCE_FIRENET)
        res = worst_case(f, A, x.to(device), norms=[0.01 * xn, 0.02 * xn], precision="complex128", steps=20)
        assert all(s.r.device.type == device and s.recon.device.type == device for s in res.stages)
        out[device] = res
    assert out["cuda"].local.sigma == pytest.approx(out["cpu"].local.sigma, rel=1e-6)
    for a, b in zip(out["cpu"].stages, out["cuda"].stages, strict=True):
        assert b.ratio == pytest.approx(a.ratio, rel=1e-3)


def test_the_page_keeps_the_local_value_apart_from_the_worst_case(setup):
    """Rendered from the sharp switch's result: the local value (1.008) is shown beside the sphere's
    ratio (about 5) and said not to be the worst case; for zero-filling, whose sphere ratio equals the
    local value 1, the sentence says so."""
    from firenets.report.sections import local_table
    from firenets.report.sentences import local_sentence

    A, x = setup
    f, p, L, rho = _switch(A, x, offset=0.6, width=0.1)
    res = worst_case(f, A, x, norms=[rho], restarts=0, directions=1)
    text = local_sentence("switch", res)
    assert f"sigma_max {res.local.sigma:.3g}" in text and f"{res.max_ratio:.3g}" in text
    assert "the local value is not its worst case" in text
    table = local_table([("switch", res)])
    row = dict(zip(table.columns, table.rows[0], strict=True))
    assert row["local worst case sigma_max(J)"] == res.local.sigma and row["largest sphere ratio"] == res.max_ratio
    assert row["search evaluations"] == sum(s.evaluations for s in res.stages)
    zf = worst_case(zero_filled(A), A, x, norms=[0.05], restarts=0)
    assert "amplifies as its linearisation" in local_sentence("zero-filled", zf)
