"""`check`: find advertising-law and honest-claims violations in a line the bot is about to say.

The words and context patterns are data: the word base of `agent.compliance.wordbase` (files under
`agent/compliance/words/`, one entry per term with its category, the rule it breaks, its exceptions and its
source), matched by one Aho–Corasick automaton over the normalised text (`matchable`: full → half width,
traditional → simplified, lower case, zero-width characters dropped, spaced-out words joined), so "ＮＯ．１",
"最\u200b好", "最 好", "b e s t" and "BEST" are caught like "no.1", "最好" and "best"; spans are reported in
the original text. A merchant's own words file extends or relaxes it (`words=`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from agent.compliance.wordbase import (
    CATEGORIES,
    Action,
    CompiledBase,
    Entry,
    Hit,
    Severity,
    matchable,
    packaged_compiled,
)
from agent.textnorm import Folded, Language, detect_language

#: The finding's rule id per category: "family.kind", the family saying how the rest of the product treats
#: it (claims the catalog may state, claim questions, …).
RULE_IDS: dict[str, str] = {
    "superlative": "absolute.superlative",
    "ranking": "absolute.ranking",
    "first_exclusive": "absolute.unique",
    "guarantee": "absolute.guarantee",
    "unsourced_data": "absolute.unsourced_data",
    "false_claim": "absolute.false_claim",
    "authority": "endorsement.official",
    "medical": "medical.claim",
    "health_efficacy": "medical.efficacy",
    "health_food": "medical.health_food",
    "cosmetic_efficacy": "medical.cosmetic",
    "education": "education.guarantee",
    "investment": "investment.return",
    "superstition": "superstition",
    "inducement": "scarcity.inducement",
    "fake_price": "scarcity.price",
    "fake_urgency": "scarcity.false",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation: which rule, the offending text and where it is, and what to do about it.

    `suggestion` is the replacement text for a rewrite ("" deletes the word) and None when the whole
    sentence has to go (`action == "drop_sentence"`) or a person should look (`action == "review"`).
    `category` and `article` say what kind of claim it is and which rule it breaks; `source` is the
    word base entry ("file:line").
    """

    rule: str
    word: str
    start: int
    end: int
    reason: str
    suggestion: str | None
    severity: Severity
    action: Action
    category: str = ""
    article: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "category": self.category,
            "article": self.article,
            "word": self.word,
            "start": self.start,
            "end": self.end,
            "action": self.action,
            "suggestion": self.suggestion,
            "severity": self.severity,
            "reason": self.reason,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    """The findings for one text, in text order; `ok` when none needs a change (review findings are
    reported for a person and never block or rewrite)."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(f.action == "review" for f in self.findings)

    @property
    def to_fix(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.action != "review")


def _covered(start: int, end: int, spans: Collection[tuple[int, int]]) -> bool:
    return any(a <= start and end <= b for a, b in spans)


def _spans_of(needles: Collection[str], text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for needle in needles:
        if not needle:
            continue
        pos = text.find(needle)
        while pos != -1:
            spans.append((pos, pos + len(needle)))
            pos = text.find(needle, pos + 1)
    return spans


def _select(hits: list[Hit]) -> list[Hit]:
    """Keep non-overlapping hits: the longest first, then the earliest, then the word base's order."""
    chosen: list[Hit] = []
    taken = bytearray()
    for hit in sorted(hits, key=lambda h: (h.start - h.end, h.start, h.index)):
        if len(taken) < hit.end:
            taken.extend(b"\0" * (hit.end - len(taken)))
        if any(taken[hit.start : hit.end]):
            continue
        taken[hit.start : hit.end] = b"\1" * (hit.end - hit.start)
        chosen.append(hit)
    chosen.sort(key=lambda h: h.start)
    return chosen


def _match_case(word: str, replacement: str) -> str:
    """Carry an English word's capitalisation over to its replacement ("Best" → "Great")."""
    letters = [ch for ch in word if ch.isalpha()]
    if not replacement or not letters or not all(ch.isascii() for ch in letters):
        return replacement
    if len(letters) > 2 and all(ch.isupper() for ch in letters):
        return replacement.upper()
    if letters[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement


def _reason(entry: Entry, word: str, language: Language) -> str:
    zh_label, en_label = CATEGORIES[entry.category]
    if language == "zh":
        tail = {
            "rewrite": "，请改为具体、可证明的描述",
            "drop_sentence": "，不得使用",
            "review": "，请人工确认语境",
        }
        return f"“{word}”属于{zh_label}（{entry.rule}）{tail[entry.action]}"
    article = "an" if en_label[0] in "aeiou" else "a"
    tail_en = {
        "rewrite": "; say something specific you can prove",
        "drop_sentence": "; do not say it",
        "review": "; a person should check the context",
    }
    return f"'{word}' is {article} {en_label} ({entry.rule}){tail_en[entry.action]}"


def _finding(text: str, folded: Folded, hit: Hit, language: Language) -> Finding:
    entry = hit.entry
    start, end = folded.span(hit.start, hit.end)
    word = text[start:end]
    suggestion: str | None = None
    if entry.action == "rewrite":
        if language == "zh":
            template = entry.rewrite if entry.rewrite is not None else entry.rewrite_en
        else:
            template = entry.rewrite_en if entry.rewrite_en is not None else entry.rewrite
        template = template or ""
        expanded = hit.match.expand(template) if hit.match is not None else template
        suggestion = _match_case(word, expanded)
    return Finding(
        rule=RULE_IDS[entry.category],
        word=word,
        start=start,
        end=end,
        reason=_reason(entry, word, language),
        suggestion=suggestion,
        severity=entry.severity,
        action=entry.action,
        category=entry.category,
        article=entry.rule,
        source=entry.origin,
    )


def check(text: str, *, allowed: Collection[str] = (), words: CompiledBase | None = None) -> ComplianceReport:
    """Find every forbidden claim in `text`.

    Args:
        text: a line the bot is about to speak or show.
        allowed: claims the merchant's own catalog states as fact for the product in question (e.g.
            "医用级", "clinically proven", "100%桑蚕丝", or a model name containing "Number One"). A
            match lying inside an occurrence of one of them is not reported.
        words: the word base to use (default: the packaged one); a merchant's extends it.

    Returns:
        The findings in text order; overlapping matches are resolved in favour of the longest.
    """
    base = words or packaged_compiled()
    folded = matchable(text)
    hits = list(base.hits(folded.text))
    if not hits:
        return ComplianceReport(text, ())
    allowed_spans = _spans_of([matchable(a).text.strip() for a in allowed], folded.text)
    allowed_spans += _spans_of(base.allowed, folded.text)
    if allowed_spans:
        hits = [h for h in hits if not _covered(h.start, h.end, allowed_spans)]
    language = detect_language(text)
    chosen = _select(hits)
    return ComplianceReport(text, tuple(_finding(text, folded, hit, language) for hit in chosen))


__all__ = ["RULE_IDS", "ComplianceReport", "Finding", "check"]
