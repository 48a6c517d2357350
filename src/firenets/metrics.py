"""Image-quality metrics with the fastMRI conventions: NMSE, PSNR, SSIM; and relative errors.

PSNR and SSIM are scikit-image's (``peak_signal_noise_ratio``, ``structural_similarity`` with its
default 7 x 7 uniform window) on float64 arrays, with data_range = gt.max() unless given, as in
the fastMRI evaluation (Zbontar et al., "fastMRI: An Open Dataset and Benchmarks for Accelerated
MRI", 2018). Inputs are torch tensors or NumPy arrays, one image (H, W) or a batch (B, H, W);
a batch gives a 1-D float64 tensor of per-image values, each image with its own gt.max() (for
fastMRI's per-volume numbers pass data_range=gt.max() of the volume). Complex inputs are
compared as magnitudes in psnr, ssim, nmse and evaluate: if either input is complex, both are
replaced by their absolute values. ``relative_error`` compares the values themselves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ._validation import check_finite

__all__ = ["evaluate", "nmse", "psnr", "relative_error", "ssim", "volume_metrics"]


def _array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().resolve_conj().numpy()
    elif not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray; got {type(value).__name__}")
    if value.dtype.kind not in "iufc":
        raise TypeError(f"{name} must hold numbers (integer, float or complex); got dtype {value.dtype}")
    return value


def _pair(gt: Any, pred: Any, *, ndims: tuple[int, ...], magnitude: bool) -> tuple[np.ndarray, np.ndarray]:
    """Two float64 (or complex128) arrays of one shape, finite, with ndim in ndims."""
    g, p = _array("gt", gt), _array("pred", pred)
    if g.shape != p.shape:
        raise ValueError(f"gt and pred must have the same shape; got gt {g.shape} and pred {p.shape}")
    if g.ndim not in ndims:
        want = " or ".join({1: "1-D (N,)", 2: "2-D (H, W)", 3: "3-D (B, H, W)"}[d] for d in ndims)
        raise ValueError(f"gt and pred must be {want}; got shape {g.shape}")
    if g.size == 0:
        raise ValueError(f"gt and pred are empty (shape {g.shape})")
    for name, a in (("gt", g), ("pred", p)):
        bad = ~np.isfinite(a)
        if bad.any():
            raise ValueError(f"{name} must be finite; it holds {int(bad.sum())} NaN/Inf entries")
    complex_ = np.iscomplexobj(g) or np.iscomplexobj(p)
    if magnitude and complex_:
        return np.abs(g).astype(np.float64), np.abs(p).astype(np.float64)
    dt = np.complex128 if complex_ else np.float64
    return g.astype(dt), p.astype(dt)


def _per_image(fn, g: np.ndarray, p: np.ndarray, *args: Any) -> float | torch.Tensor:
    if g.ndim == 3:
        return torch.tensor([fn(gi, pi, *args) for gi, pi in zip(g, p, strict=True)], dtype=torch.float64)
    return fn(g, p, *args)


def _sq_norm(a: np.ndarray) -> float:
    return float(np.vdot(a, a).real)


def _nonzero_gt(g: np.ndarray) -> float:
    n = _sq_norm(g)
    if n == 0.0:
        raise ValueError("gt has zero norm; the relative error is undefined")
    return n


def _data_range(g: np.ndarray, data_range: float | None) -> float:
    if data_range is None:
        r = float(g.max())
        if r <= 0:
            raise ValueError(
                f"gt.max() is {r}; the default data_range = gt.max() must be > 0 (pass data_range)"
            )
        return r
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float, np.floating, np.integer)):
        raise TypeError(f"data_range must be a real number or None; got {type(data_range).__name__}")
    r = float(data_range)
    if not (math.isfinite(r) and r > 0):
        raise ValueError(f"data_range must be finite and > 0; got {r}")
    return r


def _nmse(g: np.ndarray, p: np.ndarray) -> float:
    return _sq_norm(g - p) / _nonzero_gt(g)


def nmse(gt: Any, pred: Any) -> float | torch.Tensor:
    """Normalised mean squared error ||gt - pred||^2 / ||gt||^2 (fastMRI); magnitudes if complex."""
    g, p = _pair(gt, pred, ndims=(2, 3), magnitude=True)
    return _per_image(_nmse, g, p)


def _relative_error(g: np.ndarray, p: np.ndarray) -> float:
    return math.sqrt(_sq_norm(g - p) / _nonzero_gt(g))


def relative_error(gt: Any, pred: Any) -> float | torch.Tensor:
    """||gt - pred||_2 / ||gt||_2 on the values themselves (complex included).

    A vector (N,) or an image (H, W) gives one number, a batch (B, H, W) one per image.
    """
    g, p = _pair(gt, pred, ndims=(1, 2, 3), magnitude=False)
    return _per_image(_relative_error, g, p)


def _psnr(g: np.ndarray, p: np.ndarray, data_range: float | None) -> float:
    from skimage.metrics import peak_signal_noise_ratio

    r = _data_range(g, data_range)
    if np.array_equal(g, p):
        return math.inf  # MSE = 0 (skimage would warn about dividing by zero)
    return float(peak_signal_noise_ratio(g, p, data_range=r))


def psnr(gt: Any, pred: Any, data_range: float | None = None) -> float | torch.Tensor:
    """Peak signal-to-noise ratio 10 log10(data_range^2 / MSE) in dB; data_range = gt.max() by default.

    Identical images give inf. Magnitudes if complex.
    """
    g, p = _pair(gt, pred, ndims=(2, 3), magnitude=True)
    return _per_image(_psnr, g, p, data_range)


def _ssim(g: np.ndarray, p: np.ndarray, data_range: float | None) -> float:
    from skimage.metrics import structural_similarity

    if min(g.shape) < 7:
        raise ValueError(f"ssim needs images of at least 7 x 7 pixels (its window); got {g.shape}")
    return float(structural_similarity(g, p, data_range=_data_range(g, data_range)))


def ssim(gt: Any, pred: Any, data_range: float | None = None) -> float | torch.Tensor:
    """Structural similarity (Wang et al., IEEE TIP 2004), skimage's 7 x 7 window; data_range = gt.max().

    Magnitudes if complex.
    """
    g, p = _pair(gt, pred, ndims=(2, 3), magnitude=True)
    return _per_image(_ssim, g, p, data_range)


def evaluate(gt: Any, pred: Any, data_range: float | None = None) -> dict[str, float]:
    """{"psnr", "ssim", "nmse"} for one image (H, W), fastMRI conventions as above."""
    g, p = _pair(gt, pred, ndims=(2,), magnitude=True)
    return {"psnr": _psnr(g, p, data_range), "ssim": _ssim(g, p, data_range), "nmse": _nmse(g, p)}


def volume_metrics(targets: list[torch.Tensor], preds: list[torch.Tensor]) -> dict[str, float]:
    """NMSE = ||gt - pred||^2 / ||gt||^2 over the volume, PSNR with data range max(gt) of the volume,
    SSIM the mean over slices with that range (fastMRI's evaluation); real (magnitude) slices."""
    if len(targets) != len(preds) or not targets:
        raise ValueError(f"targets and preds must hold the same number of slices (at least one); got "
                         f"{len(targets)} and {len(preds)}")
    for name, images in (("targets", targets), ("preds", preds)):
        for i, t in enumerate(images):
            if t.is_complex():
                raise TypeError(f"{name}[{i}] must be real (a magnitude image); got {t.dtype}")
            check_finite(f"{name}[{i}]", t)
    g = np.stack([t.detach().cpu().numpy() for t in targets])
    p = np.stack([t.detach().cpu().numpy() for t in preds])
    top = float(g.max())
    nmse = float(np.sum((g - p) ** 2) / np.sum(g**2))
    mse = float(np.mean((g - p) ** 2))
    psnr = float(10 * np.log10(top**2 / mse)) if mse > 0 else float("inf")
    ssim_mean = float(np.mean([ssim(torch.from_numpy(a), torch.from_numpy(b), data_range=top)
                               for a, b in zip(g, p, strict=True)]))
    return {"nmse": nmse, "psnr": psnr, "ssim": ssim_mean}
