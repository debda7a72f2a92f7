"""The director: one asyncio task per room that owns the room's timeline.

It speaks the script sentence by sentence. Each step of its loop takes, in this order: a prepared
operator line, the oldest pending operator command (``say_now`` is spoken at once, before anything
else), a prepared answer, then the next triaged question group (answered whole), then a due
acknowledgement, then the sentence at the room's `Position`. A busy chat never silences the selling:
after ``max_answers_in_row`` answers with no script sentence between them, the next sentence comes
first (and is not cut), then the answers go on.

Barge-in. While an utterance plays the director is not idle: a question that arrives is answered at
once (pipeline and speech run while the sentence is still on air), and an operator's ``say_now`` is
synthesised likewise. When that answer or line is ready and a *script sentence* is playing, the
director does not make the viewer wait for the end of a long sentence (unless the plan says
``interrupt: sentence_end``): unless the sentence ends within ``finish_within_s`` anyway, it cuts it at
the next pause in its audio (a silence between words, found by the speech layer, `voice.Clip.pauses`)
within ``max_cut_wait_s``, or right away when there is none, publishes a ``cut`` event (the sentence's
``seq`` and the offset at which it stops, so every page and the broadcaster stop it at the same sample)
and speaks the answer there. Then the script resumes exactly where it stopped: the rest of the sentence
from the last pause at or before the cut (`voice.clip_from`, cut while the answer plays), published as
a ``say`` with ``resumed_at`` (seconds into the sentence's audio); a sentence cut where it had no pause
yet is said again from its start. The rest can be cut again, but only further on (a rest with no pause
behind the cut point waits for its next one), so a busy chat cannot keep a sentence from being said.
Answers, acknowledgements and operator lines are never cut. The position is data that only a sentence
that finished playing advances, so after an answer the next ``say`` is exactly the unsaid part. No
timer decides when to resume.

Playing is modelled by waiting for the clip's duration through an injectable ``sleep`` / ``wait`` (the
web page or the broadcaster plays the audio the event carries). The position, status and counters are
persisted after every utterance, so a restarted director resumes at the next unsaid sentence. A
sentence cut by a crash, a cancel or a barge-in just before a restart is said again whole on restart (the
resume point within a sentence is not persisted) — a sentence, never a segment — because the position
moves past a sentence only once it has finished.

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
import math
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent.compliance import enforce
from agent.focus import RoomContext
from agent.live.events import AudioRef, Command, OutputEvent, OutputKind, Position, ViewerMessage
from agent.live.ports import (
    AnswerLike,
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
    WaitWoken,
)
from agent.live.state import RoomStateStore, RoomStatus
from agent.live.timeline import advance, conversation_id, product_card, sentence_at, settle, to_audio
from agent.live.triage_text import sanitize_nickname
from agent.pii import redact
from voice import Clip, Prosody, clip_from

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
        barge_in: cut a playing script sentence for a ready answer or operator line (see the module).
        max_answers_in_row: after this many answers with no script sentence between them, the next
            script sentence is said (and not cut) before any more answers; 0 turns this off.
        finish_within_s: a sentence that ends within this many seconds of the answer being ready is
            not cut, it finishes.
        max_cut_wait_s: how far ahead a pause in the audio is looked for; without one in reach the
            sentence is cut at once (pages and the broadcaster fade it out).
    """

    state_every: int = 10
    idle_poll_s: float = 0.5
    filler_after_s: float = 20.0
    max_pending_acks: int = 2
    seq_restart_gap: int = 16
    max_step_failures: int = 5
    zh_chars_per_second: float = 4.5
    en_chars_per_second: float = 14.0
    barge_in: bool = True
    #: None: the room plan's `airtime.max_answers_in_row`.
    max_answers_in_row: int | None = None
    finish_within_s: float = 1.0
    max_cut_wait_s: float = 0.6
    #: The public line naming the viewers whose after-sales messages were handed off is said at most this
    #: often (each gets a ticket and a bubble at once).
    after_sales_every_s: float = 20.0
    #: Most question groups answered on screen at one time (the plan's `airtime.screen_after_s`).
    screen_batch: int = 8
    #: While questions wait, a playing clip is watched this often for groups due on screen.
    screen_poll_s: float = 0.5
    #: A prepared answer past `airtime.screen_after_s` is still spoken when the voice is free for it
    #: within this many seconds.
    screen_grace_s: float = 1.0
    #: The director keeps the script's share this much above the plan's `airtime.script_share` when it
    #: decides (it looks back from now; a window measured from another instant must stay above too).
    share_margin: float = 0.05
    #: Latency percentiles and the operator's recent lists cover this many seconds / entries.
    latency_window_s: float = 300.0
    recent_entries: int = 20


@dataclass(frozen=True, slots=True)
class _Op:
    kind: Literal["pause", "resume", "skip_to", "say_now", "stop"]
    link: int = 0
    text: str = ""


