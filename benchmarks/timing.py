"""Side-by-side timing for the benchmarks: callables run interleaved A B A B ..., so load on a shared machine hits
every contender alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, *, warmup: bool = True, pause: float = 0.0
) -> dict[str, list[float]]:
    """Run each callable once untimed (``warmup``), then A B A B ... ``repeats`` times; wall times per callable.

    ``pause`` seconds between callables let the previous one's thread pool go idle (ONNX Runtime's and OpenMP's
    workers spin for a while after a run and would take cores from the next contender)."""
    if warmup:
        for f in fns.values():
            f()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            time.sleep(pause)
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return times


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    return {k: statistics.median(v) for k, v in times.items()}
