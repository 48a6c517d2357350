"""SigPy's MRI apps for single-coil 2-D MRI, on the samples of ``Fourier2D``, and what they minimise.

What they minimise (verified in tests/test_cs_tools.py; SigPy 0.1.27):

- ``mri.app.L1WaveletRecon`` (accelerated proximal gradient, step 1 / (power-method estimate of
  ||A||^2), ``max_iter`` iterations): nominally 1/2 ||A x - y||^2 + lam ||W x||_1 with W =
  PyWavelets ``wavedecn`` in mode 'zero' at the maximal level (all bands, approximation included,
  ``cs_objectives.sigpy_wavelet_l1``). For db4 that W is redundant: W^H W = I but W W^H != I, so
  the prox it applies, W^H soft(W v), is not the exact prox and the iterates need not minimise
  that objective (on 256 x 256 cameraman the PSNR peaks near 50 iterations, then decays to 26 dB
  by 3200, below the zero-filled 28.5 dB; it decays without acceleration too). For Haar on
  power-of-two sides W is the orthonormal periodized Haar at full depth (down to 1 x 1, unlike
  BART's 8 x 8) and the objective is exact.
- ``mri.app.TotalVariationRecon`` (primal-dual hybrid gradient, ``max_iter`` iterations):
  1/2 ||A x - y||^2 + lam TV_aniso(x), the *anisotropic* TV (|D_0 x| + |D_1 x| per pixel)
  with periodic differences (``cs_objectives.tv_anisotropic``).

Reference: Ong and Lustig, "SigPy: a python package for high performance iterative
reconstruction", ISMRM 2019. SigPy loads inside the runners.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from cs_kspace import as_mask, zero_filled_kspace


def _sigpy_data(y_kspace: Any, mask: Any, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = as_mask(mask)
    y = zero_filled_kspace(y_kspace, m).astype(dtype)[None]
    mps = np.ones(y.shape, dtype=dtype)
    return y, mps, m.astype(np.float64 if dtype == np.complex128 else np.float32)


def sigpy_zero_filled(y_kspace: Any, mask: Any) -> np.ndarray:
    """SigPy's adjoint A^* y of the single-coil Sense operator (weights = mask, maps = 1), complex128."""
    import sigpy.mri as mr

    y, mps, w = _sigpy_data(y_kspace, mask, np.complex128)
    A = mr.linop.Sense(mps, weights=w)
    return np.asarray(A.H(y * w**0.5))


def sigpy_l1wavelet(
    y_kspace: Any, mask: Any, *, lam: float, iters: int, wave_name: str = "db4", dtype=np.complex64
) -> tuple[np.ndarray, float]:
    """SigPy ``mri.app.L1WaveletRecon`` (min 1/2 ||A x - y||^2 + lam ||W x||_1) and its seconds.

    Maps 1, weights = mask, ``max_iter=iters``; seconds include SigPy's power iteration for the
    step. dtype: SigPy's working precision (complex64 like BART, or complex128).
    Reference: Ong and Lustig, SigPy, ISMRM 2019; Lustig, Donoho, Pauly, MRM 58 (2007).
    """
    import sigpy.mri as mr

    y, mps, w = _sigpy_data(y_kspace, mask, dtype)
    t0 = time.perf_counter()
    app = mr.app.L1WaveletRecon(y, mps, lam, weights=w, wave_name=wave_name, max_iter=iters, show_pbar=False)
    image = app.run()
    seconds = time.perf_counter() - t0
    return np.asarray(image, dtype=np.complex128), seconds


def sigpy_tv(
    y_kspace: Any, mask: Any, *, lam: float, iters: int, dtype=np.complex64
) -> tuple[np.ndarray, float]:
    """SigPy ``mri.app.TotalVariationRecon`` (min 1/2 ||A x - y||^2 + lam TV_aniso(x), PDHG) and its seconds.

    Maps 1, weights = mask, ``max_iter=iters``. Reference: Block, Uecker, Frahm, MRM 57 (2007);
    Ong and Lustig, SigPy, ISMRM 2019.
    """
    import sigpy.mri as mr

    y, mps, w = _sigpy_data(y_kspace, mask, dtype)
    t0 = time.perf_counter()
    app = mr.app.TotalVariationRecon(y, mps, lam, weights=w, max_iter=iters, show_pbar=False)
    image = app.run()
    seconds = time.perf_counter() - t0
    return np.asarray(image, dtype=np.complex128), seconds
