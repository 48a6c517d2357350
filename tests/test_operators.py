"""Operators against independent references: scipy, numpy's FFT, PyWavelets, closed forms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pywt
import scipy.fft
import torch

import firenets as fn
from firenets.operators import (
    DCT,
    Fourier2D,
    Gradient2D,
    Identity,
    Matrix,
    Stack,
    UndecimatedWavelet2D,
    Wavelet2D,
    dottest,
)


def _mask(shape, seed=0, rate=0.3):
    return fn.masks.gaussian(shape, rate, seed=seed).mask


def _operators():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(7, 11, generator=g, dtype=torch.float64)
    cplx = torch.complex(torch.randn(9, 5, generator=g, dtype=torch.float64),
                         torch.randn(9, 5, generator=g, dtype=torch.float64))
    W = Wavelet2D((32, 32), wavelet="db4", levels=3)
    F = Fourier2D(_mask((32, 32)))
    return {
        "matrix-real": Matrix(real),
        "matrix-complex": Matrix(cplx),
        "identity": Identity((3, 4)),
        "dct-21": DCT(21),
        "dct-64": DCT(64),
        "fourier-even": F,
        "fourier-odd": Fourier2D(_mask((15, 17))),
        "wavelet-haar": Wavelet2D((16, 8), wavelet="haar", levels=3),
        "wavelet-db4": W,
        "wavelet-sym8": Wavelet2D((64, 32), wavelet="sym8", levels=2),
        "wavelet-coif2-0-levels": Wavelet2D((8, 8), wavelet="coif2", levels=0),
        "fourier@waveletH": F @ W.H,
        "adjoint": (F @ W.H).H,
        "scaled-complex": (2 - 3j) * Matrix(real),
        "sum": Matrix(real) + 0.5 * Matrix(real),
        "difference": DCT(10) - Identity(10),
        "dct-matrix-chain": DCT(7) @ Matrix(torch.randn(7, 3, generator=g, dtype=torch.float64)),
        "undecimated-haar": UndecimatedWavelet2D((16, 8), wavelet="haar", levels=3),
        "undecimated-db4": UndecimatedWavelet2D((16, 16), wavelet="db4", levels=2),
        "undecimated-odd": UndecimatedWavelet2D((9, 14), wavelet="db2", levels=2),
        "gradient": Gradient2D((7, 10)),
        "gradient-anisotropic": Gradient2D((8, 8), isotropic=False),
        "stack": Stack([UndecimatedWavelet2D((8, 8), levels=2), 0.5 * Gradient2D((8, 8)), Wavelet2D((8, 8), levels=1)]),
        "fourier@undecimatedH": Fourier2D(_mask((16, 16))) @ UndecimatedWavelet2D((16, 16), levels=2).H,
    }


OPS = _operators()


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_dottest(name, batch):
    assert dottest(OPS[name], batch=batch, seed=len(batch)) < 1e-12


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_adjoint_subtract_is_x_minus_alpha_adjoint(name, batch):
    op = OPS[name]
    g = torch.Generator().manual_seed(len(batch))
    x = torch.randn(*batch, *op.in_shape, generator=g, dtype=torch.float64).to(op.dtype)
    y = torch.randn(*batch, *op.out_shape, generator=g, dtype=torch.float64).to(op.dtype)
    for alpha in (0.7, torch.tensor(-1.3, dtype=torch.float64)):
        expected = x - alpha * op.adjoint(y)
        torch.testing.assert_close(op.adjoint_subtract(x, y, alpha), expected, rtol=0, atol=1e-13)
        # through autograd: same value, and d/dy Re<x - alpha A^* y, c> = -conj(alpha) A c
        yg = y.clone().requires_grad_(True)
        out = op.adjoint_subtract(x, yg, alpha)
        torch.testing.assert_close(out.detach(), expected, rtol=0, atol=1e-13)
        c = torch.randn(out.shape, generator=g, dtype=torch.float64).to(out.dtype)
        (gy,) = torch.autograd.grad(torch.real((out * c.conj()).sum()), yg)
        torch.testing.assert_close(gy, (-alpha * op(c)).to(gy.dtype), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="batch shape"):
        op.adjoint_subtract(torch.zeros(5, *op.in_shape, dtype=op.dtype), torch.zeros(4, *op.out_shape, dtype=op.dtype))


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_residual_is_forward_minus_y(name, batch):
    op = OPS[name]
    g = torch.Generator().manual_seed(7 + len(batch))
    x = torch.randn(*batch, *op.in_shape, generator=g, dtype=torch.float64).to(op.dtype)
    y = torch.randn(*batch, *op.out_shape, generator=g, dtype=torch.float64).to(op.dtype)
    torch.testing.assert_close(op.residual(x, y), op(x) - y, rtol=0, atol=1e-13)
    # through autograd (the unfused path): same value, and d/dy <r, c> = -c
    yg = y.clone().requires_grad_(True)
    r = op.residual(x, yg)
    torch.testing.assert_close(r.detach(), op(x) - y, rtol=0, atol=1e-13)
    c = torch.randn(r.shape, generator=g, dtype=torch.float64).to(r.dtype)
    (gy,) = torch.autograd.grad(torch.real((r * c.conj()).sum()), yg)
    torch.testing.assert_close(gy, -c.to(gy.dtype), rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="batch shape"):
        op.residual(torch.zeros(5, *op.in_shape, dtype=op.dtype), torch.zeros(4, *op.out_shape, dtype=op.dtype))


def test_matrix_residual_against_numpy():
    rng = np.random.default_rng(3)
    M = rng.standard_normal((6, 9)) + 1j * rng.standard_normal((6, 9))
    X = rng.standard_normal((4, 9)) + 1j * rng.standard_normal((4, 9))
    Y = rng.standard_normal((4, 6)) + 1j * rng.standard_normal((4, 6))
    got = Matrix(torch.from_numpy(M)).residual(torch.from_numpy(X), torch.from_numpy(Y)).numpy()
    np.testing.assert_allclose(got, X @ M.T - Y, rtol=0, atol=1e-13)
    # a real matrix applied to complex data acts on real and imaginary parts
    Mr = M.real
    got = Matrix(torch.from_numpy(Mr)).residual(torch.from_numpy(X), torch.from_numpy(Y)).numpy()
    np.testing.assert_allclose(got, X @ Mr.T - Y, rtol=0, atol=1e-13)


@pytest.mark.parametrize("name", sorted(OPS))
def test_batched_equals_one_by_one(name):
    op = OPS[name]
    g = torch.Generator().manual_seed(5)
    x = torch.randn(4, *op.in_shape, generator=g, dtype=torch.float64).to(op.dtype)
    y = torch.randn(4, *op.out_shape, generator=g, dtype=torch.float64).to(op.dtype)
    fx, ay = op(x), op.adjoint(y)
    for i in range(4):
        torch.testing.assert_close(fx[i], op(x[i]), rtol=0, atol=1e-13)
        torch.testing.assert_close(ay[i], op.adjoint(y[i]), rtol=0, atol=1e-13)


@pytest.mark.parametrize("name", sorted(OPS))
def test_to_dense_matches_application(name):
    op = OPS[name]
    D = op.to_dense()
    x = torch.randn(*op.in_shape, dtype=torch.float64).to(op.dtype)
    y = torch.randn(*op.out_shape, dtype=torch.float64).to(op.dtype)
    torch.testing.assert_close(op(x).reshape(-1), D.to(op(x).dtype) @ x.reshape(-1).to(op(x).dtype),
                               rtol=0, atol=1e-12)
    torch.testing.assert_close(op.adjoint(y).reshape(-1).to(D.dtype), D.conj().T @ y.reshape(-1).to(D.dtype),
                               rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------ DCT
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 19, 21, 64, 127, 1000])
def test_dct_matches_scipy(n, rng):
    x = rng.standard_normal((3, n))
    D = DCT(n)
    out = D(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, scipy.fft.dct(x, type=2, norm="ortho"), rtol=0, atol=1e-13 * np.sqrt(n))
    back = D.adjoint(torch.from_numpy(out)).numpy()
    np.testing.assert_allclose(back, scipy.fft.idct(out, type=2, norm="ortho"), rtol=0, atol=1e-13 * np.sqrt(n))
    np.testing.assert_allclose(D.matrix().numpy(), scipy.fft.dct(np.eye(n), type=2, norm="ortho", axis=0),
                               rtol=0, atol=1e-13)


def test_dct_complex_acts_on_real_and_imaginary_parts(rng):
    z = rng.standard_normal(21) + 1j * rng.standard_normal(21)
    out = DCT(21)(torch.from_numpy(z)).numpy()
    ref = scipy.fft.dct(z.real, norm="ortho") + 1j * scipy.fft.dct(z.imag, norm="ortho")
    np.testing.assert_allclose(out, ref, atol=1e-14)


# ------------------------------------------------------------------------------ Fourier2D
@pytest.mark.parametrize("shape", [(16, 16), (15, 17), (8, 13)])
def test_fourier_matches_numpy_centred_fft(shape, rng):
    mask = _mask(shape, seed=3, rate=0.4)
    F = Fourier2D(mask)
    x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x), norm="ortho"))
    np.testing.assert_allclose(F.kspace(torch.from_numpy(x)).numpy(), k, atol=1e-13)
    np.testing.assert_allclose(F(torch.from_numpy(x)).numpy(), k[mask.numpy()], atol=1e-13)
    y = rng.standard_normal(F.out_shape) + 1j * rng.standard_normal(F.out_shape)
    zf = np.zeros(shape, dtype=complex)
    zf[mask.numpy()] = y
    ref = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(zf), norm="ortho"))
    np.testing.assert_allclose(F.adjoint(torch.from_numpy(y)).numpy(), ref, atol=1e-13)


def test_fourier_rows_orthonormal_and_centre_convention():
    mask = _mask((12, 10), seed=1)
    F = Fourier2D(mask)
    D = F.to_dense()
    torch.testing.assert_close(D @ D.conj().T, torch.eye(D.shape[0], dtype=D.dtype), rtol=0, atol=1e-13)
    assert F.norm() == 1.0
    # a constant image has all its energy at the centre (H//2, W//2)
    k = F.kspace(torch.ones(12, 10, dtype=torch.float64))
    assert abs(k[6, 5].item() - np.sqrt(120)) < 1e-12
    assert k.abs().sum().item() == pytest.approx(np.sqrt(120), abs=1e-10)
    assert F.rate == pytest.approx(mask.float().mean().item())


def test_fourier_real_input_promoted_and_full_mask_is_unitary(rng):
    F = Fourier2D(torch.ones(8, 8, dtype=torch.bool))
    x = torch.from_numpy(rng.standard_normal((8, 8)))
    torch.testing.assert_close(F.adjoint(F(x)).real, x, atol=1e-14, rtol=0)


# ------------------------------------------------------------------------------ Wavelet2D
def _pywt_array(x, wavelet, levels):
    # PyWavelets warns when filters are longer than the coarsest band; periodization stays exact
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _pywt_stack(x, wavelet, levels)


def _pywt_stack(x, wavelet, levels):
    return np.stack([pywt.coeffs_to_array(pywt.wavedec2(xi, wavelet, mode="periodization", level=levels))[0]
                     for xi in x])


@pytest.mark.parametrize("wavelet", ["haar", "db2", "db4", "db8"])
@pytest.mark.parametrize("shape,levels", [((16, 16), 2), ((32, 64), 3), ((64, 32), 5), ((8, 8), 3), ((256, 256), 4)])
def test_wavelet_matches_pywavelets(wavelet, shape, levels, rng):
    x = rng.standard_normal((2, *shape))
    W = Wavelet2D(shape, wavelet=wavelet, levels=levels)
    np.testing.assert_allclose(W(torch.from_numpy(x)).numpy(), _pywt_array(x, wavelet, levels), rtol=0, atol=1e-12)


@pytest.mark.parametrize("wavelet", ["sym4", "sym8", "coif3", "sym20"])
def test_wavelet_symlets_match_pywavelets_to_its_stored_precision(wavelet, rng):
    # PyWavelets stores these filters orthonormal to only ~1e-12; ours are corrected to 1e-16
    x = rng.standard_normal((1, 64, 64))
    W = Wavelet2D((64, 64), wavelet=wavelet, levels=2)
    np.testing.assert_allclose(W(torch.from_numpy(x)).numpy(), _pywt_array(x, wavelet, 2), rtol=0, atol=1e-9)


@pytest.mark.parametrize("wavelet", ["haar", "db4", "sym8", "coif3", "db20"])
def test_wavelet_is_orthonormal(wavelet):
    W = Wavelet2D((16, 32), wavelet=wavelet, levels=2)
    D = W.to_dense()
    torch.testing.assert_close(D.T @ D, torch.eye(512, dtype=torch.float64), rtol=0, atol=1e-13)
    torch.testing.assert_close(D @ D.T, torch.eye(512, dtype=torch.float64), rtol=0, atol=1e-13)


def test_wavelet_perfect_reconstruction_complex_batched(rng):
    W = Wavelet2D((64, 48), wavelet="db4", levels=3)
    x = torch.from_numpy(rng.standard_normal((2, 3, 64, 48)) + 1j * rng.standard_normal((2, 3, 64, 48)))
    torch.testing.assert_close(W.adjoint(W(x)), x, rtol=0, atol=1e-13)
    c = W(x)
    torch.testing.assert_close(c.real, W(x.real), rtol=0, atol=1e-15)
    torch.testing.assert_close(c.imag, W(x.imag), rtol=0, atol=1e-15)


def test_wavelet_level_index_matches_pywavelets_layout():
    W = Wavelet2D((32, 64), wavelet="db2", levels=3)
    _, slices = pywt.coeffs_to_array(pywt.wavedec2(np.zeros((32, 64)), "db2", mode="periodization", level=3))
    idx = W.level_index.numpy()
    assert np.all(idx[slices[0]] == 0)
    for level, bands in enumerate(slices[1:], start=1):  # coarsest details first
        for key in ("ad", "da", "dd"):
            assert np.all(idx[bands[key]] == level)
    assert sorted(np.unique(idx).tolist()) == [0, 1, 2, 3]


def test_wavelet_float32_and_gradients():
    W32 = Wavelet2D((16, 16), wavelet="db2", levels=2, dtype=torch.float32)
    x = torch.randn(16, 16)
    assert W32(x).dtype == torch.float32
    assert dottest(W32) < 1e-5
    W = Wavelet2D((8, 8), wavelet="db2", levels=2)
    F = Fourier2D(_mask((8, 8)))
    x = torch.randn(8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: W(t), (x,))
    assert torch.autograd.gradcheck(lambda t: torch.view_as_real(F(t)), (x,))
    assert torch.autograd.gradcheck(lambda t: DCT(8)(t), (x,))


SMALL = ["matrix-real", "matrix-complex", "identity", "dct-21", "fourier-odd", "wavelet-haar",
         "scaled-complex", "sum", "difference", "dct-matrix-chain"]


@pytest.mark.parametrize("name", SMALL + ["adjoint-small"])
def test_autograd_through_applications_matches_finite_differences(name):
    # each application is one autograd node whose backward is the adjoint: checked against finite
    # differences (complex inputs included: Wirtinger calculus), and twice (higher derivatives)
    if name == "adjoint-small":
        op = (Fourier2D(_mask((8, 6), seed=2)) @ Wavelet2D((8, 6), wavelet="haar", levels=1).H).H
    else:
        op = OPS[name]
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, *op.in_shape, generator=g, dtype=torch.float64).to(op.dtype).requires_grad_(True)
    y = torch.randn(2, *op.out_shape, generator=g, dtype=torch.float64).to(op.dtype).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: op(t), (x,))
    assert torch.autograd.gradcheck(lambda t: op.adjoint(t), (y,))
    assert torch.autograd.gradgradcheck(lambda t: op(t) * t.sum(), (x,))
    if x.is_complex():  # a real input to a complex operator: the gradient is real
        xr = torch.randn(*op.in_shape, generator=g, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: torch.view_as_real(op(t)), (xr,))


def test_operator_tensors_that_require_grad_get_gradients():
    # a learned matrix: its gradient is autograd's through the product, with x requiring grad or not
    g = torch.Generator().manual_seed(1)
    M = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 4, generator=g, dtype=torch.float64, requires_grad=True)
    xd, Md = x.detach(), M.detach()
    for c, op in ((1.0, Matrix(M)), (2.0, 2.0 * Matrix(M)), (1.0, Matrix(M) @ Identity(4))):
        M.grad = None
        (op(x) ** 2).sum().backward()  # d/dM sum ||c M x_b||^2 = 2 c^2 sum_b (M x_b) x_b^T
        torch.testing.assert_close(M.grad, 2 * c**2 * (xd @ Md.T).T @ xd)
    # a trainable diagonal between Haar transforms: plain autograd through the composition (for
    # the diagonal's gradient), the transforms each one node inside it
    class Diagonal(fn.operators.LinearOperator):
        def __init__(self, d):
            self.d, self.in_shape, self.out_shape = d, tuple(d.shape), tuple(d.shape)
            self.dtype, self.device = d.dtype, d.device

        def _forward(self, x):
            return x * self.d

        def _adjoint(self, y):
            return y * self.d

    W = Wavelet2D((8, 8), wavelet="haar", levels=2)
    d = torch.rand(8, 8, generator=g, dtype=torch.float64, requires_grad=True)
    img = torch.randn(8, 8, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda dd, t: (W.H @ Diagonal(dd) @ W)(t), (d, img))
    assert torch.autograd.gradcheck(lambda dd, t: (W.H @ Diagonal(dd) @ W).adjoint(t), (d, img))
    # and jacobians by torch.func, as for any torch function
    J = torch.func.jacrev(Matrix(M.detach()))(x.detach()[0])
    torch.testing.assert_close(J, M.detach())


def test_outputs_sharing_the_input_memory_can_be_modified_in_place():
    x = torch.randn(8, 8, dtype=torch.float64, requires_grad=True)
    for op in (Identity((8, 8)), Wavelet2D((8, 8), wavelet="db4", levels=0), Wavelet2D((8, 8), wavelet="haar", levels=0)):
        out = op(x)
        out.mul_(2.0)  # no error, and x is untouched
        torch.testing.assert_close(out, 2 * x.detach())
    assert torch.autograd.gradcheck(lambda t: Identity((8, 8))(t) * 1.0, (x,))


def test_haar_fast_path_matches_pywavelets_on_complex_batches():
    W = Wavelet2D((32, 16), wavelet="haar", levels=4)
    g = np.random.default_rng(4)
    x = g.standard_normal((3, 32, 16)) + 1j * g.standard_normal((3, 32, 16))
    expected = np.stack([
        pywt.coeffs_to_array(pywt.wavedec2(x[i].real, "haar", mode="periodization", level=4))[0]
        + 1j * pywt.coeffs_to_array(pywt.wavedec2(x[i].imag, "haar", mode="periodization", level=4))[0]
        for i in range(3)])
    np.testing.assert_allclose(W(torch.from_numpy(x)).numpy(), expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(W.adjoint(torch.from_numpy(expected)).numpy(), x, rtol=0, atol=1e-14)


# ------------------------------------------------------------------------------ norms
def test_norm_power_iteration_matches_svd(rng):
    M = rng.standard_normal((30, 50)) + 1j * rng.standard_normal((30, 50))
    M2 = rng.standard_normal((50, 40))
    A = Matrix(M) @ Matrix(M2)  # no closed form: power iteration
    assert A.norm(tol=1e-12) == pytest.approx(np.linalg.norm(M @ M2, 2), rel=1e-8)
    exact = np.linalg.norm(M, 2)
    assert (Matrix(M) @ DCT(50)).norm() == pytest.approx(exact, rel=1e-14)  # DCT is unitary
    assert Matrix(M).norm() == pytest.approx(exact, rel=1e-14)
    assert (3.0 * Matrix(M)).norm() == pytest.approx(3 * exact, rel=1e-14)
    assert Matrix(M).H.norm() == pytest.approx(exact, rel=1e-14)


def test_norm_of_subsampled_fourier_wavelet_synthesis():
    F = Fourier2D(_mask((32, 32)))
    W = Wavelet2D((32, 32), wavelet="db4", levels=3)
    # ||F W^*|| = ||F|| = 1 since W^* is unitary, and power iteration agrees from below
    assert (F @ W.H).norm() == 1.0
    from firenets.operators import power_iteration

    assert 1 - 1e-6 < power_iteration(F @ W.H, tol=1e-10, max_iter=10_000, seed=0) <= 1 + 1e-12


# ------------------------------------------------------------------------------ bad input
def test_bad_input_errors_name_the_argument():
    A = Matrix(torch.randn(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="x must have trailing shape"):
        A(torch.randn(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="y must have trailing shape"):
        A.adjoint(torch.randn(4, dtype=torch.float64))
    with pytest.raises(TypeError, match="float64 precision"):
        A(torch.randn(4, dtype=torch.float32))
    with pytest.raises(TypeError, match="floating-point or complex"):
        A(torch.ones(4, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        A(np.ones(4))
    with pytest.raises(ValueError, match="M must be finite"):
        Matrix(torch.tensor([[1.0, float("nan")]], dtype=torch.float64))
    with pytest.raises(TypeError, match="M must be a floating-point"):
        Matrix(np.ones((2, 2), dtype=int))
    with pytest.raises(ValueError, match="M must be a 2-D"):
        Matrix(torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="cannot compose"):
        A @ Matrix(torch.randn(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="cannot add"):
        A + Matrix(torch.randn(4, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="compose"):
        A * A


def test_bad_wavelet_and_mask_arguments():
    with pytest.raises(ValueError, match="wavelet 'db99' is unknown"):
        Wavelet2D((16, 16), wavelet="db99")
    with pytest.raises(ValueError, match="biorthogonal"):
        Wavelet2D((16, 16), wavelet="bior2.2")
    with pytest.raises(ValueError, match="not orthonormal"):
        Wavelet2D((16, 16), wavelet="dmey", levels=1)
    with pytest.raises(ValueError, match="divisible by 2\\^levels"):
        Wavelet2D((24, 24), levels=4)
    with pytest.raises(ValueError, match="levels must be >= 0"):
        Wavelet2D((16, 16), levels=-1)
    with pytest.raises(ValueError, match="shape must have 2 entries"):
        Wavelet2D((16, 16, 16))
    with pytest.raises(ValueError, match="mask is empty"):
        Fourier2D(torch.zeros(8, 8, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask must be boolean"):
        Fourier2D(torch.ones(8, 8))
    with pytest.raises(ValueError, match="mask must be 2-D"):
        Fourier2D(torch.ones(8, dtype=torch.bool))
    with pytest.raises(TypeError, match="dtype must be real"):
        DCT(8, dtype=torch.complex128)
    with pytest.raises(ValueError, match="n must be >= 1"):
        DCT(0)


def test_dottest_detects_a_wrong_adjoint():
    class Broken(Matrix):
        def _adjoint(self, y):
            return super()._adjoint(y) * 1.001

    with pytest.raises(AssertionError, match="dottest failed"):
        dottest(Broken(torch.randn(4, 6, dtype=torch.float64)))


def test_fourier_accepts_sampling_mask_and_operators_move_devices():
    sm = fn.masks.radial((16, 16), 0.3, seed=0)
    F = Fourier2D(sm)
    assert torch.equal(F.mask, sm.mask)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    W = Wavelet2D((16, 16), wavelet="db2", levels=2)
    x = torch.randn(2, 16, 16, dtype=torch.float64)
    for device in devices:
        A = (F @ W.H).to(device)
        assert A.device == torch.device(device)
        out = A(x.to(device))
        assert out.device.type == torch.device(device).type
        torch.testing.assert_close(out.cpu(), (F @ W.H)(x), rtol=0, atol=1e-13)
        assert dottest(A) < 1e-12
    with pytest.raises(ValueError, match="is on meta"):
        F(torch.randn(16, 16, dtype=torch.float64, device="meta"))
