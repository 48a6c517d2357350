"""The 2^-n input model: property-based bounds and the Omega_K perturbed pair."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from firenets import inexact
from firenets.barriers import omega
from firenets.operators import Matrix

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=finite), st.integers(-5, 60))
def test_round_dyadic_real_bound(z, n):
    t = torch.from_numpy(z)
    zn = inexact.round_dyadic(t, n)
    assert (t - zn).abs().max().item() <= 2.0 ** -(n + 1)
    # z_n lies on the grid 2^-n Z and rounding again changes nothing
    assert torch.equal(inexact.round_dyadic(zn, n), zn)
    assert inexact.deviation(t, zn) <= 2.0**-n


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(1, 8), elements=finite), arrays(np.float64, st.integers(1, 8), elements=finite),
       st.integers(0, 60))
def test_round_dyadic_complex_bound(re, im, n):
    k = min(len(re), len(im))
    z = torch.complex(torch.from_numpy(re[:k]), torch.from_numpy(im[:k]))
    zn = inexact.round_dyadic(z, n)
    assert (z.real - zn.real).abs().max().item() <= 2.0 ** -(n + 1)
    assert (z.imag - zn.imag).abs().max().item() <= 2.0 ** -(n + 1)
    inexact.check_pair(z, zn, n)


def test_round_dyadic_matrix_and_oracle():
    M = Matrix(torch.randn(4, 5, dtype=torch.float64))
    Mn = inexact.round_dyadic(M, 8)
    assert isinstance(Mn, Matrix)
    assert (M.M - Mn.M).abs().max().item() <= 2.0**-9
    oracle = inexact.Oracle(M.M)
    for n in (1, 10, 40):
        assert inexact.deviation(M.M, oracle(n)) <= 2.0**-n
    bad = inexact.Oracle(M.M, rule=lambda n: M.M + 2.0 ** (-n + 1))
    with pytest.raises(ValueError, match="not a 2\\^-3 approximation"):
        bad(3)


def test_check_pair_names_offending_entry():
    z = torch.zeros(3, 4, dtype=torch.float64)
    zn = z.clone()
    zn[2, 1] = 0.01
    with pytest.raises(ValueError, match=r"entry \(2, 1\) differs by 1.000e-02"):
        inexact.check_pair(z, zn, 10)
    assert inexact.check_pair(z, zn, 6) is zn
    with pytest.raises(ValueError, match="same shape"):
        inexact.check_pair(z, zn[:2], 6)
    with pytest.raises(TypeError, match="both be real or both complex"):
        inexact.deviation(z, zn.to(torch.complex128))
    with pytest.raises(TypeError, match="n must be an integer"):
        inexact.round_dyadic(z, 2.5)
    with pytest.raises(ValueError, match="z must be finite"):
        inexact.round_dyadic(torch.tensor([float("inf")], dtype=torch.float64), 3)


@pytest.mark.parametrize("K", [1, 3, 6])
@pytest.mark.parametrize("n", [10, 20, 30])
@pytest.mark.parametrize("dims,shape", [("code", (21, 22)), ("caption", (19, 20))])
def test_omega_pair_is_admissible(K, n, dims, shape):
    inst = omega.instance(K, n, dims=dims)
    assert inst.A.M.shape == shape
    assert inexact.deviation(inst.A.M, inst.A_n.M) <= 2.0**-n
    gap = torch.linalg.matrix_norm(inst.A.M - inst.A_n.M, ord=2).item()
    # exact up to the float64 rounding of entries of size |A|max (a few ulps each)
    rounding = np.sqrt(inst.A.M.numel()) * np.spacing(inst.A.M.abs().max().item())
    assert abs(gap - 2.0**-n / np.sqrt(2)) <= 1e-9 * 2.0**-n + rounding
    # y = C e_1 and the minimisers e_j / a_j fit the data exactly
    torch.testing.assert_close(inst.A(inst.minimiser), inst.y, rtol=0, atol=1e-13)
    torch.testing.assert_close(inst.A_n(inst.inexact_minimiser), inst.y_n, rtol=0, atol=1e-13)


def test_omega_bad_arguments():
    with pytest.raises(ValueError, match="dims must be one of"):
        omega.instance(1, 10, dims="paper")
    with pytest.raises(ValueError, match="K must be >= 1"):
        omega.instance(0, 10)
    with pytest.raises(TypeError, match="n must be an integer"):
        omega.instance(1, 10.5)
