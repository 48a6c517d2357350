"""The other side of the paradox: accurate ReLU networks exist, and here is one, explicitly.

For a continuous f on [0, 1] the piecewise-linear interpolant at the knots t_i = i / n is the
one-hidden-layer ReLU network

    g(x) = f(0) + sum_{i=0}^{n-1} a_i ReLU(x - t_i),   a_0 = s_0,  a_i = s_i - s_{i-1},

with s_i = n (f(t_{i+1}) - f(t_i)) the slope on [t_i, t_{i+1}]. If f is L-Lipschitz,
max |f - g| <= L / (2 n); if f is twice differentiable, max |f - g| <= max |f''| / (8 n^2). So for
every eps there is an explicit network within eps (the universal approximation theorem made
constructive, Cybenko 1989, Hornik 1991), whose width is the smallest n with the error bound
below eps (or, without a bound, found by doubling n until the error measured on a grid 16 times
finer than the knots is below eps). Existence is not the barrier; computing the network from inexact data is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .._validation import check_int, check_scalar


class InterpolationNetwork(torch.nn.Module):
    """g(x) = b + sum_i a_i ReLU(x - t_i): Linear(1, n) -> ReLU -> Linear(n, 1), float64."""

    def __init__(self, knots: torch.Tensor, values: torch.Tensor):
        super().__init__()
        n = knots.numel() - 1
        slopes = torch.diff(values) / torch.diff(knots)
        a = torch.cat([slopes[:1], torch.diff(slopes)])
        self.hidden = torch.nn.Linear(1, n, dtype=torch.float64)
        self.output = torch.nn.Linear(n, 1, dtype=torch.float64)
        with torch.no_grad():
            self.hidden.weight.copy_(torch.ones(n, 1, dtype=torch.float64))
            self.hidden.bias.copy_(-knots[:-1])
            self.output.weight.copy_(a.reshape(1, n))
            self.output.bias.copy_(values[:1])

    @property
    def width(self) -> int:
        """Number of hidden ReLU units."""
        return self.hidden.out_features

    @property
    def num_parameters(self) -> int:
        """Number of weights and biases."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """g(x) for x of any shape, elementwise."""
        return self.output(torch.relu(self.hidden(x.reshape(-1, 1)))).reshape(x.shape)


@dataclass(frozen=True)
class Approximation:
    """The network, its width, the error bound used, and the error measured on a fine grid."""

    network: InterpolationNetwork
    eps: float
    width: int
    num_parameters: int
    bound: float | None
    measured_error: float


def approximate(
    f: Callable[[torch.Tensor], torch.Tensor],
    eps: float,
    *,
    lipschitz: float | None = None,
    second_derivative: float | None = None,
    max_width: int = 2**22,
) -> Approximation:
    """An explicit ReLU network g with max_{[0, 1]} |f - g| < eps (see the module docstring).

    With ``lipschitz`` (L) or ``second_derivative`` (max |f''|) the width is the smallest n whose
    bound L / (2n) or max|f''| / (8 n^2) is below eps; otherwise n doubles until the error
    measured on a grid 16 times finer than the knots is below eps (then a check, not a proof).
    """
    eps = check_scalar("eps", eps, positive=True)
    max_width = check_int("max_width", max_width, minimum=1)
    L = None if lipschitz is None else check_scalar("lipschitz", lipschitz, nonnegative=True)
    D2 = None if second_derivative is None else check_scalar("second_derivative", second_derivative, nonnegative=True)

    def bound(n: int) -> float | None:
        cands = []
        if L is not None:
            cands.append(L / (2 * n))
        if D2 is not None:
            cands.append(D2 / (8 * n * n))
        return min(cands) if cands else None

    def build(n: int) -> tuple[InterpolationNetwork, float]:
        knots = torch.linspace(0.0, 1.0, n + 1, dtype=torch.float64)
        net = InterpolationNetwork(knots, _evaluate(f, knots))
        return net, _max_error(net, f, n)

    if L is not None or D2 is not None:
        # the smallest width whose bound is below eps, in closed form
        widths = []
        if L is not None:
            widths.append(math.floor(L / (2 * eps)) + 1)
        if D2 is not None:
            widths.append(math.floor(math.sqrt(D2 / (8 * eps))) + 1)
        n = max(1, min(widths))
        if n > max_width:
            raise ValueError(f"no interpolation network of width <= {max_width} reaches eps = {eps} by its bound "
                             f"(width {n} is needed)")
        net, measured = build(n)
        return Approximation(net, eps, n, net.num_parameters, bound(n), measured)
    n = 1
    while True:
        net, measured = build(n)
        if measured < eps:
            return Approximation(net, eps, n, net.num_parameters, None, measured)
        if 2 * n > max_width:
            raise ValueError(
                f"no interpolation network of width <= {max_width} reaches eps = {eps} "
                f"(width {n}: measured error {measured:.2e})"
            )
        n *= 2


def _max_error(net: InterpolationNetwork, f, n: int, per_interval: int = 16) -> float:
    """max |g - f| on ``per_interval`` points per knot interval, evaluated in chunks."""
    grid = torch.linspace(0.0, 1.0, per_interval * n + 1, dtype=torch.float64)
    chunk = max(1, 2**22 // n)  # bounded memory for the (points x width) hidden layer
    err = 0.0
    with torch.no_grad():
        for part in grid.split(chunk):
            err = max(err, (net(part) - _evaluate(f, part)).abs().max().item())
    return err


def _evaluate(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    out = f(x)
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        raise TypeError("f must map a float64 tensor to a tensor of the same shape")
    out = out.to(torch.float64)
    if not bool(torch.isfinite(out).all()):
        raise ValueError("f must be finite on [0, 1]")
    return out


def size_table(
    f: Callable[[torch.Tensor], torch.Tensor], eps_values: list[float], **bounds: float
) -> list[dict]:
    """Width, parameters and errors of the networks for several eps (width grows like 1/eps)."""
    rows = []
    for eps in eps_values:
        a = approximate(f, eps, **bounds)
        rows.append({"eps": eps, "width": a.width, "parameters": a.num_parameters,
                     "bound": a.bound, "measured_error": a.measured_error})
    return rows


def note(K: int = 3) -> str:
    """The sentence the impossibility table prints beside its results."""
    f = _example
    a = approximate(f, 10.0**-K, second_derivative=4 * math.pi**2)
    return (
        f"Such networks exist: for f(x) = sin(2 pi x) on [0, 1] an explicit ReLU network of width "
        f"{a.width} ({a.num_parameters} parameters) is within {a.measured_error:.1e} < 1e-{K} of f; "
        f"yet no algorithm can compute the network above to {K} digits from 2^-n-accurate input."
    )


def _example(x: torch.Tensor) -> torch.Tensor:
    return torch.sin(2 * math.pi * x)
