"""The samples of the CS tools' runs as NumPy arrays: conversions, masks and the zero-filled k-space.

All runners (``cs_bart``, ``cs_sigpy``) take the same samples as firenets' ``Fourier2D(mask)``:
y = P_M F_c x with F_c x = fftshift(fft2(ifftshift(x), norm="ortho")) (``firenets.operators.fft2c``),
y either the vector of the masked k-space in row-major order (what ``Fourier2D(mask)(x)``
returns) or a full (H, W) k-space (multiplied by the mask). Images come back as complex128 (H, W)
arrays directly comparable to ``Fourier2D``'s (no flips, transposes, shifts or scale factors; see
tests/test_cs_tools.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_numpy(a: Any) -> np.ndarray:
    """a (numpy array, torch tensor or anything numpy takes) as a numpy array, on the CPU, conjugation resolved."""
    if hasattr(a, "detach"):  # a torch tensor
        a = a.detach().cpu().resolve_conj().numpy()
    return np.asarray(a)


def as_complex128(a: Any) -> np.ndarray:
    """a (numpy array or torch tensor) as a complex128 numpy array."""
    return as_numpy(a).astype(np.complex128)


def as_mask(mask: Any) -> np.ndarray:
    """The boolean (H, W) numpy mask of a numpy array, torch tensor or ``masks.SamplingMask``."""
    if isinstance(mask, tuple) and hasattr(mask, "mask"):
        mask = mask.mask
    m = as_numpy(mask)
    if m.dtype != bool or m.ndim != 2:
        raise ValueError(f"mask must be a boolean (H, W) array; got dtype {m.dtype}, shape {m.shape}")
    if not m.any():
        raise ValueError("mask is empty")
    return m


def zero_filled_kspace(kspace: Any, mask: Any) -> np.ndarray:
    """Full centred k-space (H, W), complex128: y at the True entries of the mask (row-major), 0 elsewhere.

    kspace: the sample vector (m,), m = mask.sum(), in row-major order (``Fourier2D(mask)(x)``), or
    a full (H, W) k-space, which is multiplied by the mask.
    """
    m = as_mask(mask)
    k = as_complex128(kspace)
    if k.ndim == 1:
        if k.size != int(m.sum()):
            raise ValueError(f"{k.size} samples for a mask with {int(m.sum())} True entries")
        full = np.zeros(m.shape, np.complex128)
        full[m] = k  # boolean indexing is row-major, like Fourier2D
        return full
    if k.shape != m.shape:
        raise ValueError(f"k-space shape {k.shape} differs from the mask shape {m.shape}")
    return np.where(m, k, 0)
