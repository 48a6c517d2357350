"""Is a detail supported by the data? Certified bounds on a region's mean over the images that the
measurements and a prior allow, and the verdict they give.

For samples y = A x + e (||e|| <= eta), a region R with weights w (w >= 0, sum 1) and a prior set C,

    [m_-, m_+] = [min, max] <w, Re z> over F = {z : ||A z - y||_2 <= eta, z in C},

each end a second-order cone program whose dual bound (``solvers.region``) holds however early the
solver stops, so [m_-, m_+] is a certified outer interval. The detail is "supported by the data"
when the background (the reconstruction's mean on a ring around R) lies outside it: no image
consistent with the data and as plausible as the reference has R at background level; "not
determined by the data" when the background lies inside; "contradicted by the data" when the
reconstruction's own mean on R lies outside. Repetti, Pereyra, Wiaux, SIAM J. Imaging Sci. 12, 2019
(a structure test as convex feasibility); REFERENCE section 12.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from .._validation import as_tensor, check_int, check_scalar
from ..operators import (
    Fourier2D,
    Gradient2D,
    LinearOperator,
    MultiCoilFourier,
    UndecimatedWavelet2D,
    Wavelet2D,
)
from ..solvers.region import LinearBound, Prior, linear_maximum, linear_minimum, modulus_minimum

# the prior sets a region bound combines with "+" ("none": the data alone)
PRIORS = ("wavelet", "undecimated", "tv", "box")
# tau = (1 + slack) ||W reference||_1 (and kappa, the box alike): docs/faithfulness.md says why 0.1
DEFAULT_SLACK = 0.1
DEFAULT_PRIOR = "wavelet+box"
VERDICTS = ("supported by the data", "not determined by the data", "contradicted by the data")
# what a region bound bounds: the region's mean of Re z, or of |z| (docs/faithfulness.md, "The modulus")
QUANTITIES = ("real", "modulus")


def ring(region: torch.Tensor, width: int | None = None) -> torch.Tensor:
    """The pixels within ``width`` steps (8-neighbourhood) of the region and outside it; width
    defaults to the region's equivalent radius sqrt(|R| / pi), at least 2."""
    if width is None:
        width = max(2, round(math.sqrt(float(region.sum()) / math.pi)))
    width = check_int("width", width, minimum=1)
    grown = torch.nn.functional.max_pool2d(region[None, None].double(), 2 * width + 1, stride=1, padding=width)[0, 0] > 0
    out = grown & ~region
    if not bool(out.any()):
        raise ValueError("the region leaves no pixel around it for the background: give a background value")
    return out


def sample_positions(A: LinearOperator) -> torch.Tensor:
    """The k-space coordinates (row, column) of A's samples, row-major over its mask."""
    mask = A.mask if isinstance(A, Fourier2D) else A.single.mask
    return torch.nonzero(mask).to(torch.float64)


