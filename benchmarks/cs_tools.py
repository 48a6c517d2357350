"""BART ``pics`` and SigPy runners for single-coil 2-D MRI, and the objectives each of them minimises.

All runners take the same samples as firenets' ``Fourier2D(mask)``: y = P_M F_c x with
F_c x = fftshift(fft2(ifftshift(x), norm="ortho")), y either the vector of the masked k-space in
row-major order (what ``Fourier2D(mask)(x)`` returns) or a full (H, W) k-space (multiplied by the
mask). Images come back as complex128 (H, W) arrays directly comparable to ``Fourier2D``'s
(no flips, transposes, shifts or scale factors; see tests/test_cs_tools.py).

What the tools minimise (verified in tests/test_cs_tools.py; BART v0.8.00, SigPy 0.1.27):

- BART ``pics -l1 -r lam`` (FISTA, step 0.95, ``-i`` = FISTA iterations):
  1/2 ||P F_c x - y||^2 + lam ||W x||_1 over complex x, W the multi-level wavelet transform with
  *every* band thresholded (the coarsest approximation included); levels per axis: halve while the
  band is >= 16 long (a 256 side gets 5 levels, coarsest 8). ``--wavelet haar`` with ``-n`` is the
  orthonormal periodized Haar (``haar_l1(x, bart_haar_levels(shape))``); the default Daubechies-2
  uses half-sample symmetric extension (a redundant, non-orthonormal frame) and, without ``-n``,
  a new random cycle shift of the wavelet grid every iteration (the shift sequence is seeded, so
  runs repeat exactly), so there is no fixed objective: the PSNR never settles (on 256 x 256
  Shepp-Logan it peaks near 800 iterations and then drifts down) and the best lam depends on -i.
  BART's FISTA loop ends with a gradient step: the image it writes is z = v + s A^*(y - A v)
  (v the extrapolated iterate, s = 0.95), not a thresholded iterate; ``bart_undo_gradient_step``
  recovers v.
- BART ``pics -R T:3:0:lam`` (ADMM, rho 0.5, over-relaxation 1.6, at most 10 CG steps per
  iteration, ``-i`` = ADMM iterations): 1/2 ||P F_c x - y||^2 + lam TV_iso(x), TV_iso the
  isotropic total variation with periodic differences (``tv_isotropic``).
- Without ``-w 1`` BART divides y by a scale c (the 90th percentile of the image of the fully
  sampled k-space centre) and, with ``-S``, multiplies the result back: lam then acts as lam * c.
- BART centres odd sides differently (fftmod): on an odd side pics' image comes back rolled by one
  pixel and multiplied by a global phase, so ``bart_pics`` refuses odd sides (``bart fft -u``
  itself agrees with F_c on odd sides).
- SigPy ``mri.app.L1WaveletRecon`` (accelerated proximal gradient, step 1 / (power-method
  estimate of ||A||^2), ``max_iter`` iterations): nominally 1/2 ||A x - y||^2 + lam ||W x||_1 with
  W = PyWavelets ``wavedecn`` in mode 'zero' at the maximal level (all bands, approximation
  included, ``sigpy_wavelet_l1``). For db4 that W is redundant: W^H W = I but W W^H != I, so the
  prox it applies, W^H soft(W v), is not the exact prox and the iterates need not minimise that
  objective (on 256 x 256 cameraman the PSNR peaks near 50 iterations, then decays to 26 dB by
  3200, below the zero-filled 28.5 dB; it decays without acceleration too). For Haar on
  power-of-two sides W is the orthonormal periodized Haar at full depth (down to 1 x 1, unlike
  BART's 8 x 8) and the objective is exact.
- SigPy ``mri.app.TotalVariationRecon`` (primal-dual hybrid gradient, ``max_iter`` iterations):
  1/2 ||A x - y||^2 + lam TV_aniso(x), the *anisotropic* TV (|D_0 x| + |D_1 x| per pixel)
  with periodic differences (``tv_anisotropic``).

References: Uecker et al., "Berkeley Advanced Reconstruction Toolbox", ISMRM 2015 (BART);
Ong and Lustig, "SigPy: a python package for high performance iterative reconstruction",
ISMRM 2019; Lustig, Donoho, Pauly, MRM 58 (2007) (l1-wavelet CS-MRI).

    python benchmarks/cs_tools.py [--images shepp camera] [--size 256] [--repeats 3] [--max-iters 3200]

prints, for a 25% Gaussian mask, each method's best-of-lambda PSNR/SSIM at the iteration count
where PSNR settles (< 0.01 dB on doubling; "3200+" when it has not by the cap) and its median
time over interleaved runs.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from firenets.operators import fft2c, ifft2c

BART_FISTA_STEP = 0.95  # pics' default FISTA step (-s)
BART_WAVELET_MINSIZE = 16  # pics decomposes an axis while its band is at least this long
REGULARISERS = ("l1-wavelet", "tv")
BART_WAVELETS = ("dau2", "haar", "cdf44")


# --------------------------------------------------------------------------- conversions


def _numpy(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):  # a torch tensor
        a = a.detach().cpu().resolve_conj().numpy()
    return np.asarray(a)


def as_mask(mask: Any) -> np.ndarray:
    """The boolean (H, W) numpy mask of a numpy array, torch tensor or ``masks.SamplingMask``."""
    if isinstance(mask, tuple) and hasattr(mask, "mask"):
        mask = mask.mask
    m = _numpy(mask)
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
    k = _complex(kspace)
    if k.ndim == 1:
        if k.size != int(m.sum()):
            raise ValueError(f"{k.size} samples for a mask with {int(m.sum())} True entries")
        full = np.zeros(m.shape, np.complex128)
        full[m] = k  # boolean indexing is row-major, like Fourier2D
        return full
    if k.shape != m.shape:
        raise ValueError(f"k-space shape {k.shape} differs from the mask shape {m.shape}")
    return np.where(m, k, 0)


def _complex(a: Any) -> np.ndarray:
    """a (numpy array or torch tensor) as a complex128 numpy array."""
    return _numpy(a).astype(np.complex128)


# --------------------------------------------------------------------------- BART files and runs


def bart_available() -> bool:
    """True when the ``bart`` executable is on PATH."""
    return shutil.which("bart") is not None


def write_cfl(base: str | os.PathLike, array: Any) -> None:
    """Write ``base``.cfl (complex64, column-major) and ``base``.hdr (dims, at least 4) for BART.

    Array axis i is BART dimension i, so an image (H, W) is BART's [x = H, y = W]; BART's own
    ``fft -u 3`` of it is then F_c x (checked in the tests).
    """
    a = _numpy(array)
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


def bart_pics_run(
    kspace: Any,
    mask: Any,
    *,
    lam: float,
    iters: int,
    regulariser: str = "l1-wavelet",
    wavelet: str = "dau2",
    shifts: bool = True,
    scale: bool = False,
    threads: int = 2,
    step: float | None = None,
    rho: float | None = None,
    cg_iters: int | None = None,
    maps: Any = None,
) -> BartResult:
    """``bart pics`` on Cartesian data with timing; see ``bart_pics``. Single-coil (maps 1, pattern =
    mask), or with ``maps`` (coils, H, W) multi-coil: ``kspace`` is then (coils, m) samples or the
    (coils, H, W) grid, and BART's coil dimension (3) holds the coils."""
    m = as_mask(mask)
    H, W = m.shape
    if maps is None:
        full = zero_filled_kspace(kspace, m).reshape(H, W, 1, 1)
        sens = np.ones((H, W, 1, 1))
    else:
        mp = _numpy(maps)
        k = _numpy(kspace)
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
    cmd = bart_pics_command(
        lam=lam,
        iters=iters,
        regulariser=regulariser,
        wavelet=wavelet,
        shifts=shifts,
        scale=scale,
        step=step,
        rho=rho,
        cg_iters=cg_iters,
    )
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


