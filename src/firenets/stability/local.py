"""The local worst case: the top singular values and vectors of the Jacobian of r -> f(A(x + r)) at r = 0.

J = d/dr f(A(x + r)) at 0 is real-linear on the real and imaginary parts of r. As ||r|| -> 0 the
ratio ||f(A(x + r)) - f(A x)|| / ||r|| tends to ||J r|| / ||r||, so sigma_max(J) is the worst-case
ratio of infinitesimal perturbations, and the top right singular vectors are the most dangerous
directions. J = J_f A vanishes on ker A, so its right singular vectors of nonzero sigma lie in the
range of A^* (the part of r the samples see). They are computed by Lanczos on J^T J with full
reorthogonalisation (Golub and Van Loan, Matrix Computations, 4th ed., section 10.1), from one
forward pass of f kept for all products: J^T u is a backward pass, J v the backward pass of that
backward pass (double vjp: J v = d/du <J^T u, v>), so a model without forward-mode derivatives
works too. A Ritz pair (theta, v) of the tridiagonal T_j has residual ||J^T J v - theta v|| =
beta_j |s_j|, its last Lanczos coordinate times the next off-diagonal; that number says how well
each direction has converged. A finite sphere can hold more than sigma_max (f is nonlinear): the
sphere search still runs, from these directions (``perturbation.worst_case``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .._validation import check_int, check_scalar, check_seed

__all__ = ["LocalWorstCase", "jacobian_products", "lanczos", "local_worst_case", "seen"]

Product = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True, eq=False)
class LocalWorstCase:
    """sigma_1 >= sigma_2 >= ... of J = d/dr f(A(x + r)) at r = 0, their right singular vectors (unit
    images in range(A^*)), each pair's relative residual ||J^T J v - sigma^2 v|| / sigma_1^2, the
    products of J^T J spent and whether every pair reached the tolerance."""

    sigmas: tuple[float, ...]
    vectors: tuple[torch.Tensor, ...]
    residuals: tuple[float, ...]
    products: int
    tol: float
    converged: bool
    method: str  # how J v was computed: "double vjp" or "forward mode"

    @property
    def sigma(self) -> float:
        """sigma_max(J): the worst-case ratio as ||r|| -> 0."""
        return self.sigmas[0]

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers (no vectors)."""
        return {"sigma": self.sigma, "sigmas": list(self.sigmas), "residuals": list(self.residuals),
                "products": self.products, "tol": self.tol, "converged": self.converged, "method": self.method}


def seen(A: Any, d: torch.Tensor) -> torch.Tensor:
    """A^* A d: a direction in the range of A^* (for A = P_M F_c, the projection of d onto the sampled
    part). The part of r in the null space of A leaves f(A(x + r)) unchanged and only adds to ||r||,
    so the attacks start from random directions drawn there; gradients of f(A(x + r)) stay there."""
    with torch.no_grad():
        p = A.adjoint(A(d)).to(d.dtype)
    return p if float(torch.linalg.vector_norm(p)) > 0 else d


def _dot(a: torch.Tensor, b: torch.Tensor) -> float:
    """The real inner product Re <a, b> of the real and imaginary parts."""
    return float(torch.sum(a.conj() * b).real) if a.is_complex() else float(torch.sum(a * b))


def _norm(a: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(a))


def jacobian_products(f: Callable[[torch.Tensor], torch.Tensor], A: Any, x: torch.Tensor) -> tuple[Product, str]:
    """v -> J^T J v for J = d/dr f(A(x + r)) at r = 0, from one forward pass (double vjp; forward mode
    where f's backward is not itself differentiable)."""
    r0 = torch.zeros_like(x, requires_grad=True)
    out = f(A(x + r0))
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"f must return a torch.Tensor; got {type(out).__name__}")
    if not out.requires_grad:
        raise ValueError("f is not differentiable: its output does not depend on its input through autograd")
    u = torch.zeros_like(out, requires_grad=True)
    (g,) = torch.autograd.grad(out, r0, u, create_graph=True)  # g = J^T u, linear in u

    def transpose(w: torch.Tensor) -> torch.Tensor:
        (t,) = torch.autograd.grad(out, r0, w.to(out.dtype), retain_graph=True)
        return t.detach()

    def double_vjp(v: torch.Tensor) -> torch.Tensor:
        return transpose(torch.autograd.grad(g, u, v.to(g.dtype), retain_graph=True)[0].detach())

    if g.requires_grad:
        try:
            double_vjp(torch.zeros_like(x))
            return double_vjp, "double vjp"
        except RuntimeError:
            pass  # a backward that is not differentiable: forward mode instead
    from torch.func import jvp

    def forward_mode(v: torch.Tensor) -> torch.Tensor:
        _, jv = jvp(lambda r: f(A(x + r)), (torch.zeros_like(x),), (v.to(x.dtype),))
        return transpose(jv.detach())

    return forward_mode, "forward mode"


