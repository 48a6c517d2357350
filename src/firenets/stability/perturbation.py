"""Worst-case perturbations in the image domain, and the Gaussian-noise control of the same size.

For a reconstruction map f (k-space samples y -> complex image), sampling operator A and image x,
maximise Q(r) = 1/2 ||f(A(x + r)) - f(A x)||^2 - lam/2 ||r||^2 by gradient ascent with heavy-ball
momentum, v <- m v + lr grad Q(r), r <- r + v, from a tiny random r; the iterate is recorded at a
schedule of iteration counts, giving "perturbation 1, 2, 3, ..." of growing norm. Each record
reports ||r||, ||r|| / ||x||, ||f(A(x + r)) - f(A x)|| and their ratio, a lower bound on the local
Lipschitz constant of y -> f(y) composed with A at x. With ``norms`` the ascent instead runs on the
sphere ||r|| = rho for each rho (normalised projected ascent with momentum, steps a fraction of rho,
halved when a step loses ratio), started from the Jacobian's top singular vectors at x
(``local``), the previous sphere's best direction, random ones and, on the way back down from an
outer sphere, the next larger sphere's best, every start of a sphere as one batch, until the best
ratio stops improving by more than ``tol`` over ``patience`` steps; each stage reports its
iterations and whether that rule (not the step cap) ended it, so that maps are compared at the
same perturbation sizes under the same stopping rule.
Reference: Antun, Renna, Poon, Adcock, Hansen, "On instabilities of deep learning in image
reconstruction and the potential costs of AI", PNAS 117(48), 2020.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .._progress import Progress, count
from .._validation import check_int, check_scalar, check_seed
from ..metrics import psnr
from ..nets.adapter import truth_for
from ..operators import Fourier2D, MultiCoilFourier
from .budget import PRECISIONS, RELATIVE_NORMS, Budget, check_norms, check_precision, check_search, check_step
from .hallucination import _check_map, _check_operator, _image
from .local import LocalWorstCase, local_worst_case, seen

__all__ = ["PRECISIONS", "RELATIVE_NORMS", "NoiseControl", "Perturbation", "Stage", "WorstCase", "ascend", "ascend_batch", "batches", "noise_control", "outputs",
           "penalised_perturbation", "perturbation", "seen", "worst_case"]

ReconstructionMap = Callable[[torch.Tensor], torch.Tensor]


class Steps:
    """A search's step counter: each call counts one step and reports it to ``progress``."""

    def __init__(self, progress: Progress | None, task: str, total: int):
        self.progress, self.task, self.total, self.done = progress, task, total, 0

    def __call__(self) -> None:
        self.done += 1
        count(self.progress, self.task, self.done, self.total)


@dataclass(frozen=True, eq=False)
class Stage:
    """One recorded perturbation r and what it does to the reconstruction."""

    r: torch.Tensor
    recon: torch.Tensor
    r_norm: float
    r_rel: float
    out_diff: float
    ratio: float
    psnr: float
    iteration: int
    converged: bool | None = None  # fixed-norm mode: the stopping rule, not the step cap, ended the best start
    starts: tuple[dict, ...] = ()  # fixed-norm mode: per start, its kind, best ratio, iterations, converged
    error: float = math.nan  # ||f(A(x + r)) - x|| / ||x||
    error_perturbed: float = math.nan  # ||f(A(x + r)) - (x + r)|| / ||x||

    @property
    def evaluations(self) -> int:
        """Forward and backward passes of f the sphere's search took (its starts' steps summed)."""
        return sum(int(s["iterations"]) for s in self.starts)

    def summary(self) -> dict[str, Any]:
        """JSON-ready numbers (no images)."""
        out = {"r_norm": self.r_norm, "r_rel": self.r_rel, "out_diff": self.out_diff, "ratio": self.ratio,
               "psnr": self.psnr, "iteration": self.iteration, "error": self.error,
               "error_perturbed": self.error_perturbed}
        if self.converged is not None:
            out["converged"] = self.converged
            out["starts"] = [dict(s) for s in self.starts]
            out["evaluations"] = self.evaluations
        return out


