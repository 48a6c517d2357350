"""Orthonormal 2-D discrete wavelet transform with periodic boundary, in torch.

The filters come from PyWavelets; the transform itself is written here in torch so that it is
batched, differentiable and runs on any device. Coefficients equal
``pywt.coeffs_to_array(pywt.wavedec2(x, wavelet, mode="periodization", level=levels))``.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from .._validation import check_float_dtype, check_int, check_shape, complex_dtype
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


def _level_matrix(lo: list[float], hi: list[float], n: int, dtype: torch.dtype) -> torch.Tensor:
    """One periodized analysis level as a sparse n x n matrix: rows [low-pass; high-pass].

    a_k = sum_j lo_j x_{(2k + L/2 - j) mod n} and d_k = sum_j hi_j x_{(2k + L/2 - j) mod n}, the
    convention of PyWavelets' "periodization" mode; entries that wrap onto the same column
    (filters longer than n) are added.
    """
    L = len(lo)
    k = torch.arange(n // 2).repeat_interleave(L)
    j = torch.arange(L).repeat(n // 2)
    cols = (2 * k + L // 2 - j).remainder(n)
    rows = torch.cat([k, k + n // 2])
    vals = torch.cat([torch.tensor(lo, dtype=dtype)[j], torch.tensor(hi, dtype=dtype)[j]])
    coo = torch.sparse_coo_tensor(
        torch.stack([rows, torch.cat([cols, cols])]), vals, (n, n), check_invariants=True
    ).coalesce()
    with warnings.catch_warnings():  # torch flags sparse CSR as beta; products with it are exact
        warnings.simplefilter("ignore", UserWarning)
        return _int32_csr(coo.to_sparse_csr())


def _check_arguments(
    shape: Any, levels: Any, dtype: Any, *, min_levels: int
) -> tuple[tuple[int, int], int, torch.dtype]:
    """(shape, levels, dtype) of a wavelet operator, checked: an image shape (H, W), an integer number
    of levels >= min_levels, and a real floating dtype (the filters are real)."""
    shape = check_shape("shape", shape, ndim=2)
    levels = check_int("levels", levels, minimum=min_levels)
    dtype = check_float_dtype("dtype", dtype)
    if dtype.is_complex:
        raise TypeError(f"dtype must be real (wavelet filters are real); got {dtype}")
    return shape, levels, dtype


def _int32_csr(m: torch.Tensor) -> torch.Tensor:
    """The same CSR matrix with int32 indices, which the sparse product would convert every call."""
    return torch.sparse_csr_tensor(m.crow_indices().int(), m.col_indices().int(), m.values(), m.shape)


class Wavelet2D(LinearOperator):
    """Orthonormal 2-D DWT W (analysis): images (*, H, W) -> coefficients (*, H, W), W^* W = I.

    Periodized boundary (the transform is an orthogonal matrix). The coefficients are laid out
    as in Mallat's pyramid (``pywt.coeffs_to_array``): the approximation in the top-left
    (H / 2^L) x (W / 2^L) block, and at each level the details 'ad' (right), 'da' (below) and
    'dd' (diagonal). ``level_index`` gives each coefficient's level: 0 for the approximation,
    1 for the coarsest details, ..., L for the finest. H and W must be divisible by 2^L.
    Reference: S. Mallat, "A Wavelet Tour of Signal Processing", ch. 7.
    """

    unitary = True

    def __init__(
        self,
        shape: Any,
        *,
        wavelet: str = "db4",
        levels: int = 4,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ):
        shape, levels, dtype = _check_arguments(shape, levels, dtype, min_levels=0)
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
        self.filter_length = len(lo)
        self.level_index = self._level_index()
        # Haar (filter length 2, lo = (s, s), hi = (-s, s), s = 1/sqrt 2): each level is a 2 x 2
        # butterfly of sums and differences on neighbouring entries, done with strided views on
        # any batch and on complex tensors directly (several times faster than sparse products)
        self._haar_filters = len(lo) == 2 and lo[0] == lo[1] == hi[1] == -hi[0]
        if self._haar_filters:
            # each level halves: the finest details carry 1/2, the approximation 2^-levels
            depth = torch.where(self.level_index == 0, levels, levels + 1 - self.level_index)
            self._haar_scale = torch.pow(0.5, depth.to(dtype)).to(self.device)
            return
        lengths = sorted({H >> j for j in range(levels)} | {W >> j for j in range(levels)})
        # one level along one axis is an orthogonal n x n matrix with 2L entries per column;
        # kept as sparse CSR matrices (and their transposes) for the sparse-dense product
        self.analysis = {n: _level_matrix(lo, hi, n, dtype).to(self.device) for n in lengths}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.synthesis = {n: _int32_csr(m.t().to_sparse_csr()) for n, m in self.analysis.items()}

    # ---------------------------------------------------------------- pyramid
    # The pyramid works on real tensors of shape (h, w, C): the C channels are the batch
    # entries (and real and imaginary parts) side by side, so that each level costs two
    # sparse-dense products however large the batch is.
    @staticmethod
    def _level(M_rows: torch.Tensor, M_cols: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Apply M_rows along axis 0 and M_cols along axis 1 of x (h, w, C)."""
        h, w, C = x.shape
        t = (M_rows @ x.reshape(h, w * C)).reshape(h, w, C).transpose(0, 1)
        return (M_cols @ t.reshape(w, h * C)).reshape(w, h, C).transpose(0, 1)

    def _pyramid(self, x: torch.Tensor, level: int) -> torch.Tensor:
        if level == self.levels:
            return x
        h, w, _ = x.shape
        t = self._level(self.analysis[h], self.analysis[w], x)
        top = torch.cat([self._pyramid(t[: h // 2, : w // 2], level + 1), t[: h // 2, w // 2 :]], dim=1)
        return torch.cat([top, t[h // 2 :]], dim=0)

    def _inverse_pyramid(self, c: torch.Tensor, level: int) -> torch.Tensor:
        if level == self.levels:
            return c
        h, w, _ = c.shape
        top = torch.cat([self._inverse_pyramid(c[: h // 2, : w // 2], level + 1), c[: h // 2, w // 2 :]], dim=1)
        return self._level(self.synthesis[h], self.synthesis[w], torch.cat([top, c[h // 2 :]], dim=0))

    def _map(self, f, x: torch.Tensor) -> torch.Tensor:
        """Apply f to x (*batch, H, W), real or complex, as one (H, W, C) real tensor."""
        H, W = self.in_shape
        batch = x.shape[:-2]
        t = torch.view_as_real(x) if x.is_complex() else x.unsqueeze(-1)  # (*batch, H, W, 1 or 2)
        t = t.reshape(-1, H, W, t.shape[-1]).permute(1, 2, 0, 3).reshape(H, W, -1)
        out = f(t, 0).reshape(H, W, -1, 2 if x.is_complex() else 1).permute(2, 0, 1, 3)
        if x.is_complex():
            return torch.view_as_complex(out.contiguous()).reshape(*batch, H, W)
        return out.reshape(*batch, H, W)

    # Haar along one axis: a_k = s (x_2k + x_2k+1), d_k = s (x_2k - x_2k+1), s = 1/sqrt 2 (the
    # periodized convention above with L = 2: nothing wraps). Over both axes, with x_pq the
    # entry (2i + p, 2j + q): aa, ad, da, dd = (S0 + S1, S0 - S1, D0 + D1, D0 - D1) / 2 with
    # S_q = x_0q + x_1q and D_q = x_0q - x_1q. The factors 1/2 of all levels are applied at the
    # end as one product with ``_haar_scale`` (2^-l on a coefficient l levels deep). Written into
    # a preallocated output (an application is one autograd node, so no graph is recorded here).
    def _haar(self, x: torch.Tensor) -> torch.Tensor:
        if self.levels == 0:
            return x.clone()
        H, W = self.in_shape
        out = torch.empty_like(x)
        cur, h, w = x, H, W
        for level in range(self.levels):
            v = cur.unflatten(-2, (h // 2, 2)).unflatten(-1, (w // 2, 2))
            x00, x01, x10, x11 = v[..., 0, :, 0], v[..., 0, :, 1], v[..., 1, :, 0], v[..., 1, :, 1]
            S0, S1, D0, D1 = x00 + x10, x01 + x11, x00 - x10, x01 - x11
            torch.sub(S0, S1, out=out[..., : h // 2, w // 2 : w])
            torch.add(D0, D1, out=out[..., h // 2 : h, : w // 2])
            torch.sub(D0, D1, out=out[..., h // 2 : h, w // 2 : w])
            if level == self.levels - 1:
                torch.add(S0, S1, out=out[..., : h // 2, : w // 2])
            else:
                cur = S0 + S1
            h, w = h // 2, w // 2
        return out.mul_(self._haar_scale)

    def _inverse_haar(self, c: torch.Tensor) -> torch.Tensor:
        # the transpose of the above: scale first, then S0, S1, D0, D1 from aa, ad, da, dd, and
        # x_0q = (S_q + D_q) / 2... with the 1/2 already in the scale
        if self.levels == 0:
            return c.clone()
        c = c * self._haar_scale
        H, W = self.in_shape
        h, w = H >> self.levels, W >> self.levels
        cur = c[..., :h, :w]
        for _ in range(self.levels):
            ad, da, dd = c[..., :h, w : 2 * w], c[..., h : 2 * h, :w], c[..., h : 2 * h, w : 2 * w]
            S0, S1, D0, D1 = cur + ad, cur - ad, da + dd, da - dd
            nxt = torch.empty(*c.shape[:-2], 2 * h, 2 * w, dtype=c.dtype, device=c.device)
            v = nxt.view(*c.shape[:-2], h, 2, w, 2)
            torch.add(S0, D0, out=v[..., 0, :, 0])
            torch.sub(S0, D0, out=v[..., 1, :, 0])
            torch.add(S1, D1, out=v[..., 0, :, 1])
            torch.sub(S1, D1, out=v[..., 1, :, 1])
            cur, h, w = nxt, 2 * h, 2 * w
        return cur

    def _forward(self, x):
        if self._haar_filters:
            return self._haar(x)
        return self._map(self._pyramid, x)

    def _adjoint(self, c):
        if self._haar_filters:
            return self._inverse_haar(c)
        return self._map(self._inverse_pyramid, c)

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


def _atrous_responses(lo: list[float], hi: list[float], n: int, levels: int) -> tuple[list, list]:
    """Per-axis DFTs (length n) of the cumulative a trous filters: approximations A_j, details D_j.

    Level j (1 = finest) filters the previous approximation with h_k / sqrt 2 at offsets
    k d - (L / 2) d, d = 2^(j-1), periodically: c[t] = sum_k h_k a[t + (L/2) d - k d] / sqrt 2,
    the convention of ``pywt.swt`` with ``norm=True``. Returns [A_1..A_L], [D_1..D_L] (complex128).
    """
    f = torch.arange(n, dtype=torch.float64)
    L = len(lo)
    prev = torch.ones(n, dtype=torch.complex128)
    approx, detail = [], []
    for j in range(1, levels + 1):
        d = 2 ** (j - 1)
        offsets = torch.tensor([k * d - (L // 2) * d for k in range(L)], dtype=torch.float64)
        phase = torch.exp(-2j * torch.pi * torch.outer(f, offsets) / n)  # (n, L)
        g_lo = phase @ torch.tensor(lo, dtype=torch.complex128) / 2**0.5
        g_hi = phase @ torch.tensor(hi, dtype=torch.complex128) / 2**0.5
        detail.append(g_hi * prev)
        prev = g_lo * prev
        approx.append(prev)
    return approx, detail


class UndecimatedWavelet2D(LinearOperator):
    """Undecimated 2-D wavelet frame B: images (*, H, W) -> coefficients (*, 3L + 1, H, W), B^* B = I.

    Each level filters the previous approximation with the orthonormal filters upsampled by
    2^(j-1) (the algorithme a trous) and divided by sqrt 2 per axis, periodically and without
    subsampling: B commutes with circular shifts (a shift-invariant regulariser) and is a tight
    frame, B^* B = I and ||B|| = 1, with 3L + 1 times as many coefficients as pixels. Channels
    as in ``pywt.swt2(x, wavelet, levels, trim_approx=True, norm=True)`` flattened: channel 0 is
    the approximation, then (da, ad, dd) details per level from the coarsest to the finest
    ('da': detail along rows (axis -2), approximation along columns). ``level_index`` gives each
    channel's level: 0 for the approximation, 1 for the coarsest details, ..., L for the finest.
    ``approximation=False`` keeps the 3L detail channels only (an l1 norm of them leaves the
    coarse image unpenalised, like total variation the constants): then B^* B = I - |a_L|^2 in
    Fourier space, a_L the approximation's response, with the constants as its kernel.
    Haar runs as sums and differences of shifted views; longer filters as Fourier multipliers.
    Reference: M. Holschneider et al. 1989 (a trous); J.-L. Starck, F. Murtagh, J. Fadili,
    "Sparse Image and Signal Processing", ch. 3; G. Nason, B. Silverman 1995 (stationary wavelets).
    """

    def __init__(
        self,
        shape: Any,
        *,
        wavelet: str = "haar",
        levels: int = 4,
        approximation: bool = True,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ):
        shape, levels, dtype = _check_arguments(shape, levels, dtype, min_levels=1)
        if not isinstance(approximation, bool):
            raise TypeError(f"approximation must be True or False; got {approximation!r}")
        H, W = shape
        if 2 ** (levels - 1) >= min(H, W):
            raise ValueError(
                f"levels = {levels} is too many for an image of shape {shape}: the coarsest filter "
                f"step 2^(levels - 1) = {2 ** (levels - 1)} must be below the shorter side {min(H, W)}"
            )
        lo, hi = _orthogonal_filters(wavelet)
        self.wavelet, self.levels, self.approximation = wavelet, levels, approximation
        self.in_shape = (H, W)
        self._first = 0 if approximation else 1  # the first channel kept (1: details only)
        self.channels = 3 * levels + 1 - self._first
        self.out_shape = (self.channels, H, W)
        self.groups = (1,) * self.channels
        self.dtype, self.device = dtype, torch.device(device)
        self.filter_length = len(lo)
        self.level_index = torch.tensor(([0] if approximation else []) + [lev for lev in range(1, levels + 1) for _ in range(3)],
                                        device=self.device)
        a0, d0 = _atrous_responses(lo, hi, H, levels)
        a1, d1 = _atrous_responses(lo, hi, W, levels)
        # B^* B = I with the approximation; without it, I - (its response)^2 (zero at the constants)
        approx = torch.outer(a0[-1], a1[-1])
        self._gram = (torch.ones(shape, dtype=torch.float64) if approximation
                      else 1 - approx.abs() ** 2).to(dtype).to(self.device)
        self._haar_filters = len(lo) == 2 and lo[0] == lo[1] == hi[1] == -hi[0]
        if self._haar_filters:  # sums and differences of shifted views (below)
            return
        rows = [approx] if approximation else []
        for j in range(levels - 1, -1, -1):  # coarsest first
            rows += [torch.outer(d0[j], a1[j]), torch.outer(a0[j], d1[j]), torch.outer(d0[j], d1[j])]
        cdt = complex_dtype(dtype)
        self._response = torch.stack(rows).to(cdt).to(self.device)  # (C, H, W), fft2 order
        self._response_conj = self._response.conj().resolve_conj()
        self._half_response = self._response[..., : W // 2 + 1].contiguous()
        self._half_response_conj = self._response_conj[..., : W // 2 + 1].contiguous()

    # ------------------------------------------------------------------ Haar: shifted views
    @staticmethod
    def _pair(a: torch.Tensor, d: int, dim: int, out_sum: torch.Tensor, out_diff: torch.Tensor) -> None:
        """out_sum = a + shift(a), out_diff = a - shift(a), shift(a)[t] = a[(t + d) mod n] along dim."""
        n = a.shape[dim]
        head, tail = a.narrow(dim, 0, n - d), a.narrow(dim, n - d, d)
        ahead, wrap = a.narrow(dim, d, n - d), a.narrow(dim, 0, d)
        torch.add(head, ahead, out=out_sum.narrow(dim, 0, n - d))
        torch.add(tail, wrap, out=out_sum.narrow(dim, n - d, d))
        torch.sub(head, ahead, out=out_diff.narrow(dim, 0, n - d))
        torch.sub(tail, wrap, out=out_diff.narrow(dim, n - d, d))

    @staticmethod
    def _unpair(p: torch.Tensor, q: torch.Tensor, d: int, dim: int, out: torch.Tensor) -> None:
        """The adjoint of (a -> (a + shift(a), a - shift(a))) applied to (P, Q) - written as
        out[t] = (P + Q)[t] + (P - Q)[t - d] with u = P + Q, v = P - Q."""
        n = p.shape[dim]
        u, v = p + q, p - q
        torch.add(u.narrow(dim, d, n - d), v.narrow(dim, 0, n - d), out=out.narrow(dim, d, n - d))
        torch.add(u.narrow(dim, 0, d), v.narrow(dim, n - d, d), out=out.narrow(dim, 0, d))

    def _haar(self, x: torch.Tensor) -> torch.Tensor:
        # every level is 1/4 of the butterflies of the previous approximation: the 1/4 is applied
        # to that (one-channel) approximation before its butterflies, never to the output channels
        H, W = self.in_shape
        L, first = self.levels, self._first
        out = torch.empty(*x.shape[:-2], self.channels, H, W, dtype=x.dtype, device=x.device)
        rows_sum = torch.empty_like(x)
        rows_diff = torch.empty_like(x)
        a = x
        for j in range(1, L + 1):
            d = 2 ** (j - 1)
            base = 1 + 3 * (L - j) - first  # channels (da, ad, dd) of level j
            self._pair(a * 0.25, d, -2, rows_sum, rows_diff)
            approx = out[..., 0, :, :] if (j == L and first == 0) else torch.empty_like(x)
            self._pair(rows_sum, d, -1, approx, out[..., base + 1, :, :])  # aa, ad
            self._pair(rows_diff, d, -1, out[..., base, :, :], out[..., base + 2, :, :])  # da, dd
            a = approx
        return out

    def _inverse_haar(self, c: torch.Tensor) -> torch.Tensor:
        H, W = self.in_shape
        L, first = self.levels, self._first
        a = c[..., 0, :, :] if first == 0 else torch.zeros(*c.shape[:-3], H, W, dtype=c.dtype, device=c.device)
        rows_sum = torch.empty_like(a)
        rows_diff = torch.empty_like(a)
        for j in range(L, 0, -1):
            d = 2 ** (j - 1)
            base = 1 + 3 * (L - j) - first
            self._unpair(a, c[..., base + 1, :, :], d, -1, rows_sum)
            self._unpair(c[..., base, :, :], c[..., base + 2, :, :], d, -1, rows_diff)
            a = torch.empty_like(rows_sum)
            self._unpair(rows_sum, rows_diff, d, -2, a)
            a.mul_(0.25)
        return a

    # ------------------------------------------------------------------ other filters: Fourier multipliers
    def _forward(self, x):
        if self._haar_filters:
            return self._haar(x)
        H, W = self.in_shape
        if x.is_complex():
            return torch.fft.ifft2(self._response * torch.fft.fft2(x).unsqueeze(-3))
        return torch.fft.irfft2(self._half_response * torch.fft.rfft2(x).unsqueeze(-3), s=(H, W))

    def _adjoint(self, c):
        if self._haar_filters:
            return self._inverse_haar(c)
        H, W = self.in_shape
        if c.is_complex():
            return torch.fft.ifft2((self._response_conj * torch.fft.fft2(c)).sum(-3))
        return torch.fft.irfft2((self._half_response_conj * torch.fft.rfft2(c)).sum(-3), s=(H, W))

    def _exact_norm(self) -> float:
        return 1.0 if self.approximation else float(self._gram.max()) ** 0.5

    def gram_symbol(self) -> torch.Tensor:
        """B^* B: 1 (a tight frame), or 1 - |a_L|^2 without the approximation channel (a_L its response)."""
        return self._gram

    def __repr__(self) -> str:
        extra = "" if self.approximation else ", approximation=False"
        return f"UndecimatedWavelet2D(shape={self.in_shape}, wavelet={self.wavelet!r}, levels={self.levels}{extra})"
