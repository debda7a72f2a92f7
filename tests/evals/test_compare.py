"""Deltas between reports and the regression gate."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from evals.compare import baseline_from, compare, flatten, gate

pytestmark = pytest.mark.unit


def _report() -> dict[str, Any]:
    group = {
        "cases": 100,
        "pass_rate": 0.8,
        "fact_accuracy": 0.9,
        "groundedness": 1.0,
        "compliance_violations": 0,
        "pii_leaks": 0,
        "errors": 0,
    }
    return {
        "meta": {"embedder": "hash"},
        "metrics": dict(group),
        "slices": {"slice:zh": dict(group), "zh/live": dict(group)},
        "latency": {"total": {"n": 10, "p50": 20.0, "p95": 100.0, "p99": 150.0}, "focus": {"p95": 10.0}},
    }


def test_flatten_names_and_kinds() -> None:
    flat = flatten(_report())
    assert flat["overall.fact_accuracy"] == ("rate", 0.9)
    assert flat["slice:zh.pii_leaks"] == ("count", 0.0)
    assert flat["latency.total.p95"] == ("latency", 100.0)
    assert flat["overall.cases"][0] == "info"


def test_same_report_passes_the_gate() -> None:
    base = baseline_from(_report())
    assert gate(base, _report()) == []
    assert all(d.change in (0.0, None) for d in compare(base, _report()))


def test_planted_regressions_fail_the_gate() -> None:
    base = baseline_from(_report())
    new = copy.deepcopy(_report())
    new["metrics"]["fact_accuracy"] = 0.88  # drop of 0.02 > 0.01
    new["slices"]["slice:zh"]["pii_leaks"] = 1  # was 0
    new["latency"]["total"]["p95"] = 151.0  # +51 %
    new["slices"]["zh/live"]["pass_rate"] = 0.1  # slice x channel groups are shown, not gated
    new["latency"]["focus"]["p95"] = 100.0  # only the gated latency figure counts
    failed = {d.name for d in gate(base, new)}
    assert failed == {"overall.fact_accuracy", "slice:zh.pii_leaks", "latency.total.p95"}


def test_changes_within_tolerance_pass() -> None:
    base = baseline_from(_report())
    new = copy.deepcopy(_report())
    new["metrics"]["fact_accuracy"] = 0.895
    new["latency"]["total"]["p95"] = 149.0
    new["metrics"]["pass_rate"] = 0.95  # improvements never fail
    assert gate(base, new) == []


def test_tolerances_from_the_baseline_file() -> None:
    base = baseline_from(_report(), {"rate_drop": 0.05, "per_metric": {"overall.groundedness": 0.0}})
    new = copy.deepcopy(_report())
    new["metrics"]["fact_accuracy"] = 0.86  # within 0.05
    new["metrics"]["groundedness"] = 0.99  # per-metric: no drop allowed
    assert [d.name for d in gate(base, new)] == ["overall.groundedness"]


def test_a_metric_that_disappears_is_a_regression() -> None:
    base = baseline_from(_report())
    new = copy.deepcopy(_report())
    new["metrics"]["fact_accuracy"] = None
    regressions = gate(base, new)
    assert [d.name for d in regressions] == ["overall.fact_accuracy"]
    assert "missing now" in regressions[0].limit
