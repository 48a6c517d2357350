"""benchmarks/cs_*.py: BART and SigPy runners see our samples, and the objectives they minimise.

References are independent: PyWavelets for the Haar transform, explicit loops for TV, firenets'
Fourier2D for the measurement model, and small FISTA / dual-FISTA solvers written here. Tests
that run BART skip when ``bart`` is not on PATH; the SigPy ones when SigPy is not installed.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import pywt
import torch

from firenets.data import shepp_logan
from firenets.masks import gaussian
from firenets.operators import Fourier2D, fft2c, ifft2c

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import cs_bart  # noqa: E402
import cs_kspace  # noqa: E402
import cs_objectives  # noqa: E402
import cs_search  # noqa: E402
import cs_sigpy  # noqa: E402

needs_bart = pytest.mark.skipif(not cs_bart.bart_available(), reason="bart is not on PATH (Debian package 'bart')")


def sigpy():
    return pytest.importorskip("sigpy")


def samples(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fourier2D(mask)(x) as a numpy vector: the reference measurement model."""
    A = Fourier2D(torch.from_numpy(mask))
    return A(torch.from_numpy(np.ascontiguousarray(x)).to(torch.complex128)).numpy()


def zero_filled_image(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return Fourier2D(torch.from_numpy(mask)).adjoint(torch.from_numpy(y)).numpy()


def pywt_haar_prox(v: np.ndarray, t: float, level: int) -> np.ndarray:
    """W^T soft(W v, t) with PyWavelets' periodized Haar, every band thresholded (complex modulus)."""

    def soft(c):
        mag = np.abs(c)
        return np.where(mag > t, c * (1 - t / np.maximum(mag, 1e-300)), 0)

    parts = []
    for comp in (v.real, v.imag):
        arr, sl = pywt.coeffs_to_array(pywt.wavedec2(comp, "haar", mode="periodization", level=level))
        parts.append((arr, sl))
    c = parts[0][0] + 1j * parts[1][0]
    s = soft(c)
    sl = parts[0][1]
    rec = [
        pywt.waverec2(pywt.array_to_coeffs(p, sl, output_format="wavedec2"), "haar", mode="periodization")
        for p in (s.real, s.imag)
    ]
    return rec[0] + 1j * rec[1]


def fista_haar(y: np.ndarray, mask: np.ndarray, lam: float, level: int, iters: int) -> np.ndarray:
    """Reference minimiser of 1/2 ||A x - y||^2 + lam ||W x||_1 (FISTA, step 1 = 1 / ||A||^2)."""
    A = Fourier2D(torch.from_numpy(mask))
    yt = torch.from_numpy(y)

    def grad(v):
        return A.adjoint(A(torch.from_numpy(v)) - yt).numpy()

    x = np.zeros(mask.shape, complex)
    z, t = x.copy(), 1.0
    for _ in range(iters):
        xn = pywt_haar_prox(z - grad(z), lam, level)
        tn = (1 + math.sqrt(1 + 4 * t * t)) / 2
        z = xn + (t - 1) / tn * (xn - x)
        x, t = xn, tn
    return x


def rof(b: np.ndarray, lam: float, *, isotropic: bool, iters: int = 3000) -> np.ndarray:
    """Reference min 1/2 ||x - b||^2 + lam TV(x), periodic differences: FISTA on the dual (Beck-Teboulle)."""

    def D(x):
        return np.stack([x - np.roll(x, 1, 0), x - np.roll(x, 1, 1)])

    def Dt(p):
        return (p[0] - np.roll(p[0], -1, 0)) + (p[1] - np.roll(p[1], -1, 1))

    p = np.zeros((2, *b.shape))
    q, t = p.copy(), 1.0
    for _ in range(iters):
        pn = q + D(b - lam * Dt(q)) / (8 * lam)  # gradient step 1 / L, L = 8 lam^2
        pn = pn / np.maximum(1, np.sqrt((pn**2).sum(0))) if isotropic else np.clip(pn, -1, 1)
        tn = (1 + math.sqrt(1 + 4 * t * t)) / 2
        q = pn + (t - 1) / tn * (pn - p)
        p, t = pn, tn
    return b - lam * Dt(p)


def blocks(n: int, seed: int = 0) -> np.ndarray:
    """A piecewise-constant test image with a little noise (TV has non-trivial minimisers)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, n))
    x[n // 4 : n // 2 + 3, n // 5 : 3 * n // 4] = 1.0
    x[n // 3 : 7 * n // 8, n // 2 - 2 : n // 2 + 3] += 0.5
    return x + 0.05 * rng.standard_normal((n, n))


# --------------------------------------------------------------------------- conventions (numpy only)


def test_zero_filled_kspace_follows_fourier2d_row_major_order():
    rng = np.random.default_rng(0)
    x = rng.random((12, 10))
    mask = rng.random((12, 10)) < 0.4
    y = samples(x, mask)
    full = Fourier2D(torch.from_numpy(mask)).kspace(torch.from_numpy(x).to(torch.complex128)).numpy()
    np.testing.assert_allclose(cs_kspace.zero_filled_kspace(y, mask), np.where(mask, full, 0), atol=1e-13)
    np.testing.assert_allclose(cs_kspace.zero_filled_kspace(full, mask), np.where(mask, full, 0), atol=0)
    with pytest.raises(ValueError, match="samples"):
        cs_kspace.zero_filled_kspace(y[:-1], mask)


@pytest.mark.parametrize("shape", [(16, 24), (15, 17)])
def test_centred_fft_is_fourier2d_kspace(shape):
    x = np.random.default_rng(1).random(shape)
    ref = (
        Fourier2D(torch.ones(shape, dtype=torch.bool))
        .kspace(torch.from_numpy(x).to(torch.complex128))
        .numpy()
    )
    np.testing.assert_allclose(fft2c(x), ref, atol=1e-13)
    np.testing.assert_allclose(ifft2c(ref), x, atol=1e-13)


def test_cfl_files_are_complex64_column_major(tmp_path):
    a = np.arange(6).reshape(2, 3) + 1j * np.arange(6).reshape(2, 3) / 10
    cs_bart.write_cfl(tmp_path / "a", a)
    raw = np.fromfile(tmp_path / "a.cfl", dtype=np.complex64)
    assert raw[1] == np.complex64(a[1, 0])  # the first index varies fastest
    assert (tmp_path / "a.hdr").read_text().splitlines()[1].split() == ["2", "3", "1", "1"]
    np.testing.assert_array_equal(cs_bart.read_cfl(tmp_path / "a"), a.astype(np.complex64))


def test_data_fidelity_and_objective_match_fourier2d():
    rng = np.random.default_rng(2)
    x = rng.random((16, 16)) + 1j * rng.random((16, 16))
    mask = rng.random((16, 16)) < 0.5
    y = samples(rng.random((16, 16)), mask)
    r = samples(x, mask) - y
    assert cs_objectives.data_fidelity(x, y, mask) == pytest.approx(0.5 * np.sum(np.abs(r) ** 2), rel=1e-12)
    assert cs_objectives.objective(x, y, mask, 0.3, "bart-tv") == pytest.approx(
        0.5 * np.sum(np.abs(r) ** 2) + 0.3 * cs_objectives.tv_isotropic(x), rel=1e-12
    )


# --------------------------------------------------------------------------- regularisers


@pytest.mark.parametrize(("n", "level"), [(64, 3), (32, 5), (16, 1)])
def test_haar_transform_is_pywavelets_periodized_haar(n, level):
    x = np.random.default_rng(3).random((n, n))
    bands = cs_objectives.haar_transform(x, (level, level))
    ref = pywt.wavedec2(x, "haar", mode="periodization", level=level)
    np.testing.assert_allclose(bands[-1], ref[0], atol=1e-12)
    for j in range(level):  # ours: finest first; PyWavelets: coarsest first
        for i in range(3):
            np.testing.assert_allclose(bands[3 * j + i], ref[level - j][i], atol=1e-12)
    assert cs_objectives.haar_l1(x, (level, level)) == pytest.approx(
        np.abs(pywt.coeffs_to_array(ref)[0]).sum(), rel=1e-12
    )


def test_haar_with_unequal_levels_is_orthonormal():
    x = np.random.default_rng(4).random((64, 32)) + 1j
    bands = cs_objectives.haar_transform(x, (3, 2))
    assert sum(np.sum(np.abs(b) ** 2) for b in bands) == pytest.approx(np.sum(np.abs(x) ** 2), rel=1e-12)
    assert sum(b.size for b in bands) == x.size
    np.testing.assert_allclose(cs_objectives.inverse_haar_transform(bands, (3, 2)), x, atol=1e-12)
    with pytest.raises(ValueError, match="even"):
        cs_objectives.haar_transform(np.ones((24, 24)), (4, 4))  # 24 -> 12 -> 6 -> 3: the fourth step is odd


def test_wavelet_levels():
    # BART pics halves an axis while its band is >= 16 (measured with bart wavelet / pics)
    assert cs_objectives.bart_haar_levels((256, 256)) == (5, 5)
    assert cs_objectives.bart_haar_levels((64, 32)) == (3, 2)
    assert cs_objectives.bart_haar_levels((48, 16)) == (2, 1)
    assert cs_objectives.sigpy_haar_levels((64, 32)) == (pywt.dwt_max_level(32, 2),) * 2 == (5, 5)


def test_haar_prox_matches_pywavelets_thresholding():
    rng = np.random.default_rng(5)
    v = rng.standard_normal((32, 32)) + 1j * rng.standard_normal((32, 32))
    np.testing.assert_allclose(cs_objectives.haar_prox(v, 0.4, (2, 2)), pywt_haar_prox(v, 0.4, 2), atol=1e-12)
    # and it is the minimiser: no random perturbation lowers 1/2 ||x - v||^2 + t ||W x||_1
    p = cs_objectives.haar_prox(v, 0.4, (2, 2))

    def f(x):
        return 0.5 * np.sum(np.abs(x - v) ** 2) + 0.4 * cs_objectives.haar_l1(x, (2, 2))

    for _ in range(20):
        d = 1e-3 * (rng.standard_normal(v.shape) + 1j * rng.standard_normal(v.shape))
        assert f(p) <= f(p + d)


def test_tv_terms_against_explicit_loops():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 7)) + 1j * rng.standard_normal((5, 7))
    iso = aniso = 0.0
    H, W = x.shape
    for i in range(H):
        for j in range(W):
            d0 = x[i, j] - x[(i - 1) % H, j]
            d1 = x[i, j] - x[i, (j - 1) % W]
            iso += math.sqrt(abs(d0) ** 2 + abs(d1) ** 2)
            aniso += abs(d0) + abs(d1)
    assert cs_objectives.tv_isotropic(x) == pytest.approx(iso, rel=1e-12)
    assert cs_objectives.tv_anisotropic(x) == pytest.approx(aniso, rel=1e-12)
    assert cs_objectives.tv_isotropic(np.full((4, 4), 3.0)) == 0.0


def test_undo_gradient_step_inverts_the_step():
    rng = np.random.default_rng(7)
    mask = rng.random((16, 16)) < 0.4
    y = samples(rng.random((16, 16)), mask)
    v = rng.random((16, 16)) + 1j * rng.random((16, 16))
    A = Fourier2D(torch.from_numpy(mask))
    z = v - 0.95 * A.adjoint(A(torch.from_numpy(v)) - torch.from_numpy(y)).numpy()
    np.testing.assert_allclose(cs_bart.bart_undo_gradient_step(z, y, mask, 0.95), v, atol=1e-12)


# --------------------------------------------------------------------------- search helpers


def test_best_of_lambda_extends_the_grid_and_refines():
    calls = []

    def runner(lam):
        calls.append(lam)
        return np.array([lam]), 0.0

    def metric(image):
        return -((math.log(image[0]) - math.log(0.37)) ** 2)

    res = cs_search.best_of_lambda(runner, [1e-3, 2e-3, 4e-3], metric)
    lams = [lam for lam, _ in res.evaluated]
    assert lams[0] < res.lam < lams[-1]  # not at an edge
    assert abs(math.log(res.lam / 0.37)) <= math.log(2) / 6 + 1e-9  # within half a fine step
    near = [lam for lam in lams if res.lam / 2.01 <= lam <= res.lam * 2.01]
    assert max(b / a for a, b in zip(near, near[1:], strict=False)) <= 2 ** (1 / 3) + 1e-6
    assert len(calls) == len(set(calls))  # each lam run once
    assert res.image[0] == res.lam and res.score == metric(res.image)


def test_iteration_trace_and_convergence_run_each_count_separately():
    runs = []

    def run(n):
        runs.append(n)
        return np.array([30.0 - 10.0 * 0.5 ** (n / 10)]), n * 1e-3

    trace = cs_search.iteration_trace(run, [10, 20, 40])
    assert [t[0] for t in trace] == [10, 20, 40] and trace[1][1] == pytest.approx(0.02)
    runs.clear()
    conv = cs_search.converged_iterations(run, lambda im: float(im[0]), start=10, tol=0.01)
    # metric(2n) - metric(n) = 10 * 0.5^(n/10) (1 - 0.5^(n/10)) < 0.01 first for n = 160 -> 320
    assert runs == [10, 20, 40, 80, 160, 320] and conv.iters == 160
    gaps = [abs(a[1] - b[1]) for a, b in zip(conv.history, conv.history[1:], strict=False)]
    assert gaps[-1] < 0.01 <= min(gaps[:-1]) and conv.settled
    assert conv.image[0] == pytest.approx(30.0 - 10.0 * 0.5**16)  # the run of the returned count
    with pytest.raises(RuntimeError, match="settle"):
        cs_search.converged_iterations(run, lambda im: float(im[0]), start=10, max_iters=100)
    capped = cs_search.converged_iterations(run, lambda im: float(im[0]), start=10, max_iters=100, strict=False)
    assert capped.iters == 80 and not capped.settled


# --------------------------------------------------------------------------- SigPy


def test_sigpy_fft_and_zero_filled_match_ours():
    sp = sigpy()
    rng = np.random.default_rng(8)
    x = rng.random((16, 24))
    mask = gaussian((16, 24), 0.4, seed=1).mask.numpy()
    np.testing.assert_allclose(
        sp.fft(x.astype(complex), center=True, norm="ortho"), fft2c(x), atol=1e-13
    )
    y = samples(x, mask)
    np.testing.assert_allclose(cs_sigpy.sigpy_zero_filled(y, mask), zero_filled_image(y, mask), atol=1e-13)


@pytest.mark.parametrize(("shape", "wave"), [((32, 32), "db4"), ((33, 30), "db4"), ((64, 32), "haar")])
def test_sigpy_wavelet_term_matches_sigpy_linop(shape, wave):
    sp = sigpy()
    x = np.random.default_rng(9).random(shape) + 0.5j
    W = sp.linop.Wavelet(shape, wave_name=wave)
    assert cs_objectives.sigpy_wavelet_l1(x, wave) == pytest.approx(float(np.abs(W(x)).sum()), rel=1e-12)
    if wave == "haar":  # power-of-two sides: 'zero' mode Haar = periodized Haar at full depth
        assert cs_objectives.haar_l1(x, cs_objectives.sigpy_haar_levels(shape)) == pytest.approx(
            float(np.abs(W(x)).sum()), rel=1e-12
        )


def test_sigpy_db4_is_an_isometry_but_not_unitary():
    sp = sigpy()
    rng = np.random.default_rng(10)
    for wave, unitary in (("haar", True), ("db4", False)):
        W = sp.linop.Wavelet((32, 32), wave_name=wave)
        x = rng.standard_normal((32, 32))
        c = rng.standard_normal(W.oshape)
        np.testing.assert_allclose(W.H(W(x)), x, atol=1e-10)  # W^H W = I
        gap = np.linalg.norm(W(W.H(c)) - c) / np.linalg.norm(c)
        assert (gap < 1e-10) if unitary else (gap > 0.1)  # db4: W^H soft(W v) is not the exact prox


def test_sigpy_l1wavelet_fully_sampled_is_the_haar_prox():
    sigpy()
    x = np.random.default_rng(11).random((32, 32))
    image, seconds = cs_sigpy.sigpy_l1wavelet(
        fft2c(x), np.ones((32, 32), bool), lam=0.05, iters=20, wave_name="haar", dtype=np.complex128
    )
    # 1/2 ||x - x0||^2 + lam ||W x||_1 at full depth, approximation band included
    np.testing.assert_allclose(image, pywt_haar_prox(x.astype(complex), 0.05, 5), atol=1e-10)
    assert seconds > 0


def test_sigpy_l1wavelet_minimises_the_haar_objective():
    sigpy()
    x = shepp_logan(32).numpy()
    mask = gaussian((32, 32), 0.35, seed=0).mask.numpy()
    y = samples(x, mask)
    lam = 2e-3
    ref = fista_haar(y, mask, lam, 5, 1500)
    image, _ = cs_sigpy.sigpy_l1wavelet(y, mask, lam=lam, iters=1000, wave_name="haar", dtype=np.complex128)
    f_ref = cs_objectives.objective(ref, y, mask, lam, "sigpy-haar")
    assert cs_objectives.objective(image, y, mask, lam, "sigpy-haar") == pytest.approx(f_ref, rel=1e-6)
    assert cs_objectives.objective(image, y, mask, lam, "bart-haar") > f_ref * (1 + 1e-3)  # the depth matters


def test_sigpy_tv_is_anisotropic_with_periodic_differences():
    sigpy()
    b = blocks(24)
    lam = 0.1
    image, _ = cs_sigpy.sigpy_tv(
        fft2c(b), np.ones(b.shape, bool), lam=lam, iters=1000, dtype=np.complex128
    )
    aniso, iso = rof(b, lam, isotropic=False), rof(b, lam, isotropic=True)
    assert np.abs(image - aniso).max() < 1e-3
    assert np.abs(image - iso).max() > 0.05


# --------------------------------------------------------------------------- BART (skipped without bart)


def test_bart_command_flags():
    cmd = cs_bart.bart_pics_command(lam=0.01, iters=7, wavelet="haar", shifts=False)
    assert cmd[cmd.index("-i") + 1] == "7" and "-n" in cmd and cmd[cmd.index("--wavelet") + 1] == "haar"
    assert cmd[cmd.index("-w") + 1] == "1" and "-S" not in cmd
    cmd = cs_bart.bart_pics_command(lam=0.01, iters=7, regulariser="tv", scale=True)
    assert "-R" in cmd and cmd[cmd.index("-R") + 1] == "T:3:0:0.01" and "-S" in cmd and "-w" not in cmd
    with pytest.raises(ValueError, match="even sides"):
        cs_bart.bart_pics_run(np.ones((5, 6)), np.ones((5, 6), bool), lam=0.0, iters=1)
    with pytest.raises(ValueError, match="regulariser"):
        cs_bart.bart_pics_command(lam=0.01, iters=7, regulariser="l2")


@needs_bart
@pytest.mark.parametrize("shape", [(32, 48), (31, 33)])
def test_bart_unitary_fft_is_our_centred_fft(shape):
    x = np.random.default_rng(12).random(shape)
    k = cs_bart.bart_centred_fft(x)
    ref = fft2c(x)
    assert np.abs(k - ref).max() / np.abs(ref).max() < 1e-6


@needs_bart
@pytest.mark.parametrize("scale", [False, True])
def test_bart_pics_fully_sampled_returns_the_image(scale):
    x = np.random.default_rng(13).random((32, 48))  # no symmetry: a flip or transpose would show
    mask = np.ones(x.shape, bool)
    r = cs_bart.bart_pics_run(samples(x, mask), mask, lam=0.0, iters=30, scale=scale, threads=1)
    assert np.abs(r.image - x).max() < 1e-5
    assert (r.scaling is not None and r.scaling > 0) if scale else r.scaling is None
    assert r.seconds > 0 and r.bart_seconds is not None


@needs_bart
def test_bart_haar_without_shifts_is_orthonormal_haar_and_ends_with_a_gradient_step():
    x = np.random.default_rng(14).random((64, 32))
    mask = np.ones(x.shape, bool)
    lam, s = 0.05, cs_bart.BART_FISTA_STEP
    y = samples(x, mask)
    image, _ = cs_bart.bart_pics(y, mask, lam=lam, iters=100, wavelet="haar", shifts=False, threads=1)
    prox = cs_objectives.haar_prox(x, lam, cs_objectives.bart_haar_levels(x.shape))  # levels (3, 2)
    # the written image is the gradient step z = v - s (v - x) from the minimiser v
    np.testing.assert_allclose(image, (1 - s) * prox + s * x, atol=1e-5)
    np.testing.assert_allclose(cs_bart.bart_undo_gradient_step(image, y, mask), prox, atol=1e-4)


@needs_bart
def test_bart_haar_undersampled_minimises_the_objective():
    x = shepp_logan(32).numpy()
    mask = gaussian((32, 32), 0.35, seed=0).mask.numpy()
    y = samples(x, mask)
    lam, s = 2e-3, cs_bart.BART_FISTA_STEP
    ref = fista_haar(y, mask, lam, 2, 1500)
    image, _ = cs_bart.bart_pics(y, mask, lam=lam, iters=500, wavelet="haar", shifts=False, threads=1)
    v = cs_bart.bart_undo_gradient_step(image, y, mask)
    f_ref = cs_objectives.objective(ref, y, mask, lam, "bart-haar")
    assert cs_objectives.objective(v, y, mask, lam, "bart-haar") == pytest.approx(f_ref, rel=1e-4)
    np.testing.assert_allclose(cs_objectives.haar_prox(image, s * lam, (2, 2)), v, atol=1e-4)  # a FISTA fixed point
    assert cs_objectives.objective(image, y, mask, lam, "bart-haar") > f_ref * (1 + 1e-3)  # the raw output is not


@needs_bart
def test_bart_scaling_makes_lambda_relative():
    x = shepp_logan(32).numpy()
    mask = gaussian((32, 32), 0.35, seed=0).mask.numpy()
    y = samples(x, mask)
    opts = {"iters": 50, "wavelet": "haar", "shifts": False, "threads": 1}
    scaled = cs_bart.bart_pics_run(y, mask, lam=4e-3, scale=True, **opts)
    absolute = cs_bart.bart_pics_run(y, mask, lam=4e-3 * scaled.scaling, **opts)
    np.testing.assert_allclose(scaled.image, absolute.image, atol=1e-4)


@needs_bart
def test_bart_tv_is_isotropic_with_periodic_differences():
    b = blocks(24)
    lam = 0.1
    image, _ = cs_bart.bart_pics(
        fft2c(b), np.ones(b.shape, bool), lam=lam, iters=1000, regulariser="tv", threads=1
    )
    iso, aniso = rof(b, lam, isotropic=True), rof(b, lam, isotropic=False)
    assert np.abs(image - iso).max() < 2e-3
    assert np.abs(image - aniso).max() > 0.05
