"""Several independent live rooms in one process: one `Director` task per room.

`RoomManager.start(plan)` builds the room's triage and director from a `RoomFactory` (the shared
catalog, pipeline, TTS, bus and state store) and runs the director as an asyncio task. Chat and room
events reach a room through `offer`, operator commands through `command`. At startup `resume_all`
restarts every room the state store has as running or paused, each at its next unsaid sentence.

`shutdown` cancels the tasks without marking the rooms stopped: their persisted status stays running,
so the next process resumes them. `stop(room_id)` is the operator's stop: the room finishes the
utterance in progress and is persisted as stopped.

Several processes may share one database: each room has a lease in ``room_state`` (`RoomStateStore.
try_acquire`), held by the manager's `owner` id and renewed every third of `lease_ttl_s`. Only the lease
holder runs a room; a room whose renewal fails (another process took it over after an expiry) is
cancelled here without touching its persisted state.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.live.director import Director, DirectorOptions
from agent.live.events import Command, RoomEvent, ViewerMessage
from agent.live.plan import PlanError, RoomPlan
from agent.live.ports import (
    BusLike,
    CatalogLike,
    PipelineLike,
    ScriptBuilderLike,
    Sleep,
    SpeechLike,
    WaitWoken,
)
from agent.live.resilient import ConnectorStatus
from agent.live.script import ScriptBuilder
from agent.live.sources import SourceOpener
from agent.live.state import RoomStateStore
from agent.live.triage import AckLine, ChatTriage, TriageDecision, TriageOptions

log = logging.getLogger(__name__)


#: Messages never shown in the room's comment feed: adverts, abuse, spam, empty ones.
_NOT_SHOWN = frozenset({"empty", "spam", "ad", "abuse"})
_THANKED_WHEN_PAID = frozenset({"not_question", "unsure", "recently_answered"})
_PAID_DETAIL = {"zh": "醒目留言", "en": "Super Chat"}
#: Platform items waiting for the triage at most (a room far behind loses the oldest, not its memory).
_MAX_SOURCE_BACKLOG = 5000


class UnknownRoomError(LookupError):
    """No room with this id runs in this process."""

    def __init__(self, room_id: str) -> None:
        self.room_id = room_id
        super().__init__(f"room {room_id!r} is not running here")


class RoomRunningError(ValueError):
    """A room with this id already runs (here or in another process); stop it before starting it again."""


def process_owner_id() -> str:
    """A lease owner id unique to this process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass
class RoomFactory:
    """What every room of a process shares, and how one room's triage and director are built.

    Attributes:
        catalog: product look-ups (`CatalogStore`), also the default script builder's catalog.
        pipeline: the `AnswerPipeline`.
        tts: speech (`voice.build_tts(...)`).
        bus: the `RoomBus`.
        state: the `RoomStateStore`.
        script_builder: builds scripts; None uses `ScriptBuilder(catalog)`.
        triage_overrides: `TriageOptions` fields that differ from the plan's defaults.
        director_options: pacing knobs.
        sleep, wait, clock: time for the directors and the triage (injectable for tests; ``wait`` is the
            director's wait-for-wake-or-timeout, None races the wake against ``sleep``).
        sources: opens a plan's platform chat source (`agent.live.sources.open_source` with the settings'
            credentials); None: plans with a ``source`` run without it (logged).
        social_every_s: how often a room's comment feed and source status are published.
    """

    catalog: CatalogLike
    pipeline: PipelineLike
    tts: SpeechLike
    bus: BusLike
    state: RoomStateStore
    script_builder: ScriptBuilderLike | None = None
    triage_overrides: dict[str, Any] = field(default_factory=dict)
    director_options: DirectorOptions | None = None
    sleep: Sleep = asyncio.sleep
    wait: WaitWoken | None = None
    clock: Callable[[], float] = time.monotonic
    sources: SourceOpener | None = None
    social_every_s: float = 0.5

    def triage(self, plan: RoomPlan) -> ChatTriage:
        options = TriageOptions.for_plan(plan, **self.triage_overrides)
        return ChatTriage(plan.room_id, options=options, clock=self.clock, link_map=plan.link_map())

    def builder(self) -> ScriptBuilderLike:
        if self.script_builder is None:
            self.script_builder = ScriptBuilder(self.catalog)
        return self.script_builder

    def director(self, plan: RoomPlan, *, resume: bool = True, owner: str | None = None) -> Director:
        return Director(
            plan,
            script_builder=self.builder(),
            triage=self.triage(plan),
            pipeline=self.pipeline,
            tts=self.tts,
            bus=self.bus,
            state=self.state,
            catalog=self.catalog,
            options=self.director_options,
            sleep=self.sleep,
            wait=self.wait,
            clock=self.clock,
            resume=resume,
            owner=owner,
        )


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """A running room as `RoomManager.list` shows it."""

    room_id: str
    merchant: str
    title: str
    status: str
    position: dict[str, int]
    counters: dict[str, int]
    queue: int


