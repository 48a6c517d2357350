"""The objectives BART and SigPy minimise, in float64: data fidelity 1/2 ||P_M F_c x - y||^2, the
orthonormal periodized Haar transform at each tool's depth and its l1 norm and prox, SigPy's wavelet
l1 norm, and isotropic and anisotropic periodic TV (which tool uses which: ``cs_bart``, ``cs_sigpy``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cs_kspace import as_complex128, as_mask, as_numpy, zero_filled_kspace
from firenets.operators import fft2c

BART_WAVELET_MINSIZE = 16  # pics decomposes an axis while its band is at least this long


def data_fidelity(x: Any, kspace: Any, mask: Any) -> float:
    """1/2 ||P_M F_c x - y||_2^2 in float64."""
    m = as_mask(mask)
    r = fft2c(as_complex128(x))[m] - zero_filled_kspace(kspace, m)[m]
    return 0.5 * float(np.vdot(r, r).real)


def bart_haar_levels(shape: Sequence[int], minsize: int = BART_WAVELET_MINSIZE) -> tuple[int, ...]:
    """Wavelet levels per axis in BART pics: halve while the band is >= min(side, minsize) (256 -> 5)."""
    levels = []
    for n in shape:
        lo, size, k = min(int(n), minsize), int(n), 0
        while True:
            size = (size + 1) // 2
            k += 1
            if size < lo:
                break
        levels.append(k)
    return tuple(levels)


def sigpy_haar_levels(shape: Sequence[int]) -> tuple[int, ...]:
    """SigPy's wavelet depth for Haar: PyWavelets' maximal level floor(log2(min side)), on every axis."""
    depth = int(math.floor(math.log2(min(int(n) for n in shape))))
    return tuple(depth for _ in shape)


def _haar_split(a: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    if a.shape[axis] % 2:
        raise ValueError(f"the orthonormal periodized Haar step needs an even length; got {a.shape[axis]}")
    even = np.take(a, np.arange(0, a.shape[axis], 2), axis=axis)
    odd = np.take(a, np.arange(1, a.shape[axis], 2), axis=axis)
    return (even + odd) / math.sqrt(2), (even - odd) / math.sqrt(2)


def _haar_merge(low: np.ndarray, high: np.ndarray, axis: int) -> np.ndarray:
    even, odd = (low + high) / math.sqrt(2), (low - high) / math.sqrt(2)
    shape = list(low.shape)
    shape[axis] *= 2
    out = np.empty(shape, dtype=np.result_type(low, high))
    idx = [slice(None)] * low.ndim
    idx[axis] = slice(0, None, 2)
    out[tuple(idx)] = even
    idx[axis] = slice(1, None, 2)
    out[tuple(idx)] = odd
    return out


def haar_transform(x: Any, levels: Sequence[int]) -> list[np.ndarray]:
    """Orthonormal periodized 2-D Haar bands of x: lo = (x_2i + x_2i+1)/sqrt2, hi = (x_2i - x_2i+1)/sqrt2.

    Level k transforms the current low band along every axis a with k < levels[a]; the list holds
    the detail bands level by level and ends with the coarsest approximation. Equal levels give
    PyWavelets' ``wavedec2(x, "haar", mode="periodization", level=L)`` (up to order).
    """
    low = as_numpy(x)
    if low.ndim != 2:
        raise ValueError(f"x must be 2-D (H, W); got shape {low.shape}")
    levels = tuple(int(v) for v in levels)
    bands: list[np.ndarray] = []
    for k in range(max(levels)):
        parts = [low]
        for axis in (1, 0):  # PyWavelets' band order (cH, cV, cD)
            if k < levels[axis]:
                parts = [p for q in parts for p in _haar_split(q, axis)]
        low = parts[0]
        bands.extend(parts[1:])
    bands.append(low)
    return bands


def inverse_haar_transform(bands: Sequence[np.ndarray], levels: Sequence[int]) -> np.ndarray:
    """The inverse (= adjoint) of ``haar_transform`` for the same levels."""
    levels = tuple(int(v) for v in levels)
    stack = list(bands)
    low = stack.pop()
    for k in reversed(range(max(levels))):
        axes = [a for a in (1, 0) if k < levels[a]]
        n = 2 ** len(axes)
        details = stack[len(stack) - (n - 1) :]
        del stack[len(stack) - (n - 1) :]
        parts = [low, *details]
        for axis in reversed(axes):
            parts = [_haar_merge(parts[i], parts[i + 1], axis) for i in range(0, len(parts), 2)]
        low = parts[0]
    return low


def haar_l1(x: Any, levels: Sequence[int] | None = None) -> float:
    """||W_haar x||_1 = sum of |c| over all bands (approximation included), orthonormal periodized Haar.

    levels: per axis; default ``bart_haar_levels(x.shape)`` (BART pics ``--wavelet haar -n``).
    """
    x = as_numpy(x)
    levels = bart_haar_levels(x.shape) if levels is None else levels
    return float(sum(np.abs(b).sum() for b in haar_transform(x, levels)))


def soft_threshold(c: np.ndarray, t: float) -> np.ndarray:
    """Complex soft thresholding: c max(|c| - t, 0) / |c| (0 where |c| <= t)."""
    mag = np.abs(c)
    return np.where(mag > t, c * (1 - t / np.maximum(mag, 1e-300)), 0)


def haar_prox(v: Any, t: float, levels: Sequence[int] | None = None) -> np.ndarray:
    """prox of t ||W_haar .||_1 at v: W^T soft(W v, t) (exact: W is orthonormal)."""
    v = as_numpy(v)
    levels = bart_haar_levels(v.shape) if levels is None else levels
    return inverse_haar_transform([soft_threshold(b, t) for b in haar_transform(v, levels)], levels)


def sigpy_wavelet_l1(x: Any, wave_name: str = "db4") -> float:
    """||W x||_1 for SigPy's W: ``pywt.wavedecn`` (mode 'zero', max level), odd sides led by a zero."""
    import pywt

    x = as_numpy(x)
    even = [n + n % 2 for n in x.shape]
    padded = np.zeros(even, dtype=np.result_type(x, np.float64))
    padded[tuple(slice(n % 2, n % 2 + n) for n in x.shape)] = x  # sigpy.util.resize: the zero goes first
    coeffs = pywt.wavedecn(padded, wave_name, mode="zero")
    arr, _ = pywt.coeffs_to_array(coeffs)
    return float(np.abs(arr).sum())


