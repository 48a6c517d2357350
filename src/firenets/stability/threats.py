"""The threat models of the published robustness studies of MRI reconstruction, so that an audit's
numbers can be set beside theirs (REFERENCE section 11):

- ``image`` (Antun et al., PNAS 2020): r in the image domain, y = A(x + r), ||r|| relative to ||x||
  (``stability.worst_case``);
- ``kspace`` (Genzel, Macdonald, Maerz, TPAMI 2022): e added to the samples, ||e|| <= eta ||A x||;
- ``coil`` (Morshuis et al., MICCAI workshops 2022): per coil, ||e_c|| <= eta ||(A x)_c||;
- ``full-kspace`` (Darestani, Chaudhari, Heckel, ICML 2021): e on the fully sampled k-space before
  masking, ||e|| <= eta ||k||; only its sampled part reaches the network, so the worst case puts the whole
  budget there: ||e|| <= eta ||k|| on the samples, with ||k|| the measured k-space's norm where a file
  holds it, else ||x|| for one coil and (sum_c ||S_c x||^2)^(1/2) for coil maps S_c (the centred FFT is
  unitary).

For the k-space threats the attack maximises the error to the truth ||f(A x + e) - x|| (the studies'
objective) by ``measurement_attack`` (projected Adam, its best start polished by projected
normalised-gradient ascent), and Gaussian e of the same norms (per coil
for ``coil``) is the control. Every budget is reported as ||e|| / ||A x||, ||e|| / ||k|| and ||e|| / ||x||.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._progress import Progress
from .._validation import check_int, check_scalar, check_seed
from ..nets.adapter import truth_for
from .budget import Budget, check_norms
from .constrained import MeasurementAttack, _project, _scaled, measurement_attack
from .perturbation import ReconstructionMap, _check

__all__ = ["KSPACE_THREATS", "THREATS", "THREAT_NORMS", "ThreatAttack", "full_kspace_norm", "threat_attack"]

THREATS = ("image", "kspace", "coil", "full-kspace")
KSPACE_THREATS = THREATS[1:]
# default budgets eta per threat: the published ranges (Genzel et al. 0.25 - 2.5% of ||y||, Morshuis et al.
# 0.2 - 2.5% per coil, Darestani et al. 4% and 8% of ||k||)
THREAT_NORMS = {"kspace": (0.005, 0.01, 0.025), "coil": (0.005, 0.01, 0.025), "full-kspace": (0.04, 0.08)}


def full_kspace_norm(A: Any, x: torch.Tensor) -> float:
    """||k||, the norm of the fully sampled (multi-coil) k-space of x: ||x|| for one coil, the root of
    sum_c ||S_c x||^2 with A's coil maps S_c (the centred FFT is unitary)."""
    maps = getattr(A, "maps", None)
    z = x.to(torch.complex128)
    if maps is None:
        return float(torch.linalg.vector_norm(z))
    return float(torch.linalg.vector_norm(maps.to(device=z.device, dtype=z.dtype) * z))


