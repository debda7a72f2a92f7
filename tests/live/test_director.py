"""The director on controlled time: script order under interleaved questions and commands, restart
resume, text-only speech when TTS fails, and the real espeak chain end to end."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.live.director import Director, DirectorOptions
from agent.live.events import Command, CommandKind, OutputEvent, Position, ViewerMessage
from agent.live.plan import RoomPlan
from agent.live.script import Script, ScriptBuilder
from agent.live.state import RoomStateStore
from agent.live.triage import ChatTriage, TriageOptions
from api.services import Services
from knowledge.store import create_engine_for
from tests.live.director_support import FixedClipTTS, RecordingBus, VirtualTime, demo_services
from voice import Clip, Prosody, build_tts

pytestmark = pytest.mark.unit

__all__ = ["demo_services"]  # the fixture, imported so pytest finds it

QUESTIONS = [
    "1号链接多少钱",
    "这个有XL吗",
    "2号链接是多少毫升的",
    "什么时候发货",
    "2号防晒适合油皮吗",
    "1号有灰色吗",
]
UTTERANCES = ("say", "answer", "ack")


def make_plan(
    room_id: str,
    *,
    loop: bool = True,
    fillers: list[str] | None = None,
    interrupt: str = "at_pause",
    airtime: dict[str, Any] | None = None,
) -> RoomPlan:
    return RoomPlan.model_validate(
        {
            "room_id": room_id,
            "airtime": airtime or {},
            "interrupt": interrupt,
            "merchant": "demo",
            "loop": loop,
            "items": [
                {"link": 1, "sku": "ZH-AP-001", "segments": ["hook", "price_offer", "call_to_action"]},
                {"link": 2, "sku": "ZH-BE-001", "segments": ["hook", "intro", "call_to_action"]},
            ],
            "fillers": fillers or [],
        }
    )


@dataclass
class Room:
    """One director wired to real triage, script builder, pipeline and state store, on virtual time."""

    director: Director
    bus: RecordingBus
    tts: FixedClipTTS
    time: VirtualTime
    state: RoomStateStore
    plan: RoomPlan
    builder: ScriptBuilder
    scripts: dict[int, Script] = field(default_factory=dict)

    def script(self, loop: int) -> Script:
        if loop not in self.scripts:
            self.scripts[loop] = self.builder.build(self.plan, loop_index=loop)
        return self.scripts[loop]

    def next_position(self, pos: Position) -> Position:
        following = self.script(pos.loop).next_position(pos)
        if following is not None:
            return following
        first = self.script(pos.loop + 1).first_position()
        assert first is not None
        return first

    def ask(self, number: int, text: str) -> None:
        msg = ViewerMessage(self.plan.room_id, f"viewer{number}", text, user_id=f"u{number}")
        if self.director.triage.offer(msg).accepted:  # type: ignore[attr-defined]
            self.director.notify()


def build_room(
    services: Services,
    state: RoomStateStore,
    plan: RoomPlan,
    time: VirtualTime,
    *,
    tts: FixedClipTTS | None = None,
    options: DirectorOptions | None = None,
) -> Room:
    tts = tts or FixedClipTTS()
    bus = RecordingBus(time.clock)
    builder = ScriptBuilder(services.store)
    triage = ChatTriage(
        plan.room_id, options=TriageOptions.for_plan(plan), clock=time.clock, link_map=plan.link_map()
    )
    director = Director(
        plan,
        script_builder=builder,
        triage=triage,
        pipeline=services.pipeline,
        tts=tts,
        bus=bus,
        state=state,
        catalog=services.store,
        options=options or DirectorOptions(idle_poll_s=0.5),
        sleep=time.sleep,
        wait=time.wait,
        clock=time.clock,
    )
    return Room(director, bus, tts, time, state, plan, builder)


@pytest.fixture(scope="module")
def state_store(tmp_path_factory: pytest.TempPathFactory) -> RoomStateStore:
    engine = create_engine_for(f"sqlite:///{tmp_path_factory.mktemp('rooms') / 'rooms.db'}")
    store = RoomStateStore(engine)
    store.create_schema()
    return store


def utterances(room: Room) -> list[tuple[float, OutputEvent]]:
    """What was spoken, in order (an answer shown without being spoken again is not an utterance)."""
    return [
        (p.at, p.event)
        for p in room.bus.log
        if p.event.kind in UTTERANCES and p.event.data.get("spoken", True) is not False
    ]


def played_for(room: Room, event: OutputEvent) -> float:
    if event.audio is not None:
        return event.audio.duration
    return room.director.reading_time(str(event.data["text"]))


# -- the property: any interleaving of questions and commands keeps the show in order -------------------
@dataclass(frozen=True)
class Arrival:
    at: float
    kind: str  # question | pause | resume | skip_to | say_now
    arg: int = 0


arrivals_strategy = st.lists(
    st.builds(
        Arrival,
        at=st.floats(min_value=0.0, max_value=90.0, allow_nan=False),
        kind=st.sampled_from(["question", "question", "question", "pause", "resume", "skip_to", "say_now"]),
        arg=st.integers(min_value=0, max_value=50),
    ),
    max_size=14,
)


def schedule(room: Room, arrivals: list[Arrival], horizon: float) -> dict[str, list[tuple[float, Any]]]:
    """Schedule arrivals; returns what arrived when, by kind (say_now texts, skip links)."""
    seen: dict[str, list[tuple[float, Any]]] = {
        k: [] for k in ("pause", "resume", "skip_to", "say_now", "stop")
    }
    director = room.director
    room_id = director.room_id
    for i, a in enumerate(sorted(arrivals, key=lambda a: a.at)):
        if a.kind == "question":
            room.time.at(a.at, functools.partial(room.ask, i, QUESTIONS[a.arg % len(QUESTIONS)]))
        elif a.kind == "say_now":
            text = f"插播一句：第{i}条主播口播"
            seen["say_now"].append((a.at, text))
            room.time.at(a.at, functools.partial(director.command, Command(room_id, "say_now", text)))
        elif a.kind == "skip_to":
            link = 1 + a.arg % 2
            seen["skip_to"].append((a.at, link))
            room.time.at(a.at, functools.partial(director.command, Command(room_id, "skip_to", str(link))))
        else:
            seen[a.kind].append((a.at, i))  # the arrival index orders commands that share a time
            kind: CommandKind = a.kind  # type: ignore[assignment]
            room.time.at(a.at, functools.partial(director.command, Command(room_id, kind)))
    seen["stop"].append((horizon, None))
    room.time.at(horizon, director.stop)
    return seen


def first_sentence(room: Room) -> str:
    text = room.script(0).sentence(room.script(0).first_position() or Position())
    assert text is not None
    return text


def cuts(room: Room) -> dict[int, OutputEvent]:
    """The room's ``cut`` events by the seq of the sentence they cut."""
    return {int(e.data["of"]): e for e in room.bus.events("cut")}


