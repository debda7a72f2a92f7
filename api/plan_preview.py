"""The preview of a room plan for the room builder: per product the script the room will speak, each line's
spoken seconds, and every compliance finding with its rule, span and a suggested rewrite.

The script is built by the room's own `ScriptBuilder` (the lines a started room says, for the same loop),
so the preview never disagrees with the room. On top of it:

- each merchant line (pinned lines, fillers) is checked as the builder checks it — the word base
  (`agent.compliance.check`), the claim classifier when configured, and the grounding check (a number the
  catalog does not hold) — and reported with each finding's span in the line, the word's own suggestion
  and a suggested rewrite of the whole line (`agent.compliance.enforce`, then the sentences holding what
  no word swap fixes left out; None when nothing of the line can stay);
- each generated line is checked again and its remaining findings (only ``review`` ones: they are for a
  person) are listed; what the builder fixed or left out in generated lines is in the product's notes.

Durations: ``estimate`` (default, instant) is the builder's own pace (`agent.live.script.line_seconds`:
5.4 Chinese characters or 2.6 English words a second, as the offline voice speaks at rate 1.0) divided by
the plan's ``speech_rate``; ``voice`` speaks every line with the offline voice (espeak-ng) at the plan's
rate and measures it, as ``anchor script --review`` does (about 60 ms a line).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from agent.compliance import CompiledBase, Finding, check, enforce, split_sentences
from agent.compliance.claims import ClaimReader
from agent.evidence import Evidence
from agent.guard import check_grounding
from agent.live.plan import RoomPlan
from agent.live.script import (
    BUDGET_S,
    EN_WORDS_PER_S,
    ZH_UNITS_PER_S,
    Script,
    ScriptBuilder,
    line_seconds,
)
from agent.live.templates import Lang
from knowledge.models import Product

Durations = Literal["estimate", "voice"]
DURATION_METHODS: tuple[str, ...] = ("estimate", "voice")

_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def _finding(f: Finding, source: str) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "category": f.category,
        "article": f.article,
        "word": f.word,
        "start": f.start,
        "end": f.end,
        "action": f.action,
        "suggestion": f.suggestion,
        "reason": f.reason,
        "source": source,
    }


def _number_span(line: str, number: str) -> tuple[int, int] | None:
    try:
        wanted = Decimal(number).normalize()
    except InvalidOperation:
        return None
    for match in _DIGITS.finditer(line):
        for candidate in (match.group().replace(",", ""), match.group().replace(",", ".")):
            try:
                if Decimal(candidate).normalize() == wanted:
                    return match.span()
            except InvalidOperation:
                continue
    return None


class LineChecker:
    """Checks one merchant line the way the script builder does, with spans and suggestions."""

    def __init__(self, lang: Lang, words: CompiledBase | None, claims: ClaimReader | None) -> None:
        self.lang: Lang = lang
        self.words = words
        self.claims = claims

    def findings(self, line: str, evidence: Evidence | None) -> list[dict[str, Any]]:
        """Every finding in `line`: word base, claim classifier, and (given evidence) unsupported numbers."""
        words = list(check(line, words=self.words).findings)
        out = [_finding(f, "words") for f in words]
        if self.claims is not None:
            out += [_finding(f, "claims") for f in self.claims(line, self.lang, words)]
        if evidence is not None:
            for number in check_grounding(line, evidence):
                span = _number_span(line, number)
                reason = (
                    f"“{number}”不是商品资料里的数字（价格、库存、规格以商品库为准）"
                    if self.lang == "zh"
                    else f"'{number}' is not a number the catalog holds for this product (price, stock, specs)"
                )
                out.append(
                    {
                        "rule": "grounding.number",
                        "category": "",
                        "article": "",
                        "word": number,
                        "start": span[0] if span else None,
                        "end": span[1] if span else None,
                        "action": "drop_sentence",
                        "suggestion": None,
                        "reason": reason,
                        "source": "grounding",
                    }
                )
        return out

    def rewrite(self, line: str, evidence: Evidence | None) -> str | None:
        """A version of `line` that passes: word rewrites first, then the sentences still holding a finding
        left out. None when nothing of the line can stay."""
        text = enforce(line, words=self.words).text
        for _round in range(3):
            if not text.strip():
                return None
            blocking = [f for f in self.findings(text, evidence) if f["action"] != "review"]
            if not blocking:
                return text
            spans = [(f["start"], f["end"]) for f in blocking]
            if any(a is None for a, _b in spans):
                return None
            kept = [text[a:b] for a, b in split_sentences(text) if not any(s < b and a < e for s, e in spans)]
            text = "".join(kept).strip()
        return None

    def report(self, line: str, evidence: Evidence | None) -> dict[str, Any]:
        found = self.findings(line, evidence)
        rejected = any(f["action"] != "review" for f in found)
        return {
            "line": line,
            "rejected": rejected,
            "findings": found,
            "rewrite": self.rewrite(line, evidence) if rejected else None,
        }


async def _voice_seconds(lines: Sequence[str], plan: RoomPlan) -> list[float]:
    """Each line spoken by the offline voice at the plan's rate, as `anchor script --review` does."""
    from voice import Prosody, build_tts

    tts = build_tts("espeak", cache_dir=None)
    prosody = Prosody(rate=f"{round((plan.speech_rate - 1.0) * 100):+d}%")
    voice = plan.voice or plan.language
    return [(await tts.synthesize(line, voice=voice, prosody=prosody)).duration for line in lines]


