"""Worst-case perturbations in the measurement domain, within a relative budget.

For a reconstruction map f, samples y0 = A x and each rel in a grid: maximise ||f(y) - x|| subject
to ||y - y0|| <= d = rel ||y0||, by projected Adam on e = y - y0 (a step, then the projection onto
the ball of radius d) with several random starts inside the ball; the worst e found is kept.
rel = 0 is the unperturbed reconstruction. Reference: Antun, Renna, Poon, Adcock, Hansen, PNAS
117(48), 2020 (REFERENCE section 5); the measurement-domain variant of their experiments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .._validation import check_int, check_scalar
from .perturbation import ReconstructionMap, _check, _differentiable, _psnr

RELS = (0.0, 0.02, 0.04, 0.06, 0.08)


@dataclass(frozen=True, eq=False)
class BudgetResult:
    """The worst measurement perturbation found within ||e|| <= rel ||y0||."""

    rel: float
    e: torch.Tensor
    recon: torch.Tensor
    error: float
    relative_error: float
    psnr: float
    e_rel: float

    def summary(self) -> dict[str, float]:
        """JSON-ready numbers (no arrays)."""
        return {"rel": self.rel, "e_rel": self.e_rel, "error": self.error,
                "relative_error": self.relative_error, "psnr": self.psnr}


@dataclass(frozen=True, eq=False)
class MeasurementAttack:
    """One BudgetResult per relative budget, in increasing order."""

    results: list[BudgetResult]
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {"settings": self.settings, "budgets": [r.summary() for r in self.results]}


def _project(e: torch.Tensor, d: float) -> torch.Tensor:
    n = float(torch.linalg.vector_norm(e))
    return e if n <= d else e * (d / n)


def measurement_attack(
    f: ReconstructionMap,
    A: Any,
    x: Any,
    *,
    rels: Sequence[float] = RELS,
    steps: int = 40,
    restarts: int = 2,
    lr: float = 0.1,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> MeasurementAttack:
    """max ||f(A x + e) - x|| over ||e|| <= rel ||A x||, for each rel, by projected Adam.

    Adam runs on e with learning rate lr d / sqrt(m) (d the budget: a step moving every entry
    moves e by about lr d). Each of the ``restarts`` starts is a complex Gaussian direction of
    norm u d, u uniform in [0, 1]; the largest error over the starts is kept.
    """
    x = _check(f, A, x)
    steps = check_int("steps", steps, minimum=1)
    restarts = check_int("restarts", restarts, minimum=1)
    lr = check_scalar("lr", lr, positive=True)
    seed = check_int("seed", seed, minimum=0)
    budgets = [check_scalar("rels", r, nonnegative=True) for r in rels]
    if not budgets or any(b <= a for a, b in zip(budgets, budgets[1:], strict=False)):
        raise ValueError(f"rels must be increasing; got {list(rels)}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        y0 = A(x)
    y0n = float(torch.linalg.vector_norm(y0))
    if y0n == 0:
        raise ValueError("A x is zero: the relative budget is undefined")
    xn = float(torch.linalg.vector_norm(x))
    results = []
    total = sum(steps * restarts for r in budgets if r > 0)
    done = 0
    for rel in budgets:
        d = rel * y0n
        if d == 0:
            with torch.no_grad():
                out = f(y0)
            err = float(torch.linalg.vector_norm(out - x))
            results.append(BudgetResult(rel, torch.zeros_like(y0), out.detach(), err, err / xn, _psnr(x, out), 0.0))
            continue
        best: BudgetResult | None = None
        for _ in range(restarts):
            g = torch.randn(y0.shape, generator=gen, dtype=y0.dtype).to(y0.device)
            u = float(torch.rand((), generator=gen))
            e = (g * (d * u / float(torch.linalg.vector_norm(g)))).requires_grad_(True)
            opt = torch.optim.Adam([e], lr=lr * d / y0.numel() ** 0.5)
            for _ in range(steps):
                out = _differentiable(f, y0 + e)
                loss = -torch.linalg.vector_norm(out - x)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    e.copy_(_project(e, d))
                done += 1
                if progress is not None:
                    progress(done, total)
            with torch.no_grad():
                out = f(y0 + e)
                err = float(torch.linalg.vector_norm(out - x))
            if best is None or err > best.error:
                en = float(torch.linalg.vector_norm(e.detach()))
                best = BudgetResult(rel, e.detach().clone(), out.detach(), err, err / xn, _psnr(x, out), en / y0n)
        results.append(best)
    settings = {"rels": budgets, "steps": steps, "restarts": restarts, "lr": lr, "seed": seed}
    return MeasurementAttack(results, settings)
