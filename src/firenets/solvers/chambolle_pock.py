"""Plain Chambolle-Pock (no restarts, last iterate): the baseline FIRENET is compared with."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .._validation import check_int, check_scalar
from .primal_dual import saddle_point


def chambolle_pock(
    problem,
    iterations: int,
    *,
    x0: torch.Tensor | None = None,
    tau: float | None = None,
    sigma: float | None = None,
    L_A: float | None = None,
    callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``iterations`` Chambolle-Pock steps on (P1), (P2) or (P3); return the last (x, z).

    Defaults: tau = sigma = 1 / L_A with L_A = ||A|| (power iteration), so tau sigma ||A||^2 <= 1.
    ``callback(k, x, z)`` is called after every step. Reference: Chambolle, Pock 2011.
    """
    iterations = check_int("iterations", iterations, minimum=1)
    sp = saddle_point(problem)
    L = check_scalar("L_A", L_A, positive=True) if L_A is not None else problem.A.norm()
    if L == 0:
        raise ValueError("A has zero norm")
    tau = 1.0 / L if tau is None else check_scalar("tau", tau, positive=True)
    sigma = 1.0 / L if sigma is None else check_scalar("sigma", sigma, positive=True)
    if tau * sigma * L**2 > 1 + 1e-12:
        raise ValueError(f"tau sigma ||A||^2 = {tau * sigma * L**2:.4g} > 1: the iteration may diverge")
    x = torch.zeros(*problem.batch_shape, *problem.A.in_shape, dtype=problem.dtype, device=problem.A.device)
    if x0 is not None:
        x = problem.check_x(x0, "x0").to(problem.dtype)
    z = torch.zeros_like(problem.y, dtype=torch.promote_types(problem.y.dtype, problem.A.dtype))
    r = None  # A x - y, carried from step to step
    for k in range(iterations):
        x, z, r = sp.step(x, z, tau, sigma, r)
        if callback is not None:
            callback(k, x, z)
    return x, z
