"""Runtime measurement (SPEC §5, Fig. 9): mean ± std over repeats after a warm-up."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def time_ms(fn: Callable[[], object], repeats: int = 10, warmup: int = 1) -> tuple[float, float]:
    """Mean and standard deviation of ``fn()``'s wall time in milliseconds."""
    if repeats <= 0:
        raise ValueError("repeats must be positive")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(1000.0 * (time.perf_counter() - started))
    return float(np.mean(samples)), float(np.std(samples))
