"""The benchmarks' timer: the median of repeated runs after warm-up runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeat: int, warmup: int = 3) -> float:
    """Median wall time of ``repeat`` calls of fn, after ``warmup`` calls that are not timed."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)
