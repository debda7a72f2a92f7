"""Aspect matching on its own: does the line the matcher picks hold the attribute a case expects, and does
it find nothing when the listing does not state what is asked?

Cases come from answer datasets: one with an `attribute` fact (the product and the attribute's key) is an
"answerable" case; one with `refuse: true` and a product is an "unstated" case. `train` fits the matcher's
line model on such cases (the dev sets; never the blind ones) and reports, for each catalog, how a model
trained on the other catalogs does on it: the figure to expect on a catalog nobody tuned on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from agent.writers.matching import AspectMatcher, LineModel, ScoredLine, decide, meets, verdict_of
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


def _verdict(lines: list[ScoredLine], model: LineModel) -> tuple[str, str]:
    """(verdict, best line text) under `model`, re-scored from the lines' features."""
    if not lines:
        return "absent", ""
    probabilities = model.probabilities(np.asarray([line.features for line in lines], dtype=np.float64))
    rescored = sorted(
        (replace(line, score=float(p)) for line, p in zip(lines, probabilities, strict=True)),
        key=lambda line: line.score,
        reverse=True,
    )
    return decide(rescored, model), rescored[0].text


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
    return _metrics(_prepare(cases, ref, matcher, embed_questions), matcher.model, ref)


def _states(text: str, case: AspectCase, ref: Reference) -> bool:
    """The line states the expected attribute (its key line, or another line holding its value)."""
    fact = FactSpec(kind="attribute", sku=case.sku, field=case.gold)
    return text.startswith(f"{case.gold}: ") or check_fact(text, fact, ref, "zh").ok


Prepared = list[tuple[AspectCase, list[ScoredLine], tuple[str, ...]]]


def _answers(line: ScoredLine, case: AspectCase, ref: Reference) -> bool:
    """A training positive: the gold attribute's own line, or a selling point or description sentence that
    states its value (another attribute that happens to repeat a value is not about the asked aspect)."""
    if line.text.startswith(f"{case.gold}: "):
        return True
    return line.citation.field != "attributes" and _states(line.text, case, ref)


def _metrics(prepared: Prepared, model: LineModel, ref: Reference) -> dict[str, Any]:
    answerable = [x for x in prepared if x[0].gold is not None]
    unstated = [x for x in prepared if x[0].gold is None]
    right = wrong = unsure = unsure_right = refused = 0
    misses: list[dict[str, str]] = []
    for case, lines, _asked in answerable:
        verdict, text = _verdict(lines, model)
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
    for case, lines, _asked in unstated:
        verdict, text = _verdict(lines, model)
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
    """What training maximises when it picks the cuts: on an answerable question a right answer 1, the right
    line offered as unsure 0.5, a wrong fact −2, a refusal −0.5; on an unstated question "not stated" 1,
    unsure (not stated, then the nearest line) −0.5, an unrelated fact given as the answer −1. Averaged over
    the cases of each kind, then summed."""
    answerable = (
        metrics["right"] + 0.5 * metrics["unsure_right"] - 2 * metrics["wrong"] - 0.5 * metrics["refused"]
    )
    unstated = metrics["honest_absence"] - 0.5 * metrics["unstated_unsure"] - 1 * metrics["unstated_answered"]
    return float(answerable + unstated)


