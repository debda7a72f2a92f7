"""Metric functions over scored cases, and their summary overall and per slice.

Every rate is None when nothing was measured (no case asked for it), never a misleading 0 or 1.
Definitions (docs/evals.md):

- recall@k / MRR: product level, over cases with an expected product; the ranking is the answer's focus
  product first, then the products it cites.
- fact accuracy: facts stated correctly against the store / facts asked.
- groundedness: answers whose every number is supported by the cited products' store records, the cited
  documents or the conversation itself / non-refused answers.
- refusal accuracy: cases with an expected refusal decision where the pipeline decided the same.
- routing accuracy; escalation precision and recall (ticket opened or not), and per after-sales category.
- compliance violations: advertising-law findings in answers; PII leaks: live answers with personal data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from evals.bench.common import percentiles
from evals.scoring import CaseOutcome


def recall_at_k(ranked: Sequence[str | None], expected: str, k: int) -> float:
    """1.0 when `expected` is among the first `k` of `ranked`, else 0.0."""
    return 1.0 if expected in list(ranked)[: max(0, k)] else 0.0


def reciprocal_rank(ranked: Sequence[str | None], expected: str) -> float:
    """1/rank of `expected` in `ranked` (1-based), 0.0 when absent."""
    for index, sku in enumerate(ranked):
        if sku == expected:
            return 1.0 / (index + 1)
    return 0.0


def rate(hits: int, total: int) -> float | None:
    return None if total == 0 else round(hits / total, 4)


def mean(values: Sequence[float]) -> float | None:
    return None if not values else round(sum(values) / len(values), 4)


def precision_recall(pairs: Iterable[tuple[bool, bool]]) -> dict[str, float | int | None]:
    """Precision, recall and F1 from (expected, predicted) pairs; support = expected positives."""
    tp = fp = fn = 0
    for expected, predicted in pairs:
        if expected and predicted:
            tp += 1
        elif predicted:
            fp += 1
        elif expected:
            fn += 1
    precision = rate(tp, tp + fp)
    recall = rate(tp, tp + fn)
    f1: float | None = None
    if precision is not None and recall is not None and precision + recall > 0:
        f1 = round(2 * precision * recall / (precision + recall), 4)
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn, "predicted": tp + fp}


def _after_sales_category(o: CaseOutcome) -> str | None:
    return o.observed.category if o.observed.route == "after_sales" else None


def category_metrics(outcomes: Sequence[CaseOutcome]) -> dict[str, dict[str, float | int | None]]:
    """Precision/recall of the after-sales category, per category, over the cases that name one."""
    categories = sorted(
        {o.case.expect.category for o in outcomes if o.case.expect.category}
        | {c for o in outcomes if (c := _after_sales_category(o))}
    )
    return {
        cat: precision_recall(
            (o.case.expect.category == cat, _after_sales_category(o) == cat) for o in outcomes
        )
        for cat in categories
    }


def confusion(outcomes: Sequence[CaseOutcome]) -> dict[str, dict[str, int]]:
    """Routing confusion counts: expected route → observed route → cases."""
    table: dict[str, Counter[str]] = {}
    for o in outcomes:
        expected = o.case.expect.route
        if expected is None:
            continue
        table.setdefault(expected, Counter())[o.observed.route or "(none)"] += 1
    return {k: dict(v) for k, v in sorted(table.items())}


def summarise(outcomes: Sequence[CaseOutcome]) -> dict[str, Any]:
    """Every metric for one group of scored cases."""
    with_product = [o for o in outcomes if o.case.expect.product]
    products = [(o.ranked_skus, o.case.expect.product or "") for o in with_product]
    facts = [f for o in outcomes for f in o.facts]
    answered = [o for o in outcomes if o.answered]
    refusal = [o for o in outcomes if o.case.expect.refuse is not None]
    routed = [o for o in outcomes if o.case.expect.route is not None]
    escalation = [o for o in outcomes if o.case.expect.escalate is not None]
    categorised = [o for o in outcomes if o.case.expect.category is not None]
    live = [o for o in outcomes if o.case.channel == "live"]
    esc = precision_recall((bool(o.case.expect.escalate), o.observed.escalated) for o in escalation)
    return {
        "cases": len(outcomes),
        "passed": sum(o.passed for o in outcomes),
        "pass_rate": rate(sum(o.passed for o in outcomes), len(outcomes)),
        "errors": sum(o.error is not None for o in outcomes),
        "retrieval_n": len(products),
        "recall@1": mean([recall_at_k(r, e, 1) for r, e in products]),
        "recall@3": mean([recall_at_k(r, e, 3) for r, e in products]),
        "mrr": mean([reciprocal_rank(r, e) for r, e in products]),
        "facts_n": len(facts),
        "fact_accuracy": rate(sum(f.ok for f in facts), len(facts)),
        "answered_n": len(answered),
        "groundedness": rate(sum(not o.unsupported for o in answered), len(answered)),
        "refusal_n": len(refusal),
        "refusal_accuracy": rate(
            sum(o.observed.refused == o.case.expect.refuse for o in refusal), len(refusal)
        ),
        "unanswerable_refused": _share(
            refusal, lambda o: o.case.expect.refuse is True, lambda o: o.observed.refused
        ),
        "answerable_answered": _share(
            refusal, lambda o: o.case.expect.refuse is False, lambda o: not o.observed.refused
        ),
        "routing_n": len(routed),
        "routing_accuracy": rate(sum(o.observed.route == o.case.expect.route for o in routed), len(routed)),
        "escalation_precision": esc["precision"],
        "escalation_recall": esc["recall"],
        "category_accuracy": rate(
            sum(o.observed.category == o.case.expect.category for o in categorised), len(categorised)
        ),
        "compliance_violations": sum(len(o.compliance) for o in outcomes),
        "live_n": len(live),
        "pii_leaks": sum(bool(o.pii) for o in live),
    }


def _share(
    outcomes: Sequence[CaseOutcome],
    where: Callable[[CaseOutcome], bool],
    hit: Callable[[CaseOutcome], bool],
) -> float | None:
    chosen = [o for o in outcomes if where(o)]
    return rate(sum(hit(o) for o in chosen), len(chosen))


def latency(outcomes: Sequence[CaseOutcome]) -> dict[str, dict[str, float]]:
    """Percentiles per pipeline stage (ms) over every turn, plus the client's wall-clock time."""
    stages: dict[str, list[float]] = {}
    for o in outcomes:
        for observed in [*o.earlier, o.observed]:
            for stage, ms in observed.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
            if observed.wall_ms:
                stages.setdefault("wall", []).append(observed.wall_ms)
    return {stage: percentiles(samples) for stage, samples in sorted(stages.items())}


def slices(outcomes: Sequence[CaseOutcome]) -> dict[str, dict[str, Any]]:
    """Metrics per language slice, per channel, and per slice × channel."""
    groups: dict[str, list[CaseOutcome]] = {}
    for o in outcomes:
        groups.setdefault(f"slice:{o.case.slice}", []).append(o)
        groups.setdefault(f"channel:{o.case.channel}", []).append(o)
        groups.setdefault(f"{o.case.slice}/{o.case.channel}", []).append(o)
    return {name: summarise(group) for name, group in sorted(groups.items())}