def check_show(room: Room, seen: dict[str, list[tuple[float, Any]]]) -> None:
    said = utterances(room)
    stop_at = seen["stop"][0][0]
    cut = cuts(room)
    by_seq = {e.seq: e for _, e in said}
    # 1. Only script sentences are cut, each at an offset inside its clip; the next utterance is the
    #    answer or operator line it was cut for, starting at the cut; anything else plays whole.
    for seq, c in cut.items():
        e = by_seq[seq]
        assert e.kind == "say"
        assert e.data.get("origin") == "script"
        assert 0.0 <= float(c.data["at"]) < played_for(room, e)
        assert c.data["position"] == e.data["position"]
    for (t0, e0), (t1, e1) in itertools.pairwise(said):
        if e0.seq in cut:
            assert t1 >= t0 + float(cut[e0.seq].data["at"]) - 1e-3  # "at" is rounded to ms
            assert e1.kind == "answer" or e1.data.get("origin") == "operator", (e1.kind, e1.data)
        else:
            assert t1 >= t0 + played_for(room, e0) - 1e-9, (e0.kind, e0.data["text"])
    # 2. Script sentences in script order, without gaps; a cut sentence is said again, whole, next
    #    (never cut twice in a row); a skip restarts at its product.
    says = [(t, e) for t, e in said if e.kind == "say" and e.data.get("origin") == "script"]
    first = room.script(0).first_position()
    expected = first
    previous_at = -1.0
    previous_cut = False
    for t, e in says:
        skips = [link for at, link in seen["skip_to"] if previous_at < at <= t]
        if skips:
            loop = expected.loop if expected is not None else 0
            expected = room.script(loop).position_of_link(skips[-1])
        elif previous_cut:
            assert e.seq not in cut, "a sentence said again after a cut was cut again"
        assert Position.from_dict(e.data["position"]) == expected
        assert e.data["text"] == room.script(expected.loop).sentence(expected)
        previous_cut = e.seq in cut
        if not previous_cut:
            expected = room.next_position(expected)
        previous_at = t
    # 3. A say_now is the first utterance after it arrives (in arrival order), unless stop came first.
    operator = [(t, e) for t, e in said if e.data.get("origin") == "operator"]
    spoken = [str(e.data["text"]) for _, e in operator]
    due = [text for at, text in seen["say_now"] if at < stop_at]
    assert spoken == due
    for at, text in seen["say_now"]:
        if at >= stop_at:
            continue
        after = [e for t, e in said if t >= at]
        assert after, "a say_now was never said"
        assert after[0].data.get("origin") == "operator"
        assert text in spoken
    # 4. Paused rooms say nothing but the operator's lines; nothing after stop either.
    for at, order in seen["pause"]:
        # The first resume that arrived after this pause (a resume at the same instant counts).
        resumed = min((r for r, j in seen["resume"] if (r, j) > (at, order)), default=float("inf"))
        for t, e in said:
            if at <= t < resumed:
                assert e.data.get("origin") == "operator", (at, t, e.kind, e.data.get("text"))
    for t, e in said:
        if t >= stop_at:
            assert e.data.get("origin") == "operator"
    # 5. Every answer is whole and has its questions; the triage handed out exactly these groups.
    answers = [e for _, e in said if e.kind == "answer"]
    for e in answers:
        assert e.data["questions"]
        assert str(e.data["text"]).strip()
        assert e.audio is not None
        assert e.audio.duration == room.tts.duration(str(e.data["text"]))
    stats = room.director.triage.stats()
    # An answer prepared while the room was paused and still waiting when it stopped is not said.
    held = 1 if room.director.snapshot()["prepared"] == "answered" else 0
    quiet = room.director.counters["quiet_answers"]  # the same answer just spoken: shown, not said again
    # Groups that waited `airtime.screen_after_s` for the voice were answered on screen; a group the
    # pipeline had no answer for is counted as dropped (no_answer). Every group taken is one of these.
    screen = room.director.counters["screen_answers"]
    unanswered = room.director.snapshot()["dropped_by_director"].get("no_answer", 0)
    assert len(answers) + held + quiet + screen + unanswered == stats["answered"]
    assert room.director.finished
    assert room.director.status == "stopped"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrivals=arrivals_strategy)
