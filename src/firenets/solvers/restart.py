"""The restart schedule of FIRENET (Colbrook, Antun, Hansen, PNAS 2022, Algorithm 1).

Restart k = 1..n works at accuracy eps_k = e^-1 (delta + eps_{k-1}), starting from eps_0. The
inner block of p primal-dual steps is run on the problem rescaled by alpha = 1 / (beta p),
beta = eps_k / (2 L_A): psi_k = Inner(alpha y, alpha psi_{k-1}) / alpha. For (P3), which is
positively homogeneous in (x, y), that rescaling is the same as running the inner block on the
original problem with the step sizes tau / alpha and sigma alpha; for (P1) and (P2) the second
form is the one used. Under sharpness (the robust null space property in levels), p of order
C L_A inner steps contract the error by e per restart: O(log 1/eps) layers reach accuracy eps.
"""

from __future__ import annotations

import math

import torch


def next_eps(eps: torch.Tensor | float, delta: float) -> torch.Tensor | float:
    """eps_k = e^-1 (delta + eps_{k-1})."""
    return (delta + eps) / math.e


def schedule(eps0: float, delta: float, restarts: int) -> list[float]:
    """[eps_1, ..., eps_n]; it decreases to the floor delta / (e - 1)."""
    out, eps = [], eps0
    for _ in range(restarts):
        eps = next_eps(eps, delta)
        out.append(eps)
    return out


def step_sizes(
    eps: torch.Tensor | float, L_A: float, inner: int
) -> tuple[torch.Tensor | float, torch.Tensor | float]:
    """(tau, sigma) = (1 / (L_A alpha), alpha / L_A) with alpha = 2 L_A / (eps p): tau sigma L_A^2 = 1."""
    alpha = 2 * L_A / (eps * inner)
    return 1.0 / (L_A * alpha), alpha / L_A
