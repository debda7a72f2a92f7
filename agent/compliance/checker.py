"""`check`: find advertising-law and honest-claims violations in a line the bot is about to say.

Matching runs on the folded text (`agent.textnorm.fold`: full-width → half-width, traditional →
simplified, lower case, zero-width characters ignored), so "ＮＯ．１", "最\u200b好" and "BEST" are
caught like "no.1", "最好" and "best"; spans are reported in the original text.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache

from agent.compliance.rules import RULES, Action, Rule, Severity
from agent.textnorm import Folded, Language, detect_language, fold


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation: which rule, the offending text and where it is, and what to do about it.

    `suggestion` is the replacement text for a rewrite ("" deletes the word) and None when the whole
    sentence has to go (`action == "drop_sentence"`).
    """

    rule: str
    word: str
    start: int
    end: int
    reason: str
    suggestion: str | None
    severity: Severity
    action: Action


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    """The findings for one text, in text order; `ok` when there are none."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: Rule
    index: int
    regex: re.Pattern[str]
    exceptions: tuple[re.Pattern[str], ...]


@cache
def _compiled() -> tuple[_CompiledRule, ...]:
    return tuple(
        _CompiledRule(
            rule=rule,
            index=index,
            regex=re.compile(rule.pattern, re.IGNORECASE),
            exceptions=tuple(re.compile(ex, re.IGNORECASE) for ex in rule.exceptions),
        )
        for index, rule in enumerate(RULES)
    )


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int
    end: int
    compiled: _CompiledRule
    match: re.Match[str]


def _covering_spans(patterns: Iterable[re.Pattern[str]], text: str) -> list[tuple[int, int]]:
    return [m.span() for pattern in patterns for m in pattern.finditer(text) if m.end() > m.start()]


def _covered(start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(a <= start and end <= b for a, b in spans)


def _allowed_spans(folded: Folded, allowed: Collection[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for claim in allowed:
        needle = fold(claim).text.strip()
        if not needle:
            continue
        spans.extend(m.span() for m in re.finditer(re.escape(needle), folded.text))
    return spans


def _candidates(folded: Folded, allowed: Collection[str]) -> list[_Candidate]:
    allowed_spans = _allowed_spans(folded, allowed)
    found: list[_Candidate] = []
    for compiled in _compiled():
        exception_spans: list[tuple[int, int]] | None = None
        for match in compiled.regex.finditer(folded.text):
            start, end = match.span()
            if start == end:
                continue
            if compiled.exceptions:
                if exception_spans is None:
                    exception_spans = _covering_spans(compiled.exceptions, folded.text)
                if _covered(start, end, exception_spans):
                    continue
            if _covered(start, end, allowed_spans):
                continue
            found.append(_Candidate(start, end, compiled, match))
    return found


def _select(candidates: list[_Candidate]) -> list[_Candidate]:
    """Keep non-overlapping candidates: the longest first, then the earliest, then table order."""
    chosen: list[_Candidate] = []
    taken = bytearray()
    for cand in sorted(candidates, key=lambda c: (c.start - c.end, c.start, c.compiled.index)):
        if len(taken) < cand.end:
            taken.extend(b"\0" * (cand.end - len(taken)))
        if any(taken[cand.start : cand.end]):
            continue
        taken[cand.start : cand.end] = b"\1" * (cand.end - cand.start)
        chosen.append(cand)
    chosen.sort(key=lambda c: c.start)
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


def _finding(text: str, folded: Folded, cand: _Candidate, language: Language) -> Finding:
    rule = cand.compiled.rule
    start, end = folded.span(cand.start, cand.end)
    word = text[start:end]
    rule_language: Language = language if rule.language == "any" else rule.language
    suggestion: str | None = None
    if rule.action == "rewrite":
        if language == "zh":
            primary, other = rule.rewrite_zh, rule.rewrite_en
        else:
            primary, other = rule.rewrite_en, rule.rewrite_zh
        template = primary if primary is not None else (other or "")
        suggestion = _match_case(word, cand.match.expand(template))
    reason = (rule.reason_zh if rule_language == "zh" else rule.reason_en).format(word=word)
    return Finding(
        rule=rule.id,
        word=word,
        start=start,
        end=end,
        reason=reason,
        suggestion=suggestion,
        severity=rule.severity,
        action=rule.action,
    )


def check(text: str, *, allowed: Collection[str] = ()) -> ComplianceReport:
    """Find every forbidden claim in `text`.

    Args:
        text: a line the bot is about to speak or show.
        allowed: claims the merchant's own catalog states as fact for the product in question (e.g.
            "医用级", "clinically proven", "100%桑蚕丝", or a model name containing "Number One"). A
            match lying inside an occurrence of one of them is not reported.

    Returns:
        The findings in text order; overlapping matches are resolved in favour of the longest.
    """
    folded = fold(text)
    language = detect_language(text)
    chosen = _select(_candidates(folded, allowed))
    return ComplianceReport(text, tuple(_finding(text, folded, cand, language) for cand in chosen))


__all__ = ["ComplianceReport", "Finding", "check"]