class RoomManager:
    """Starts, feeds, commands and stops the rooms of one process.

    Args:
        factory: the shared dependencies.
        stop_timeout_s: how long `stop` waits for the utterance in progress before cancelling.
        owner: this process's lease owner id (default `process_owner_id()`).
        lease_ttl_s: how long a lease holds without renewal; renewed every third of it.
    """

    def __init__(
        self,
        factory: RoomFactory,
        *,
        stop_timeout_s: float = 60.0,
        owner: str | None = None,
        lease_ttl_s: float = 15.0,
    ) -> None:
        self.factory = factory
        self.stop_timeout_s = stop_timeout_s
        self.owner = owner or process_owner_id()
        self.lease_ttl_s = lease_ttl_s
        self._rooms: dict[str, tuple[Director, asyncio.Task[None]]] = {}
        self._side: dict[str, list[asyncio.Task[None]]] = {}  # each room's social loop and chat source
        self._lease_task: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, plan: RoomPlan, *, resume: bool = True) -> Director:
        """Run ``plan``'s room; with ``resume`` a room with the same persisted plan continues where it was.

        Raises:
            RoomRunningError: the room already runs in this process, or another process holds its lease.
        """
        current = self._rooms.get(plan.room_id)
        if current is not None and not current[1].done():
            raise RoomRunningError(f"room {plan.room_id!r} is already running; stop it first")
        if not self.factory.state.try_acquire(plan.room_id, self.owner, self.lease_ttl_s):
            holder = self.factory.state.lease_holder(plan.room_id) or "another process"
            raise RoomRunningError(
                f"room {plan.room_id!r} is running in another process ({holder}); stop it there first"
            )
        director = self.factory.director(plan, resume=resume, owner=self.owner)
        task = asyncio.create_task(director.run(), name=f"room:{plan.room_id}")
        self._rooms[plan.room_id] = (director, task)
        task.add_done_callback(functools.partial(self._finished, plan.room_id))
        side = [asyncio.create_task(self._social(director), name=f"room-social:{plan.room_id}")]
        if plan.source is not None:
            side.append(asyncio.create_task(self._source(plan, director), name=f"room-source:{plan.room_id}"))
        self._side[plan.room_id] = side
        if self._lease_task is None or self._lease_task.done():
            self._lease_task = asyncio.create_task(self._keep_leases(), name="room-leases")
        return director

    def _finished(self, room_id: str, task: asyncio.Task[None]) -> None:
        for side in self._side.pop(room_id, []):
            side.cancel()
        entry = self._rooms.get(room_id)
        if entry is not None and entry[1] is task:
            del self._rooms[room_id]
            try:
                self.factory.state.release(room_id, self.owner)
            except Exception:
                log.exception("room %s: releasing its lease failed", room_id)
        if not task.cancelled() and task.exception() is not None:
            log.error("room %s ended with an error", room_id, exc_info=task.exception())

    async def stop(self, room_id: str) -> bool:
        """Stop a room after its utterance in progress; False if it was not running here."""
        entry = self._rooms.get(room_id)
        if entry is None:
            return False
        director, task = entry
        director.stop()
        try:
            await asyncio.wait_for(asyncio.shield(task), self.stop_timeout_s)
        except TimeoutError:
            log.warning("room %s did not stop within %.0f s; cancelling", room_id, self.stop_timeout_s)
            self.factory.state.set_status(room_id, "stopped")
            await self._cancel(task)
        return True

    async def resume_all(self) -> list[str]:
        """Start every persisted room that was running or paused; returns the room ids started.

        A persisted plan that no longer validates is logged and left alone.
        """
        started: list[str] = []
        for record in self.factory.state.list():
            if record.status == "stopped" or record.room_id in self._rooms:
                continue
            try:
                plan = RoomPlan.from_data(record.plan, source=f"room_state[{record.room_id}]")
            except PlanError as exc:
                log.error("room %s cannot be resumed: %s", record.room_id, exc)
                continue
            try:
                await self.start(plan, resume=True)
            except RoomRunningError as exc:
                log.info("room %s not resumed here: %s", record.room_id, exc)
                continue
            started.append(record.room_id)
        return started

    async def shutdown(self) -> None:
        """Cancel every room task, wait for them and release their leases; persisted statuses stay."""
        if self._lease_task is not None:
            await self._cancel(self._lease_task)
            self._lease_task = None
        tasks = [task for _, task in self._rooms.values()]
        tasks += [side for sides in self._side.values() for side in sides]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._rooms.clear()
        self._side.clear()

    async def renew_leases(self) -> list[str]:
        """Renew the lease of every room running here; rooms whose lease was lost are cancelled.

        Returns:
            The ids of the rooms cancelled because another process now holds their lease.
        """
        lost: list[str] = []
        for room_id, (_, task) in list(self._rooms.items()):
            try:
                held = self.factory.state.renew(room_id, self.owner, self.lease_ttl_s)
            except Exception:  # the database is unreachable: keep running and try again next time
                log.exception("room %s: renewing its lease failed", room_id)
                continue
            if not held:
                log.warning("room %s: another process took over its lease; stopping it here", room_id)
                lost.append(room_id)
                await self._cancel(task)
        return lost

    async def _keep_leases(self) -> None:
        while self._rooms:
            await asyncio.sleep(self.lease_ttl_s / 3)
            await self.renew_leases()

    async def _social(self, director: Director) -> None:
        """Publish the room's comment feed and source status every `social_every_s`."""
        while True:
            await asyncio.sleep(self.factory.social_every_s)
            try:
                await director.flush_social()
            except Exception:
                log.exception("room %s: publishing its comment feed failed", director.room_id)

    async def _source(self, plan: RoomPlan, director: Director) -> None:
        """Read the plan's platform source into the room until the room stops; a failing source never stops
        the show (the connector retries; its status says why)."""
        source = plan.source
        assert source is not None
        room_id = plan.room_id
        if self.factory.sources is None:
            reason = "this process has no platform connectors configured"
            director.attach_source(ConnectorStatus(source.platform, source.room, "stopped", reason))
            log.error("room %s: source %s not started: %s", room_id, source.label(), reason)
            return
        try:
            connector = self.factory.sources(source, room_id, lambda status: None)
        except Exception as exc:  # a bad configuration: say so in the status, keep the show
            reason = f"cannot start: {type(exc).__name__}: {exc}"[:300]
            director.attach_source(ConnectorStatus(source.platform, source.room, "stopped", reason))
            log.error("room %s: source %s %s", room_id, source.label(), reason)
            return
        director.attach_source(connector.status)

        def handle(batch: list[ViewerMessage | RoomEvent]) -> None:
            try:
                self.offer_many(room_id, batch)
            except UnknownRoomError:
                connector.stop()
            except Exception:  # one odd batch never ends the feed
                log.exception("room %s: items from %s could not be offered", room_id, source.label())

        try:
            # What arrived while the triage worked on the last batch is triaged together: one batch of sentence
            # vectors costs about a third as much per message at ten a batch.
            async for batch in connector.batches():
                handle(batch)
                await asyncio.sleep(0)  # the connector's reader and the director run between batches
        finally:
            connector.stop()
            connector.status.state = "stopped"

    @staticmethod
    async def _cancel(task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    # -- queries -------------------------------------------------------------------------------
    def get(self, room_id: str) -> Director | None:
        entry = self._rooms.get(room_id)
        return entry[0] if entry is not None else None

    def task(self, room_id: str) -> asyncio.Task[None] | None:
        entry = self._rooms.get(room_id)
        return entry[1] if entry is not None else None

    def list(self, merchant: str | None = None) -> list[RoomInfo]:
        """The rooms running in this process (of one merchant when given), by room id."""
        out: list[RoomInfo] = []
        for room_id in sorted(self._rooms):
            director = self._rooms[room_id][0]
            if merchant is not None and director.plan.merchant != merchant:
                continue
            snap = director.snapshot()
            out.append(
                RoomInfo(
                    room_id=room_id,
                    merchant=director.plan.merchant,
                    title=getattr(director.plan, "title", ""),
                    status=snap["status"],
                    position=snap["position"],
                    counters=snap["counters"],
                    queue=snap["queue"],
                )
            )
        return out

    # -- inputs --------------------------------------------------------------------------------
    def _director(self, room_id: str) -> Director:
        director = self.get(room_id)
        if director is None:
            raise UnknownRoomError(room_id)
        return director

    def command(self, room_id: str, cmd: Command) -> None:
        """Hand an operator command to the room (applied after its utterance in progress).

        Raises:
            UnknownRoomError: the room is not running here.
            ValueError: the command's argument is wrong (unknown link, empty line).
        """
        self._director(room_id).command(cmd)

    def _room_triage(self, room_id: str) -> tuple[Director, ChatTriage]:
        director = self._director(room_id)
        triage = director.triage
        if not isinstance(triage, ChatTriage):  # pragma: no cover - the factory always builds one
            raise TypeError(f"room {room_id!r} has no chat triage")
        return director, triage

    def offer(self, room_id: str, item: ViewerMessage | RoomEvent) -> TriageDecision | AckLine | None:
        """Feed a chat message or room event to the room's triage.

        Returns:
            For a message, the triage decision; for an event, the acknowledgement line it released
            (queued on the director to be said between sentences) or None.

        Raises:
            UnknownRoomError: the room is not running here.
        """
        director, triage = self._room_triage(room_id)
        if isinstance(item, ViewerMessage):
            decision = triage.offer(item)
            self._after_message(director, triage, item, decision)
            return decision
        line = triage.offer_event(item)
        if line is not None:
            director.acknowledge(line.text)
        return line

    def offer_many(self, room_id: str, items: Sequence[ViewerMessage | RoomEvent]) -> None:
        """Feed several items that arrived together, in order; runs of chat messages are triaged as one batch
        (`ChatTriage.offer_many`).

        Raises:
            UnknownRoomError: the room is not running here.
        """
        director, triage = self._room_triage(room_id)
        run: list[ViewerMessage] = []
        for item in [*items, None]:
            if isinstance(item, ViewerMessage):
                run.append(item)
                continue
            if run:
                for message, decision in zip(run, triage.offer_many(run), strict=True):
                    self._after_message(director, triage, message, decision)
                run = []
            if item is not None:
                self.offer(room_id, item)

    @staticmethod
    def _after_message(
        director: Director, triage: ChatTriage, item: ViewerMessage, decision: TriageDecision
    ) -> None:
        if decision.accepted:
            director.notify()
        if decision.reason not in _NOT_SHOWN:
            director.comment(item)
        if item.paid and not decision.accepted and decision.reason in _THANKED_WHEN_PAID:
            # a super chat that asks nothing is thanked like a gift
            detail = _PAID_DETAIL.get(director.plan.language, _PAID_DETAIL["zh"])
            line = triage.offer_event(
                RoomEvent(director.room_id, "gift", item.nickname, item.user_id, detail)
            )
            if line is not None:
                director.acknowledge(line.text)
