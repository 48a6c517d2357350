"""Tuning a reconstruction method fairly: iteration traces, the count where a metric settles, the best
lam on a refined log grid (never at an edge), and the two alternated (``tune``).

Each run is a fresh call run(iters) or runner(lam) (BART reports no intermediate iterates).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np


def _image_of(result: Any) -> np.ndarray:
    return result[0] if isinstance(result, tuple) else result


def iteration_trace(run: Callable[[int], tuple[np.ndarray, float]], counts: Sequence[int]) -> list[tuple]:
    """[(iters, seconds, image)] with each iteration count a separate run(iters) -> (image, seconds)."""
    trace = []
    for n in counts:
        image, seconds = run(int(n))
        trace.append((int(n), float(seconds), image))
    return trace


class Convergence(NamedTuple):
    """The count where the metric settled (or the last tried), its run, and [(iters, metric, seconds)]."""

    iters: int
    image: np.ndarray
    seconds: float
    score: float
    history: list[tuple[int, float, float]]
    settled: bool


def converged_iterations(
    run: Callable[[int], tuple[np.ndarray, float]],
    metric: Callable[[np.ndarray], float],
    *,
    start: int = 25,
    factor: float = 2.0,
    tol: float = 0.01,
    max_iters: int = 10_000,
    strict: bool = True,
) -> Convergence:
    """The first count n in start, start*factor, ... with |metric(n) - metric(previous)| < tol.

    Each count is a fresh run (BART reports no intermediate iterates). Returns the earlier of the
    two counts (it already has the settled metric). Past max_iters: raises if strict, else returns
    the last count tried with settled=False.
    """
    history: list[tuple[int, float, float]] = []
    runs: list[tuple[np.ndarray, float]] = []
    n = int(start)
    while n <= max_iters:
        image, seconds = run(n)
        score = float(metric(image))
        history.append((n, score, float(seconds)))
        runs = [*runs[-1:], (image, float(seconds))]
        if len(history) >= 2 and abs(history[-1][1] - history[-2][1]) < tol:
            i, sc, sec = history[-2]
            return Convergence(i, runs[0][0], sec, sc, history, True)
        n = max(n + 1, int(round(n * factor)))
    if strict or not history:
        raise RuntimeError(f"metric did not settle to {tol} within {max_iters} iterations: {history}")
    i, sc, sec = history[-1]
    return Convergence(i, runs[-1][0], sec, sc, history, False)


class LambdaSearch(NamedTuple):
    """Best lam of a search, its image and score, and every (lam, score) evaluated, sorted by lam."""

    lam: float
    image: np.ndarray
    score: float
    evaluated: list[tuple[float, float]]


def best_of_lambda(
    runner: Callable[[float], Any],
    lams: Sequence[float],
    metric: Callable[[np.ndarray], float],
    *,
    refine: float = 2.0 ** (1 / 3),
    max_extend: int = 12,
) -> LambdaSearch:
    """The lam maximising metric(runner(lam)) on a log grid, refined around the best, never at an edge.

    lams: the coarse grid (sorted; typically a factor 2 apart). While the best is the smallest or
    largest lam tried, the grid is extended by that factor (at most max_extend times); then the
    neighbourhood [best / 2, best * 2] (the coarse spacing) is filled in steps of ``refine``
    (2^(1/3) ~ 1.26), the fine grid also extended if its best lands on its edge. runner(lam) returns
    an image or (image, seconds); higher metric is better (e.g. PSNR).
    """
    grid = sorted(float(v) for v in lams)
    if not grid or grid[0] <= 0:
        raise ValueError(f"lams must be positive and non-empty; got {lams}")
    coarse = grid[1] / grid[0] if len(grid) > 1 else 2.0
    done: dict[float, tuple[float, np.ndarray]] = {}

    def evaluate(lam: float) -> None:
        key = float(f"{lam:.6g}")
        if key not in done:
            image = _image_of(runner(key))
            done[key] = (float(metric(image)), image)

    def best() -> float:
        return max(done, key=lambda k: done[k][0])

    def extend(spacing: float) -> None:
        for _ in range(max_extend):
            b, keys = best(), sorted(done)
            if b == keys[0]:
                evaluate(b / spacing)
            elif b == keys[-1]:
                evaluate(b * spacing)
            else:
                return
        raise RuntimeError(f"the best lam is still at the edge after {max_extend} extensions: {sorted(done)}")

    for lam in grid:
        evaluate(lam)
    extend(coarse)
    b = best()
    steps = max(1, int(round(math.log(coarse) / math.log(refine))))
    for j in range(-steps + 1, steps):
        evaluate(b * refine**j)
    extend(refine)
    b = best()
    return LambdaSearch(b, done[b][1], done[b][0], sorted((k, v[0]) for k, v in done.items()))


def lam_grid(centre: float) -> list[float]:
    """The coarse lam grid centre * 2^k, k = -2..2, that ``best_of_lambda`` starts from."""
    return [centre * 2.0**k for k in (-2, -1, 0, 1, 2)]


def tune(
    run: Callable, lam0: float, n0: int, metric: Callable, *, max_iters: int, rounds: int = 3
) -> tuple[float, Convergence]:
    """Alternate iterations-to-convergence (PSNR change < 0.01 dB on doubling) and best-of-lambda search.

    Iteration counts are capped at max_iters (the result then says settled=False).
    """
    lam = lam0

    def settle(v: float, start: int) -> Convergence:
        return converged_iterations(
            lambda k: run(v, k), metric, start=start, max_iters=max_iters, strict=False
        )

    conv = settle(lam, n0)
    for _ in range(rounds):
        search = best_of_lambda(lambda v, k=conv.iters: run(v, k), lam_grid(lam), metric)
        again = settle(search.lam, conv.iters)
        stable = search.lam == lam and again.iters == conv.iters
        lam, conv = search.lam, again
        if stable:
            break
    return lam, conv
