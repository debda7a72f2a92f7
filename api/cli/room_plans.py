"""`anchor room plans list|export|import|delete`: the saved room plans the room builder page (``/rooms``)
edits, on the same database and with the same checks as its API (``/v1/merchants/{m}/plans``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.live.plan import PlanError, RoomPlan
from agent.plan_store import PlanNotFoundError, PlanStore
from api.cli.catalog import JsonOpt, MerchantOpt, fail, open_services
from api.cli.room import room_app

console = Console()

plans_app = typer.Typer(
    help="Saved room plans (the /rooms page's): list, export as YAML, import, delete.", no_args_is_help=True
)
room_app.add_typer(plans_app, name="plans")


@plans_app.command("list")
def plans_list(merchant: MerchantOpt = None, as_json: JsonOpt = False) -> None:
    """The merchant's saved plans, latest versions."""
    services, merchant_id = open_services(merchant)
    try:
        saved = PlanStore(services.engine).list(merchant_id)
    finally:
        services.close()
    if as_json:
        typer.echo(
            json.dumps({"merchant": merchant_id, "plans": [s.summary() for s in saved]}, ensure_ascii=False)
        )
        return
    table = Table(title=f"room plans of {escape(merchant_id)}")
    for column in ("room", "version", "title", "language", "products", "saved", "by"):
        table.add_column(column, justify="right" if column in ("version", "products") else "left")
    for s in saved:
        row = s.summary()
        table.add_row(
            escape(s.room_id),
            str(s.version),
            escape(s.plan.title),
            s.plan.language,
            str(len(s.plan.items)),
            row["saved_at"][:16].replace("T", " "),
            escape(s.saved_by),
        )
    console.print(table)


@plans_app.command("export")
def plans_export(
    room: Annotated[str, typer.Argument(help="The plan's room id")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here (default: standard output)")
    ] = None,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="A saved version (default: latest)")
    ] = None,
    merchant: MerchantOpt = None,
) -> None:
    """A saved plan as YAML (what `anchor script --room` and `anchor room start --plan` read)."""
    services, merchant_id = open_services(merchant)
    try:
        saved = PlanStore(services.engine).get(merchant_id, room, version)
    except PlanNotFoundError as exc:
        raise fail(str(exc), 1) from exc
    finally:
        services.close()
    if out is None:
        typer.echo(saved.to_yaml(), nl=False)
    else:
        out.write_text(saved.to_yaml(), encoding="utf-8")
        console.print(
            f"wrote {escape(str(out))} (plan {escape(room)}, version {saved.version})", highlight=False
        )


@plans_app.command("import")
def plans_import(file: Annotated[Path, typer.Argument(help="A plan file (YAML or JSON)")]) -> None:
    """Save a plan file as a new plan or the next version of its plan (the merchant is the plan's own).

    Exit code 2 when the plan is invalid or names products not in the catalog (each problem is listed).
    """
    try:
        plan = RoomPlan.load(file)
    except PlanError as exc:
        raise fail("\n".join(exc.problems), 2) from exc
    services, merchant_id = open_services(plan.merchant)
    try:
        problems = plan.validate_against(services.store, services.hosts)
        if problems:
            raise fail("\n".join(f"{file}: {p}" for p in problems), 2)
        saved = PlanStore(services.engine).save(plan, saved_by="cli", create=True)
    finally:
        services.close()
    console.print(
        f"saved plan {escape(saved.room_id)} of {escape(merchant_id)}: version {saved.version}",
        highlight=False,
    )


@plans_app.command("delete")
def plans_delete(
    room: Annotated[str, typer.Argument(help="The plan's room id")], merchant: MerchantOpt = None
) -> None:
    """Delete a saved plan, every version (a running room is not stopped)."""
    services, merchant_id = open_services(merchant)
    try:
        deleted = PlanStore(services.engine).delete(merchant_id, room)
    finally:
        services.close()
    if not deleted:
        raise fail(f"merchant {merchant_id!r} has no plan {room!r}", 1)
    console.print(f"deleted plan {escape(room)} ({deleted} versions)", highlight=False)
