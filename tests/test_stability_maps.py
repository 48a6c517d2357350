"""Stability of reconstruction maps: hallucination maps and the troublesome-kernel bound, small
structural changes, the more-samples test and generalisation tables.

References are independent of the code under test: projections and low-pass images by NumPy's
FFT, metrics by ``firenets.metrics`` on images built by hand, bounds in closed form.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from firenets import masks, metrics
from firenets.data import ellipses, ellipses_with_details, insert_detail, shepp_logan
from firenets.operators import Fourier2D
from firenets.reconstruction import MRIFirenet, acquire
from firenets.reconstruction import zero_filled as ZeroFilled
from firenets.stability.generalisation import generalisation
from firenets.stability.hallucination import (
    accuracy_stability_bound,
    check_orthonormal_rows,
    hallucination_maps,
    kernel_pair,
    measurement_component,
    near_kernel_pair,
    null_component,
)
from firenets.stability.sampling import more_samples
from firenets.stability.structural import structural_change

N = 32


# ------------------------------------------------------------------ independent references (NumPy)
def np_kspace(x: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x), norm="ortho"))


def np_image(k: np.ndarray) -> np.ndarray:
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k), norm="ortho"))


def np_meas(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A^* A x for A = P_M F_c: keep the masked k-space, zero the rest, invert."""
    return np_image(np.where(mask, np_kspace(x), 0))


