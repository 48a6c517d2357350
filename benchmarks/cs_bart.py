"""BART ``pics`` for single-coil (and multi-coil) 2-D MRI: its files, its runs, and what it minimises.

What ``pics`` minimises (verified in tests/test_cs_tools.py; BART v0.8.00):

- ``pics -l1 -r lam`` (FISTA, step 0.95, ``-i`` = FISTA iterations):
  1/2 ||P F_c x - y||^2 + lam ||W x||_1 over complex x, W the multi-level wavelet transform with
  *every* band thresholded (the coarsest approximation included); levels per axis: halve while the
  band is >= 16 long (a 256 side gets 5 levels, coarsest 8). ``--wavelet haar`` with ``-n`` is the
  orthonormal periodized Haar (``cs_objectives.haar_l1(x, bart_haar_levels(shape))``); the default
  Daubechies-2 uses half-sample symmetric extension (a redundant, non-orthonormal frame) and,
  without ``-n``, a new random cycle shift of the wavelet grid every iteration (the shift sequence
  is seeded, so runs repeat exactly), so there is no fixed objective: the PSNR never settles (on
  256 x 256 Shepp-Logan it peaks near 800 iterations and then drifts down) and the best lam depends
  on -i. BART's FISTA loop ends with a gradient step: the image it writes is
  z = v + s A^*(y - A v) (v the extrapolated iterate, s = 0.95), not a thresholded iterate;
  ``bart_undo_gradient_step`` recovers v.
- ``pics -R T:3:0:lam`` (ADMM, rho 0.5, over-relaxation 1.6, at most 10 CG steps per
  iteration, ``-i`` = ADMM iterations): 1/2 ||P F_c x - y||^2 + lam TV_iso(x), TV_iso the
  isotropic total variation with periodic differences (``cs_objectives.tv_isotropic``).
- Without ``-w 1`` BART divides y by a scale c (the 90th percentile of the image of the fully
  sampled k-space centre) and, with ``-S``, multiplies the result back: lam then acts as lam * c.
- BART centres odd sides differently (fftmod): on an odd side pics' image comes back rolled by one
  pixel and multiplied by a global phase, so ``bart_pics`` refuses odd sides (``bart fft -u``
  itself agrees with F_c on odd sides).

Reference: Uecker et al., "Berkeley Advanced Reconstruction Toolbox", ISMRM 2015.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cs_kspace import as_complex128, as_mask, as_numpy, zero_filled_kspace
from firenets.operators import fft2c, ifft2c

BART_FISTA_STEP = 0.95  # pics' default FISTA step (-s)
REGULARISERS = ("l1-wavelet", "tv")
BART_WAVELETS = ("dau2", "haar", "cdf44")


def bart_available() -> bool:
    """True when the ``bart`` executable is on PATH."""
    return shutil.which("bart") is not None


def write_cfl(base: str | os.PathLike, array: Any) -> None:
    """Write ``base``.cfl (complex64, column-major) and ``base``.hdr (dims, at least 4) for BART.

    Array axis i is BART dimension i, so an image (H, W) is BART's [x = H, y = W]; BART's own
    ``fft -u 3`` of it is then F_c x (checked in the tests).
    """
    a = as_numpy(array)
    dims = list(a.shape) + [1] * max(0, 4 - a.ndim)
    Path(f"{base}.hdr").write_text("# Dimensions\n" + " ".join(str(d) for d in dims) + "\n")
    np.asarray(a, dtype=np.complex64).ravel(order="F").tofile(f"{base}.cfl")


def read_cfl(base: str | os.PathLike) -> np.ndarray:
    """Read a BART ``base``.cfl/.hdr pair as a complex64 array, trailing singleton dims dropped."""
    lines = [ln for ln in Path(f"{base}.hdr").read_text().splitlines() if ln.strip()]
    dims = [int(d) for d in lines[lines.index("# Dimensions") + 1].split()]
    data = np.fromfile(f"{base}.cfl", dtype=np.complex64, count=math.prod(dims))
    while len(dims) > 2 and dims[-1] == 1:
        dims.pop()
    return data.reshape(dims, order="F")


def bart_environment(threads: int) -> dict[str, str]:
    """os.environ with OMP_NUM_THREADS=threads and OMP_WAIT_POLICY=PASSIVE (no spinning barriers)."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(int(threads))
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


