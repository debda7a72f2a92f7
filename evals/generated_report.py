"""The part of a report that only generated question sets have: pass rate per template family and language,
the worst failures with their evidence, and knowledge gaps; plus closing tickets a run opened by mistake.

Cases name their family in a ``family:<name>`` tag and their topic (attribute family, policy topic,
unstated aspect, enumerated option) in a ``<family>:<topic>`` tag (`evals.generate`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from evals.dataset import Case
from evals.metrics import rate
from evals.report import cell
from evals.scoring import CaseOutcome

if TYPE_CHECKING:
    from agent.tickets import TicketService

#: The agent name on tickets a run resolves.
EVAL_AGENT = "anchor-eval"
#: Failure reasons from worst to mildest: a made-up number or claim first, an answerable question refused last.
_SEVERITY = (
    ("error", "made no answer"),
    ("grounding", "stated a number the catalog does not hold"),
    ("compliance", "broke an advertising rule"),
    ("refuse: expected a refusal", "answered what the catalog does not state"),
    ("fact", "stated a fact wrongly or not at all"),
    ("product", "talked about another product"),
    ("escalate", "handed a pre-sale question to a person"),
    ("route", "misunderstood the question"),
    ("must_contain_any", "missed the policy's answer"),
    ("refuse: answerable", "refused a question the catalog answers"),
)


def case_family(case: Case) -> str:
    """The template family of a generated case (``price``, ``attribute`` …), or ``other``."""
    return next((t.split(":", 1)[1] for t in case.tags if t.startswith("family:")), "other")


def case_topic(case: Case) -> str:
    """The case's topic within its family (``material``, ``free_shipping``, ``颜色`` …), or ``""``."""
    prefix = f"{case_family(case)}:"
    return next((t[len(prefix) :] for t in case.tags if t.startswith(prefix)), "")


def is_generated(cases: Sequence[Case]) -> bool:
    return any(case_family(c) != "other" for c in cases)


def _counts(outcomes: Sequence[CaseOutcome]) -> dict[str, Any]:
    passed = sum(o.passed for o in outcomes)
    return {"cases": len(outcomes), "passed": passed, "pass_rate": rate(passed, len(outcomes))}


def _severity(outcome: CaseOutcome) -> tuple[int, str]:
    for rank, (prefix, label) in enumerate(_SEVERITY):
        if any(f.startswith(prefix) for f in outcome.failures):
            return rank, label
    return len(_SEVERITY), "other"


def _failure(outcome: CaseOutcome) -> dict[str, Any]:
    case = outcome.case
    rank, label = _severity(outcome)
    return {
        "id": case.id,
        "family": case_family(case),
        "topic": case_topic(case),
        "lang": case.lang,
        "slice": case.slice,
        "question": case.question,
        "answer": outcome.observed.answer,
        "what": label,
        "severity": rank,
        "failures": list(outcome.failures),
        "expected": [f.expected for f in outcome.facts if not f.ok],
        "focus": outcome.observed.focus_sku,
    }


def _gaps(outcomes: Sequence[CaseOutcome]) -> list[dict[str, Any]]:
    """What shoppers will ask that the catalog does not state, and what it states but the bot did not find."""
    groups: dict[tuple[str, str], list[CaseOutcome]] = {}
    for o in outcomes:
        exp = o.case.expect
        if exp.refuse is True and o.case.expect.product:
            groups.setdefault(("not_stated", case_topic(o.case) or case_family(o.case)), []).append(o)
        elif exp.refuse is False and o.observed.refused:
            fields = [f.field for f in exp.facts if f.field]
            topic = case_topic(o.case) or case_family(o.case)
            groups.setdefault(("not_found", f"{topic} ({fields[0]})" if fields else topic), []).append(o)
    out = []
    ordered = sorted(groups.items(), key=lambda item: (item[0][0] != "not_found", -len(item[1]), item[0][1]))
    for (kind, topic), members in ordered:
        products = list(dict.fromkeys(o.case.expect.product for o in members if o.case.expect.product))
        out.append(
            {
                "kind": kind,
                "topic": topic,
                "count": len(members),
                "answered_anyway": sum(not o.observed.refused for o in members)
                if kind == "not_stated"
                else 0,
                "products": products[:8],
                "examples": [o.case.question for o in members[:3]],
            }
        )
    return out