@dataclass(frozen=True, eq=False)
class WorstCase:
    """Perturbations found for f at x: the unperturbed reconstruction and one Stage per record."""

    x: torch.Tensor
    recon: torch.Tensor
    stages: list[Stage]
    settings: dict[str, Any] = field(default_factory=dict)
    local: LocalWorstCase | None = None  # fixed-norm mode: sigma_max of the Jacobian at x, the search's first starts
    outer: dict[str, Any] | None = None  # fixed-norm mode: the outer sphere's size, best ratio and starts

    @property
    def max_ratio(self) -> float:
        """max_j ||f(A(x + r_j)) - f(A x)|| / ||r_j||."""
        return max(s.ratio for s in self.stages)

    @property
    def converged(self) -> bool | None:
        """Whether every stage's stopping rule (not the step cap) ended it; None in penalised mode."""
        flags = [s.converged for s in self.stages]
        return None if None in flags else all(flags)

    def summary(self) -> dict[str, Any]:
        """JSON-ready record: settings, whether every stage converged, and the numbers of every stage."""
        return {"settings": self.settings, "converged": self.converged,
                "stages": [s.summary() for s in self.stages],
                "local": None if self.local is None else self.local.summary(), "outer": self.outer}


def _check(f: Any, A: Any, x: Any) -> torch.Tensor:
    """The boundary checks shared by the stability tests: f callable, A an image-to-samples operator,
    x a finite image of A's shape, returned complex in A's precision."""
    _check_map("f", f)
    A = _check_operator(A)
    return _image("x", x, A)


def _psnr(truth: torch.Tensor, recon: torch.Tensor) -> float:
    return float(psnr(truth.abs().detach(), recon.abs().detach()))


def _differentiable(f: ReconstructionMap, y: torch.Tensor) -> torch.Tensor:
    out = f(y)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"f must return a torch.Tensor; got {type(out).__name__}")
    if not out.requires_grad:
        raise ValueError(
            "f is not differentiable: its output does not depend on its input through autograd "
            "(a map that detaches, calls NumPy, or runs under torch.no_grad cannot be attacked by gradients)"
        )
    return out


def _record(f, A, x, fx, r, iteration, **extra) -> Stage:
    with torch.no_grad():
        out = f(A(x + r))
        diff = float(torch.linalg.vector_norm(out - fx))
        rn = float(torch.linalg.vector_norm(r))
        xn = float(torch.linalg.vector_norm(x))
        return Stage(
            r=r.detach().clone(), recon=out.detach().clone(), r_norm=rn, r_rel=rn / xn, out_diff=diff,
            ratio=diff / rn if rn > 0 else math.nan, psnr=_psnr(x + r, out), iteration=iteration,
            error=float(torch.linalg.vector_norm(out - truth_for(f, x))) / xn,
            error_perturbed=float(torch.linalg.vector_norm(out - truth_for(f, x + r))) / xn, **extra,
        )


def _finite(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(torch.view_as_real(t) if t.is_complex() else t).all())


def _output(f: Any, y: torch.Tensor) -> torch.Tensor:
    """f(y), refused unless it is a torch.Tensor (the attacks differentiate through it)."""
    out = f(y)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"f must return a torch.Tensor (the complex image); it returned {type(out).__name__}")
    return out


