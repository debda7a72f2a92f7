"""The director: one asyncio task per room that owns the room's timeline.

It speaks the script sentence by sentence. Each step of its loop takes, in this order: the oldest
pending operator command (``say_now`` is spoken at once, before anything else), then the next triaged
question group (answered whole), then a due acknowledgement, then the sentence at the room's
`Position`. Nothing interrupts an utterance: commands and questions that arrive while one plays wait
for its end, because the director only looks at them between utterances. After an answer the next
``say`` is exactly the next unsaid sentence, since the position is data that only an utterance that
finished playing advances. No timer decides when to resume.

Playing is modelled by waiting for the clip's duration through an injectable ``sleep`` (the web page or
the broadcaster plays the audio the event carries). The position, status and counters are persisted
after every utterance, so a restarted director resumes at the next unsaid sentence. A sentence cut by a
crash or a cancel while it played is said again on restart — a sentence, never a segment — because the
position moves past a sentence only once it has finished.

A TTS failure never silences the room: the event is published without audio (the subtitles still show)
and the director waits the text's reading time instead of the clip's duration.

Commands: ``pause`` silences the room after the utterance in progress (no sentences, answers or acks;
an operator's ``say_now`` is still said); ``skip_to(link)`` moves the position to that product's first
sentence; ``stop`` ends the task and persists the room as stopped. A restart with a different plan
starts that plan from its beginning; a looping show moves to the next loop (newly worded script) as soon
as the last sentence of a loop has played; a non-looping show then idles, answering questions and saying
the plan's fillers every ``filler_after_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from agent.compliance import enforce
from agent.focus import RoomContext
from agent.live.events import AudioRef, Command, OutputEvent, OutputKind, Position
from agent.live.ports import (
    BusLike,
    CatalogLike,
    PipelineLike,
    PlanLike,
    QuestionGroupLike,
    ScriptBuilderLike,
    ScriptItemLike,
    ScriptLike,
    Sleep,
    SpeechLike,
    TriageLike,
)
from agent.live.state import RoomStateStore, RoomStatus
from agent.live.timeline import advance, conversation_id, product_card, sentence_at, settle, to_audio
from voice import Clip

log = logging.getLogger(__name__)


# -- values --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DirectorOptions:
    """Pacing and bookkeeping knobs.

    Attributes:
        state_every: publish a ``state`` event every this many utterances (besides status changes).
        idle_poll_s: how often a paused or idle room looks at its queue when nothing wakes it.
        filler_after_s: idle seconds before the next filler line (plans with fillers).
        max_pending_acks: acknowledgements waiting to be spoken; older ones are dropped.
        max_step_failures: consecutive failed steps (a script that cannot be built…) that stop the room.
        seq_restart_gap: how far ``seq`` jumps on restart, above the events published since the last
            persist (at most a handful), so clients see a gap and never a repeated number.
        zh_chars_per_second, en_chars_per_second: reading pace for text-only events.
    """

    state_every: int = 10
    idle_poll_s: float = 0.5
    filler_after_s: float = 20.0
    max_pending_acks: int = 2
    seq_restart_gap: int = 16
    max_step_failures: int = 5
    zh_chars_per_second: float = 4.5
    en_chars_per_second: float = 14.0


@dataclass(frozen=True, slots=True)
class _Op:
    kind: Literal["pause", "resume", "skip_to", "say_now", "stop"]
    link: int = 0
    text: str = ""


_GROUPED = {"zh": "好几位朋友都问到了，", "en": "A few of you asked about this. "}
_COUNTERS = ("said", "answered", "acks", "operator", "fillers", "tts_failures", "answer_failures", "loops")


class Director:
    """Runs one room's show. Construct cheaply, then ``await run()`` in the room's task.

    Args:
        plan: the room's `RoomPlan`.
        script_builder: builds the `Script` for a loop (`ScriptBuilder(store)`).
        triage: the room's `ChatTriage` (its ``current_sku`` is kept on the product on screen).
        pipeline: the `AnswerPipeline`.
        tts: speech (`voice.build_tts(...)`).
        bus: where events go (`RoomBus`).
        state: the `RoomStateStore`.
        catalog: product look-ups for the product card (`CatalogStore`); None sends cards with the sku
            and link only.
        options: pacing knobs.
        sleep: waits while a clip plays (injectable so tests run on controlled time).
        clock: monotonic seconds (idle fillers).
        resume: continue from the persisted position when the persisted plan is this plan.
    """

    def __init__(
        self,
        plan: PlanLike,
        *,
        script_builder: ScriptBuilderLike,
        triage: TriageLike,
        pipeline: PipelineLike,
        tts: SpeechLike,
        bus: BusLike,
        state: RoomStateStore,
        catalog: CatalogLike | None = None,
        options: DirectorOptions | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        resume: bool = True,
    ) -> None:
        self.plan = plan
        self.room_id = plan.room_id
        self.triage = triage
        self.options = options or DirectorOptions()
        self._builder = script_builder
        self._pipeline = pipeline
        self._tts = tts
        self._bus = bus
        self._state = state
        self._catalog = catalog
        self._sleep = sleep
        self._clock = clock
        self._resume = resume
        self._links = plan.link_map()
        self._voice = plan.voice or plan.language
        self._ops: deque[_Op] = deque()
        self._acks: deque[str] = deque(maxlen=self.options.max_pending_acks)
        self._wake = asyncio.Event()
        self._script: ScriptLike | None = None
        self._position = Position()
        self._status: RoomStatus = "running"
        self._counters: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._seq = 0
        self._shown: tuple[int, int] | None = None  # (loop, item) whose product card is up
        self._idle = False
        self._last_spoke = clock()
        self._finished = False
        self.error: str | None = None

    # -- what callers read -------------------------------------------------------------------------
    @property
    def position(self) -> Position:
        """The next sentence to say."""
        return self._position

    @property
    def status(self) -> RoomStatus:
        return self._status

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def counters(self) -> dict[str, int]:
        return dict(self._counters)

    def snapshot(self) -> dict[str, Any]:
        """Status, position, idle flag, queue length and counters (the ``state`` event's data)."""
        data: dict[str, Any] = {
            "status": self._status,
            "position": self._position.to_dict(),
            "idle": self._idle,
            "queue": self._queue_length(),
            "pending_commands": len(self._ops),
            "counters": dict(self._counters),
        }
        if self.error:
            data["error"] = self.error
        return data

    # -- operator commands (applied between utterances, in arrival order) -------------------------
    def pause(self) -> None:
        """Stop talking after the utterance in progress (answers and script alike)."""
        self._queue(_Op("pause"))

    def resume(self) -> None:
        self._queue(_Op("resume"))

    def skip_to(self, link: int) -> None:
        """Go to the first sentence of the product with link number ``link`` after the current utterance.

        Raises:
            ValueError: the plan has no such link.
        """
        if link not in self._links:
            known = ", ".join(str(n) for n in sorted(self._links))
            raise ValueError(f"room {self.room_id} has no link {link} (links: {known})")
        self._queue(_Op("skip_to", link=link))

    def say_now(self, text: str) -> None:
        """Say ``text`` next, before any answer or sentence (also in a paused room).

        Raises:
            ValueError: the text is blank.
        """
        if not text.strip():
            raise ValueError("say_now needs a line to say")
        self._queue(_Op("say_now", text=text.strip()))

    def stop(self) -> None:
        """End the show after the utterance in progress; the room is persisted as stopped."""
        self._queue(_Op("stop"))

    def command(self, cmd: Command) -> None:
        """Apply an operator `Command` (skip_to's argument is the link number, say_now's the text).

        Raises:
            ValueError: the command is for another room or its argument is missing or wrong.
        """
        if cmd.room_id != self.room_id:
            raise ValueError(f"command for room {cmd.room_id!r} sent to room {self.room_id!r}")
        arg = (cmd.argument or "").strip()
        if cmd.kind == "skip_to":
            link = arg.removesuffix("号链接").removesuffix("号").removeprefix("link").strip()
            if not link.isdigit():
                raise ValueError(f"skip_to needs a link number, got {cmd.argument!r}")
            self.skip_to(int(link))
        elif cmd.kind == "say_now":
            self.say_now(arg)
        elif cmd.kind in ("pause", "resume", "stop"):
            self._queue(_Op(cmd.kind))
        else:  # pragma: no cover - CommandKind is closed
            raise ValueError(f"unknown command {cmd.kind!r}")

    def acknowledge(self, text: str) -> None:
        """Queue an acknowledgement line (from the triage's ack policy) to say between sentences."""
        if text.strip():
            self._acks.append(text.strip())
            self.notify()

    def notify(self) -> None:
        """Wake an idle or paused room to look at its queue now (a question or command arrived)."""
        self._wake.set()

    def _queue(self, op: _Op) -> None:
        self._ops.append(op)
        self.notify()

    # -- the loop ----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Run the show until ``stop``; cancelling the task is safe (the position is persisted)."""
        try:
            self._restore()
        except Exception as exc:
            self.error = f"cannot start room {self.room_id}: {exc}"
            log.exception("room %s: cannot start", self.room_id)
            self._status = "stopped"
            self._finished = True
            await self._publish("state", self.snapshot())
            return
        await self._publish("state", self.snapshot())
        failures = 0
        while not self._finished:
            try:
                await self.step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug or a broken dependency: report, back off, try again
                failures += 1
                self.error = f"{type(exc).__name__}: {exc}"
                log.exception("room %s: step failed (%d in a row)", self.room_id, failures)
                if failures >= self.options.max_step_failures:
                    self._status = "stopped"
                    self._finished = True
                    self._persist()
                await self._publish("state", self.snapshot())
                if not self._finished:
                    await self._sleep(self.options.idle_poll_s * failures)

    async def step(self) -> None:
        """One decision: a command, an answer, an acknowledgement, a sentence, or a wait."""
        if self._ops:
            await self._apply(self._ops.popleft())
            return
        if self._status == "paused":
            await self._wait()
            return
        group = self.triage.next_question()
        if group is not None:
            await self._answer(group)
            return
        if not self._acks:
            due = self.triage.next_ack()
            if due is not None:
                self._acks.append(due.text)
        if self._acks:
            await self._speak("ack", self._acks.popleft(), {}, counter="acks")
            return
        script = self._current_script()
        text = sentence_at(script, self._position)
        if text is not None:
            await self._say(script, text)
            return
        if self.plan.loop and settle(script, Position(self._position.loop)).item < len(script.items):
            self._next_loop()
            self._persist()
            return
        await self._idle_step()

    # -- steps -------------------------------------------------------------------------------------
    async def _apply(self, op: _Op) -> None:
        if op.kind == "say_now":
            line = enforce(op.text).text.strip()
            if not line:
                log.warning("room %s: operator line dropped by compliance: %r", self.room_id, op.text)
                return
            await self._speak("say", line, {"origin": "operator"}, counter="operator")
            return
        if op.kind == "skip_to":
            script = self._current_script()
            index = next((i for i, it in enumerate(script.items) if it.link == op.link), None)
            if index is None:
                return
            self._position = settle(script, Position(self._position.loop, index, 0, 0))
            self._shown = None  # the card of the product skipped to goes up again
            self._persist()
            await self._publish("state", self.snapshot())
            return
        if op.kind == "resume" and self._status != "paused":
            return
        if op.kind == "stop":
            self._status = "stopped"
            self._finished = True
        else:
            self._status = "paused" if op.kind == "pause" else "running"
        self._persist()
        await self._publish("state", self.snapshot())

    async def _answer(self, group: QuestionGroupLike) -> None:
        first = group.messages[0] if group.messages else None
        user_id = getattr(first, "user_id", None)
        who = user_id or getattr(first, "nickname", "") or "viewer"
        room = RoomContext(self._links, self.triage.current_sku)
        started = time.perf_counter()
        try:
            result = await self._pipeline.answer(
                self.plan.merchant,
                conversation_id(self.room_id, who),
                group.text,
                channel="live",
                room=room,
                user_id=user_id,
            )
        except Exception:
            log.exception("room %s: the pipeline failed on %r", self.room_id, group.text)
            self._counters["answer_failures"] += 1
            return
        pipeline_ms = (time.perf_counter() - started) * 1000.0
        if result.silent or not result.answer.strip():
            return
        count = max(group.count, len(group.messages))
        lang = result.language if result.language in _GROUPED else self.plan.language
        text = (_GROUPED.get(lang, _GROUPED["zh"]) if count > 1 else "") + result.answer.strip()
        data = {
            "questions": [
                {"nickname": getattr(m, "nickname", ""), "text": getattr(m, "text", "")}
                for m in group.messages
            ],
            "sku": result.focus_sku or group.sku_hint,
            "grouped": count,
            "route": result.route,
            "escalated": result.escalated,
        }
        await self._speak("answer", text, data, counter="answered", pipeline_ms=pipeline_ms)

    async def _say(self, script: ScriptLike, text: str) -> None:
        pos = self._position
        item = script.items[pos.item]
        if self._shown != (pos.loop, pos.item):
            await self._show_product(item)
            self._shown = (pos.loop, pos.item)
        data = {
            "origin": "script",
            "position": pos.to_dict(),
            "segment_kind": item.segments[pos.segment].kind,
            "sku": item.sku,
            "link": item.link,
        }
        await self._speak("say", text, data, counter="said", advance_from=pos)

    def _next_loop(self) -> None:
        loop = self._position.loop + 1
        self._script = self._builder.build(self.plan, loop_index=loop)
        self._position = settle(self._script, Position(loop, 0, 0, 0))
        self._counters["loops"] += 1

    async def _idle_step(self) -> None:
        if not self._idle:
            self._idle = True
            await self._publish("state", self.snapshot())
        fillers = [f for f in self._current_script().fillers if f.strip()]
        if fillers and self._clock() - self._last_spoke >= self.options.filler_after_s:
            line = fillers[self._counters["fillers"] % len(fillers)]
            await self._speak("say", line, {"origin": "filler"}, counter="fillers")
            return
        await self._wait()

    async def _wait(self) -> None:
        """Until a command or question wakes the room, or ``idle_poll_s`` passes."""
        if self._wake.is_set():
            self._wake.clear()
            return
        waker = asyncio.ensure_future(self._wake.wait())
        poll = asyncio.ensure_future(self._sleep(self.options.idle_poll_s))
        try:
            await asyncio.wait({waker, poll}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waker, poll):
                task.cancel()
            await asyncio.gather(waker, poll, return_exceptions=True)
        self._wake.clear()

    # -- speaking ----------------------------------------------------------------------------------
    async def _speak(
        self,
        kind: OutputKind,
        text: str,
        data: dict[str, Any],
        *,
        counter: str,
        advance_from: Position | None = None,
        pipeline_ms: float | None = None,
    ) -> None:
        """Synthesise, publish, wait for the clip to play, then advance and persist."""
        started = time.perf_counter()
        clip = await self._synthesize(text)
        payload: dict[str, Any] = {"text": text, **data}
        if pipeline_ms is not None:
            tts_ms = (time.perf_counter() - started) * 1000.0
            payload["timings_ms"] = {"pipeline": round(pipeline_ms, 1), "tts": round(tts_ms, 1)}
        audio = to_audio(clip) if clip is not None else None
        await self._publish(kind, payload, audio)
        await self._sleep(clip.duration if clip is not None else self.reading_time(text))
        self._last_spoke = self._clock()
        self._idle = False
        if advance_from is not None:
            script = self._current_script()
            self._position = advance(script, advance_from)
            if self.plan.loop and self._position.item >= len(script.items):
                self._next_loop()  # a looping show is in its next loop as soon as the last sentence ends
        self._counters[counter] = self._counters.get(counter, 0) + 1
        self._persist()
        utterances = sum(self._counters[c] for c in ("said", "answered", "acks", "operator", "fillers"))
        if self.options.state_every > 0 and utterances % self.options.state_every == 0:
            await self._publish("state", self.snapshot())

    async def _synthesize(self, text: str) -> Clip | None:
        try:
            return await self._tts.synthesize(text, voice=self._voice)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # AllEnginesFailed, NothingToSay, an engine bug: subtitles only
            log.warning("room %s: speaking text only (%s)", self.room_id, exc)
            self._counters["tts_failures"] += 1
            return None

    def reading_time(self, text: str) -> float:
        """Seconds a text-only line stays up: the time it would take to say it."""
        chars = len("".join(text.split()))
        pace = (
            self.options.en_chars_per_second
            if self.plan.language == "en"
            else self.options.zh_chars_per_second
        )
        return max(1.0, chars / pace)

    async def _show_product(self, item: ScriptItemLike) -> None:
        self.triage.current_sku = item.sku
        product = self._catalog.get_product(self.plan.merchant, item.sku) if self._catalog else None
        await self._publish("product", product_card(item, product, self.plan.language))

    async def _publish(self, kind: OutputKind, data: dict[str, Any], audio: AudioRef | None = None) -> None:
        self._seq += 1
        event = OutputEvent(self.room_id, self._seq, kind, data, audio)
        try:
            await self._bus.publish(event)
        except asyncio.CancelledError:
            raise
        except Exception:  # a broken bus must not stop the show; the page sees a gap in seq
            log.exception("room %s: publishing %s failed", self.room_id, kind)

    # -- persistence -------------------------------------------------------------------------------
    def _current_script(self) -> ScriptLike:
        if self._script is None:
            self._script = self._builder.build(self.plan, loop_index=self._position.loop)
        return self._script

    def _restore(self) -> None:
        plan_data = self.plan.model_dump(mode="json")
        record = self._state.load(self.room_id)
        same_plan = record is not None and RoomStateStore.plan_text(record.plan) == RoomStateStore.plan_text(
            plan_data
        )
        if record is not None:  # seq keeps increasing across restarts, whatever the plan
            self._seq = record.counters.get("seq", 0) + self.options.seq_restart_gap
        if record is not None and same_plan and self._resume:
            self._counters.update({k: v for k, v in record.counters.items() if k != "seq"})
            self._position = record.position
            self._status = "paused" if record.status == "paused" else "running"
        self._script = self._builder.build(self.plan, loop_index=self._position.loop)
        self._position = settle(self._script, self._position)
        self._state.save(
            self.room_id,
            merchant=self.plan.merchant,
            plan=plan_data,
            status=self._status,
            position=self._position,
            counters=self._persisted_counters(),
        )

    def _persisted_counters(self) -> dict[str, int]:
        return {**self._counters, "seq": self._seq}

    def _persist(self) -> None:
        try:
            self._state.save_progress(
                self.room_id,
                status=self._status,
                position=self._position,
                counters=self._persisted_counters(),
            )
        except Exception:  # the show goes on; the next utterance tries again
            log.exception("room %s: persisting the position failed", self.room_id)

    def _queue_length(self) -> int:
        try:
            stats = self.triage.stats()
        except Exception:
            return 0
        for key in ("queue", "queue_length", "queued"):
            value = stats.get(key)
            if isinstance(value, int):
                return value
        return 0