def bart(*args: str, cwd: str | os.PathLike | None = None, threads: int = 1) -> subprocess.CompletedProcess:
    """Run ``bart *args`` (checked), its output captured as text."""
    if not bart_available():
        raise RuntimeError("bart is not on PATH (Debian package 'bart')")
    proc = subprocess.run(
        ["bart", *args], cwd=cwd, env=bart_environment(threads), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bart {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def bart_centred_fft(image: Any) -> np.ndarray:
    """BART's unitary centred FFT ``bart fft -u 3`` of an (H, W) image, as complex64 (H, W)."""
    with tempfile.TemporaryDirectory(prefix="bart_fft_") as tmp:
        write_cfl(Path(tmp) / "x", image)
        bart("fft", "-u", "3", "x", "k", cwd=tmp)
        return read_cfl(Path(tmp) / "k")


@dataclass
class BartResult:
    """A ``bart pics`` run: image (complex128 (H, W)), wall seconds of the call, BART's own timing."""

    image: np.ndarray
    seconds: float
    bart_seconds: float | None  # BART's "Total Time" (it includes reading and writing the files)
    scaling: float | None  # the data scale c BART estimated (None with -w 1)
    command: list[str] = field(default_factory=list)
    output: str = ""


def bart_pics_command(
    *,
    lam: float,
    iters: int,
    regulariser: str = "l1-wavelet",
    wavelet: str = "dau2",
    shifts: bool = True,
    scale: bool = False,
    step: float | None = None,
    rho: float | None = None,
    cg_iters: int | None = None,
) -> list[str]:
    """The ``bart pics`` argument list (without file names) for the options of ``bart_pics``."""
    if regulariser not in REGULARISERS:
        raise ValueError(f"regulariser must be one of {REGULARISERS}; got {regulariser!r}")
    if wavelet not in BART_WAVELETS:
        raise ValueError(f"wavelet must be one of {BART_WAVELETS}; got {wavelet!r}")
    if not (isinstance(iters, int) and iters >= 1):
        raise ValueError(f"iters must be a positive int; got {iters!r}")
    if not (lam >= 0 and math.isfinite(lam)):
        raise ValueError(f"lam must be finite and >= 0; got {lam}")
    cmd = ["pics", "-d", "3", "-i", str(iters)]  # -d 3 prints the estimated scale and the total time
    if regulariser == "l1-wavelet":
        cmd += ["-l1", "-r", repr(float(lam)), "--wavelet", wavelet]
        if not shifts:
            cmd.append("-n")
        if step is not None:
            cmd += ["-s", repr(float(step))]
    else:
        cmd += ["-R", f"T:3:0:{float(lam)!r}"]  # finite differences along dims 0 and 1, isotropic
        if rho is not None:
            cmd += ["-u", repr(float(rho))]
        if cg_iters is not None:
            cmd += ["-C", str(int(cg_iters))]
    cmd += ["-S"] if scale else ["-w", "1"]
    return cmd


def bart_pics_run(kspace: Any, mask: Any, *, lam: float, iters: int, regulariser: str = "l1-wavelet",
                  wavelet: str = "dau2", shifts: bool = True, scale: bool = False, threads: int = 2,
                  step: float | None = None, rho: float | None = None, cg_iters: int | None = None,
                  maps: Any = None) -> BartResult:
    """``bart pics`` on Cartesian data with timing; see ``bart_pics``. Single-coil (maps 1, pattern =
    mask), or with ``maps`` (coils, H, W) multi-coil: ``kspace`` is then (coils, m) samples or the
    (coils, H, W) grid, and BART's coil dimension (3) holds the coils."""
    m = as_mask(mask)
    H, W = m.shape
    if maps is None:
        full = zero_filled_kspace(kspace, m).reshape(H, W, 1, 1)
        sens = np.ones((H, W, 1, 1))
    else:
        mp = as_numpy(maps)
        k = as_numpy(kspace)
        C = mp.shape[0]
        grid = np.zeros((C, H, W), dtype=np.complex128)
        if k.ndim == 2:  # (coils, m) samples in the mask's row-major order
            grid.reshape(C, -1)[:, m.reshape(-1)] = k
        else:
            grid[:, m] = k[:, m]
        full = np.moveaxis(grid, 0, -1).reshape(H, W, 1, C)
        sens = np.moveaxis(mp, 0, -1).reshape(H, W, 1, C)
    if H % 2 or W % 2:
        # pics' fftmod centring differs from fftshift on odd sides: its image comes back rolled
        # by one pixel along each odd axis, times a global phase (measured with BART v0.8.00)
        raise ValueError(f"bart_pics needs even sides (BART centres odd sides differently); got {(H, W)}")
    cmd = bart_pics_command(lam=lam, iters=iters, regulariser=regulariser, wavelet=wavelet, shifts=shifts, scale=scale,
                            step=step, rho=rho, cg_iters=cg_iters)
    cmd += ["-p", "pat", "ksp", "sens", "out"]
    if not bart_available():
        raise RuntimeError("bart is not on PATH (Debian package 'bart')")
    with tempfile.TemporaryDirectory(prefix="bart_pics_") as tmp:
        write_cfl(Path(tmp) / "ksp", full)
        write_cfl(Path(tmp) / "sens", sens)
        # an explicit pattern: BART would otherwise take the mask from the nonzero samples
        write_cfl(Path(tmp) / "pat", m.astype(np.float32).reshape(H, W, 1, 1))
        env = bart_environment(threads)
        t0 = time.perf_counter()
        proc = subprocess.run(["bart", *cmd], cwd=tmp, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(
                f"bart {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        image = read_cfl(Path(tmp) / "out").reshape(H, W).astype(np.complex128)
    text = proc.stdout + proc.stderr
    total = re.search(r"Total Time:\s*([0-9.eE+-]+)", text)
    scaling = re.search(r"Inverse scaling of the data:\s*([0-9.eE+-]+)", text)
    return BartResult(
        image=image,
        seconds=seconds,
        bart_seconds=float(total.group(1)) if total else None,
        scaling=float(scaling.group(1)) if (scaling and scale) else None,
        command=["bart", *cmd],
        output=text,
    )


def bart_pics(kspace: Any, mask: Any, *, lam: float, iters: int, regulariser: str = "l1-wavelet",
              wavelet: str = "dau2", shifts: bool = True, scale: bool = False, threads: int = 2
              ) -> tuple[np.ndarray, float]:
    """BART pics reconstruction and the wall seconds of the ``pics`` call: (complex128 (H, W), seconds).

    regulariser "l1-wavelet": ``-l1 -r lam --wavelet WAVELET`` (FISTA; ``-n`` when shifts=False);
    "tv": ``-R T:3:0:lam`` (ADMM, isotropic periodic TV). scale=False passes ``-w 1`` (lam absolute:
    1/2 ||P F_c x - y||^2 + lam R(x)); scale=True lets BART scale the data and undoes it with ``-S``.
    Reference: Uecker et al., BART, ISMRM 2015; the objectives are in this module's docstring.
    """
    r = bart_pics_run(kspace, mask, lam=lam, iters=iters, regulariser=regulariser, wavelet=wavelet, shifts=shifts,
                      scale=scale, threads=threads)
    return r.image, r.seconds


def bart_undo_gradient_step(image: Any, kspace: Any, mask: Any, step: float = BART_FISTA_STEP) -> np.ndarray:
    """The FISTA point v of BART's output z = v + s A^*(y - A v): F_c v = (F_c z - s y) / (1 - s) on M.

    Off the mask F_c v = F_c z. (BART's FISTA loop ends with the gradient step, so v, not z, is the
    iterate whose threshold is the next FISTA iterate.) Requires step < 1.
    """
    if not 0 < step < 1:
        raise ValueError(f"step must be in (0, 1); got {step}")
    m = as_mask(mask)
    y = zero_filled_kspace(kspace, m)
    k = fft2c(as_complex128(image))
    k[m] = (k[m] - step * y[m]) / (1 - step)
    return ifft2c(k)
