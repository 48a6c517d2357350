"""Orthonormal 2-D discrete wavelet transform with periodic boundary, in torch.

The filters come from PyWavelets; the transform itself is written here in torch so that it is
batched, differentiable and runs on any device. Coefficients equal
``pywt.coeffs_to_array(pywt.wavedec2(x, wavelet, mode="periodization", level=levels))``.
"""

from __future__ import annotations

from typing import Any

import torch

from .._validation import check_float_dtype, check_int, check_shape
from .base import LinearOperator


def _orthonormal_lowpass(h: list[float]) -> list[float]:
    """Nearest filter to h with sum_k h_k h_{k+2j} = delta_j (orthonormal shifts by 2).

    PyWavelets stores some filters (the Symlets) to only 1e-11..1e-13; a few Gauss-Newton
    steps with minimum-norm corrections make them orthonormal to machine precision while moving
    them by about that much. sum_k h_k = sqrt(2) needs no constraint of its own: it is the
    maximum of sum_k h_k on that set, so a step of size d changes it by O(d^2).
    Reference: I. Daubechies, "Ten Lectures on Wavelets", ch. 6.
    """
    import numpy as np

    h = np.asarray(h, dtype=np.float64)
    L = len(h)
    for _ in range(4):
        rows, resid = [], []
        for j in range(L // 2):
            shifted_fwd = np.concatenate([h[2 * j :], np.zeros(2 * j)])
            shifted_bwd = np.concatenate([np.zeros(2 * j), h[: L - 2 * j]])
            rows.append(shifted_fwd + shifted_bwd)
            resid.append(np.dot(h[2 * j :], h[: L - 2 * j]) - (1.0 if j == 0 else 0.0))
        step = np.linalg.lstsq(np.array(rows), -np.array(resid), rcond=None)[0]
        h = h + step
    return h.tolist()


def _orthonormality_defect(h: list[float]) -> float:
    L = len(h)
    return max(
        abs(sum(h[k] * h[k + 2 * j] for k in range(L - 2 * j)) - (1.0 if j == 0 else 0.0))
        for j in range(L // 2)
    )


def _orthogonal_filters(wavelet: str) -> tuple[list[float], list[float]]:
    """Low- and high-pass analysis filters of an orthonormal wavelet, exact to machine precision."""
    import pywt

    if not isinstance(wavelet, str):
        raise TypeError(f"wavelet must be a name such as 'haar', 'db4' or 'sym8'; got {wavelet!r}")
    try:
        w = pywt.Wavelet(wavelet)
    except ValueError:
        raise ValueError(
            f"wavelet {wavelet!r} is unknown; orthonormal choices: haar, db1-db38, sym2-sym20, "
            "coif1-coif17"
        ) from None
    if not w.orthogonal:
        raise ValueError(
            f"wavelet {wavelet!r} is biorthogonal, not orthonormal; choose e.g. 'haar', 'db4', 'sym8'"
        )
    lo = list(w.dec_lo)
    if _orthonormality_defect(lo) > 1e-8:
        raise ValueError(
            f"wavelet {wavelet!r}: its stored filter is not orthonormal (defect "
            f"{_orthonormality_defect(lo):.1e}; it approximates a wavelet of infinite support); "
            "choose e.g. 'haar', 'db4', 'sym8'"
        )
    lo = _orthonormal_lowpass(lo)
    L = len(lo)
    hi = [(-1.0) ** (k + 1) * lo[L - 1 - k] for k in range(L)]  # PyWavelets' quadrature mirror
    return lo, hi


class Wavelet2D(LinearOperator):
    """Orthonormal 2-D DWT W (analysis): images (*, H, W) -> coefficients (*, H, W), W^* W = I.

    Periodized boundary (the transform is an orthogonal matrix). The coefficients are laid out
    as in Mallat's pyramid (``pywt.coeffs_to_array``): the approximation in the top-left
    (H / 2^L) x (W / 2^L) block, and at each level the details 'ad' (right), 'da' (below) and
    'dd' (diagonal). ``level_index`` gives each coefficient's level: 0 for the approximation,
    1 for the coarsest details, ..., L for the finest. H and W must be divisible by 2^L.
    Reference: S. Mallat, "A Wavelet Tour of Signal Processing", ch. 7.
    """

    def __init__(
        self,
        shape: Any,
        *,
        wavelet: str = "db4",
        levels: int = 4,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ):
        shape = check_shape("shape", shape, ndim=2)
        levels = check_int("levels", levels, minimum=0)
        dtype = check_float_dtype("dtype", dtype)
        if dtype.is_complex:
            raise TypeError(f"dtype must be real (wavelet filters are real); got {dtype}")
        H, W = shape
        if H % 2**levels or W % 2**levels:
            raise ValueError(
                f"shape {shape} is not divisible by 2^levels = {2**levels}; pick levels so that "
                f"both sides are multiples of 2^levels (an orthonormal periodized DWT needs it)"
            )
        lo, hi = _orthogonal_filters(wavelet)
        self.wavelet, self.levels = wavelet, levels
        self.in_shape = self.out_shape = shape
        self.dtype, self.device = dtype, torch.device(device)
        L = len(lo)
        self.filter_length = L
        # a[k] = sum_j h[j] x[(2k + L/2 - j) mod n]: windows of length L starting at 2k + 1 - L/2,
        # taken against the reversed filters (columns: low-pass, high-pass).
        self.filters = torch.tensor([lo[::-1], hi[::-1]], dtype=dtype).T.contiguous().to(self.device)
        lengths = {H >> j for j in range(levels)} | {W >> j for j in range(levels)}
        self.windows = {
            n: (torch.arange(n + L - 2) + 1 - L // 2).remainder(n).to(self.device) for n in lengths
        }
        self.level_index = self._level_index()

    # ---------------------------------------------------------------- one level, one axis
    def _analysis(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        """One level along ``dim``: x -> [low-pass | high-pass], each half the length."""
        dim = dim % x.ndim
        n, L = x.shape[dim], self.filter_length
        xp = x.index_select(dim, self.windows[n])
        win = xp.unfold(dim, L, 2)  # (..., n/2 at dim, ..., L)
        c = win @ self.filters  # (..., n/2 at dim, ..., 2)
        return c.movedim(-1, dim).flatten(dim, dim + 1)

    def _synthesis(self, c: torch.Tensor, dim: int) -> torch.Tensor:
        """Adjoint (= inverse) of ``_analysis`` along ``dim``."""
        dim = dim % c.ndim
        n, L = c.shape[dim], self.filter_length
        g = c.unflatten(dim, (2, n // 2)).movedim(dim, -1) @ self.filters.T  # (..., n/2, ..., L)
        shape = list(c.shape)
        shape[dim] = n + L - 2
        xp = torch.zeros(shape, dtype=c.dtype, device=c.device)
        lead = (slice(None),) * dim
        for i in range(L):  # overlap-add: window k covers positions 2k .. 2k + L - 1
            xp[lead + (slice(i, i + n - 1, 2),)] += g[..., i]
        out = torch.zeros(c.shape, dtype=c.dtype, device=c.device)
        return out.index_add(dim, self.windows[n], xp)

    # ---------------------------------------------------------------- pyramid
    def _pyramid(self, x: torch.Tensor, level: int) -> torch.Tensor:
        if level == self.levels:
            return x
        t = self._analysis(self._analysis(x, -1), -2)
        h, w = t.shape[-2] // 2, t.shape[-1] // 2
        top = torch.cat([self._pyramid(t[..., :h, :w], level + 1), t[..., :h, w:]], dim=-1)
        return torch.cat([top, t[..., h:, :]], dim=-2)

    def _inverse_pyramid(self, c: torch.Tensor, level: int) -> torch.Tensor:
        if level == self.levels:
            return c
        h, w = c.shape[-2] // 2, c.shape[-1] // 2
        top = torch.cat([self._inverse_pyramid(c[..., :h, :w], level + 1), c[..., :h, w:]], dim=-1)
        t = torch.cat([top, c[..., h:, :]], dim=-2)
        return self._synthesis(self._synthesis(t, -2), -1)

    def _forward(self, x):
        if x.is_complex():
            return torch.complex(self._pyramid(x.real, 0), self._pyramid(x.imag, 0))
        return self._pyramid(x, 0)

    def _adjoint(self, c):
        if c.is_complex():
            return torch.complex(self._inverse_pyramid(c.real, 0), self._inverse_pyramid(c.imag, 0))
        return self._inverse_pyramid(c, 0)

    def _exact_norm(self) -> float:
        return 1.0

    # ---------------------------------------------------------------- levels
    def _level_index(self) -> torch.Tensor:
        H, W = self.in_shape
        idx = torch.zeros((H, W), dtype=torch.long)
        for step in range(self.levels):  # step 0 is the finest decomposition
            h, w = H >> step, W >> step
            idx[:h, :w] = self.levels - step
        idx[: H >> self.levels, : W >> self.levels] = 0
        return idx.to(self.device)

    def __repr__(self) -> str:
        return f"Wavelet2D(shape={self.in_shape}, wavelet={self.wavelet!r}, levels={self.levels})"