def bart_pics(
    kspace: Any,
    mask: Any,
    *,
    lam: float,
    iters: int,
    regulariser: str = "l1-wavelet",
    wavelet: str = "dau2",
    shifts: bool = True,
    scale: bool = False,
    threads: int = 2,
) -> tuple[np.ndarray, float]:
    """BART pics reconstruction and the wall seconds of the ``pics`` call: (complex128 (H, W), seconds).

    regulariser "l1-wavelet": ``-l1 -r lam --wavelet WAVELET`` (FISTA; ``-n`` when shifts=False);
    "tv": ``-R T:3:0:lam`` (ADMM, isotropic periodic TV). scale=False passes ``-w 1`` (lam absolute:
    1/2 ||P F_c x - y||^2 + lam R(x)); scale=True lets BART scale the data and undoes it with ``-S``.
    Reference: Uecker et al., BART, ISMRM 2015; the objectives are in this module's docstring.
    """
    r = bart_pics_run(
        kspace,
        mask,
        lam=lam,
        iters=iters,
        regulariser=regulariser,
        wavelet=wavelet,
        shifts=shifts,
        scale=scale,
        threads=threads,
    )
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
    k = fft2c(_complex(image))
    k[m] = (k[m] - step * y[m]) / (1 - step)
    return ifft2c(k)


