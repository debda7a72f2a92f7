"""Compare two reports metric by metric, and gate a run on a baseline's tolerances.

Metrics are flattened to names such as ``overall.fact_accuracy``, ``slice:zh.recall@1`` and
``latency.total.p95``. A baseline file is a report (or its metrics only) with a ``tolerances`` object:

- ``rate_drop`` (default 0.01): a rate may fall by at most this much (absolute);
- ``count_increase`` (default 0): counts such as compliance violations may grow by at most this; a count
  that was 0 must stay 0;
- ``latency_growth`` (default 0.5): a gated latency percentile may grow by at most this share;
- ``latency_metrics`` (default ``["latency.total.p95"]``): which latency figures are gated;
- ``per_metric``: overrides by metric name (an absolute drop for a rate, a growth share for latency).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

MetricKind = Literal["rate", "count", "latency", "info"]

RATE_KEYS = frozenset(
    {
        "pass_rate",
        "recall@1",
        "recall@3",
        "mrr",
        "fact_accuracy",
        "groundedness",
        "refusal_accuracy",
        "unanswerable_refused",
        "answerable_answered",
        "routing_accuracy",
        "escalation_precision",
        "escalation_recall",
        "category_accuracy",
    }
)
COUNT_KEYS = frozenset({"compliance_violations", "pii_leaks", "errors"})
GATED_GROUP_PREFIXES = ("overall", "slice:", "channel:")

DEFAULT_TOLERANCES: dict[str, Any] = {
    "rate_drop": 0.01,
    "count_increase": 0,
    "latency_growth": 0.5,
    "latency_metrics": ["latency.total.p95"],
    "per_metric": {},
}


@dataclass(frozen=True, slots=True)
class Delta:
    """One metric in both reports, and whether the change is a regression beyond tolerance."""

    name: str
    kind: MetricKind
    base: float | None
    new: float | None
    regression: bool = False
    limit: str = ""

    @property
    def change(self) -> float | None:
        if self.base is None or self.new is None:
            return None
        return round(self.new - self.base, 4)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "base": self.base,
            "new": self.new,
            "change": self.change,
            "regression": self.regression,
            "limit": self.limit,
        }


def _kind(key: str) -> MetricKind:
    if key in RATE_KEYS:
        return "rate"
    if key in COUNT_KEYS:
        return "count"
    return "info"


def flatten(report: Mapping[str, Any]) -> dict[str, tuple[MetricKind, float | None]]:
    """Every numeric metric of a report by flat name, with its kind."""
    flat: dict[str, tuple[MetricKind, float | None]] = {}
    groups: dict[str, Mapping[str, Any]] = {"overall": report.get("metrics") or {}}
    groups.update(report.get("slices") or {})
    for group, metrics in groups.items():
        for key, value in metrics.items():
            if value is None or isinstance(value, int | float):
                flat[f"{group}.{key}"] = (_kind(key), None if value is None else float(value))
    for stage, pcts in (report.get("latency") or {}).items():
        for key in ("p50", "p95", "p99"):
            if key in pcts:
                flat[f"latency.{stage}.{key}"] = ("latency", float(pcts[key]))
    return flat


def tolerances_of(baseline: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(DEFAULT_TOLERANCES)
    merged.update(baseline.get("tolerances") or {})
    return merged


def _gated(name: str, kind: MetricKind, tol: Mapping[str, Any]) -> bool:
    if kind == "latency":
        return name in tol["latency_metrics"]
    if kind == "info":
        return False
    return name.startswith(GATED_GROUP_PREFIXES)


def _judge(
    name: str, kind: MetricKind, base: float | None, new: float | None, tol: Mapping[str, Any]
) -> tuple[bool, str]:
    override = (tol.get("per_metric") or {}).get(name)
    if base is None:
        return False, ""
    if new is None:
        return True, "was measured in the baseline, missing now"
    if kind == "rate":
        drop = float(override if override is not None else tol["rate_drop"])
        return new < base - drop - 1e-9, f"may drop ≤ {drop:g}"
    if kind == "count":
        if base == 0:
            return new > 0, "must stay 0"
        grow = float(override if override is not None else tol["count_increase"])
        return new > base + grow, f"may grow ≤ {grow:g}"
    growth = float(override if override is not None else tol["latency_growth"])
    return new > base * (1 + growth), f"may grow ≤ {growth:.0%}"


def compare(
    base: Mapping[str, Any], new: Mapping[str, Any], *, tolerances: Mapping[str, Any] | None = None
) -> list[Delta]:
    """Deltas of every metric present in either report; regressions judged with the tolerances
    (default: those stored in `base`)."""
    tol = dict(tolerances) if tolerances is not None else tolerances_of(base)
    for key, value in DEFAULT_TOLERANCES.items():
        tol.setdefault(key, value)
    a, b = flatten(base), flatten(new)
    deltas: list[Delta] = []
    for name in sorted(set(a) | set(b)):
        kind = (a.get(name) or b.get(name) or ("info", None))[0]
        base_value = a[name][1] if name in a else None
        new_value = b[name][1] if name in b else None
        regression, limit = False, ""
        if _gated(name, kind, tol):
            regression, limit = _judge(name, kind, base_value, new_value, tol)
        deltas.append(Delta(name, kind, base_value, new_value, regression, limit))
    return deltas


def gate(baseline: Mapping[str, Any], report: Mapping[str, Any]) -> list[Delta]:
    """The regressions of `report` against `baseline` beyond the baseline's tolerances (empty = pass)."""
    return [d for d in compare(baseline, report) if d.regression]


def baseline_from(report: Mapping[str, Any], tolerances: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A baseline file's content from a measured report: its metrics, slices, latency and tolerances."""
    return {
        "meta": report.get("meta", {}),
        "tolerances": dict(tolerances or DEFAULT_TOLERANCES),
        "metrics": report["metrics"],
        "slices": report.get("slices", {}),
        "latency": report.get("latency", {}),
        "retrieval_dev": report.get("retrieval_dev"),
    }