def _fit(prepared: Sequence[tuple[Prepared, Reference]], names: Sequence[str]) -> LineModel:
    """A logistic model on every line of every answerable and unstated case (`_answers` lines are
    positive), with the cuts that maximise the summed `utility` on the same cases."""
    from sklearn.linear_model import LogisticRegression

    rows: list[tuple[float, ...]] = []
    labels: list[int] = []
    for group, ref in prepared:
        for case, lines, _asked in group:
            # In the catalog's order, not the current model's: training must not depend on the model
            # it replaces.
            for line in sorted(lines, key=lambda x: (x.citation.field, x.text)):
                rows.append(line.features)
                labels.append(int(case.gold is not None and _answers(line, case, ref)))
    if not rows or len(set(labels)) < 2:
        raise ValueError("training needs answerable cases whose attribute line exists and other lines")
    clf = LogisticRegression(C=1.0, max_iter=5000)
    clf.fit(np.asarray(rows, dtype=np.float64), np.asarray(labels))
    model = LineModel(
        weights=tuple(float(w) for w in clf.coef_[0]),
        bias=float(clf.intercept_[0]),
        trained_on=tuple(names),
    )
    # Each case's best line under the model (its probability, and whether it states the gold attribute),
    # then the cuts: only they change in the search.
    tops: list[list[Top]] = []
    for group, ref in prepared:
        group_tops: list[Top] = []
        for case, lines, _asked in group:
            if not lines:
                group_tops.append((0.0, 0.0, False, None if case.gold is None else False))
                continue
            probabilities = model.probabilities(np.asarray([x.features for x in lines], dtype=np.float64))
            order = np.argsort(-probabilities)
            second = float(probabilities[order[1]]) if len(order) > 1 else 0.0
            states = None if case.gold is None else _states(lines[int(order[0])].text, case, ref)
            about_asked = meets(lines[int(order[0])])
            group_tops.append((float(probabilities[order[0]]), second, about_asked, states))
        tops.append(group_tops)
    best: tuple[float, LineModel] | None = None
    cuts = [round(float(c), 3) for c in np.linspace(0.05, 0.99, 48)]
    for answer_cut in cuts:
        for nearest_cut in (c for c in cuts if c <= answer_cut):
            for margin_cut in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0):
                candidate = replace(
                    model,
                    answer_cut=answer_cut,
                    nearest_cut=nearest_cut,
                    margin_cut=margin_cut,
                    meet_cut=answer_cut,
                )
                objective = sum(_cut_utility(group_tops, candidate) for group_tops in tops)
                if best is None or objective > best[0] + 1e-9:
                    best = (objective, candidate)
    assert best is not None
    # Then the cut for lines the vocabulary says are about the asked aspect, with the others fixed.
    chosen = best[1]
    for meet_cut in cuts:
        candidate = replace(chosen, meet_cut=meet_cut)
        objective = sum(_cut_utility(group_tops, candidate) for group_tops in tops)
        if objective > best[0] + 1e-9:
            best = (objective, candidate)
    return best[1]


#: A case's best line under a model: its probability, the next line's, whether the vocabulary says it is
#: about the asked aspect, and whether it states the gold attribute (None for an unstated case).
Top = tuple[float, float, bool, bool | None]


def _cut_utility(tops: Sequence[Top], model: LineModel) -> float:
    """`utility` of one group's best lines under `model`'s cuts."""
    counts = {
        "right": 0,
        "wrong": 0,
        "unsure_right": 0,
        "refused": 0,
        "honest": 0,
        "unsure_u": 0,
        "answered_u": 0,
    }
    n_a = sum(1 for *_rest, states in tops if states is not None)
    n_u = len(tops) - n_a
    for probability, second, about_asked, states in tops:
        verdict = verdict_of(probability, second, about_asked, model)
        if states is None:
            counts[{"answer": "answered_u", "unsure": "unsure_u", "absent": "honest"}[verdict]] += 1
        elif verdict == "answer":
            counts["right" if states else "wrong"] += 1
        elif verdict == "unsure":
            counts["unsure_right"] += int(states)
        else:
            counts["refused"] += 1
    return utility(
        {
            "right": counts["right"] / (n_a or 1),
            "wrong": counts["wrong"] / (n_a or 1),
            "unsure_right": counts["unsure_right"] / (n_a or 1),
            "refused": counts["refused"] / (n_a or 1),
            "honest_absence": counts["honest"] / (n_u or 1),
            "unstated_unsure": counts["unsure_u"] / (n_u or 1),
            "unstated_answered": counts["answered_u"] / (n_u or 1),
        }
    )


def train(
    groups: Sequence[tuple[str, Sequence[AspectCase], Reference]],
    matcher: AspectMatcher,
    embed_questions: Any,
) -> tuple[LineModel, list[dict[str, Any]]]:
    """The line model fitted on all `groups` (name, cases, catalog), and for each group the metrics of a
    model fitted on the others only (held out: what to expect on an unseen catalog) beside the metrics of
    the full model on it (seen)."""
    prepared = [(name, _prepare(cases, ref, matcher, embed_questions), ref) for name, cases, ref in groups]
    full = _fit([(p, ref) for _name, p, ref in prepared], [name for name, _p, _ref in prepared])
    report: list[dict[str, Any]] = []
    for i, (name, group, ref) in enumerate(prepared):
        others = [(p, r) for j, (_n, p, r) in enumerate(prepared) if j != i]
        held_out = _fit(others, [n for j, (n, _p, _r) in enumerate(prepared) if j != i]) if others else None
        entry: dict[str, Any] = {"set": name, "seen": _metrics(group, full, ref)}
        if held_out is not None:
            entry["held_out"] = _metrics(group, held_out, ref)
        report.append(entry)
    return full, report
