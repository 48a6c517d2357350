"""A positive control: a network that must be unstable, because it is accurate on images whose
samples nearly coincide (the accuracy-stability bound, REFERENCE section 5).

The lesion: a real image d with A d = 0 exactly (a bump b minus its projection onto the samples
of the mask made conjugate-symmetric: a real image's k-space is conjugate-symmetric, so it vanishes
on the mask iff it vanishes on the symmetrised mask), plus a small measured leak,
d_leak = d + leak (b - d), so ||A d_leak|| = leak ||A b|| > 0. Training images are phantoms x with
and without d_leak. A map eta-accurate on x and x' = x + d_leak has local Lipschitz constant at least
(||x - x'|| - 2 eta) / ||A x - A x'|| (and, whatever its error elsewhere, at least
(||x - x'|| - ||e' - e||) / ||A x - A x'|| with e, e' its errors on x, x'), and r = A^*A (x' - x) is a perturbation of that norm with
A (x + r) = A x' exactly: the map's worst case on that sphere is at least the bound (the
random-start attack is reported as it is, beside the ratio at r), and that r makes the lesion
appear. Gottschling, Antun, Hansen, Adcock, "The troublesome kernel", SIAM Review 2025.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .._validation import check_int, check_scalar
from ..data import PhantomDataset
from ..operators import Fourier2D
from .budget import Budget
from .hallucination import accuracy_stability_bound, leaky, null_component
from .perturbation import worst_case
from .targeted import disc

__all__ = ["FRACTIONS", "PositiveControl", "kernel_lesion", "leaky", "lesion_images", "positive_control",
           "symmetrised"]


def symmetrised(mask: torch.Tensor) -> torch.Tensor:
    """mask | its mirror k -> -k in the centred k-space grid (index s -> (N - s) mod N per axis, which is
    the mirror for even sizes)."""
    if any(n % 2 for n in mask.shape):
        raise ValueError(f"the mask must have even sides (the centred grid's mirror); got {tuple(mask.shape)}")
    return mask | torch.roll(torch.flip(mask, (0, 1)), shifts=(1, 1), dims=(0, 1))


def kernel_lesion(mask: torch.Tensor, centre: tuple[float, float], radius: float,
                  amplitude: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(d, b): the bump b = amplitude on a disc, and d = P_null b = b - A_s^* A_s b for the symmetrised
    mask's A_s, real, with A d = 0; ``leaky(d, b, leak)`` is the lesion with a measured leak."""
    radius = check_scalar("radius", radius, positive=True)
    amplitude = check_scalar("amplitude", amplitude, positive=True)
    b = disc(tuple(mask.shape), centre, radius).to(torch.float64) * amplitude
    d = null_component(Fourier2D(symmetrised(mask)), b)
    return d.real.contiguous(), b


def lesion_images(shape: int, n: int, lesion: torch.Tensor, *, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n phantoms (``data.PhantomDataset``), every second one with the lesion added; (images, has_lesion)."""
    n = check_int("n", n, minimum=2)
    ds = PhantomDataset(shape, n, seed=seed)
    has = torch.arange(n) % 2 == 1
    images = torch.stack([ds[i] + (lesion if has[i] else 0) for i in range(n)])
    return images, has


@dataclass(frozen=True, eq=False)
class PositiveControl:
    """A map on a pair (x, x' = x + d_leak): its errors, the bound, the ratio at the feasible r, the
    attack's ratio at ||r||, and whether r makes the lesion appear (and -r, from x', vanish); ``partial``
    the lesion contrast t r already creates for t < 1; ``tol`` the attack's stopping rule."""

    errors: tuple[float, float]  # ||f(A x) - x||, ||f(A x') - x'||
    bound: float  # (||x - x'|| - 2 eta) / ||A x - A x'||, eta = max of the errors
    bound_difference: float  # (||x - x'|| - ||e' - e||) / ||A x - A x'||, e = f(A x) - x, e' = f(A x') - x'

    feasible_ratio: float  # ||f(A(x + r)) - f(A x)|| / ||r||, r = A^*A (x' - x)
    attack_ratio: float  # the worst case found on the sphere ||r||, from random starts
    attack_converged: bool
    r_rel: float  # ||r|| / ||x||
    appear: float  # <|f(A(x + r))|>_D - <|f(A x)|>_D over the lesion's disc D
    vanish: float  # <|f(A(x' - r))|>_D - <|f(A x')|>_D
    lesion_contrast: float  # <|x' - x|>_D
    lesion_norm: float  # ||x' - x||
    partial: tuple[tuple[float, float], ...]  # (t, <|f(A(x + t r))|>_D - <|f(A x)|>_D) for t in FRACTIONS
    images: dict[str, torch.Tensor] | None = None  # |f(A x)|, |f(A(x + r))|, |f(A x')|, |f(A(x' - r))|
    tol: float = Budget.tol  # the attack's stopping rule: a ratio within a factor 1 - tol counts as reached

    @property
    def found(self) -> bool:
        """The attack's worst case reaches the ratio at the known feasible r, within its stopping rule's tol."""
        return self.attack_ratio >= self.feasible_ratio * (1 - self.tol)

    def summary(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__ if k != "images"}, "found": self.found}


FRACTIONS = (0.1, 0.25, 0.5, 0.75)  # parts of the feasible r tried: how small a perturbation already shows the lesion


def positive_control(f, A, x: torch.Tensor, lesion: torch.Tensor, region: torch.Tensor, *,
                     budget: Budget | None = None) -> PositiveControl:
    """Measure ``PositiveControl`` for map f on (x, x + lesion), the attack with ``budget``'s search."""
    budget = Budget() if budget is None else budget
    x = x.to(torch.complex128)
    xp = x + lesion.to(torch.complex128)
    with torch.no_grad():
        fx, fxp = f(A(x)), f(A(xp))
    errors = (float(torch.linalg.vector_norm(fx - x)), float(torch.linalg.vector_norm(fxp - xp)))
    bound = accuracy_stability_bound(A, x, xp, eta=max(errors))
    # the same triangle inequality with the errors' difference: a map whose error is the same on x and
    # x' (the lesion recovered, whatever else it gets wrong) must amplify A (x' - x) by nearly ||x' - x||
    gap = float(torch.linalg.vector_norm(xp - x)) - float(torch.linalg.vector_norm((fxp - xp) - (fx - x)))
    bound_difference = max(gap, 0.0) / float(torch.linalg.vector_norm(A(xp - x)))
    r = A.adjoint(A(xp - x))
    rho = float(torch.linalg.vector_norm(r))
    with torch.no_grad():
        fr, fxr = f(A(x + r)), f(A(xp - r))
    feasible = float(torch.linalg.vector_norm(fr - fx)) / rho
    wc = worst_case(f, A, x, norms=[rho], **budget.sphere())

    def mean(t: torch.Tensor) -> float:
        return float(t.abs()[region].mean())

    with torch.no_grad():
        partial = tuple((t, mean(f(A(x + t * r))) - mean(fx)) for t in FRACTIONS)
    images = {"f(Ax)": fx.abs(), "f(A(x+r))": fr.abs(), "f(Ax')": fxp.abs(), "f(A(x'-r))": fxr.abs()}
    return PositiveControl(errors, bound, bound_difference, feasible, wc.stages[0].ratio, bool(wc.converged),
                           rho / float(torch.linalg.vector_norm(x)), mean(fr) - mean(fx), mean(fxr) - mean(fxp),
                           mean(xp - x), float(torch.linalg.vector_norm(xp - x)), partial, images, budget.tol)
