"""Aspect matching on its own: does the line the matcher picks hold the attribute a case expects, and does
it find nothing when the listing does not state what is asked?

Cases come from answer datasets: one with an `attribute` fact (the product and the attribute's key) is an
"answerable" case; one with `refuse: true` and a product is an "unstated" case. `tune` searches the
matcher's weights and cuts on such cases (the dev sets; never the blind ones) and says what it chose.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.writers.matching import AspectMatcher, MatchParams, ScoredLine, decide, rescore
from evals.dataset import Case, FactSpec
from evals.facts import check_fact
from evals.reference import Reference


@dataclass(slots=True)
class AspectCase:
    id: str
    question: str
    sku: str
    gold: str | None  # the attribute key that answers, None when the listing does not state it


def aspect_cases(cases: Sequence[Case], ref: Reference) -> list[AspectCase]:
    out: list[AspectCase] = []
    for case in cases:
        exp = case.expect
        if not exp.product or len(case.messages) != 1:
            continue
        product = ref.products.get(exp.product)
        if product is None:
            continue
        fields = [f.field for f in exp.facts if f.kind == "attribute" and f.sku == exp.product and f.field]
        if fields:
            out.append(AspectCase(case.id, case.messages[0], exp.product, fields[0]))
        elif exp.refuse is True and not exp.facts:
            out.append(AspectCase(case.id, case.messages[0], exp.product, None))
    return out


def _verdict(lines: list[ScoredLine], asked: tuple[str, ...], matcher: AspectMatcher) -> tuple[str, str]:
    """(verdict, best line text) under the matcher's current params, re-scored from the raw parts."""
    rescored = rescore(lines, asked, matcher.params)
    verdict = decide(rescored, asked, matcher.params)
    return verdict, rescored[0].text if rescored else ""


def _prepare(
    cases: Sequence[AspectCase], ref: Reference, matcher: AspectMatcher, embed_questions: Any
) -> list[tuple[AspectCase, list[ScoredLine], tuple[str, ...]]]:
    """Each case with its product's lines scored (the questions embedded in one batch, without the words
    that name the product, as the pipeline does)."""
    readings = [matcher.reading(case.question, ref.products[case.sku]) for case in cases]
    abouts = [about for about, _asked, _terms in readings]
    vectors = embed_questions(abouts) if abouts else np.zeros((0, 1))
    return [
        (case, matcher.score(case.question, ref.products[case.sku], qv), asked)
        for case, (_about, asked, _terms), qv in zip(cases, readings, vectors, strict=True)
    ]


def score_cases(
    cases: Sequence[AspectCase], ref: Reference, matcher: AspectMatcher, embed_questions: Any
) -> dict[str, Any]:
    """Accuracy of the current params: answerable cases answered with the gold line, unstated ones not."""
    return _metrics(_prepare(cases, ref, matcher, embed_questions), matcher, ref)


def _states(text: str, case: AspectCase, ref: Reference) -> bool:
    """The line states the expected attribute (its key line, or another line holding its value)."""
    fact = FactSpec(kind="attribute", sku=case.sku, field=case.gold)
    return text.startswith(f"{case.gold}: ") or check_fact(text, fact, ref, "zh").ok


def _metrics(
    prepared: list[tuple[AspectCase, list[ScoredLine], tuple[str, ...]]],
    matcher: AspectMatcher,
    ref: Reference,
) -> dict[str, Any]:
    answerable = [x for x in prepared if x[0].gold is not None]
    unstated = [x for x in prepared if x[0].gold is None]
    right = wrong = unsure = unsure_right = refused = 0
    misses: list[dict[str, str]] = []
    for case, lines, asked in answerable:
        verdict, text = _verdict(lines, asked, matcher)
        states = bool(text) and _states(text, case, ref)
        if verdict == "answer" and states:
            right += 1
        elif verdict == "answer":
            wrong += 1
            misses.append({"id": case.id, "question": case.question, "got": text, "want": case.gold or ""})
        elif verdict == "unsure":
            unsure += 1
            unsure_right += int(states)
        else:
            refused += 1
            misses.append(
                {"id": case.id, "question": case.question, "got": "(absent)", "want": case.gold or ""}
            )
    honest = unstated_unsure = unstated_answered = 0
    for case, lines, asked in unstated:
        verdict, text = _verdict(lines, asked, matcher)
        if verdict == "absent":
            honest += 1
        elif verdict == "unsure":
            unstated_unsure += 1
        else:
            unstated_answered += 1
            misses.append({"id": case.id, "question": case.question, "got": text, "want": "(not stated)"})
    n_a, n_u = len(answerable), len(unstated)

    def share(count: int, total: int) -> float:
        return count / total if total else 0.0

    return {
        "answerable": n_a,
        "unstated": n_u,
        "right": share(right, n_a),
        "wrong": share(wrong, n_a),
        "unsure": share(unsure, n_a),
        "unsure_right": share(unsure_right, n_a),
        "refused": share(refused, n_a),
        "honest_absence": share(honest, n_u),
        "unstated_unsure": share(unstated_unsure, n_u),
        "unstated_answered": share(unstated_answered, n_u),
        "misses": misses,
    }


def utility(metrics: dict[str, Any]) -> float:
    """What tuning maximises: a right answer 1, the right line offered as unsure 0.5, a wrong fact −2, an
    answerable question refused −0.5; on
    an unstated question, "not stated" 1, unsure (which says it is not stated, then the nearest line) 0.5,
    an unrelated fact given as the answer −1. Averaged over both kinds of case."""
    answerable = (
        metrics["right"] + 0.5 * metrics["unsure_right"] - 2 * metrics["wrong"] - 0.5 * metrics["refused"]
    )
    unstated = metrics["honest_absence"] - 0.5 * metrics["unstated_unsure"] - 1 * metrics["unstated_answered"]
    return float(answerable + unstated)


def tune(
    groups: Sequence[tuple[Sequence[AspectCase], Reference]], matcher: AspectMatcher, embed_questions: Any
) -> tuple[MatchParams, list[dict[str, Any]]]:
    """Grid search of the weights and cuts for the best summed `utility` over the groups (each a set of
    cases with its own catalog)."""
    prepared = [(_prepare(cases, ref, matcher, embed_questions), ref) for cases, ref in groups]
    best: tuple[float, MatchParams, list[dict[str, Any]]] | None = None
    original = matcher.params
    grid = itertools.product(
        (0.3, 0.5, 0.7),
        (0.1, 0.2, 0.35),
        (0.0, 0.2, 0.4),
        (0.3, 0.4, 0.5, 0.65),
        (0.1, 0.2, 0.3, 0.5),
        (0.4, 0.55, 0.7),
        (0.2, 0.3, 0.45),
    )
    for w_lex, w_aspect, w_key, accept, accept_meets, accept_miss, nearest in grid:
        if nearest >= accept:
            continue
        matcher.params = MatchParams(w_lex, w_aspect, w_key, accept, accept_meets, accept_miss, nearest)
        metrics = [_metrics(group, matcher, ref) for group, ref in prepared]
        objective = sum(utility(m) for m in metrics)
        if best is None or objective > best[0] + 1e-9:
            best = (objective, matcher.params, metrics)
    matcher.params = original
    assert best is not None
    return best[1], best[2]
