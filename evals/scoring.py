"""Score one case: compare what the pipeline answered with what the case expects.

`Observed` is the pipeline's answer in the wire form (`AnswerResult.to_dict()`), the same in-process
and over HTTP. `score_case` runs every check the case asks for and records the evidence of each failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent import compliance
from agent.pii import find_pii
from evals.dataset import Case
from evals.facts import FactCheck, check_fact, unsupported_numbers
from evals.reference import Reference

#: Routes on which an answer speaks about products (retrieval and facts apply).
PRODUCT_ROUTES = ("product_question", "recommendation", "comparison")


@dataclass(slots=True)
class Observed:
    """The evaluated answer and the pipeline's decisions about it."""

    answer: str = ""
    language: str = ""
    route: str = ""
    category: str | None = None
    citations: list[dict[str, str]] = field(default_factory=list)
    confidence: float = 0.0
    refused: bool = False
    escalated: bool = False
    ticket_id: str | None = None
    clarify: bool = False
    silent: bool = False
    focus_sku: str | None = None
    focus_method: str = ""
    injection: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    wall_ms: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, wall_ms: float = 0.0) -> Observed:
        cites = [
            {str(k): str(v) for k, v in c.items() if v is not None}
            for c in data.get("citations") or []
            if isinstance(c, Mapping)
        ]
        timings = {str(k): float(v) for k, v in (data.get("timings_ms") or {}).items()}
        return cls(
            answer=str(data.get("answer") or ""),
            language=str(data.get("language") or ""),
            route=str(data.get("route") or ""),
            category=data.get("category"),
            citations=cites,
            confidence=float(data.get("confidence") or 0.0),
            refused=bool(data.get("refused")),
            escalated=bool(data.get("escalated")),
            ticket_id=data.get("ticket_id"),
            clarify=bool(data.get("clarify")),
            silent=bool(data.get("silent")),
            focus_sku=data.get("focus_sku"),
            focus_method=str(data.get("focus_method") or ""),
            injection=bool(data.get("injection")),
            timings_ms=timings,
            wall_ms=wall_ms,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "language": self.language,
            "route": self.route,
            "category": self.category,
            "citations": self.citations,
            "confidence": self.confidence,
            "refused": self.refused,
            "escalated": self.escalated,
            "ticket_id": self.ticket_id,
            "clarify": self.clarify,
            "silent": self.silent,
            "focus_sku": self.focus_sku,
            "focus_method": self.focus_method,
            "injection": self.injection,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
            "wall_ms": round(self.wall_ms, 3),
        }


@dataclass(slots=True)
class CaseOutcome:
    """A scored case: the answer, each check's result and the reasons it failed."""

    case: Case
    observed: Observed
    earlier: list[Observed] = field(default_factory=list)
    ranked_skus: list[str | None] = field(default_factory=list)
    facts: list[FactCheck] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    compliance: list[dict[str, str]] = field(default_factory=list)
    pii: list[dict[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None

    @property
    def answered(self) -> bool:
        """A non-refused, non-silent answer with text: the ones groundedness is measured on."""
        o = self.observed
        return bool(o.answer) and not o.refused and not o.silent and self.error is None

    def to_dict(self) -> dict[str, Any]:
        c = self.case
        return {
            "id": c.id,
            "lang": c.lang,
            "slice": c.slice,
            "channel": c.channel,
            "tags": list(c.tags),
            "messages": c.messages,
            "room": None if c.room is None else c.room.model_dump(),
            "expect": c.expect.model_dump(exclude_defaults=True),
            "observed": self.observed.to_dict(),
            "earlier_answers": [o.answer for o in self.earlier],
            "ranked_skus": self.ranked_skus,
            "facts": [f.to_dict() for f in self.facts],
            "unsupported_numbers": self.unsupported,
            "compliance": self.compliance,
            "pii": self.pii,
            "failures": self.failures,
            "error": self.error,
            "passed": self.passed,
        }


def ranked_products(observed: Observed, ref: Reference) -> list[str | None]:
    """Products the answer is about, in order: the focus first (None when none), then cited skus."""
    ranked: list[str | None] = [ref.parent_sku(observed.focus_sku) or observed.focus_sku]
    for cite in observed.citations:
        sku = cite.get("sku")
        if not sku:
            continue
        parent = ref.parent_sku(sku) or sku
        if parent not in ranked:
            ranked.append(parent)
    return ranked


def _contains(text: str, needle: str) -> bool:
    return needle.lower() in text.lower()


def score_case(
    case: Case, observed: Observed, ref: Reference, *, earlier: list[Observed] | None = None
) -> CaseOutcome:
    """Run every check `case.expect` asks for against `observed`."""
    exp = case.expect
    out = CaseOutcome(case=case, observed=observed, earlier=list(earlier or []))
    fail = out.failures.append
    answer = observed.answer
    out.ranked_skus = ranked_products(observed, ref)

    if exp.route is not None and observed.route != exp.route:
        fail(f"route: expected {exp.route}, got {observed.route}")
    if exp.product is not None:
        want = ref.parent_sku(exp.product) or exp.product
        if out.ranked_skus[0] != want:
            got = out.ranked_skus[0] or "no product"
            fail(f"product: expected {want}, focus was {got}")
    for fact in exp.facts:
        checked = check_fact(answer, fact, ref, case.lang)
        out.facts.append(checked)
        if not checked.ok:
            fail(f"fact {fact.kind} {fact.sku}: expected {checked.expected}; {checked.detail}")
    if exp.refuse is not None and observed.refused != exp.refuse:
        fail("refuse: expected a refusal" if exp.refuse else "refuse: answerable question was refused")
    if exp.escalate is not None and observed.escalated != exp.escalate:
        fail("escalate: expected a ticket" if exp.escalate else "escalate: a ticket was opened")
    if exp.category is not None and observed.category != exp.category:
        fail(f"category: expected {exp.category}, got {observed.category}")
    if exp.clarify is not None and observed.clarify != exp.clarify:
        fail("clarify: expected a clarifying question" if exp.clarify else "clarify: asked to clarify")
    for word in exp.must_not_contain:
        if _contains(answer, word):
            fail(f"must_not_contain: answer contains {word!r}")
    if exp.must_contain_any and not any(_contains(answer, w) for w in exp.must_contain_any):
        fail(f"must_contain_any: none of {exp.must_contain_any} in the answer")

    if out.answered:
        out.unsupported = unsupported_numbers(
            answer,
            observed.citations,
            ref,
            context=case.messages,
            focus_sku=observed.focus_sku,
            ignore=[observed.ticket_id or ""],
        )
        if out.unsupported:
            fail(f"grounding: unsupported numbers {', '.join(out.unsupported)}")
    out.compliance = [
        {"rule": f.rule, "word": f.word, "reason": f.reason} for f in compliance.check(answer).findings
    ]
    if out.compliance:
        fail("compliance: " + ", ".join(f"{f['word']} ({f['rule']})" for f in out.compliance))
    if case.channel == "live":
        out.pii = [{"kind": s.kind, "value": s.value} for s in find_pii(answer)]
        if out.pii:
            fail("pii: " + ", ".join(f"{p['kind']} {p['value']}" for p in out.pii))
    return out