@dataclass(frozen=True, eq=False)
class ThreatAttack:
    """A map under one k-space threat: the measurement attack per budget eta (``attack``; its first budget
    is 0, the unperturbed reconstruction), the Gaussian control's errors to the truth at the same norms,
    and the norms every budget is reported against: ||A x||, ||k||, ||x||."""

    threat: str
    attack: MeasurementAttack
    noise_errors: tuple[float, ...]  # ||f(A x + g) - x|| / ||x||, g Gaussian of each budget's norm (the largest of the draws)
    y_norm: float
    k_norm: float
    x_norm: float

    @property
    def unperturbed(self) -> float:
        """||f(A x) - x|| / ||x||."""
        return self.attack.results[0].relative_error

    @property
    def converged(self) -> bool:
        return self.attack.converged

    @property
    def worst(self):
        """The largest budget's result (``stability.constrained.BudgetResult``)."""
        return self.attack.results[-1]

    def rows(self) -> list[dict[str, Any]]:
        """Per budget: eta, ||e|| relative to ||A x||, ||k|| and ||x||, the errors to the truth under the attack
        and under Gaussian e of that norm (relative to ||x||), iterations, converged."""
        out = []
        for r, noise in zip(self.attack.results[1:], self.noise_errors, strict=True):
            e = float(torch.linalg.vector_norm(r.e))
            out.append({"eta": r.rel, "e_over_y": e / self.y_norm, "e_over_k": e / self.k_norm,
                        "e_over_x": e / self.x_norm, "error": r.relative_error, "noise_error": noise,
                        "unperturbed": self.unperturbed, "iterations": r.iterations, "converged": r.converged})
        return out

    def summary(self) -> dict[str, Any]:
        return {"threat": self.threat, "y_norm": self.y_norm, "k_norm": self.k_norm, "x_norm": self.x_norm,
                "unperturbed": self.unperturbed, "converged": self.converged, "budgets": self.rows(),
                "attack": self.attack.summary()}


def threat_attack(f: ReconstructionMap, A: Any, x: Any, threat: str, budget: Budget | None = None, *,
                  norms: Sequence[float] | None = None, k_norm: float | None = None,
                  progress: Progress | None = None) -> ThreatAttack:
    """The worst error to the truth of f under the k-space ``threat`` (``KSPACE_THREATS``) at the budgets
    eta in ``norms`` (default ``THREAT_NORMS[threat]``), with ``budget``'s step cap, stopping rule, starts
    (at least two random ones, as ``measurement_attack``) and seed, and its Gaussian control. ``k_norm``:
    ||k|| of a measured fully sampled k-space (default ``full_kspace_norm(A, x)``)."""
    if threat not in KSPACE_THREATS:
        raise ValueError(f"threat must be one of {', '.join(KSPACE_THREATS)}; got {threat!r}")
    budget = Budget() if budget is None else budget
    etas = check_norms("norms", THREAT_NORMS[threat] if norms is None else norms)
    x = _check(f, A, x)
    with torch.no_grad():
        y0 = A(x)
    k_norm = full_kspace_norm(A, x) if k_norm is None else check_scalar("k_norm", k_norm, positive=True)
    per_coil = threat == "coil"
    attack = measurement_attack(f, A, x, rels=[0.0, *etas], steps=budget.steps, restarts=max(2, budget.restarts),
                                tol=budget.tol, patience=budget.patience, seed=budget.seed,
                                scale=k_norm if threat == "full-kspace" else None, per_coil=per_coil,
                                progress=progress)
    xn = float(torch.linalg.vector_norm(x))
    noise = _noise_errors(f, truth_for(f, x), y0, [r.e for r in attack.results[1:]], per_coil, budget.noise_trials, budget.seed)
    return ThreatAttack(threat, attack, tuple(e / xn for e in noise), float(torch.linalg.vector_norm(y0)), k_norm, xn)


def _noise_errors(f: ReconstructionMap, x: torch.Tensor, y0: torch.Tensor, es: Sequence[torch.Tensor], per_coil: bool,
                  trials: int, seed: int) -> list[float]:
    """max over ``trials`` draws of ||f(y0 + g) - x||, g complex Gaussian with the norm of each e (per coil
    when ``per_coil``), on the same budget's ball."""
    trials = check_int("trials", trials, minimum=1)
    gen = torch.Generator(device="cpu").manual_seed(check_seed("seed", seed) + 104_729)
    out = []
    for e in es:
        d = torch.linalg.vector_norm(e, dim=-1, keepdim=True) if per_coil else float(torch.linalg.vector_norm(e))
        best = 0.0
        for _ in range(trials):
            g = torch.randn(y0.shape, generator=gen, dtype=y0.dtype).to(y0.device)
            with torch.no_grad():
                out_g = f(y0 + _project(_scaled(g, d), d))
            best = max(best, float(torch.linalg.vector_norm(out_g - x)))
        out.append(best)
    return out
