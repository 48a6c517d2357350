"""Region bounds (stability.faithfulness, solvers.region): known answers, CVXPY on small instances,
certified bounds after an early stop, nesting in eta and in the prior, the verdicts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import firenets as fn
from firenets.solvers.region import Prior, linear_maximum, linear_minimum, modulus_minimum
from firenets.stability.faithfulness import (
    VERDICTS,
    data_radius,
    modulus_envelope,
    noise_level,
    prior_set,
    region_bounds,
    ring,
)
from firenets.stability.targeted import disc

N = 16


def _dense(op, n=N):
    E = torch.eye(n * n, dtype=torch.complex128).reshape(n * n, n, n)
    return torch.stack([op(e).reshape(-1) for e in E], 1).numpy()


@pytest.fixture(scope="module")
def small():
    x = fn.data.shepp_logan(N).to(torch.complex128)
    A = fn.operators.Fourier2D(fn.masks.gaussian((N, N), 0.4, seed=0).mask)
    g = torch.Generator().manual_seed(0)
    e = 0.01 * torch.randn(A.out_shape, generator=g, dtype=torch.complex128)
    y = A(x) + e
    eta = 1.2 * float(torch.linalg.vector_norm(e))
    W = fn.operators.Wavelet2D((N, N), wavelet="haar", levels=2)
    G = fn.operators.Gradient2D((N, N))
    c = torch.zeros(N, N, dtype=torch.complex128)
    c[5:9, 6:10] = 1 / 16
    return {"x": x, "A": A, "y": y, "eta": eta, "W": W, "G": G, "c": c,
            "tau": 1.1 * float(W(x).abs().sum()), "kappa": 1.2 * float(torch.linalg.vector_norm(G(x), dim=-3).sum())}


def _cvxpy(s, sign, *, wavelet=None, tau=None, tv=False, box=None, imag=0.0, eta=None):
    """sign * min sign <c, Re z> over the same set, by CVXPY (Clarabel), from dense matrices."""
    cp = pytest.importorskip("cvxpy")
    n2 = N * N
    z = cp.Variable(n2, complex=True)
    eta = s["eta"] if eta is None else eta
    cons = [cp.norm(_dense(s["A"]) @ z - s["y"].numpy().reshape(-1)) <= eta]
    if wavelet is not None:
        cons.append(cp.sum(cp.abs(_dense(wavelet) @ z)) <= tau)
    if tv:
        gz = cp.reshape(_dense(s["G"]) @ z, (2, n2), order="C")
        cons.append(cp.sum(cp.norm(cp.vstack([cp.real(gz), cp.imag(gz)]), axis=0)) <= s["kappa"])
    if box is not None:
        cons += [cp.real(z) >= box[0], cp.real(z) <= box[1], cp.abs(cp.imag(z)) <= imag]
    objective = s["c"].numpy().reshape(-1).real @ cp.real(z)
    prob = cp.Problem(cp.Minimize(sign * objective), cons)
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    assert prob.status in ("optimal", "optimal_inaccurate")
    return sign * prob.value


CASES = {
    "wavelet": lambda s: ({"wavelet": s["W"], "tau": s["tau"]}, {"wavelet": s["W"], "tau": s["tau"]}),
    "box": lambda s: ({"box": (0.0, 1.0)}, {"box": (0.0, 1.0)}),
    "wavelet+box": lambda s: ({"wavelet": s["W"], "tau": s["tau"], "box": (0.0, 1.0), "imag": 0.05},
                              {"wavelet": s["W"], "tau": s["tau"], "box": (0.0, 1.0), "imag": 0.05}),
    "wavelet+tv": lambda s: ({"wavelet": s["W"], "tau": s["tau"], "gradient": s["G"], "kappa": s["kappa"]},
                             {"wavelet": s["W"], "tau": s["tau"], "tv": True}),
    "tv": lambda s: ({"gradient": s["G"], "kappa": s["kappa"]}, {"tv": True}),
    "tv+box": lambda s: ({"gradient": s["G"], "kappa": s["kappa"], "box": (0.0, 1.0)}, {"tv": True, "box": (0.0, 1.0)}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bounds_agree_with_cvxpy(small, name):
    """Both ends of the interval, converged, equal CVXPY's optimum to 1e-6, and the dual bounds lie
    on the valid side of it."""
    ours, theirs = CASES[name](small)
    prior = Prior(**ours)
    kw = {"z0": small["x"], "tol": 1e-8, "iterations": 60_000}
    low = linear_minimum(small["c"], small["A"], small["y"], small["eta"], prior, **kw)
    high = linear_maximum(small["c"], small["A"], small["y"], small["eta"], prior, **kw)
    lo_ref, hi_ref = _cvxpy(small, 1, **theirs), _cvxpy(small, -1, **theirs)
    assert low.converged and high.converged
    assert low.bound == pytest.approx(lo_ref, abs=1e-6)
    assert high.bound == pytest.approx(hi_ref, abs=1e-6)
    assert low.bound <= lo_ref + 1e-9 and high.bound >= hi_ref - 1e-9


def test_undecimated_frame_bound_agrees_with_cvxpy(small):
    """A tight frame that is not a basis (undecimated Haar, W^* W = I): the residual absorbed into
    its dual keeps the bound valid and tight."""
    W = fn.operators.UndecimatedWavelet2D((N, N), wavelet="haar", levels=2)
    tau = 1.1 * float(W(small["x"]).abs().sum())
    prior = Prior(wavelet=W, tau=tau)
    low = linear_minimum(small["c"], small["A"], small["y"], small["eta"], prior, z0=small["x"], tol=1e-8,
                         iterations=60_000)
    ref = _cvxpy(small, 1, wavelet=W, tau=tau)
    assert low.converged
    assert low.bound == pytest.approx(ref, abs=1e-6)
    assert low.bound <= ref + 1e-9


def test_multicoil_bounds_agree_with_cvxpy(small):
    """The SENSE operator (4 birdcage coils, the small problem's mask): both ends of the wavelet+box
    interval equal CVXPY's to 1e-6 (the data's radius over all coils' samples), the modulus's lower end
    too, and the noise estimate reads the coils' samples."""
    from firenets.coils import birdcage

    A = fn.operators.MultiCoilFourier(birdcage(4, (N, N)), small["A"].mask)
    x = small["x"]
    e = 0.01 * torch.randn(A.out_shape, generator=torch.Generator().manual_seed(2), dtype=torch.complex128)
    y = A(x) + e
    eta = 1.2 * float(torch.linalg.vector_norm(e))
    s = {**small, "A": A, "y": y, "eta": eta}
    prior = Prior(wavelet=small["W"], tau=small["tau"], box=(0.0, 1.0), imag=0.05)
    kw = {"z0": x, "tol": 1e-8, "iterations": 60_000}
    low = linear_minimum(small["c"], A, y, eta, prior, **kw)
    high = linear_maximum(small["c"], A, y, eta, prior, **kw)
    box = {"wavelet": small["W"], "tau": small["tau"], "box": (0.0, 1.0), "imag": 0.05}
    assert low.converged and high.converged
    assert low.bound == pytest.approx(_cvxpy(s, 1, **box), abs=1e-6)
    assert high.bound == pytest.approx(_cvxpy(s, -1, **box), abs=1e-6)
    mod = modulus_minimum(small["c"].real, A, y, eta, prior, **kw)
    assert mod.bound == pytest.approx(_cvxpy_modulus(A, y, eta, small["c"].real, **box), abs=1e-6)
    assert noise_level(e, A) == pytest.approx(0.01, rel=0.5)


def _cvxpy_modulus(A, y, eta, w, *, wavelet, tau, box=None, imag=0.0):
    """min sum w |z| over the same set, by CVXPY (Clarabel)."""
    cp = pytest.importorskip("cvxpy")
    z = cp.Variable(N * N, complex=True)
    cons = [cp.norm(_dense(A) @ z - y.numpy().reshape(-1)) <= eta, cp.sum(cp.abs(_dense(wavelet) @ z)) <= tau]
    if box is not None:
        cons += [cp.real(z) >= box[0], cp.real(z) <= box[1], cp.abs(cp.imag(z)) <= imag]
    prob = cp.Problem(cp.Minimize(w.numpy().reshape(-1) @ cp.abs(z)), cons)
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    assert prob.status in ("optimal", "optimal_inaccurate")
    return prob.value


@pytest.fixture(scope="module")
def phased(small):
    """The small problem's image with a smooth phase (a complex MRI-like image), its noisy samples."""
    x = small["x"] * fn.data.smooth_phase((N, N), seed=0)
    A = small["A"]
    e = 0.01 * torch.randn(A.out_shape, generator=torch.Generator().manual_seed(0), dtype=torch.complex128)
    W = small["W"]
    return {"x": x, "A": A, "y": A(x) + e, "eta": 1.2 * float(torch.linalg.vector_norm(e)), "W": W,
            "tau": 1.1 * float(W(x).abs().sum()), "w": small["c"].real.clone()}


@pytest.mark.parametrize("case", ["real", "phased", "phased+box"])
def test_modulus_minimum_agrees_with_cvxpy(small, phased, case):
    """The mean modulus's lower end min sum w |z| (convex) equals CVXPY's to 1e-6, its dual bound on the
    valid side; on the phased image it lies below the truth's own mean modulus (the truth is in F)."""
    s = {**small, "w": small["c"].real.clone()} if case == "real" else phased
    box = {"box": (-1.0, 1.0), "imag": 1.0} if case.endswith("box") else {}
    low = modulus_minimum(s["w"], s["A"], s["y"], s["eta"], Prior(wavelet=s["W"], tau=s["tau"], **box),
                          z0=s["x"], tol=1e-8, iterations=60_000)
    ref = _cvxpy_modulus(s["A"], s["y"], s["eta"], s["w"], wavelet=s["W"], tau=s["tau"], **box)
    assert low.converged
    assert low.bound == pytest.approx(ref, abs=1e-6)
    assert low.bound <= ref + 1e-9
    assert low.bound <= float((s["w"] * s["x"].abs()).sum())


def test_modulus_minimum_stopped_early_still_certifies(phased):
    s = phased
    prior = Prior(wavelet=s["W"], tau=s["tau"])
    ref = _cvxpy_modulus(s["A"], s["y"], s["eta"], s["w"], wavelet=s["W"], tau=s["tau"])
    for steps in (1, 10, 100):
        low = modulus_minimum(s["w"], s["A"], s["y"], s["eta"], prior, iterations=steps, check=1)
        assert not low.converged and math.isfinite(low.bound) and low.bound <= ref + 1e-12


def test_modulus_envelope_bounds_the_modulus_on_the_box():
    """|z| <= a + b Re z at random points of the box, with equality at its corners; |z| = Re z exactly
    where lo = 0 and imag = 0; a flat box gives the corners' modulus."""
    g = torch.Generator().manual_seed(4)
    for lo, hi, imag in [(-0.3, 1.2, 0.4), (0.0, 1.0, 0.2), (-2.0, 0.5, 0.1), (0.2, 0.9, 0.0)]:
        a, b = modulus_envelope((lo, hi), imag)
        re = lo + (hi - lo) * torch.rand(10_000, generator=g, dtype=torch.float64)
        im = imag * (2 * torch.rand(10_000, generator=g, dtype=torch.float64) - 1)
        assert bool((torch.hypot(re, im) <= a + b * re + 1e-12).all())
        for r in (lo, hi):
            assert a + b * r == pytest.approx(math.hypot(r, imag), abs=1e-12)
    assert modulus_envelope((0.0, 1.0), 0.0) == (0.0, 1.0)
    assert modulus_envelope((0.5, 0.5), 0.2) == (pytest.approx(math.hypot(0.5, 0.2)), 0.0)


def test_modulus_interval_holds_the_truth_and_equals_the_real_one_for_a_nonnegative_real_image(small, phased):
    """quantity="modulus": on the phased image (the prior sized from the truth, eta above the noise) the
    truth lies in F, so its mean modulus lies inside the interval; on a real nonnegative image with a
    box from 0 and no imaginary part, |z| = Re z on the box and the two intervals agree."""
    s = phased
    R = disc((N, N), (7, 8), 2)
    rb = region_bounds(s["y"], s["A"], s["x"], R, eta=s["eta"], prior="wavelet+box", quantity="modulus", tol=1e-5,
                       iterations=20_000)
    assert rb.quantity == "modulus" and rb.measure == "|z|" and rb.summary()["quantity"] == "modulus"
    truth = float(s["x"].abs()[R].mean())
    assert rb.value == pytest.approx(truth) and rb.interval[0] <= truth <= rb.interval[1]
    assert rb.upper.value <= rb.interval[1]  # the extremal image's own modulus mean, below the bound
    x, A, y = small["x"], small["A"], small["y"]
    kw = {"eta": small["eta"], "prior": "wavelet+box", "tol": 1e-6, "iterations": 40_000}
    mod = region_bounds(y, A, x, R, quantity="modulus", **kw)
    real = region_bounds(y, A, x, R, quantity="real", **kw)
    assert mod.interval == pytest.approx(real.interval, abs=1e-5)
    with pytest.raises(ValueError, match="box"):
        region_bounds(y, A, x, R, eta=0.1, prior="wavelet", quantity="modulus")
    with pytest.raises(ValueError, match="quantity"):
        region_bounds(y, A, x, R, eta=0.1, quantity="phase")
    with pytest.raises(ValueError, match="nonnegative"):
        modulus_minimum(-small["c"].real, A, y, 0.1, Prior(box=(0.0, 1.0)))


@pytest.mark.parametrize("steps", [1, 10, 100])
def test_a_tv_ball_alone_stopped_early_still_certifies(small, steps):
    """A TV ball alone bounds F only through the data's mean (the constant image is in the kernel of
    D): the certificate absorbs the dual residual into range(D^*) and the sampled constant, so the
    interval after a few iterations still contains CVXPY's."""
    prior = Prior(gradient=small["G"], kappa=small["kappa"])
    low = linear_minimum(small["c"], small["A"], small["y"], small["eta"], prior, iterations=steps, check=1)
    high = linear_maximum(small["c"], small["A"], small["y"], small["eta"], prior, iterations=steps, check=1)
    assert math.isfinite(low.bound) and math.isfinite(high.bound)
    assert low.bound <= _cvxpy(small, 1, tv=True) + 1e-12 and high.bound >= _cvxpy(small, -1, tv=True) - 1e-12


@pytest.mark.parametrize("steps", [1, 10, 100])
def test_early_stop_still_certifies(small, steps):
    """Stopped after a few iterations, the interval still contains CVXPY's: the dual bound holds at
    every iterate."""
    prior = Prior(wavelet=small["W"], tau=small["tau"], box=(0.0, 1.0))
    low = linear_minimum(small["c"], small["A"], small["y"], small["eta"], prior, iterations=steps, check=1)
    high = linear_maximum(small["c"], small["A"], small["y"], small["eta"], prior, iterations=steps, check=1)
    lo_ref = _cvxpy(small, 1, wavelet=small["W"], tau=small["tau"], box=(0.0, 1.0))
    hi_ref = _cvxpy(small, -1, wavelet=small["W"], tau=small["tau"], box=(0.0, 1.0))
    assert not low.converged
    assert math.isfinite(low.bound) and math.isfinite(high.bound)
    assert low.bound <= lo_ref + 1e-12 and high.bound >= hi_ref - 1e-12


def test_interval_nests_as_eta_falls_and_the_prior_tightens(small):
    """Smaller eta, or a smaller tau, or a box added: the certified interval (solved tightly) only shrinks."""
    def interval(eta, prior):
        kw = {"z0": small["x"], "tol": 1e-8, "iterations": 60_000}
        lo = linear_minimum(small["c"], small["A"], small["y"], eta, prior, **kw)
        hi = linear_maximum(small["c"], small["A"], small["y"], eta, prior, **kw)
        assert lo.converged and hi.converged
        return lo.bound, hi.bound

    W, tau = small["W"], small["tau"]
    chain = [interval(e, Prior(wavelet=W, tau=tau)) for e in (4 * small["eta"], 2 * small["eta"], small["eta"])]
    chain += [interval(small["eta"], Prior(wavelet=W, tau=0.95 * tau)),
              interval(small["eta"], Prior(wavelet=W, tau=0.95 * tau, box=(0.0, 1.0)))]
    for (a_lo, a_hi), (b_lo, b_hi) in zip(chain, chain[1:], strict=False):
        assert b_lo >= a_lo - 1e-7 and b_hi <= a_hi + 1e-7
    assert chain[-1][1] - chain[-1][0] < chain[0][1] - chain[0][0]


def test_kernel_detail_is_not_determined():
    """A detail entirely in the kernel of A (d = P_ker disc), the box as the prior: x and x + d fit the
    data alike, so the interval holds both region means (at least the detail's contrast wide) and
    the verdict is "not determined by the data"."""
    n = 32
    A = fn.operators.Fourier2D(fn.masks.gaussian((n, n), 0.3, seed=1).mask)
    x = 0.5 * torch.ones(n, n, dtype=torch.complex128)
    x[4:12, 4:12] = 0.8
    R = disc((n, n), (20, 20), 3)
    blob = R.to(torch.complex128)
    d = 0.3 * (blob - A.adjoint(A(blob)))  # A d = 0
    recon = x + d
    y = A(x)
    w = R.double() / R.sum()
    contrast = float((w * d.real).sum())
    background = float((w * x.real).sum())
    prior = Prior(box=(float(recon.real.min()) - 0.01, float(recon.real.max()) + 0.01),
                  imag=float(recon.imag.abs().max()) + 0.01)
    rb = region_bounds(y, A, recon, R, prior=prior, eta=1e-9, background=background, tol=1e-4, iterations=20_000)
    lo, hi = rb.interval
    assert lo <= background <= hi and lo <= background + contrast <= hi
    assert hi - lo >= abs(contrast) - 1e-9
    assert rb.verdict == "not determined by the data"


def test_low_frequency_detail_with_small_eta_is_supported():
    """A broad bright bump on a flat background of 0.2, its low frequencies all sampled, small noise and
    the box: every image the data allow keeps the region's mean well above 0.2, so "supported by the
    data"."""
    n = 32
    ii, jj = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64),
                            indexing="ij")
    x = (0.2 + 0.6 * torch.exp(-((ii - 16) ** 2 + (jj - 16) ** 2) / (2 * 4.0**2))).to(torch.complex128)
    k = torch.sqrt((ii - n // 2) ** 2 + (jj - n // 2) ** 2)
    mask = (k <= 6) | fn.masks.gaussian((n, n), 0.2, seed=2).mask
    A = fn.operators.Fourier2D(mask)
    e = 1e-3 * torch.randn(A.out_shape, generator=torch.Generator().manual_seed(3), dtype=torch.complex128)
    R = disc((n, n), (16, 16), 4)
    rb = region_bounds(A(x) + e, A, x, R, prior="box", noise=1e-3, background=0.2, tol=1e-4, iterations=20_000)
    assert rb.interval[0] <= rb.value <= rb.interval[1]
    assert rb.verdict == "supported by the data"
    assert rb.distance > 0.2


def test_no_prior_meeting_the_kernel_is_unbounded_and_full_sampling_is_closed_form():
    """The data alone: unbounded as soon as the region meets the kernel of A (reported as infinite,
    never a number); with every sample taken, [Re <A w, y> -/+ eta ||A w||]."""
    n = 16
    x = fn.data.shepp_logan(n).to(torch.complex128)
    R = disc((n, n), (8, 8), 2)
    A = fn.operators.Fourier2D(fn.masks.gaussian((n, n), 0.3, seed=0).mask)
    rb = region_bounds(A(x), A, x, R, prior="none", eta=0.01)
    assert rb.interval == (-math.inf, math.inf) and rb.unbounded
    assert rb.verdict == "not determined by the data"
    assert rb.summary()["unbounded"] is True
    full = fn.operators.Fourier2D(torch.ones(n, n, dtype=torch.bool))
    y = full(x)
    rb = region_bounds(y, full, x, R, prior="none", eta=0.05)
    w = R.to(torch.complex128) / R.sum()
    v = full(w)
    centre = float((v.conj() * y).sum().real)
    half = 0.05 * float(torch.linalg.vector_norm(v))
    assert rb.interval[0] == pytest.approx(centre - half, abs=1e-12)
    assert rb.interval[1] == pytest.approx(centre + half, abs=1e-12)


def test_contradicted_when_the_reconstruction_does_not_fit():
    """A reconstruction that invented a bright disc the (fully sampled, noiseless) data rule out: its
    own region mean lies outside the interval."""
    n = 16
    x = fn.data.shepp_logan(n).to(torch.complex128)
    A = fn.operators.Fourier2D(torch.ones(n, n, dtype=torch.bool))
    R = disc((n, n), (10, 8), 2)
    recon = x + 0.5 * R.to(torch.complex128)
    rb = region_bounds(A(x), A, recon, R, prior="box", reference=x, eta=1e-6, tol=1e-5, iterations=20_000)
    assert rb.verdict == "contradicted by the data"
    assert rb.interval[1] < rb.value


def test_noise_level_and_data_radius():
    """The MAD estimate from the outermost samples recovers the noise of pure-noise samples, and
    ||e|| <= eta for such samples. From the 2k parts of k = 491 samples the MAD's relative standard
    deviation is about 1.166 / sqrt(2k) = 3.7%: four of them, 15%."""
    n = 128
    A = fn.operators.Fourier2D(fn.masks.gaussian((n, n), 0.3, seed=0).mask)
    s = 0.02
    g = torch.Generator().manual_seed(5)
    e = s * torch.randn(A.out_shape, generator=g, dtype=torch.complex128)  # E|e_j|^2 = s^2
    assert noise_level(e, A) == pytest.approx(s, rel=0.15)
    assert float(torch.linalg.vector_norm(e)) <= data_radius(s, e.numel())


def test_prior_set_sizes_from_the_reference():
    x = fn.data.shepp_logan(N).to(torch.complex128)
    C = prior_set("wavelet+tv+box", x, slack=0.1)
    W = fn.operators.Wavelet2D((N, N), wavelet="haar", levels=4)
    assert C.tau == pytest.approx(1.1 * float(W(x).abs().sum()))
    assert C.box == (0.0, pytest.approx(1.1 * float(x.real.max())))
    assert C.imag == 0.0
    assert C.kappa == pytest.approx(1.1 * float(torch.linalg.vector_norm(fn.operators.Gradient2D((N, N))(x),
                                                                         dim=-3).sum()))


def test_ring_surrounds_the_region():
    R = disc((20, 20), (10, 10), 3)
    around = ring(R, 2)
    assert not bool((around & R).any())
    grown = torch.nn.functional.max_pool2d(R[None, None].double(), 5, stride=1, padding=2)[0, 0] > 0
    assert bool((around == (grown & ~R)).all())


def test_bad_input_names_the_argument(small):
    x, A, y = small["x"], small["A"], small["y"]
    R = disc((N, N), (8, 8), 2)
    with pytest.raises(ValueError, match="prior"):
        region_bounds(y, A, x, R, prior="wavelet+sparkle", eta=0.1)
    nodc = fn.operators.Fourier2D(fn.masks.gaussian((N, N), 0.4, seed=0).mask & ~fn.masks.gaussian((N, N), 0.01,
                                                                                                  seed=0).mask)
    with pytest.raises(ValueError, match="mean"):  # a TV ball alone and a mask without the centre of k-space
        region_bounds(nodc(x), nodc, x, R, prior="tv", eta=0.1)
    with pytest.raises(ValueError, match="eta"):
        region_bounds(y, A, x, R, eta=-1.0)
    with pytest.raises(TypeError, match="region"):
        region_bounds(y, A, x, R.double(), eta=0.1)
    with pytest.raises(ValueError, match="region"):
        region_bounds(y, A, x, torch.zeros(N, N, dtype=torch.bool), eta=0.1)
    with pytest.raises(ValueError, match="recon"):
        region_bounds(y, A, x[:8], R, eta=0.1)
    with pytest.raises(ValueError, match="recon"):
        region_bounds(y, A, torch.full((N, N), float("nan"), dtype=torch.complex128), R, eta=0.1)
    with pytest.raises(ValueError, match="box"):
        Prior(box=(1.0, 0.0))
    with pytest.raises(ValueError, match="tight frame"):  # details only: W^* W != I, no valid certificate
        Prior(wavelet=fn.operators.UndecimatedWavelet2D((N, N), levels=2, approximation=False), tau=1.0)
    with pytest.raises(ValueError, match="c must"):
        linear_minimum(small["c"][:4], A, y, 0.1, Prior(box=(0.0, 1.0)))
    with pytest.raises(ValueError, match="radius|region"):
        disc((N, N), (100, 100), 2)
    assert set(VERDICTS) == {"supported by the data", "not determined by the data", "contradicted by the data"}
    assert np.isfinite(small["eta"])


def test_region_bounds_of_targeted_attacks_on_the_page_and_the_rows(tmp_path):
    """``experiments.stages.region_checks`` on the targeted attacks of two maps at 32 x 32, fully sampled,
    noiseless (eta 0): zero-filling returns the data-consistent image A^* y (its output lies in F, so
    never "contradicted"); a map that adds 0.5 on every disc the attack screens invents contrast the
    samples cannot hold ("contradicted"). The background is the unattacked output's mean on the
    disc; the section's table and the dataset row report the same bounds."""
    from types import SimpleNamespace

    from firenets.experiments import stages
    from firenets.nets.adapter import zero_filled
    from firenets.report.sections import faithfulness_section
    from firenets.stability.targeted import hallucination_attack, lesion_regions

    n = 32
    x = fn.data.ellipses(n, seed=1).to(torch.complex128)
    A = fn.operators.Fourier2D(torch.ones(n, n, dtype=torch.bool))
    regions = lesion_regions((n, n))
    extra = 0.5 * sum(R.to(torch.complex128) for R in regions)

    def inventor(y):
        return A.adjoint(y) + extra

    xn = float(torch.linalg.vector_norm(x))
    atts = {label: hallucination_attack(f, A, x, regions, [0.01 * xn], steps=4, patience=2)
            for label, f in (("zero-filled", zero_filled(A)), ("inventor", inventor))}
    checks = stages.region_checks(atts, A, x)
    zf, inv = checks["zero-filled"], checks["inventor"]
    assert zf.eta == 0 and inv.eta == 0
    assert zf.verdict != "contradicted by the data"
    assert zf.interval[0] <= zf.value <= zf.interval[1]
    assert inv.verdict == "contradicted by the data" and inv.value > inv.interval[1] + 0.4
    for label, b in checks.items():
        R = atts[label].best.region
        assert b.background == pytest.approx(float(atts[label].recon.real[R].mean()), abs=1e-12)
        assert bool((b.region == R).all())
    section = faithfulness_section(SimpleNamespace(faithfulness=checks, hallucination_attack=atts), tmp_path, title="t")
    for row, (label, b) in zip(section.tables[0].rows, checks.items(), strict=True):
        assert row[0] == label and row[2:7] == [b.value, b.background, *b.interval, b.verdict]
        assert (tmp_path / f"faithfulness-{label}.png").is_file()
    bat = stages.BatteryResult({"attacked_image": "x", "maps": list(atts), "stages": ["hallucination-attack"]},
                               hallucination_attack=atts, faithfulness=checks, seconds={"hallucination-attack": 1.0})
    row = stages.image_row(bat)["maps"]
    assert row["inventor"]["faithfulness"] == "contradicted by the data"
    assert bat.summary()["faithfulness"]["inventor"]["verdict"] == "contradicted by the data"
    from firenets.experiments.verdicts import over_images

    assert over_images([{"image": "x", "maps": row}], "inventor").contradicted == (1, 1)
