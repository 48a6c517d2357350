"""Proximal maps of the weighted l1 norm and of the data terms of (P1), (P2), (P3).

With H the data term as a function of u = A x (H(u) = ||u - y||_2 for P3, ||u - y||_2^2 for P2,
the indicator of ||u - y||_2 <= eta for P1), the primal-dual methods need prox_{sigma H*}:

- P3: H*(z) = Re<y, z> + indicator(||z||_2 <= 1)  ->  prox(v) = P_{B(1)}(v - sigma y)
- P2: H*(z) = Re<y, z> + ||z||_2^2 / 4             ->  prox(v) = (v - sigma y) / (1 + sigma / 2)
- P1: H*(z) = Re<y, z> + eta ||z||_2               ->  prox(v) = shrink_{sigma eta}(v - sigma y)

where shrink_r(u) = max(0, 1 - r / ||u||) u. Reference: Chambolle, Pock, "A first-order
primal-dual algorithm for convex problems", J. Math. Imaging Vis. 2011; Colbrook, Antun,
Hansen, PNAS 2022.
"""

from __future__ import annotations

import torch

from ..problems import project_groups  # the dual step of analysis l1, defined with its dual set

__all__ = ["dual_prox", "dual_prox_shifted", "project_ball", "project_groups", "shrink_ball", "soft_threshold"]


def _complex_scale(v: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(max(0, 1 - t / |v|), 1 / |v|) from |v|^2 = re^2 + im^2 and rsqrt (complex abs is slower)."""
    re, im = v.real, v.imag
    inv = torch.rsqrt(torch.clamp(torch.addcmul(re * re, im, im), min=torch.finfo(re.dtype).tiny))
    scale = torch.clamp(torch.addcmul(torch.ones((), dtype=re.dtype, device=v.device), t, inv, value=-1), min=0)
    return scale, inv


def _complex_scale_differentiable(v: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The same pair, with 1/|v| set to 0 where |v| <= t and derivatives finite everywhere.

    For the backward pass's own graph (second derivatives): 1/|v| is taken only where v != 0
    and used only where |v| > t (or t = 0, where S_t is the identity), so that no infinite
    factor meets a zero one (which would give NaN) at v = 0.
    """
    sq = torch.addcmul(v.real * v.real, v.imag, v.imag)
    nonzero = sq > 0
    inv = torch.where(nonzero, torch.rsqrt(torch.where(nonzero, sq, 1.0)), 0.0)
    active = (sq > t * t) | (t == 0)
    return torch.where(active, 1 - t * inv, 0.0), torch.where(active, inv, 0.0)


class _ComplexSoftThreshold(torch.autograd.Function):
    """S_t(v) = v max(0, 1 - t / |v|) with its derivative written out (one node, few passes).

    Where |v| > t, with u = v / |v| and v seen in R^2: dS/dv = (1 - t/|v|) I + (t/|v|) u u^T
    (symmetric, so the vector-Jacobian product applies it to g) and dS/dt = -u; both vanish
    where |v| <= t. In complex form: grad_v = scale g + t |v|^-3 Re(conj(v) g) v and
    grad_t = -Re(conj(v) g) / |v|, summed over the entries t was broadcast to.
    """

    @staticmethod
    def forward(ctx, v, t):
        scale, inv = _complex_scale(v, t)
        ctx.save_for_backward(v, t, scale, inv)
        return v * scale

    @staticmethod
    def backward(ctx, g):
        v, t, scale, inv = ctx.saved_tensors
        if torch.is_grad_enabled():
            # create_graph: recompute scale and 1/|v| from (v, t) so that the backward pass is
            # itself differentiable (second derivatives through the threshold)
            scale, inv = _complex_scale_differentiable(v, t)
        proj = torch.addcmul(v.real * g.real, v.imag, g.imag)  # Re(conj(v) g)
        active = scale > 0
        grad_v = grad_t = None
        if ctx.needs_input_grad[0]:
            coef = torch.where(active, (t * inv) * (inv * inv) * proj, 0.0)
            grad_v = g * scale + v * coef
        if ctx.needs_input_grad[1]:
            grad_t = torch.where(active, -proj * inv, 0.0).sum_to_size(t.shape)
        return grad_v, grad_t


def soft_threshold(
    v: torch.Tensor, t: torch.Tensor | float, neg_t: torch.Tensor | float | None = None
) -> torch.Tensor:
    """S_t(v): v - clip(v, -t, t) for real v; v max(0, 1 - t / |v|) for complex v (phase kept).

    neg_t: -t, when the caller has it already (a loop with fixed thresholds).
    """
    if v.is_complex():
        if not isinstance(t, torch.Tensor):
            t = torch.as_tensor(t, dtype=v.real.dtype, device=v.device)
        if torch.is_grad_enabled() and (v.requires_grad or t.requires_grad):
            return _ComplexSoftThreshold.apply(v, t)
        return v * _complex_scale(v, t)[0]
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t, dtype=v.dtype, device=v.device)
    return v - torch.clamp(v, -t if neg_t is None else neg_t, t)


def _soft_threshold_(v: torch.Tensor, t: torch.Tensor | float, neg_t: torch.Tensor | float) -> torch.Tensor:
    """S_t(v) written into v (a fresh iterate, outside autograd): one array less per step."""
    if v.is_complex():
        return v.mul_(_complex_scale(v, torch.as_tensor(t, dtype=v.real.dtype, device=v.device))[0])
    return v.sub_(torch.clamp(v, neg_t, t))


def _norm(u: torch.Tensor, dims: int) -> torch.Tensor:
    if u.is_complex():  # over the (re, im) pairs: the complex modulus is many times slower
        return torch.linalg.vector_norm(torch.view_as_real(u), dim=tuple(range(-dims - 1, 0)), keepdim=True)[..., 0]
    return torch.linalg.vector_norm(u, dim=tuple(range(-dims, 0)), keepdim=True)


def project_ball(u: torch.Tensor, radius: float, dims: int) -> torch.Tensor:
    """Projection onto {||u||_2 <= radius} over the trailing ``dims`` dimensions."""
    n = _norm(u, dims)
    return u / torch.clamp(n if isinstance(radius, (int, float)) and radius == 1 else n / radius, min=1.0)


def shrink_ball(u: torch.Tensor, r: torch.Tensor | float, dims: int) -> torch.Tensor:
    """Block soft threshold max(0, 1 - r / ||u||) u over the trailing ``dims`` dimensions."""
    n = _norm(u, dims)
    return u * torch.clamp(1 - r / torch.clamp(n, min=torch.finfo(n.dtype).tiny), min=0)


def dual_prox(
    kind: str, v: torch.Tensor, sigma: torch.Tensor | float, y: torch.Tensor, eta: float, dims: int
) -> torch.Tensor:
    """prox_{sigma H*}(v) for the data term of problem ``kind`` ("srlasso", "lasso", "qcbp")."""
    return dual_prox_shifted(kind, v - sigma * y, sigma, eta, dims)


def dual_prox_shifted(
    kind: str, u: torch.Tensor, sigma: torch.Tensor | float, eta: float, dims: int
) -> torch.Tensor:
    """prox_{sigma H*}(v) given u = v - sigma y (to reuse sigma y across steps)."""
    if kind == "srlasso":
        return project_ball(u, 1.0, dims)
    if kind == "lasso":
        return u / (1 + sigma / 2)
    if kind == "qcbp":
        return shrink_ball(u, sigma * eta, dims)
    raise ValueError(f"kind must be 'srlasso', 'lasso' or 'qcbp'; got {kind!r}")
