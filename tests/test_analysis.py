"""Analysis regularisers: the undecimated wavelet frame against PyWavelets' swt2, total variation
against NumPy, the analysis certificate against CVXPY, and FIRENET on analysis problems."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pywt
import torch

import firenets as fn
from firenets import data, reference
from firenets.operators import (
    Fourier2D,
    Gradient2D,
    Identity,
    Matrix,
    Stack,
    UndecimatedWavelet2D,
    Wavelet2D,
    dottest,
)
from firenets.problems import group_segments
from firenets.solvers.prox import project_groups


def _swt2_channels(x: np.ndarray, wavelet: str, levels: int) -> np.ndarray:
    c = pywt.swt2(x, wavelet, level=levels, trim_approx=True, norm=True)
    return np.stack([c[0]] + [d for level in c[1:] for d in level])


# ------------------------------------------------------------------------------ the undecimated frame
@pytest.mark.parametrize("wavelet", ["haar", "db2", "db4", "db6", "db8", "sym4"])
@pytest.mark.parametrize(("shape", "levels"), [((32, 32), 3), ((16, 48), 2), ((64, 32), 4)])
def test_undecimated_matches_pywavelets_swt2(wavelet, shape, levels, rng):
    x = rng.standard_normal((2, *shape)) + 1j * rng.standard_normal((2, *shape))
    B = UndecimatedWavelet2D(shape, wavelet=wavelet, levels=levels)
    got = B(torch.from_numpy(x)).numpy()
    assert got.shape == (2, 3 * levels + 1, *shape)
    # Symlets are stored by PyWavelets to ~1e-12 only; firenets makes them orthonormal exactly
    tol = 5e-12 if wavelet.startswith("sym") else 1e-13
    for b in range(2):
        ref = _swt2_channels(x[b].real, wavelet, levels) + 1j * _swt2_channels(x[b].imag, wavelet, levels)
        np.testing.assert_allclose(got[b], ref, rtol=0, atol=tol)
    # real input takes the real path and gives the same numbers
    np.testing.assert_allclose(B(torch.from_numpy(x[0].real.copy())).numpy(), got[0].real, rtol=0, atol=1e-13)
    assert B.level_index.tolist() == [0] + [lev for lev in range(1, levels + 1) for _ in range(3)]


@pytest.mark.parametrize("wavelet", ["haar", "db3", "coif2"])
@pytest.mark.parametrize("shape", [(16, 16), (9, 14), (12, 20)])
def test_undecimated_is_a_shift_invariant_tight_frame(wavelet, shape, rng):
    B = UndecimatedWavelet2D(shape, wavelet=wavelet, levels=2)
    x = torch.from_numpy(rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    c = B(x)
    # B^* B = I (Parseval): the energy is kept and the adjoint inverts
    assert torch.linalg.vector_norm(c).item() == pytest.approx(torch.linalg.vector_norm(x).item(), rel=1e-13)
    torch.testing.assert_close(B.adjoint(c), x, rtol=0, atol=1e-13)
    # B commutes with circular shifts
    shifted = B(torch.roll(x, shifts=(3, 5), dims=(0, 1)))
    torch.testing.assert_close(shifted, torch.roll(c, shifts=(3, 5), dims=(1, 2)), rtol=0, atol=1e-13)
    assert B.norm() == 1.0
    assert torch.linalg.matrix_norm(B.to_dense(), 2).item() == pytest.approx(1.0, abs=1e-12)
    # redundancy: B B^* is a projection onto a subspace of dimension N (rank), not the identity
    D = B.to_dense()
    assert torch.linalg.matrix_rank(D).item() == x.numel()


def test_undecimated_bad_input():
    with pytest.raises(ValueError, match="levels"):
        UndecimatedWavelet2D((8, 8), levels=4)
    with pytest.raises(ValueError, match="unknown"):
        UndecimatedWavelet2D((8, 8), wavelet="db99x", levels=1)
    with pytest.raises(ValueError, match="biorthogonal"):
        UndecimatedWavelet2D((8, 8), wavelet="bior2.2", levels=1)
    with pytest.raises(TypeError, match="real"):
        UndecimatedWavelet2D((8, 8), levels=1, dtype=torch.complex128)
    with pytest.raises(ValueError, match=">= 1"):
        UndecimatedWavelet2D((8, 8), levels=0)


# ------------------------------------------------------------------------------ total variation
@pytest.mark.parametrize("shape", [(8, 8), (7, 10), (2, 5)])
def test_gradient_matches_numpy_periodic_differences(shape, rng):
    x = rng.standard_normal((3, *shape)) + 1j * rng.standard_normal((3, *shape))
    D = Gradient2D(shape)
    g = D(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(g[:, 0], np.roll(x, -1, axis=1) - x)
    np.testing.assert_array_equal(g[:, 1], np.roll(x, -1, axis=2) - x)
    # the adjoint is minus the periodic backward divergence
    y = rng.standard_normal((3, 2, *shape))
    div = (np.roll(y[:, 0], 1, axis=1) - y[:, 0]) + (np.roll(y[:, 1], 1, axis=2) - y[:, 1])
    np.testing.assert_allclose(D.adjoint(torch.from_numpy(y)).numpy(), div, rtol=0, atol=1e-14)


def test_gradient_backward_differences_and_their_isotropic_norm(rng):
    x = rng.standard_normal((7, 10)) + 1j * rng.standard_normal((7, 10))
    D = Gradient2D((7, 10), difference="backward")
    g = D(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(g[0], x - np.roll(x, 1, axis=0))
    np.testing.assert_array_equal(g[1], x - np.roll(x, 1, axis=1))
    assert dottest(D) < 1e-12
    torch.testing.assert_close(D.gram_symbol(), Gradient2D((7, 10)).gram_symbol())
    # the anisotropic TVs agree; the isotropic ones pair different differences at a pixel
    P_f = fn.SRLasso(Identity((7, 10)), torch.zeros(7, 10, dtype=torch.float64), analysis=Gradient2D((7, 10), isotropic=False))
    P_b = fn.SRLasso(Identity((7, 10)), torch.zeros(7, 10, dtype=torch.float64),
                     analysis=Gradient2D((7, 10), isotropic=False, difference="backward"))
    xt = torch.from_numpy(x)
    assert float(P_f.l1(xt)) == pytest.approx(float(P_b.l1(xt)), rel=1e-13)
    iso_b = np.sqrt(np.abs(g[0]) ** 2 + np.abs(g[1]) ** 2).sum()
    P_ib = fn.SRLasso(Identity((7, 10)), torch.zeros(7, 10, dtype=torch.float64), analysis=D)
    assert float(P_ib.l1(xt)) == pytest.approx(iso_b, rel=1e-13)
    with pytest.raises(ValueError, match="difference"):
        Gradient2D((7, 10), difference="central")


@pytest.mark.parametrize("shape", [(8, 8), (7, 10), (5, 6)])
def test_gradient_gram_symbol_norm_and_kernel(shape):
    D = Gradient2D(shape)
    dense = D.to_dense()
    gram = dense.T @ dense
    # D^* D = F^-1 diag(s) F: its eigenvalues are the symbol's values
    eig = torch.linalg.eigvalsh(gram)
    torch.testing.assert_close(eig, torch.sort(D.gram_symbol().reshape(-1)).values, rtol=0, atol=1e-12)
    assert D.norm() == pytest.approx(torch.linalg.matrix_norm(dense, 2).item(), rel=1e-13)
    assert (D.norm() ** 2 == pytest.approx(8.0)) == (shape[0] % 2 == 0 and shape[1] % 2 == 0)
    assert int((eig < 1e-12).sum()) == 1  # ker D = the constants
    assert D.groups == (2,) and Gradient2D(shape, isotropic=False).groups == (1, 1)


def test_stack_norm_gram_and_groups():
    shape = (8, 8)
    S = Stack([UndecimatedWavelet2D(shape, levels=2), 0.5 * Gradient2D(shape)])
    assert S.out_shape == (9, 8, 8) and S.groups == (1,) * 7 + (2,)
    dense = S.to_dense()
    # ||S||^2 = max(1 + 0.25 * 8) = 3 from the symbols, and by the SVD
    assert S.norm() == pytest.approx(3**0.5, rel=1e-13)
    assert torch.linalg.matrix_norm(dense, 2).item() == pytest.approx(3**0.5, rel=1e-12)
    with pytest.raises(ValueError, match="in_shape|acts on"):
        Stack([Gradient2D((8, 8)), Gradient2D((8, 6))])
    with pytest.raises(ValueError, match="non-empty"):
        Stack([])
    with pytest.raises(TypeError, match="LinearOperator"):
        Stack([Gradient2D((8, 8)), np.eye(3)])


def test_fourier_gram_symbol_is_the_mask(rng):
    for shape in [(8, 8), (7, 9)]:
        F = Fourier2D(fn.masks.gaussian(shape, 0.4, seed=1).mask)
        x = torch.from_numpy(rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
        via_symbol = torch.fft.ifft2(torch.fft.fft2(x) * F.gram_symbol())
        torch.testing.assert_close(F.adjoint(F(x)), via_symbol, rtol=0, atol=1e-13)


# ------------------------------------------------------------------------------ group projection
def test_project_groups_against_direct_formula(rng):
    B = Stack([UndecimatedWavelet2D((6, 6), levels=1), Gradient2D((6, 6))])
    segments = group_segments(B)
    assert segments == [(0, 4, 1), (4, 1, 2)]
    v = rng.standard_normal((2, 6, 6, 6)) + 1j * rng.standard_normal((2, 6, 6, 6))
    t = [torch.tensor(0.3, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)]
    got = project_groups(torch.from_numpy(v), t, segments).numpy()
    ref = v.copy()
    ref[:, :4] *= np.minimum(1, 0.3 / np.abs(v[:, :4]))
    pair = np.sqrt(np.abs(v[:, 4]) ** 2 + np.abs(v[:, 5]) ** 2)
    ref[:, 4:] *= np.minimum(1, 0.5 / pair)[:, None]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-15)
    inplace = torch.from_numpy(v.copy())
    project_groups(inplace, t, segments, inplace=True)
    np.testing.assert_allclose(inplace.numpy(), ref, rtol=0, atol=1e-15)


# ------------------------------------------------------------------------------ problems and certificates
def _instance(shape=(8, 8), rate=0.4, noise=0.01, seed=0):
    g = torch.Generator().manual_seed(seed)
    F = Fourier2D(fn.masks.gaussian(shape, rate, seed=seed).mask)
    x0 = torch.zeros(shape, dtype=torch.float64)
    x0[2:5, 3:7] = 1.0
    x0[shape[0] - 2, 1] = 0.5
    y = F(x0.to(torch.complex128)) + noise * torch.randn(F.out_shape[0], generator=g, dtype=torch.complex128)
    return F, x0, y


REGULARISERS = {
    "tv": lambda s: Gradient2D(s),
    "tv-anisotropic": lambda s: Gradient2D(s, isotropic=False),
    "undecimated-haar": lambda s: UndecimatedWavelet2D(s, levels=2),
    "undecimated-db2": lambda s: UndecimatedWavelet2D(s, wavelet="db2", levels=2),
    "stack": lambda s: Stack([UndecimatedWavelet2D(s, levels=1), 0.5 * Gradient2D(s)]),
}
PROBLEMS = {"srlasso": (fn.SRLasso, {"lam": 0.05}), "lasso": (fn.Lasso, {"lam": 0.01}), "qcbp": (fn.QCBP, {"eta": 0.05})}


@pytest.mark.parametrize("reg", sorted(REGULARISERS))
@pytest.mark.parametrize("kind", sorted(PROBLEMS))
def test_reference_solves_analysis_problems_with_certificate(reg, kind):
    F, _, y = _instance()
    cls, kw = PROBLEMS[kind]
    P = cls(F, y, analysis=REGULARISERS[reg]((8, 8)), **kw)
    sol = reference.solve(P)  # warns (an error in the tests) if certified worse than 1e-8
    assert float(sol.certificate.relative_gap) < 1e-8
    # the objective as CVXPY evaluates it on the same point, by an independent formula
    Bx = P.B(sol.x).numpy()
    if P.B.groups and 2 in P.B.groups:
        start = sum(P.B.groups[: P.B.groups.index(2)])
        single = np.abs(Bx[:start]).sum()
        weight = 0.5 if reg == "stack" else 1.0
        pairs = weight * np.sqrt(np.abs(Bx[start] / weight) ** 2 + np.abs(Bx[start + 1] / weight) ** 2).sum()
        l1 = single + pairs
    else:
        l1 = np.abs(Bx).sum()
    r = np.linalg.norm((F(sol.x) - y).numpy())
    expected = {"srlasso": kw.get("lam", 1) * l1 + r, "lasso": kw.get("lam", 1) * l1 + r**2, "qcbp": l1}[kind]
    assert float(sol.objective) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("kind", sorted(PROBLEMS))
def test_analysis_certificate_bounds_suboptimality_of_any_point(kind, rng):
    F, x0, y = _instance()
    cls, kw = PROBLEMS[kind]
    P = cls(F, y, analysis=Gradient2D((8, 8)), **kw)
    opt = float(reference.solve(P).objective)
    for trial in range(5):
        x = x0 + 0.05 * trial * torch.from_numpy(rng.standard_normal((8, 8)))
        z = torch.from_numpy(rng.standard_normal(F.out_shape) + 1j * rng.standard_normal(F.out_shape))
        v = torch.from_numpy(rng.standard_normal((2, 8, 8)) + 1j * rng.standard_normal((2, 8, 8)))
        cert = P.certificate(x.to(torch.complex128), (z, v))
        # weak duality: the dual value never exceeds the optimum, whatever the candidate
        assert float(cert.dual_objective) <= opt * (1 + 1e-10)
        if float(cert.infeasibility) == 0:
            assert float(cert.gap) >= float(cert.objective) - opt - 1e-10 * opt


def test_analysis_with_identity_is_the_synthesis_problem(rng):
    M = torch.from_numpy(rng.standard_normal((12, 30)))
    y = torch.from_numpy(rng.standard_normal(12))
    syn = fn.SRLasso(M, y, lam=0.2)
    ana = fn.SRLasso(M, y, lam=0.2, analysis=Identity((30,)))
    x = torch.from_numpy(rng.standard_normal(30))
    assert float(ana.objective(x)) == pytest.approx(float(syn.objective(x)), rel=1e-14)
    z = -(M @ x - y)
    c_syn = syn.certificate(x, z, support_dual=False)
    c_ana = ana.certificate(x, z)
    assert float(c_ana.dual_objective) == pytest.approx(float(c_syn.dual_objective), rel=1e-12)


def test_analysis_certificate_with_a_dense_non_circulant_operator(rng):
    # B with no Fourier symbol and a kernel of dimension 2: the dense path of the certificate
    M = torch.from_numpy(rng.standard_normal((10, 16)))
    y = torch.from_numpy(rng.standard_normal(10))
    Bm = torch.from_numpy(rng.standard_normal((20, 16)))
    Bm[:, :2] = 0  # e_0, e_1 in ker B
    P = fn.SRLasso(M, y, lam=0.1, analysis=Matrix(Bm))
    sol = reference.solve(P)
    assert float(sol.certificate.relative_gap) < 1e-8


def test_analysis_bad_input():
    F, _, y = _instance()
    with pytest.raises(ValueError, match="analysis acts on"):
        fn.SRLasso(F, y, analysis=Gradient2D((8, 6)))
    with pytest.raises(TypeError, match="analysis must be a LinearOperator"):
        fn.SRLasso(F, y, analysis=np.eye(64))
    with pytest.raises(ValueError, match="weights must have shape"):
        fn.SRLasso(F, y, analysis=Gradient2D((8, 8)), weights=torch.ones(8, 8, dtype=torch.float64))
    w = torch.ones(2, 8, 8, dtype=torch.float64)
    w[1, 3, 3] = 2.0
    with pytest.raises(ValueError, match="equal on the 2 channels"):
        fn.SRLasso(F, y, analysis=Gradient2D((8, 8)), weights=w)
    with pytest.raises(ValueError, match="> 0"):
        fn.SRLasso(F, y, analysis=Gradient2D((8, 8)), weights=-torch.ones(2, 8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="lam must be > 0"):
        fn.SRLasso(F, y, lam=0.0, analysis=Gradient2D((8, 8)))
    with pytest.raises(TypeError, match="precision"):
        fn.SRLasso(F, y, analysis=Gradient2D((8, 8), dtype=torch.float32))


# ------------------------------------------------------------------------------ FIRENET, analysis form
@pytest.mark.parametrize(("reg", "kind"), [
    ("tv", "srlasso"), ("tv", "lasso"), ("tv", "qcbp"), ("undecimated-haar", "srlasso"), ("undecimated-haar", "lasso"),
    ("undecimated-haar", "qcbp"), ("undecimated-db2", "srlasso"), ("stack", "srlasso"), ("stack", "lasso"),
])
def test_firenet_analysis_reaches_the_reference_minimiser(reg, kind):
    F, _, y = _instance(shape=(16, 16), noise=0.005)
    cls, kw = PROBLEMS[kind]
    B = REGULARISERS[reg]((16, 16))
    sol = reference.solve(cls(F, y, analysis=B, **kw))
    net = fn.FIRENET(F, problem=kind, analysis=B, restarts=40, inner=50, delta=1e-12, schedule="adaptive", **kw)
    x, cert = net(y, return_certificate=True)
    err = float(torch.linalg.vector_norm(x - sol.x) / torch.linalg.vector_norm(sol.x))
    # P1 and the longer db2 filters converge more slowly (measured 5e-4 for db2 at 2000 layers,
    # 2e-6 at 8000); Haar, TV and their stack reach round-off level
    assert err < (1e-4 if kind == "qcbp" else 2e-3 if reg == "undecimated-db2" else 1e-7)
    # the network's own certificate: valid (never below the true gap) and small
    true_gap = float(cert.objective - sol.objective)
    assert float(cert.gap) >= true_gap - 1e-10 * float(sol.objective)
    assert float(cert.relative_gap) < (1e-2 if kind == "qcbp" or reg == "undecimated-db2" else 1e-5)
    assert net.width == 256 + F.out_shape[0] + B.shape[0]


def test_firenet_analysis_paper_schedule_rescaling_and_warm_start():
    F, _, y = _instance(shape=(16, 16), noise=0.0)
    B = Gradient2D((16, 16))
    net = fn.FIRENET(F, lam=0.02, analysis=B, restarts=6, inner=30, delta=1e-9)
    assert net.schedule == "paper"
    # L_A = ||[A; B]|| from the Fourier symbols, against the SVD of the stacked dense matrix
    K = torch.cat([F.to_dense(), B.to_dense().to(torch.complex128)])
    assert net.L_A == pytest.approx(torch.linalg.matrix_norm(K, 2).item(), rel=1e-12)
    # the paper's P3 schedule is positively homogeneous: scaling y scales the output (to round-off,
    # which the projections' thresholds can amplify entrywise)
    x1 = net(y)
    assert float(torch.linalg.vector_norm(net(3.0 * y) - 3.0 * x1) / torch.linalg.vector_norm(3.0 * x1)) < 1e-9
    # a warm start at the minimiser stays there (with eps0 of the order of its error)
    sol = reference.solve(fn.SRLasso(F, y, lam=0.02, analysis=B))
    warm = fn.FIRENET(F, lam=0.02, analysis=B, restarts=3, inner=30, delta=1e-12, eps0=1e-8, schedule="adaptive")
    xw = warm(y, x0=sol.x)
    assert float(torch.linalg.vector_norm(xw - sol.x) / torch.linalg.vector_norm(sol.x)) < 1e-5


def test_firenet_analysis_batched_real_and_differentiable():
    g = torch.Generator().manual_seed(0)
    M = torch.randn(20, 36, generator=g, dtype=torch.float64) / 20**0.5
    B = Gradient2D((6, 6))
    A = Matrix(M) @ _Flatten((6, 6))
    X = torch.zeros(3, 6, 6, dtype=torch.float64)
    X[:, 1:4, 2:5] = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64).reshape(3, 1, 1)
    Y = A(X)
    net = fn.FIRENET(A, lam=0.01, analysis=B, restarts=8, inner=20, schedule="adaptive")
    out = net(Y)
    assert out.dtype == torch.float64 and out.shape == (3, 6, 6)
    for b in range(3):
        torch.testing.assert_close(out[b], net(Y[b]), rtol=0, atol=1e-12)
    # gradients in y by autograd agree with finite differences
    yg = Y[0].clone().requires_grad_(True)
    d = torch.randn(20, generator=g, dtype=torch.float64)
    (grad,) = torch.autograd.grad((net(yg) ** 2).sum(), yg)
    h = 1e-6
    fd = ((net(Y[0] + h * d) ** 2).sum() - (net(Y[0] - h * d) ** 2).sum()) / (2 * h)
    assert float(grad @ d) == pytest.approx(float(fd), rel=1e-5)


class _Flatten(fn.operators.LinearOperator):
    """Images (*, H, W) <-> vectors (*, H W): the reshape as an operator (for a dense A on images)."""

    def __init__(self, shape):
        self.in_shape, self.out_shape = tuple(shape), (shape[0] * shape[1],)
        self.dtype, self.device = torch.float64, torch.device("cpu")
        self.unitary = True

    def _forward(self, x):
        return x.reshape(*x.shape[:-2], -1)

    def _adjoint(self, y):
        return y.reshape(*y.shape[:-1], *self.in_shape)


def test_firenet_analysis_bad_input():
    F, _, y = _instance()
    with pytest.raises(ValueError, match="calibration"):
        fn.FIRENET(F, lam=0.1, analysis=Gradient2D((8, 8)), eps=1e-6)
    with pytest.raises(ValueError, match="analysis acts on"):
        fn.FIRENET(F, lam=0.1, analysis=Wavelet2D((16, 16), levels=1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn.FIRENET(F, lam=0.1, analysis=Gradient2D((8, 8)), restarts=1, inner=1)(y)


# ------------------------------------------------------------------------------ the refined certificate
@pytest.mark.parametrize("reg", ["tv", "undecimated-haar", "stack"])
@pytest.mark.parametrize("kind", sorted(PROBLEMS))
def test_refined_certificate_is_valid_and_tightens_an_iterates_gap(reg, kind, rng):
    F, x0, y = _instance(shape=(16, 16), noise=0.005)
    cls, kw = PROBLEMS[kind]
    B = REGULARISERS[reg]((16, 16))
    P = cls(F, y, analysis=B, **kw)
    opt = float(reference.solve(P).objective)  # CVXPY's optimum, certified to 1e-8
    # weak duality holds for the refined candidates of arbitrary pairs
    for _ in range(3):
        x = x0 + 0.05 * torch.from_numpy(rng.standard_normal((16, 16)))
        z = torch.from_numpy(rng.standard_normal(F.out_shape) + 1j * rng.standard_normal(F.out_shape))
        v = torch.from_numpy(rng.standard_normal(B.out_shape) + 1j * rng.standard_normal(B.out_shape))
        assert float(P.certificate(x.to(torch.complex128), (z, v), refine=10).dual_objective) <= opt * (1 + 1e-10)
    # a FIRENET's iterate: the refined gap still bounds the true suboptimality and is the tighter one
    net = fn.FIRENET(F, problem=kind, analysis=B, restarts=20, inner=20, delta=1e-12, schedule="adaptive", **kw)
    with torch.no_grad():
        x, dual = net.solve(y)
    plain, refined = P.certificate(x, dual), P.certificate(x, dual, refine=20)
    true_gap = float(refined.objective) - opt
    if float(refined.infeasibility) == 0:
        assert float(refined.gap) >= true_gap - 1e-10 * opt
    # measured: 3-40x tighter for P2 and P3, 1.1-2x for P1 (whose gap its infeasibility also sets)
    if kind != "qcbp":
        assert float(refined.gap) <= 0.5 * float(plain.gap)


def test_refinement_without_a_fourier_symbol_in_single_precision_and_a_singular_gram():
    # DC not sampled and total variation: A^* A + B^* B is singular on the constants; complex64; the
    # conjugate-gradient path (the Fourier division switched off) must not break the certificate
    mask = fn.masks.gaussian((16, 16), 0.4, seed=3).mask.clone()
    mask[0, 0] = mask[8, 8] = False
    for dtype in (torch.complex64, torch.complex128):
        F = Fourier2D(mask, dtype=dtype)
        B = Gradient2D((16, 16), dtype=torch.float32 if dtype == torch.complex64 else torch.float64)
        y = F(data.ellipses(16, seed=2).to(dtype))
        net = fn.FIRENET(F, analysis=B, lam=0.05, restarts=5, inner=20)
        with torch.no_grad():
            x, dual = net.solve(y)
            P = net.problem(y)
            P._symbol = None  # force conjugate gradients
            plain, refined = P.certificate(x, dual), P.certificate(x, dual, refine=20)
            _, returned = net(y, return_certificate=True)
        assert torch.isfinite(refined.gap) and torch.isfinite(returned.gap)
        assert float(refined.gap) <= 0.5 * float(plain.gap)  # measured 4.5x at 32 x 32


def test_refine_dual_lands_in_the_dual_set_and_its_subspace_solve_is_exact(rng):
    F, _, y = _instance(shape=(16, 16))
    for B in (UndecimatedWavelet2D((16, 16), levels=2), Gradient2D((16, 16))):
        P = fn.SRLasso(F, y, lam=0.05, analysis=B)
        w = torch.from_numpy(rng.standard_normal((16, 16)) + 1j * rng.standard_normal((16, 16)))
        w = F.adjoint(F(w)) + B.adjoint(B(w))  # in the range of A^* A + B^* B
        lam = P._gram_solve(w)
        assert P._gram_symbol() is not None  # both Fourier multipliers: solved by division
        residual = F.adjoint(F(lam)) + B.adjoint(B(lam)) - w
        assert float(torch.linalg.vector_norm(residual)) <= 1e-12 * float(torch.linalg.vector_norm(w))
        z = torch.from_numpy(rng.standard_normal(F.out_shape) + 1j * rng.standard_normal(F.out_shape))
        v = torch.from_numpy(rng.standard_normal(B.out_shape) + 1j * rng.standard_normal(B.out_shape))
        zr, vr = P.refine_dual(z, v, 50)
        assert float(torch.linalg.vector_norm(zr)) <= 1 + 1e-12  # P3's ball
        assert float(P._dual_ratio(vr)) <= 1 + 1e-12  # the box |v_g| <= lam w_g
        gap = float(torch.linalg.vector_norm(F.adjoint(zr) - B.adjoint(vr)))
        assert gap <= 1e-2 * float(torch.linalg.vector_norm(F.adjoint(z) - B.adjoint(v)))
    # a dense operator with a dense B (no Fourier symbol): conjugate gradients, the same equation
    M = torch.from_numpy(rng.standard_normal((10, 16)))
    Bm = torch.from_numpy(rng.standard_normal((20, 16)))
    P = fn.SRLasso(M, torch.from_numpy(rng.standard_normal(10)), lam=0.1, analysis=Matrix(Bm))
    w = torch.from_numpy(rng.standard_normal(16))
    lam = P._gram_solve(w)
    exact = torch.linalg.solve(M.T @ M + Bm.T @ Bm, w)
    assert float(torch.linalg.vector_norm(lam - exact)) <= 1e-9 * float(torch.linalg.vector_norm(exact))
    with pytest.raises(ValueError, match="refine must be a whole number"):
        P.certificate(torch.zeros(16, dtype=torch.float64), refine=-1)
    with pytest.raises(ValueError, match="analysis form"):
        fn.SRLasso(M, torch.zeros(10, dtype=torch.float64), lam=0.1).refine_dual(torch.zeros(10), torch.zeros(16))


def test_refine_dual_leaves_a_feasible_pair_where_it_is(rng):
    # the projection of a point of the set is the point itself: a pair built feasible comes back unchanged
    F, _, y = _instance(shape=(16, 16))
    B = UndecimatedWavelet2D((16, 16), levels=2)  # B^* B = I: v = B A^* z solves A^* z = B^* v
    P = fn.SRLasso(F, y, lam=0.05, analysis=B)
    z = torch.from_numpy(rng.standard_normal(F.out_shape) + 1j * rng.standard_normal(F.out_shape))
    v = B(F.adjoint(z))
    s = 0.5 / max(float(P._dual_ratio(v)), float(torch.linalg.vector_norm(z)))  # well inside the box and ball
    zr, vr = P.refine_dual(s * z, s * v, 5)
    assert float(torch.linalg.vector_norm(zr - s * z)) <= 1e-12 * float(torch.linalg.vector_norm(s * z))
    assert float(torch.linalg.vector_norm(vr - s * v)) <= 1e-12 * float(torch.linalg.vector_norm(s * v))