def noise_level(y: torch.Tensor, A: LinearOperator, *, fraction: float = 0.1) -> float:
    """The noise's standard deviation per complex sample (E|e_j|^2 = s^2), estimated from the samples
    that carry the least signal: the outermost ``fraction`` of the sampled k-space by distance from
    the centre, whose real and imaginary parts give s / sqrt 2 each by the median absolute deviation
    (1.4826 MAD, robust to the few that still carry signal). An image's own high frequencies there
    make the estimate larger, never smaller, than the noise: the interval is then wider, still valid
    for the larger eta."""
    if not isinstance(A, (Fourier2D, MultiCoilFourier)):
        raise TypeError("noise_level reads k-space positions from a Fourier2D or MultiCoilFourier; give eta instead")
    fraction = check_scalar("fraction", fraction, positive=True)
    pos = sample_positions(A)
    H, W = A.in_shape
    r = torch.sqrt(((pos[:, 0] - H // 2) / H) ** 2 + ((pos[:, 1] - W // 2) / W) ** 2)
    k = max(8, int(fraction * r.numel()))
    outer = torch.topk(r, min(k, r.numel())).indices
    v = y.reshape(-1, r.numel())[:, outer].reshape(-1)
    parts = torch.cat([v.real, v.imag])
    mad = float((parts - parts.median()).abs().median())
    return 1.4826 * mad * math.sqrt(2)


def data_radius(noise: float, m: int) -> float:
    """eta = s sqrt(m + 2 sqrt(m)): ||e||^2 for m complex Gaussian samples with E|e_j|^2 = s^2 has mean
    m s^2 and standard deviation sqrt(m) s^2; eta^2 is the mean plus two standard deviations."""
    return noise * math.sqrt(m + 2 * math.sqrt(m))


def default_quantity(image: torch.Tensor) -> str:
    """What a region bound measures by default for ``image``: "modulus" where it is complex with a nonzero
    imaginary part (a phased image, shown as |z|), "real" otherwise."""
    return "modulus" if image.is_complex() and bool((image.imag != 0).any()) else "real"


def modulus_envelope(box: tuple[float, float], imag: float) -> tuple[float, float]:
    """(a, b) with |z| <= a + b Re z on the box lo <= Re z <= hi, |Im z| <= imag: the concave envelope of
    the modulus over the box, the interpolation of its values at the four corners, which is affine in
    Re z because |re + i imag| = |re - i imag| (a convex function lies below its interpolation on a
    polytope). Exact, |z| = Re z, where lo = 0 and imag = 0."""
    lo, hi = box
    left, right = math.hypot(lo, imag), math.hypot(hi, imag)
    b = (right - left) / (hi - lo) if hi > lo else 0.0
    return left - b * lo, b


def prior_set(spec: str | Prior, reference: torch.Tensor, *, slack: float = DEFAULT_SLACK, wavelet: str = "haar",
              levels: int = 4) -> Prior:
    """The prior C named by ``spec`` ("wavelet", "undecimated", "tv", "box" joined by "+", or "none"),
    each sized from the reference reconstruction: tau = (1 + slack) ||W reference||_1 (orthonormal
    or undecimated Haar frame, ``levels``), kappa = (1 + slack) TV(reference), the box
    0 <= Re z <= (1 + slack) max Re(reference) (below 0 where the reference is) and
    |Im z| <= (1 + slack) max |Im reference|. A ``Prior`` passes through."""
    if isinstance(spec, Prior):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"prior must be a string such as {DEFAULT_PRIOR!r} or a Prior; got {type(spec).__name__}")
    slack = check_scalar("slack", slack, nonnegative=True)
    parts = [] if spec.strip() == "none" else [p.strip() for p in spec.split("+")]
    unknown = [p for p in parts if p not in PRIORS]
    if unknown or len(set(parts)) != len(parts) or {"wavelet", "undecimated"} <= set(parts):
        raise ValueError(f"prior must be 'none' or distinct names from {', '.join(PRIORS)} joined by '+' (one "
                         f"wavelet kind); got {spec!r}")
    shape = tuple(reference.shape[-2:])
    grow = 1 + slack
    kw: dict[str, Any] = {}
    if "wavelet" in parts or "undecimated" in parts:
        W = (Wavelet2D(shape, wavelet=wavelet, levels=levels) if "wavelet" in parts
             else UndecimatedWavelet2D(shape, wavelet=wavelet, levels=levels))
        kw.update(wavelet=W, tau=grow * float(W(reference).abs().sum()))
    if "tv" in parts:
        D = Gradient2D(shape)
        kw.update(gradient=D, kappa=grow * float(torch.linalg.vector_norm(D(reference), dim=-3).sum()))
    if "box" in parts:
        re = reference.real
        kw.update(box=(grow * min(0.0, float(re.min())), grow * float(re.max())),
                  imag=grow * float(reference.imag.abs().max()) if reference.is_complex() else 0.0)
    return Prior(**kw)


@dataclass(frozen=True, eq=False)
class RegionBounds:
    """The certified interval [lower, upper] of a region's mean of Re z (or of |z|, ``quantity``) over the images the data and
    the prior allow, beside the reconstruction's own mean there (``value``) and its background (the
    ring's mean, or a value given), with the verdict they give; ``lower``/``upper`` are the solves
    (dual bound, primal value, gap, iterations, converged); ``unbounded`` where R meets the kernel
    of A and no prior bounds the set (the interval is then the whole line)."""

    region: torch.Tensor = field(repr=False)
    value: float
    background: float
    background_source: str
    eta: float
    eta_source: str
    prior: str
    slack: float
    lower: LinearBound | None
    upper: LinearBound | None
    interval: tuple[float, float]
    seconds: float
    quantity: str = "real"  # the region's mean of Re z, or of |z| ("modulus": see region_bounds)

    @property
    def measure(self) -> str:
        """What the interval bounds, in words: 'Re z' or '|z|'."""
        return "|z|" if self.quantity == "modulus" else "Re z"

    @property
    def unbounded(self) -> bool:
        return not all(math.isfinite(v) for v in self.interval)

    @property
    def converged(self) -> bool | None:
        """Whether both solves met their stopping rule (None without a solve: the closed form)."""
        if self.lower is None:
            return None
        return self.lower.converged and self.upper.converged

    @property
    def verdict(self) -> str:
        """Contradicted where the reconstruction's own mean lies outside the interval; supported
        where the background does; not determined otherwise."""
        lo, hi = self.interval
        if not lo <= self.value <= hi:
            return VERDICTS[2]
        if not lo <= self.background <= hi:
            return VERDICTS[0]
        return VERDICTS[1]

    @property
    def distance(self) -> float:
        """How far the background lies outside the interval (0 inside): a certified lower bound of
        |mean_R z - background| over F."""
        lo, hi = self.interval
        return max(0.0, lo - self.background, self.background - hi)

    def summary(self) -> dict[str, Any]:
        def solve(b: LinearBound | None) -> dict | None:
            if b is None:
                return None
            return {"bound": b.bound, "value": b.value, "gap": b.gap, "iterations": b.iterations,
                    "converged": b.converged, "infeasibility": dict(b.infeasibility)}

        return {"pixels": int(self.region.sum()), "value": self.value, "background": self.background,
                "background_source": self.background_source, "interval": list(self.interval),
                "unbounded": self.unbounded, "verdict": self.verdict, "distance": self.distance,
                "quantity": self.quantity, "eta": self.eta, "eta_source": self.eta_source, "prior": self.prior,
                "slack": self.slack,
                "converged": self.converged, "lower": solve(self.lower), "upper": solve(self.upper),
                "seconds": self.seconds}


def _no_prior(w: torch.Tensor, A: LinearOperator, y: torch.Tensor, eta: float,
              steps: int = 200) -> tuple[float, float]:
    """[min, max] Re <w, z> over ||A z - y|| <= eta alone: Re <v, y> -/+ eta ||v|| where A^* v = w (v the
    least-norm solution by conjugate gradients on A A^* v = A w), when w lies in range(A^*) to 1e-10
    relative; (-inf, inf) where it does not (R meets the kernel of A)."""
    b = A(w)
    v = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = float(torch.linalg.vector_norm(r)) ** 2
    for _ in range(steps):
        if rr <= (1e-15 * float(torch.linalg.vector_norm(b))) ** 2:
            break
        Ap = A(A.adjoint(p))
        alpha = rr / float(torch.sum(p.conj() * Ap).real)
        v = v + alpha * p
        r = r - alpha * Ap
        new = float(torch.linalg.vector_norm(r)) ** 2
        p = r + (new / rr) * p
        rr = new
    if float(torch.linalg.vector_norm(A.adjoint(v) - w)) > 1e-10 * float(torch.linalg.vector_norm(w)):
        return -math.inf, math.inf
    centre = float(torch.sum(v.conj() * y).real)
    half = eta * float(torch.linalg.vector_norm(v))
    return centre - half, centre + half


def region_bounds(
    y: Any,
    A: LinearOperator,
    recon: Any,
    region: Any,
    *,
    reference: Any = None,
    eta: float | None = None,
    noise: float | None = None,
    prior: str | Prior = DEFAULT_PRIOR,
    slack: float = DEFAULT_SLACK,
    background: float | None = None,
    background_source: str = "given",
    quantity: str = "real",
    tol: float = 3e-3,
    iterations: int = 5000,
) -> RegionBounds:
    """Certified [m_-, m_+] = [min, max] <w, Re z> over F = {||A z - y|| <= eta, z in C} for the region
    (a boolean (H, W) mask such as ``disc``; w uniform on it), the reconstruction's mean there and the verdict.

    eta: given; else from ``noise`` (the standard deviation per complex sample) or estimated from the
    outermost samples (``noise_level``), through ``data_radius``. C: ``prior`` (``prior_set``, sized
    from ``reference``, by default the reconstruction itself, with ``slack``). The background: given,
    (described by ``background_source``) or the reconstruction's mean on a ring around R (``ring``).
    ``quantity``: "real", the mean of Re z (both ends exact); or "modulus", the mean of |z| (the
    background and the value then of |recon|): its lower end min sum w |z| is convex and exact
    (``modulus_minimum``); its upper end is the surrogate a + b max <w, Re z>, the concave envelope of
    |z| over the prior's box (``modulus_envelope``, a box needed), exact for real images with lo = 0;
    it exceeds |z| by at most the envelope's value at Re z = 0 (a: imag when lo = 0, more when lo < 0,
    up to the constant hi for lo = -hi), so the upper end can be weak for complex images. Each end is solved to ``tol`` (its
    gap and constraint excess relative to the image's scale) or ``iterations``; the interval is the
    dual bounds either way. REFERENCE section 12."""
    t0 = time.perf_counter()
    y = as_tensor("y", y)
    recon = as_tensor("recon", recon, dtype=torch.complex128)
    shape = tuple(A.in_shape)
    if tuple(recon.shape) != shape:
        raise ValueError(f"recon must be an image of the operator's shape {shape}; got {tuple(recon.shape)}")
    if tuple(y.shape) != tuple(A.out_shape):
        raise ValueError(f"y must be the operator's samples of shape {tuple(A.out_shape)}; got {tuple(y.shape)}")
    y = y.to(torch.complex128)
    if not isinstance(region, torch.Tensor) or region.dtype != torch.bool:
        raise TypeError("region must be a boolean torch.Tensor (H, W): disc(...) or a mask")
    if tuple(region.shape) != shape:
        raise ValueError(f"region must have the image's shape {shape}; got {tuple(region.shape)}")
    if not bool(region.any()):
        raise ValueError("region is empty")
    reference = recon if reference is None else as_tensor("reference", reference, dtype=torch.complex128)
    if tuple(reference.shape) != shape:
        raise ValueError(f"reference must have the image's shape {shape}; got {tuple(reference.shape)}")
    m = y.numel()
    if eta is not None:
        eta, eta_source = check_scalar("eta", eta, nonnegative=True), "given"
    elif noise is not None:
        noise = check_scalar("noise", noise, nonnegative=True)
        eta, eta_source = data_radius(noise, m), f"noise {noise:.4g} per sample given: eta = s sqrt(m + 2 sqrt m)"
    else:
        s = noise_level(y, A)
        eta = data_radius(s, m)
        eta_source = (f"noise {s:.4g} per sample estimated from the outermost 10% of the samples (1.4826 MAD): "
                      "eta = s sqrt(m + 2 sqrt m)")
    slack = check_scalar("slack", slack, nonnegative=True)
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)}; got {quantity!r}")
    C = prior_set(prior, reference, slack=slack)
    if quantity == "modulus" and C.box is None:
        raise ValueError("quantity='modulus' needs a box in the prior (its upper end is the modulus's envelope over "
                         "the box): add '+box' to the prior")
    w = region.to(torch.complex128) / float(region.sum())
    shown = recon.abs() if quantity == "modulus" else recon.real
    value = float((w.real * shown).sum())
    if background is None:
        around = ring(region)
        background = float(shown[around].mean())
        source = f"the reconstruction's mean on a ring of {int(around.sum())} pixels around the region"
    else:
        background, source = check_scalar("background", background), background_source
    name = prior if isinstance(prior, str) else C.describe()
    if C.wavelet is None and C.box is None and C.gradient is None:
        interval = _no_prior(w, A, y, eta)
        return RegionBounds(region, value, background, source, eta, eta_source, name, slack, None, None, interval,
                            time.perf_counter() - t0, quantity)
    scale = max(float(reference.abs().max()), 1e-300)
    kw = {"z0": recon, "tol": tol, "iterations": check_int("iterations", iterations, minimum=1), "scale": scale}
    if quantity == "modulus":
        low = modulus_minimum(w.real, A, y, eta, C, **kw)
        a, b = modulus_envelope(C.box, C.imag)
        end = (linear_maximum if b >= 0 else linear_minimum)(w, A, y, eta, C, **kw)
        bound = a + b * end.bound
        reached = float((w.real * end.z.abs()).sum())  # the modulus mean of the extremal image: a value F holds
        high = LinearBound(bound=bound, value=reached, gap=bound - reached, infeasibility=end.infeasibility,
                           iterations=end.iterations, converged=end.converged, z=end.z)
    else:
        low = linear_minimum(w, A, y, eta, C, **kw)
        high = linear_maximum(w, A, y, eta, C, **kw)
    return RegionBounds(region, value, background, source, eta, eta_source, name, slack, low, high,
                        (low.bound, high.bound), time.perf_counter() - t0, quantity)


