"""The team's compliance corpora, kept in the suite: ordinary sentences that must pass (precision) and
violating ones in varied positions (recall). Figures on the blind sets are reported in the issue notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.compliance_eval import judge, load_corpus, summarise

DATA = Path(__file__).resolve().parents[1] / "data" / "compliance"


def _offenders(rows: list[dict[str, object]], key: str, want: bool) -> str:
    return "\n".join(str(r["text"]) for r in rows if bool(r[key] == "change") != want)[:3000]


def test_precision_corpus_words_false_flags_at_most_one_percent() -> None:
    sentences = load_corpus(DATA / "precision.jsonl", violating=False)
    assert len(sentences) >= 1000
    assert {s.lang for s in sentences} == {"zh", "en"}
    rows = judge(sentences, None)
    rate = summarise(rows)["all"]["words"]["changed"]
    assert rate <= 0.01, _offenders(rows, "words", want=False)


def test_recall_corpus_covers_every_category_in_both_languages() -> None:
    from agent.compliance.wordbase import CATEGORIES

    sentences = load_corpus(DATA / "recall.jsonl", violating=True)
    for lang in ("zh", "en"):
        counts = {c: sum(1 for s in sentences if s.lang == lang and s.group == c) for c in CATEGORIES}
        assert min(counts.values()) >= 3, counts


@pytest.mark.slow
@pytest.mark.integration
def test_words_and_claims_together_on_both_corpora() -> None:
    from knowledge.embedders import UseEmbedder

    embed = UseEmbedder().embed
    bad = judge(load_corpus(DATA / "recall.jsonl", violating=True), embed)
    good = judge(load_corpus(DATA / "precision.jsonl", violating=False), embed)
    # Caught: changed, or reported for review (a word that needs a person to judge its context).
    caught = summarise(bad)["all"]["combined"]["flagged"]
    changed_innocent = summarise(good)["all"]["combined"]["changed"]
    flagged_innocent = summarise(good)["all"]["combined"]["flagged"]
    assert changed_innocent <= 0.01, _offenders(good, "combined", want=False)
    assert flagged_innocent <= 0.02
    missed = "\n".join(str(r["text"]) for r in bad if not r["combined"])[:3000]
    assert caught >= 0.95, missed
