"""Metrics against closed forms and scikit-image: PSNR, NMSE, SSIM, relative error, evaluate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from firenets import metrics


@pytest.fixture
def pair(rng):
    gt = rng.uniform(0.0, 2.0, (32, 40))
    pred = gt + 0.05 * rng.standard_normal(gt.shape)
    return gt, pred


def test_psnr_closed_form(pair):
    gt, pred = pair
    mse = np.mean((gt - pred) ** 2)
    assert metrics.psnr(gt, pred) == pytest.approx(10 * math.log10(gt.max() ** 2 / mse), rel=1e-12)
    assert metrics.psnr(gt, pred, data_range=5.0) == pytest.approx(10 * math.log10(25.0 / mse), rel=1e-12)
    assert metrics.psnr(torch.from_numpy(gt), torch.from_numpy(pred)) == metrics.psnr(gt, pred)
    assert metrics.psnr(gt, gt) == math.inf
    assert isinstance(metrics.psnr(gt, pred), float)


def test_nmse_and_relative_error_closed_form(pair):
    gt, pred = pair
    expected = np.sum((gt - pred) ** 2) / np.sum(gt**2)
    assert metrics.nmse(gt, pred) == pytest.approx(expected, rel=1e-12)
    assert metrics.relative_error(gt, pred) == pytest.approx(math.sqrt(expected), rel=1e-12)
    assert metrics.nmse(gt, gt) == 0.0
    assert metrics.nmse(gt, 2 * gt) == pytest.approx(1.0, rel=1e-14)
    v = np.array([3.0, 4.0])
    assert metrics.relative_error(v, np.zeros(2)) == 1.0


def test_ssim_identical_and_skimage(pair):
    gt, pred = pair
    assert metrics.ssim(gt, gt) == pytest.approx(1.0, abs=1e-12)
    expected = structural_similarity(gt, pred, data_range=gt.max())
    assert metrics.ssim(gt, pred) == pytest.approx(expected, rel=1e-12)
    assert metrics.ssim(gt, pred, data_range=4.0) == pytest.approx(
        structural_similarity(gt, pred, data_range=4.0), rel=1e-12
    )
    assert metrics.ssim(gt, pred) < 1.0


def test_batches_give_per_image_values(rng):
    gt = rng.uniform(0.0, 1.0, (3, 16, 16))
    pred = gt + 0.1 * rng.standard_normal(gt.shape)
    for fn in (metrics.psnr, metrics.ssim, metrics.nmse, metrics.relative_error):
        out = fn(torch.from_numpy(gt), torch.from_numpy(pred))
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and out.shape == (3,)
        for i in range(3):
            assert out[i].item() == pytest.approx(fn(gt[i], pred[i]), rel=1e-12)


def test_complex_inputs_are_compared_as_magnitudes(pair, rng):
    gt, pred = pair
    phase = np.exp(1j * rng.uniform(-np.pi, np.pi, gt.shape))
    zg, zp = gt * phase, pred * np.conj(phase)
    for fn in (metrics.psnr, metrics.ssim, metrics.nmse):
        assert fn(zg, zp) == pytest.approx(fn(np.abs(zg), np.abs(zp)), rel=1e-12)
    # a phase change alone is invisible to the magnitude metrics, not to the relative error
    assert metrics.psnr(zg, gt) > 250  # |gt e^{i phi}| = gt up to rounding
    assert metrics.nmse(zg, gt) < 1e-28
    v = np.array([1j, 1j])
    assert metrics.relative_error(v, -v) == pytest.approx(2.0)
    t = torch.from_numpy(zg).conj()  # a lazily conjugated tensor
    assert metrics.nmse(t, t) == 0.0


def test_evaluate(pair):
    gt, pred = pair
    out = metrics.evaluate(torch.from_numpy(gt), torch.from_numpy(pred))
    assert set(out) == {"psnr", "ssim", "nmse"}
    assert all(isinstance(v, float) for v in out.values())
    assert out["psnr"] == metrics.psnr(gt, pred)
    assert out["ssim"] == metrics.ssim(gt, pred)
    assert out["nmse"] == metrics.nmse(gt, pred)
    with pytest.raises(ValueError, match=r"must be 2-D \(H, W\); got shape \(2, 32, 40\)"):
        metrics.evaluate(np.stack([gt, gt]), np.stack([pred, pred]))


def test_metric_errors(pair):
    gt, pred = pair
    with pytest.raises(ValueError, match=r"same shape; got gt \(32, 40\) and pred \(32, 39\)"):
        metrics.psnr(gt, pred[:, :-1])
    bad = pred.copy()
    bad[0, 0] = np.nan
    for fn in (metrics.psnr, metrics.ssim, metrics.nmse, metrics.relative_error, metrics.evaluate):
        with pytest.raises(ValueError, match="pred must be finite; it holds 1 NaN/Inf"):
            fn(gt, bad)
    with pytest.raises(ValueError, match="gt has zero norm"):
        metrics.nmse(np.zeros((8, 8)), pred[:8, :8])
    with pytest.raises(ValueError, match="gt has zero norm"):
        metrics.relative_error(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"gt.max\(\) is 0.0"):
        metrics.psnr(np.zeros((8, 8)), pred[:8, :8])
    with pytest.raises(ValueError, match="data_range must be finite and > 0; got -1.0"):
        metrics.psnr(gt, pred, data_range=-1.0)
    with pytest.raises(ValueError, match="at least 7 x 7"):
        metrics.ssim(gt[:5, :5], pred[:5, :5])
    with pytest.raises(ValueError, match=r"must be 2-D \(H, W\) or 3-D \(B, H, W\); got shape \(40,\)"):
        metrics.psnr(gt[0], pred[0])
    with pytest.raises(TypeError, match="gt must be a torch.Tensor or numpy.ndarray; got list"):
        metrics.nmse([[1.0]], pred)
    with pytest.raises(TypeError, match="pred must hold numbers"):
        metrics.nmse(gt, pred > 0)


def test_volume_metrics_refuses_complex_slices_and_unequal_volumes():
    import pytest
    import torch

    from firenets.metrics import volume_metrics

    real = [torch.rand(8, 8, dtype=torch.float64) + 0.1 for _ in range(2)]
    with pytest.raises(TypeError, match=r"preds\[1\] must be real"):
        volume_metrics(real, [real[0], real[1].to(torch.complex128)])
    with pytest.raises(ValueError, match="same number of slices"):
        volume_metrics(real, real[:1])
    # fastMRI's volume NMSE: ||gt - pred||^2 / ||gt||^2 over every slice at once
    got = volume_metrics(real, [r * 0.9 for r in real])["nmse"]
    assert got == pytest.approx(0.01, rel=1e-12)
