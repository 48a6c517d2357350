"""Certified bounds on a linear functional of the images that data and a prior allow.

    m = min <c, Re z> over F = {z : ||A z - y||_2 <= eta, ||W z||_1 <= tau, TV(z) <= kappa, z in B}

(W a tight frame, W^* W = I; TV the isotropic total variation ||D z||_{2,1}; B the box
lo <= Re z <= hi, |Im z| <= imag), a second-order cone program, by restarted primal-dual
iteration (Chambolle, Pock 2011, with a primal weight and restarts to the average: Applegate et
al., "Practical large-scale linear programming using primal-dual hybrid gradient", NeurIPS 2021).
Every dual iterate gives a lower bound of m by weak duality, made exact in floating point by
absorbing the dual residual into the frame's or the box's term (Boyd, Vandenberghe, Convex
Optimization, section 5.2): the bound returned is valid however early the iteration stops.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .._validation import check_int, check_scalar
from ..operators import LinearOperator
from ..operators.base import _apply
from .primal_dual import _re_sum
from .prox import dual_prox


@dataclass(frozen=True)
class Prior:
    """The prior set C of a region bound: a frame l1 ball ||W z||_1 <= tau (``wavelet`` a tight
    frame, W^* W = I), a total-variation ball ||D z||_{2,1} <= kappa (``gradient`` an isotropic
    ``Gradient2D``), a box lo <= Re z <= hi and |Im z| <= imag (``box`` = (lo, hi), ``imag``; 0:
    real images); any of them, or their intersection (None of them: the data alone)."""

    wavelet: LinearOperator | None = None
    tau: float | None = None
    gradient: LinearOperator | None = None
    kappa: float | None = None
    box: tuple[float, float] | None = None
    imag: float = 0.0

    def __post_init__(self) -> None:
        if (self.wavelet is None) != (self.tau is None):
            raise ValueError("wavelet and tau go together: the l1 ball ||W z||_1 <= tau needs both")
        if (self.gradient is None) != (self.kappa is None):
            raise ValueError("gradient and kappa go together: the TV ball ||D z||_{2,1} <= kappa needs both")
        if self.wavelet is not None:
            _check_tight(self.wavelet)
        if self.tau is not None:
            object.__setattr__(self, "tau", check_scalar("tau", self.tau, nonnegative=True))
        if self.kappa is not None:
            object.__setattr__(self, "kappa", check_scalar("kappa", self.kappa, nonnegative=True))
        if self.box is not None:
            try:
                lo, hi = (float(b) for b in self.box)
            except (TypeError, ValueError):
                raise TypeError(f"box must be a pair (lo, hi) of numbers; got {self.box!r}") from None
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
                raise ValueError(f"box must be finite with lo <= hi; got {self.box!r}")
            object.__setattr__(self, "box", (lo, hi))
        object.__setattr__(self, "imag", check_scalar("imag", self.imag, nonnegative=True))

    def describe(self) -> str:
        parts = []
        if self.wavelet is not None:
            parts.append(f"||W z||_1 <= {self.tau:.4g} ({self.wavelet!r})")
        if self.gradient is not None:
            parts.append(f"TV(z) <= {self.kappa:.4g}")
        if self.box is not None:
            parts.append(f"{self.box[0]:.4g} <= Re z <= {self.box[1]:.4g}, |Im z| <= {self.imag:.4g}")
        return " and ".join(parts) if parts else "none (the data alone)"


def _check_tight(W: LinearOperator) -> None:
    """Refuse a frame with W^* W != I (probed on a random image to 1e-10): the certificate bounds
    ||z||_2 by ||W z||_1 and absorbs residuals through W^* W = I."""
    if not isinstance(W, LinearOperator):
        raise TypeError(f"wavelet must be a LinearOperator (a tight frame); got {type(W).__name__}")
    g = torch.Generator().manual_seed(0)
    v = torch.randn(tuple(W.in_shape), generator=g, dtype=torch.complex128).to(W.device)
    err = float(torch.linalg.vector_norm(W.adjoint(W(v)) - v)) / float(torch.linalg.vector_norm(v))
    if not err <= 1e-10:
        raise ValueError(f"wavelet must be a tight frame (W^* W = I, e.g. Wavelet2D or UndecimatedWavelet2D with its "
                         f"approximation); here ||W^* W v - v|| / ||v|| = {err:.2e}")


@dataclass(frozen=True, eq=False)
class LinearBound:
    """min <c, Re z> over F: ``bound`` a certified lower bound (the best dual value found; -inf
    where C is unbounded and no dual point certifies), ``value`` <c, Re z> at the primal iterate
    ``z`` (which satisfies the box, and the other constraints to ``infeasibility``), ``gap`` =
    value - bound, the iterations run and whether the stopping rule (not the cap) ended them."""

    bound: float
    value: float
    gap: float
    infeasibility: dict[str, float]
    iterations: int
    converged: bool
    z: torch.Tensor = field(repr=False)


def _l1_ball(v: torch.Tensor, radius: float, start: float = 0.0) -> tuple[torch.Tensor, float]:
    """Projection onto {||v||_1 <= radius} (complex moduli): v max(|v| - theta, 0) / |v|, theta the
    root of sum max(|v| - theta, 0) = radius, found by Michelot's iteration theta <- (sum of the
    moduli above theta - radius) / their count, which rises to the root in finitely many steps from
    any theta below it (Michelot, J. Optim. Theory Appl. 50, 1986; Condat, Math. Program. 158, 2016).
    ``start``: a guess (the previous step's theta), used where it lies below the root. Returns the
    projection and theta (0 inside the ball)."""
    a = v.abs()
    total = float(a.sum())
    if total <= radius:
        return v, 0.0
    if radius == 0:
        return torch.zeros_like(v), math.inf
    theta = (total - radius) / a.numel()
    if start > theta and float(torch.clamp(a - start, min=0).sum()) >= radius:
        theta = start  # below the root: the iteration rises from it
    while True:
        keep = a > theta
        nxt = (float(a[keep].sum()) - radius) / int(keep.sum())
        if nxt <= theta:
            break
        theta = nxt
    return v * (torch.clamp(a - theta, min=0) / torch.clamp(a, min=torch.finfo(a.dtype).tiny)), theta


def _group_moduli(g: torch.Tensor) -> torch.Tensor:
    """Per pixel sqrt(sum over the gradient's directions of |g|^2): (*, 2, H, W) -> (*, H, W)."""
    return torch.linalg.vector_norm(g, dim=-3)


def _tv_ball(g: torch.Tensor, radius: float, start: float = 0.0) -> tuple[torch.Tensor, float]:
    """Projection onto {||g||_{2,1} <= radius}: the group moduli onto the l1 ball, directions kept."""
    m = _group_moduli(g)
    if float(m.sum()) <= radius:
        return g, 0.0
    target, theta = _l1_ball(m, radius, start)
    return g * (target / torch.clamp(m, min=torch.finfo(m.dtype).tiny)).unsqueeze(-3), theta


def _periodic_poisson(r: torch.Tensor) -> torch.Tensor:
    """phi with D^* D phi = r for the periodic differences of ``Gradient2D`` (symbol 4 sin^2(pi k / H)
    + 4 sin^2(pi l / W)), r of mean zero; phi of mean zero."""
    H, W = r.shape[-2:]
    k = torch.arange(H, dtype=torch.float64, device=r.device)[:, None]
    l_ = torch.arange(W, dtype=torch.float64, device=r.device)[None, :]
    symbol = 4 * torch.sin(math.pi * k / H) ** 2 + 4 * torch.sin(math.pi * l_ / W) ** 2
    symbol[0, 0] = math.inf
    return torch.fft.ifft2(torch.fft.fft2(r) / symbol)


def _tv_certificate(A: LinearOperator, y: torch.Tensor, eta: float, prior: Prior) -> tuple[torch.Tensor, float]:
    """(e, Z) for a TV ball alone: e = A 1 with A^* e = 1 (the constant image sampled: single-coil
    Fourier with the centre of k-space taken), and Z >= ||z|| on F: the mean is held by the data,
    |<1, z>| <= |<e, y>| + eta ||e||, the rest by the discrete Poincare inequality
    ||z - mean|| <= ||D z||_2 / sqrt(lambda_1) <= kappa / sqrt(lambda_1), lambda_1 = 4 sin^2(pi / max(H, W))
    the least nonzero eigenvalue of D^* D; divided by 1 - ||A^* e - 1|| / ||1|| for the rounding of
    A^* e. Refused where A does not see the constant image."""
    from ..operators import Gradient2D

    if not isinstance(prior.gradient, Gradient2D):
        raise ValueError("a total-variation ball alone is certified for a Gradient2D (periodic differences) only: "
                         "add a box or a wavelet ball to the prior")
    one = torch.ones(tuple(A.in_shape), dtype=y.dtype, device=y.device)
    e = _apply(A, one, False)
    err = float(torch.linalg.vector_norm(_apply(A, e, True) - one)) / math.sqrt(one.numel())
    if not err <= 1e-10:
        raise ValueError("a total-variation ball alone bounds the images only where the samples hold their mean "
                         f"(A^* A 1 = 1, the centre of k-space sampled, single coil); here ||A^* A 1 - 1|| / ||1|| = "
                         f"{err:.2e}: add a box or a wavelet ball to the prior")
    H, W = A.in_shape
    n = math.sqrt(H * W)
    mean = (abs(complex(torch.sum(e.conj() * y))) + eta * float(torch.linalg.vector_norm(e))) / n
    # with A^* e = 1 + d, |<1, z>| <= |<e, y>| + eta ||e|| + ||d|| ||z||: the bound grows by 1 / (1 - err)
    return e, (mean + prior.kappa / (2 * math.sin(math.pi / max(H, W)))) / (1 - err)


def _re_dot(a: torch.Tensor, b: torch.Tensor) -> float:
    """Re <a, b> = sum Re(conj(a) b), over every entry."""
    return float(_re_sum(a, b, a.ndim))


class _Problem:
    """The blocks of min <c, Re z> + i_{||.-y||<=eta}(A z) + i_{||.||_1<=tau}(W z) + i_{TV<=kappa}(D z) + i_B(z);
    with ``modulus`` weights w >= 0 the objective is sum_i w_i |z_i| instead (c = 0), a block whose
    conjugate is the indicator of the polydisc {|u_i| <= w_i}."""

    def __init__(self, c: torch.Tensor, A: LinearOperator, y: torch.Tensor, eta: float, prior: Prior,
                 modulus: torch.Tensor | None = None):
        self.c, self.A, self.y, self.eta, self.prior, self.w = c, A, y, eta, prior, modulus
        self.blocks = ["data"] + (["wavelet"] if prior.wavelet is not None else []) + (
            ["tv"] if prior.gradient is not None else []) + (["modulus"] if modulus is not None else [])
        self.ops = {"data": A, "wavelet": prior.wavelet, "tv": prior.gradient}
        self.norms = {b: 1.0 if b == "modulus" else max(float(self.ops[b].norm()), 1e-300) for b in self.blocks}
        self.theta = {"wavelet": 0.0, "tv": 0.0}  # the last projection's threshold, a warm start
        self.constant = None
        if prior.gradient is not None and prior.wavelet is None and prior.box is None:
            self.constant = _tv_certificate(A, y, eta, prior)

    def value(self, z: torch.Tensor) -> float:
        """The objective at z: <c, Re z>, or sum_i w_i |z_i|."""
        return float((self.w * z.abs()).sum()) if self.w is not None else _re_dot(self.c, z)

    def K(self, b: str, z: torch.Tensor) -> torch.Tensor:
        if b == "modulus":
            return z
        return _apply(self.ops[b], z, False)  # inputs checked once, at the boundary

    def KT(self, b: str, u: torch.Tensor) -> torch.Tensor:
        if b == "modulus":
            return u
        return _apply(self.ops[b], u, True)

    def polydisc(self, u: torch.Tensor) -> torch.Tensor:
        """The projection onto {|u_i| <= w_i}, pulled inside by 4 ulps so that rounding never leaves it."""
        a = u.abs()
        scale = torch.where(a > self.w, self.w / torch.clamp(a, min=torch.finfo(a.dtype).tiny), torch.ones_like(a))
        return u * (scale * (1 - 4 * torch.finfo(a.dtype).eps))

    def project_box(self, z: torch.Tensor) -> torch.Tensor:
        p = self.prior
        if p.box is None:
            return z
        return torch.complex(z.real.clamp(p.box[0], p.box[1]), z.imag.clamp(-p.imag, p.imag))

    def dual_prox(self, b: str, v: torch.Tensor, sigma: float) -> torch.Tensor:
        """prox_{sigma g*}(v) = v - sigma P_C(v / sigma) (Moreau) for the block's set C."""
        if b == "data":  # the data term's conjugate is (P1)'s: the shifted ball's prox
            return dual_prox("qcbp", v, sigma, self.y, self.eta, self.y.ndim)
        if b == "modulus":  # the weighted modulus sum's conjugate is the polydisc's indicator
            return self.polydisc(v)
        ball = _l1_ball if b == "wavelet" else _tv_ball
        p, self.theta[b] = ball(v / sigma, self.prior.tau if b == "wavelet" else self.prior.kappa, self.theta[b])
        return v - sigma * p

    def residual(self, u: dict[str, torch.Tensor]) -> torch.Tensor:
        """c + sum_b K_b^* u_b: the dual residual (zero at a dual feasible point without a box)."""
        r = self.c.clone()
        for b in self.blocks:
            r = r + self.KT(b, u[b])
        return r

    def _support(self, b: str, u: torch.Tensor) -> float:
        """sup over the block's set of Re <u, v>."""
        if b == "data":
            return _re_dot(u, self.y) + self.eta * float(torch.linalg.vector_norm(u))
        if b == "wavelet":
            return self.prior.tau * float(u.abs().max())
        if b == "modulus":  # the conjugate of sum w |z| at a point of the polydisc
            return 0.0
        return self.prior.kappa * float(_group_moduli(u).max())

    def _box_infimum(self, r: torch.Tensor) -> float:
        """inf over the box of Re <r, z>."""
        lo, hi = self.prior.box
        re, im = r.real, r.imag
        return float(torch.minimum(lo * re, hi * re).sum() - self.prior.imag * im.abs().sum())

    def dual_bound(self, u: dict[str, torch.Tensor]) -> float:
        """A lower bound of the minimum from any dual point u (weak duality): -sum_b sigma_b(u_b)
        + inf over C of Re <r, z>, r the residual; with a frame the residual is first absorbed into
        the frame's dual (u_W - W r, exact since W^* W = I) and what rounding leaves is bounded by
        ||z||_2 <= tau; with a box, the infimum over the box. -inf where C is unbounded."""
        p = self.prior
        if "modulus" in u:
            u = {**u, "modulus": self.polydisc(u["modulus"])}
        r = self.residual(u)
        base = sum(self._support(b, u[b]) for b in self.blocks if b != "wavelet")
        candidates = []
        if p.box is not None:
            w = self._support("wavelet", u["wavelet"]) if p.wavelet is not None else 0.0
            candidates.append(-base - w + self._box_infimum(r))
        if p.wavelet is not None:
            Wr = self.K("wavelet", r)
            uw = u["wavelet"] - Wr
            left = r - self.KT("wavelet", Wr)  # the residual at (u_data, uw, u_tv): rounding only
            rest = -p.tau * float(torch.linalg.vector_norm(left))
            if p.box is not None:
                rest = max(rest, self._box_infimum(left))
            candidates.append(-base - self._support("wavelet", uw) + rest)
        if self.constant is not None:  # a TV ball alone: the residual into range(D^*) and the constants
            e, zmax = self.constant
            mean = r.mean()
            ud = u["data"] - mean * e  # A^* e = 1
            ut = u["tv"] - self.prior.gradient(_periodic_poisson(r - mean))  # D^* D phi = r - mean
            left = self.c + self.KT("data", ud) + self.KT("tv", ut) + (u["modulus"] if "modulus" in u else 0)
            candidates.append(-self._support("data", ud) - self._support("tv", ut)
                              - zmax * float(torch.linalg.vector_norm(left)))
        return max(candidates) if candidates else -math.inf

    def infeasibility(self, z: torch.Tensor) -> dict[str, float]:
        p = self.prior
        out = {"data": max(0.0, float(torch.linalg.vector_norm(self.K("data", z) - self.y)) - self.eta)}
        if p.wavelet is not None:
            out["wavelet"] = max(0.0, float(self.K("wavelet", z).abs().sum()) - p.tau)
        if p.gradient is not None:
            out["tv"] = max(0.0, float(_group_moduli(self.K("tv", z)).sum()) - p.kappa)
        return out


def linear_minimum(
    c: torch.Tensor,
    A: LinearOperator,
    y: torch.Tensor,
    eta: float,
    prior: Prior,
    *,
    z0: torch.Tensor | None = None,
    iterations: int = 20_000,
    tol: float = 1e-6,
    check: int = 64,
    scale: float | None = None,
    callback: Callable[[int, float, float, float], None] | None = None,
) -> LinearBound:
    """min <c, Re z> over F = {||A z - y|| <= eta, z in C} by restarted primal-dual iteration; the
    bound is the best dual value found (valid at any stop). Stops when the gap value - bound and
    each constraint's excess are at most ``tol`` times their scale (``scale`` for the objective,
    default max(|value|, |bound|, ||c||_1 max|z0|); ||y|| for the data; tau, kappa for the balls)
    or after ``iterations``. ``z0``: the start (e.g. a reconstruction), zero by default.
    ``callback(k, error, value, bound)`` is called at every check."""
    return _minimise(c, A, y, eta, prior, None, z0=z0, iterations=iterations, tol=tol, check=check, scale=scale,
                     callback=callback)


def modulus_minimum(
    w: torch.Tensor,
    A: LinearOperator,
    y: torch.Tensor,
    eta: float,
    prior: Prior,
    **kwargs: Any,
) -> LinearBound:
    """min sum_i w_i |z_i| over F (w >= 0; a convex objective, so this end is exact), by the iteration
    of ``linear_minimum`` with the weighted modulus sum as one more block: its conjugate is the
    indicator of the polydisc {|u_i| <= w_i}, so the dual bound is ``linear_minimum``'s with c = u_w,
    min over F of sum w |z| = max over the polydisc of min over F of Re <u, z> (the modulus as a
    support function; a minimax over compact convex sets); the bound is at least 0, as sum w |z| is.
    Keywords as ``linear_minimum``."""
    if w.is_complex() or not bool((w >= 0).all()):
        raise ValueError("w must be real and nonnegative: the weights of sum_i w_i |z_i|")
    b = _minimise(w.to(torch.float64), A, y, eta, prior, w.to(torch.float64), **kwargs)
    bound = max(b.bound, 0.0)
    return LinearBound(bound=bound, value=b.value, gap=b.value - bound, infeasibility=b.infeasibility,
                       iterations=b.iterations, converged=b.converged, z=b.z)


def _minimise(
    c: torch.Tensor,
    A: LinearOperator,
    y: torch.Tensor,
    eta: float,
    prior: Prior,
    modulus: torch.Tensor | None,
    *,
    z0: torch.Tensor | None = None,
    iterations: int = 20_000,
    tol: float = 1e-6,
    check: int = 64,
    scale: float | None = None,
    callback: Callable[[int, float, float, float], None] | None = None,
) -> LinearBound:
    """The restarted primal-dual iteration of ``linear_minimum`` (``modulus`` None) and
    ``modulus_minimum`` (``modulus`` = c = w)."""
    iterations = check_int("iterations", iterations, minimum=1)
    check = check_int("check", check, minimum=1)
    if tuple(c.shape) != tuple(A.in_shape):
        raise ValueError(f"c must have the operator's image shape {tuple(A.in_shape)}; got {tuple(c.shape)}")
    if tuple(y.shape) != tuple(A.out_shape):
        raise ValueError(f"y must have the operator's sample shape {tuple(A.out_shape)}; got {tuple(y.shape)}")
    for name, t in (("c", c), ("y", y)):
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must be finite")
    tol = check_scalar("tol", tol, positive=True)
    eta = check_scalar("eta", eta, nonnegative=True)
    pb = _Problem(c if modulus is None else torch.zeros_like(c), A, y, eta, prior, modulus)
    dtype = y.dtype if y.is_complex() else torch.complex128
    z = torch.zeros(A.in_shape, dtype=dtype, device=y.device) if z0 is None else z0.to(dtype).clone()
    z = pb.project_box(z)
    u = {b: torch.zeros_like(pb.K(b, z)) for b in pb.blocks}
    n = len(pb.blocks)
    cn, yn = float(torch.linalg.vector_norm(c)), float(torch.linalg.vector_norm(y))
    omega = cn / yn if cn > 0 and yn > 0 else 1.0
    zscale = float(z.abs().max()) if z0 is not None else 0.0
    obj_scale = scale if scale is not None else float(c.abs().sum()) * max(zscale, yn / math.sqrt(y.numel()))
    scales = {"data": max(yn, 1e-300), "wavelet": max(prior.tau or 0.0, 1e-300), "tv": max(prior.kappa or 0.0, 1e-300)}
    best = -math.inf

    def merit(zc, uc):
        value = pb.value(zc)
        bound = pb.dual_bound(uc)
        inf = pb.infeasibility(zc)
        s = max(obj_scale, abs(value), abs(bound) if math.isfinite(bound) else 0.0, 1e-300)
        err = max([abs(value - bound) / s if math.isfinite(bound) else math.inf]
                  + [inf[k] / scales[k] for k in inf])
        return err, value, bound, inf

    z_sum, u_sum, count = torch.zeros_like(z), {b: torch.zeros_like(u[b]) for b in u}, 0
    z_anchor, u_anchor = z.clone(), {b: u[b].clone() for b in u}
    restart_err, last_err = math.inf, math.inf
    since = 0
    result = None
    for k in range(1, iterations + 1):
        tau = 0.99 / (omega * math.sqrt(n))
        sig = {b: omega / (math.sqrt(n) * pb.norms[b] ** 2) for b in pb.blocks}
        grad = pb.c + sum(pb.KT(b, u[b]) for b in pb.blocks)
        z_new = pb.project_box(z - tau * grad)
        bar = 2 * z_new - z
        for b in pb.blocks:
            u[b] = pb.dual_prox(b, u[b] + sig[b] * pb.K(b, bar), sig[b])
        z = z_new
        z_sum += z
        for b in u:
            u_sum[b] += u[b]
        count += 1
        since += 1
        if k % check and k != iterations:
            continue
        cur = merit(z, u)
        za = z_sum / count
        ua = {b: u_sum[b] / count for b in u}
        avg = merit(za, ua)
        best = max(best, cur[2], avg[2])
        use_avg = avg[0] < cur[0]
        err, value, _, inf = avg if use_avg else cur
        zc, uc = (za, ua) if use_avg else (z, u)
        result = (value, inf, zc)
        if callback is not None:
            callback(k, err, value, best)
        if err <= tol:
            return _bound(best, value, inf, k, True, zc)
        # restart to the candidate: sufficient decay, or necessary decay and no progress, or long
        if err <= 0.2 * restart_err or (err <= 0.8 * restart_err and err > last_err) or since >= 0.36 * k:
            dz = float(torch.linalg.vector_norm(zc - z_anchor))
            du = math.sqrt(sum(float(torch.linalg.vector_norm(uc[b] - u_anchor[b])) ** 2 for b in u))
            if dz > 1e-300 and du > 1e-300:
                omega = math.exp(0.5 * math.log(du / dz) + 0.5 * math.log(omega))
            z, u = zc.clone(), {b: uc[b].clone() for b in u}
            z_anchor, u_anchor = z.clone(), {b: u[b].clone() for b in u}
            z_sum, u_sum, count, since = torch.zeros_like(z), {b: torch.zeros_like(u[b]) for b in u}, 0, 0
            restart_err = err
        last_err = err
    value, inf, zc = result
    return _bound(best, value, inf, iterations, False, zc)


def _bound(best: float, value: float, inf: dict, iterations: int, converged: bool, z: torch.Tensor) -> LinearBound:
    return LinearBound(bound=best, value=value, gap=value - best, infeasibility=inf, iterations=iterations,
                       converged=converged, z=z)


def linear_maximum(c: torch.Tensor, A: LinearOperator, y: torch.Tensor, eta: float, prior: Prior,
                   **kwargs: Any) -> LinearBound:
    """max <c, Re z> over F: -min <-c, Re z>; ``bound`` is then a certified upper bound."""
    low = linear_minimum(-c, A, y, eta, prior, **kwargs)
    return LinearBound(bound=-low.bound, value=-low.value, gap=low.gap, infeasibility=low.infeasibility,
                       iterations=low.iterations, converged=low.converged, z=low.z)
