"""The measurement model of single-coil MRI: y = P_M F_c x + e, simulated or measured.

An ``Acquisition`` holds the operator, samples, mask, noise and ground truth; nothing here
knows networks. Conventions: docs/imaging.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from . import masks as _masks
from ._validation import as_tensor, check_scalar, check_seed
from .operators import Fourier2D

MASKS = ("gaussian", "cartesian", "radial", "das")


@dataclass(frozen=True)
class Acquisition:
    """Measured k-space samples y of a ground truth ``target`` through ``operator``."""

    operator: Fourier2D
    y: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor
    mask_kind: str
    rate: float
    seed: int
    noise: float
    simulated: bool

    @property
    def zero_filled(self) -> torch.Tensor:
        """x0 = A^* y, the zero-filled inverse FFT (complex)."""
        return self.operator.adjoint(self.y)


def acquire(
    image: Any,
    *,
    mask: str | torch.Tensor = "gaussian",
    rate: float = 0.25,
    seed: int = 0,
    noise: float = 0.0,
    kspace: torch.Tensor | None = None,
) -> Acquisition:
    """y = P_M F_c x + e: simulated samples of ``image`` (or of ``kspace`` when given, e.g. fastMRI).

    ``mask`` is a kind (gaussian, cartesian, radial, das; drawn for the image's shape at ``rate``
    with ``seed``) or a boolean tensor. e has i.i.d. complex Gaussian entries with
    E|e_j|^2 = noise^2, drawn with ``seed``. The target is |x| for images and |F_c^* k| for k-space.
    """
    image = _image_tensor(image)
    shape = tuple(image.shape)
    seed = check_seed("seed", seed)
    noise = check_scalar("noise", noise, nonnegative=True)
    if isinstance(mask, str):
        if mask not in MASKS:
            raise ValueError(f"mask must be one of {MASKS} or a boolean tensor; got {mask!r}")
        rate = check_scalar("rate", rate, positive=True)
        if rate > 1:
            raise ValueError(f"rate must be in (0, 1]; got {rate}")
        m = _masks.make(mask, shape, rate, seed=seed).mask
        kind = mask
    else:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError("mask must be a mask kind (str) or a boolean torch.Tensor")
        if tuple(mask.shape) != shape:
            raise ValueError(f"mask has shape {tuple(mask.shape)} but the image is {shape}: they must match")
        m, kind = mask, "custom"
    F = Fourier2D(m)
    if kspace is not None:
        k = as_tensor("kspace", kspace, dtype=torch.complex128)
        if tuple(k.shape) != shape:
            raise ValueError(f"kspace has shape {tuple(k.shape)} but the image is {shape}: they must match")
        y = k.reshape(-1).index_select(0, F.index)
        target = image.abs().to(torch.float64)
    else:
        y = F(image.to(torch.complex128))
        target = image.abs().to(torch.float64) if image.is_complex() else image.to(torch.float64)
    if noise > 0:
        gen = torch.Generator().manual_seed(seed + 7919)
        e = torch.randn(y.shape, generator=gen, dtype=torch.complex128)  # E|e_j|^2 = 1
        y = y + noise * e
        if not bool(torch.isfinite(y).all()):
            raise ValueError(f"noise = {noise:g} overflows the samples (the image's maximum is 1); give a "
                             "standard deviation that float64 can add to them")
    return Acquisition(F, y, target, m, kind, F.rate, seed, noise, kspace is None)


def _image_tensor(image: Any) -> torch.Tensor:
    t = as_tensor("image", image)
    if t.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W); got shape {tuple(t.shape)}")
    if min(t.shape) < 8:
        raise ValueError(f"image must be at least 8x8; got {tuple(t.shape)}")
    return t
