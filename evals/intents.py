"""Scoring the intent router on labelled messages: what `anchor eval intents` reports.

A dataset is JSONL, one message a line: ``{"text", "intent", "lang", "channel"}`` (the format of the
training data; `id` optional). Figures, overall and per language:

- intent accuracy and route accuracy (the route an intent maps to);
- after-sales recall (after-sales messages handed to a person) and precision (hand-offs that were after-sales);
- hand-off-request recall (requests for a person that were handed off);
- pre-sale false escalation (pre-sale policy questions handed to a person);
- asked: messages where the bot asked "product or order?" instead of deciding; they count as not handed off;
- the intent confusion matrix (expected → decided).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.router import IntentRouter, RouteDecision
from agent.textnorm import normalize_message
from agent.understanding.intents import AFTER_SALES_INTENTS, route_of
from agent.understanding.train import Example
from evals.metrics import rate


@dataclass(frozen=True, slots=True)
class Scored:
    example: Example
    decision: RouteDecision

    @property
    def expected_as(self) -> bool:
        return self.example.intent in AFTER_SALES_INTENTS

    @property
    def escalated(self) -> bool:
        return self.decision.is_after_sales and not self.decision.unsure


def score(router: IntentRouter, examples: Sequence[Example]) -> list[Scored]:
    """The router's decision on each example (texts normalised as the pipeline does, embedded in one batch)."""
    texts = [normalize_message(e.text) for e in examples]
    decisions = router.classify_many(texts)
    return [Scored(e, d) for e, d in zip(examples, decisions, strict=True)]


def _summary(items: Sequence[Scored]) -> dict[str, Any]:
    after_sales = [s for s in items if s.expected_as]
    escalated = [s for s in items if s.escalated]
    handoff = [s for s in items if s.example.intent == "handoff_request"]
    presale = [s for s in items if s.example.intent == "presale_policy"]
    return {
        "n": len(items),
        "intent_accuracy": rate(sum(s.decision.intent == s.example.intent for s in items), len(items)),
        "route_accuracy": rate(
            sum(s.decision.route == route_of(s.example.intent) for s in items if not s.decision.unsure),
            len(items),
        ),
        "after_sales_n": len(after_sales),
        "after_sales_recall": rate(sum(s.escalated for s in after_sales), len(after_sales)),
        "after_sales_precision": rate(sum(s.expected_as for s in escalated), len(escalated)),
        "handoff_n": len(handoff),
        "handoff_recall": rate(sum(s.escalated for s in handoff), len(handoff)),
        "presale_n": len(presale),
        "presale_false_escalation": rate(sum(s.escalated for s in presale), len(presale)),
        "asked": rate(sum(s.decision.unsure for s in items), len(items)),
    }


def report(scored: Sequence[Scored]) -> dict[str, Any]:
    """Figures overall and per language, the confusion matrix and every miss."""
    langs = sorted({s.example.lang or "?" for s in scored})
    confusion: dict[str, Counter[str]] = {}
    for s in scored:
        decided = "(asked)" if s.decision.unsure else s.decision.intent
        confusion.setdefault(s.example.intent, Counter())[decided] += 1
    misses = [
        {
            "text": s.example.text,
            "lang": s.example.lang,
            "channel": s.example.channel,
            "expected": s.example.intent,
            "decided": s.decision.intent,
            "route": s.decision.route,
            "asked": s.decision.unsure,
            "top": [[label, round(p, 3)] for label, p in s.decision.top],
            "signals": [x for x in s.decision.signals if x.startswith(("rule:", "threshold:"))],
        }
        for s in scored
        if s.decision.intent != s.example.intent or s.decision.unsure
    ]
    return {
        "overall": _summary(scored),
        "languages": {
            lang: _summary([s for s in scored if (s.example.lang or "?") == lang]) for lang in langs
        },
        "confusion": {k: dict(v) for k, v in sorted(confusion.items())},
        "misses": misses,
    }
