"""`anchor script`: print a room plan and every sentence of its script for review before going live."""

from __future__ import annotations

import json
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
    if as_json:
        payload: dict[str, Any] = {"plan": plan.model_dump(mode="json"), "script": script.to_dict()}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        _print_script(plan, script)
    if script.findings or script.problems:
        raise typer.Exit(1)


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
        f"{len(script.problems)} unknown skus",
        highlight=False,
    )
