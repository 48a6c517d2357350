"""The three sparse-recovery problems, weighted l1 norms, and duality-gap certificates.

For A: C^N -> C^m, data y and weights w > 0, with ||x||_{1,w} = sum_i w_i |x_i|:

- (P1) QCBP     min ||x||_{1,w}                       subject to ||A x - y||_2 <= eta
- (P2) Lasso    min lam ||x||_{1,w} + ||A x - y||_2^2
- (P3) SRLasso  min lam ||x||_{1,w} + ||A x - y||_2

Each has a concave dual D(z) <= F(x*) over dual points z in C^m (Re<u, v> = Re sum conj(u) v):

- (P1) D(z) = Re<y, z> - eta ||z||_2             subject to |(A^* z)_i| <= w_i
- (P2) D(z) = Re<y, z> - ||z||_2^2 / 4           subject to |(A^* z)_i| <= lam w_i
- (P3) D(z) = Re<y, z>                           subject to |(A^* z)_i| <= lam w_i, ||z||_2 <= 1

so F(x) - D(z) bounds the suboptimality of any candidate x (feasible, for P1): a certificate
that needs no knowledge of the minimiser.

Analysis form (``analysis=B``): the same three problems with ||B x||_{1,w} = sum_g w_g ||(B x)_g||
(groups g of B's output, ``LinearOperator.groups``: single entries, or the pairs of isotropic total
variation). Their dual variables are pairs (z, v) with A^* z = B^* v and max_g ||v_g|| / w_g <= lam
in place of the constraint on A^* z; a candidate (z, v0) is made feasible by
v = v0 + B (B^* B)^+ (A^* z - B^* v0), after z is cleared of the directions A k, k in ker B
(the synthesis form is B = I, where v = A^* z).
Reference: Colbrook, Antun, Hansen, PNAS 2022; Chambolle, Pock, "An introduction to continuous
optimization for imaging", Acta Numer. 2016; Elad, Milanfar, Rubinstein, Inverse Problems 23,
2007 (analysis and synthesis priors).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ._validation import as_tensor, check_scalar, real_dtype, split_batch
from .operators import LinearOperator, as_operator


def weights_in_levels(level_index: torch.Tensor, values: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Per-entry weights w_i = values[level_index[i]] (e.g. ``Wavelet2D.level_index``)."""
    if not isinstance(level_index, torch.Tensor) or level_index.dtype not in (torch.int64, torch.int32):
        raise TypeError("level_index must be an integer torch.Tensor (such as Wavelet2D.level_index)")
    vals = torch.as_tensor(values, dtype=torch.float64)
    if vals.ndim != 1:
        raise ValueError(f"values must be a 1-D sequence, one weight per level; got shape {tuple(vals.shape)}")
    n_levels = int(level_index.max().item()) + 1
    if vals.numel() != n_levels:
        raise ValueError(f"values must hold {n_levels} weights (levels 0..{n_levels - 1}); got {vals.numel()}")
    if not bool(torch.isfinite(vals).all()) or bool((vals <= 0).any()):
        raise ValueError(f"values must be finite and > 0; got {vals.tolist()}")
    return vals.to(level_index.device)[level_index.long()]


def sparsity_weights(level_index: torch.Tensor, sparsities: Sequence[float]) -> torch.Tensor:
    """Weights in levels w_l = sqrt(s / s_l), s = sum_l s_l (Colbrook, Antun, Hansen 2022)."""
    s = torch.as_tensor(sparsities, dtype=torch.float64)
    if s.ndim != 1 or not bool(torch.isfinite(s).all()) or bool((s <= 0).any()):
        raise ValueError(f"sparsities must be a 1-D sequence of numbers > 0; got {sparsities!r}")
    return weights_in_levels(level_index, torch.sqrt(s.sum() / s))


def check_weights(weights: Any, A: LinearOperator, analysis: LinearOperator | None = None) -> torch.Tensor:
    """Weights of ||x||_{1,w} (or ||B x||_{1,w}): ones, or a real tensor > 0 of shape A.in_shape
    (B.out_shape), equal on the entries of one group of B."""
    shape = tuple(A.in_shape if analysis is None else analysis.out_shape)
    dtype = real_dtype(A.dtype)
    if weights is None:
        return torch.ones(shape, dtype=dtype, device=A.device)
    w = as_tensor("weights", weights, device=A.device)
    if w.is_complex():
        raise TypeError(f"weights must be real; got {w.dtype}")
    if tuple(w.shape) != shape:
        what = "one per entry of x" if analysis is None else "one per coefficient of B x"
        raise ValueError(
            f"weights must have shape {shape} ({what}; see weights_in_levels for weights per level); "
            f"got {tuple(w.shape)}"
        )
    if bool((w <= 0).any()):
        raise ValueError("weights must be > 0 everywhere")
    if analysis is not None:
        for start, count, size in group_segments(analysis):
            if size > 1:
                block = w[start : start + count * size].reshape(count, size, *w.shape[1:])
                if not bool((block == block[:, :1]).all()):
                    raise ValueError(
                        f"weights must be equal on the {size} channels of each group of B "
                        f"(channels {start}..{start + count * size - 1})"
                    )
    return w.to(dtype)


