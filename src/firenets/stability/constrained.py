"""Worst-case perturbations in the measurement domain, within a relative budget.

For a reconstruction map f, samples y0 = A x and each rel in a grid: maximise ||f(y) - x|| subject
to ||y - y0|| <= d = rel ||y0||, by projected Adam on e = y - y0 (a step, then the projection onto
the ball of radius d) with several random starts inside the ball; the worst e found is kept.
rel = 0 is the unperturbed reconstruction. Reference: Antun, Renna, Poon, Adcock, Hansen, PNAS
117(48), 2020 (REFERENCE section 5); the measurement-domain variant of their experiments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .._progress import Progress
from .._validation import check_int, check_scalar, check_seed
from ..nets.adapter import truth_for
from .perturbation import ReconstructionMap, Steps, _check, _differentiable, _psnr, ascend

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
    iterations: int = 0
    converged: bool = True  # the stopping rule, not the step cap, ended the best start (rel = 0: nothing to do)
    starts: tuple[dict, ...] = ()

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers (no arrays)."""
        return {"rel": self.rel, "e_rel": self.e_rel, "error": self.error,
                "relative_error": self.relative_error, "psnr": self.psnr, "iterations": self.iterations,
                "converged": self.converged, "starts": [dict(s) for s in self.starts]}


