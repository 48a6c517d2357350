"""Chambolle-Pock primal-dual steps for (P1), (P2), (P3), shared by FIRENET and the baselines.

The saddle-point form is min_x max_z lam ||x||_{1,w} + Re<A x, z> - H*(z) (lam = 1 for P1), and
one step with step sizes tau, sigma (tau sigma ||A||^2 <= 1) is

    x+ = S_{tau lam w}(x - tau A^* z)
    z+ = prox_{sigma H*}(z + sigma A(2 x+ - x))

with A(2 x+ - x) formed as 2 A x+ - A x, so that each step applies A and A^* once.

Reference: Chambolle, Pock, J. Math. Imaging Vis. 40, 2011; Colbrook, Antun, Hansen, PNAS 2022.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..operators import LinearOperator
from .prox import dual_prox_shifted, soft_threshold


@dataclass
class SaddlePoint:
    """The pieces one primal-dual step needs: A, data y, thresholds lam w, problem kind, eta."""

    A: LinearOperator
    y: torch.Tensor
    thresholds: torch.Tensor  # lam * w, shape A.in_shape
    kind: str
    eta: float = 0.0

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

    def _constants(self, tau, sigma) -> tuple:
        """What the steps of one block share: tau, tau lam w and its negative, sigma, sigma y.

        A tensor tau (per sample, or carrying gradients) is applied to z in the data space
        (``tau_z``), where it costs one pass over the (usually smaller) dual variable.
        """
        tau_x = self.expand(tau, self.nin)
        sigma_z = self.expand(sigma, self.nout)
        t = tau_x * self.thresholds
        tau_z = self.expand(tau, self.nout) if isinstance(tau, torch.Tensor) else None
        return tau_x, tau_z, t, -t, sigma_z, sigma_z * self.y

    def _step(self, x, Ax, z, tau_x, tau_z, t, neg_t, sigma_z, sigma_y):
        # A(2 x+ - x) = 2 A x+ - A x: A x is carried from the previous step, so the extrapolation
        # is one pass over the data space and every step applies A and A^* once each
        if tau_z is None:
            v = self.A.adjoint_subtract(x, z, tau_x)
        else:
            v = self.A.adjoint_subtract(x, tau_z * z)
        x_new = soft_threshold(v, t, neg_t)
        Ax_new = self.A(x_new)
        extrapolated = torch.lerp(Ax, Ax_new, 2.0)
        if isinstance(sigma_z, torch.Tensor):
            w = torch.addcmul(z - sigma_y, sigma_z, extrapolated)
        else:
            w = torch.add(z - sigma_y, extrapolated, alpha=sigma_z)
        return x_new, Ax_new, dual_prox_shifted(self.kind, w, sigma_z, self.eta, self.nout)

    def step(
        self, x: torch.Tensor, z: torch.Tensor, tau: torch.Tensor | float, sigma: torch.Tensor | float,
        Ax: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One Chambolle-Pock step (x, z) -> (x+, z+); also returns A x+ (pass it back as Ax)."""
        if Ax is None:
            Ax = self.A(x)
        x, Ax, z = self._step(x, Ax, z, *self._constants(tau, sigma))
        return x, z, Ax

    def inner(
        self, x: torch.Tensor, z: torch.Tensor, tau, sigma, p: int, Ax: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """p steps from (x, z); returns the ergodic averages (mean of x_1..x_p, of z_1..z_p) and
        A applied to the first (by linearity, the mean of the A x_i: no extra application).

        Ax: A x, when the caller has it (the previous block's third output).
        """
        consts = self._constants(tau, sigma)
        if Ax is None:
            Ax = self.A(x)
        x_sum = torch.zeros_like(x)
        z_sum = torch.zeros_like(z)
        Ax_sum = torch.zeros_like(Ax)
        for _ in range(p):
            x, Ax, z = self._step(x, Ax, z, *consts)
            x_sum.add_(x)  # in place: addition needs none of its inputs for the backward pass
            z_sum.add_(z)
            Ax_sum.add_(Ax)
        return x_sum / p, z_sum / p, Ax_sum / p


def saddle_point(problem) -> SaddlePoint:
    """The SaddlePoint of a QCBP, Lasso or SRLasso instance."""
    from ..problems import QCBP, Lasso, SRLasso

    if not isinstance(problem, (QCBP, Lasso, SRLasso)):
        raise TypeError(f"problem must be an SRLasso, Lasso or QCBP; got {type(problem).__name__}")
    lam = 1.0 if isinstance(problem, QCBP) else problem.lam
    return SaddlePoint(
        problem.A, problem.y, lam * problem.weights, problem.name, getattr(problem, "eta", 0.0)
    )