_GROUPED = {"zh": "好几位问到：", "en": "A few of you asked: "}
_COMMENT_CHARS = 200  # a comment in the feed is cut to this many characters
_COMMENT_BATCH = 50  # the feed keeps the newest comments between two flushes
_COUNTERS = (
    "said",
    "answered",
    "acks",
    "operator",
    "fillers",
    "cuts",
    "tts_failures",
    "answer_failures",
    "loops",
    "after_sales",
    "after_sales_messages",
    "tickets",
    "quiet_answers",
    "screen_answers",
    "repeat_answers",
)


@dataclass(slots=True)
class _Utterance:
    """A line ready to go on air: its event kind, text, event data, audio, and when it became ready."""

    kind: OutputKind
    text: str
    data: dict[str, Any]
    clip: Clip | None
    counter: str
    ready_at: float
    timings: dict[str, float] | None = None
    #: When the question answered arrived (the clock's time), for the latency figures.
    asked_at: float | None = None
    #: An answer's whole text as the screen shows it, should it go to the screen instead of the voice.
    screen_text: str | None = None
    #: The answer's spoken sentences (what a repeat is recognised by), once it has been said.
    spoken_key: str | None = None


@dataclass(slots=True)
class _Rest:
    """The unsaid rest of a script sentence that was cut: said when the script resumes.

    ``line`` is the utterance that was cut, ``offset`` where the rest starts in the sentence's original
    clip, and ``clip`` the task cutting its audio there (run while the answer plays; None on failure).
    """

    position: Position
    line: _Utterance
    offset: float
    clip: asyncio.Future[Clip | None]


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
        wait: waits for an event or a timeout, whichever is first (returns True when woken); None
            races the event against ``sleep``. Controlled-time tests pass their own.
        clock: monotonic seconds (offsets into the playing clip, idle fillers).
        resume: continue from the persisted position when the persisted plan is this plan.
        owner: the lease owner running this room (`RoomManager.owner`); position writes are fenced by
            it, and a director whose write is refused (another process took the room over) ends at
            once without touching the room's state. None writes unfenced (a single process).
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
        wait: WaitWoken | None = None,
        clock: Callable[[], float] = time.monotonic,
        resume: bool = True,
        owner: str | None = None,
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
        self._wait_for = wait
        self._clock = clock
        self._resume = resume
        self._owner = owner
        self._links = plan.link_map()
        self._voice = plan.voice or plan.language
        rate = round((float(getattr(plan, "speech_rate", 1.0)) - 1.0) * 100)
        self._prosody = Prosody(rate=f"{rate:+d}%")
        self._ops: deque[_Op] = deque()
        self._acks: deque[str] = deque(maxlen=self.options.max_pending_acks)
        self._wake = asyncio.Event()
        self._script: ScriptLike | None = None
        self._position = Position()
        self._status: RoomStatus = "running"
        self._counters: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._seq = 0
        self._shown: tuple[int, int] | None = None  # (loop, item) whose product card is up
        self._ready: _Utterance | None = None  # an answer or operator line prepared while a clip played
        self._rest: _Rest | None = None  # the rest of the last sentence cut, said when the script resumes
        self._answers_in_row = 0  # answers said since the last script sentence finished
        # What was spoken lately: (ended at, seconds, "script" | "answer" | "other"), for the airtime share.
        self._airtime: deque[tuple[float, float, str]] = deque()
        self._spoken_answers: dict[str, float] = {}  # answer text → when it was last spoken
        self._mentions: list[tuple[str, bool]] = []  # after-sales viewers (name, ticket) to name on air
        self._last_mention: float | None = None
        # Answers given: (when, "spoken" | "screen" | "repeat", seconds from question to answer).
        self._latency: deque[tuple[float, str, float]] = deque(maxlen=5000)
        self._recent_answers: deque[dict[str, Any]] = deque(maxlen=self.options.recent_entries)
        self._recent_drops: deque[dict[str, Any]] = deque(maxlen=self.options.recent_entries)
        self._recent_tickets: deque[str] = deque(maxlen=self.options.recent_entries)
        self._dropped_by_director: dict[str, int] = {}
        self._decisions: list[dict[str, Any]] = []  # this director's decisions not yet published
        self._decisions_at: float | None = None
        self._comments: deque[dict[str, Any]] = deque(maxlen=_COMMENT_BATCH)
        self._source: Any = None
        self._source_sent: tuple[tuple[Any, Any] | None, Any] = (None, None)
        self._source_sent_at = -math.inf
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
        """Status, position, idle flag, queue length, pending commands, the prepared line waiting to be
        said ("answered" or "operator", else None), where the sentence at the position resumes when it
        was cut (seconds into its audio, else None) and counters (the ``state`` event's data)."""
        data: dict[str, Any] = {
            "status": self._status,
            "position": self._position.to_dict(),
            "idle": self._idle,
            "queue": self._queue_length(),
            "pending_commands": len(self._ops),
            "prepared": self._ready.counter if self._ready is not None else None,
            "resume_at": self._rest.offset if self._rest is not None else None,
            "counters": dict(self._counters),
            "airtime": self._airtime_split(),
            "latency_s": self.latency(),
            "recent": {
                "answers": list(self._recent_answers),
                "dropped": list(self._recent_drops),
                "tickets": list(self._recent_tickets),
            },
            "dropped_by_director": dict(self._dropped_by_director),
        }
        stats = getattr(self.triage, "stats", None)
        if callable(stats):
            data["triage"] = stats()
        if self._source is not None:
            source = self.source_status() or {}
            if self._status == "stopped":  # the connector stops with the room, after this last snapshot
                source["state"] = "stopped"
            data["source"] = source
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

    # -- the room's social side: the comment feed and the platform source's status ---------------------
    def comment(self, msg: ViewerMessage) -> None:
        """Show a viewer's message in the room's comment feed (published in batches by `flush_social`): the
        nickname sanitised, personal data in the text redacted. Callers skip adverts, abuse and spam."""
        text = redact(msg.text[: _COMMENT_CHARS * 4])[:_COMMENT_CHARS]
        if text.strip():
            self._comments.append(
                {"nickname": sanitize_nickname(msg.nickname), "text": text, "paid": msg.paid, "ts": msg.ts}
            )

    def attach_source(self, status: Any) -> None:
        """The room's platform connector status (an object with ``to_dict()``), shown in snapshots and sent on
        the bus as ``source`` events when its state or viewer count changes."""
        self._source = status

    def source_status(self) -> dict[str, Any] | None:
        return dict(self._source.to_dict()) if self._source is not None else None

    async def flush_social(self) -> None:
        """Publish the comments that arrived since the last call as one ``comments`` event, and the source's
        status as a ``source`` event when its state changed (its viewer count at most every 5 s)."""
        if self._comments:
            items = list(self._comments)
            self._comments.clear()
            await self._publish("comments", {"items": items})
        status = self.source_status()
        if status is None:
            return
        now = self._clock()
        state = (status.get("state"), status.get("reason"))
        viewers = status.get("viewers")
        changed = state != self._source_sent[0]
        if changed or (viewers != self._source_sent[1] and now - self._source_sent_at >= 5.0):
            self._source_sent = (state, viewers)
            self._source_sent_at = now
            shown = ("platform", "room", "state", "reason", "viewers", "reconnects", "received", "malformed")
            await self._publish("source", {k: status.get(k) for k in shown})

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
        try:
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
        finally:
            if self._rest is not None:
                self._rest.clip.cancel()

    async def step(self) -> None:
        """One decision: a command, an answer, an acknowledgement, a sentence, or a wait."""
        if self._ready is not None and self._ready.counter == "operator":
            await self._deliver(self._take_ready())  # a say_now, taken from the commands in order
            return
        if self._ops:
            await self._apply(self._ops.popleft())
            return
        if self._status == "paused":
            await self._wait()
            return
        if self.triage.pending_after_sales():
            await self._hand_off(self.triage.take_after_sales())
        await self._answer_on_screen(voice_free_in=math.inf if self._selling_due() else 0.0)
        await self._flush_decisions()
        if self._mentions and not self._selling_due() and self._mention_due():
            await self._deliver(await self._after_sales_line())
            return
        if self._selling_due():
            await self._say_next()
            return
        if self._ready is not None:
            await self._deliver(self._take_ready())
            return
        group = self.triage.next_question()
        if group is not None:
            answer = await self._prepare_answer(group)
            if answer is not None:
                await self._deliver(answer)
            return
        if not self._acks:
            due = self.triage.next_ack()
            if due is not None:
                self._acks.append(due.text)
        if self._acks:
            await self._deliver(await self._render("ack", self._acks.popleft(), {}, counter="acks"))
            return
        if await self._say_next():
            return
        script = self._current_script()
        if self.plan.loop and settle(script, Position(self._position.loop)).item < len(script.items):
            self._next_loop()
            self._persist()
            return
        await self._idle_step()

    # -- steps -------------------------------------------------------------------------------------
    def _selling_due(self) -> bool:
        """True when the script has a sentence to say and the selling is owed airtime: after
        ``max_answers_in_row`` answers in a row, or whenever the script's share of the spoken time over
        the plan's window is under its `airtime.script_share` (a busy chat never silences the selling)."""
        policy = self.plan.airtime
        limit = self.options.max_answers_in_row
        limit = policy.max_answers_in_row if limit is None else limit
        owed = limit > 0 and self._answers_in_row >= limit
        if not owed:
            # The share the script would have after the next answer: under its target, the script gets
            # sentence after sentence first (one sentence between long answers is not enough when answers
            # outlast sentences), so no window of the plan's length falls under the target.
            share = self.script_share(extra_answer_s=self._next_answer_seconds())
            owed = share is not None and share < policy.script_share + self.options.share_margin
        return owed and sentence_at(self._current_script(), self._position) is not None

    def script_share(self, *, extra_answer_s: float = 0.0) -> float | None:
        """The script's share of the time spoken over the plan's airtime window (None before 10 s), with
        ``extra_answer_s`` more seconds of answers when asked what the next answer would make it."""
        now = self._clock()
        window = self.plan.airtime.window_s
        while self._airtime and now - self._airtime[0][0] > window:
            self._airtime.popleft()
        total = sum(seconds for _at, seconds, _kind in self._airtime)
        if total < 10.0:
            return None
        script = sum(seconds for _at, seconds, kind in self._airtime if kind == "script")
        return script / (total + extra_answer_s)

    def _next_answer_seconds(self) -> float:
        """How long the next answer will speak: the prepared one's clip, else the recent answers' mean."""
        ready = self._ready
        if ready is not None and ready.counter == "answered":
            return ready.clip.duration if ready.clip is not None else self.reading_time(ready.text)
        spoken = [seconds for _at, seconds, kind in self._airtime if kind == "answer"]
        return sum(spoken) / len(spoken) if spoken else 0.0

    def _airtime_split(self) -> dict[str, Any]:
        """Seconds spoken over the airtime window by kind (script, answers, other) and the script's share."""
        share = self.script_share()
        seconds = {"script": 0.0, "answer": 0.0, "other": 0.0}
        for _at, spoken, kind in self._airtime:
            seconds[kind] = seconds.get(kind, 0.0) + spoken
        return {
            "script_share": None if share is None else round(share, 3),
            "window_s": self.plan.airtime.window_s,
            "seconds": {k: round(v, 1) for k, v in seconds.items()},
            "target_share": self.plan.airtime.script_share,
        }

    async def _say_next(self) -> bool:
        """Say the sentence at the position; False when the script has none there."""
        script = self._current_script()
        text = sentence_at(script, self._position)
        if text is None:
            return False
        await self._say(script, text)
        return True

    async def _apply(self, op: _Op) -> None:
        if op.kind == "say_now":
            line = await self._prepare_operator(op.text)
            if line is not None:
                await self._deliver(line)
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

    async def _prepare_operator(self, text: str) -> _Utterance | None:
        line = enforce(text).text.strip()
        if not line:
            log.warning("room %s: operator line dropped by compliance: %r", self.room_id, text)
            return None
        return await self._render("say", line, {"origin": "operator"}, counter="operator")

    async def _prepare_answer(self, group: QuestionGroupLike) -> _Utterance | None:
        """The spoken answer to a question group (pipeline, then speech), or None when there is none."""
        asked_at = self._clock() - group.waited_s
        started = time.perf_counter()
        result = await self._ask(group)
        pipeline_ms = (time.perf_counter() - started) * 1000.0
        if result is None or result.silent or not result.answer.strip():
            self._note_unanswered(group)
            return None
        policy = self.plan.airtime
        full = result.answer.strip()
        spoken = _first_sentences(full, policy.answer_sentences)
        text = self._grouped_prefix(group, result) + spoken
        now = self._clock()
        last = self._spoken_answers.get(spoken)
        quiet = last is not None and now - last < policy.repeat_quiet_s
        self._spoken_answers = {
            k: t for k, t in self._spoken_answers.items() if now - t < policy.repeat_quiet_s
        }
        data = _answer_data(group, result, full)
        self.triage.record_answer(group.token, self._grouped_prefix(group, result) + full)
        if quiet:
            # The same answer was just spoken: shown (bubble, card) without being said again.
            await self._publish("answer", {"text": text, **data, "spoken": False, "channel": "repeat"})
            self._counters["quiet_answers"] += 1
            self._record_answer("repeat", asked_at, *_asked(data), text)
            return None
        started = time.perf_counter()
        answer = await self._render("answer", text, data, counter="answered")
        tts_ms = (time.perf_counter() - started) * 1000.0
        answer.timings = {"pipeline": round(pipeline_ms, 1), "tts": round(tts_ms, 1)}
        answer.asked_at = asked_at
        answer.screen_text = self._grouped_prefix(group, result) + full
        answer.spoken_key = spoken
        return answer

    async def _answer_on_screen(self, *, voice_free_in: float = 0.0) -> None:
        """Question groups that waited `airtime.screen_after_s` for the host's voice are answered on
        screen at once (a bubble with the whole answer) rather than later or never: in a busy room the
        voice answers the best group, the screen the rest. A prepared answer past that age goes on screen
        too unless the voice is free for it within `screen_grace_s` (``voice_free_in``: seconds until the
        voice can say it; infinite when the script is owed its airtime first)."""
        after = self.plan.airtime.screen_after_s
        if after <= 0 or self._status != "running":
            return
        for message, given, waited in self.triage.take_repeats():
            # Asked again just after it was answered: the answer given, shown to this viewer at once.
            question = {"nickname": getattr(message, "nickname", ""), "text": getattr(message, "text", "")}
            data = {"questions": [question], "grouped": 1, "full_text": given, "repeat_of_answer": True}
            await self._publish("answer", {"text": given, **data, "spoken": False, "channel": "repeat"})
            self._counters["repeat_answers"] += 1
            self._record_answer("repeat", self._clock() - waited, question["text"], 1, given)
        ready = self._ready
        if (
            ready is not None
            and ready.counter == "answered"
            and ready.asked_at is not None
            and self._clock() - ready.asked_at >= after
            and voice_free_in > self.options.screen_grace_s
        ):
            # A prepared answer held back (the selling was owed airtime) past the deadline: on screen now.
            self._ready = None
            data = {k: v for k, v in ready.data.items() if k != "spoken"}
            await self._publish(
                "answer",
                {**data, "text": ready.screen_text or ready.text, "spoken": False, "channel": "screen"},
            )
            self._counters["screen_answers"] += 1
            self._record_answer(
                "screen", ready.asked_at, *_asked(ready.data), ready.screen_text or ready.text
            )
        for group in self.triage.take_waiting(after, self.options.screen_batch):
            asked_at = self._clock() - group.waited_s
            result = await self._ask(group)
            if result is None or result.silent or not result.answer.strip():
                self._note_unanswered(group)
                continue
            full = result.answer.strip()
            text = self._grouped_prefix(group, result) + full
            data = _answer_data(group, result, full)
            self.triage.record_answer(group.token, text)
            await self._publish("answer", {"text": text, **data, "spoken": False, "channel": "screen"})
            self._counters["screen_answers"] += 1
            self._record_answer("screen", asked_at, *_asked(data), text)

    def _grouped_prefix(self, group: QuestionGroupLike, result: AnswerLike) -> str:
        lang = result.language if result.language in _GROUPED else self.plan.language
        return _GROUPED.get(lang, _GROUPED["zh"]) if max(group.count, len(group.messages)) > 1 else ""

    def _record_answer(self, channel: str, asked_at: float, question: str, askers: int, text: str) -> None:
        """Count an answer given (spoken, on screen, or shown again) for the operator's figures."""
        now = self._clock()
        waited = max(0.0, now - asked_at)
        self._latency.append((now, channel, waited))
        entry = {
            "channel": channel,
            "question": question,
            "askers": askers,
            "answer": text[:200],
            "waited_s": round(waited, 1),
        }
        self._recent_answers.appendleft(entry)
        self._decisions.append({"decision": "answered", **entry})

    def _note_unanswered(self, group: QuestionGroupLike) -> None:
        """A group the pipeline had no answer for (silent, empty or failed): dropped, and shown so."""
        self._dropped_by_director["no_answer"] = self._dropped_by_director.get("no_answer", 0) + 1
        entry = {
            "decision": "dropped",
            "reason": "no_answer",
            "text": getattr(group, "public_text", "") or "",
            "askers": max(group.count, len(group.messages)),
        }
        self._recent_drops.appendleft(entry)
        self._decisions.append(entry)

    async def _hand_off(self, groups: Sequence[QuestionGroupLike]) -> None:
        """Every waiting after-sales message handed off at once: a ticket for each viewer the platform
        names (repeats go to the same ticket, which rises in priority), and at once a bubble on the page;
        the viewers' names wait for the next public line (`_after_sales_line`), said at most every
        `after_sales_every_s` so a wave of complaints does not take the room's airtime."""
        questions: list[dict[str, str]] = []
        tickets: list[str] = []
        handed: list[tuple[str, bool]] = []
        for group in groups:
            first = group.messages[0] if group.messages else None
            nickname = getattr(first, "nickname", "") or ""
            result = await self._ask(group)
            self._counters["after_sales_messages"] += 1
            ticket = result.ticket_id if result is not None else None
            if ticket:
                tickets.append(ticket)
                self._counters["tickets"] += 1
                self._recent_tickets.appendleft(ticket)
            handed.append((_mention(nickname), bool(ticket)))
            self._decisions.append(
                {
                    "decision": "handed_off",
                    "question": getattr(group, "public_text", "") or "",
                    "ticket": ticket,
                    "waited_s": round(group.waited_s, 1),
                }
            )
            questions.append({"nickname": nickname, "text": getattr(group, "public_text", "") or ""})
        self._mentions.extend(handed)
        text = _after_sales_line(
            [n for n, t in handed if t], [n for n, t in handed if not t], self.plan.language
        )
        data = {"questions": questions, "after_sales": True, "tickets": tickets, "escalated": bool(tickets)}
        await self._publish("answer", {"text": text, **data, "spoken": False})

    async def _ask(self, group: QuestionGroupLike) -> AnswerLike | None:
        """The pipeline's answer to a question group, in the first asker's live conversation (None when
        the pipeline failed; counted)."""
        first = group.messages[0] if group.messages else None
        user_id = getattr(first, "user_id", None)
        who = user_id or getattr(first, "nickname", "") or "viewer"
        try:
            return await self._pipeline.answer(
                self.plan.merchant,
                conversation_id(self.room_id, who),
                group.text,
                channel="live",
                room=RoomContext(self._links, self.triage.current_sku),
                user_id=user_id,
            )
        except Exception:
            public = getattr(group, "public_text", "") or ""  # no order number or phone in the log
            log.exception("room %s: the pipeline failed on %r", self.room_id, public)
            self._counters["answer_failures"] += 1
            return None

    async def _flush_decisions(self, *, force: bool = False) -> None:
        """Publish what triage and this director decided since the last flush as one ``decision`` event
        (at most one a second unless ``force``): the operator's feed of answered, handed-off, dropped and
        evicted questions. Drops carry their reason only, never the text."""
        now = self._clock()
        if not force and self._decisions_at is not None and now - self._decisions_at < 1.0:
            return
        items = [*self.triage.drain_decisions(), *self._decisions]
        self._decisions = []
        if not items:
            return
        self._decisions_at = now
        dropped: dict[str, int] = {}
        shown: list[dict[str, Any]] = []
        for item in items:
            if item.get("decision") == "dropped" and "text" not in item:
                reason = str(item.get("reason"))
                dropped[reason] = dropped.get(reason, 0) + 1
                continue
            if item.get("decision") == "evicted":
                self._recent_drops.appendleft(item)
            shown.append(item)
        await self._publish("decision", {"items": shown, "dropped": dropped})

    def latency(self) -> dict[str, dict[str, float | int | None]]:
        """Question → answer seconds over the last `latency_window_s`, per channel (spoken, screen,
        repeat) and overall: count, p50, p95, max."""
        now = self._clock()
        window = self.options.latency_window_s
        recent = [(channel, s) for at, channel, s in self._latency if now - at <= window]
        out: dict[str, dict[str, float | int | None]] = {}
        for channel in ("spoken", "screen", "repeat", "all"):
            values = sorted(s for c, s in recent if channel in ("all", c))
            out[channel] = _percentiles(values)
        return out

    def _mention_due(self) -> bool:
        last = self._last_mention
        return last is None or self._clock() - last >= self.options.after_sales_every_s

    async def _after_sales_line(self) -> _Utterance:
        """The public line for the after-sales messages handed off since the last one."""
        mentions, self._mentions = self._mentions, []
        self._last_mention = self._clock()
        text = _after_sales_line(
            [n for n, t in mentions if t], [n for n, t in mentions if not t], self.plan.language
        )
        data = {"after_sales": True, "questions": [], "mentions": [n for n, _t in mentions]}
        return await self._render("answer", text, data, counter="after_sales")

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
        rest = self._take_rest(pos)
        line = await (self._resumed(rest) if rest else self._render("say", text, data, counter="said"))
        await self._deliver(line, sentence=pos)

    def _take_rest(self, pos: Position) -> _Rest | None:
        """The rest of the sentence at ``pos`` if it was cut; a rest of any other sentence is dropped
        (the operator skipped)."""
        rest, self._rest = self._rest, None
        if rest is not None and rest.position != pos:
            rest.clip.cancel()
            return None
        return rest

    async def _resumed(self, rest: _Rest) -> _Utterance:
        """The rest of a cut sentence as an utterance: its audio from the resume point, its words."""
        clip = await rest.clip
        line = rest.line
        if clip is None:  # the audio could not be cut: the cut line again, whole
            clip, offset = line.clip, float(line.data.get("resumed_at", 0.0))
        else:
            offset = rest.offset
        text = line.text
        if clip is not None and clip is not line.clip and clip.cues:
            text = (" " if self.plan.language == "en" else "").join(c.text.strip() for c in clip.cues)
        return _Utterance("say", text, {**line.data, "resumed_at": offset}, clip, "said", self._clock())

    async def _rest_of(self, clip: Clip, start: float) -> Clip | None:
        if start <= 0.0:
            return clip
        try:
            return await clip_from(clip, start)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # AudioError, TTSTimeout: the sentence is said again whole
            log.warning("room %s: cannot resume a sentence at %.3f s (%s)", self.room_id, start, exc)
            return None

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
            await self._deliver(await self._render("say", line, {"origin": "filler"}, counter="fillers"))
            return
        await self._wait()

    async def _wait(self) -> None:
        """Until a command or question wakes the room, or ``idle_poll_s`` passes."""
        await self._woken_within(self.options.idle_poll_s)

    async def _woken_within(self, seconds: float) -> bool:
        """Wait until `notify` or until ``seconds`` pass; True when woken (the wake flag is cleared)."""
        if self._wake.is_set():
            self._wake.clear()
            return True
        if self._wait_for is not None:
            woken = await self._wait_for(self._wake, seconds)
        else:
            waker = asyncio.ensure_future(self._wake.wait())
            timer = asyncio.ensure_future(self._sleep(seconds))
            try:
                await asyncio.wait({waker, timer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (waker, timer):
                    task.cancel()
                await asyncio.gather(waker, timer, return_exceptions=True)
            woken = self._wake.is_set()
        self._wake.clear()
        return woken

    # -- speaking ----------------------------------------------------------------------------------
    async def _render(self, kind: OutputKind, text: str, data: dict[str, Any], *, counter: str) -> _Utterance:
        return _Utterance(kind, text, data, await self._synthesize(text), counter, self._clock())

    def _take_ready(self) -> _Utterance:
        ready, self._ready = self._ready, None
        assert ready is not None
        return ready

    async def _deliver(self, line: _Utterance, *, sentence: Position | None = None) -> None:
        """Publish ``line``, let it play, then advance (a script ``sentence`` that was not cut) and persist.

        Only a script sentence (``sentence`` given) can be cut, and only once (see the module).
        """
        payload: dict[str, Any] = {"text": line.text, **line.data}
        if line.timings is not None:
            held = max(0.0, self._clock() - line.ready_at) * 1000.0
            payload["timings_ms"] = {**line.timings, "held": round(held, 1)}
        audio = to_audio(line.clip) if line.clip is not None else None
        seq = await self._publish(line.kind, payload, audio)
        if line.asked_at is not None and line.counter == "answered":
            self._record_answer("spoken", line.asked_at, *_asked(line.data), line.text)
            if line.spoken_key:
                self._spoken_answers[line.spoken_key] = self._clock()
        cuttable = (
            self.options.barge_in
            and self.plan.interrupt == "at_pause"
            and not self._selling_due()
            and sentence is not None
            and line.clip is not None
        )
        seconds = line.clip.duration if line.clip is not None else self.reading_time(line.text)
        resumed = "resumed_at" in line.data
        cut_at = await self._play(line.clip, seconds, cuttable=cuttable, resumed=resumed)
        self._last_spoke = self._clock()
        kind = (
            "script"
            if sentence is not None
            else "answer"
            if line.counter in ("answered", "after_sales")
            else "other"
        )
        self._airtime.append((self._last_spoke, seconds if cut_at is None else cut_at, kind))
        self._idle = False
        if cut_at is not None and sentence is not None and line.clip is not None:
            start = max((p for p in line.clip.pauses if p <= cut_at + 1e-9), default=0.0)
            base = float(line.data.get("resumed_at", 0.0))
            rest = asyncio.ensure_future(self._rest_of(line.clip, start))
            self._rest = _Rest(sentence, line, round(base + start, 3), rest)
            self._counters["cuts"] += 1
            reason = "operator" if self._ready is not None and self._ready.counter == "operator" else "answer"
            cut = {"of": seq, "at": round(cut_at, 3), "reason": reason, "position": sentence.to_dict()}
            await self._publish("cut", cut)
            self._persist()
            return
        if sentence is not None:
            script = self._current_script()
            self._position = advance(script, sentence)
            if self.plan.loop and self._position.item >= len(script.items):
                self._next_loop()  # a looping show is in its next loop as soon as the last sentence ends
        self._counters[line.counter] = self._counters.get(line.counter, 0) + 1
        if line.counter in ("answered", "after_sales"):
            self._answers_in_row += 1
        elif sentence is not None:
            self._answers_in_row = 0
        self._persist()
        if self._finished:  # the lease was lost: the new owner speaks for the room now
            return
        utterances = sum(self._counters[c] for c in ("said", "answered", "acks", "operator", "fillers"))
        if self.options.state_every > 0 and utterances % self.options.state_every == 0:
            await self._publish("state", self.snapshot())

    async def _play(
        self, clip: Clip | None, seconds: float, *, cuttable: bool, resumed: bool = False
    ) -> float | None:
        """Wait while an utterance of ``seconds`` plays, preparing what arrives meanwhile.

        Returns the offset (seconds into the clip) at which it was cut, or None when it played whole.
        """
        started = self._clock()
        while True:
            remaining = seconds - (self._clock() - started)
            if remaining <= 0:
                return None
            held = self._ready is not None and self._ready.counter == "answered"
            watch = self.plan.airtime.screen_after_s > 0 and (held or self._queue_length() > 0)
            span = min(remaining, self.options.screen_poll_s) if watch else remaining
            woken = await self._woken_within(span)
            if watch or woken:
                left = seconds - (self._clock() - started)
                await self._answer_on_screen(voice_free_in=math.inf if self._selling_due() else left)
                await self._flush_decisions()
            if not woken:
                if span >= remaining:
                    return None  # it played to its end
                continue
            if self._ready is None:
                await self._prepare_interruption()
            if self._ready is None or not cuttable or clip is None:
                continue
            offset = self._clock() - started
            if seconds - offset <= self.options.finish_within_s:
                await self._sleep(max(0.0, seconds - offset))
                return None
            cut = self._cut_point(clip, offset, resumed=resumed)
            if cut is None:  # the rest of a cut sentence with no pause left: it finishes
                await self._sleep(max(0.0, seconds - offset))
                return None
            if cut > offset:
                await self._sleep(cut - offset)
            return cut

    async def _prepare_interruption(self) -> None:
        """Something woke the room mid-utterance: synthesise a leading ``say_now`` or answer a question.

        Other commands wait for the utterance to end (they are applied between utterances), and so does
        everything else while one of them is pending.
        """
        if self._ops:
            if self._ops[0].kind == "say_now":
                self._ready = await self._prepare_operator(self._ops.popleft().text)
            return
        if self._status != "running":
            return
        if self.triage.pending_after_sales():
            await self._hand_off(self.triage.take_after_sales())
            return
        group = self.triage.next_question()
        if group is not None:
            self._ready = await self._prepare_answer(group)

    def _cut_point(self, clip: Clip, offset: float, *, resumed: bool) -> float | None:
        """Where to cut ``clip``, ``offset`` seconds into it: the first pause within reach, else at once.

        The rest of a sentence resumes at the last pause before the cut, or from its start when it has
        none; so a ``resumed`` rest with no pause up to ``offset`` is cut only at its next pause (or not
        at all), which keeps every cut moving the sentence forward.
        """
        reach = offset + self.options.max_cut_wait_s
        ahead = next((p for p in clip.pauses if offset <= p <= reach), None)
        if ahead is not None:
            return ahead
        if not resumed or any(p <= offset for p in clip.pauses):
            return offset
        return next((p for p in clip.pauses if p > offset), None)

    async def _synthesize(self, text: str) -> Clip | None:
        try:
            return await self._tts.synthesize(text, voice=self._voice, prosody=self._prosody)
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

    async def _publish(self, kind: OutputKind, data: dict[str, Any], audio: AudioRef | None = None) -> int:
        """Publish an event; returns its ``seq``."""
        self._seq += 1
        event = OutputEvent(self.room_id, self._seq, kind, data, audio)
        try:
            await self._bus.publish(event)
        except asyncio.CancelledError:
            raise
        except Exception:  # a broken bus must not stop the show; the page sees a gap in seq
            log.exception("room %s: publishing %s failed", self.room_id, kind)
        return event.seq

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
            saved = self._state.save_progress(
                self.room_id,
                status=self._status,
                position=self._position,
                counters=self._persisted_counters(),
                owner=self._owner,
                ops=self.snapshot(),
            )
        except Exception:  # the show goes on; the next utterance tries again
            log.exception("room %s: persisting the position failed", self.room_id)
            return
        if not saved and self._owner is not None and not self._finished:
            # Another process holds the room now: stop speaking, leave its state to the new owner.
            log.warning("room %s: lease lost to another process; this director stops", self.room_id)
            self.error = "another process took over this room"
            self._finished = True

    def _queue_length(self) -> int:
        """Question groups waiting (read while a clip plays, so without building the triage's stats)."""
        return len(self.triage)


_SENTENCE = re.compile(r"[^。！？!?；;]+[。！？!?；;]*|[^.!?]+[.!?]+(?=\s|$)")


def _answer_data(group: QuestionGroupLike, result: AnswerLike, full: str) -> dict[str, Any]:
    """An answer event's data: the questions answered (nickname, text), product, route, whole answer."""
    return {
        "questions": [
            {"nickname": getattr(m, "nickname", ""), "text": getattr(m, "text", "")} for m in group.messages
        ],
        "sku": result.focus_sku or group.sku_hint,
        "grouped": max(group.count, len(group.messages)),
        "route": result.route,
        "escalated": result.escalated,
        "full_text": full,
    }


def _asked(data: dict[str, Any]) -> tuple[str, int]:
    """The first question an answer event answers and how many asked it (the operator's lists)."""
    questions = data.get("questions") or [{}]
    return str(questions[0].get("text", "")), int(data.get("grouped", 1))


def _first_sentences(text: str, limit: int) -> str:
    """The first `limit` sentences of `text` (all of it when it has fewer)."""
    parts = [p for p in _SENTENCE.findall(text) if p.strip()]
    if len(parts) <= limit:
        return text
    return "".join(parts[:limit]).strip()


def _percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, p50, p95 and max of sorted ``values`` (nearest rank), seconds to 0.1."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}

    def rank(q: float) -> float:
        return round(values[max(0, math.ceil(q * len(values)) - 1)], 1)

    return {"n": len(values), "p50": rank(0.5), "p95": rank(0.95), "max": round(values[-1], 1)}


def _mention(nickname: str) -> str:
    name = nickname.strip()[:12]
    return f"@{name}" if name else ""


def _after_sales_line(with_ticket: list[str], without: list[str], language: str) -> str:
    """The public line for after-sales messages: who was passed to a person, who should message the shop."""

    def names(items: list[str]) -> str:
        shown = [n for n in items if n][:5]
        more = len(items) - len(shown)
        if language == "zh":
            return " ".join(shown) + (f" 等{len(items)}位朋友" if more > 0 else "")
        return " ".join(shown) + (f" and {more} more" if more > 0 else "")

    parts: list[str] = []
    if language == "zh":
        if with_ticket:
            parts.append(f"{names(with_ticket)} 已为您转接客服，请留意私信。".strip())
        if without:
            parts.append(f"{names(without)} 售后问题请点击“私信”联系店铺客服，我们会尽快处理。".strip())
    else:
        if with_ticket:
            parts.append(
                f"{names(with_ticket)} we've passed this to customer service, please check your messages.".strip()
            )
        if without:
            parts.append(
                f"{names(without)} for order problems please message the shop's customer service, "
                "we'll sort it out quickly.".strip()
            )
    return "".join(parts) if language == "zh" else " ".join(parts)
