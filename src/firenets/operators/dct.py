"""The orthonormal DCT-II as an operator, computed with one FFT (Makhoul's reordering)."""

from __future__ import annotations

import math

import torch

from .._validation import check_float_dtype, check_int
from .base import LinearOperator


class DCT(LinearOperator):
    """Orthonormal DCT-II along the last axis: (C x)_k = s_k sqrt(2/n) sum_j x_j cos(pi k (2j+1) / 2n).

    s_0 = 1/sqrt(2), s_k = 1 otherwise; equal to ``scipy.fft.dct(x, type=2, norm="ortho")``.
    C is orthogonal, so the adjoint is its inverse, the orthonormal DCT-III.
    Reference: J. Makhoul, "A fast cosine transform in one and two dimensions", IEEE TASSP 1980.
    """

    unitary = True

    def __init__(self, n: int, *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu"):
        n = check_int("n", n, minimum=1)
        dtype = check_float_dtype("dtype", dtype)
        if dtype.is_complex:
            raise TypeError(f"dtype must be real (the DCT matrix is real); got {dtype}")
        self.n = n
        self.in_shape = self.out_shape = (n,)
        self.dtype, self.device = dtype, torch.device(device)
        k = torch.arange(n, dtype=dtype)
        # orthonormal scaling (times Makhoul's factor 2) and the twiddle e^{-i pi k / 2n}
        scale = torch.full((n,), math.sqrt(2.0 / n), dtype=dtype)
        scale[0] = math.sqrt(1.0 / n)
        self.scale = scale.to(self.device)
        self.twiddle = torch.polar(torch.ones(n, dtype=dtype), -math.pi * k / (2 * n)).to(self.device)
        # Makhoul's permutation: v = [x_0, x_2, x_4, ..., x_5, x_3, x_1]
        perm = torch.cat([torch.arange(0, n, 2), torch.arange(1, n, 2).flip(0)])
        self.perm = perm.to(self.device)
        self.inverse_perm = torch.argsort(perm).to(self.device)

    def _real_forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x.index_select(-1, self.perm)
        return torch.real(torch.fft.fft(v, dim=-1) * self.twiddle) * self.scale

    def _real_adjoint(self, c: torch.Tensor) -> torch.Tensor:
        # with u = c / scale: e^{-i pi k/2n} V_k = u_k - i u_{n-k}, where u_n = 0
        u = c / self.scale
        u_rev = torch.cat([torch.zeros_like(u[..., :1]), u.flip(-1)[..., : self.n - 1]], dim=-1)
        V = torch.complex(u, -u_rev) * torch.conj(self.twiddle)
        v = torch.real(torch.fft.ifft(V, dim=-1))
        return v.index_select(-1, self.inverse_perm)

    def _forward(self, x):
        if x.is_complex():
            return torch.complex(self._real_forward(x.real), self._real_forward(x.imag))
        return self._real_forward(x)

    def _adjoint(self, y):
        if y.is_complex():
            return torch.complex(self._real_adjoint(y.real), self._real_adjoint(y.imag))
        return self._real_adjoint(y)

    def _exact_norm(self) -> float:
        return 1.0

    def matrix(self) -> torch.Tensor:
        """The n x n DCT-II matrix from its closed form (used as an independent check)."""
        n = self.n
        k = torch.arange(n, dtype=torch.float64)[:, None]
        j = torch.arange(n, dtype=torch.float64)[None, :]
        C = math.sqrt(2.0 / n) * torch.cos(math.pi * k * (2 * j + 1) / (2 * n))
        C[0] /= math.sqrt(2.0)
        return C.to(self.dtype).to(self.device)