def ascend(
    value_and_grad: Callable[[torch.Tensor], tuple[float, torch.Tensor]],
    r: torch.Tensor,
    rho: float,
    *,
    steps: int,
    tol: float,
    patience: int,
    lr: float,
    momentum: float,
    ball: bool = False,
    tick: Callable[[], None] | None = None,
    project: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[float, torch.Tensor, int, bool]:
    """Maximise a value over the sphere ||r|| = rho (or the ball ||r|| <= rho, or the set ``project``
    projects onto, e.g. a ball per coil) from r: ``ascend_batch`` with one start.
    Returns (best value, its r, steps taken, converged)."""

    def batch(R: torch.Tensor, index: list[int]) -> tuple[list[float], torch.Tensor]:
        value, g = value_and_grad(R[0])
        return [value], g.unsqueeze(0)

    (out,) = ascend_batch(batch, r.unsqueeze(0), rho, steps=steps, tol=tol, patience=patience, lr=lr,
                          momentum=momentum, ball=ball, tick=tick, project=project)
    return out


class _Start:
    """One start's state in ``ascend_batch``: its point, velocity, step, best value and point, and the
    stopping rule's counters."""

    def __init__(self, r: torch.Tensor, lr: float):
        self.r, self.v, self.s = r, torch.zeros_like(r), lr
        self.top, self.top_r, self.top_g = -math.inf, r, None
        self.anchor, self.last_gain, self.it = -math.inf, 0, 0
        self.done, self.converged = False, False


def ascend_batch(
    value_and_grad: Callable[[torch.Tensor, list[int]], tuple[Sequence[float], torch.Tensor]],
    R: torch.Tensor,
    rho: float,
    *,
    steps: int,
    tol: float,
    patience: int,
    lr: float,
    momentum: float,
    ball: bool = False,
    tick: Callable[[], None] | None = None,
    project: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> list[tuple[float, torch.Tensor, int, bool]]:
    """Maximise a value from each start R[b] at once, over the sphere ||r|| = rho (or the ball, or the set
    ``project`` projects one r onto); ``value_and_grad`` takes the running starts stacked (k, ...) and
    their indices in R, and returns their k values and gradients (one batch through the model per step).

    Each start on its own: v <- m v + s rho g / ||g||, r <- the projection of r + v; a step that lowers
    the value below the start's best is undone and its s (from lr) halved, momentum reset. A start
    ends when no value has exceeded, by a factor 1 + tol, the value of the last step that did, for
    ``patience`` steps, when s < lr / 1024 or the gradient vanishes (converged), or after ``steps``
    steps (not converged); the others go on. A step that leaves the floating-point range is halved until it
    does not (or s < lr / 1024: converged). ``tick`` is called once per start and step.
    Returns per start (best value, its r, steps taken, converged).
    """

    def onto(r: torch.Tensor) -> torch.Tensor:
        if project is not None:
            return project(r)
        n = float(torch.linalg.vector_norm(r))
        return r * (rho / n) if (not ball or n > rho) and n > 0 else r

    starts = [_Start(onto(r.detach()), lr) for r in R]
    while True:
        index = [i for i, st in enumerate(starts) if not st.done]
        if not index:
            break
        running = [starts[i] for i in index]
        values, G = value_and_grad(torch.stack([st.r for st in running]), index)
        for st, value, g in zip(running, values, G, strict=True):
            value = float(value)
            st.it += 1
            if st.anchor == -math.inf or value > st.anchor + tol * abs(st.anchor):
                st.last_gain, st.anchor = st.it, value
            if value >= st.top:
                st.top, st.top_r, st.top_g = value, st.r, g
            else:  # the step lost value: back to the best point, a shorter step, no momentum
                st.r, g, st.v, st.s = st.top_r, st.top_g, torch.zeros_like(st.r), st.s / 2
            if tick is not None:
                tick()
            gn = float(torch.linalg.vector_norm(g))
            if st.it - st.last_gain >= patience or st.s < lr / 1024 or gn == 0:  # stopped, or a stationary point
                st.done, st.converged = True, True
                continue
            if st.it >= steps:
                st.done = True
                continue
            st.v = momentum * st.v + (st.s * rho / gn) * g
            r = onto((st.r + st.v).detach())
            while not _finite(r) and st.s >= lr / 1024:  # the step left the floating-point range (a huge
                st.s /= 2  # lr in single precision): shorter, no momentum, as a step that lost value
                st.v = (st.s * rho / gn) * g
                r = onto((st.r + st.v).detach())
            if not _finite(r):
                st.done, st.converged = True, True  # no representable step: the best point stands
                continue
            st.r = r
    return [(st.top, st.top_r, st.it, st.converged) for st in starts]


def worst_case(
    f: ReconstructionMap,
    A: Any,
    x: Any,
    *,
    lam: float = 0.01,
    lr: float | None = None,
    momentum: float | None = None,
    records: Sequence[int] = (50, 100, 150),
    norms: Sequence[float] | None = None,
    steps: int = 100,
    tol: float = 1e-3,
    patience: int = 10,
    restarts: int = 1,
    seed: int = 0,
    init: float = 1e-4,
    directions: int = 1,
    local_steps: int = 30,
    local_tol: float = 1e-4,
    precision: str = "complex128",
    batch: bool = True,
    reach: float = 2.0,
    progress: Progress | None = None,
) -> WorstCase:
    """Perturbations r of x that maximise the change of f(A(x + r)).

    Penalised mode (``norms`` None; Antun et al. 2020): heavy-ball ascent v <- m v + lr grad Q,
    r <- r + v on Q(r) = 1/2 ||f(A(x+r)) - f(Ax)||^2 - lam/2 ||r||^2 from a random r of norm
    ``init`` ||x||, recorded after each iteration count in ``records`` (increasing); lr 0.01 and
    m 0.9 unless given. Q is unbounded while the ratio ||f(A(x+r)) - f(Ax)|| / ||r|| exceeds
    sqrt(lam): r then grows geometrically and the records are snapshots of that growth (a
    RuntimeWarning says so when the last exceeds ||x||).

    Fixed-norm mode (``norms``, absolute and increasing): for each rho, maximise the ratio on the
    sphere ||r|| = rho by v <- m v + s rho g / ||g||, r <- rho (r + v) / ||r + v|| (g the gradient
    of 1/2 ||f(A(x+r)) - f(Ax)||^2, one forward and backward pass of f per step; s = lr, 0.5
    unless given, m 0.5 unless given). A step that lowers the ratio below the best is undone and
    s halved (momentum reset). A start ends when the best ratio has not risen by a factor
    1 + ``tol`` for ``patience`` steps, or s falls below lr / 1024 (both: converged), or after
    ``steps`` steps (the cap: not converged). Every start of a sphere goes through f as one batch
    where f takes batches (each with its own step and stopping rule). Starts: on the first sphere
    the top ``directions`` right singular vectors of the Jacobian at x (``local_worst_case``, at most
    ``local_steps`` products, residual ``local_tol``) and ``restarts`` random directions (at least one
    without Jacobian directions) drawn in the range of A^* (``seen``: the null-space part of r does
    nothing but lower the ratio); on each later sphere the previous sphere's best direction and
    ``restarts`` random directions. With ``reach`` > 1 an outer sphere of reach times the largest
    size follows, searched alike. Then back down: each sphere once more from the next larger one's best
    direction (a switch that turns on only beyond 60% of rho along some direction gives the
    gradient nothing to follow on the sphere rho, but a larger sphere crosses it: docs/stability.md,
    the positive control). Every direction is tried as d and as -d: behind a switch (a ReLU, a
    sigmoid) the two signs climb to different local maxima. The best start of each sphere is kept.
    ``precision`` complex64 runs the search in single precision (f's ``in_precision`` twin where it
    has one); every recorded r is put back on its sphere and re-evaluated in complex128.
    """
    x = _check(f, A, x)
    fixed = norms is not None
    lam = check_scalar("lam", lam, nonnegative=True)
    lr, momentum = check_step((0.5 if fixed else 0.01) if lr is None else lr,
                              (0.5 if fixed else 0.9) if momentum is None else momentum)
    if fixed:
        rhos = list(check_norms("norms", norms))
        search = check_search(steps=steps, tol=tol, patience=patience, restarts=restarts, lr=lr, momentum=momentum,
                              seed=seed)
        steps, tol, patience, restarts = (search[k] for k in ("steps", "tol", "patience", "restarts"))
    init = check_scalar("init", init, positive=True)
    seed = check_seed("seed", seed)
    directions = check_int("directions", directions, minimum=0)
    local_steps = check_int("local_steps", local_steps, minimum=1)
    local_tol = check_scalar("local_tol", local_tol, positive=True)
    check_precision(precision)
    reach = check_scalar("reach", reach, nonnegative=True)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    r = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
    xn = float(torch.linalg.vector_norm(x))
    if xn == 0:
        raise ValueError("x is zero: there is nothing to perturb relative to")
    with torch.no_grad():
        fx = _output(f, A(x)).detach()
    if not isinstance(fx, torch.Tensor) or not _finite(fx):
        raise ValueError("f(A x) is not a finite tensor: the unperturbed reconstruction already fails")
    v = torch.zeros_like(r)
    stages: list[Stage] = []

    def grad_of(r: torch.Tensor) -> tuple[float, torch.Tensor]:
        """||f(A(x+r)) - f(Ax)|| and the gradient of Q at r."""
        r = r.detach().requires_grad_(True)
        out = _differentiable(f, A(x + r))
        diff = torch.linalg.vector_norm(out - fx)
        q = 0.5 * diff**2 - 0.5 * lam * torch.linalg.vector_norm(r) ** 2
        (g,) = torch.autograd.grad(q, r)
        return float(diff.detach()), g

    if not fixed:
        checkpoints = [check_int("records", k, minimum=1) for k in records]
        if not checkpoints or any(b <= a for a, b in zip(checkpoints, checkpoints[1:], strict=False)):
            raise ValueError(f"records must be increasing iteration counts; got {list(records)}")
        r = r * (init * xn / float(torch.linalg.vector_norm(r)))
        total = checkpoints[-1]
        for it in range(1, total + 1):
            _, g = grad_of(r)
            v = momentum * v + lr * g
            r = (r + v).detach()
            if not _finite(r):
                raise FloatingPointError(f"the ascent diverged at iteration {it}; lower lr (got {lr})")
            if it in checkpoints:
                stages.append(_record(f, A, x, fx, r, it))
            count(progress, "penalised ascent", it, total)
        settings = {"mode": "penalised", "lam": lam, "lr": lr, "momentum": momentum, "records": checkpoints,
                    "init": init, "seed": seed}
        if stages[-1].r_rel > 1:
            warnings.warn(
                f"the penalised ascent ran away: ||r|| = {stages[-1].r_rel:.3g} ||x|| at iteration "
                f"{checkpoints[-1]}. Q is unbounded while the map's ratio ||f(A(x+r)) - f(Ax)|| / ||r|| "
                f"exceeds sqrt(lam) = {math.sqrt(lam):.3g}; raise lam, lower lr or record earlier, or "
                "give norms= for perturbations of chosen sizes",
                RuntimeWarning, stacklevel=2,
            )
        return WorstCase(x=x.detach(), recon=fx, stages=stages, settings=settings)

    lam = 0.0  # on the sphere the penalty is constant
    fs, As, xs, fxs = f, A, x, fx  # the search's map, operator, image and f(A x), in its precision
    if precision == "complex64" and x.dtype == torch.complex128:
        As = single_precision(A)
        if As is not None:
            twin = getattr(f, "in_precision", None)
            # a map without a single-precision twin gets its samples in its own precision
            fs = twin(torch.complex64) if callable(twin) else (lambda y: f(y.to(A.dtype)))
            xs = x.to(torch.complex64)
            with torch.no_grad():
                fxs = _output(fs, As(xs)).detach()
        else:
            As = A
    used = "complex64" if xs.dtype == torch.complex64 else "complex128"

    probe = seen(A, torch.randn(x.shape, generator=torch.Generator(device="cpu").manual_seed(seed + 1),
                                dtype=x.dtype).to(x.device))
    with torch.no_grad():
        y1 = As(xs + (rhos[-1] * max(reach, 1) * probe / torch.linalg.vector_norm(probe)).to(xs.dtype))
        batched = batch and batches(fs, As(xs), y1, fxs)

    def values_and_grads(R: torch.Tensor, j: int, rho: float) -> tuple[list[float], torch.Tensor]:
        """||f(A(x + r_b)) - f(A x)|| / rho for the starts r_b stacked in R, and the gradients of
        1/2 ||f(A(x + r_b)) - f(A x)||^2: one batch through f (or one pass per start where f does not
        take batches), in the search's precision."""
        R = R.detach().requires_grad_(True)
        out = outputs(fs, As(xs + R), batched)
        diffs = torch.linalg.vector_norm((out - fxs).reshape(R.shape[0], -1), dim=1)
        (G,) = torch.autograd.grad(0.5 * (diffs**2).sum(), R)
        values = [float(d) / rho for d in diffs.detach()]
        if not (all(math.isfinite(v) for v in values) and _finite(G)):
            raise ValueError(f"f returned non-finite values under perturbation at stage {j} "
                             f"(||r|| = {rho:.4g} = {rho / xn:.4g} ||x||)")
        return values, G

    local = None
    if directions:
        local = local_worst_case(fs, As, xs, k=directions, steps=local_steps, tol=local_tol, seed=seed)
        count(progress, "local worst case (Jacobian products)", local.products, local_steps)
    first = [] if local is None else [(f"local {i}{sign}", s * v.to(xs.dtype)) for i, v in enumerate(local.vectors, 1)
                                      for sign, s in (("", 1), (", negated", -1))]
    cold = max(restarts, 0 if first else 1)  # random pairs on the first sphere
    n = len(rhos) + (reach > 1)  # the spheres searched, the outer one included
    total = steps * (len(first) + 2 * cold + (n - 1) * (2 * restarts + 2))  # every start, up and down
    tick = Steps(progress, "worst-case search (steps, at most)", total)

    def draw() -> list[tuple[str, torch.Tensor]]:
        """A random direction in range(A^*), with both signs."""
        d = seen(A, torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)).to(xs.dtype)
        return [("random", d), ("random, negated", -d)]

    def search(j: int, rho: float, starts: list[tuple[str, torch.Tensor]]) -> list[dict]:
        """Every start on the sphere ||r|| = rho at once: per start its kind, best ratio and r, steps, converged."""
        R = torch.stack([rho * d / torch.linalg.vector_norm(d) for _, d in starts])
        found = ascend_batch(lambda R, _: values_and_grads(R, j, rho), R, rho, steps=steps, tol=tol,
                             patience=patience, lr=lr, momentum=momentum, tick=tick)
        return [{"kind": kind, "ratio": top, "r": top_r, "iterations": it, "converged": converged}
                for (kind, _), (top, top_r, it, converged) in zip(starts, found, strict=True)]

    logs, outer = _spheres(search, rhos, reach, first, cold, restarts, draw)
    for rho, log in zip(rhos, logs, strict=False):
        best = _best(log)
        r = best["r"].to(x.dtype)
        r = r * (rho / float(torch.linalg.vector_norm(r)))  # on the sphere in complex128 too
        stages.append(_record(f, A, x, fx, r, best["iterations"], converged=best["converged"],
                              starts=tuple(_entry(e) for e in log)))
    settings = {"mode": "fixed norms", "norms": rhos, "steps": steps, "tol": tol, "patience": patience,
                "restarts": restarts, "lr": lr, "momentum": momentum, "seed": seed, "directions": directions,
                "local_steps": local_steps, "local_tol": local_tol, "precision": used, "batched": batched,
                "reach": reach}
    return WorstCase(x=x.detach(), recon=fx, stages=stages, settings=settings, local=local, outer=outer)


def _best(log: list[dict]) -> dict:
    """The start of a sphere's log with the largest ratio."""
    return max(log, key=lambda e: e["ratio"])


def _spheres(search, rhos, reach, first, cold, restarts, draw) -> tuple[list[list[dict]], dict | None]:
    """Up: each sphere from the previous one's best direction and ``restarts`` random pairs (the first
    from ``first`` and ``cold`` random pairs), then the outer sphere (reach > 1: reach x the largest
    size) alike; then back down: each sphere once more from the next larger one's best. Returns the
    spheres' logs and the outer one's."""
    sizes = [*rhos, *([reach * rhos[-1]] if reach > 1 else [])]
    logs: list[list[dict]] = []
    outer, warm = None, None
    for j, rho in enumerate(sizes, start=1):
        starts = [("warm", warm)] if warm is not None else list(first)
        for _ in range(cold if warm is None else restarts):
            starts += draw()
        try:
            log = search(j, rho, starts)
        except ValueError:
            if j <= len(rhos):
                raise
            outer = {"size": rho, "failed": "f returned non-finite values on the outer sphere"}
            break  # f breaks beyond the sizes asked for: no search from above
        logs.append(log)
        warm = _best(log)["r"] / rho
    if len(logs) > len(rhos):
        top = logs.pop()
        outer = {"size": sizes[-1], "ratio": _best(top)["ratio"], "starts": [_entry(e) for e in top]}
        logs[-1] += search(len(rhos), rhos[-1], [("from the next larger sphere", _best(top)["r"])])
    for j in range(len(rhos) - 2, -1, -1):  # from the next larger sphere's best direction
        logs[j] += search(j + 1, rhos[j], [("from the next larger sphere", _best(logs[j + 1])["r"])])
    return logs, outer


def _entry(e: dict) -> dict:
    """A start's log entry without its r."""
    return {k: v for k, v in e.items() if k != "r"}


def outputs(f: Any, Y: torch.Tensor, batched: bool) -> torch.Tensor:
    """f(y) for every y in Y (k, ...), differentiable: one batch through f, or one pass per y where f
    does not take batches (``batches``)."""
    return _differentiable(f, Y) if batched else torch.stack([_differentiable(f, y) for y in Y])


def batches(f: Any, y0: torch.Tensor, y1: torch.Tensor, fx: torch.Tensor) -> bool:
    """Whether f takes a batch of samples (k, ...) and maps each alone: f on [y0, y1] gives f(y0) = fx
    and f(y1), finite, to 1e-5 relative (a model may round differently at another batch size); y1 is
    y0 perturbed by a search's largest size."""
    try:
        with torch.no_grad():
            out = f(torch.stack([y0, y1]))
            alone = torch.stack([fx, _output(f, y1)])
    except Exception:  # a map written for one sample: the search passes starts one at a time
        return False
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(alone.shape):
        return False
    if not (_finite(out) and _finite(alone)):
        return False
    scale = float(alone.abs().max()) or 1.0
    return bool(float((out - alone).abs().max()) <= 1e-5 * scale)


def single_precision(A: Any) -> Any:
    """A in complex64 (a ``Fourier2D`` or ``MultiCoilFourier``; None for another operator)."""
    return A.in_precision(torch.complex64) if isinstance(A, (Fourier2D, MultiCoilFourier)) else None


@dataclass(frozen=True, eq=False)
class NoiseControl:
    """Gaussian perturbations of given norms and their effect (the control for worst-case ones)."""

    stages: list[Stage]

    def summary(self) -> list[dict[str, float]]:
        """JSON-ready numbers, one dict per norm."""
        return [s.summary() for s in self.stages]


def noise_control(
    f: ReconstructionMap, A: Any, x: Any, norms: Sequence[float], *, seed: int = 0, trials: int = 1
) -> NoiseControl:
    """For each rho in ``norms``: r = rho g / ||g||, g complex Gaussian, and ||f(A(x+r)) - f(Ax)|| / rho.

    With ``trials`` > 1 the largest ratio over the draws is kept (still random, not optimised).
    """
    x = _check(f, A, x)
    seed = check_seed("seed", seed)
    trials = check_int("trials", trials, minimum=1)
    gen = torch.Generator(device="cpu").manual_seed(seed + 104_729)
    with torch.no_grad():
        fx = _output(f, A(x)).detach()
    stages = []
    for rho in norms:
        rho = check_scalar("norms", rho, positive=True)
        best = None
        for _ in range(trials):
            g = torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
            stage = _record(f, A, x, fx, rho * g / torch.linalg.vector_norm(g), 0)
            if best is None or stage.ratio > best.ratio:
                best = stage
        stages.append(best)
    return NoiseControl(stages)


@dataclass(frozen=True, eq=False)
class Perturbation:
    """One map's worst case at a budget's sizes, the Gaussian control at the same sizes, and the
    unperturbed error ||f(A x) - x|| / ||x||."""

    worst: WorstCase
    noise: NoiseControl
    error: float
    config: dict | None = None  # the map's configuration, when it has one (an MRIFirenet's)

    @property
    def max_ratio(self) -> float:
        return self.worst.max_ratio

    @property
    def max_noise_ratio(self) -> float:
        return max(s.ratio for s in self.noise.stages)

    def summary(self) -> dict[str, Any]:
        return {**self.worst.summary(), "noise_control": self.noise.summary(), "max_ratio": self.max_ratio,
                "max_noise_ratio": self.max_noise_ratio, "error": self.error, "config": self.config}


def perturbation(f: ReconstructionMap, A: Any, x: Any, budget: Budget | None = None, *,
                 progress: Progress | None = None) -> Perturbation:
    """The worst case of f at ||r|| = rho ||x|| for the budget's rho (``worst_case``, fixed norms), with
    its noise control (``noise_control``, the budget's ``noise_trials`` draws)."""
    budget = Budget() if budget is None else budget
    xn = float(torch.linalg.vector_norm(_check(f, A, x) if not isinstance(x, torch.Tensor) else x))  # x as given
    norms = [rho * xn for rho in budget.norms]
    wc = worst_case(f, A, x, norms=norms, progress=progress, **budget.sphere())
    nc = noise_control(f, A, x, norms, seed=budget.seed, trials=budget.noise_trials)
    return _with_error(f, wc, nc, xn)


def _with_error(f: Any, wc: WorstCase, nc: NoiseControl, xn: float | None = None) -> Perturbation:
    """The perturbation with the unperturbed error ||f(A x) - x|| / ||x|| (``xn``: ||x||, default from wc.x)."""
    xn = float(torch.linalg.vector_norm(wc.x)) if xn is None else xn
    return Perturbation(wc, nc, float(torch.linalg.vector_norm(wc.recon - truth_for(f, wc.x))) / xn,
                        getattr(f, "config", None))


def penalised_perturbation(f: ReconstructionMap, A: Any, x: Any, *, noise_trials: int = 3,
                           progress: Progress | None = None, **ascent: Any) -> Perturbation:
    """The penalised ascent of ``worst_case`` (``ascent``: lam, lr, momentum, records, seed), then the
    noise control at the sizes it reached."""
    wc = worst_case(f, A, x, progress=progress, **ascent)
    nc = noise_control(f, A, x, [s.r_norm for s in wc.stages], seed=ascent.get("seed", 0), trials=noise_trials)
    return _with_error(f, wc, nc)