# --------------------------------------------------------------------------- SigPy


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


# --------------------------------------------------------------------------- traces and lambda search


def _image_of(result: Any) -> np.ndarray:
    return result[0] if isinstance(result, tuple) else result


def iteration_trace(run: Callable[[int], tuple[np.ndarray, float]], counts: Sequence[int]) -> list[tuple]:
    """[(iters, seconds, image)] with each iteration count a separate run(iters) -> (image, seconds)."""
    trace = []
    for n in counts:
        image, seconds = run(int(n))
        trace.append((int(n), float(seconds), image))
    return trace


class Convergence(NamedTuple):
    """The count where the metric settled (or the last tried), its run, and [(iters, metric, seconds)]."""

    iters: int
    image: np.ndarray
    seconds: float
    score: float
    history: list[tuple[int, float, float]]
    settled: bool


def converged_iterations(
    run: Callable[[int], tuple[np.ndarray, float]],
    metric: Callable[[np.ndarray], float],
    *,
    start: int = 25,
    factor: float = 2.0,
    tol: float = 0.01,
    max_iters: int = 10_000,
    strict: bool = True,
) -> Convergence:
    """The first count n in start, start*factor, ... with |metric(n) - metric(previous)| < tol.

    Each count is a fresh run (BART reports no intermediate iterates). Returns the earlier of the
    two counts (it already has the settled metric). Past max_iters: raises if strict, else returns
    the last count tried with settled=False.
    """
    history: list[tuple[int, float, float]] = []
    runs: list[tuple[np.ndarray, float]] = []
    n = int(start)
    while n <= max_iters:
        image, seconds = run(n)
        score = float(metric(image))
        history.append((n, score, float(seconds)))
        runs = [*runs[-1:], (image, float(seconds))]
        if len(history) >= 2 and abs(history[-1][1] - history[-2][1]) < tol:
            i, sc, sec = history[-2]
            return Convergence(i, runs[0][0], sec, sc, history, True)
        n = max(n + 1, int(round(n * factor)))
    if strict or not history:
        raise RuntimeError(f"metric did not settle to {tol} within {max_iters} iterations: {history}")
    i, sc, sec = history[-1]
    return Convergence(i, runs[-1][0], sec, sc, history, False)


class LambdaSearch(NamedTuple):
    """Best lam of a search, its image and score, and every (lam, score) evaluated, sorted by lam."""

    lam: float
    image: np.ndarray
    score: float
    evaluated: list[tuple[float, float]]


def best_of_lambda(
    runner: Callable[[float], Any],
    lams: Sequence[float],
    metric: Callable[[np.ndarray], float],
    *,
    refine: float = 2.0 ** (1 / 3),
    max_extend: int = 12,
) -> LambdaSearch:
    """The lam maximising metric(runner(lam)) on a log grid, refined around the best, never at an edge.

    lams: the coarse grid (sorted; typically a factor 2 apart). While the best is the smallest or
    largest lam tried, the grid is extended by that factor (at most max_extend times); then the
    neighbourhood [best / 2, best * 2] (the coarse spacing) is filled in steps of ``refine``
    (2^(1/3) ~ 1.26), the fine grid also extended if its best lands on its edge. runner(lam) returns
    an image or (image, seconds); higher metric is better (e.g. PSNR).
    """
    grid = sorted(float(v) for v in lams)
    if not grid or grid[0] <= 0:
        raise ValueError(f"lams must be positive and non-empty; got {lams}")
    coarse = grid[1] / grid[0] if len(grid) > 1 else 2.0
    done: dict[float, tuple[float, np.ndarray]] = {}

    def evaluate(lam: float) -> None:
        key = float(f"{lam:.6g}")
        if key not in done:
            image = _image_of(runner(key))
            done[key] = (float(metric(image)), image)

    def best() -> float:
        return max(done, key=lambda k: done[k][0])

    def extend(spacing: float) -> None:
        for _ in range(max_extend):
            b, keys = best(), sorted(done)
            if b == keys[0]:
                evaluate(b / spacing)
            elif b == keys[-1]:
                evaluate(b * spacing)
            else:
                return
        raise RuntimeError(f"the best lam is still at the edge after {max_extend} extensions: {sorted(done)}")

    for lam in grid:
        evaluate(lam)
    extend(coarse)
    b = best()
    steps = max(1, int(round(math.log(coarse) / math.log(refine))))
    for j in range(-steps + 1, steps):
        evaluate(b * refine**j)
    extend(refine)
    b = best()
    return LambdaSearch(b, done[b][1], done[b][0], sorted((k, v[0]) for k, v in done.items()))