def periodic_differences(x: Any) -> np.ndarray:
    """(D_0 x, D_1 x) stacked on a new first axis, D_a x = x - roll(x, 1, a) (periodic)."""
    x = as_numpy(x)
    return np.stack([x - np.roll(x, 1, axis=0), x - np.roll(x, 1, axis=1)])


def tv_isotropic(x: Any) -> float:
    """Isotropic periodic TV sum_p sqrt(|D_0 x|_p^2 + |D_1 x|_p^2) (BART ``-R T:3:0``)."""
    g = periodic_differences(x)
    return float(np.sqrt((np.abs(g) ** 2).sum(axis=0)).sum())


def tv_anisotropic(x: Any) -> float:
    """Anisotropic periodic TV sum_p |D_0 x|_p + |D_1 x|_p (SigPy ``TotalVariationRecon``)."""
    return float(np.abs(periodic_differences(x)).sum())


def _bart_haar(x: Any) -> float:
    return haar_l1(x, bart_haar_levels(np.shape(x)))


def _sigpy_haar(x: Any) -> float:
    return haar_l1(x, sigpy_haar_levels(np.shape(x)))


OBJECTIVE_TERMS: dict[str, Callable[[Any], float]] = {
    "bart-haar": _bart_haar,  # pics -l1 --wavelet haar -n
    "bart-tv": tv_isotropic,  # pics -R T:3:0:lam
    "sigpy-haar": _sigpy_haar,  # L1WaveletRecon(wave_name="haar"), power-of-two sides
    "sigpy-db4": sigpy_wavelet_l1,  # L1WaveletRecon(wave_name="db4") (nominal: its prox is inexact)
    "sigpy-tv": tv_anisotropic,  # TotalVariationRecon
}


def objective(x: Any, kspace: Any, mask: Any, lam: float, term: str | Callable[[Any], float]) -> float:
    """1/2 ||P_M F_c x - y||^2 + lam R(x) in float64, R a name in OBJECTIVE_TERMS or a function."""
    R = OBJECTIVE_TERMS[term] if isinstance(term, str) else term
    return data_fidelity(x, kspace, mask) + lam * R(x)
