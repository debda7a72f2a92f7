"""`anchor router`: train the intent model, explain a decision, list people's corrections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent.router import IntentRouter, shared_use_embedder
from agent.understanding.corrections import CorrectionStore
from agent.understanding.model import PACKAGED_MODEL, ModelArtefactError
from agent.understanding.train import DATA_DIR, Example, TrainingDataError, train
from api.cli.app import app
from api.cli.catalog import MerchantOpt, fail, open_services

console = Console()
err_console = Console(stderr=True)

router_app = typer.Typer(
    help="The intent model: train it from data files (and people's corrections), explain a decision.",
    no_args_is_help=True,
)
app.add_typer(router_app, name="router")


@router_app.command("train")
def train_command(
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write the model (default: the packaged model, or the merchant's)"),
    ] = None,
    merchant: Annotated[
        str | None,
        typer.Option("--merchant", "-m", help="Add this merchant's corrections and write their own model"),
    ] = None,
    data: Annotated[Path, typer.Option(help="Data directory with train/ and dev/")] = DATA_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Train the intent model: embed the messages, fit, calibrate on dev, write a versioned artefact."""
    extra: list[Example] = []
    target = out or PACKAGED_MODEL
    if merchant is not None:
        services, merchant_id = open_services(merchant)
        _ = services.conversations
        extra = [
            Example(c.text, c.intent, source=f"corrections:{merchant_id}")
            for c in CorrectionStore(services.engine).list(merchant_id, limit=100_000)
        ]
        target = out or services.merchant_model_path(merchant_id)
        services.close()
    embedder = shared_use_embedder()
    try:
        with console.status("training …") as status:
            result = train(
                embedder.embed,
                embedder=embedder.name,
                data_dir=data,
                extra=extra,
                progress=lambda msg: status.update(msg),
            )
    except TrainingDataError as exc:
        raise fail(str(exc), 2) from exc
    result.model.save(target)
    summary = {
        "out": str(target),
        "version": result.model.version,
        "seconds": round(result.seconds, 1),
        "examples": result.model.meta.get("examples"),
        "noisy_copies": result.model.meta.get("noisy_copies"),
        "corrections": len(extra),
        "temperature": round(result.model.temperature, 3),
        "thresholds": result.model.thresholds.to_dict(),
        "dev": result.dev_metrics,
        "train_counts": result.train_counts,
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"intent model {result.model.version}")
    table.add_column("intent")
    table.add_column("train", justify="right")
    table.add_column("dev", justify="right")
    for intent in result.model.labels:
        table.add_row(intent, str(result.train_counts.get(intent, 0)), str(result.dev_counts.get(intent, 0)))
    console.print(table)
    dev = result.dev_metrics
    console.print(
        f"trained on {summary['examples']} messages (+{summary['noisy_copies']} noisy copies"
        f"{f', {len(extra)} corrections' if extra else ''}) in {summary['seconds']} s; "
        f"dev accuracy {dev.get('accuracy', '—')} (n={dev.get('n', 0)}); "
        f"temperature {summary['temperature']}; thresholds {summary['thresholds']}",
        highlight=False,
    )
    console.print(f"[green]wrote[/] {target}", highlight=False)


@router_app.command("explain")
def explain_command(
    text: Annotated[str, typer.Argument(help="A shopper's message")],
    merchant: MerchantOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show what the router decides for a message, and why (top intents, cues, rules)."""
    from agent.textnorm import normalize_message

    services, merchant_id = open_services(merchant)
    try:
        router: IntentRouter = services.router_for(merchant_id)
    except ModelArtefactError as exc:
        raise fail(str(exc)) from exc
    decision = router.classify(normalize_message(text))
    if as_json:
        typer.echo(json.dumps(decision.to_dict(), ensure_ascii=False, indent=2))
        return
    console.print(
        f"[bold]{decision.intent}[/] → route {decision.route}"
        f"{f' (ticket: {decision.category})' if decision.category else ''}"
        f"{'  [yellow]unsure: the bot asks[/]' if decision.unsure else ''}",
        highlight=False,
    )
    table = Table(show_header=True)
    table.add_column("intent")
    table.add_column("p", justify="right")
    for label, p in decision.top:
        table.add_row(label, f"{p:.3f}")
    console.print(table)
    console.print("signals: " + ", ".join(decision.signals), highlight=False, markup=False)


@router_app.command("corrections")
def corrections_command(
    merchant: MerchantOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """People's corrections of the router for a merchant, newest first."""
    services, merchant_id = open_services(merchant)
    _ = services.conversations
    rows = CorrectionStore(services.engine).list(merchant_id, limit=limit)
    if as_json:
        typer.echo(json.dumps([c.to_dict() for c in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        console.print(f"no corrections for merchant {merchant_id!r} yet (the agent console adds them)")
        return
    table = Table(title=f"corrections · {merchant_id}")
    table.add_column("when", no_wrap=True)
    table.add_column("message", ratio=1)
    table.add_column("was", no_wrap=True)
    table.add_column("is", no_wrap=True)
    table.add_column("by")
    for c in rows:
        table.add_row(
            c.created_at.strftime("%Y-%m-%d %H:%M"), c.text[:80], c.previous or "—", c.intent, c.author
        )
    console.print(table)
    console.print(f"`anchor router train --merchant {merchant_id}` adds them to the base data.")