@dataclass(frozen=True, eq=False)
class MeasurementAttack:
    """One BudgetResult per relative budget, in increasing order."""

    results: list[BudgetResult]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        """Whether every budget's stopping rule (not the step cap) ended it."""
        return all(r.converged for r in self.results)

    def summary(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {"settings": self.settings, "converged": self.converged,
                "budgets": [r.summary() for r in self.results]}


def _project(e: torch.Tensor, d: float | torch.Tensor) -> torch.Tensor:
    """e on the ball ||e|| <= d (d a number), or each coil's e_c on ||e_c|| <= d_c (d a (coils, 1) tensor)."""
    if isinstance(d, torch.Tensor):
        n = torch.linalg.vector_norm(e, dim=-1, keepdim=True)
        return e * torch.where(n > d, d / n, torch.ones_like(n))
    n = float(torch.linalg.vector_norm(e))
    return e if n <= d else e * (d / n)


def _polish(f: ReconstructionMap, x: torch.Tensor, y0: torch.Tensor, e: torch.Tensor, err: float, log: dict,
            d: float | torch.Tensor, dn: float, *, steps: int, tol: float, patience: int,
            lr: float) -> tuple[float, torch.Tensor, dict]:
    """(error, e, log) after projected normalised-gradient ascent of ||f(y0 + e) - x|| from e on the
    budget's ball (``perturbation.ascend``), kept only where it gains; iterations add up and the
    result is converged when both runs are."""

    def value_and_grad(e: torch.Tensor) -> tuple[float, torch.Tensor]:
        e = e.detach().requires_grad_(True)
        value = torch.linalg.vector_norm(_differentiable(f, y0 + e) - x)
        (g,) = torch.autograd.grad(value, e)
        return float(value.detach()), g

    top, top_e, it, converged = ascend(value_and_grad, e, dn, steps=steps, tol=tol, patience=patience, lr=lr,
                                       momentum=0.5, ball=True, project=lambda r: _project(r, d))
    log = {**log, "iterations": log["iterations"] + it, "converged": bool(log["converged"] and converged)}
    return (top, top_e, log) if top > err else (err, e, log)


def _scaled(g: torch.Tensor, d: float | torch.Tensor) -> torch.Tensor:
    """g scaled to norm d (each coil's g_c to d_c when d is a tensor)."""
    if isinstance(d, torch.Tensor):
        return g * (d / torch.linalg.vector_norm(g, dim=-1, keepdim=True))
    return g * (d / float(torch.linalg.vector_norm(g)))


def measurement_attack(
    f: ReconstructionMap,
    A: Any,
    x: Any,
    *,
    rels: Sequence[float] = RELS,
    steps: int = 100,
    restarts: int = 2,
    lr: float = 0.1,
    tol: float = 1e-3,
    patience: int = 10,
    seed: int = 0,
    scale: float | None = None,
    per_coil: bool = False,
    progress: Progress | None = None,
) -> MeasurementAttack:
    """max ||f(A x + e) - x|| over ||e|| <= rel ||A x||, for each rel, by projected Adam (|x| in place of x
    for a map that returns magnitudes of a complex x, ``nets.adapter.truth_for``).

    ``scale``: the norm the budgets are relative to instead of ||A x|| (||k|| of the full k-space for
    the threat of Darestani et al.); ``per_coil``: each coil's ||e_c|| <= rel ||(A x)_c|| instead (the
    threat of Morshuis et al.; one coil: the same as the whole).

    Adam runs on e with learning rate lr d / sqrt(m) (d the budget: a step moving every entry
    moves e by about lr d). Starts per budget: the previous budget's best e scaled to the new
    budget (from the second nonzero budget on) and ``restarts`` complex Gaussian directions of
    norm u d, u uniform in [0, 1]. A start ends when no error has exceeded, by a factor 1 + ``tol``,
    the error of the last step that did, for ``patience`` steps (converged) or after ``steps`` steps (the cap: not
    converged); the best start is then polished by projected normalised-gradient ascent on the same ball
    (``perturbation.ascend``, same rule and cap: Adam's diagonal scaling can stop where the gradient is not
    normal to the ball, as it did at 0.978 of the exact maximum for a SENSE zero-filling), and the largest
    error is kept, with the iterations of both runs and whether both converged.
    """
    x = _check(f, A, x)
    steps = check_int("steps", steps, minimum=1)
    restarts = check_int("restarts", restarts, minimum=1)
    patience = check_int("patience", patience, minimum=1)
    lr = check_scalar("lr", lr, positive=True)
    tol = check_scalar("tol", tol, nonnegative=True)
    seed = check_seed("seed", seed)
    budgets = [check_scalar("rels", r, nonnegative=True) for r in rels]
    if not budgets or any(b <= a for a, b in zip(budgets, budgets[1:], strict=False)):
        raise ValueError(f"rels must be increasing; got {list(rels)}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    with torch.no_grad():
        y0 = A(x)
        f(y0)  # once, so that a map that returns magnitudes is known: its errors are to |x| (``truth_for``)
    truth = truth_for(f, x)
    y0n = float(torch.linalg.vector_norm(y0))
    if y0n == 0:
        raise ValueError("A x is zero: the relative budget is undefined")
    if per_coil and scale is not None:
        raise ValueError("give scale (one ball) or per_coil (a ball per coil), not both")
    base = y0n if scale is None else check_scalar("scale", scale, positive=True)
    coil_norms = torch.linalg.vector_norm(y0.reshape(-1, y0.shape[-1]), dim=-1, keepdim=True).reshape(
        *y0.shape[:-1], 1) if per_coil else None
    xn = float(torch.linalg.vector_norm(x))
    results = []
    nonzero = sum(1 for r in budgets if r > 0)
    total = steps * (restarts * nonzero + max(nonzero - 1, 0))  # the warm start from the second nonzero budget
    tick = Steps(progress, "measurement attack (steps, at most)", total)
    warm: torch.Tensor | None = None
    for j, rel in enumerate(budgets, start=1):
        d = rel * coil_norms if per_coil else rel * base
        dn = float(torch.linalg.vector_norm(d)) if per_coil else d  # the whole budget ||e||
        if dn == 0:
            with torch.no_grad():
                out = f(y0)
            err = float(torch.linalg.vector_norm(out - truth))
            results.append(BudgetResult(rel, torch.zeros_like(y0), out.detach(), err, err / xn, _psnr(x, out), 0.0))
            continue
        starts = [("warm", _scaled(warm, d))] if warm is not None else []
        for _ in range(restarts):
            g = torch.randn(y0.shape, generator=gen, dtype=y0.dtype).to(y0.device)
            u = float(torch.rand((), generator=gen))
            starts.append(("random", _scaled(g, d * u)))
        best_e, best_err, best_log, log = None, -math.inf, None, []
        for kind, e0 in starts:
            e = e0.clone().requires_grad_(True)
            opt = torch.optim.Adam([e], lr=lr * dn / y0.numel() ** 0.5)
            top, top_e, last_gain, converged, it = -math.inf, e0, 0, False, 0
            anchor = -math.inf  # the error when it last rose by more than the tolerance
            while it < steps:
                it += 1
                out = _differentiable(f, y0 + e)
                err = torch.linalg.vector_norm(out - truth)
                value = float(err.detach())
                if not math.isfinite(value):
                    raise ValueError(f"f returned non-finite values under a measurement perturbation at budget "
                                     f"{j} (||e|| <= {rel:.4g} ||A x||)")
                if anchor == -math.inf or value > anchor * (1 + tol):
                    last_gain, anchor = it, value
                if value > top:
                    top, top_e = value, e.detach().clone()
                tick()
                if it - last_gain >= patience:
                    converged = True
                    break
                opt.zero_grad(set_to_none=True)
                (grad,) = torch.autograd.grad(-err, e)  # only e's gradient: none accumulates in f's weights
                e.grad = grad
                opt.step()
                with torch.no_grad():
                    e.copy_(_project(e, d))
            log.append({"kind": kind, "error": top / xn, "iterations": it, "converged": converged})
            if top > best_err:
                best_err, best_e, best_log = top, top_e, log[-1]
        # Adam's diagonal scaling has fixed points on the ball's boundary where the gradient is not normal
        # to it; the best start is polished by projected normalised-gradient ascent, whose are KKT points
        best_err, best_e, best_log = _polish(f, truth, y0, best_e, best_err, best_log, d, dn, steps=steps, tol=tol,
                                             patience=patience, lr=lr)
        log.append({"kind": "polish", "error": best_err / xn, "iterations": best_log["iterations"],
                    "converged": best_log["converged"]})
        warm = best_e
        with torch.no_grad():
            out = f(y0 + best_e)
            err = float(torch.linalg.vector_norm(out - truth))
        en = float(torch.linalg.vector_norm(best_e))
        results.append(BudgetResult(rel, best_e, out.detach(), err, err / xn, _psnr(x, out), en / y0n,
                                    iterations=best_log["iterations"], converged=best_log["converged"],
                                    starts=tuple(log)))
    settings = {"rels": budgets, "steps": steps, "restarts": restarts, "lr": lr, "tol": tol, "patience": patience,
                "seed": seed, "relative_to": "per coil" if per_coil else ("||A x||" if scale is None else scale)}
    return MeasurementAttack(results, settings)