def group_segments(B: LinearOperator) -> list[tuple[int, int, int]]:
    """(first channel, number of groups, channels per group) for each run of equal-sized groups of B."""
    if B.groups is None:
        return [(0, 1, 1)]
    out: list[tuple[int, int, int]] = []
    start = 0
    for size in B.groups:
        if out and out[-1][2] == size:
            out[-1] = (out[-1][0], out[-1][1] + 1, size)
        else:
            out.append((start, 1, size))
        start += size
    return out


def group_moduli(u: torch.Tensor, segments: list[tuple[int, int, int]], grouped: bool) -> list[torch.Tensor]:
    """Per segment, ||u_g|| of every group (complex moduli): (*, groups, H, W), or |u| when ungrouped."""
    if not grouped:
        return [u.abs()]
    out = []
    for start, count, size in segments:
        block = u[..., start : start + count * size, :, :]
        if size == 1:
            out.append(block.abs())
        else:
            block = block.unflatten(-3, (count, size))
            sq = block.real**2 + block.imag**2 if block.is_complex() else block**2
            out.append(torch.sqrt(sq.sum(-3)))
    return out


def segment_weights(w: torch.Tensor, segments: list[tuple[int, int, int]], grouped: bool) -> list[torch.Tensor]:
    """Per segment, the weight of every group (its first channel's), matching ``group_moduli``."""
    if not grouped:
        return [w]
    return [w[start : start + count * size].reshape(count, size, *w.shape[1:])[:, 0] for start, count, size in segments]


def project_groups(
    v: torch.Tensor, thresholds: list[torch.Tensor], segments: list[tuple[int, int, int]], inplace: bool = False
) -> torch.Tensor:
    """Projection onto {||v_g|| <= t_g for every group g}: v_g min(1, t_g / ||v_g||) (complex moduli).

    v: (*, C, H, W) (or any shape with the one segment (0, 1, 1)); segments: (first channel,
    groups, channels per group) as ``group_segments`` gives them; thresholds: one
    tensor per segment, broadcastable to that segment's (*, groups, H, W) group moduli. This is
    the prox of the conjugate of sum_g t_g ||.||, the dual step of analysis l1. ``inplace``
    (outside autograd) writes into v.
    """
    if len(segments) == 1 and segments[0][2] == 1:
        return _project_entries(v, thresholds[0], inplace)
    parts = []
    for (start, count, size), t in zip(segments, thresholds, strict=True):
        block = v[..., start : start + count * size, :, :]
        if size == 1:
            parts.append(_project_entries(block, t, inplace))
            continue
        grouped = block.unflatten(-3, (count, size))
        scale = _group_scale(grouped, t)
        if inplace and grouped.is_complex():
            grouped.real.mul_(scale)
            grouped.imag.mul_(scale)
            parts.append(grouped)
        else:
            parts.append(grouped.mul_(scale) if inplace else (grouped * scale).flatten(-4, -3))
    return v if inplace else torch.cat(parts, dim=-3)


def _project_entries(v: torch.Tensor, t: torch.Tensor, inplace: bool) -> torch.Tensor:
    """Entrywise v min(1, t / |v|): clip for real v, the modulus for complex v."""
    if not v.is_complex():
        return v.clamp_(-t, t) if inplace else torch.clamp(v, -t, t)
    re, im = v.real, v.imag
    sq = torch.addcmul(re * re, im, im)
    if inplace:
        # min(1, t / |v|) in place on |v|^2, and the real scale applied to the real and imaginary
        # parts (strided views): a complex-by-real product would first cast the scale to complex
        # (|v| = 0 gives rsqrt = inf, so t inf = inf, clamped to 1: t > 0 always here)
        scale = sq.rsqrt_().mul_(t).clamp_(max=1.0)
        re.mul_(scale)
        im.mul_(scale)
        return v
    scale = torch.clamp(t * torch.rsqrt(torch.clamp(sq, min=torch.finfo(sq.dtype).tiny)), max=1.0)
    return v * scale


