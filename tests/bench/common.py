"""What every benchmark reports: a figure beside a baseline measured in the same run, and the ratio.

These machines are shared and noisy, so an absolute number means little on its own; the ratio to
a bare baseline (grpcio echo, pika publish, PostgreSQL insert) measured seconds earlier is the
figure to compare across runs. Benchmarks never assert timings.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Figure:
    name: str
    value: float
    unit: str                      # e.g. "calls/s", "ms", "s"
    baseline_name: str = ""
    baseline_value: float | None = None
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value


def percentile(samples: list[float], p: float) -> float:
    if not samples:
        return float("nan")
    s = sorted(samples)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")
