"""The measurement model of MRI: y = P_M F_c x + e for one coil, y_c = P_M F_c (S_c x) + e_c for coil maps S_c
(SENSE), simulated or measured.

An ``Acquisition`` holds the operator, samples, mask, noise and ground truth; nothing here
knows networks. Conventions: docs/imaging.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from . import coils
from . import masks as _masks
from ._validation import ArgumentError, as_tensor, check_scalar, check_seed
from .operators import Fourier2D, MultiCoilFourier, ifft2c

MASKS = ("gaussian", "cartesian", "radial", "das")
CENTRED_MASKS = ("cartesian", *_masks.FASTMRI_KINDS)  # column masks with a fully sampled centre of a given fraction


@dataclass(frozen=True)
class Acquisition:
    """Measured k-space samples y of a ground truth ``target`` through ``operator``."""

    operator: Fourier2D | MultiCoilFourier
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
        """x0 = A^* y, the zero-filled inverse FFT (complex); with coil maps the coil-combined SENSE adjoint."""
        return self.operator.adjoint(self.y)


def acquire(
    image: Any,
    *,
    mask: str | torch.Tensor = "gaussian",
    rate: float = 0.25,
    seed: int = 0,
    noise: float = 0.0,
    kspace: torch.Tensor | None = None,
    center_fraction: float | None = None,
    maps: torch.Tensor | None = None,
) -> Acquisition:
    """y = P_M F_c x + e: simulated samples of ``image`` (or of ``kspace`` when given, e.g. fastMRI); with
    coil ``maps`` (C, H, W), y_c = P_M F_c (S_c x) + e_c through ``operators.MultiCoilFourier`` (``kspace``
    then (C, H, W)).

    ``mask`` is a kind (gaussian, cartesian, radial, das, fastmri-random, fastmri-equispaced with its
    ``center_fraction``; drawn for the image's shape at ``rate`` with ``seed``) or a boolean tensor. e has i.i.d. complex Gaussian entries with
    E|e_j|^2 = noise^2, drawn with ``seed``. The target is |x|.
    """
    image = _image_tensor(image)
    shape = tuple(image.shape)
    m, kind, seed, noise = _sampling(mask, shape, rate, seed, noise, center_fraction, "the image")
    F = Fourier2D(m) if maps is None else MultiCoilFourier(check_maps("maps", maps, shape), m)
    if kspace is not None:
        k = as_tensor("kspace", kspace, dtype=torch.complex128)
        full = shape if maps is None else (F.coils, *shape)
        if tuple(k.shape) != full:
            raise ValueError(f"kspace has shape {tuple(k.shape)} but the image is {shape}"
                             + ("" if maps is None else f" with {F.coils} coil maps") + f": expected {full}")
        if not bool(torch.isfinite(k).all()):
            raise ValueError(f"kspace holds {int((~torch.isfinite(k)).sum())} NaN or Inf entries")
        index = F.index if maps is None else F.single.index
        y = k.reshape(*full[:-2], -1).index_select(-1, index)
        target = image.abs().to(torch.float64)
    else:
        y = F(image.to(torch.complex128))
        target = image.abs().to(torch.float64) if image.is_complex() else image.to(torch.float64)
    y = _noisy(y, noise, seed)
    return Acquisition(F, y, target, m, kind, F.rate, seed, noise, kspace is None)


def _noisy(y: torch.Tensor, noise: float, seed: int) -> torch.Tensor:
    """y + noise e, e i.i.d. complex Gaussian with E|e_j|^2 = 1 drawn with ``seed``; refused if it overflows."""
    if noise == 0:
        return y
    gen = torch.Generator().manual_seed(seed + 7919)
    y = y + noise * torch.randn(y.shape, generator=gen, dtype=torch.complex128)
    if not bool(torch.isfinite(y).all()):
        raise ValueError(f"noise = {noise:g} overflows the samples (the image's maximum is 1); give a "
                         "standard deviation that float64 can add to them")
    return y


def sampling_mask(mask: str | torch.Tensor, shape: tuple[int, int], *, rate: float, seed: int,
                  center_fraction: float | None = None, what: str = "the image") -> tuple[torch.Tensor, str]:
    """(mask, kind): a kind drawn for ``shape`` at ``rate`` with ``seed`` (the fastMRI kinds with their
    ``center_fraction``), or a boolean tensor of that shape ("custom")."""
    if isinstance(mask, str):
        if mask not in MASKS + _masks.FASTMRI_KINDS:
            raise ValueError(f"mask must be one of {MASKS + _masks.FASTMRI_KINDS} or a boolean tensor; got {mask!r}")
        rate = check_scalar("rate", rate, positive=True)
        if rate > 1:
            raise ValueError(f"rate must be in (0, 1]; got {rate}")
        if center_fraction is not None and mask not in CENTRED_MASKS:
            raise ValueError(f"center_fraction applies to the column masks {CENTRED_MASKS}, not {mask!r}")
        options = {} if center_fraction is None else {"center_fraction": center_fraction}
        return _masks.make(mask, shape, rate, seed=seed, **options).mask, mask
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError("mask must be a mask kind (str) or a boolean torch.Tensor")
    if tuple(mask.shape) != tuple(shape):
        raise ArgumentError("mask", f"has shape {tuple(mask.shape)} but {what} is {tuple(shape)}")
    return mask, "custom"


def _sampling(mask: str | torch.Tensor, shape: tuple[int, int], rate: float, seed: int, noise: float,
              center_fraction: float | None, what: str) -> tuple[torch.Tensor, str, int, float]:
    """The options every acquisition takes, checked: (mask, kind) from ``sampling_mask``, seed and noise."""
    seed = check_seed("seed", seed)
    noise = check_scalar("noise", noise, nonnegative=True)
    m, kind = sampling_mask(mask, shape, rate=rate, seed=seed, center_fraction=center_fraction, what=what)
    return m, kind, seed, noise


def check_maps(name: str, maps: Any, shape: tuple[int, int]) -> torch.Tensor:
    """Coil maps (C, H, W) for images of ``shape``: finite, complex128, and covering every pixel where any
    map is non-zero with sum_c |S_c|^2 = 1 to 1e-6 (the normalisation under which SENSE's zero-filling
    A^* y is the coil combination and its worst cases are known)."""
    t = as_tensor(name, maps, dtype=torch.complex128)
    if t.ndim != 3 or tuple(t.shape[1:]) != tuple(shape):
        raise ArgumentError(name, f"must be coil maps (coils, {shape[0]}, {shape[1]}); got shape {tuple(t.shape)}")
    power = (t.abs() ** 2).sum(0)
    covered = power > 1e-12
    if not bool(covered.any()):
        raise ArgumentError(name, "are zero everywhere")
    off = float((power[covered] - 1).abs().max())
    if off > 1e-6:
        raise ArgumentError(name, f"must satisfy sum_c |S_c|^2 = 1 where they are non-zero (divide them by their "
                                  f"root-sum-of-squares, coils.rss); it is off by up to {off:.3g}")
    return t


def _image_tensor(image: Any) -> torch.Tensor:
    t = as_tensor("image", image)
    if t.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W); got shape {tuple(t.shape)}")
    if min(t.shape) < 8:
        raise ValueError(f"image must be at least 8x8; got {tuple(t.shape)}")
    return t


@dataclass(frozen=True)
class MultiCoilAcquisition(Acquisition):
    """An ``Acquisition`` of multi-coil k-space: ``operator`` is SENSE (``operators.MultiCoilFourier``
    with the maps), y is (coils, m), the target the RSS of the fully sampled coil images or the file's
    reference, ``simulated`` False (the given k-space, retrospectively undersampled); with how the maps
    were obtained and the calibration block they came from."""

    maps_method: str
    calibration: tuple[int, int]

    @property
    def zero_filled(self) -> torch.Tensor:
        """The root-sum-of-squares of the zero-filled coil images (fastMRI's baseline), real."""
        return coils.rss(self.operator.coil_images(self.y)).to(torch.complex128)


def calibration_size(mask: torch.Tensor, cap: int = 48) -> tuple[int, int]:
    """The centred block of largest area (sides at most ``cap``) that ``mask`` samples fully: the region
    the coil maps are calibrated from (a column mask's centre gives a tall, narrow block)."""
    H, W = mask.shape
    best = (0, 0)
    for h in range(min(cap, H), 0, -1):
        for w in range(min(cap, W), 0, -1):
            if h * w <= best[0] * best[1]:
                break
            if bool(mask[H // 2 - h // 2:H // 2 - h // 2 + h, W // 2 - w // 2:W // 2 - w // 2 + w].all()):
                best = (h, w)
                break
    return best


def estimate_maps(kspace: Any, mask: torch.Tensor, *, method: str = "espirit") -> tuple[torch.Tensor, tuple[int, int]]:
    """(maps (C, H, W), the calibration block): coil maps from the largest fully sampled centred block of
    ``mask`` (``calibration_size``) of the multi-coil ``kspace``, by ESPIRiT (the largest kernel up to 6
    with as many patches as unknowns, C k^2) or the low-resolution method; sum_c |S_c|^2 = 1 where they
    are non-zero. Uhrin et al., MRM 71, 2014 (REFERENCE section 9)."""
    k = as_tensor("kspace", kspace, dtype=torch.complex128)
    if k.ndim != 3:
        raise ValueError(f"kspace must be multi-coil (coils, H, W); got shape {tuple(k.shape)}")
    if method not in ("espirit", "lowres"):
        raise ValueError(f"maps_method must be 'espirit' or 'lowres'; got {method!r}")
    C = k.shape[0]
    calib = calibration_size(mask)
    if min(calib) < 8:
        raise ValueError(f"the mask samples a fully sampled centre of only {calib[0]}x{calib[1]}, too small to "
                         "calibrate coil maps from (at least 8x8); give maps or a mask with a larger centre")
    sampled = torch.where(mask, k, torch.zeros_like(k))
    if method == "lowres":
        return coils.lowres(sampled, calib), calib
    # the calibration matrix needs at least as many patches as unknowns per kernel (C k^2)
    kernel = next((k_ for k_ in range(6, 2, -1) if (calib[0] - k_ + 1) * (calib[1] - k_ + 1) >= C * k_ * k_), None)
    if kernel is None:
        raise ValueError(f"the fully sampled centre {calib[0]}x{calib[1]} has too few patches for {C} coils "
                         "even with a 3x3 ESPIRiT kernel; give maps or a mask with a larger centre")
    return coils.espirit(sampled, calib, kernel=kernel), calib


def acquire_multicoil(kspace: Any, *, mask: str | torch.Tensor = "fastmri-random", rate: float = 0.25, seed: int = 0,
                      noise: float = 0.0, center_fraction: float | None = None, maps: Any = None,
                      maps_method: str = "espirit", reference: torch.Tensor | None = None) -> MultiCoilAcquisition:
    """Retrospectively undersampled multi-coil k-space (coils, H, W): the samples of ``mask`` (a kind,
    drawn at ``rate`` = 1 / acceleration with ``seed``, or a boolean (H, W) tensor), complex Gaussian
    noise of standard deviation ``noise`` per sample, and the coil maps: given, or estimated from the
    largest fully sampled centred block (``calibration_size``) by ESPIRiT or the low-resolution
    method. The target is ``reference`` when given, else the RSS of the fully sampled coil images."""
    k = as_tensor("kspace", kspace, dtype=torch.complex128)
    if k.ndim != 3:
        raise ValueError(f"kspace must be multi-coil (coils, H, W); got shape {tuple(k.shape)}")
    C, H, W = k.shape
    m, kind, seed, noise = _sampling(mask, (H, W), rate, seed, noise, center_fraction, "the k-space")
    if maps is None:
        maps, calib = estimate_maps(k, m, method=maps_method)
    else:
        calib = calibration_size(m)
        maps = as_tensor("maps", maps, dtype=torch.complex128)
        if maps.ndim != 3 or tuple(maps.shape[1:]) != (H, W):
            raise ValueError(f"maps must be (coils, {H}, {W}); got {tuple(maps.shape)}")
        if maps.shape[0] != C:
            raise ValueError(f"maps hold {maps.shape[0]} coils but the k-space {C}")
        maps_method = "given"
    A = MultiCoilFourier(maps, m)
    y = k.reshape(C, -1).index_select(1, A.single.index)
    y = _noisy(y, noise, seed)
    target = coils.rss(ifft2c(k)) if reference is None else as_tensor("reference", reference).to(torch.float64)
    return MultiCoilAcquisition(A, y, target, m, kind, A.rate, seed, noise, False, maps_method, calib)
