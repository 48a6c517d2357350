"""Coil sensitivities S_c for the SENSE model y_c = P_M F_c (S_c x) (``operators.MultiCoilFourier``).

- ``espirit``: the maps from the fully sampled calibration region (Uecker et al., "ESPIRiT: an
  eigenvalue approach to autocalibrating parallel MRI", MRM 71, 2014): the calibration matrix of
  all k x k patches across coils, its right singular vectors above ``threshold`` of the largest
  singular value, their image-space operator at every pixel, and its top eigenvector there (the
  maps, up to one phase per pixel, fixed by making coil 0 real and positive), zero where the
  eigenvalue is below ``crop``.
- ``lowres``: the baseline, each coil's image from the calibration region alone divided by the
  root-sum-of-squares of them all.
- ``birdcage``: simulated maps of C coils on a circle around the object (Biot-Savart-like decay
  1 / distance, phase of the direction to the coil), normalised so that sum_c |S_c|^2 = 1.
k-space here is centred (fastMRI's layout, ``operators.Fourier2D``): (coils, H, W), the centre at
(H // 2, W // 2).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ._validation import as_tensor, check_int, check_scalar, check_shape
from .operators import ifft2c

__all__ = ["birdcage", "calibration_region", "espirit", "lowres", "rss"]


def rss(images: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """Root-sum-of-squares sqrt(sum_c |I_c|^2) over the coil dimension (fastMRI's coil combination)."""
    return torch.sqrt((images.abs() ** 2).sum(dim))


def _kspace(name: str, kspace: Any) -> torch.Tensor:
    k = as_tensor(name, kspace)
    if not k.is_complex():
        raise TypeError(f"{name} must be complex k-space of shape (coils, H, W); got {k.dtype}")
    if k.ndim != 3:
        raise ValueError(f"{name} must have shape (coils, H, W); got {tuple(k.shape)}")
    return k.to(torch.complex128)


def calibration_region(kspace: Any, width: int | tuple[int, int]) -> torch.Tensor:
    """The centred block of ``width`` (one number: a square) of every coil's k-space, (coils, h, w).

    The block must be fully sampled: a zero column or row inside it (outside the acquired
    calibration region) is an error, since ESPIRiT would read the zeros as data."""
    k = _kspace("kspace", kspace)
    h, w = (width, width) if isinstance(width, int) and not isinstance(width, bool) else width
    h, w = check_shape("width", (h, w), ndim=2)
    H, W = k.shape[-2:]
    if h > H or w > W:
        raise ValueError(f"the calibration region {h}x{w} is larger than the k-space {H}x{W}")
    r0, c0 = H // 2 - h // 2, W // 2 - w // 2
    block = k[:, r0:r0 + h, c0:c0 + w]
    empty_cols = (block.abs().sum((0, 1)) == 0).nonzero().reshape(-1)
    empty_rows = (block.abs().sum((0, 2)) == 0).nonzero().reshape(-1)
    if empty_cols.numel() or empty_rows.numel():
        raise ValueError(f"the calibration region {h}x{w} is not fully sampled: {empty_cols.numel()} of its columns "
                         f"and {empty_rows.numel()} of its rows are zero; give a smaller width")
    return block


def lowres(kspace: Any, width: int | tuple[int, int] = 24, *, eps: float = 1e-6) -> torch.Tensor:
    """S_c = I_c / sqrt(sum_c |I_c|^2): I_c the image of coil c's calibration region alone (zero-filled
    to the full grid); zero where the root-sum-of-squares is below ``eps`` of its maximum."""
    k = _kspace("kspace", kspace)
    block = calibration_region(k, width)
    h, w = block.shape[-2:]
    H, W = k.shape[-2:]
    full = torch.zeros_like(k)
    r0, c0 = H // 2 - h // 2, W // 2 - w // 2
    full[:, r0:r0 + h, c0:c0 + w] = block
    images = ifft2c(full)
    norm = rss(images)
    keep = norm > eps * float(norm.max())
    return torch.where(keep, images / torch.where(keep, norm, torch.ones_like(norm)), torch.zeros_like(images))


def espirit(kspace: Any, width: int | tuple[int, int] = 24, *, kernel: int = 6, threshold: float = 0.02,
            crop: float = 0.95) -> torch.Tensor:
    """ESPIRiT maps (coils, H, W) from the calibration region of ``width`` (Uecker et al. 2014).

    ``kernel`` is the patch size k, ``threshold`` the fraction of the largest singular value of the
    calibration matrix below which singular vectors count as noise, ``crop`` the eigenvalue below
    which a pixel gets no map. The maps of pixel p are the top eigenvector of
    G(p) = (H W / k^2) sum_j g_j(p) g_j(p)^*, g_j the j-th kept kernel moved to image space,
    normalised to unit norm across coils with the phase of coil 0 removed.
    """
    k = _kspace("kspace", kspace)
    kernel = check_int("kernel", kernel, minimum=1)
    threshold = check_scalar("threshold", threshold, positive=True)
    if threshold >= 1:
        raise ValueError(f"threshold must be in (0, 1); got {threshold}")
    crop = check_scalar("crop", crop, nonnegative=True)
    if crop >= 1:
        raise ValueError(f"crop must be in [0, 1); got {crop}")
    block = calibration_region(k, width)
    C, h, w = block.shape
    H, W = k.shape[-2:]
    if kernel > min(h, w):
        raise ValueError(f"kernel {kernel} does not fit in the calibration region {h}x{w}; give a larger width "
                         "or a smaller kernel")
    # the calibration matrix: one row per k x k patch position, the patch of every coil side by side
    patches = block.unfold(1, kernel, 1).unfold(2, kernel, 1)  # (C, h - k + 1, w - k + 1, k, k)
    rows = patches.permute(1, 2, 0, 3, 4).reshape(-1, C * kernel * kernel)
    _, s, vh = torch.linalg.svd(rows, full_matrices=False)
    kept = vh[s > threshold * s[0]]  # (n, C k k): the null space of the calibration matrix is the rest
    n = kept.shape[0]
    # the rows of vh are the conjugated right singular vectors v^*: each, read as a k x k kernel per
    # coil, is a filter whose correlation with the data is the projection onto v; centred in the grid
    # and moved to image space it acts on coil images as a multiplication, pixel by pixel
    kern = kept.reshape(n, C, kernel, kernel)
    grid = torch.zeros(n, C, H, W, dtype=torch.complex128)
    r0, c0 = H // 2 - kernel // 2, W // 2 - kernel // 2
    grid[:, :, r0:r0 + kernel, c0:c0 + kernel] = kern
    g = ifft2c(grid) * math.sqrt(H * W) / kernel  # (n, C, H, W), sum_j g g^* has eigenvalues <= 1
    G = torch.einsum("jcxy,jdxy->xycd", g, g.conj())  # (H, W, C, C), Hermitian per pixel
    values, vectors = torch.linalg.eigh(G)
    top = vectors[..., -1]  # (H, W, C), eigenvalues ascending
    lam = values[..., -1]
    phase = top[..., :1] / top[..., :1].abs().clamp_min(1e-300)
    maps = (top * phase.conj()).permute(2, 0, 1)
    return torch.where(lam[None] > crop, maps, torch.zeros_like(maps))


def birdcage(coils: int, shape: Any, *, radius: float = 1.5) -> torch.Tensor:
    """Simulated maps (coils, H, W) of ``coils`` receivers on a circle of ``radius`` (half the image
    side = 1) around the centre: S_c(p) = e^{i angle(p - p_c)} / |p - p_c|, then divided by the
    root-sum-of-squares so that sum_c |S_c|^2 = 1 at every pixel."""
    coils = check_int("coils", coils, minimum=1)
    H, W = check_shape("shape", shape, ndim=2)
    radius = check_scalar("radius", radius, positive=True)
    if radius <= math.sqrt(2):
        raise ValueError(f"radius must exceed sqrt(2) (the coils sit outside the image's corners); got {radius}")
    y = (torch.arange(H, dtype=torch.float64) - H / 2 + 0.5) / (H / 2)
    x = (torch.arange(W, dtype=torch.float64) - W / 2 + 0.5) / (W / 2)
    p = torch.complex(x[None, :].expand(H, W), y[:, None].expand(H, W))
    angles = 2 * math.pi * torch.arange(coils, dtype=torch.float64) / coils
    pc = radius * torch.polar(torch.ones_like(angles), angles)
    d = p[None] - pc[:, None, None]
    maps = torch.polar(1 / d.abs(), torch.angle(d))
    return maps / rss(maps)