def lowpass_window(n: int, cut: int) -> np.ndarray:
    k = np.abs(np.arange(n) - n // 2)
    return (k[:, None] <= cut) & (k[None, :] <= cut)


def lowpass_map(cut: int):
    """f(y) = F^*(w y) on a full mask: erase every frequency with |k|_inf > cut."""
    F = Fourier2D(torch.ones(N, N, dtype=torch.bool))
    w = torch.from_numpy(lowpass_window(N, cut).reshape(-1)).to(torch.complex128)
    return F, lambda y: F.adjoint(y * w)


@pytest.fixture
def image() -> torch.Tensor:
    return ellipses(N, seed=5)


@pytest.fixture
def gauss() -> Fourier2D:
    return Fourier2D(masks.make("gaussian", (N, N), 0.3, seed=1).mask)


def _complex_image(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, N, generator=g, dtype=torch.complex128)


# ------------------------------------------------------------------ hallucination maps
def test_projections_split_the_identity_and_match_numpy(gauss):
    x = _complex_image(0)
    meas, null = measurement_component(gauss, x), null_component(gauss, x)
    ref = np_meas(x.numpy(), gauss.mask.numpy())
    assert np.allclose(meas.numpy(), ref, atol=1e-12)
    assert torch.allclose(meas + null, x, atol=1e-12)  # P_meas + P_null = I
    assert torch.allclose(measurement_component(gauss, meas), meas, atol=1e-12)  # idempotent
    assert torch.allclose(null_component(gauss, null), null, atol=1e-12)
    assert abs(torch.vdot(meas.reshape(-1), null.reshape(-1))) < 1e-10  # orthogonal
    assert null.abs().max() > 0.1  # a 30% mask has a real null space


def test_maps_vanish_for_a_perfect_reconstruction(image, gauss):
    perfect = hallucination_maps(lambda y: image.to(torch.complex128), gauss, image)
    for m in (perfect.error, perfect.measurement, perfect.null):
        assert m.max() < 1e-12
    full = Fourier2D(torch.ones(N, N, dtype=torch.bool))
    inverse = hallucination_maps(ZeroFilled(full), full, image)  # exact inverse: no null space
    assert inverse.error_norm < 1e-12 and inverse.null_norm < 1e-12
    assert inverse.summary()["relative_error"] < 1e-12


def test_zero_filled_maps_are_the_null_space_of_x(image, gauss):
    maps = hallucination_maps(ZeroFilled(gauss), gauss, image)
    x = image.numpy()
    x_null = x - np_meas(x, gauss.mask.numpy())
    assert maps.measurement.max() < 1e-12  # A^* A A^* y = A^* y
    assert np.allclose(maps.null.numpy(), np.abs(x_null), atol=1e-12)
    assert np.allclose(maps.error.numpy(), np.abs(x_null), atol=1e-12)
    assert maps.null_norm == pytest.approx(np.linalg.norm(x_null), rel=1e-12)
    assert maps.relative_null == pytest.approx(np.linalg.norm(x_null) / np.linalg.norm(x), rel=1e-12)
    assert maps.null_norm > 0.05 * np.linalg.norm(x)
    json.dumps(maps.summary())


def test_pythagoras_and_noisy_measurement_map(image, gauss):
    f = MRIFirenet(gauss, restarts=2, inner=10)
    maps = hallucination_maps(f, gauss, image)
    assert maps.error_norm**2 == pytest.approx(maps.measurement_norm**2 + maps.null_norm**2, rel=1e-10)
    assert maps.measurement_norm > 0 and maps.null_norm > 0
    # the truth reconstructed from noisy samples: measurement map |A^* (A x - y)| = |A^* e|
    g = torch.Generator().manual_seed(3)
    e = 0.01 * torch.randn(gauss.out_shape, generator=g, dtype=torch.complex128)
    y = gauss(image.to(torch.complex128)) + e
    truth = hallucination_maps(lambda _: image.to(torch.complex128), gauss, image, y=y)
    assert truth.measurement_norm == pytest.approx(torch.linalg.vector_norm(e).item(), rel=1e-12)
    assert torch.allclose(truth.measurement, gauss.adjoint(e).abs(), atol=1e-14)
    assert truth.error_norm == 0.0 and truth.null_norm == 0.0


def test_orthonormal_rows_are_checked_and_other_operators_split_by_the_pseudo_inverse(image, gauss):
    check_orthonormal_rows(gauss)
    with pytest.raises(ValueError, match="orthonormal rows"):
        check_orthonormal_rows(gauss * 1.01)
    # 2 A has the null space of A and (2 A)^+ (2 A) = A^* A: zero-filling's null map is -P_null x for both
    scaled = hallucination_maps(ZeroFilled(gauss), gauss * 2.0, image)
    plain = hallucination_maps(ZeroFilled(gauss), gauss, image)
    assert scaled.null_norm == pytest.approx(plain.null_norm, rel=1e-9)
    assert scaled.projection_residual <= 1e-10 and plain.projection_residual == 0.0


def test_hallucination_errors(image, gauss):
    f = ZeroFilled(gauss)
    with pytest.raises(TypeError, match="f must be callable"):
        hallucination_maps(3, gauss, image)
    with pytest.raises(TypeError, match="LinearOperator"):
        hallucination_maps(f, "A", image)
    with pytest.raises(ValueError, match=r"2-D.*\(2, 32, 32\)"):
        hallucination_maps(f, gauss, torch.zeros(2, N, N))
    with pytest.raises(ValueError, match=r"\(16, 16\).*\(32, 32\)"):
        hallucination_maps(f, gauss, torch.zeros(16, 16))
    bad = image.clone()
    bad[0, 0] = math.nan
    with pytest.raises(ValueError, match="finite"):
        hallucination_maps(f, gauss, bad)
    with pytest.raises(ValueError, match="y has shape"):
        hallucination_maps(f, gauss, image, y=torch.zeros(3, dtype=torch.complex128))
    with pytest.raises(ValueError, match="returned shape"):
        hallucination_maps(lambda y: torch.zeros(4, 4), gauss, image)


# ------------------------------------------------------------------ troublesome kernel
def test_accuracy_stability_bound_closed_form(image, gauss):
    m1 = gauss.adjoint(torch.eye(gauss.out_shape[0], dtype=torch.complex128)[5])  # unit, measured
    n1 = null_component(gauss, _complex_image(1))
    n1 = n1 / torch.linalg.vector_norm(n1)  # unit, unmeasured
    c1, c2 = 0.01, 1.0
    xp = image + c1 * m1 + c2 * n1
    dist = math.sqrt(c1**2 + c2**2)
    assert accuracy_stability_bound(gauss, image, xp) == pytest.approx(dist / c1, rel=1e-10)
    assert accuracy_stability_bound(gauss, image, xp, eta=0.1) == pytest.approx((dist - 0.2) / c1, rel=1e-10)
    assert accuracy_stability_bound(gauss, image, xp, eta=1.0) == 0.0  # vacuous
    assert accuracy_stability_bound(gauss, image, image) == 0.0
    assert accuracy_stability_bound(gauss, image, image + n1) == math.inf
    with pytest.raises(ValueError, match="eta must be >= 0"):
        accuracy_stability_bound(gauss, image, xp, eta=-1.0)


def test_kernel_pair_defeats_every_map(image, gauss):
    detail, _ = insert_detail(torch.zeros(N, N, dtype=torch.float64), centre=(12.0, 20.0), size=2.0)
    xp, bound = kernel_pair(gauss, image, detail)
    assert bound == math.inf
    assert torch.allclose(gauss(xp), gauss(image.to(torch.complex128)), atol=1e-12)  # A x' = A x
    gap = torch.linalg.vector_norm(xp - image).item()
    ref = np.linalg.norm(detail.numpy() - np_meas(detail.numpy(), gauss.mask.numpy()))
    assert gap == pytest.approx(ref, rel=1e-10)  # ||x - x'|| = ||P_null detail||
    maps = (ZeroFilled(gauss), MRIFirenet(gauss, restarts=2, inner=10), lambda y: image.to(torch.complex128))
    for f in maps:
        with torch.no_grad():
            a, b = f(gauss(image.to(torch.complex128))), f(gauss(xp))
        worst = max(torch.linalg.vector_norm(a - image).item(), torch.linalg.vector_norm(b - xp).item())
        assert worst >= gap / 2 - 1e-10
    full = Fourier2D(torch.ones(N, N, dtype=torch.bool))
    with pytest.raises(ValueError, match="null-space part"):
        kernel_pair(full, image, detail)  # no null space
    with pytest.raises(ValueError, match="null-space part"):
        kernel_pair(gauss, image, measurement_component(gauss, detail))


def test_near_kernel_pair_closed_form(image, gauss):
    d = _complex_image(2).real.contiguous()
    mask = gauss.mask.numpy()
    pm = np_meas(d.numpy(), mask)
    pn = d.numpy() - pm
    ad = np.linalg.norm(np_kspace(d.numpy())[mask])
    bounds = []
    for leak in (0.1, 0.01):
        xp, bound = near_kernel_pair(gauss, image, d, leak)
        dy = torch.linalg.vector_norm(gauss(xp) - gauss(image.to(torch.complex128))).item()
        assert dy == pytest.approx(leak * ad, rel=1e-10)
        expected = math.sqrt(np.linalg.norm(pn) ** 2 + leak**2 * np.linalg.norm(pm) ** 2) / (leak * ad)
        assert bound == pytest.approx(expected, rel=1e-10)
        bounds.append(bound)
    assert math.isfinite(bounds[1]) and bounds[1] > 9 * bounds[0]
    with pytest.raises(ValueError, match="leak must be > 0"):
        near_kernel_pair(gauss, image, d, 0.0)
    with pytest.raises(ValueError, match="measured part"):
        near_kernel_pair(gauss, image, null_component(gauss, d), 0.1)


# ------------------------------------------------------------------ structural changes
def test_exact_inverse_recovers_details_fully(image):
    full = Fourier2D(torch.ones(N, N, dtype=torch.bool))
    for intensity in (0.3, -0.2):
        xd, support = insert_detail(image, centre=(15.0, 14.0), size=1.5, intensity=intensity)
        res = structural_change(ZeroFilled(full), full, image, xd, support)
        assert res.contrast == pytest.approx(1.0, abs=1e-10)
        assert res.support_error < 1e-12
        assert res.recovered and res.zero_filled_recovered
        assert res.inserted_contrast == pytest.approx(intensity, rel=1e-12)
    x0 = ellipses(N, seed=7)
    xt, supports = ellipses_with_details(N, seed=7, tumours=1)
    res = structural_change(ZeroFilled(full), full, x0, xt, supports[0])
    assert res.contrast == pytest.approx(1.0, abs=1e-10) and res.recovered
    json.dumps(res.summary())


def test_low_pass_map_erases_a_small_detail(image):
    F, f = lowpass_map(cut=2)
    xd, support = insert_detail(image, centre=(15.0, 14.0), size=1.5, intensity=0.3)
    res = structural_change(f, F, image, xd, support)
    w = lowpass_window(N, 2)
    low = np.abs(np_image(np_kspace(xd.numpy()) * w)) - np.abs(np_image(np_kspace(image.numpy()) * w))
    s = support.numpy()
    assert res.contrast == pytest.approx(low[s].mean() / 0.3, rel=1e-10)
    assert res.contrast < 0.5 and not res.recovered
    assert res.zero_filled_contrast == pytest.approx(1.0, abs=1e-10)  # F is the full mask
    # a wide pass band keeps it: the verdict follows the map, not the detail
    F8, f8 = lowpass_map(cut=12)
    assert structural_change(f8, F8, image, xd, support).recovered


def test_zero_filled_baseline_matches_numpy(image, gauss):
    xd, support = insert_detail(image, centre=(10.0, 20.0), size=2.0, intensity=0.4)
    f = MRIFirenet(gauss, restarts=2, inner=10)
    res = structural_change(f, gauss, image, xd, support)
    mask, s = gauss.mask.numpy(), support.numpy()
    zd, z = np.abs(np_meas(xd.numpy(), mask)), np.abs(np_meas(image.numpy(), mask))
    assert res.zero_filled_contrast == pytest.approx((zd - z)[s].mean() / 0.4, rel=1e-10)
    err = np.linalg.norm((zd - xd.numpy())[s]) / np.linalg.norm(xd.numpy()[s])
    assert res.zero_filled_support_error == pytest.approx(err, rel=1e-10)
    with torch.no_grad():
        rd, r = f(gauss(xd.to(torch.complex128))).abs(), f(gauss(image.to(torch.complex128))).abs()
    assert res.contrast == pytest.approx(((rd - r)[support].mean() / 0.4).item(), rel=1e-10)


def test_structural_errors(image, gauss):
    f = ZeroFilled(gauss)
    xd, support = insert_detail(image, size=2.0)
    with pytest.raises(ValueError, match="boolean"):
        structural_change(f, gauss, image, xd, support.double())
    with pytest.raises(ValueError, match=r"\(16, 16\).*\(32, 32\)"):
        structural_change(f, gauss, image, xd, torch.ones(16, 16, dtype=torch.bool))
    with pytest.raises(ValueError, match="empty"):
        structural_change(f, gauss, image, xd, torch.zeros(N, N, dtype=torch.bool))
    with pytest.raises(ValueError, match="differ"):
        structural_change(f, gauss, image, image, support)
    with pytest.raises(TypeError, match="callable"):
        structural_change(None, gauss, image, xd, support)
    with pytest.raises(ValueError, match="x_detail has shape"):
        structural_change(f, gauss, image, xd[:16, :16], support)


# ------------------------------------------------------------------ more samples
RATES = (0.1, 0.15, 0.2, 0.25, 0.3)


@pytest.mark.parametrize("make_map", [ZeroFilled, lambda F: MRIFirenet(F, restarts=3, inner=10)],
                         ids=["zero-filled", "firenet"])
def test_stable_maps_improve_with_nested_masks(image, make_map):
    res = more_samples(make_map, image, rates=RATES, seed=2)
    psnr = [r["psnr"] for r in res.results]
    assert res.stable and res.drops == ()
    assert all(b > a for a, b in zip(psnr, psnr[1:], strict=False))
    assert res.rates == RATES
    assert [r["sampled"] for r in res.results] == pytest.approx(RATES, abs=1 / N**2)
    json.dumps(res.summary())


def test_more_samples_metrics_match_a_hand_computation(image):
    res = more_samples(ZeroFilled, image, kind="radial", rates=(0.2, 0.4), seed=3)
    ms = masks.nested("radial", (N, N), [0.2, 0.4], seed=3)
    assert bool((ms[0].mask <= ms[1].mask).all())  # nested
    for r, m in zip(res.results, ms, strict=True):
        zf = np.abs(np_meas(image.numpy(), m.mask.numpy()))
        ref = metrics.evaluate(image.numpy(), zf)
        assert r["samples"] == int(m.mask.sum())
        for k in ("psnr", "ssim", "nmse"):
            assert r[k] == pytest.approx(ref[k], rel=1e-10)


def test_degrading_map_is_flagged_with_closed_form_losses(image):
    # f returns x + rate: |f| - |x| = rate everywhere, so PSNR = -20 log10(rate) (max |x| = 1)
    def make_map(F):
        return lambda y: (image + F.rate).to(torch.complex128)

    rates = (0.1, 0.2, 0.4)
    res = more_samples(make_map, image, kind="gaussian", rates=rates)
    assert not res.stable
    sampled = [r["sampled"] for r in res.results]
    for r, s in zip(res.results, sampled, strict=True):
        assert r["psnr"] == pytest.approx(-20 * math.log10(s), rel=1e-10)
    pairs = ((0, 1), (0, 2), (1, 2))
    expected = [(rates[i], rates[j], 20 * math.log10(sampled[j] / sampled[i])) for i, j in pairs]
    assert [d[:2] for d in res.drops] == [e[:2] for e in expected]
    assert [d[2] for d in res.drops] == pytest.approx([e[2] for e in expected], rel=1e-10)


def test_slow_decline_is_caught_across_steps(image):
    # the error grows by 0.3 dB per step: no neighbour pair exceeds 0.5 dB, pairs two apart do
    rates = (0.1, 0.2, 0.3, 0.4)
    eps = {r: 0.05 * 10 ** (0.3 * k / 20) for k, r in enumerate(rates)}

    def make_map(F):
        r = min(rates, key=lambda q: abs(q - F.rate))
        return lambda y: (image + eps[r]).to(torch.complex128)

    res = more_samples(make_map, image, rates=rates, tolerance_db=0.5)
    assert [(a, b) for a, b, _ in res.drops] == [(0.1, 0.3), (0.1, 0.4), (0.2, 0.4)]
    assert [d for *_, d in res.drops] == pytest.approx([0.6, 0.9, 0.6], rel=1e-9)
    assert more_samples(make_map, image, rates=rates, tolerance_db=1.0).stable


def test_more_samples_errors(image):
    with pytest.raises(ValueError, match="strictly increasing"):
        more_samples(ZeroFilled, image, rates=(0.2, 0.1))
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        more_samples(ZeroFilled, image, rates=(0.5, 1.2))
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        more_samples(ZeroFilled, image, rates=(0.0, 0.5))
    with pytest.raises(ValueError, match="at least 2"):
        more_samples(ZeroFilled, image, rates=(0.5,))
    with pytest.raises(TypeError, match="make_map must be callable"):
        more_samples("zero-filled", image)
    with pytest.raises(TypeError, match=r"make_map\(F\) must be callable"):
        more_samples(lambda F: None, image)
    with pytest.raises(ValueError, match="2-D"):
        more_samples(ZeroFilled, image[None])
    with pytest.raises(ValueError, match="cannot be nested"):
        more_samples(ZeroFilled, image, kind="equispaced")
    with pytest.raises(ValueError, match="tolerance_db"):
        more_samples(ZeroFilled, image, tolerance_db=-1.0)


# ------------------------------------------------------------------ generalisation
BASE = {"mask": "gaussian", "rate": 0.3, "seed": 0}


def _zero_filled_metrics(x: torch.Tensor, kind: str, rate: float, seed: int) -> dict[str, float]:
    m = masks.make(kind, tuple(x.shape), rate, seed=seed).mask.numpy()
    return metrics.evaluate(x.numpy(), np.abs(np_meas(x.numpy(), m)))


def test_generalisation_table_matches_hand_computation():
    refs = [ellipses(N, seed=s) for s in (0, 1)]
    others = {"shepp-logan": [shepp_logan(N)]}
    radial = {"mask": "radial", "rate": 0.2, "seed": 4}
    noisy = {**BASE, "noise": 0.02}
    calls = []

    def make_map(F):
        calls.append(F)
        return ZeroFilled(F)

    res = generalisation(make_map, refs, others=others, acquisitions={"radial": radial, "noisy": noisy},
                         baseline=BASE)
    assert len(calls) == 2  # one map per distinct mask (noisy shares the baseline mask)
    hand = {
        ("reference", "baseline"): [_zero_filled_metrics(x, "gaussian", 0.3, 0) for x in refs],
        ("reference", "radial"): [_zero_filled_metrics(x, "radial", 0.2, 4) for x in refs],
        ("shepp-logan", "baseline"): [_zero_filled_metrics(others["shepp-logan"][0], "gaussian", 0.3, 0)],
    }
    acq = acquire(refs[1], **noisy)
    hand_noisy = metrics.evaluate(refs[1], acq.operator.adjoint(acq.y).abs())
    assert res.per_image[("reference", "noisy")][1] == pytest.approx(hand_noisy, rel=1e-10)
    mean = {k: {m: np.mean([v[m] for v in vs]) for m in ("psnr", "ssim", "nmse")} for k, vs in hand.items()}
    for key, ref in mean.items():
        assert res.mean(*key) == pytest.approx(ref, rel=1e-10)
    base = mean[("reference", "baseline")]
    rows = {(r["images"], r["acquisition"]): r for r in res.table()}
    assert len(rows) == 6 and res.table()[0]["images"] == "reference"
    assert rows[("reference", "baseline")]["psnr_drop"] == 0.0
    for key in (("reference", "radial"), ("shepp-logan", "baseline")):
        assert rows[key]["psnr_drop"] == pytest.approx(base["psnr"] - mean[key]["psnr"], rel=1e-10)
        assert rows[key]["ssim_drop"] == pytest.approx(base["ssim"] - mean[key]["ssim"], rel=1e-10)
        assert rows[key]["nmse_increase"] == pytest.approx(mean[key]["nmse"] - base["nmse"], rel=1e-10)
    assert rows[("reference", "noisy")]["psnr_drop"] > 0  # noise costs quality
    json.dumps(res.summary())


def test_generalisation_errors():
    refs = [ellipses(N, seed=0)]
    with pytest.raises(TypeError, match="make_map must be callable"):
        generalisation(None, refs, baseline=BASE)
    with pytest.raises(ValueError, match="at least one image"):
        generalisation(ZeroFilled, [], baseline=BASE)
    with pytest.raises(TypeError, match="list of"):
        generalisation(ZeroFilled, refs[0], baseline=BASE)
    with pytest.raises(TypeError, match="baseline must be a dict"):
        generalisation(ZeroFilled, refs, baseline="gaussian")
    with pytest.raises(ValueError, match="unknown keys"):
        generalisation(ZeroFilled, refs, baseline={**BASE, "kspace": None})
    with pytest.raises(ValueError, match="'reference'"):
        generalisation(ZeroFilled, refs, others={"reference": refs}, baseline=BASE)
    with pytest.raises(ValueError, match="'baseline'"):
        generalisation(ZeroFilled, refs, acquisitions={"baseline": BASE}, baseline=BASE)
    with pytest.raises(ValueError, match="image 0 of 'odd'.*2-D"):
        generalisation(ZeroFilled, refs, others={"odd": [torch.zeros(2, N, N)]}, baseline=BASE)
    with pytest.raises(KeyError, match="no cell"):
        generalisation(ZeroFilled, refs, baseline=BASE).mean("reference", "radial")
