"""Live-room commands: `anchor room start` (run a room in the foreground) and `anchor room replay`
(post a recorded chat into a room of a running server).

`room start` runs the director (and, with --rtmp/--hls, the broadcaster) in this process; it serves no
web page. To watch a room in a browser, run `anchor serve` and start the room through the API
(``POST /v1/merchants/{merchant}/rooms``), then open ``/room/<room_id>``; or set ANCHOR_REDIS_URL for
both this command and the server, and the server's page shows this process's room.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from api.cli.app import app
from api.cli.catalog import fail, open_services
from api.services import Services

console = Console()

room_app = typer.Typer(help="Run live rooms and feed them chat.", no_args_is_help=True)
app.add_typer(room_app, name="room")

CHAT_FIELDS = ("type", "nickname", "text", "user_id", "detail", "count", "message_id")
DEFAULT_URL = "http://127.0.0.1:8000"


# -- anchor room start --------------------------------------------------------------------------------
@room_app.command("start")
def room_start(
    plan_file: Annotated[Path, typer.Option("--plan", help="The room plan (YAML or JSON)")],
    replay: Annotated[
        Path | None, typer.Option("--replay", help="Play this recorded chat (JSONL) into the room")
    ] = None,
    replay_loop: Annotated[
        bool, typer.Option("--loop-replay", help="Start the recording over at its end")
    ] = False,
    speed: Annotated[float, typer.Option(min=0.01, help="Replay speed (2 = twice as fast)")] = 1.0,
    rtmp: Annotated[str | None, typer.Option("--rtmp", help="Push the programme to this RTMP URL")] = None,
    hls: Annotated[
        Path | None, typer.Option("--hls", help="Write the programme as HLS into this folder")
    ] = None,
    hls_window: Annotated[
        int,
        typer.Option("--hls-window", min=1, max=10_000, help="Segments (2 s each) the HLS playlist lists"),
    ] = 6,
    record: Annotated[
        bool, typer.Option("--record", help="Keep every HLS segment: the whole show can be watched back")
    ] = False,
    engine: Annotated[str, typer.Option(help="Speech engine: espeak (offline), edge or auto")] = "auto",
    duration: Annotated[
        float | None, typer.Option(min=0.0, help="Stop after this many seconds (default: until Ctrl-C)")
    ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start from the top instead of resuming")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print events as JSON lines (without audio)")
    ] = False,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Read the chat of a live room on a platform: bilibili:ROOM or tiktok:@handle "
            "(credentials from settings; overrides the plan's source)",
        ),
    ] = None,
) -> None:
    """Run a live room in the foreground: the director speaks the plan and answers the chat.

    Ctrl-C stops it cleanly; its position is kept, so starting the same plan again resumes at the next
    unsaid sentence (--fresh starts over). This command shows no web page: see `anchor serve`.
    """
    from agent.live.plan import PlanError, RoomPlan, SourceConfig

    if rtmp and hls:
        raise fail("choose one output: --rtmp URL or --hls DIR, not both", 2)
    if engine not in ("auto", "edge", "espeak"):
        raise fail(f"unknown engine {engine!r}: choose espeak, edge or auto", 2)
    if replay is not None and not replay.is_file():
        raise fail(f"no such chat recording: {replay}", 2)
    try:
        plan = RoomPlan.load(plan_file)
    except PlanError as exc:
        for problem in exc.problems:
            console.print(f"[red]error[/] {problem}")
        raise fail(f"{plan_file} is not a usable plan", 2) from exc
    if source is not None:
        try:
            plan = plan.model_copy(update={"source": SourceConfig.parse(source)})
        except ValueError as exc:
            raise fail(str(exc), 2) from exc
    services, _ = open_services(plan.merchant)
    problems = plan.validate_against(services.store, services.hosts)
    if problems:
        for problem in problems:
            console.print(f"[red]error[/] {problem}")
        raise fail(
            f"fix the plan or import the catalog first (`anchor ingest FILE --merchant {plan.merchant}`)"
        )
    options = RoomRun(
        replay=replay,
        replay_loop=replay_loop,
        speed=speed,
        rtmp=rtmp,
        hls=hls,
        engine=engine,
        duration=duration,
        resume=not fresh,
        as_json=as_json,
        hls_window=hls_window,
        record=record,
    )
    try:
        asyncio.run(run_room(services, plan, options))
    finally:
        services.close()


@dataclass
class RoomRun:
    """How `anchor room start` runs its room."""

    replay: Path | None = None
    replay_loop: bool = False
    speed: float = 1.0
    rtmp: str | None = None
    hls: Path | None = None
    engine: str = "auto"
    duration: float | None = None
    resume: bool = True
    as_json: bool = False
    hls_window: int = 6
    record: bool = False
    counts: Counter[str] = field(default_factory=Counter)


async def run_room(services: Services, plan: Any, run: RoomRun) -> None:
    """Run one room until Ctrl-C, SIGTERM or `run.duration`; the room is then persisted as stopped."""
    from agent.live.connectors import ReplayConnector
    from agent.live.manager import RoomManager

    settings = services.settings
    factory = services.room_factory(run.engine)
    state = factory.state
    bus = services.bus
    manager = RoomManager(factory)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    tasks: list[asyncio.Task[Any]] = []
    async with contextlib.AsyncExitStack() as stack:
        events = await stack.enter_async_context(bus.subscription(plan.room_id))
        tasks.append(asyncio.create_task(_print_events(events, run)))
        if run.rtmp or run.hls:
            tasks.append(asyncio.create_task(_broadcast(bus, plan, run, services)))
        director = await manager.start(plan, resume=run.resume)
        _announce(plan, settings.redis_url, run)
        if run.replay is not None:
            connector = ReplayConnector(run.replay, plan.room_id, speed=run.speed, loop=run.replay_loop)
            tasks.append(asyncio.create_task(_feed(manager, plan.room_id, connector, run)))
        waiters = [asyncio.create_task(stop.wait()), manager.task(plan.room_id)]
        if run.duration is not None:
            waiters.append(asyncio.create_task(asyncio.sleep(run.duration)))
        await asyncio.wait([w for w in waiters if w is not None], return_when=asyncio.FIRST_COMPLETED)
        await manager.shutdown()
        state.set_status(plan.room_id, "stopped")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for waiter in waiters:
            if waiter is not None:
                waiter.cancel()
        if director.error:
            console.print(f"[red]error[/] {director.error}")
    with contextlib.suppress(Exception):
        await bus.close()
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(run.counts.items())) or "nothing"
    console.print(
        f"room {plan.room_id} stopped at {director.position.to_dict()} after {summary}", highlight=False
    )


def _announce(plan: Any, redis_url: str | None, run: RoomRun) -> None:
    if run.as_json:
        return
    console.print(
        f"[bold]room {plan.room_id}[/] ({plan.merchant}) is live; Ctrl-C stops it.", highlight=False
    )
    if redis_url:
        console.print(
            f"viewers: open /room/{plan.room_id} on any `anchor serve` sharing ANCHOR_REDIS_URL and this database",
            highlight=False,
        )
    else:
        console.print(
            "this command serves no page: to watch in a browser run `anchor serve` and start the room "
            f"through POST /v1/merchants/{plan.merchant}/rooms (or set ANCHOR_REDIS_URL for both)",
            highlight=False,
        )
    if run.hls:
        console.print(f"HLS: {run.hls / 'index.m3u8'}", highlight=False)
    if plan.source is not None:
        console.print(
            f"chat from {plan.source.label()} (status: `anchor room status {plan.room_id}`)", highlight=False
        )


async def _print_events(events: Any, run: RoomRun) -> None:
    async for event in events:
        run.counts[event.kind] += 1
        if run.as_json:
            typer.echo(json.dumps(event.to_dict(with_audio=False), ensure_ascii=False))
            continue
        data = event.data
        # Viewer and catalog text may hold rich markup ("[/]", "[bold]"): it is escaped, printed as text.
        if event.kind == "product":
            price = f" {escape(str(data.get('price')))}" if data.get("price") else ""
            title = escape(str(data.get("title", data.get("sku"))))
            console.print(f"[bold magenta]#{data.get('link')}[/] {title}{price}", highlight=False)
        elif event.kind == "answer":
            asked = "; ".join(f"{q.get('nickname')}: {q.get('text')}" for q in data.get("questions", []))
            console.print(
                f"  [cyan]Q[/] {escape(asked)}\n  [green]A[/] {escape(str(data.get('text')))}",
                highlight=False,
            )
        elif event.kind in ("say", "ack"):
            resumed = "… " if "resumed_at" in data else ""
            console.print(
                f"  {resumed}{escape(str(data.get('text')))}",
                highlight=False,
                style="dim" if event.kind == "ack" else None,
            )
        elif event.kind == "cut":
            console.print(
                f"  [yellow]✂ cut at {data.get('at')} s for the {data.get('reason')}[/]", highlight=False
            )
        elif event.kind == "source":
            reason = f": {escape(str(data.get('reason')))}" if data.get("reason") else ""
            viewers = f", {data.get('viewers')} watching" if data.get("viewers") is not None else ""
            console.print(
                f"[dim]{escape(str(data.get('platform')))} {escape(str(data.get('state')))}{reason}{viewers}[/]",
                highlight=False,
            )
        elif event.kind == "state":
            console.print(
                f"[dim]state {data.get('status')} {escape(str(data.get('position')))}[/]", highlight=False
            )


async def _feed(manager: Any, room_id: str, connector: Any, run: RoomRun) -> None:
    async for item in connector.messages():
        try:
            manager.offer(room_id, item)
        except LookupError:
            return
        run.counts["chat in"] += 1


async def _broadcast(bus: Any, plan: Any, run: RoomRun, services: Services) -> None:
    from agent.live.broadcast import Broadcaster, HlsSink, RtmpSink, Sink, broadcast_room

    sink: Sink = (
        RtmpSink(run.rtmp)
        if run.rtmp
        else HlsSink(run.hls or Path("hls"), list_size=run.hls_window, record=run.record)
    )
    host = services.hosts.get(plan.merchant, plan.host.layers) if plan.host.show else None
    caster = Broadcaster(
        sink,
        host=host,
        host_scale=plan.host.scale,
        host_position=plan.host.position,
        room_title=plan.title or None,
        images=services.images,
    )
    async with caster as broadcaster:
        await broadcast_room(bus, plan.room_id, broadcaster)


# -- anchor room replay -------------------------------------------------------------------------------
@dataclass
class ReplayStats:
    """What a replay sent and what the room made of it."""

    sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "outcomes": dict(self.outcomes), "errors": self.errors[:50]}


class ReplayError(RuntimeError):
    """The server cannot take the replay (no such room, refused key, unreachable)."""


def read_chat_records(path: Path) -> Iterator[tuple[int, float, dict[str, Any]]]:
    """(line number, t, record) of each usable line; a malformed line raises `ValueError` naming it."""
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.name} line {line_no}: not JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise ValueError(f"{path.name} line {line_no}: expected a JSON object")
            t = record.get("t", 0.0)
            if not isinstance(t, int | float) or isinstance(t, bool):
                raise ValueError(f"{path.name} line {line_no}: field 't' must be seconds, got {t!r}")
            yield line_no, float(t), {k: record[k] for k in CHAT_FIELDS if k in record}


def replay_chat(
    url: str,
    room_id: str,
    path: Path,
    *,
    key: str | None = None,
    speed: float = 1.0,
    loop: bool = False,
    stop: threading.Event | None = None,
    stats: ReplayStats | None = None,
    client: httpx.Client | None = None,
) -> ReplayStats:
    """Post a recorded chat to ``POST {url}/v1/rooms/{room_id}/chat`` keeping its timing (÷ speed).

    Raises:
        ReplayError: the room is not running there, the key is refused, or the server is unreachable.
        ValueError: a malformed line in the recording.
    """
    stats = stats or ReplayStats()
    stop = stop or threading.Event()
    records = list(read_chat_records(path))
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    own = client is None
    http = client or httpx.Client(base_url=url, timeout=10.0)
    endpoint = f"/v1/rooms/{room_id}/chat"
    try:
        while not stop.is_set():
            started = time.monotonic()
            first_t = records[0][1] if records else 0.0
            for line_no, t, record in records:
                due = started + (t - first_t) / speed
                if stop.wait(max(0.0, due - time.monotonic())):
                    return stats
                _post(http, endpoint, headers, record, line_no, stats, stop)
            if not loop or not records:
                return stats
        return stats
    finally:
        if own:
            http.close()


def _post(
    http: httpx.Client,
    endpoint: str,
    headers: dict[str, str],
    record: dict[str, Any],
    line_no: int,
    stats: ReplayStats,
    stop: threading.Event,
) -> None:
    for _attempt in range(3):
        try:
            response = http.post(endpoint, json=record, headers=headers)
        except httpx.HTTPError as exc:
            raise ReplayError(f"cannot reach {http.base_url}: {exc}") from exc
        if response.status_code == 429:
            wait = float(response.headers.get("retry-after", "1"))
            if stop.wait(min(wait, 30.0)):
                return
            continue
        break
    stats.sent += 1
    if response.status_code == 404:
        raise ReplayError(_error_message(response))
    if response.status_code in (401, 403):
        raise ReplayError(f"the server refused the key: {_error_message(response)}")
    if response.status_code >= 400:
        stats.outcomes["error"] += 1
        stats.errors.append(f"line {line_no}: {_error_message(response)}")
        return
    body = response.json()
    stats.outcomes[str(body.get("reason") or body.get("outcome"))] += 1


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


@room_app.command("replay")
def room_replay(
    chat_file: Annotated[Path, typer.Argument(help="Recorded chat, JSONL: {t, type, nickname, text, ...}")],
    room: Annotated[str, typer.Option("--room", "-r", help="The room id")],
    url: Annotated[str, typer.Option(help="The server's base URL")] = DEFAULT_URL,
    key: Annotated[
        str | None,
        typer.Option(envvar="ANCHOR_API_KEY", help="A staff key of the room's merchant (no rate limit)"),
    ] = None,
    speed: Annotated[float, typer.Option(min=0.01, help="Playback speed (2 = twice as fast)")] = 1.0,
    loop: Annotated[bool, typer.Option(help="Start over at the end (until Ctrl-C)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Post a recorded chat into a room of a running server, keeping the recording's timing."""
    if not chat_file.is_file():
        raise fail(f"no such chat recording: {chat_file}", 2)
    stats = ReplayStats()
    try:
        replay_chat(url, room, chat_file, key=key, speed=speed, loop=loop, stats=stats)
    except KeyboardInterrupt:
        pass
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    except ReplayError as exc:
        raise fail(f"{exc} (is the room started on {url}?)") from exc
    if as_json:
        typer.echo(json.dumps(stats.to_dict(), ensure_ascii=False))
        return
    outcomes = ", ".join(f"{n} {k}" for k, n in stats.outcomes.most_common()) or "none"
    console.print(f"sent {stats.sent} to room {room}: {outcomes}", highlight=False)
    for error in stats.errors[:10]:
        console.print(f"[yellow]warning[/] {error}", highlight=False)


