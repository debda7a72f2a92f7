"""`enforce`: make a line compliant by rewriting offending words or dropping whole sentences.

A word with a safe rewrite (最好 → 很好, "best" → "great", 全网最低价 → 优惠价) is replaced in place. A
sentence holding a claim that cannot be made honest by swapping a word (medical, superstition,
investment, endorsement, false scarcity, guarantees, a bare 第一) is dropped. The result is checked
again; after a few rounds every sentence that still has a finding is dropped, so the output always
passes `check` (at worst it is empty).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from agent.compliance.checker import Finding, check
from agent.compliance.wordbase import CompiledBase

# Rounds of rewriting before any sentence still holding a finding is dropped outright.
MAX_REWRITE_ROUNDS = 3

# A sentence ends after Chinese/English terminal punctuation or a newline (plus closing quotes and
# following whitespace); a full stop counts only when followed by whitespace or the end, so "3.5折" and
# "$19.99" stay whole.
_SENTENCE_END = re.compile(r"(?:[。！？!?；;…\n]+|\.(?=\s|$))[”\"’'」』）)\]】]*\s*")
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,.!?;:，。！？；：])")
_DOUBLED_COMMA = re.compile(r"([，,])\s*[，,]+")


@dataclass(frozen=True, slots=True)
class Enforced:
    """The compliant text, the findings of the original text, and the sentences that were removed."""

    text: str
    findings: tuple[Finding, ...]
    dropped_sentences: tuple[str, ...]


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text`; together they cover the whole text."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() > start:
            spans.append((start, match.end()))
            start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _tidy(text: str) -> str:
    text = _SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub("", text)
    text = _DOUBLED_COMMA.sub(r"\1", text)
    return text.strip()


def _one_round(text: str, findings: tuple[Finding, ...], *, drop_all: bool) -> tuple[str, list[str]]:
    sentences = split_sentences(text)
    to_drop: set[int] = set()
    for finding in findings:
        if drop_all or finding.suggestion is None:
            to_drop.update(i for i, (a, b) in enumerate(sentences) if a < finding.end and finding.start < b)
    dropped_ranges = [sentences[i] for i in sorted(to_drop)]
    edits: list[tuple[int, int, str]] = [(a, b, "") for a, b in dropped_ranges]
    for finding in findings:
        if finding.suggestion is None:
            continue
        if any(a < finding.end and finding.start < b for a, b in dropped_ranges):
            continue
        edits.append((finding.start, finding.end, finding.suggestion))
    out = text
    for start, end, replacement in sorted(edits, reverse=True):
        out = out[:start] + replacement + out[end:]
    dropped = [text[a:b].strip() for a, b in dropped_ranges]
    return _tidy(out), [s for s in dropped if s]


def enforce(text: str, *, allowed: Collection[str] = (), words: CompiledBase | None = None) -> Enforced:
    """Rewrite or drop what `check` finds until the text passes `check` (review findings are left as they
    are: they are for a person).

    Args:
        text: the line to make compliant.
        allowed: catalog-stated claims, as for `check`.
        words: the word base, as for `check`.

    Returns:
        `Enforced` with the compliant text (unchanged when it was already clean), the findings of the
        original text, and the removed sentences in the order they were removed.
    """
    report = check(text, allowed=allowed, words=words)
    original_findings = report.findings
    current = text
    dropped: list[str] = []
    rounds = 0
    while not report.ok:
        rounds += 1
        current, removed = _one_round(current, report.to_fix, drop_all=rounds > MAX_REWRITE_ROUNDS)
        dropped.extend(removed)
        report = check(current, allowed=allowed, words=words)
    return Enforced(current, original_findings, tuple(dropped))


__all__ = ["MAX_REWRITE_ROUNDS", "Enforced", "enforce", "split_sentences"]
