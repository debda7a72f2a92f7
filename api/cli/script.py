"""`anchor script`: print a room plan and every sentence of its script for review before going live."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.live.plan import PlanError, RoomPlan
from agent.live.script import Script, ScriptBuilder
from api.cli.app import app
from api.services import Services
from api.settings import Settings

_console = Console()
_err_console = Console(stderr=True)

_SEGMENT_LABELS = {
    "hook": "hook",
    "intro": "intro",
    "selling_points": "selling points",
    "specs": "specs",
    "price_offer": "price & offer",
    "call_to_action": "call to action",
}


@app.command("script")
def script_command(
    room: Annotated[Path, typer.Option("--room", "-r", help="The room plan (YAML or JSON).")],
    loop: Annotated[
        int,
        typer.Option("--loop", "-l", min=0, help="Which loop to build (each loop is worded differently)."),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")] = False,
    review: Annotated[
        bool,
        typer.Option(
            "--review",
            help="Speak every line with the offline voice at the plan's rate and report, per product, its "
            "spoken seconds (budget 45 s), repeated lines and repeated openings.",
        ),
    ] = False,
) -> None:
    """Print a room's plan and the script the anchor will speak, sentence by sentence.

    Every generated line has passed the compliance and grounding checks. Pinned lines that break a
    rule are listed with the rule and the word, and are never spoken.

    Exit code 0 when the script is clean, 1 when a pinned line or filler was rejected or a sku is not
    in the catalog, 2 when the plan file cannot be used.

    Example: anchor script --room samples/demo/room.yaml --loop 1
    """
    try:
        plan = RoomPlan.load(room)
    except PlanError as exc:
        for problem in exc.problems:
            _err_console.print(f"[bold red]error:[/] {escape(problem)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    services = Services(Settings())
    try:
        # With ANCHOR_WRITER=llm the model rewords the lines; the builder's guard checks every rewrite.
        script = ScriptBuilder(
            services.store,
            rewriter=services.script_rewriter(),
            words=services.merchant_words.compiled,
            claims=services.claim_reader(),
        ).build(plan, loop_index=loop)
    finally:
        services.close()
    reviewed = asyncio.run(review_script(plan, script)) if review else None
    if as_json:
        payload: dict[str, Any] = {"plan": plan.model_dump(mode="json"), "script": script.to_dict()}
        if reviewed is not None:
            payload["review"] = reviewed
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        _print_script(plan, script)
        if reviewed is not None:
            _print_review(reviewed)
    over = reviewed is not None and any(r["over_budget"] or r["repeated_lines"] for r in reviewed)
    if script.findings or script.problems or over:
        raise typer.Exit(1)


#: A product's presentation should fit in this many seconds at the room's rate (issue 16).
BUDGET_S = 45.0


async def review_script(plan: RoomPlan, script: Script) -> list[dict[str, Any]]:
    """Per product: spoken seconds (each line said by the offline voice at the plan's rate), lines,
    lines said twice, and openings ("另外，", "Plus:") used more than once."""
    from voice import Prosody, build_tts

    tts = build_tts("espeak", cache_dir=None)
    prosody = Prosody(rate=f"{round((plan.speech_rate - 1.0) * 100):+d}%")
    voice = plan.voice or plan.language
    out: list[dict[str, Any]] = []
    for item in script.items:
        lines = [sentence for segment in item.segments for sentence in segment.sentences]
        seconds = 0.0
        for line in lines:
            seconds += (await tts.synthesize(line, voice=voice, prosody=prosody)).duration
        counts = Counter(lines)
        openings = Counter(_opening(line) for line in lines)
        out.append(
            {
                "link": item.link,
                "sku": item.sku,
                "lines": len(lines),
                "seconds": round(seconds, 1),
                "over_budget": seconds > BUDGET_S,
                "repeated_lines": sorted(line for line, n in counts.items() if n > 1),
                "repeated_openings": sorted(o for o, n in openings.items() if o and n > 1),
            }
        )
    return out


_OPENING = re.compile(r"^([^，,：:。.!！?？]{1,6})[，,：:]")


def _opening(line: str) -> str:
    """The connector a line opens with ("另外", "Plus"), or "" when it opens with its content."""
    found = _OPENING.match(line)
    return found.group(1) if found else ""


def _print_review(reviewed: list[dict[str, Any]]) -> None:
    table = Table(title=f"review (offline voice at the plan's rate; budget {BUDGET_S:g} s a product)")
    for column in ("link", "sku", "lines", "seconds", "repeated lines", "repeated openings"):
        table.add_column(column, justify="right" if column in ("link", "lines", "seconds") else "left")
    for row in reviewed:
        seconds = f"[red]{row['seconds']}[/]" if row["over_budget"] else str(row["seconds"])
        table.add_row(
            str(row["link"]),
            escape(row["sku"]),
            str(row["lines"]),
            seconds,
            escape("; ".join(row["repeated_lines"])) or "–",
            escape("、".join(row["repeated_openings"])) or "–",
        )
    _console.print(table)


def _print_script(plan: RoomPlan, script: Script) -> None:
    header = (
        f"[bold]{escape(plan.title or plan.room_id)}[/]  room={plan.room_id} merchant={escape(plan.merchant)} "
        f"language={plan.language} voice={plan.voice or 'default'} loop={'on' if plan.loop else 'off'} "
        f"building loop {script.loop_index}"
    )
    _console.print(header, highlight=False)
    for item in script.items:
        title = item.product.title if item.product is not None else "(not in the catalog)"
        state = "  [yellow]sold out[/]" if item.sold_out else ""
        table = Table(
            title=f"link {item.link} · {escape(item.sku)} · {escape(title)}{state}", title_justify="left"
        )
        table.add_column("segment", no_wrap=True)
        table.add_column("#", justify="right")
        table.add_column("sentence")
        for segment in item.segments:
            for number, sentence in enumerate(segment.sentences):
                label = _SEGMENT_LABELS[segment.kind] if number == 0 else ""
                mark = " [cyan](pinned)[/]" if number < segment.pinned else ""
                table.add_row(label, str(number + 1), escape(sentence) + mark)
        _console.print(table)
    if script.fillers:
        _console.print("[bold]fillers[/]")
        for line in script.fillers:
            _console.print(f"  {line}", highlight=False, markup=False)
    if script.findings:
        _console.print("[bold red]rejected lines (never spoken)[/]")
        for finding in script.findings:
            where = finding.segment if finding.link is None else f"link {finding.link} {finding.segment}"
            article = f" ({escape(finding.article)})" if finding.article else ""
            _console.print(
                f"  {where}: [bold]{finding.category or finding.rule}[/]{article} “{escape(finding.word)}” in "
                f"“{escape(finding.line)}” — {escape(finding.reason)}",
                highlight=False,
                soft_wrap=True,
            )
    for problem in script.problems:
        _err_console.print(f"[bold red]error:[/] {escape(problem)}", highlight=False, soft_wrap=True)
    for note in script.notes:
        _console.print(f"[dim]note: {escape(note)}[/]", highlight=False, soft_wrap=True)
    total = sum(1 for _ in script.lines())
    _console.print(
        f"{len(script.items)} products, {total} sentences, {len(script.findings)} rejected lines, "
        f"{len(script.problems)} problems (unknown or refused products)",
        highlight=False,
    )