def attack_bounds(attack: Any, unattacked: torch.Tensor, A: LinearOperator, x: torch.Tensor, *, noise: float = 0.0,
                  prior: str | Prior = DEFAULT_PRIOR, slack: float = DEFAULT_SLACK, quantity: str = "real",
                  tol: float = 1e-2, iterations: int = 3000) -> RegionBounds:
    """``region_bounds`` of a targeted attack's output on its disc (a ``stability.targeted.RegionAttack``),
    from the samples the map was given (A(x + r) for a perturbation of the image, A x + r for one of
    the samples), the prior sized from that output, and as background the unattacked output's mean
    on the disc (``unattacked``: f(A x)): does the data the map saw allow the disc at its unattacked
    level, and the contrast the attack made it show? ``quantity`` as ``region_bounds`` (the background
    then the unattacked output's mean of |z| or of Re z)."""
    with torch.no_grad():
        y = A(x + attack.r) if getattr(attack, "threat", "image") == "image" else A(x) + attack.r
    region = attack.region
    shown = unattacked.abs() if quantity == "modulus" else unattacked.real
    return region_bounds(y, A, attack.recon, region, noise=noise, prior=prior, slack=slack,
                         background=float(shown[region].mean()),
                         background_source="the unattacked output's mean on the disc", quantity=quantity, tol=tol,
                         iterations=iterations)
