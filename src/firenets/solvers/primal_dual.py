"""Chambolle-Pock primal-dual steps for (P1), (P2), (P3), shared by FIRENET and the baselines.

The saddle-point form is min_x max_z lam ||x||_{1,w} + Re<A x, z> - H*(z) (lam = 1 for P1), and
one step with step sizes tau, sigma (tau sigma ||A||^2 <= 1) is

    x+ = S_{tau lam w}(x - tau A^* z)
    z+ = prox_{sigma H*}(z + sigma A(2 x+ - x))

with the residual r = A x - y carried from step to step and A(2 x+ - x) - y formed as 2 r+ - r,
so that each step applies A and A^* once.

Reference: Chambolle, Pock, J. Math. Imaging Vis. 40, 2011; Colbrook, Antun, Hansen, PNAS 2022.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..operators import LinearOperator
from ..operators.base import _apply
from ..problems import QCBP, Lasso, SRLasso, segment_weights
from .prox import _soft_threshold_, dual_prox_shifted, project_groups, soft_threshold


def _finite_state(*tensors: torch.Tensor) -> None:
    """Refuse to start a block from a state that left the floating-point range."""
    for t in tensors:
        if isinstance(t, torch.Tensor) and not bool(torch.isfinite(t.detach()).all()):
            raise FloatingPointError(
                "the primal-dual iteration left the floating-point range (NaN/Inf at the start of a block): its "
                "steps are too large for the data or the data's scale overflows; for a FIRENET, give L_A >= ||A||")


class _Steps:
    """What the two step kinds share: the problem kind, the dimensions, the residual A x - y carried
    between steps, one step, and p steps with their ergodic averages. A subclass gives A, y, kind,
    eta, ``_checked``, ``_stepper`` and how its dual splits into tensors (``_parts``, ``_join``)."""

    A: LinearOperator
    y: torch.Tensor
    kind: str
    eta: float

    def __post_init__(self):
        if self.kind not in ("srlasso", "lasso", "qcbp"):
            raise ValueError(f"kind must be 'srlasso', 'lasso' or 'qcbp'; got {self.kind!r}")

    @property
    def nin(self) -> int:
        return len(self.A.in_shape)

    @property
    def nout(self) -> int:
        return len(self.A.out_shape)

    def expand(self, t: torch.Tensor | float, dims: int) -> torch.Tensor | float:
        """A per-sample scalar (*batch) broadcast against (*batch, *shape)."""
        if isinstance(t, torch.Tensor) and t.ndim:
            return t.reshape(*t.shape, *([1] * dims))
        return t

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """A x - y."""
        return self.A.residual(x, self.y)

    @staticmethod
    def _parts(z) -> tuple[torch.Tensor, ...]:
        return (z,)

    @staticmethod
    def _join(parts: tuple[torch.Tensor, ...]):
        return parts[0]

    def step(self, x: torch.Tensor, z, tau: torch.Tensor | float, sigma: torch.Tensor | float,
             r: torch.Tensor | None = None) -> tuple:
        """One Chambolle-Pock step (x, z) -> (x+, z+); also returns r+ = A x+ - y (pass it back as r)."""
        x, z = self._checked(x, z)
        if r is None:
            r = self.residual(x)
        return self._stepper(tau, sigma)(x, z, r)

    def inner(self, x: torch.Tensor, z, tau, sigma, p: int, r: torch.Tensor | None = None, last: bool = False):
        """p steps from (x, z); returns the ergodic averages (mean of x_1..x_p, of z_1..z_p) and
        the residual A xbar - y of the first (by linearity, the mean of the r_i: no extra
        application of A).

        r: A x - y, when the caller has it (the previous block's third output). With ``last``
        also returns the states (x, z, r) before and after the last step.
        """
        x, z = self._checked(x, z)
        step = self._stepper(tau, sigma)
        if r is None:
            r = self.residual(x)
        sums = [torch.zeros_like(x), *(torch.zeros_like(t) for t in self._parts(z)), torch.zeros_like(r)]
        before = None
        for i in range(p):
            if last and i == p - 1:
                before = (x, z, r)
            x, z, r = step(x, z, r)
            for acc, t in zip(sums, (x, *self._parts(z), r), strict=True):
                acc.add_(t)  # in place: addition needs none of its inputs for the backward pass
        means = [t / p for t in sums]
        averages = (means[0], self._join(tuple(means[1:-1])), means[-1])
        return (averages, before, (x, z, r)) if last else averages


@dataclass
class SaddlePoint(_Steps):
    """The pieces one primal-dual step needs: A, data y, thresholds lam w, problem kind, eta."""

    A: LinearOperator
    y: torch.Tensor
    thresholds: torch.Tensor  # lam * w, of shape A.in_shape or broadcastable to it
    kind: str
    eta: float = 0.0

    def _checked(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # once per call, so that the steps can skip the operator's checks (and real x or z
        # meet a complex operator already converted)
        _finite_state(x, z)  # checked once: the operator's own checks below skip finiteness
        return (self.A._check("x", x, self.A.in_shape, finite=False),
                self.A._check("z", z, self.A.out_shape, finite=False))

    def _stepper(self, tau: torch.Tensor | float, sigma: torch.Tensor | float):
        """The step (x, z, r) -> (x+, z+, r+), r = A x - y, with what a block's steps share bound once.

        A tensor tau (per sample, or carrying gradients) multiplies z in the data space, where it
        costs one pass over the (usually smaller) dual variable; the product with A^* and the
        subtraction from x stay one fused call.
        """
        A, y, nout = self.A, self.y, self.nout
        t = self.expand(tau, self.nin) * self.thresholds
        neg_t = -t
        sigma_z = self.expand(sigma, nout)
        tau_z = self.expand(tau, nout) if isinstance(tau, torch.Tensor) else None
        kind, eta = self.kind, self.eta

        def step(x, z, r):
            if tau_z is None:
                v = A._fused_adjoint_subtract(x, z, tau)
            else:
                v = A._fused_adjoint_subtract(x, tau_z * z, 1.0)
            # outside autograd, v (always a new tensor) is thresholded in place
            x_new = soft_threshold(v, t, neg_t) if torch.is_grad_enabled() else _soft_threshold_(v, t, neg_t)
            r_new = A._fused_residual(x_new, y)
            # A(2 x+ - x) - y = 2 r+ - r: the residual is carried from the previous step, so
            # the extrapolation is one pass over the data space and every step applies A and
            # A^* once each
            extrapolated = torch.lerp(r, r_new, 2.0)
            if isinstance(sigma_z, torch.Tensor):
                w = torch.addcmul(z, sigma_z, extrapolated)
            else:
                w = torch.add(z, extrapolated, alpha=sigma_z)
            return x_new, dual_prox_shifted(kind, w, sigma_z, eta, nout), r_new

        return step

    def fixed_point_residual(self, state, stepped, tau, sigma) -> torch.Tensor:
        """||w - T w||_M^2 per sample for w = (x, z) and T w = one step from it, in the metric
        M = [[I / tau, -A^*], [-A, I / sigma]] of the primal-dual iteration (positive when
        tau sigma ||A||^2 <= 1); A (x+ - x) is the change of the carried residual.
        Reference: He, Yuan, SIAM J. Imaging Sci. 5, 2012; Applegate et al., Math. Program. 2023.
        """
        (x, z, r), (xn, zn, rn) = state, stepped
        return _metric(xn - x, [(zn - z, rn - r, self.nout)], tau, sigma, self.nin)


@dataclass
class AnalysisSaddlePoint(_Steps):
    """One primal-dual step of the analysis form min lam ||B x||_{1,w} + H(A x) (P1, P2, P3).

    The saddle-point form is min_x max_{z, v} Re<A x, z> - H*(z) + Re<B x, v> subject to
    ||v_g|| <= lam w_g: K = [A; B] with a dual variable for each block, and one step is

        x+ = x - tau (A^* z + B^* v)
        z+ = prox_{sigma H*}(z + sigma A(2 x+ - x)),   v+ = P_{lam w}(v + sigma B(2 x+ - x))

    (P the projection onto the group balls, ``prox.project_groups``), tau sigma ||K||^2 <= 1,
    ||K||^2 = ||A^* A + B^* B||. The residual r = A x - y is carried from step to step (as in
    ``SaddlePoint``) and B is applied to the extrapolated image 2 x+ - x, so that each step applies
    A, A^*, B and B^* once and passes over B's (redundant) coefficients only to form and project
    v + sigma B(2 x+ - x) and to add v+ to the block's running sum. Duals are pairs (z, v).
    Reference: Chambolle, Pock, J. Math. Imaging Vis. 40, 2011; Colbrook, WARPd, SIAM J.
    Imaging Sci. 2022 (restarted primal-dual for analysis problems).
    """

    A: LinearOperator
    B: LinearOperator
    y: torch.Tensor
    thresholds: list  # lam w per group segment (problems.segment_weights), broadcastable
    segments: list
    kind: str
    eta: float = 0.0

    @property
    def nreg(self) -> int:
        return len(self.B.out_shape)

    @staticmethod
    def _parts(z) -> tuple[torch.Tensor, ...]:
        return z  # the pair (z, v)

    @staticmethod
    def _join(parts: tuple[torch.Tensor, ...]):
        return parts

    def zeros(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The dual pair (0, 0) for primal iterates like x."""
        batch = x.shape[: x.ndim - self.nin]
        dt = torch.promote_types(x.dtype, self.A.dtype)
        return (torch.zeros(*batch, *self.A.out_shape, dtype=dt, device=x.device),
                torch.zeros(*batch, *self.B.out_shape, dtype=torch.promote_types(x.dtype, self.B.dtype), device=x.device))

    def _checked(self, x, z):
        _finite_state(x, *z)  # checked once: the operators' own checks below skip finiteness
        x = self.A._check("x", x, self.A.in_shape, finite=False)
        z1 = self.A._check("z", z[0], self.A.out_shape, finite=False)
        z2 = self.B._check("v", z[1], self.B.out_shape, finite=False)
        if x.is_complex() and not z2.is_complex():
            z2 = z2.to(x.dtype)
        return x, (z1, z2)

    def _stepper(self, tau, sigma):
        A, B, y = self.A, self.B, self.y
        nin, nout, nreg = self.nin, self.nout, self.nreg
        tau_x = self.expand(tau, nin)
        sigma_z = self.expand(sigma, nout)
        sigma_v = self.expand(sigma, nreg)
        # thresholds of the dual projection: lam w (the dual ball does not scale with sigma)
        thresholds, segments = self.thresholds, self.segments
        kind, eta = self.kind, self.eta

        def step(x, z, r):
            z1, z2 = z
            graph = torch.is_grad_enabled()
            g = _apply(A, z1, True) + _apply(B, z2, True)  # K^* (z, v)
            if isinstance(tau_x, torch.Tensor):
                x_new = torch.addcmul(x, tau_x, g, value=-1)
            else:
                x_new = torch.add(x, g, alpha=-tau_x)
            r_new = A._fused_residual(x_new, y)
            ext_r = torch.lerp(r, r_new, 2.0)  # A(2 x+ - x) - y
            w2 = _apply(B, torch.lerp(x, x_new, 2.0), False)  # B(2 x+ - x), a fresh tensor
            if isinstance(sigma_z, torch.Tensor):
                w1 = torch.addcmul(z1, sigma_z, ext_r)
                w2 = torch.addcmul(z2, sigma_v, w2) if graph else w2.mul_(sigma_v).add_(z2)
            else:
                w1 = torch.add(z1, ext_r, alpha=sigma_z)
                w2 = torch.add(z2, w2, alpha=sigma_v) if graph else torch.add(z2, w2, alpha=sigma_v, out=w2)
            z1_new = dual_prox_shifted(kind, w1, sigma_z, eta, nout)
            z2_new = project_groups(w2, thresholds, segments, inplace=not graph)
            return x_new, (z1_new, z2_new), r_new

        return step

    def fixed_point_residual(self, state, stepped, tau, sigma) -> torch.Tensor:
        """||w - T w||_M^2 per sample, M = [[I / tau, -K^*], [-K, I / sigma]], K = [A; B]
        (``SaddlePoint.fixed_point_residual``; B (x+ - x) is applied here)."""
        (x, (z, v), r), (xn, (zn, vn), rn) = state, stepped
        dx = xn - x
        return _metric(dx, [(zn - z, rn - r, self.nout), (vn - v, self.B(dx), self.nreg)], tau, sigma, self.nin)


def _re_sum(u: torch.Tensor, v: torch.Tensor, dims: int) -> torch.Tensor:
    """Re <u, v> over the trailing dims, per sample (one dot product per sample)."""
    batch = u.shape[: u.ndim - dims]
    dt = torch.promote_types(u.dtype, v.dtype)
    out = torch.linalg.vecdot(u.to(dt).reshape(*batch, -1), v.to(dt).reshape(*batch, -1))
    return out.real if out.is_complex() else out


def _metric(dx: torch.Tensor, blocks, tau, sigma, nin: int) -> torch.Tensor:
    """||dx||^2 / tau + sum ||dz||^2 / sigma - 2 Re <K dx, dz> over the dual blocks (dz, K dx, dims)."""
    out = _re_sum(dx, dx, nin) / tau
    for dz, kdx, dims in blocks:
        out = out + _re_sum(dz, dz, dims) / sigma - 2 * _re_sum(kdx, dz, dims)
    return out


def saddle_point(problem) -> SaddlePoint | AnalysisSaddlePoint:
    """The SaddlePoint (or, with ``analysis``, AnalysisSaddlePoint) of a QCBP, Lasso or SRLasso."""
    if not isinstance(problem, (QCBP, Lasso, SRLasso)):
        raise TypeError(f"problem must be an SRLasso, Lasso or QCBP; got {type(problem).__name__}")
    lam = 1.0 if isinstance(problem, QCBP) else problem.lam
    eta = getattr(problem, "eta", 0.0)
    if problem.is_analysis:
        thresholds = [lam * w for w in segment_weights(problem.weights, problem._segments, problem._grouped)]
        return AnalysisSaddlePoint(problem.A, problem.B, problem.y, thresholds, problem._segments, problem.name, eta)
    return SaddlePoint(problem.A, problem.y, lam * problem.weights, problem.name, eta)
