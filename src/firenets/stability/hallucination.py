"""Hallucination maps and the accuracy-stability bound of the troublesome kernel.

Every image splits as f = P_meas f + P_null f with P_meas = A^+ A (the part the samples see) and
P_null = I - A^+ A (the part they cannot see). For an operator with orthonormal rows (A A^* = I,
``operators.Fourier2D``) A^+ = A^*; for SENSE (``operators.MultiCoilFourier``) A^+ y is the minimum-norm
least-squares solution, computed by conjugate gradients on A^* A z = A^* y from z = 0 (``pseudo_inverse``). Bhadra, Kelkar, Brooks, Anastasio, "On
hallucinations in tomographic image reconstruction", IEEE TMI 40(11), 2021, define for a
reconstruction f^ = f(y) of an object x: the error map |f^ - x|, the measurement-space map
|A^* A f^ - A^* y| and the null-space map |P_null f^ - P_null x| (a hallucination: structure
in the null space that the data cannot have put there).

The kernel of A also limits every method: for x, x' with A x close to A x', a map that is eta
accurate on both has local Lipschitz constant at least (||x - x'|| - 2 eta) / ||A x - A x'||
(Gottschling, Antun, Hansen, Adcock, "The troublesome kernel", SIAM Review 2025; REFERENCE
section 5). ``kernel_pair`` builds x' with A x' = A x exactly, ``near_kernel_pair`` one close to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from .._validation import as_tensor, check_scalar, complex_dtype, real_dtype
from ..nets.adapter import truth_for
from ..operators.base import LinearOperator

__all__ = [
    "HallucinationMaps",
    "KernelPair",
    "accuracy_stability_bound",
    "check_orthonormal_rows",
    "hallucination_maps",
    "kernel_pair",
    "leaky",
    "measurement_component",
    "near_kernel_pair",
    "null_component",
    "pseudo_inverse",
]


# ------------------------------------------------------------------ shared checks (stability)
def _check_map(name: str, f: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    if not callable(f):
        raise TypeError(f"{name} must be callable (samples y -> complex image); got {type(f).__name__}")
    return f


def _check_operator(A: Any) -> LinearOperator:
    if not isinstance(A, LinearOperator):
        raise TypeError(
            f"A must be a firenets LinearOperator (e.g. operators.Fourier2D); got {type(A).__name__}"
        )
    if len(A.in_shape) != 2 or len(A.out_shape) not in (1, 2):
        raise ValueError(f"A must map (H, W) images to (m,) samples, or (coils, m) for several coils; got in_shape "
                         f"{A.in_shape} and out_shape {A.out_shape}")
    return A


def _image(name: str, x: Any, A: LinearOperator) -> torch.Tensor:
    """x as a finite (H, W) tensor of A's shape, complex in A's precision."""
    t = as_tensor(name, x, finite=False)
    if t.ndim != 2:
        raise ValueError(f"{name} must be a 2-D image (H, W); got shape {tuple(t.shape)}")
    if tuple(t.shape) != tuple(A.in_shape):
        raise ValueError(
            f"{name} has shape {tuple(t.shape)} but A.in_shape is {tuple(A.in_shape)}: they must match"
        )
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite; it holds {int((~torch.isfinite(t)).sum())} NaN/Inf entries")
    return t.to(device=A.device, dtype=complex_dtype(A.dtype))


def _support(support: Any, shape: tuple[int, ...]) -> torch.Tensor:
    if not isinstance(support, torch.Tensor) or support.dtype != torch.bool:
        what = support.dtype if isinstance(support, torch.Tensor) else type(support).__name__
        raise ValueError(f"support must be a boolean torch.Tensor; got {what}")
    if tuple(support.shape) != tuple(shape):
        raise ValueError(
            f"support has shape {tuple(support.shape)} but the image is {tuple(shape)}: they must match"
        )
    if not bool(support.any()):
        raise ValueError("support is empty: it selects no pixel")
    return support


def _reconstruct(f: Callable, y: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """f(y) under no_grad, checked to be a finite image of ``shape``; complex128."""
    with torch.no_grad():
        out = f(y)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"the reconstruction map must return a torch.Tensor; got {type(out).__name__}")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(
            f"the reconstruction map returned shape {tuple(out.shape)} for samples of shape "
            f"{tuple(y.shape)}; expected an image of shape {tuple(shape)}"
        )
    if not bool(torch.isfinite(out).all()):
        raise ValueError("the reconstruction map returned NaN/Inf values")
    return out.detach().to(torch.complex128)


def _norm(t: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(t.to(torch.complex128).reshape(-1)))


# ------------------------------------------------------------------ projections
def check_orthonormal_rows(A: LinearOperator, *, seed: int = 0) -> None:
    """Raise ValueError unless A A^* = I, tested on one seeded random vector v: ||A A^* v - v|| <= tol ||v||.

    tol = 1e-10 in double and 1e-5 in single precision. One Gaussian vector suffices: for
    A A^* != I it lies in the kernel of A A^* - I with probability 0.
    """
    A = _check_operator(A)
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(A.out_shape, generator=gen, dtype=torch.complex128)
    v = v.to(device=A.device, dtype=complex_dtype(A.dtype))
    err = _norm(A(A.adjoint(v)) - v) / _norm(v)
    tol = 1e-10 if real_dtype(A.dtype) == torch.float64 else 1e-5
    if not err <= tol:
        raise ValueError(
            f"A must have orthonormal rows (A A^* = I) for the measurement/null-space split; "
            f"got ||A A^* v - v|| / ||v|| = {err:.3g} > {tol:g} on a random v"
        )


def _orthonormal_rows(A: LinearOperator) -> bool:
    try:
        check_orthonormal_rows(A)
    except ValueError:
        return False
    return True


def pseudo_inverse(A: LinearOperator, y: Any, *, tol: float = 1e-10, max_iter: int = 1000) -> tuple[torch.Tensor, float]:
    """(A^+ y, relative residual): the minimum-norm minimiser of ||A z - y||, by conjugate gradients on
    the normal equations in their least-squares form (CGLS) from z = 0 (the iterates stay in the range of
    A^*, so the limit is the minimum-norm solution), until ||A^* (y - A z)|| <= tol ||A^* y||; A^* y itself,
    residual 0, when A A^* = I. Hestenes and Stiefel, J. Res. NBS 49, 1952; Bjorck, Numerical Methods for
    Least Squares Problems, SIAM 1996, section 7.4."""
    A = _check_operator(A)
    y = as_tensor("y", y, finite=True).to(device=A.device, dtype=complex_dtype(A.dtype))
    if tuple(y.shape) != tuple(A.out_shape):
        raise ValueError(f"y has shape {tuple(y.shape)} but A.out_shape is {tuple(A.out_shape)}: they must match")
    s = A.adjoint(y)
    if _orthonormal_rows(A):
        return s, 0.0
    sn = _norm(s)
    z = torch.zeros_like(s)
    if sn == 0.0:
        return z, 0.0
    r, p, gamma = y.clone(), s.clone(), sn**2
    for _ in range(max_iter):
        if math.sqrt(gamma) <= tol * sn:
            break
        q = A(p)
        alpha = gamma / _norm(q) ** 2
        z, r = z + alpha * p, r - alpha * q
        s = A.adjoint(r)
        gamma_new = _norm(s) ** 2
        p, gamma = s + (gamma_new / gamma) * p, gamma_new
    return z, math.sqrt(gamma) / sn


def measurement_component(A: LinearOperator, x: Any) -> torch.Tensor:
    """P_meas x = A^+ A x: the orthogonal projection onto the measured space (the range of A^*);
    A^* A x when A A^* = I."""
    A = _check_operator(A)
    x = _image("x", x, A)
    return pseudo_inverse(A, A(x))[0]


def null_component(A: LinearOperator, x: Any) -> torch.Tensor:
    """P_null x = x - A^+ A x: the orthogonal projection onto the null space of A."""
    A = _check_operator(A)
    x = _image("x", x, A)
    return x - pseudo_inverse(A, A(x))[0]


# ------------------------------------------------------------------ hallucination maps
@dataclass(frozen=True)
class HallucinationMaps:
    """Error, measurement-space and null-space maps of one reconstruction (Bhadra et al. 2021).

    recon: f(y), complex (H, W). error = |f^ - x|, measurement = |P_meas f^ - A^+ y|,
    null = |P_null f^ - P_null x|, all real (H, W) (P_meas = A^+ A; A^+ = A^* when A A^* = I). With
    noiseless y = A x the norms satisfy error_norm^2 = measurement_norm^2 + null_norm^2 (Pythagoras);
    relative ones divide by ||x||. ``projection_residual``: the largest relative residual of the
    conjugate-gradient solves behind A^+ (0 when A A^* = I).
    """

    recon: torch.Tensor
    error: torch.Tensor
    measurement: torch.Tensor
    null: torch.Tensor
    error_norm: float
    measurement_norm: float
    null_norm: float
    image_norm: float
    projection_residual: float = 0.0

    @property
    def relative_error(self) -> float:
        """||f^ - x|| / ||x|| (inf for x = 0)."""
        return _ratio(self.error_norm, self.image_norm)

    @property
    def relative_measurement(self) -> float:
        """||A^* A f^ - A^* y|| / ||x||."""
        return _ratio(self.measurement_norm, self.image_norm)

    @property
    def relative_null(self) -> float:
        """||P_null f^ - P_null x|| / ||x||: the hallucinated fraction."""
        return _ratio(self.null_norm, self.image_norm)

    def summary(self) -> dict[str, Any]:
        """JSON-ready record: the norms of the three maps, absolute and relative to ||x||."""
        return {
            "shape": list(self.error.shape),
            "image_norm": self.image_norm,
            "error_norm": self.error_norm,
            "measurement_norm": self.measurement_norm,
            "null_norm": self.null_norm,
            "relative_error": self.relative_error,
            "relative_measurement": self.relative_measurement,
            "relative_null": self.relative_null,
            "projection_residual": self.projection_residual,
        }


def _ratio(a: float, b: float) -> float:
    if b == 0.0:
        return 0.0 if a == 0.0 else math.inf
    return a / b


def hallucination_maps(f: Callable, A: LinearOperator, x: Any, *, y: Any = None) -> HallucinationMaps:
    """Maps |f^ - x|, |P_meas f^ - A^+ y|, |P_null f^ - P_null x| of f^ = f(y), y = A x by default,
    with P_meas = A^+ A (``pseudo_inverse``; A^* A for A A^* = I); for a map that returns magnitudes of a
    complex x, |x| stands for x and A |x| for y (``nets.adapter.truth_for``). Bhadra, Kelkar, Brooks,
    Anastasio, IEEE TMI 2021 (REFERENCE section 6).
    """
    f = _check_map("f", f)
    A = _check_operator(A)
    x = _image("x", x, A)
    if y is None:
        y = A(x)
    else:
        y = as_tensor("y", y, finite=False)
        if tuple(y.shape) != tuple(A.out_shape):
            raise ValueError(
                f"y has shape {tuple(y.shape)} but A.out_shape is {tuple(A.out_shape)}: they must match"
            )
        if not bool(torch.isfinite(y).all()):
            raise ValueError("y must be finite; it holds NaN/Inf entries")
        y = y.to(device=A.device, dtype=complex_dtype(A.dtype))
    recon = _reconstruct(f, y, A.in_shape)
    r = recon.to(x.dtype)
    t = truth_for(f, x)
    if t is not x:  # a map that returns magnitudes: its error is to |x|, split with |x|'s own parts
        y = A(t)
    (meas_r, res_r), (meas_y, res_y), (meas_x, res_x) = (pseudo_inverse(A, v) for v in (A(r), y, A(t)))
    err = (r - t).to(torch.complex128)
    meas = (meas_r - meas_y).to(torch.complex128)
    null = ((r - meas_r) - (t - meas_x)).to(torch.complex128)
    return HallucinationMaps(
        recon=recon,
        error=err.abs(),
        measurement=meas.abs(),
        null=null.abs(),
        error_norm=_norm(err),
        measurement_norm=_norm(meas),
        null_norm=_norm(null),
        image_norm=_norm(x),
        projection_residual=max(res_r, res_y, res_x),
    )


# ------------------------------------------------------------------ troublesome kernel
def accuracy_stability_bound(A: LinearOperator, x: Any, x_prime: Any, eta: float = 0.0) -> float:
    """L >= (||x - x'|| - 2 eta) / ||A x - A x'||: Lipschitz bound for any map eta-accurate at x and x'.

    If ||f(A x) - x|| <= eta and ||f(A x') - x'|| <= eta then ||f(A x) - f(A x')|| >= ||x - x'|| - 2 eta.
    inf when A x = A x' and ||x - x'|| > 2 eta (no such map exists); a numerator <= 0 gives the
    vacuous bound 0. A x = A x' means: equal up to rounding, ||A x - A x'|| <= 100 eps
    max(||x||, ||x'||) with eps the machine epsilon of A's precision (A A^* = I gives ||A|| = 1,
    so that is the size of the rounding error of A x). Gottschling et al., "The troublesome
    kernel", SIAM Review 2025.
    """
    A = _check_operator(A)
    x = _image("x", x, A)
    xp = _image("x_prime", x_prime, A)
    eta = check_scalar("eta", eta, nonnegative=True)
    num = _norm(x - xp) - 2 * eta
    den = _norm(A(x) - A(xp))
    if num <= 0:
        return 0.0
    rounding = 100 * torch.finfo(real_dtype(A.dtype)).eps * max(_norm(x), _norm(xp))
    return math.inf if den <= rounding else num / den


class KernelPair(NamedTuple):
    """x' built from x and a detail, and the accuracy-stability bound of the pair (eta = 0)."""

    x_prime: torch.Tensor
    bound: float


def _detail_parts(A: LinearOperator, detail: Any) -> tuple[torch.Tensor, torch.Tensor, float]:
    d = _image("detail", detail, A)
    meas = A.adjoint(A(d))
    return meas, d - meas, 1e-12 * _norm(d)


def kernel_pair(A: LinearOperator, x: Any, detail: Any) -> KernelPair:
    """x' = x + (I - A^* A) detail, so A x' = A x exactly; the bound is inf.

    Any map f returns f(A x) = f(A x') for both, so max(||f(A x) - x||, ||f(A x') - x'||) >=
    ||x - x'|| / 2 = ||P_null detail|| / 2: no map recovers both. A must have orthonormal rows.
    x' is complex (the null-space part of a real detail is complex for asymmetric masks).
    """
    A = _check_operator(A)
    x = _image("x", x, A)
    check_orthonormal_rows(A)
    _, null, tiny = _detail_parts(A, detail)
    if _norm(null) <= tiny:
        raise ValueError("detail must have a null-space part; it lies in the measured space (or is 0)")
    xp = x + null
    return KernelPair(xp, accuracy_stability_bound(A, x, xp))


def near_kernel_pair(A: LinearOperator, x: Any, detail: Any, leak: float) -> KernelPair:
    """x' = x + (I - A^* A) detail + leak A^* A detail: ||A x - A x'|| = leak ||A detail|| > 0.

    Bound (eta = 0) = sqrt(||P_null d||^2 + leak^2 ||P_meas d||^2) / (leak ||A d||), finite and
    large for a small leak: inputs that nearly coincide, images that do not. leak > 0.
    """
    A = _check_operator(A)
    x = _image("x", x, A)
    leak = check_scalar("leak", leak, positive=True)
    check_orthonormal_rows(A)
    meas, null, tiny = _detail_parts(A, detail)
    if _norm(meas) <= tiny:
        raise ValueError("detail must have a measured part; A detail = 0 (use kernel_pair for that case)")
    xp = x + leaky(null, null + meas, leak)
    return KernelPair(xp, accuracy_stability_bound(A, x, xp))


def leaky(null: torch.Tensor, detail: torch.Tensor, leak: float) -> torch.Tensor:
    """null + leak (detail - null): a detail's null-space part P_null d plus ``leak`` times its measured
    part, so ||A (result)|| = leak ||A d|| (A A^* = I). The near-kernel detail of ``near_kernel_pair``
    and of the positive control's lesion."""
    leak = check_scalar("leak", leak, positive=True)
    return null + leak * (detail - null)