def test_interleaved_questions_and_commands_keep_the_show_in_order(
    demo_services: Services, state_store: RoomStateStore, arrivals: list[Arrival]
) -> None:
    time = VirtualTime()
    room = build_room(demo_services, state_store, make_plan(f"p-{uuid.uuid4().hex[:8]}"), time)
    seen = schedule(room, arrivals, horizon=100.0)
    time.deliver()  # what arrives at 0.0 is there before the show starts
    asyncio.run(asyncio.wait_for(room.director.run(), 30))
    check_show(room, seen)


# -- restart: cancel the task anywhere, a new director resumes at the next unsaid sentence -------------
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.floats(min_value=0.1, max_value=70.0, allow_nan=False),
    questions=st.lists(st.floats(min_value=0.0, max_value=90.0, allow_nan=False), max_size=5),
)
def test_a_restart_resumes_at_the_next_unsaid_sentence(
    demo_services: Services, state_store: RoomStateStore, cut: float, questions: list[float]
) -> None:
    plan = make_plan(f"r-{uuid.uuid4().hex[:8]}")
    time = VirtualTime()
    first = build_room(demo_services, state_store, plan, time)
    for i, at in enumerate(questions):
        if at < cut:
            time.at(at, functools.partial(first.ask, i, QUESTIONS[i % len(QUESTIONS)]))

    async def crash_then_resume() -> Room:
        task = asyncio.create_task(first.director.run())
        time.at(cut, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
        second = build_room(demo_services, state_store, plan, time)
        time.at(cut + 40.0, second.director.stop)
        await asyncio.wait_for(second.director.run(), 30)
        return second

    second = asyncio.run(crash_then_resume())
    before = [(p.at, p.event) for p in first.bus.log if p.event.kind == "say"]
    after = second.bus.script_says()
    assert after, "the resumed room said nothing"
    resumed_at = Position.from_dict(after[0].data["position"])
    if before:
        last_at, last = before[-1]
        last_pos = Position.from_dict(last.data["position"])
        # Cut by the crash or for an answer while it played: that one sentence again; else the next one.
        finished = last.seq not in cuts(first) and last_at + played_for(first, last) <= cut
        assert resumed_at == (first.next_position(last_pos) if finished else last_pos)
    else:
        assert resumed_at == first.script(0).first_position()
    # From there on, script order without gaps or repeats.
    expected = resumed_at
    for e in after:
        assert Position.from_dict(e.data["position"]) == expected
        expected = first.next_position(expected)
    # The product card goes up again for the resumed product.
    assert second.bus.events()[1].kind == "product"


@pytest.mark.parametrize("switched_off_by", ["options", "plan"])
async def test_without_barge_in_an_answer_waits_for_the_sentence_and_the_script_resumes_after_it(
    demo_services: Services, state_store: RoomStateStore, switched_off_by: str
) -> None:
    time = VirtualTime()
    by_plan = switched_off_by == "plan"
    options = DirectorOptions(idle_poll_s=0.5, barge_in=by_plan)
    # Every answer by voice (a held answer would otherwise go on screen after `airtime.screen_after_s`).
    plan = make_plan(
        f"a-{uuid.uuid4().hex[:8]}",
        interrupt="sentence_end" if by_plan else "at_pause",
        airtime={"screen_after_s": 0},
    )
    # Pauses every 0.75 s: with barge-in on, the answer would cut the sentence at 1.5 s.
    room = build_room(
        demo_services, state_store, plan, time, options=options, tts=FixedClipTTS(pause_every=0.75)
    )
    time.at(1.0, lambda: room.ask(1, "1号链接多少钱"))
    time.at(30.0, room.director.stop)
    await room.director.run()
    said = utterances(room)
    kinds = [e.kind for _, e in said]
    answer_index = kinds.index("answer")
    t_first, first = said[0]
    # The question came in during the first sentence: the answer follows it, not before its end.
    assert answer_index == 1
    assert first.audio is not None
    assert said[1][0] == pytest.approx(t_first + first.audio.duration)
    assert not room.bus.events("cut")
    answer = said[1][1]
    assert "159" in str(answer.data["text"])
    assert answer.data["questions"] == [{"nickname": "viewer1", "text": "1号链接多少钱"}]
    # The answer was prepared while the sentence played: it waited (held) for the rest of it.
    assert answer.data["timings_ms"]["held"] == pytest.approx((t_first + first.audio.duration - 1.0) * 1000)
    # Then the second sentence of the script, exactly.
    script = room.script(0)
    second = script.next_position(script.first_position() or Position())
    assert second is not None
    assert said[2][1].data["position"] == second.to_dict()
    product = room.bus.events("product")[0]
    assert product.data["price"] == "¥159"
    assert product.data["list_price"] == "¥229"
    assert product.data["link"] == 1
    assert product.data["stock_state"] == "in_stock"


async def asked_at_one_second(
    services: Services,
    state: RoomStateStore,
    *,
    stop_at: float,
    then: tuple[float, Callable[[Room], object]] | None = None,
    tts: FixedClipTTS | None = None,
) -> Room:
    """A room whose sentences pause every 0.75 s (``tts``), asked "1号链接多少钱" 1 s into the show (and
    ``then`` (when, action) something else), run until ``stop_at``."""
    time = VirtualTime()
    tts = tts or FixedClipTTS(pause_every=0.75)
    room = build_room(services, state, make_plan(f"p-{uuid.uuid4().hex[:8]}"), time, tts=tts)
    time.at(1.0, lambda: room.ask(1, "1号链接多少钱"))
    if then is not None:
        when, action = then
        time.at(when, lambda: action(room))
    time.at(stop_at, room.director.stop)
    await room.director.run()
    return room


async def test_an_answer_cuts_the_sentence_at_its_next_pause_and_the_script_resumes_there(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    room = await asked_at_one_second(demo_services, state_store, stop_at=30.0)
    said = utterances(room)
    (t0, first), (t1, answer), (t2, rest), (t3, then) = said[:4]
    assert first.audio is not None
    assert first.audio.duration > 1.0 + DirectorOptions().finish_within_s
    # Ready at 1.0 s (pipeline and speech take no virtual time): the next pause is at 1.5 s.
    [cut] = room.bus.events("cut")
    assert cut.data == {"of": first.seq, "at": 1.5, "reason": "answer", "position": first.data["position"]}
    assert t1 - t0 == pytest.approx(1.5)
    assert answer.kind == "answer"
    assert answer.seq == cut.seq + 1
    assert "159" in str(answer.data["text"])
    # As soon as the answer has played, the sentence goes on from the pause where it stopped: the rest
    # of its audio, nothing said twice; then the next sentence.
    assert answer.audio is not None
    assert t2 == pytest.approx(t1 + answer.audio.duration)
    assert rest.data["position"] == first.data["position"]
    assert rest.data["resumed_at"] == 1.5
    assert "resumed_at" not in first.data
    assert rest.audio is not None
    assert rest.audio.duration == pytest.approx(first.audio.duration - 1.5, abs=1e-3)
    assert str(first.data["text"]).endswith(str(rest.data["text"]))
    assert t3 == pytest.approx(t2 + rest.audio.duration)
    script = room.script(0)
    assert then.data["position"] == room.next_position(script.first_position() or Position()).to_dict()
    assert room.director.counters["cuts"] == 1
    # The cut piece is not counted as said; its rest, which finished the sentence, is.
    assert room.director.counters["said"] == len(room.bus.script_says()) - 1


async def test_the_rest_of_a_cut_sentence_can_be_cut_again_further_on(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    # Slow speech, so the rest of the first sentence is long enough to be cut again.
    tts = FixedClipTTS(pause_every=0.75, per_char=0.25)
    # A first run learns how long the answer to the first question is.
    dry = await asked_at_one_second(demo_services, state_store, stop_at=10.0, tts=tts)
    [answered] = dry.bus.events("answer")
    assert answered.audio is not None
    # 0.3 s into the rest (which starts at 1.5 s + the answer): the rest's next pause is 0.75 s in.
    second_at = 1.5 + answered.audio.duration + 0.3
    room = await asked_at_one_second(
        demo_services,
        state_store,
        stop_at=60.0,
        then=(second_at, lambda r: r.ask(2, "什么时候发货")),
        tts=FixedClipTTS(pause_every=0.75, per_char=0.25),
    )
    said = utterances(room)
    (_, first), (_, _a1), (t2, rest), (t3, _a2), (_, rest2) = said[:5]
    assert [(c.data["of"], c.data["at"]) for c in room.bus.events("cut")] == [
        (first.seq, 1.5),
        (rest.seq, 0.75),
    ]
    assert t3 - t2 == pytest.approx(0.75)
    assert rest2.data["position"] == first.data["position"]
    assert rest2.data["resumed_at"] == 2.25  # offsets add up in the sentence's own audio
    assert first.audio is not None
    assert rest2.audio is not None
    assert rest2.audio.duration == pytest.approx(first.audio.duration - 2.25, abs=1e-3)
    # Each sentence is finished once, in order: the cut pieces do not advance the script.
    assert room.director.counters["cuts"] == 2
    assert said[5][1].data["position"] != first.data["position"]


async def test_no_pause_in_reach_cuts_at_once_and_a_short_remainder_is_not_cut(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    time = VirtualTime()
    room = build_room(demo_services, state_store, make_plan(f"n-{uuid.uuid4().hex[:8]}"), time)
    first_len = room.tts.duration(first_sentence(room))
    time.at(0.4, lambda: room.ask(1, "1号链接多少钱"))  # no pauses at all: cut at 0.4 s
    time.at(30.0, room.director.stop)
    await room.director.run()
    [cut] = room.bus.events("cut")
    assert cut.data["at"] == pytest.approx(0.4)
    # A question near the end of a sentence: it finishes (within finish_within_s), no cut.
    time = VirtualTime()
    room = build_room(demo_services, state_store, make_plan(f"m-{uuid.uuid4().hex[:8]}"), time)
    time.at(first_len - 0.5, lambda: room.ask(1, "1号链接多少钱"))
    time.at(30.0, room.director.stop)
    await room.director.run()
    assert not room.bus.events("cut")
    said = utterances(room)
    assert said[1][1].kind == "answer"
    assert said[1][0] == pytest.approx(first_len)


@pytest.mark.parametrize("limit", [3, 0])
async def test_a_busy_chat_never_silences_the_selling(
    demo_services: Services, state_store: RoomStateStore, limit: int
) -> None:
    time = VirtualTime()
    options = DirectorOptions(idle_poll_s=0.5, max_answers_in_row=limit)
    # Every answer by voice (no screen lane): this is about the voice's airtime rules.
    plan = make_plan(f"f-{uuid.uuid4().hex[:8]}", airtime={"screen_after_s": 0})
    room = build_room(demo_services, state_store, plan, time, options=options)
    questions = [
        "1号链接多少钱",
        "2号链接多少钱",
        "什么时候发货",
        "包邮吗",
        "1号有什么颜色",
        "2号还有货吗",
        "支持退货吗",
    ]
    for number, text in enumerate(questions):
        time.at(0.2 + 0.01 * number, functools.partial(room.ask, number, text))
    time.at(120.0, room.director.stop)
    await room.director.run()
    kinds = [e.kind for _, e in utterances(room)]
    answers = kinds.count("answer")
    assert answers + room.director.counters["quiet_answers"] == len(questions)
    runs, run = [], 0
    for kind in kinds[: kinds.index("answer") + answers + 10]:
        if kind == "answer":
            run += 1
        elif run:
            runs.append(run)
            run = 0
    if limit:
        # The first sentence is cut for the first answer; then never more than three answers in a row.
        assert max(runs) == 3, kinds
        assert room.director.counters["cuts"] == 1
    else:
        # No limit on answers in a row: the plan's airtime share still brings the selling back.
        assert max(runs) < len(questions), kinds


async def test_questions_the_voice_cannot_reach_in_time_are_answered_on_screen(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    time = VirtualTime()
    plan = make_plan(f"s-{uuid.uuid4().hex[:8]}", airtime={"screen_after_s": 5})
    room = build_room(demo_services, state_store, plan, time, options=DirectorOptions(idle_poll_s=0.5))
    questions = ["1号链接多少钱", "2号链接多少钱", "什么时候发货", "包邮吗", "1号有什么颜色", "2号还有货吗"]
    asked_at = 0.2
    for number, text in enumerate(questions):
        time.at(asked_at, functools.partial(room.ask, number, text))
    time.at(60.0, room.director.stop)
    await room.director.run()
    spoken = [e for _, e in utterances(room) if e.kind == "answer"]
    screen = [p for p in room.bus.log if p.event.kind == "answer" and p.event.data.get("channel") == "screen"]
    counters = room.director.counters
    assert screen, "a burst is answered on screen too"
    assert spoken, "and by voice"
    assert len(spoken) + len(screen) + counters["quiet_answers"] == len(questions)
    assert counters["screen_answers"] == len(screen)
    for published in screen:
        data = published.event.data
        assert data["spoken"] is False
        assert published.event.audio is None
        assert data["questions"]
        assert data["full_text"] in data["text"]
        # Taken once it waited 5 s: within one poll of the deadline, not whenever the voice is free.
        assert 5.0 <= published.at - asked_at <= 5.0 + DirectorOptions().screen_poll_s + 1e-6
    latency = room.director.snapshot()["latency_s"]
    assert latency["screen"]["n"] == len(screen)
    assert latency["spoken"]["n"] == len(spoken)
    assert latency["all"]["n"] == len(screen) + len(spoken) + counters["quiet_answers"]
    # The operator's feed: one entry per answer, on the bus as ``decision`` events.
    items = [i for e in room.bus.events("decision") for i in e.data["items"]]
    channels = sorted(i["channel"] for i in items if i["decision"] == "answered")
    assert channels.count("screen") == len(screen)
    assert channels.count("spoken") == len(spoken)


async def test_an_answer_held_back_for_the_selling_past_its_deadline_goes_on_screen(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    time = VirtualTime()
    plan = make_plan(f"h-{uuid.uuid4().hex[:8]}", airtime={"screen_after_s": 2, "max_answers_in_row": 1})
    room = build_room(demo_services, state_store, plan, time, options=DirectorOptions(idle_poll_s=0.5))
    time.at(0.2, functools.partial(room.ask, 0, "1号链接多少钱"))
    time.at(0.21, functools.partial(room.ask, 1, "2号链接多少钱"))
    time.at(30.0, room.director.stop)
    await room.director.run()
    kinds = [(e.kind, e.data.get("origin")) for _, e in utterances(room)]
    # One answer by voice, then the selling's sentence it is owed (never cut) ...
    first = kinds.index(("answer", None))
    assert kinds[first + 1] == ("say", "script")
    assert kinds.count(("answer", None)) == 1
    # ... while the second answer, prepared meanwhile, went to the screen once it had waited 2 s.
    (screen,) = [p for p in room.bus.log if p.event.data.get("channel") == "screen"]
    assert "2号" in screen.event.data["questions"][0]["text"]
    assert screen.event.data["spoken"] is False
    assert screen.event.audio is None
    assert screen.event.data["text"].endswith(screen.event.data["full_text"])
    assert room.director.counters["screen_answers"] == 1


async def test_a_rest_that_cannot_be_cut_from_the_audio_is_said_whole_and_a_skip_drops_it(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    class UndecodableTTS(FixedClipTTS):
        async def synthesize(
            self, text: str, voice: str | None = None, prosody: Prosody | None = None
        ) -> Clip:
            clip = await super().synthesize(text, voice, prosody)
            return dataclasses.replace(clip, audio=b"not audio at all")

    room = await asked_at_one_second(
        demo_services, state_store, stop_at=30.0, tts=UndecodableTTS(pause_every=0.75)
    )
    (_, first), (_, answer), (_, again) = utterances(room)[:3]
    assert room.bus.events("cut")
    assert answer.kind == "answer"
    # The audio could not be cut at the pause: the sentence is said again from its start.
    assert again.data["position"] == first.data["position"]
    assert again.data["resumed_at"] == 0.0
    assert again.audio is not None
    assert first.audio is not None
    assert again.audio.duration == first.audio.duration

    # The operator skips to another product while the answer plays: the rest is not said.
    room = await asked_at_one_second(
        demo_services, state_store, stop_at=30.0, then=(1.6, lambda r: r.director.skip_to(2))
    )
    said = utterances(room)
    assert said[1][1].kind == "answer"
    after = said[2][1]
    assert "resumed_at" not in after.data
    assert after.data["link"] == 2
    assert room.director.snapshot()["resume_at"] is None


async def test_without_pauses_a_cut_sentence_is_said_again_whole_and_not_cut_twice(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    time = VirtualTime()
    room = build_room(demo_services, state_store, make_plan(f"t-{uuid.uuid4().hex[:8]}"), time)
    time.at(0.5, lambda: room.ask(1, "1号链接多少钱"))
    time.at(0.7, lambda: room.ask(2, "2号链接是多少毫升的"))  # arrives while the first answer plays
    time.at(60.0, room.director.stop)
    await room.director.run()
    said = utterances(room)
    kinds = [(e.kind, e.data.get("origin")) for _, e in said[:5]]
    # sentence (cut at 0.5 s) → answer 1 (whole: answer 2 waits) → answer 2 → the sentence again → next.
    assert kinds == [
        ("say", "script"),
        ("answer", None),
        ("answer", None),
        ("say", "script"),
        ("say", "script"),
    ]
    assert [int(c.data["of"]) for c in room.bus.events("cut")] == [said[0][1].seq]
    a1_at, a1 = said[1]
    assert a1.audio is not None
    assert said[2][0] == pytest.approx(a1_at + a1.audio.duration)

    # A question while the cut sentence is said again (it had no pause to resume at, so it starts over):
    # that sentence is not cut a second time, or a busy chat could keep it from ever being said.
    time = VirtualTime()
    again = build_room(demo_services, state_store, make_plan(f"u-{uuid.uuid4().hex[:8]}"), time)
    first_len = again.tts.duration(first_sentence(again))
    time.at(0.5, lambda: again.ask(1, "1号链接多少钱"))
    time.at(0.5 + a1.audio.duration + 0.3, lambda: again.ask(3, "什么时候发货"))
    time.at(60.0, again.director.stop)
    await again.director.run()
    said = utterances(again)
    assert [int(c.data["of"]) for c in again.bus.events("cut")] == [said[0][1].seq]
    repeat_at, repeat = said[2]
    assert repeat_at == pytest.approx(0.5 + a1.audio.duration)
    assert repeat.data["position"] == said[0][1].data["position"]
    assert said[3][1].kind == "answer"
    assert said[3][0] == pytest.approx(repeat_at + first_len)


async def test_tts_failure_publishes_text_only_and_the_show_goes_on(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    time = VirtualTime()
    tts = FixedClipTTS(fail=lambda text: "链接" in text)
    plan = make_plan(f"f-{uuid.uuid4().hex[:8]}", loop=False)
    room = build_room(demo_services, state_store, plan, time, tts=tts)
    lines = list(room.script(0).lines())
    time.at(200.0, room.director.stop)
    await room.director.run()
    says = room.bus.script_says()
    assert [e.data["text"] for e in says] == [text for *_, text in lines]
    silent = [e for e in says if e.audio is None]
    assert silent
    assert all("链接" in str(e.data["text"]) for e in silent)
    assert all(e.audio is not None for e in says if "链接" not in str(e.data["text"]))
    assert room.director.counters["tts_failures"] == len(silent)
    # A text-only line stays up for its reading time.
    start = {id(p.event): p.at for p in room.bus.log}
    for e, nxt in itertools.pairwise(says):
        if e.audio is None:
            assert start[id(nxt)] - start[id(e)] >= room.director.reading_time(str(e.data["text"])) - 1e-9


async def test_end_of_a_non_looping_show_idles_with_fillers_and_still_answers(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    time = VirtualTime()
    plan = make_plan(f"i-{uuid.uuid4().hex[:8]}", loop=False, fillers=["欢迎新进来的宝宝，点点关注不迷路。"])
    room = build_room(
        demo_services, state_store, plan, time, options=DirectorOptions(idle_poll_s=0.5, filler_after_s=10.0)
    )
    script_end = sum(room.tts.duration(text) for *_, text in room.script(0).lines())
    time.at(script_end + 3.0, lambda: room.ask(7, "2号链接多少钱"))
    time.at(script_end + 40.0, room.director.stop)
    await room.director.run()
    said = utterances(room)
    origins = [e.data.get("origin", e.kind) for _, e in said]
    n_script = len(list(room.script(0).lines()))
    assert origins[:n_script] == ["script"] * n_script
    assert "answer" in origins[n_script:]
    assert "filler" in origins[n_script:]
    assert origins.count("filler") >= 2
    fillers = [t for (t, e) in said if e.data.get("origin") == "filler"]
    assert all(b - a >= 10.0 for a, b in itertools.pairwise(fillers))
    assert any(e.kind == "state" and e.data["idle"] for e in room.bus.events("state"))


async def test_skip_and_pause_validate_their_arguments(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    room = build_room(demo_services, state_store, make_plan("v-room"), VirtualTime())
    with pytest.raises(ValueError, match="has no link 9"):
        room.director.skip_to(9)
    with pytest.raises(ValueError, match="link number"):
        room.director.command(Command("v-room", "skip_to", "abc"))
    with pytest.raises(ValueError, match="needs a line"):
        room.director.command(Command("v-room", "say_now", "  "))
    with pytest.raises(ValueError, match="sent to room"):
        room.director.command(Command("other", "pause"))
    room.director.command(Command("v-room", "skip_to", "2号链接"))
    assert room.director.snapshot()["pending_commands"] == 1


async def test_operator_lines_pass_compliance(demo_services: Services, state_store: RoomStateStore) -> None:
    time = VirtualTime()
    room = build_room(demo_services, state_store, make_plan(f"c-{uuid.uuid4().hex[:8]}"), time)
    time.at(0.5, lambda: room.director.say_now("这是全网最低价的卫衣，大家快来拍。"))
    time.at(20.0, room.director.stop)
    await room.director.run()
    operator = [e for e in room.bus.events("say") if e.data.get("origin") == "operator"]
    assert len(operator) == 1
    assert "最低价" not in str(operator[0].data["text"])


# -- the real offline chain: espeak-ng through voice.build_tts ------------------------------------------
@pytest.mark.integration
@pytest.mark.slow
async def test_espeak_chain_speaks_the_script_and_an_answer(
    demo_services: Services, state_store: RoomStateStore, tmp_path: Path
) -> None:
    tts = build_tts("espeak", cache_dir=tmp_path / "tts-cache")
    time = VirtualTime()
    plan = RoomPlan.model_validate(
        {
            "room_id": f"e-{uuid.uuid4().hex[:8]}",
            "merchant": "demo",
            "loop": False,
            "items": [{"link": 1, "sku": "ZH-AP-001", "segments": ["hook", "price_offer"]}],
        }
    )
    bus = RecordingBus(time.clock)
    triage = ChatTriage(
        plan.room_id, options=TriageOptions.for_plan(plan), clock=time.clock, link_map=plan.link_map()
    )
    builder = ScriptBuilder(demo_services.store)
    director = Director(
        plan,
        script_builder=builder,
        triage=triage,
        pipeline=demo_services.pipeline,
        tts=tts,
        bus=bus,
        state=state_store,
        catalog=demo_services.store,
        sleep=time.sleep,
        clock=time.clock,
    )
    time.at(0.2, lambda: triage.offer(ViewerMessage(plan.room_id, "小美", "这个多少钱", user_id="u1")))
    script = builder.build(plan)
    total = sum(1 for _ in script.lines())
    time.at(120.0, director.stop)
    await director.run()
    says = bus.script_says()
    assert [e.data["text"] for e in says] == [text for *_, text in script.lines()]
    assert len(says) == total
    answers = bus.events("answer")
    assert len(answers) == 1
    assert "159" in str(answers[0].data["text"])
    for e in [*says, *answers]:
        assert e.audio is not None
        assert e.audio.engine == "espeak"
        assert e.audio.duration > 0.3
        assert e.audio.data
        assert e.audio.cues
    # The show waited exactly the clips' durations (plus idle polls at the end).
    played = [s for _, s in time.sleeps]
    for e in [*says, *answers]:
        assert e.audio is not None
        assert e.audio.duration in played
    assert director.counters["tts_failures"] == 0


# -- a busy room: after-sales always handled, the selling keeps its airtime -------------------------------


def test_after_sales_in_a_busy_room_is_always_handed_off(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    time = VirtualTime()
    room = build_room(demo_services, state_store, make_plan(f"as-{uuid.uuid4().hex[:8]}"), time)
    for i in range(30):  # a flood of product questions from many viewers
        time.at(0.1 * i, functools.partial(room.ask, 100 + i, ["1号多少钱", "2号有货吗", "包邮吗"][i % 3]))
    time.at(1.0, functools.partial(room.ask, 7, "我的订单20240501123456三天了还没发货"))
    time.at(1.5, functools.partial(room.ask, 8, "卫衣破洞要退货"))
    time.at(70.0, functools.partial(room.ask, 7, "我的订单还没发货！！到底什么时候发"))  # told again, late

    def anonymous() -> None:
        msg = ViewerMessage(room.plan.room_id, "路人甲", "收到的口红断了怎么办", user_id=None)
        if room.director.triage.offer(msg).accepted:  # type: ignore[attr-defined]
            room.director.notify()

    time.at(2.0, anonymous)
    time.at(100.0, room.director.stop)
    asyncio.run(asyncio.wait_for(room.director.run(), 30))
    said = [(t, e) for t, e in utterances(room) if e.kind == "answer" and e.data.get("after_sales")]
    shown = [
        (p.at, p.event)
        for p in room.bus.log
        if p.event.kind == "answer"
        and p.event.data.get("after_sales")
        and p.event.data.get("spoken") is False
    ]
    spoken = " ".join(str(e.data["text"]) for _, e in said)
    assert "@viewer7" in spoken
    assert "@viewer8" in spoken
    assert "已为您转接客服" in spoken
    assert "@路人甲" in spoken
    assert "私信" in spoken
    assert "20240501123456" not in spoken + " ".join(str(e.data) for _, e in shown)  # nothing private
    tickets = {t for _, e in shown for t in e.data["tickets"]}
    assert len(tickets) == 2  # viewer 7 told it twice: one ticket
    counters = room.director.counters
    assert counters["after_sales_messages"] == 4, [e.data["questions"] for _, e in shown]
    assert counters["after_sales"] == len(said)  # public lines said, each naming several viewers
    service = demo_services.tickets
    first = next(t for t in tickets if service.get("demo", t).order_ids)
    assert service.get("demo", first).priority in ("high", "urgent")  # rose when told again
    # A ticket and a bubble within seconds of arriving, whatever the queue of product questions; the
    # names on air within half a minute.
    assert min(t for t, _ in shown) < 5.0
    assert min(t for t, _ in said) < 30.0


def test_the_selling_keeps_its_share_of_airtime_in_a_flood(
    demo_services: Services, state_store: RoomStateStore
) -> None:
    time = VirtualTime()
    room = build_room(demo_services, state_store, make_plan(f"at-{uuid.uuid4().hex[:8]}"), time)
    questions = ["多少钱", "有货吗", "什么颜色", "什么尺码", "包邮吗", "能退吗", "什么材质", "怎么洗"]
    for i in range(600):  # two a second for five minutes
        text = f"{1 + i % 2}号{questions[i % len(questions)]}"
        time.at(0.5 * i, functools.partial(room.ask, i, text))
    time.at(300.0, room.director.stop)
    asyncio.run(asyncio.wait_for(room.director.run(), 60))
    spans: list[tuple[float, float, bool]] = []
    for t, e in utterances(room):
        spans.append((t, t + played_for(room, e), e.kind == "say" and e.data.get("origin") == "script"))
    assert sum(1 for *_, script in spans if not script) > 20  # the chat was answered too
    for start in range(0, 180, 10):  # every 2-minute window
        lo, hi = float(start), float(start + 120)
        script = sum(max(0.0, min(b, hi) - max(a, lo)) for a, b, s in spans if s)
        total = sum(max(0.0, min(b, hi) - max(a, lo)) for a, b, _s in spans)
        assert script / total >= 0.35, (start, script, total)
