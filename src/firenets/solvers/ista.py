"""ISTA and FISTA for (P2) LASSO: the proximal-gradient baselines.

x+ = S_{lam w / L}(x - (2 / L) A^*(A x - y)) with L = 2 ||A||^2 the Lipschitz constant of the
gradient of ||A x - y||_2^2; FISTA adds Nesterov's extrapolation t+ = (1 + sqrt(1 + 4 t^2)) / 2,
v = x+ + ((t - 1) / t+)(x+ - x). Reference: Beck, Teboulle, SIAM J. Imaging Sci. 2, 2009.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .._validation import check_int
from ..problems import Lasso
from .prox import soft_threshold


def _setup(problem, x0):
    if not isinstance(problem, Lasso):
        raise TypeError(f"ISTA/FISTA solve (P2) Lasso problems; got {type(problem).__name__}")
    L = 2 * problem.A.norm() ** 2
    if L == 0:
        raise ValueError("A has zero norm")
    x = torch.zeros(*problem.batch_shape, *problem.A.in_shape, dtype=problem.dtype, device=problem.A.device)
    if x0 is not None:
        x = problem.check_x(x0, "x0").to(problem.dtype)
    return L, x, problem.lam * problem.weights


def _gradient_step(problem, v: torch.Tensor, L: float, thresholds: torch.Tensor) -> torch.Tensor:
    grad = 2 * problem.A.adjoint(problem.A(v) - problem.y)
    return soft_threshold(v - grad / L, thresholds / L)


def ista(
    problem, iterations: int, *, x0: torch.Tensor | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """``iterations`` steps of ISTA on a Lasso problem."""
    return _proximal_gradient(problem, iterations, x0, callback, accelerated=False)


def fista(
    problem, iterations: int, *, x0: torch.Tensor | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """``iterations`` steps of FISTA on a Lasso problem."""
    return _proximal_gradient(problem, iterations, x0, callback, accelerated=True)


def _proximal_gradient(problem, iterations: int, x0: torch.Tensor | None,
                       callback: Callable[[int, torch.Tensor], None] | None, *, accelerated: bool) -> torch.Tensor:
    """x_{k+1} = S(v_k - grad / L) with v_k = x_k (ISTA) or, accelerated, v_k = x_k + (t_{k-1} - 1) / t_k
    (x_k - x_{k-1}), t_k = (1 + sqrt(1 + 4 t_{k-1}^2)) / 2, t_0 = 1 (FISTA); callback(k, x_{k+1})."""
    iterations = check_int("iterations", iterations, minimum=1)
    L, x, thr = _setup(problem, x0)
    v, t = x, 1.0
    for k in range(iterations):
        x_new = _gradient_step(problem, v, L, thr)
        if accelerated:
            t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
            v = x_new + ((t - 1) / t_new) * (x_new - x)
            t = t_new
        else:
            v = x_new
        x = x_new
        if callback is not None:
            callback(k, x)
    return x
