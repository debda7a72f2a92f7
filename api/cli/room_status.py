"""`anchor room status [ROOM] [--json]`: what the operator of a live room needs to see.

Read from the room's stored row, which the running director rewrites after every utterance, so this works
for a room run by `anchor room start`, by a server, or by another process on the same database: status,
position, queue and waiting groups, answers by channel (spoken, on screen, shown again), what was dropped
and why (triage's reasons, stale or evicted groups, questions with no answer), tickets opened, the airtime
split over the plan's window and question → answer latency percentiles over the last five minutes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.live.state import RoomRecord, RoomStateStore
from api.cli.catalog import JsonOpt, fail, open_services
from api.cli.room import room_app

console = Console()


def room_status_data(record: RoomRecord) -> dict[str, Any]:
    """A room's operator view as JSON data: the stored row and the director's last snapshot."""
    ops = record.ops
    triage = ops.get("triage") or {}
    age = None
    if record.updated_at is not None:
        age = round((datetime.now(UTC) - record.updated_at).total_seconds(), 1)
    return {
        "room_id": record.room_id,
        "merchant": record.merchant,
        "title": str(record.plan.get("title", "")),
        "status": record.status,
        "position": record.position.to_dict(),
        "updated_s_ago": age,
        "queue": {"groups": triage.get("queue", 0), "messages": triage.get("queue_messages", 0)},
        "counters": record.counters,
        "triage": {
            k: triage.get(k) for k in ("offered", "accepted", "merged", "dropped", "evicted", "answered")
        },
        "dropped_by_director": ops.get("dropped_by_director", {}),
        "airtime": ops.get("airtime", {}),
        "latency_s": ops.get("latency_s", {}),
        "recent": ops.get("recent", {}),
        "intent_to_buy_last_minute": triage.get("intent_to_buy_last_minute"),
        "source": ops.get("source"),
    }


@room_app.command("status")
def room_status(
    room: Annotated[
        str | None, typer.Argument(help="The room id (all rooms of the merchant when left out)")
    ] = None,
    merchant: Annotated[
        str | None, typer.Option("--merchant", "-m", help="Whose rooms to list (default merchant otherwise)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a live room's queue, answers, drops and why, tickets, airtime split and latency."""
    services, merchant_id = open_services(merchant)
    try:
        store = RoomStateStore(services.engine)
        if room is None:
            records = store.list(merchant=merchant_id)
            rows = [room_status_data(r) for r in records]
            if as_json:
                typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
                return
            _print_list(merchant_id, rows)
            return
        record = store.load(room)
        if record is None:
            raise fail(f"no room {room!r} (see `anchor room status` for the rooms there are)", 1)
        data = room_status_data(record)
    finally:
        services.close()
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    _print_room(data)


def _latency_cell(figures: dict[str, Any] | None) -> str:
    if not figures or not figures.get("n"):
        return "–"
    return f"{figures['n']} · p50 {figures['p50']} s · p95 {figures['p95']} s"


def _share(airtime: dict[str, Any]) -> str:
    share = airtime.get("script_share")
    return "–" if share is None else f"{share:.0%} (target ≥ {float(airtime.get('target_share', 0)):.0%})"


def _print_list(merchant: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print(
            f"merchant {merchant!r} has no rooms yet: start one with `anchor room start --plan FILE`"
        )
        return
    table = Table(title=f"{merchant}: {len(rows)} rooms")
    for column in (
        "room",
        "status",
        "source",
        "queue",
        "answered",
        "tickets",
        "script share",
        "latency (5 min)",
    ):
        table.add_column(column)
    for row in rows:
        counters = row["counters"]
        answered = sum(
            int(counters.get(k, 0)) for k in ("answered", "screen_answers", "quiet_answers", "repeat_answers")
        )
        table.add_row(
            escape(row["room_id"]),
            row["status"],
            escape(f"{row['source'].get('platform')} {row['source'].get('state')}")
            if row.get("source")
            else "—",
            str(row["queue"]["groups"]),
            str(answered),
            str(counters.get("tickets", 0)),
            _share(row["airtime"]),
            _latency_cell(row["latency_s"].get("all")),
        )
    console.print(table)


def _source_cell(source: dict[str, Any]) -> str:
    """ "bilibili 123456: retrying (BilibiliApiError: …), 3 reconnects, 1,204 received, 2 malformed, 860 watching"."""
    state = str(source.get("state"))
    if source.get("reason"):
        state += f" ({source['reason']})"
    parts = [
        f"{source.get('platform')} {source.get('room')}: {state}",
        f"{source.get('reconnects', 0)} reconnects",
        f"{source.get('received', 0):,} received",
        f"{source.get('duplicates', 0)} repeats dropped",
        f"{source.get('malformed', 0)} malformed",
    ]
    if source.get("viewers") is not None:
        parts.append(f"{source['viewers']:,} watching")
    return escape(", ".join(parts))


def _print_room(data: dict[str, Any]) -> None:
    counters = data["counters"]
    title = f" — {escape(data['title'])}" if data["title"] else ""
    age = "" if data["updated_s_ago"] is None else f", updated {data['updated_s_ago']} s ago"
    console.print(f"[bold]{escape(data['room_id'])}[/]{title}: {data['status']}{age}", highlight=False)
    summary = Table(show_header=False, box=None)
    summary.add_column(style="bold")
    summary.add_column()
    position = data["position"]
    summary.add_row("position", f"loop {position['loop']}, product {position['item'] + 1}")
    summary.add_row("waiting", f"{data['queue']['groups']} groups ({data['queue']['messages']} messages)")
    summary.add_row(
        "answered",
        f"{counters.get('answered', 0)} spoken, {counters.get('screen_answers', 0)} on screen, "
        f"{counters.get('quiet_answers', 0) + counters.get('repeat_answers', 0)} shown again",
    )
    summary.add_row(
        "after-sales",
        f"{counters.get('after_sales_messages', 0)} handed off, {counters.get('tickets', 0)} tickets",
    )
    summary.add_row("script share", _share(data["airtime"]))
    if data.get("source"):
        summary.add_row("chat source", _source_cell(data["source"]))
    for channel in ("spoken", "screen", "all"):
        summary.add_row(f"latency {channel}", _latency_cell(data["latency_s"].get(channel)))
    console.print(summary)
    drops = Table(title="dropped and why")
    drops.add_column("reason")
    drops.add_column("messages", justify="right")
    triage = data["triage"]
    reasons = {
        **(triage.get("dropped") or {}),
        **(triage.get("evicted") or {}),
        **data["dropped_by_director"],
    }
    for reason, count in sorted(reasons.items(), key=lambda kv: -int(kv[1])):
        if count:
            drops.add_row(reason, str(count))
    console.print(drops)
    recent = data["recent"]
    answers = Table(title="last answers")
    for column in ("channel", "askers", "waited", "question", "answer"):
        answers.add_column(column)
    for entry in recent.get("answers", [])[:10]:
        answers.add_row(
            str(entry.get("channel")),
            str(entry.get("askers")),
            f"{entry.get('waited_s')} s",
            escape(str(entry.get("question", ""))[:40]),
            escape(str(entry.get("answer", ""))[:60]),
        )
    console.print(answers)
