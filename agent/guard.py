"""The answer guard: grounding of numbers, compliance wording, and PII on public channels.

A draft passes when every number it states is in the evidence (price, size, quantity, percentage,
date …). Compliance findings are rewritten or their sentence dropped (`agent.compliance.enforce`); on a
public channel any PII is redacted. A failed grounding check rejects the draft: the pipeline then uses
the template writer, whose numbers all come from the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from agent import compliance, pii
from agent.evidence import Evidence, numbers_in

#: Compliance rule families a merchant's own catalog may state as fact (e.g. a certification).
_CATALOG_MAY_STATE = ("medical", "certification")


@dataclass(slots=True)
class GuardResult:
    """The guarded text and what the guard found."""

    text: str
    grounded: bool
    unsupported_numbers: list[str] = field(default_factory=list)
    findings: list[dict[str, object]] = field(default_factory=list)
    dropped_sentences: list[str] = field(default_factory=list)
    pii_redacted: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.grounded


def catalog_claims(evidence: Evidence) -> frozenset[str]:
    """Claim words the evidence itself states, which the answer may therefore repeat."""
    return _claims_in(evidence.corpus())


@lru_cache(maxsize=4096)
def _claims_in(corpus: str) -> frozenset[str]:
    report = compliance.check(corpus)
    return frozenset(f.word for f in report.findings if f.rule.split(".")[0] in _CATALOG_MAY_STATE)


def check_grounding(text: str, evidence: Evidence, *, question: str = "") -> list[str]:
    """Numbers in `text` that neither the evidence nor the question's own product reference holds."""
    supported = evidence.supported_numbers()
    unsupported: list[str] = []
    for value in sorted(numbers_in(text)):
        if value in supported:
            continue
        unsupported.append(format(value, "f"))
    return unsupported


def guard(text: str, evidence: Evidence, *, channel: str = "chat", language: str = "zh") -> GuardResult:
    """Check and clean one answer. `channel` "live" is public: PII is always redacted there."""
    unsupported = check_grounding(text, evidence)
    enforced = compliance.enforce(text, allowed=catalog_claims(evidence), words=evidence.words)
    cleaned = enforced.text
    redacted: list[str] = []
    if channel == "live":
        spans = pii.find_pii(cleaned)
        if spans:
            redacted = [s.kind for s in spans]
            cleaned = pii.redact(cleaned, language="zh" if language == "zh" else "en")
    return GuardResult(
        text=cleaned,
        grounded=not unsupported,
        unsupported_numbers=unsupported,
        findings=[
            {"rule": f.rule, "word": f.word, "start": f.start, "end": f.end, "suggestion": f.suggestion}
            for f in enforced.findings
        ],
        dropped_sentences=list(enforced.dropped_sentences),
        pii_redacted=redacted,
    )


def number_of(value: Decimal) -> str:
    return format(value.normalize(), "f")