def lanczos(op: Product, start: torch.Tensor, *, k: int, steps: int, tol: float,
            restart: Callable[[], torch.Tensor] | None = None) -> tuple[list[float], list[torch.Tensor],
                                                                          list[float], int]:
    """The k largest eigenpairs of a symmetric positive semi-definite ``op`` (real inner product on
    complex tensors) by Lanczos with full reorthogonalisation, from ``start``.

    Ends when the k top Ritz pairs have residual beta_j |s_ji| <= tol theta_1, or after ``steps``
    products. On breakdown (an invariant subspace, beta = 0) it continues from ``restart()``,
    orthogonalised against the basis (T then splits into blocks), so k pairs can be found where
    the spectrum is degenerate. Returns (thetas, vectors, residuals, products), descending.
    """
    basis: list[torch.Tensor] = []
    alphas: list[float] = []
    betas: list[float] = []  # betas[j]: the coupling of basis[j] and basis[j + 1] (0 at a block's end)
    q = start / _norm(start)
    beta = 0.0

    def ritz() -> tuple[torch.Tensor, torch.Tensor]:
        n = len(alphas)
        T = torch.zeros(n, n, dtype=torch.float64)
        T[range(n), range(n)] = torch.tensor(alphas, dtype=torch.float64)
        if n > 1:
            off = torch.tensor(betas[: n - 1], dtype=torch.float64)
            T[range(n - 1), range(1, n)] = off
            T[range(1, n), range(n - 1)] = off
        w, V = torch.linalg.eigh(T)
        return w.flip(0), V.flip(1)

    products = 0
    while products < steps:
        basis.append(q)
        w = op(q)
        products += 1
        a = _dot(q, w)
        alphas.append(a)
        w = w - a * q - (beta * basis[-2] if len(basis) > 1 and beta > 0 else 0)
        for _ in range(2):  # full reorthogonalisation, twice (Kahan: twice is enough)
            for b in basis:
                w = w - _dot(b, w) * b
        beta = _norm(w)
        thetas, S = ritz()
        top = max(float(thetas[0]), 0.0)
        floor = 1e-13 * max(top, 1e-300)
        m = min(k, len(alphas))
        residuals = [beta * abs(float(S[-1, i])) for i in range(m)]
        if m == k and all(res <= tol * top for res in residuals):
            break
        if beta <= floor:  # an invariant subspace: its Ritz pairs are exact
            betas.append(0.0)
            if restart is None or len(basis) >= start.numel() * (2 if start.is_complex() else 1):
                beta = 0.0
                break
            q = restart()
            for _ in range(2):
                for b in basis:
                    q = q - _dot(b, q) * b
            if _norm(q) <= 1e-12 * _norm(start):
                beta = 0.0
                break
            q, beta = q / _norm(q), 0.0
            continue
        betas.append(beta)
        q = w / beta
    m = min(k, len(alphas))
    vectors = []
    for i in range(m):
        v = sum(float(S[j, i]) * basis[j] for j in range(len(basis)))
        vectors.append(v / _norm(v))
    residuals = [beta * abs(float(S[-1, i])) for i in range(m)]  # beta: 0 after a breakdown
    return [max(float(t), 0.0) for t in thetas[:m]], vectors, residuals, products


def local_worst_case(f: Callable[[torch.Tensor], torch.Tensor], A: Any, x: torch.Tensor, *, k: int = 2,
                     steps: int = 30, tol: float = 1e-4, seed: int = 0) -> LocalWorstCase:
    """The k largest singular values sigma_i of J = d/dr f(A(x + r)) at r = 0 and their right singular
    vectors, by Lanczos on J^T J from a random direction in range(A^*) (at most ``steps`` products,
    ending when every pair's residual ||J^T J v - theta v|| <= tol theta_1). sigma_1 is the
    worst-case ratio ||f(A(x + r)) - f(A x)|| / ||r|| as ||r|| -> 0."""
    k = check_int("k", k, minimum=1)
    steps = check_int("steps", steps, minimum=1)
    tol = check_scalar("tol", tol, positive=True)
    seed = check_seed("seed", seed)
    gen = torch.Generator(device="cpu").manual_seed(seed + 7_919)

    def draw() -> torch.Tensor:  # in range(A^*): J vanishes on ker A
        return seen(A, torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device))

    op, method = jacobian_products(f, A, x.detach())
    thetas, vectors, residuals, products = lanczos(op, draw(), k=k, steps=steps, tol=tol, restart=draw)
    top = thetas[0] if thetas and thetas[0] > 0 else 1.0
    rel = tuple(res / top for res in residuals)
    sigmas = tuple(math.sqrt(t) for t in thetas)
    converged = len(sigmas) == k and all(r <= tol for r in rel)
    return LocalWorstCase(sigmas=sigmas, vectors=tuple(v.detach() for v in vectors), residuals=rel,
                          products=products, tol=tol, converged=converged, method=method)