def _group_scale(grouped: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """min(1, t / ||v_g||) for groups along dim -3 of (*, groups, size, H, W), shape (*, groups, 1, H, W)."""
    size = grouped.shape[-3]
    if grouped.is_complex():
        parts = [grouped[..., k, :, :] for k in range(size)]
        sq = torch.addcmul(parts[0].real * parts[0].real, parts[0].imag, parts[0].imag)
        for p in parts[1:]:
            sq = sq.addcmul(p.real, p.real).addcmul_(p.imag, p.imag)
    else:
        sq = grouped.square().sum(-3)
    return torch.clamp(t * torch.rsqrt(torch.clamp(sq, min=torch.finfo(sq.dtype).tiny)), max=1.0).unsqueeze(-3)


@dataclass(frozen=True)
class Certificate:
    """Optimality certificate of a candidate x: primal and dual values and their gap.

    gap = objective - dual_objective >= objective - min F (for P1 when infeasibility == 0).
    infeasibility = max(0, ||A x - y|| - eta) for P1 (0 for P2, P3); relative_infeasibility
    divides it by max(eta, ||y||). All fields are tensors over the batch dimensions of y.
    """

    objective: torch.Tensor
    dual_objective: torch.Tensor
    gap: torch.Tensor
    relative_gap: torch.Tensor
    infeasibility: torch.Tensor
    relative_infeasibility: torch.Tensor
    z: torch.Tensor

    def within(self, rtol: float) -> bool:
        """True when every relative gap and every relative infeasibility is <= rtol."""
        return bool((self.relative_gap <= rtol).all() and (self.relative_infeasibility <= rtol).all())


def _re_inner(u: torch.Tensor, v: torch.Tensor, dims: int) -> torch.Tensor:
    prod = torch.real(torch.conj(u) * v) if (u.is_complex() or v.is_complex()) else u * v
    return prod.sum(dim=tuple(range(-dims, 0))) if dims else prod


def _norm(u: torch.Tensor, dims: int) -> torch.Tensor:
    return torch.linalg.vector_norm(u, dim=tuple(range(-dims, 0)))


class _Problem:
    """Shared set-up: the operator, the data (batched over leading dims) and the weights."""

    name = ""

    def __init__(self, A: Any, y: Any, weights: Any, analysis: LinearOperator | None = None):
        self.A = as_operator(A)
        A = self.A
        self.y = as_tensor("y", y, device=A.device)
        if real_dtype(self.y.dtype) != real_dtype(A.dtype):
            raise TypeError(
                f"y has dtype {self.y.dtype} but A works in {real_dtype(A.dtype)} precision; "
                "convert y explicitly"
            )
        self.batch_shape = split_batch("y", self.y, A.out_shape)
        self.B = check_analysis(analysis, A)
        self.weights = check_weights(weights, A, self.B)
        self._nin, self._nout = len(A.in_shape), len(A.out_shape)
        if self.B is not None:
            self._segments = group_segments(self.B)
            self._grouped = self.B.groups is not None
            self._nreg = len(self.B.out_shape)
            self._gram = _GramInverse(self.B, A)

    # --------------------------------------------------------------- basic quantities
    @property
    def is_complex(self) -> bool:
        """True when the unknown x is complex (A or y complex)."""
        return self.A.is_complex or self.y.is_complex()

    @property
    def dtype(self) -> torch.dtype:
        """dtype of the unknown x."""
        return self.A.dtype if self.A.is_complex else self.y.dtype

    def check_x(self, x: Any, name: str = "x") -> torch.Tensor:
        """x as a tensor of shape (*batch_shape, *A.in_shape) of the problem's field."""
        x = as_tensor(name, x, device=self.A.device)
        batch = split_batch(name, x, self.A.in_shape)
        if batch != self.batch_shape:
            raise ValueError(
                f"{name} has batch shape {batch} but y has batch shape {self.batch_shape}; "
                "they must match exactly"
            )
        if x.is_complex() and not self.is_complex:
            raise TypeError(f"{name} is complex but the problem is real (A and y are real)")
        return x

    @property
    def is_analysis(self) -> bool:
        """True for the analysis form lam ||B x||_{1,w}."""
        return self.B is not None

    def l1(self, x: torch.Tensor) -> torch.Tensor:
        """||x||_{1,w} = sum_i w_i |x_i| (or ||B x||_{1,w} = sum_g w_g ||(B x)_g||), per sample."""
        if self.B is None:
            return (self.weights * x.abs()).sum(dim=tuple(range(-self._nin, 0)))
        return self.regulariser_norm(self.B(x))

    def regulariser_norm(self, v: torch.Tensor) -> torch.Tensor:
        """sum_g w_g ||v_g|| for v in the range space of B (analysis form)."""
        dims = tuple(range(-self._nreg, 0))
        total = None
        for mod, w in zip(group_moduli(v, self._segments, self._grouped),
                          segment_weights(self.weights, self._segments, self._grouped), strict=True):
            part = (w * mod).sum(dim=dims)
            total = part if total is None else total + part
        return total

    def _dual_ratio(self, v: torch.Tensor) -> torch.Tensor:
        """max_g ||v_g|| / (lam w_g): v / s is dual feasible for s >= this (analysis form)."""
        dims = tuple(range(-self._nreg, 0))
        ratio = None
        for mod, w in zip(group_moduli(v, self._segments, self._grouped),
                          segment_weights(self.weights, self._segments, self._grouped), strict=True):
            part = (mod / w).amax(dim=dims)
            ratio = part if ratio is None else torch.maximum(ratio, part)
        return ratio / self._lam()

    def residual_norm(self, x: torch.Tensor) -> torch.Tensor:
        """||A x - y||_2."""
        return _norm(self.A(x) - self.y, self._nout)

    def objective(self, x: Any) -> torch.Tensor:
        """F(x); for P1 the objective ||x||_{1,w} (feasibility is reported by the certificate)."""
        x = self.check_x(x)
        return self._objective(x, self.A(x) - self.y)

    def _objective(self, x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def _lam(self) -> float:
        return 1.0

    def _eta(self) -> float:
        return 0.0

    def _best_scale(self, re_yz, norm_z, s_max):  # pragma: no cover - abstract
        raise NotImplementedError

    # --------------------------------------------------------------- duality
    def dual_value(self, z: torch.Tensor | tuple) -> tuple[torch.Tensor, torch.Tensor | tuple]:
        """Best dual value along the ray {s z : s >= 0} within the dual feasible set.

        Returns (D(s* z), s* z); every dual point gives a valid lower bound on min F. In the
        analysis form z is a pair (z, v0), or z alone (v0 = 0), made feasible first (module
        docstring) and returned as the pair (s* z, s* v).
        """
        if self.B is not None:
            z, v = self._feasible_pair(z)
            ratio = self._dual_ratio(v)
        else:
            Atz = self.A.adjoint(z)
            ratio = (Atz.abs() / self.weights).amax(dim=tuple(range(-self._nin, 0))) / self._lam()
        norm_z = _norm(z, self._nout)
        re_yz = _re_inner(self.y, z, self._nout)
        inf = torch.full_like(ratio, float("inf"))
        s_max = torch.where(ratio > 0, 1.0 / torch.where(ratio > 0, ratio, 1.0), inf)
        s, value = self._best_scale(re_yz, norm_z, s_max)
        s = torch.where(torch.isfinite(s), s, torch.zeros_like(s))
        value = torch.where(torch.isfinite(value), value, torch.zeros_like(value))
        if self.B is not None:
            return value, (z * s.reshape(*s.shape, *([1] * self._nout)), v * s.reshape(*s.shape, *([1] * self._nreg)))
        return value, z * s.reshape(*s.shape, *([1] * self._nout))

    def _feasible_pair(self, cand: torch.Tensor | tuple) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, v) with A^* z = B^* v from a candidate (z, v0) or z: z cleared of A ker B, then
        v = v0 + B (B^* B)^+ (A^* z - B^* v0)."""
        z, v0 = cand if isinstance(cand, tuple) else (cand, None)
        z = self._gram.clear_kernel(z)
        rhs = self.A.adjoint(z)
        if v0 is not None:
            rhs = rhs - self.B.adjoint(v0)
        v = self._gram.minimum_norm(rhs)
        return z, v if v0 is None else v0 + v

    # --------------------------------------------------------------- the analysis dual's feasible set
    def _gram_symbol(self) -> torch.Tensor | None:
        """The Fourier symbol of A^* A + B^* B where both are Fourier multipliers
        (``LinearOperator.gram_symbol``: a single-coil Fourier A, a shift-invariant B); None otherwise."""
        if not hasattr(self, "_symbol"):
            sa, sb = self.A.gram_symbol(), self.B.gram_symbol()
            self._symbol = sa + sb if sa is not None and sb is not None and sa.shape == sb.shape else None
        return self._symbol

    @property
    def refines_cheaply(self) -> bool:
        """Whether ``refine_dual`` solves its subspace projection by one Fourier division (analysis
        form with A^* A and B^* B Fourier multipliers): a round then costs about one layer."""
        return self.B is not None and self._gram_symbol() is not None

    def _gram_solve(self, w: torch.Tensor, iterations: int = 50, scale: torch.Tensor | None = None) -> torch.Tensor:
        """lam with (A^* A + B^* B) lam = w: by division in Fourier space where both are Fourier
        multipliers (``_gram_symbol``; 0 on the modes where the symbol vanishes), else by conjugate
        gradients in the real inner product Re<.,.>, at most ``iterations`` steps, until
        the residual is below 1e-10 (or 100 rounding units) of ``scale`` (default ||w||) per sample: an
        inexact solve only leaves the pair a little off the subspace, which the certificate corrects."""
        symbol = self._gram_symbol()
        if symbol is not None:
            zero = symbol.abs() <= 1e-12 * float(symbol.abs().max())
            lam = torch.fft.ifft2(torch.where(zero, 0, torch.fft.fft2(w) / torch.where(zero, 1, symbol)))
            return lam if w.is_complex() else lam.real.contiguous()
        dims = self._nin

        def M(u: torch.Tensor) -> torch.Tensor:
            return (self.A._inner(self.A._inner(u, False), True)
                    + self.B._inner(self.B._inner(u, False), True))

        def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return _re_inner(a, b, dims).reshape(*a.shape[: a.ndim - dims], *([1] * dims))

        lam = torch.zeros_like(w)
        r, p = w.clone(), w.clone()
        rr = dot(r, r)
        ref = dot(w, w) if scale is None else scale**2
        stop = max(1e-10, 100 * torch.finfo(real_dtype(w.dtype)).eps) ** 2 * ref
        for _ in range(iterations):
            if bool((rr <= stop).all()):
                break
            done = rr <= stop  # a sample that has converged stays where it is
            Mp = M(p)
            alpha = torch.where(done, 0, rr / torch.clamp(dot(p, Mp), min=torch.finfo(rr.dtype).tiny))
            lam = lam + alpha * p
            r = r - alpha * Mp
            rr_new = dot(r, r)
            p = r + torch.where(done, 0, rr_new / torch.clamp(rr, min=torch.finfo(rr.dtype).tiny)) * p
            rr = rr_new
        return lam

    def refine_dual(self, z: torch.Tensor, v: torch.Tensor, iterations: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
        """Dykstra's projection of the pair (z, v) onto the analysis dual's feasible set
        {A^* z = B^* v} n {||v_g|| <= lam w_g} (n {||z|| <= 1} for P3), ``iterations`` rounds.

        The subspace's projection is exact: z - A l, v + B l with (A^* A + B^* B) l = A^* z - B^* v.
        Near a saddle point's dual pair the projection moves little, so the certificate's gap goes
        to zero as the iterates converge (Boyle, Dykstra 1986; Bauschke, Combettes 2017, 30.2).
        The result is a candidate: ``certificate`` still makes it exactly feasible and scales it.
        """
        if self.B is None:
            raise ValueError("refine_dual is for the analysis form (analysis=B)")
        ball = isinstance(self, SRLasso)
        A, B = self.A, self.B
        Az, Bv = A.adjoint(z), B.adjoint(v)  # the public calls check the pair once; the rounds apply A, B directly
        qz, qv = torch.zeros_like(z), torch.zeros_like(v)
        for k in range(iterations):
            if k:
                Az, Bv = A._inner(z, True), B._inner(v, True)
            # the solve's scale is that of A^* z and B^* v: their difference may be rounding alone
            scale = _norm(Az, self._nin) + _norm(Bv, self._nin)
            lam = self._gram_solve(Az - Bv, scale=scale.reshape(*scale.shape, *([1] * self._nin)))
            z, v = z - A._inner(lam, False), v + B._inner(lam, False)
            tz, tv = z + qz, v + qv
            v = project_groups(tv, [self._lam() * w for w in segment_weights(self.weights, self._segments,
                                                                                self._grouped)], self._segments)
            z = tz / torch.clamp(_norm(tz, self._nout), min=1.0).reshape(
                *tz.shape[: tz.ndim - self._nout], *([1] * self._nout)) if ball else tz
            qz, qv = tz - z, tv - v
        return z, v

    def certificate(
        self, x: Any, z: Any | None = None, *, support_dual: bool | None = None, refine: int = 0
    ) -> Certificate:
        """Duality-gap certificate for x, from the best of several dual points.

        Candidates: the given z, or each of a list of them (e.g. a solver's dual iterate); the
        residual direction y - A x (optimal for P2, and for P1/P3 when the residual is
        non-zero); and, when the operator is small enough to hold densely, each of these and
        z = 0 corrected to satisfy (A^* z)_S = lam w_S sign(x_S) on supports S of x (which
        certifies minimisers with A x = y). Each is scaled into the dual feasible set; the gap
        is a rigorous bound whatever the candidate. In the analysis form, ``refine`` > 0 adds
        each candidate's Dykstra projection onto the dual feasible set (``refine_dual``, that many
        rounds), which tightens the gap of an iterate's dual pair.
        """
        if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
            raise ValueError(f"refine must be a whole number of rounds >= 0; got {refine!r}")
        x = self.check_x(x)
        r = self.A(x) - self.y
        objective = self._objective(x, r)
        candidates = [-r]
        if self.B is not None and isinstance(z, tuple) and len(z) == 2 and all(isinstance(t, torch.Tensor) for t in z):
            z = [z]  # one analysis pair (z, v)
        for k, zk in enumerate([] if z is None else z if isinstance(z, (list, tuple)) else [z]):
            name = f"z[{k}]" if isinstance(z, (list, tuple)) else "z"
            if self.B is not None and isinstance(zk, tuple):
                zk, vk = zk
                vk = as_tensor(f"{name}[1]", vk, device=self.A.device)
                if split_batch(f"{name}[1]", vk, self.B.out_shape) != self.batch_shape:
                    raise ValueError(
                        f"{name}[1] must have shape {(*self.batch_shape, *self.B.out_shape)}; got {tuple(vk.shape)}"
                    )
            else:
                vk = None
            zk = as_tensor(name, zk, device=self.A.device)
            if split_batch("z", zk, self.A.out_shape) != self.batch_shape:
                raise ValueError(
                    f"z must have shape {(*self.batch_shape, *self.A.out_shape)}; got {tuple(zk.shape)}"
                )
            candidates.append(zk if vk is None else (zk, vk))
        if self.B is not None:
            support_dual = False  # the support conditions are those of the synthesis form
        if support_dual is None:
            m, n = self.A.shape
            support_dual = m * n <= 4_000_000 and m * n * max(1, math.prod(self.batch_shape)) <= 5e7
        if support_dual:
            candidates.extend(self._support_duals(x, candidates))
        if refine and self.B is not None:
            for cand in list(candidates):
                pair = cand if isinstance(cand, tuple) else (cand, None)
                zc, vc = (t.to(torch.promote_types(t.dtype, self.y.dtype)) if t is not None else None for t in pair)
                zc, vc = self._feasible_pair((zc, vc) if vc is not None else zc)
                zr, vr = self.refine_dual(zc, vc, refine)
                finite = torch.isfinite(torch.view_as_real(zr) if zr.is_complex() else zr).all() and \
                    torch.isfinite(torch.view_as_real(vr) if vr.is_complex() else vr).all()
                if bool(finite):  # a refinement that fails costs its candidate, never the certificate
                    candidates.append((zr, vr))
        best_val, best_z = None, None
        for cand in candidates:
            if isinstance(cand, tuple):
                cand = tuple(c.to(torch.promote_types(c.dtype, self.y.dtype)) for c in cand)
            else:
                cand = cand.to(torch.promote_types(cand.dtype, self.y.dtype))
            val, zz = self.dual_value(cand)
            if best_val is None:
                best_val, best_z = val, zz
            else:
                better = val > best_val
                if isinstance(zz, tuple):
                    best_z = tuple(
                        torch.where(better.reshape(*better.shape, *([1] * (t.ndim - better.ndim))), t, b)
                        for t, b in zip(zz, best_z, strict=True)
                    )
                else:
                    best_z = torch.where(better.reshape(*better.shape, *([1] * self._nout)), zz, best_z)
                best_val = torch.where(better, val, best_val)
        gap = objective - best_val
        tiny = torch.finfo(objective.dtype).tiny
        infeasibility = self._infeasibility(r)
        y_norm = _norm(self.y, self._nout)
        return Certificate(
            objective=objective,
            dual_objective=best_val,
            gap=gap,
            relative_gap=gap / torch.clamp(objective.abs(), min=tiny),
            infeasibility=infeasibility,
            relative_infeasibility=infeasibility / torch.clamp(y_norm, min=max(self._eta(), tiny)),
            z=best_z,
        )

    def _infeasibility(self, r: torch.Tensor) -> torch.Tensor:
        return torch.zeros(r.shape[: r.ndim - self._nout], dtype=real_dtype(r.dtype), device=r.device)

    def _support_duals(self, x: torch.Tensor, bases: list[torch.Tensor]) -> list[torch.Tensor]:
        """Dual points with (A^* z)_S = lam w_S sign(x_S) on supports S of x.

        For each base point z0 (and z0 = 0): z = z0 + pinv(A_S^*)(lam w_S sign(x_S) - (A^* z0)_S),
        the smallest change of z0 that satisfies the optimality conditions on S.
        """
        D = self.A.to_dense()
        m = D.shape[0]
        dt = torch.promote_types(D.dtype, self.y.dtype)
        D = D.to(dt)
        xf = x.reshape(-1, D.shape[1]).to(dt)
        zf = [torch.zeros_like(xf[:, :1].expand(-1, m))] + [b.reshape(-1, m).to(dt) for b in bases]
        w = self.weights.reshape(-1) * self._lam()
        outs = []
        for rel in (1e-12, 1e-9, 1e-6, 1e-3):
            zs = [[] for _ in zf]
            for b, xb in enumerate(xf):
                scale = xb.abs().max()
                support = torch.nonzero(xb.abs() > rel * scale).reshape(-1)
                if scale == 0 or support.numel() == 0 or support.numel() > m:
                    for lst, base in zip(zs, zf, strict=True):
                        lst.append(base[b])
                    continue
                AS_H = D[:, support].conj().T
                pinv = torch.linalg.pinv(AS_H)
                target = (w[support] * xb[support] / xb[support].abs()).to(dt)
                for lst, base in zip(zs, zf, strict=True):
                    lst.append(base[b] + pinv @ (target - AS_H @ base[b]))
            outs.extend(torch.stack(z).reshape(*self.batch_shape, *self.A.out_shape) for z in zs)
        return outs

    def _with_data(self, y: torch.Tensor) -> _Problem:
        """The same problem with other data y (checked like the original)."""
        new = copy.copy(self)
        new.y = as_tensor("y", y, device=self.A.device)
        new.batch_shape = split_batch("y", new.y, self.A.out_shape)
        return new

    def __repr__(self) -> str:
        return f"{type(self).__name__}(A={self.A!r}, batch_shape={self.batch_shape})"


class _Penalised(_Problem):
    """A problem with a penalty parameter lam > 0 on the weighted l1 norm (P2, P3)."""

    def __init__(self, A: Any, y: Any, lam: float = 1.0, weights: Any = None, analysis: LinearOperator | None = None):
        super().__init__(A, y, weights, analysis)
        self.lam = check_scalar("lam", lam, positive=True)

    def _lam(self) -> float:
        return self.lam


class SRLasso(_Penalised):
    """(P3) square-root LASSO: min lam ||x||_{1,w} + ||A x - y||_2 (Colbrook, Antun, Hansen 2022);
    with ``analysis=B``, min lam ||B x||_{1,w} + ||A x - y||_2."""

    name = "srlasso"

    def _objective(self, x, r):
        return self.lam * self.l1(x) + _norm(r, self._nout)

    def _best_scale(self, re_yz, norm_z, s_max):
        s_max = torch.minimum(s_max, 1.0 / norm_z)
        s = torch.where(re_yz > 0, s_max, torch.zeros_like(s_max))
        return s, s * re_yz


class Lasso(_Penalised):
    """(P2) LASSO: min lam ||x||_{1,w} + ||A x - y||_2^2 (Tibshirani 1996); with ``analysis=B``,
    min lam ||B x||_{1,w} + ||A x - y||_2^2."""

    name = "lasso"

    def _objective(self, x, r):
        return self.lam * self.l1(x) + _norm(r, self._nout) ** 2

    def _best_scale(self, re_yz, norm_z, s_max):
        # maximise s Re<y,z> - s^2 ||z||^2 / 4 over 0 <= s <= s_max
        free = 2 * re_yz / torch.clamp(norm_z**2, min=torch.finfo(norm_z.dtype).tiny)
        s = torch.clamp(torch.minimum(free, s_max), min=0.0)
        return s, s * re_yz - s**2 * norm_z**2 / 4


class QCBP(_Problem):
    """(P1) quadratically constrained basis pursuit: min ||x||_{1,w} s.t. ||A x - y||_2 <= eta;
    with ``analysis=B``, min ||B x||_{1,w} s.t. ||A x - y||_2 <= eta."""

    name = "qcbp"

    def __init__(self, A: Any, y: Any, eta: float = 0.0, weights: Any = None, analysis: LinearOperator | None = None):
        super().__init__(A, y, weights, analysis)
        self.eta = check_scalar("eta", eta, nonnegative=True)

    def _eta(self) -> float:
        return self.eta

    def _objective(self, x, r):
        return self.l1(x)

    def _best_scale(self, re_yz, norm_z, s_max):
        slope = re_yz - self.eta * norm_z
        s = torch.where(slope > 0, s_max, torch.zeros_like(s_max))
        return s, s * slope

    def _infeasibility(self, r):
        return torch.clamp(_norm(r, self._nout) - self.eta, min=0.0)


def check_analysis(B: Any, A: LinearOperator) -> LinearOperator | None:
    """B for the analysis form: a LinearOperator on A's unknowns (None: the synthesis form)."""
    if B is None:
        return None
    if not isinstance(B, LinearOperator):
        raise TypeError(f"analysis must be a LinearOperator (e.g. UndecimatedWavelet2D, Gradient2D, Stack); got {type(B).__name__}")
    if tuple(B.in_shape) != tuple(A.in_shape):
        raise ValueError(f"analysis acts on {tuple(B.in_shape)} but A on {tuple(A.in_shape)}: they must match")
    if B.device != A.device:
        raise ValueError(f"analysis is on {B.device} but A on {A.device}")
    if real_dtype(B.dtype) != real_dtype(A.dtype):
        raise TypeError(f"analysis works in {real_dtype(B.dtype)} but A in {real_dtype(A.dtype)}: use one precision")
    if B.groups is not None:
        if len(B.out_shape) != 3 or sum(B.groups) != B.out_shape[0]:
            raise ValueError(f"analysis.groups {B.groups} must sum to the channels of out_shape {B.out_shape}")
    return B


class _GramInverse:
    """The minimum-norm v with B^* v = u, and the projection of dual points z off A ker B.

    When B^* B is a Fourier multiplier s (``gram_symbol``), v = B (B^* B)^+ u with (B^* B)^+
    dividing by s in Fourier space (0 where s = 0), and ker B is spanned by the Fourier modes
    where s = 0 (for total variation, the constants); otherwise B is made dense (small problems
    only) and v = pinv(B^*) u.
    """

    def __init__(self, B: LinearOperator, A: LinearOperator, max_entries: int = 4_000_000):
        self.B, self.A = B, A
        symbol = B.gram_symbol()
        self.pinv_adjoint = None
        kernel = None
        if symbol is not None:
            symbol = symbol.to(torch.float64)
            zero = symbol <= 1e-12 * float(symbol.max())
            self.identity = bool(torch.all((symbol - 1).abs() <= 1e-12))
            self.inverse = torch.where(zero, 0.0, 1.0 / torch.where(zero, 1.0, symbol)).to(real_dtype(B.dtype))
            modes = torch.nonzero(zero)
            if modes.shape[0] > 1 or (modes.shape[0] == 1 and int(modes[0].abs().sum()) != 0):
                raise ValueError(
                    "analysis: B^* B vanishes at Fourier modes other than the constant one; the certificate "
                    "needs ker B to be at most the constants"
                )
            if modes.shape[0]:
                n = math.prod(B.in_shape)
                kernel = torch.full((1, *B.in_shape), 1.0 / math.sqrt(n), dtype=real_dtype(B.dtype), device=B.device)
        else:
            m, n = B.shape
            if m * n > max_entries:
                raise ValueError(
                    f"analysis: B is {m} x {n} and B^* B is not a Fourier multiplier; its certificate needs B "
                    f"densely, which is refused above {max_entries:,} entries"
                )
            D = B.to_dense()
            Dh = D.conj().T if D.is_complex() else D.T
            self.pinv_adjoint = torch.linalg.pinv(Dh)  # (m, n): v = pinv(B^*) u
            _, S, Vh = torch.linalg.svd(D, full_matrices=True)
            rank = int((S > 1e-12 * S.max()).sum())
            if rank < n:
                kernel = (Vh[rank:].conj() if Vh.is_complex() else Vh[rank:]).reshape(-1, *B.in_shape)
        self.kernel_images = None  # A k for a basis k of ker B, flattened (k, m), and their pseudo-inverse Gram
        if kernel is not None:
            images = A(kernel.to(A.dtype) if A.is_complex else kernel).reshape(kernel.shape[0], -1)
            self.kernel_images = images
            self.kernel_gram_pinv = torch.linalg.pinv(torch.conj(images) @ images.T)

    def minimum_norm(self, u: torch.Tensor) -> torch.Tensor:
        """v with B^* v = u of least norm (u in the range of B^*: images (*, H, W))."""
        if self.pinv_adjoint is not None:
            P = self.pinv_adjoint.to(torch.promote_types(self.pinv_adjoint.dtype, u.dtype))
            flat = u.reshape(*u.shape[: u.ndim - len(self.B.in_shape)], -1).to(P.dtype)
            return (flat @ P.T).reshape(*flat.shape[:-1], *self.B.out_shape)
        if self.identity:
            return self.B(u)
        w = torch.fft.ifft2(torch.fft.fft2(u) * self.inverse)
        return self.B(w if u.is_complex() else w.real.contiguous())

    def clear_kernel(self, z: torch.Tensor) -> torch.Tensor:
        """z minus its projection on span{A k : k in ker B} (then A^* z is in the range of B^*)."""
        if self.kernel_images is None:
            return z
        nout = len(self.A.out_shape)
        K = self.kernel_images.to(torch.promote_types(self.kernel_images.dtype, z.dtype))
        flat = z.reshape(*z.shape[: z.ndim - nout], -1)
        coef = (flat @ torch.conj(K).T) @ self.kernel_gram_pinv.to(K.dtype).T  # (*, k)
        return (flat - coef @ K).reshape(z.shape)