# -- the demo room (`anchor demo`) --------------------------------------------------------------------
def start_demo_room(
    base_url: str, key: str, plan_file: Path, chat_file: Path, *, merchant: str | None = None
) -> str:
    """Start the room of `plan_file` through the API of the server about to run at `base_url` and replay
    `chat_file` into it in a loop, in a background thread; returns the room id.

    Raises:
        PlanError: the plan file is not a usable plan.
    """
    from agent.live.plan import RoomPlan

    plan = RoomPlan.load(plan_file).model_dump(mode="json")
    if merchant:
        plan["merchant"] = merchant

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per replayed message is noise

    def run() -> None:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base_url, timeout=30.0) as http:
            if not _wait_for_server(http, 120.0):
                console.print(f"[red]demo room:[/] the server at {base_url} did not come up", highlight=False)
                return
            response = http.post(f"/v1/merchants/{plan['merchant']}/rooms", json=plan, headers=headers)
            if response.status_code not in (201, 409):
                console.print(f"[red]demo room:[/] {_error_message(response)}", highlight=False)
                return
            try:
                replay_chat(base_url, plan["room_id"], chat_file, key=key, loop=True, client=http)
            except (ReplayError, ValueError) as exc:
                console.print(f"[yellow]demo chat replay stopped:[/] {exc}", highlight=False)

    threading.Thread(target=run, name="demo-room", daemon=True).start()
    return str(plan["room_id"])


def _wait_for_server(http: httpx.Client, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if http.get("/health").status_code < 500:
                return True
        time.sleep(0.5)
    return False