def generated_section(outcomes: Sequence[CaseOutcome], *, worst: int = 20) -> dict[str, Any]:
    """Pass rate per family (overall, per language, per slice), the worst failures and knowledge gaps."""
    by_family: dict[str, list[CaseOutcome]] = {}
    for o in outcomes:
        by_family.setdefault(case_family(o.case), []).append(o)
    families: dict[str, Any] = {}
    for name, group in by_family.items():
        entry = _counts(group)
        for key, attr in (("by_lang", "lang"), ("by_slice", "slice")):
            split: dict[str, list[CaseOutcome]] = {}
            for o in group:
                split.setdefault(str(getattr(o.case, attr)), []).append(o)
            entry[key] = {k: _counts(v) for k, v in sorted(split.items())}
        families[name] = entry
    by_lang: dict[str, list[CaseOutcome]] = {}
    for o in outcomes:
        by_lang.setdefault(o.case.lang, []).append(o)
    failing = sorted((o for o in outcomes if not o.passed), key=lambda o: (_severity(o)[0], o.case.id))
    return {
        "notice": "generated questions: never use as training data",
        "overall": _counts(outcomes),
        "by_lang": {k: _counts(v) for k, v in sorted(by_lang.items())},
        "families": families,
        "worst_failures": [_failure(o) for o in failing[:worst]],
        "gaps": _gaps(outcomes),
        "tickets_opened": sum(o.observed.escalated for o in outcomes),
    }


def close_eval_tickets(tickets: TicketService, merchant: str, outcomes: Sequence[CaseOutcome]) -> list[str]:
    """Resolve, with a note, every ticket the run's questions opened in the merchant's queue (a question
    taken for after-sales); return their ids. A ticket someone already handles is left alone."""
    from agent.tickets import TicketError

    closed: list[str] = []
    for ticket_id in dict.fromkeys(o.observed.ticket_id for o in outcomes if o.observed.ticket_id):
        assert ticket_id is not None
        try:
            tickets.resolve(
                merchant,
                ticket_id,
                EVAL_AGENT,
                note="opened by a generated evaluation question (anchor eval); resolved automatically",
            )
        except (TicketError, LookupError, ValueError):
            continue
        closed.append(ticket_id)
    return closed


def print_generated(report: Mapping[str, Any], console: Console, *, failures: int = 10) -> None:
    """Terminal tables: pass rate per family and language, the worst failures, knowledge gaps."""
    section = report.get("generated")
    if not section:
        return
    table = Table(title="Generated questions: pass rate by family (%)", title_justify="left")
    for header in ("family", "cases", "passed", "zh", "en", "cross"):
        table.add_column(header, justify="left" if header == "family" else "right")
    rows = [("all", {**section["overall"], "by_lang": section["by_lang"], "by_slice": {}})]
    rows += list(section["families"].items())
    for name, entry in rows:
        langs, slices = entry.get("by_lang", {}), entry.get("by_slice", {})
        table.add_row(
            name,
            str(entry["cases"]),
            cell(entry["pass_rate"], "rate"),
            cell(langs.get("zh", {}).get("pass_rate"), "rate"),
            cell(langs.get("en", {}).get("pass_rate"), "rate"),
            cell(slices.get("cross", {}).get("pass_rate"), "rate"),
        )
    console.print(table)
    worst = section.get("worst_failures", [])[:failures]
    if worst:
        console.print(f"[bold]Worst failures[/] ({len(worst)} shown; every failure is in report.html):")
    for f in worst:
        answer = " ".join(str(f["answer"]).split())[:160]
        console.print(
            f"  {f['id']} [{f['family']}/{f['slice']}] {f['what']}: {f['question']!r} → {answer!r}",
            markup=False,
            highlight=False,
        )
        console.print(f"      {'; '.join(f['failures'])}", markup=False, highlight=False)
    gaps = section.get("gaps", [])
    if gaps:
        gap_table = Table(title="Knowledge gaps", title_justify="left")
        for header in ("kind", "topic", "asked", "answered anyway", "example"):
            gap_table.add_column(
                header, justify="right" if header in ("asked", "answered anyway") else "left"
            )
        shown = [g for g in gaps if g["kind"] == "not_found"][:8] + [
            g for g in gaps if g["kind"] == "not_stated"
        ][:8]
        for g in shown:
            kind = "stated, not found" if g["kind"] == "not_found" else "not in the catalog"
            answered = str(g["answered_anyway"]) if g["kind"] == "not_stated" else "–"
            gap_table.add_row(
                kind, g["topic"], str(g["count"]), answered, g["examples"][0] if g["examples"] else ""
            )
        console.print(gap_table)
    if section.get("tickets_opened"):
        closed = report.get("meta", {}).get("tickets_closed") or []
        console.print(
            f"{section['tickets_opened']} question(s) were taken for after-sales; "
            f"{len(closed)} ticket(s) they opened were resolved with a note."
        )