# --------------------------------------------------------------------------- objectives (float64)


def data_fidelity(x: Any, kspace: Any, mask: Any) -> float:
    """1/2 ||P_M F_c x - y||_2^2 in float64."""
    m = as_mask(mask)
    r = fft2c(_complex(x))[m] - zero_filled_kspace(kspace, m)[m]
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
    low = _numpy(x)
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
    x = _numpy(x)
    levels = bart_haar_levels(x.shape) if levels is None else levels
    return float(sum(np.abs(b).sum() for b in haar_transform(x, levels)))


def soft_threshold(c: np.ndarray, t: float) -> np.ndarray:
    """Complex soft thresholding: c max(|c| - t, 0) / |c| (0 where |c| <= t)."""
    mag = np.abs(c)
    return np.where(mag > t, c * (1 - t / np.maximum(mag, 1e-300)), 0)


def haar_prox(v: Any, t: float, levels: Sequence[int] | None = None) -> np.ndarray:
    """prox of t ||W_haar .||_1 at v: W^T soft(W v, t) (exact: W is orthonormal)."""
    v = _numpy(v)
    levels = bart_haar_levels(v.shape) if levels is None else levels
    return inverse_haar_transform([soft_threshold(b, t) for b in haar_transform(v, levels)], levels)


def sigpy_wavelet_l1(x: Any, wave_name: str = "db4") -> float:
    """||W x||_1 for SigPy's W: ``pywt.wavedecn`` (mode 'zero', max level), odd sides led by a zero."""
    import pywt

    x = _numpy(x)
    even = [n + n % 2 for n in x.shape]
    padded = np.zeros(even, dtype=np.result_type(x, np.float64))
    padded[tuple(slice(n % 2, n % 2 + n) for n in x.shape)] = x  # sigpy.util.resize: the zero goes first
    coeffs = pywt.wavedecn(padded, wave_name, mode="zero")
    arr, _ = pywt.coeffs_to_array(coeffs)
    return float(np.abs(arr).sum())


def periodic_differences(x: Any) -> np.ndarray:
    """(D_0 x, D_1 x) stacked on a new first axis, D_a x = x - roll(x, 1, a) (periodic)."""
    x = _numpy(x)
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


# --------------------------------------------------------------------------- the measurement


def _lam_grid(centre: float) -> list[float]:
    return [centre * 2.0**k for k in (-2, -1, 0, 1, 2)]


def _methods(y: np.ndarray, mask: np.ndarray) -> dict[str, tuple[Callable, float, int]]:
    """name -> (run(lam, iters) -> (image, seconds), first lam, first iteration count)."""

    def bart_run(**kw):
        return lambda lam, n: bart_pics(y, mask, lam=lam, iters=n, **kw)

    return {
        "BART l1 dau2 -n": (bart_run(shifts=False), 2e-3, 50),
        "BART l1 dau2 -n, scaled": (bart_run(shifts=False, scale=True), 1e-2, 50),
        "BART l1 dau2+shifts": (bart_run(), 2e-3, 50),
        "BART TV": (bart_run(regulariser="tv"), 2e-3, 100),
        "BART TV, scaled": (bart_run(regulariser="tv", scale=True), 1e-2, 100),
        "SigPy l1 db4": (lambda lam, n: sigpy_l1wavelet(y, mask, lam=lam, iters=n), 2e-3, 50),
        "SigPy TV": (lambda lam, n: sigpy_tv(y, mask, lam=lam, iters=n), 2e-3, 100),
    }


