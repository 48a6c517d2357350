"""Periodic finite differences: the discrete gradient of total variation."""

from __future__ import annotations

import math
from typing import Any

import torch

from .._validation import check_float_dtype, check_shape
from .base import LinearOperator


class Gradient2D(LinearOperator):
    """D x = (x[i+1, j] - x[i, j], x[i, j+1] - x[i, j]) with periodic boundary: (*, H, W) -> (*, 2, H, W).

    ``difference="backward"`` gives (x[i, j] - x[i-1, j], x[i, j] - x[i, j-1]) instead (BART's
    convention); the anisotropic total variations of the two agree, the isotropic ones pair
    different differences at a pixel.
    ||D x||_{1} over ``groups`` is total variation: isotropic (the default; per pixel the
    modulus of the pair, sqrt(|D_v x|^2 + |D_h x|^2) with complex moduli) or anisotropic
    (|D_v x| + |D_h x|). D^* D is the periodic 5-point Laplacian with the Fourier symbol
    4 sin^2(pi k / H) + 4 sin^2(pi l / W), so ||D||^2 = 8 for even sides and ker D = constants.
    Reference: L. Rudin, S. Osher, E. Fatemi, Physica D 60, 1992; A. Chambolle, J. Math.
    Imaging Vis. 20, 2004.
    """

    def __init__(
        self,
        shape: Any,
        *,
        isotropic: bool = True,
        difference: str = "forward",
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ):
        shape = check_shape("shape", shape, ndim=2)
        if min(shape) < 2:
            raise ValueError(f"shape must have both sides >= 2 for finite differences; got {shape}")
        if not isinstance(isotropic, bool):
            raise TypeError(f"isotropic must be True or False; got {isotropic!r}")
        if difference not in ("forward", "backward"):
            raise ValueError(f"difference must be 'forward' or 'backward'; got {difference!r}")
        dtype = check_float_dtype("dtype", dtype)
        if dtype.is_complex:
            raise TypeError(f"dtype must be real (differences have real coefficients); got {dtype}")
        self.difference = difference
        self.in_shape = shape
        self.out_shape = (2, *shape)
        self.isotropic = isotropic
        self.groups = (2,) if isotropic else (1, 1)
        self.dtype, self.device = dtype, torch.device(device)

    @staticmethod
    def _forward_difference(x: torch.Tensor, dim: int, out: torch.Tensor) -> None:
        """out[t] = x[t + 1] - x[t] (periodic) along dim."""
        n = x.shape[dim]
        torch.sub(x.narrow(dim, 1, n - 1), x.narrow(dim, 0, n - 1), out=out.narrow(dim, 0, n - 1))
        torch.sub(x.narrow(dim, 0, 1), x.narrow(dim, n - 1, 1), out=out.narrow(dim, n - 1, 1))

    @staticmethod
    def _backward_difference(g: torch.Tensor, dim: int, out: torch.Tensor) -> None:
        """out[t] = g[t - 1] - g[t] (periodic) along dim: the adjoint of the forward difference."""
        n = g.shape[dim]
        torch.sub(g.narrow(dim, 0, n - 1), g.narrow(dim, 1, n - 1), out=out.narrow(dim, 1, n - 1))
        torch.sub(g.narrow(dim, n - 1, 1), g.narrow(dim, 0, 1), out=out.narrow(dim, 0, 1))

    def _forward(self, x):
        out = torch.empty(*x.shape[:-2], 2, *self.in_shape, dtype=x.dtype, device=x.device)
        # x[t] - x[t-1] = -(x[t-1] - x[t]): the backward difference is minus the forward difference's adjoint
        apply = self._forward_difference if self.difference == "forward" else self._backward_difference
        apply(x, -2, out[..., 0, :, :])
        apply(x, -1, out[..., 1, :, :])
        return out if self.difference == "forward" else out.neg_()

    def _adjoint(self, g):
        out = torch.empty(*g.shape[:-3], *self.in_shape, dtype=g.dtype, device=g.device)
        apply = self._backward_difference if self.difference == "forward" else self._forward_difference
        apply(g[..., 0, :, :], -2, out)
        tmp = torch.empty_like(out)
        apply(g[..., 1, :, :], -1, tmp)
        out.add_(tmp)
        return out if self.difference == "forward" else out.neg_()

    def gram_symbol(self) -> torch.Tensor:
        """4 sin^2(pi k / H) + 4 sin^2(pi l / W) on the DFT grid (fft2 order)."""
        H, W = self.in_shape
        k = torch.arange(H, dtype=torch.float64).reshape(-1, 1)
        l_ = torch.arange(W, dtype=torch.float64).reshape(1, -1)
        s = 4 * torch.sin(math.pi * k / H) ** 2 + 4 * torch.sin(math.pi * l_ / W) ** 2
        return s.to(self.dtype).to(self.device)

    def __repr__(self) -> str:
        extra = "" if self.difference == "forward" else ", difference='backward'"
        return f"Gradient2D(shape={self.in_shape}, isotropic={self.isotropic}{extra})"