def estimate_seconds(line: str, plan: RoomPlan) -> float:
    """The builder's pace (`line_seconds`, at rate 1.0) at the plan's speech rate."""
    return line_seconds(line, plan.language) / plan.speech_rate


def durations_basis(method: Durations, plan: RoomPlan) -> str:
    if method == "voice":
        return (
            f"each line spoken by the offline voice (espeak-ng) at speech_rate {plan.speech_rate:g} and "
            "measured, as `anchor script --review` does"
        )
    pace = (
        f"{EN_WORDS_PER_S:g} words a second"
        if plan.language == "en"
        else f"{ZH_UNITS_PER_S:g} characters a second (a Latin word counts 2)"
    )
    return f"estimated: {pace} at rate 1.0 (the offline voice's measured pace), divided by speech_rate {plan.speech_rate:g}"


def build_script(builder: ScriptBuilder, plan: RoomPlan, loop_index: int) -> Script:
    return builder.build(plan, loop_index=loop_index)


async def preview(
    plan: RoomPlan,
    script: Script,
    *,
    words: CompiledBase | None,
    claims: ClaimReader | None,
    durations: Durations = "estimate",
    seconds_of: Callable[[Sequence[str], RoomPlan], Any] | None = None,
) -> dict[str, Any]:
    """The preview of `plan` from its built `script` (see the module's docstring for what it holds)."""
    checker = LineChecker(plan.language, words, claims)
    spoken = [sentence for _pos, _item, _seg, sentence in script.lines()]
    if durations == "voice":
        measure = seconds_of or _voice_seconds
        measured = await measure(spoken, plan)
        seconds = dict(zip(spoken, measured, strict=True))
    else:
        seconds = {line: estimate_seconds(line, plan) for line in spoken}
    products: list[Product] = []
    items: list[dict[str, Any]] = []
    for index, (plan_item, item) in enumerate(zip(plan.items, script.items, strict=True)):
        product = item.product
        if product is not None:
            products.append(product)
        evidence = (
            Evidence(product=product, extra_numbers={Decimal(plan_item.link)}, words=words)
            if product is not None
            else None
        )
        segments = []
        total = 0.0
        for segment in item.segments:
            lines = []
            for number, sentence in enumerate(segment.sentences):
                said = seconds.get(sentence, 0.0)
                total += said
                lines.append(
                    {
                        "text": sentence,
                        "seconds": round(said, 1),
                        "pinned": number < segment.pinned,
                        "findings": [_finding(f, "words") for f in check(sentence, words=words).findings],
                    }
                )
            segments.append({"kind": segment.kind, "pinned": segment.pinned, "lines": lines})
        pinned = [
            {"segment": kind, "index": number, **checker.report(line.strip(), evidence)}
            for kind, lines_of_kind in plan_item.pinned_lines.items()
            for number, line in enumerate(lines_of_kind)
        ]
        prefix = f"link {plan_item.link} {plan_item.sku}:"
        problem = next((p for p in script.problems if p.startswith(f"items.{index} ")), None)
        items.append(
            {
                "index": index,
                "link": plan_item.link,
                "sku": plan_item.sku,
                "title": product.title if product is not None else None,
                "sold_out": item.sold_out,
                "problem": problem,
                "segments": segments,
                "seconds": round(total, 1),
                "budget_s": BUDGET_S,
                "over_budget": total > BUDGET_S,
                "pinned": pinned,
                "notes": [note for note in script.notes if note.startswith(prefix)],
            }
        )
    filler_evidence = Evidence(
        others=products, extra_numbers={Decimal(item.link) for item in plan.items}, words=words
    )
    fillers = [
        {"index": number, **checker.report(line.strip(), filler_evidence)}
        for number, line in enumerate(plan.fillers)
    ]
    return {
        "room_id": plan.room_id,
        "merchant": plan.merchant,
        "language": plan.language,
        "loop": script.loop_index,
        "durations": {"method": durations, "basis": durations_basis(durations, plan)},
        "items": items,
        "fillers": fillers,
        "seconds": round(sum(i["seconds"] for i in items), 1),
        "rejected_lines": sum(1 for i in items for p in i["pinned"] if p["rejected"])
        + sum(1 for f in fillers if f["rejected"]),
        "problems": list(script.problems),
    }


__all__ = ["DURATION_METHODS", "Durations", "LineChecker", "build_script", "estimate_seconds", "preview"]