def tune(
    run: Callable, lam0: float, n0: int, metric: Callable, *, max_iters: int, rounds: int = 3
) -> tuple[float, Convergence]:
    """Alternate iterations-to-convergence (PSNR change < 0.01 dB on doubling) and best-of-lambda search.

    Iteration counts are capped at max_iters (the result then says settled=False).
    """
    lam = lam0

    def settle(v: float, start: int) -> Convergence:
        return converged_iterations(
            lambda k: run(v, k), metric, start=start, max_iters=max_iters, strict=False
        )

    conv = settle(lam, n0)
    for _ in range(rounds):
        search = best_of_lambda(lambda v, k=conv.iters: run(v, k), _lam_grid(lam), metric)
        again = settle(search.lam, conv.iters)
        stable = search.lam == lam and again.iters == conv.iters
        lam, conv = search.lam, again
        if stable:
            break
    return lam, conv


def measure(
    name: str, target: np.ndarray, mask: np.ndarray, *, repeats: int = 5, max_iters: int = 3200
) -> list[dict]:
    """Best-of-lambda PSNR/SSIM, converged iteration count and median seconds of each method on one image.

    BART's l1 with random shifts never settles (each run ends on a different shift): it is tuned at
    the iteration count where the unshifted run settled, and its PSNR trace over counts is kept.
    """
    import torch

    from firenets.metrics import psnr, ssim
    from firenets.operators import Fourier2D

    y = Fourier2D(torch.from_numpy(mask))(torch.from_numpy(target).to(torch.complex128)).numpy()

    def metric(image):
        return psnr(target, np.abs(image))

    methods = _methods(y, mask)
    rows: list[dict] = []
    for label, (run, lam0, n0) in methods.items():
        row: dict = {"image": name, "method": label}
        if "shifts" in label:
            n = next(r["iters"] for r in rows if r["method"] == "BART l1 dau2 -n")
            search = best_of_lambda(lambda v, n=n, run=run: run(v, n), _lam_grid(lam0), metric)
            lam, image, score = search.lam, search.image, search.score
            trace = iteration_trace(
                lambda k, run=run, lam=lam: run(lam, k), [25, 50, 100, 200, 400, 800, 1600, 3200]
            )
            history = [(k, metric(im), sec) for k, sec, im in trace]
        else:
            lam, conv = tune(run, lam0, n0, metric, max_iters=max_iters)
            n, image, score, history = conv.iters, conv.image, conv.score, conv.history
            row["settled"] = conv.settled
        row.update(lam=lam, iters=n, psnr=score, ssim=ssim(target, np.abs(image)), history=history)
        if "scaled" in label:
            row["scaling"] = bart_pics_run(y, mask, lam=lam, iters=1, scale=True).scaling
        rows.append(row)
        print(f"  tuned {label}: lam {lam:.4g}, iters {n}, PSNR {score:.2f}, history {history}", flush=True)
    times: dict[str, list[float]] = {r["method"]: [] for r in rows}
    for _ in range(repeats):  # interleaved, so that load on the shared cores hits every method alike
        for r in rows:
            times[r["method"]].append(methods[r["method"]][0](r["lam"], r["iters"])[1])
    for r in rows:
        r["seconds"] = float(np.median(times[r["method"]]))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    """Print the best-of-lambda table on Shepp-Logan and cameraman with a 25% Gaussian mask."""
    import argparse

    import firenets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=["shepp", "camera"], choices=["shepp", "camera"])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-iters", type=int, default=3200)
    args = parser.parse_args(argv)
    mask = firenets.masks.gaussian((args.size, args.size), 0.25, seed=0).mask.numpy()
    header = (
        f"{'image':7s}{'method':30s}{'lam':>10s}{'scale c':>9s}{'iters':>7s}{'PSNR':>8s}{'SSIM':>8s}{'s':>8s}"
    )
    for name in args.images:
        target = (firenets.data.shepp_logan if name == "shepp" else firenets.data.camera)(args.size).numpy()
        rows = measure(name, target, mask, repeats=args.repeats, max_iters=args.max_iters)
        print(header)
        for r in rows:
            c = f"{r['scaling']:.4g}" if "scaling" in r else "-"
            its = f"{r['iters']}" + ("" if r.get("settled", True) else "+")
            print(
                f"{r['image']:7s}{r['method']:30s}{r['lam']:10.4g}{c:>9s}{its:>7s}{r['psnr']:8.2f}"
                f"{r['ssim']:8.4f}{r['seconds']:8.3f}"
            )
            print(" " * 7 + "  PSNR by iterations: " + ", ".join(f"{n}: {p:.2f}" for n, p, _ in r["history"]))
        print(flush=True)


if __name__ == "__main__":
    main()
