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
that needs no knowledge of the minimiser. Reference: Colbrook, Antun, Hansen, PNAS 2022, and
Chambolle, Pock, "An introduction to continuous optimization for imaging", Acta Numer. 2016.
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


def check_weights(weights: Any, A: LinearOperator) -> torch.Tensor:
    """Weights of ||x||_{1,w} for the unknown of A: ones, or a real tensor > 0 of shape A.in_shape."""
    if weights is None:
        return torch.ones(A.in_shape, dtype=real_dtype(A.dtype), device=A.device)
    w = as_tensor("weights", weights, device=A.device)
    if w.is_complex():
        raise TypeError(f"weights must be real; got {w.dtype}")
    if tuple(w.shape) != tuple(A.in_shape):
        raise ValueError(
            f"weights must have shape {tuple(A.in_shape)} (one per entry of x; see "
            f"weights_in_levels for weights per level); got {tuple(w.shape)}"
        )
    if bool((w <= 0).any()):
        raise ValueError("weights must be > 0 everywhere")
    return w.to(real_dtype(A.dtype))


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

    def __init__(self, A: Any, y: Any, weights: Any):
        self.A = as_operator(A)
        A = self.A
        self.y = as_tensor("y", y, device=A.device)
        if real_dtype(self.y.dtype) != real_dtype(A.dtype):
            raise TypeError(
                f"y has dtype {self.y.dtype} but A works in {real_dtype(A.dtype)} precision; "
                "convert y explicitly"
            )
        self.batch_shape = split_batch("y", self.y, A.out_shape)
        self.weights = check_weights(weights, A)
        self._nin, self._nout = len(A.in_shape), len(A.out_shape)

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

    def l1(self, x: torch.Tensor) -> torch.Tensor:
        """||x||_{1,w} = sum_i w_i |x_i|, over the trailing in_shape dimensions."""
        return (self.weights * x.abs()).sum(dim=tuple(range(-self._nin, 0)))

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
    def dual_value(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Best dual value along the ray {s z : s >= 0} within the dual feasible set.

        Returns (D(s* z), s* z); every dual point gives a valid lower bound on min F.
        """
        Atz = self.A.adjoint(z)
        ratio = (Atz.abs() / self.weights).amax(dim=tuple(range(-self._nin, 0))) / self._lam()
        norm_z = _norm(z, self._nout)
        re_yz = _re_inner(self.y, z, self._nout)
        inf = torch.full_like(ratio, float("inf"))
        s_max = torch.where(ratio > 0, 1.0 / torch.where(ratio > 0, ratio, 1.0), inf)
        s, value = self._best_scale(re_yz, norm_z, s_max)
        s = torch.where(torch.isfinite(s), s, torch.zeros_like(s))
        value = torch.where(torch.isfinite(value), value, torch.zeros_like(value))
        return value, z * s.reshape(*s.shape, *([1] * self._nout))

    def certificate(
        self, x: Any, z: Any | None = None, *, support_dual: bool | None = None
    ) -> Certificate:
        """Duality-gap certificate for x, from the best of several dual points.

        Candidates: the given z, or each of a list of them (e.g. a solver's dual iterate); the
        residual direction y - A x (optimal for P2, and for P1/P3 when the residual is
        non-zero); and, when the operator is small enough to hold densely, each of these and
        z = 0 corrected to satisfy (A^* z)_S = lam w_S sign(x_S) on supports S of x (which
        certifies minimisers with A x = y). Each is scaled into the dual feasible set; the gap
        is a rigorous bound whatever the candidate.
        """
        x = self.check_x(x)
        r = self.A(x) - self.y
        objective = self._objective(x, r)
        candidates = [-r]
        for k, zk in enumerate([] if z is None else z if isinstance(z, (list, tuple)) else [z]):
            zk = as_tensor(f"z[{k}]" if isinstance(z, (list, tuple)) else "z", zk, device=self.A.device)
            if split_batch("z", zk, self.A.out_shape) != self.batch_shape:
                raise ValueError(
                    f"z must have shape {(*self.batch_shape, *self.A.out_shape)}; got {tuple(zk.shape)}"
                )
            candidates.append(zk)
        if support_dual is None:
            m, n = self.A.shape
            support_dual = m * n <= 4_000_000 and m * n * max(1, math.prod(self.batch_shape)) <= 5e7
        if support_dual:
            candidates.extend(self._support_duals(x, candidates))
        best_val, best_z = None, None
        for cand in candidates:
            cand = cand.to(torch.promote_types(cand.dtype, self.y.dtype))
            val, zz = self.dual_value(cand)
            if best_val is None:
                best_val, best_z = val, zz
            else:
                better = val > best_val
                best_val = torch.where(better, val, best_val)
                best_z = torch.where(better.reshape(*better.shape, *([1] * self._nout)), zz, best_z)
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

    def __init__(self, A: Any, y: Any, lam: float = 1.0, weights: Any = None):
        super().__init__(A, y, weights)
        self.lam = check_scalar("lam", lam, positive=True)

    def _lam(self) -> float:
        return self.lam


class SRLasso(_Penalised):
    """(P3) square-root LASSO: min lam ||x||_{1,w} + ||A x - y||_2 (Colbrook, Antun, Hansen 2022)."""

    name = "srlasso"

    def _objective(self, x, r):
        return self.lam * self.l1(x) + _norm(r, self._nout)

    def _best_scale(self, re_yz, norm_z, s_max):
        s_max = torch.minimum(s_max, 1.0 / norm_z)
        s = torch.where(re_yz > 0, s_max, torch.zeros_like(s_max))
        return s, s * re_yz


class Lasso(_Penalised):
    """(P2) LASSO: min lam ||x||_{1,w} + ||A x - y||_2^2 (Tibshirani 1996)."""

    name = "lasso"

    def _objective(self, x, r):
        return self.lam * self.l1(x) + _norm(r, self._nout) ** 2

    def _best_scale(self, re_yz, norm_z, s_max):
        # maximise s Re<y,z> - s^2 ||z||^2 / 4 over 0 <= s <= s_max
        free = 2 * re_yz / torch.clamp(norm_z**2, min=torch.finfo(norm_z.dtype).tiny)
        s = torch.clamp(torch.minimum(free, s_max), min=0.0)
        return s, s * re_yz - s**2 * norm_z**2 / 4


class QCBP(_Problem):
    """(P1) quadratically constrained basis pursuit: min ||x||_{1,w} s.t. ||A x - y||_2 <= eta."""

    name = "qcbp"

    def __init__(self, A: Any, y: Any, eta: float = 0.0, weights: Any = None):
        super().__init__(A, y, weights)
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
