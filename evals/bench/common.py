"""Helpers every benchmark shares: machine facts, percentiles, result files.

Each benchmark module exposes ``run(*, quick: bool = False) -> dict[str, Any]`` returning a JSON-ready
result; `anchor bench` runs them all and writes one report.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def machine_info() -> dict[str, Any]:
    """The facts a reader needs to judge a figure: CPU count, memory, Python, platform."""
    mem_gib: float | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    cpu_model = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": mem_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """Median, p95, p99, mean, min, max (milliseconds) of a list of timings, nearest-rank."""
    if not samples_ms:
        return {"n": 0}
    ordered = sorted(samples_ms)
    n = len(ordered)

    def rank(q: float) -> float:
        index = max(0, min(n - 1, round(q * n + 0.5) - 1))
        return round(ordered[index], 3)

    return {
        "n": n,
        "p50": round(statistics.median(ordered), 3),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "mean": round(statistics.fmean(ordered), 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
    }


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed milliseconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append((time.perf_counter() - start) * 1000.0)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write_result(result: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
