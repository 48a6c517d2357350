"""Omega_K training sets and the constructive approximation theorem."""

from __future__ import annotations

import math

import pytest
import torch

from firenets.barriers import approximation, omega


@pytest.mark.parametrize("dims", ["code", "caption"])
def test_training_set_structure(dims):
    inst = omega.instance(3, 20, dims=dims)
    ts = omega.training_set(inst, size=200, validation=10, seed=4)
    assert ts.x.shape == (200, inst.N1 + inst.N2) and ts.x_val.shape == (10, inst.N1 + inst.N2)
    # each vector: e_2 / a_2 on the head, exactly 5 nonzeros in the tail, data y = A_n x
    a = omega.first_row(3, 20, inst.N1, 2)
    assert torch.all(ts.x[:, 0] == 0) and torch.allclose(ts.x[:, 1], 1 / a[1].expand(200))
    assert torch.all((ts.x[:, inst.N1:] != 0).sum(dim=1) == 5)
    torch.testing.assert_close(ts.y, inst.A_n(ts.x), rtol=0, atol=0)
    # y = C [1; ||a|| x_tail]
    C = omega.DCT(inst.N2 + 1).matrix()
    raw = torch.cat([torch.ones(200, 1, dtype=torch.float64), a.norm() * ts.x[:, inst.N1:]], dim=1)
    torch.testing.assert_close(ts.y, raw @ C.T, rtol=0, atol=1e-10)
    again = omega.training_set(inst, size=200, validation=10, seed=4)
    assert torch.equal(again.x, ts.x)
    assert not torch.equal(omega.training_set(inst, size=200, validation=10, seed=5).x, ts.x)


def test_instance_dimensions_override():
    inst = omega.instance(1, 10, N1=3, N2=7)
    assert inst.A.M.shape == (8, 10)
    with pytest.raises(ValueError, match="sparsity must be <= N2"):
        omega.training_set(inst, sparsity=8)


@pytest.mark.parametrize("eps", [1e-1, 1e-3, 1e-5])
def test_interpolation_network_within_eps(eps):
    f = lambda x: torch.sin(2 * math.pi * x) + 0.3 * x**2  # noqa: E731
    a = approximation.approximate(f, eps, second_derivative=4 * math.pi**2 + 0.6)
    x = torch.rand(100_000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        err = (a.network(x) - f(x)).abs().max().item()
    assert err < eps and a.bound < eps
    # the width is the smallest n meeting the bound max|f''| / (8 n^2) < eps
    n = a.width
    assert (4 * math.pi**2 + 0.6) / (8 * (n - 1) ** 2) >= eps or n == 1
    assert a.num_parameters == 3 * n + 1


def test_interpolation_network_is_the_interpolant_and_widths_grow():
    f = lambda x: torch.abs(x - 0.3)  # noqa: E731  (Lipschitz 1, kink off the knots)
    rows = approximation.size_table(f, [1e-1, 1e-2, 1e-3], lipschitz=1.0)
    widths = [r["width"] for r in rows]
    assert widths == [6, 51, 501]  # L / (2 n) < eps: n = floor(1 / (2 eps)) + 1
    a = approximation.approximate(f, 1e-2, lipschitz=1.0)
    knots = torch.linspace(0, 1, a.width + 1, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(a.network(knots), f(knots), rtol=0, atol=1e-13)
    assert "yet no algorithm can compute" in approximation.note(3)
    with pytest.raises(ValueError, match="eps must be > 0"):
        approximation.approximate(f, 0.0)
    with pytest.raises(ValueError, match="no interpolation network"):
        approximation.approximate(f, 1e-9, max_width=64)
    with pytest.raises(ValueError, match="no interpolation network"):
        approximation.approximate(f, 1e-9, lipschitz=1.0, max_width=64)
    # without a bound: doubling until the measured error is below eps
    b = approximation.approximate(f, 1e-3)
    assert b.bound is None and b.measured_error < 1e-3 and b.width & (b.width - 1) == 0
