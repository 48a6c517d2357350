"""Subsampled centred orthonormal 2-D Fourier transform: the single-coil MRI measurement model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from .._validation import as_tensor, check_finite, check_float_dtype, complex_dtype
from .base import LinearOperator

if TYPE_CHECKING:
    import numpy as np

_DIMS = (-2, -1)


def fft2c(x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """F_c x = fftshift(fft2(ifftshift(x), norm="ortho")) over the last two axes: the centred
    orthonormal 2-D DFT (k-space centre at (H//2, W//2), as fastMRI). A tensor by torch.fft, a NumPy
    array (file I/O) by numpy.fft, each returning its own kind."""
    return _centred(x, inverse=False)


def ifft2c(k: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """F_c^* k = fftshift(ifft2(ifftshift(k), norm="ortho")) over the last two axes: the inverse (and
    adjoint) of ``fft2c``, F_c^* F_c = I. A tensor by torch.fft, a NumPy array by numpy.fft."""
    return _centred(k, inverse=True)


def _centred(x: Any, *, inverse: bool) -> Any:
    if isinstance(x, torch.Tensor):
        transform = torch.fft.ifft2 if inverse else torch.fft.fft2
        return torch.fft.fftshift(transform(torch.fft.ifftshift(x, dim=_DIMS), norm="ortho"), dim=_DIMS)
    import numpy as np

    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a torch.Tensor or numpy.ndarray; got {type(x).__name__}")
    transform = np.fft.ifft2 if inverse else np.fft.fft2
    return np.fft.fftshift(transform(np.fft.ifftshift(x, axes=_DIMS), axes=_DIMS, norm="ortho"), axes=_DIMS)


def _as_mask(mask: Any) -> torch.Tensor:
    if isinstance(mask, tuple) and hasattr(mask, "mask"):  # a masks.SamplingMask
        mask = mask.mask
    if not isinstance(mask, torch.Tensor):
        try:
            import numpy as np
        except ImportError:  # pragma: no cover
            np = None
        if np is not None and isinstance(mask, np.ndarray):
            mask = torch.from_numpy(np.ascontiguousarray(mask))
        else:
            raise TypeError(f"mask must be a boolean torch.Tensor or numpy array; got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be boolean; got dtype {mask.dtype} (use mask != 0 explicitly)")
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W); got shape {tuple(mask.shape)}")
    if not bool(mask.any()):
        raise ValueError("mask is empty: it selects no k-space sample")
    return mask


class Fourier2D(LinearOperator):
    """A = P_M F_c: centred orthonormal 2-D DFT, then the samples where ``mask`` is True.

    F_c x = fftshift(fft2(ifftshift(x), norm="ortho")) (``fft2c``), so the k-space centre sits at index
    (H//2, W//2) as in fastMRI. A maps (*, H, W) images to (*, m) sample vectors, m = mask.sum(),
    in row-major order of the mask; A^* zero-fills the other frequencies and inverts. A A^* = I,
    so ||A|| = 1.
    """

    def __init__(
        self,
        mask: Any,
        *,
        dtype: torch.dtype = torch.complex128,
        device: torch.device | str | None = None,
    ):
        mask = _as_mask(mask)
        dtype = complex_dtype(check_float_dtype("dtype", dtype))
        self.device = torch.device(device) if device is not None else mask.device
        self.mask = mask.to(self.device)
        self.index = torch.nonzero(self.mask.reshape(-1), as_tuple=False).reshape(-1)
        self.in_shape = tuple(mask.shape)
        self.out_shape = (int(self.index.numel()),)
        self.dtype = dtype
        H, W = self.in_shape
        if H % 2 == 0 and W % 2 == 0:
            # even sides: the shifts are modulations and re-indexings, F_c x [k] =
            # (-1)^(k1 - H/2 + k2 - W/2) fft2(x)[(k1 - H/2) mod H, (k2 - W/2) mod W], so A samples
            # the plain fft2 at shifted indices with signs s_out, and A^* zero-fills and inverts it
            rdt = torch.float64 if dtype == torch.complex128 else torch.float32
            i = torch.arange(H).reshape(-1, 1)
            j = torch.arange(W).reshape(1, -1)
            self.sign_in = (1 - 2 * ((i + j) % 2)).to(rdt).to(self.device)
            sign_out = (1 - 2 * ((i - H // 2 + j - W // 2) % 2)).to(rdt).reshape(-1)
            self.sign_out = sign_out.to(self.device).index_select(0, self.index)
            self.sign_out_full = sign_out.reshape(H, W).to(self.device)
            k1, k2 = self.index.cpu() // W, self.index.cpu() % W
            self.fft_index = (((k1 - H // 2) % H) * W + (k2 - W // 2) % W).to(self.device)
        else:
            self.sign_in = self.sign_out = self.sign_out_full = self.fft_index = None

    def in_precision(self, dtype: torch.dtype) -> Fourier2D:
        """The same operator in ``dtype`` (complex64 or complex128; itself when it has that dtype)."""
        dtype = complex_dtype(check_float_dtype("dtype", dtype))
        return self if dtype == self.dtype else Fourier2D(self.mask, dtype=dtype, device=self.device)

    @property
    def rate(self) -> float:
        """Fraction of k-space sampled, m / (H W)."""
        return self.out_shape[0] / (self.in_shape[0] * self.in_shape[1])

    def kspace(self, x: torch.Tensor) -> torch.Tensor:
        """The full centred k-space F_c x of images x (*, H, W)."""
        x = self._check("x", x, self.in_shape)
        if self.sign_in is not None:
            return torch.fft.fft2(x * self.sign_in, norm="ortho") * self.sign_out_full
        return fft2c(x)

    def _forward(self, x):
        if self.fft_index is not None:
            k = torch.fft.fft2(x, norm="ortho")
            return k.reshape(*k.shape[:-2], -1).index_select(-1, self.fft_index) * self.sign_out
        k = fft2c(x)
        return k.reshape(*k.shape[:-2], -1).index_select(-1, self.index)

    def zero_filled(self, y: torch.Tensor) -> torch.Tensor:
        """k-space of shape (*, H, W) with y at the sampled frequencies and zeros elsewhere."""
        y = self._check("y", y, self.out_shape)
        return self._zero_fill(y)

    def _zero_fill(self, y: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        H, W = self.in_shape
        full = torch.zeros(*y.shape[:-1], H * W, dtype=y.dtype, device=y.device)
        full.index_copy_(-1, self.index if index is None else index, y)  # a fresh tensor: in place
        return full.reshape(*y.shape[:-1], H, W)

    def _adjoint(self, y):
        if self.fft_index is not None:
            return torch.fft.ifft2(self._zero_fill(y * self.sign_out, self.fft_index), norm="ortho")
        return ifft2c(self._zero_fill(y))

    def _exact_norm(self) -> float:
        return 1.0

    def gram_symbol(self) -> torch.Tensor:
        """A^* A = F^{-1} diag(s) F with s the mask moved to fft2 order (ifftshift): a Fourier projection."""
        return torch.fft.ifftshift(self.mask, dim=(-2, -1)).to(torch.float64 if self.dtype == torch.complex128 else torch.float32)


class MultiCoilFourier(LinearOperator):
    """SENSE: A x = (P_M F_c (S_c x))_{c=1..C}, the samples of every receive coil.

    ``maps`` (C, H, W) complex are the coil sensitivities S_c, ``mask`` (H, W) the k-space locations
    sampled (the same for every coil). A maps (*, H, W) images to (*, C, m) samples (m = mask.sum(),
    row-major order of the mask, as ``Fourier2D``); A^* y = sum_c conj(S_c) F_c^* P_M^* y_c. One coil
    with S = 1 is ``Fourier2D``. ||A||^2 <= max over pixels of sum_c |S_c|^2 (``bound``), with
    equality when every k-space location is sampled (then A^* A = diag(sum_c |S_c|^2)) or the maps are
    constant; under subsampling ``norm()`` computes ||A|| by power iteration. Pruessmann et al.,
    MRM 42, 1999 (REFERENCE section 9).
    """

    def __init__(
        self,
        maps: Any,
        mask: Any,
        *,
        dtype: torch.dtype = torch.complex128,
        device: torch.device | str | None = None,
    ):
        mask = _as_mask(mask)
        dtype = complex_dtype(check_float_dtype("dtype", dtype))
        if isinstance(maps, torch.Tensor) and not (maps.is_complex() or maps.is_floating_point()):
            raise TypeError(f"maps must be a complex tensor of shape (C, H, W); got dtype {maps.dtype}")
        maps = as_tensor("maps", maps, finite=False)
        check_finite("maps", maps)
        if maps.ndim != 3:
            raise ValueError(f"maps must have shape (coils, H, W); got {tuple(maps.shape)}")
        if tuple(maps.shape[1:]) != tuple(mask.shape):
            raise ValueError(f"maps are {tuple(maps.shape[1:])} per coil but the mask is {tuple(mask.shape)}")
        self.single = Fourier2D(mask, dtype=dtype, device=device)  # the per-coil sampling
        self.device = self.single.device
        self.mask = self.single.mask
        self.maps = maps.to(dtype=dtype, device=self.device)
        self.coils = int(maps.shape[0])
        self.in_shape = tuple(mask.shape)
        self.out_shape = (self.coils, self.single.out_shape[0])
        self.dtype = dtype

    def in_precision(self, dtype: torch.dtype) -> MultiCoilFourier:
        """The same operator in ``dtype`` (complex64 or complex128; itself when it has that dtype)."""
        dtype = complex_dtype(check_float_dtype("dtype", dtype))
        return self if dtype == self.dtype else MultiCoilFourier(self.maps, self.mask, dtype=dtype, device=self.device)

    @property
    def rate(self) -> float:
        """Fraction of k-space locations sampled (per coil), m / (H W)."""
        return self.single.rate

    def bound(self) -> float:
        """sqrt(max_pixels sum_c |S_c|^2) >= ||A||: equal when the mask is full or the maps constant."""
        return float(torch.sqrt((self.maps.abs() ** 2).sum(0).max()))

    def kspace(self, x: torch.Tensor) -> torch.Tensor:
        """The full centred k-space of every coil image, F_c (S_c x): shape (*, C, H, W)."""
        x = self._check("x", x, self.in_shape)
        return self.single.kspace(x[..., None, :, :] * self.maps)

    def coil_images(self, y: torch.Tensor) -> torch.Tensor:
        """F_c^* P_M^* y_c: each coil's zero-filled image, shape (*, C, H, W)."""
        y = self._check("y", y, self.out_shape)
        return self.single._adjoint(y)

    def _forward(self, x):
        return self.single._forward(x[..., None, :, :] * self.maps)

    def _adjoint(self, y):
        return (self.single._adjoint(y) * self.maps.conj()).sum(-3)

    def _exact_norm(self) -> float | None:
        if bool(self.mask.all()) or bool((self.maps == self.maps[..., :1, :1]).all()):
            return self.bound()
        return None

    def gram_symbol(self) -> None:
        return None  # A^* A is a Fourier multiplier only for constant maps
