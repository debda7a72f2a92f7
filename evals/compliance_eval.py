"""Scoring the compliance check on corpora: recall on violating sentences, false flags on ordinary ones.

A violating sentence counts as caught when the check asks for a change (a rewrite or a dropped sentence);
"flagged" also counts a "review" finding (reported for a person, not changed). Each corpus is scored with the
word base alone, the claim classifier alone, and both together (the word rules decide where they fire).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.compliance import check
from agent.compliance.checker import Finding
from agent.compliance.claims import Embed, claim_findings, decided_by_words
from agent.compliance.claims_train import jsonl_objects
from agent.textnorm import detect_language


@dataclass(frozen=True, slots=True)
class Sentence:
    id: str
    lang: str
    text: str
    group: str  # category (violations), kind (ordinary), family (public words)
    violating: bool
    #: A public-list word ordinary in most contexts: counted apart (it may only be "review").
    ordinary_word: bool = False


def load_corpus(path: Path, *, violating: bool) -> list[Sentence]:
    out: list[Sentence] = []
    for number, row in jsonl_objects(path):
        try:
            group = row.get("category") or row.get("kind") or row.get("family") or ""
            out.append(
                Sentence(
                    str(row["id"]),
                    str(row.get("lang") or detect_language(row["text"])),
                    str(row["text"]),
                    str(group),
                    violating,
                    bool(row.get("ordinary_in_most_contexts", False)),
                )
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a corpus sentence ({exc})") from exc
    return out


def _outcome(findings: Sequence[Finding]) -> str:
    """ "change" when a finding asks for a rewrite or drop, "review" when only review ones, else ""."""
    if any(f.action != "review" for f in findings):
        return "change"
    return "review" if findings else ""


def judge(sentences: Sequence[Sentence], embed: Embed | None) -> list[dict[str, Any]]:
    """Each sentence with the outcome of the words alone, the claims alone and both."""
    rows: list[dict[str, Any]] = []
    word_results = [check(s.text).findings for s in sentences]
    for sentence, words in zip(sentences, word_results, strict=True):
        row: dict[str, Any] = {
            "id": sentence.id,
            "lang": sentence.lang,
            "group": sentence.group,
            "text": sentence.text,
            "violating": sentence.violating,
            "ordinary_word": sentence.ordinary_word,
            "words": _outcome(words),
            "word_findings": [f"{f.category}:{f.word}" for f in words],
        }
        if embed is not None:
            language = detect_language(sentence.text)
            alone = claim_findings(sentence.text, embed, language=language)
            combined = [f for f in alone if not decided_by_words(f.start, f.end, words)]
            row["claims"] = _outcome(alone)
            row["combined"] = _outcome([*words, *combined])
        rows.append(row)
    return rows


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Recall (violating) or false-flag rate (ordinary), per method, overall, per language and group."""
    methods = [m for m in ("words", "claims", "combined") if rows and m in rows[0]]

    def rates(subset: Sequence[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"n": len(subset)}
        for method in methods:
            changed = sum(1 for r in subset if r[method] == "change")
            flagged = sum(1 for r in subset if r[method])
            out[method] = {
                "changed": changed / len(subset) if subset else 0.0,
                "flagged": flagged / len(subset) if subset else 0.0,
            }
        return out

    by_lang: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_lang[row["lang"]].append(row)
        by_group[f"{row['lang']}:{row['group']}"].append(row)
    return {
        "all": rates(rows),
        "languages": {k: rates(v) for k, v in sorted(by_lang.items())},
        "groups": {k: rates(v) for k, v in sorted(by_group.items())},
    }


__all__ = ["Sentence", "judge", "load_corpus", "summarise"]
