"""A live room end to end: viewer question to the start of its spoken answer.

One room (`RoomManager` + `Director`) runs the demo catalog's script with the real offline speech chain
(espeak-ng, mastered in the rooms' audio format, no clip cache so every line is synthesised) and the
real answer pipeline (`Services`: the multilingual USE embedder, or the hash embedder with ``quick``).
Viewer questions arrive at random times while the script plays. The director prepares an answer as
soon as a question arrives (pipeline and speech run while the sentence is still on air) and then cuts
the script sentence at its next pause (barge-in, see `agent.live.director`) or lets it finish when it
is about to end anyway:

    latency = picked up (waiting behind another answer being prepared)
              + processing (pipeline + TTS)
              + held (until the cut point, the end of the sentence, or answers queued before it)

Playing is modelled by waiting a clip's duration divided by ``SPEED_UP`` to keep the run short. The
room (director and triage) runs on a *show clock* that counts time spent in those waits ``SPEED_UP``
times and everything else (pipeline, synthesis, persisting) as measured, so every figure below is in
show seconds, as a viewer would experience them. The start of an answer is the instant its event is
published (the page starts playing its audio then, after its playout buffer). ``barge_in`` is also run
off for comparison (the answer waits for the sentence in progress to end).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.live.bus import InProcessBus
from agent.live.director import DirectorOptions
from agent.live.events import OutputEvent, ViewerMessage
from agent.live.manager import RoomFactory, RoomManager
from agent.live.plan import RoomPlan
from agent.live.state import RoomStateStore
from agent.live.triage import TriageDecision
from api.services import Services
from api.settings import Settings
from evals.bench.common import machine_info, percentiles
from voice import MasterSpec, build_tts

#: Playback runs this many times faster than real audio.
SPEED_UP = 10.0
TARGET_P95_MS = 1500.0

_ROOT = Path(__file__).resolve().parents[2]
_DEMO = _ROOT / "samples" / "demo"

_QUESTIONS = [
    "{link}号链接多少钱",
    "{link}号有优惠吗",
    "{link}号还有货吗",
    "这个多少钱",
    "这个有什么颜色",
    "什么时候发货",
    "支持七天无理由退货吗",
    "{link}号链接是什么材质",
    "这个适合什么人用",
    "{link}号链接有什么规格",
    "{link}号适合送人吗",
    "{link}号怎么用",
    "包邮吗",
    "{link}号有赠品吗",
    "{link}号保质期多久",
    "{link}号有几种颜色",
]


@dataclass
class _Asked:
    nickname: str
    text: str
    at: float  # show time when offered
    accepted: bool


class _ShowTime:
    """Playback waits run ``SPEED_UP`` times faster than show time; `clock` is the show clock."""

    def __init__(self) -> None:
        self._origin = time.perf_counter()
        self._inside = 0.0  # real seconds spent in finished playback waits
        self._since: float | None = None  # real start of the wait in progress

    def clock(self) -> float:
        now = time.perf_counter()
        inside = self._inside + (now - self._since if self._since is not None else 0.0)
        return (now - self._origin) + inside * (SPEED_UP - 1.0)

    async def sleep(self, seconds: float) -> None:
        await self._scaled(asyncio.sleep(max(0.0, seconds) / SPEED_UP))

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        try:
            await self._scaled(asyncio.wait_for(event.wait(), max(0.0, seconds) / SPEED_UP))
        except TimeoutError:
            return False
        event.clear()
        return True

    async def _scaled(self, waiting: Any) -> None:
        self._since = time.perf_counter()
        try:
            await waiting
        finally:
            self._inside += time.perf_counter() - self._since
            self._since = None


class _TimedBus(InProcessBus):
    """The in-process bus, noting the show time at which each event was published."""

    def __init__(self, clock: Any) -> None:
        super().__init__(max_queue=10_000)
        self._clock = clock
        self.log: list[tuple[float, OutputEvent]] = []

    async def publish(self, event: OutputEvent) -> None:
        self.log.append((self._clock(), event))
        await super().publish(event)


def _on_air(log: list[tuple[float, OutputEvent]], at: float) -> str:
    """What was playing at show time ``at``: "script", "script_rest" (a cut sentence resumed),
    "answer", "other" (ack, filler, operator line) or "nothing"."""
    cut_at = {int(e.data["of"]): float(e.data["at"]) for _, e in log if e.kind == "cut"}
    playing = "nothing"
    for published, event in log:
        if published > at:
            break
        if event.kind not in ("say", "answer", "ack") or event.audio is None:
            continue
        end = published + cut_at.get(event.seq, event.audio.duration)
        if at >= end:
            playing = "nothing"
        elif event.kind == "answer":
            playing = "answer"
        elif event.kind == "say" and event.data.get("origin") == "script":
            playing = "script_rest" if "resumed_at" in event.data else "script"
        else:
            playing = "other"
    return playing


def room_factory(services: Services, bus: Any, options: DirectorOptions, **timing: Any) -> RoomFactory:
    """A room factory with the real pipeline and the offline speech chain, as the room benchmarks run
    it; ``timing`` passes the factory's sleep/wait/clock (real time when left out)."""
    tts = build_tts("espeak", cache_dir=None, master=MasterSpec(format=services.settings.room_audio_format))
    return RoomFactory(
        catalog=services.store,
        pipeline=services.pipeline,
        tts=tts,
        bus=bus,
        state=RoomStateStore(services.engine),
        director_options=options,
        **timing,
    )


def _plan(room_id: str = "bench-room") -> RoomPlan:
    """Four demo products, looping (the load benchmark runs the same show)."""
    return RoomPlan.model_validate(
        {
            "room_id": room_id,
            "merchant": "demo",
            "language": "zh",
            "loop": True,
            "items": [
                {"link": 1, "sku": "ZH-AP-001"},
                {"link": 2, "sku": "ZH-BE-001"},
                {"link": 3, "sku": "ZH-EL-002"},
                {"link": 4, "sku": "ZH-FD-003"},
            ],
        }
    )


async def _drive(services: Services, n_questions: int, seed: int, *, barge_in: bool) -> dict[str, Any]:
    rng = random.Random(seed)
    show = _ShowTime()
    bus = _TimedBus(show.clock)
    factory = room_factory(
        services, bus, DirectorOptions(barge_in=barge_in), sleep=show.sleep, wait=show.wait, clock=show.clock
    )
    manager = RoomManager(factory)
    plan = _plan()
    director = await manager.start(plan, resume=False)
    asked: list[_Asked] = []
    # Warm up: the first sentences are on air before the first question.
    while director.counters["said"] < 2:
        await asyncio.sleep(0.01)
    for i in range(n_questions):
        await asyncio.sleep(rng.uniform(8.0, 40.0) / SPEED_UP)  # about 8-40 s of show time apart
        link = rng.choice(list(plan.link_map()))
        text = rng.choice(_QUESTIONS).format(link=link)
        nickname = f"观众{i:03d}"
        at = show.clock()
        decision = manager.offer(plan.room_id, ViewerMessage(plan.room_id, nickname, text, user_id=f"v{i}"))
        accepted = isinstance(decision, TriageDecision) and decision.accepted
        asked.append(_Asked(nickname, text, at, accepted))
    deadline = time.perf_counter() + 120.0
    while (
        director.triage.stats()["queue"] or director.snapshot()["prepared"]
    ) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    await manager.stop(plan.room_id)

    by_nickname = {a.nickname: a for a in asked}
    totals: list[float] = []
    picked: list[float] = []
    processing: list[float] = []
    held: list[float] = []
    pipeline_ms: list[float] = []
    tts_ms: list[float] = []
    after_cut = 0
    by_on_air: dict[str, list[float]] = {}
    previous: OutputEvent | None = None
    for published, event in bus.log:
        if event.kind == "answer":
            timings = event.data.get("timings_ms", {})
            proc = float(timings.get("pipeline", 0.0)) + float(timings.get("tts", 0.0))
            pipeline_ms.append(float(timings.get("pipeline", 0.0)))
            tts_ms.append(float(timings.get("tts", 0.0)))
            after_cut += previous is not None and previous.kind == "cut"
            for question in event.data.get("questions", []):
                who = by_nickname.get(question["nickname"])
                if who is None:
                    continue
                total = (published - who.at) * 1000.0
                hold = float(timings.get("held", 0.0))
                totals.append(total)
                by_on_air.setdefault(_on_air(bus.log, who.at), []).append(total)
                processing.append(proc)
                held.append(hold)
                picked.append(max(0.0, total - proc - hold))
        if event.kind != "state":
            previous = event
    says = [(t, e) for t, e in bus.log if e.kind == "say" and e.data.get("origin") == "script"]
    cut_of = {int(e.data["of"]) for _, e in bus.log if e.kind == "cut"}
    durations = [e.audio.duration for _, e in says if e.audio is not None]
    gaps = [
        (t1 - t0 - e0.audio.duration) * 1000.0
        for (t0, e0), (t1, e1) in itertools.pairwise(says)
        if e0.audio is not None and e0.seq not in cut_of and e1.seq == e0.seq + 1
    ]
    stats = director.triage.stats()
    return {
        "barge_in": barge_in,
        "questions": len(asked),
        "accepted_by_triage": sum(a.accepted for a in asked),
        "answered_messages": len(totals),
        "answers": len(pipeline_ms),
        "answers_started_at_a_cut": after_cut,
        "sentences_cut": director.counters["cuts"],
        "merged": stats["merged"],
        "dropped": {k: v for k, v in stats["dropped"].items() if v},
        "evicted": {k: v for k, v in stats["evicted"].items() if v},
        "sentences_said": director.counters["said"],
        "sentence_audio_ms": percentiles([d * 1000.0 for d in durations]),
        "answer_audio_ms": percentiles(
            [e.audio.duration * 1000.0 for _, e in bus.log if e.kind == "answer" and e.audio is not None]
        ),
        "question_to_answer_start_ms": percentiles(totals),
        # The same, by what was on air when the question came (answers are never cut).
        "question_to_answer_start_ms_by_on_air": {k: percentiles(v) for k, v in sorted(by_on_air.items())},
        "picked_up_ms": percentiles(picked),
        "processing_ms": percentiles(processing),
        "held_ms": percentiles(held),
        "pipeline_ms": percentiles(pipeline_ms),
        "answer_tts_ms": percentiles(tts_ms),
        "gap_between_sentences_ms": percentiles(gaps),
        "tts_failures": director.counters["tts_failures"],
    }


def run(*, quick: bool = False) -> dict[str, Any]:
    embedder = "hash" if quick else "use-multilingual"
    n_questions = 8 if quick else 40
    result: dict[str, Any] = {
        "benchmark": "director",
        "quick": quick,
        "machine": machine_info(),
        "embedder": embedder,
        "speed_up": SPEED_UP,
        "target_p95_ms": TARGET_P95_MS,
    }
    with tempfile.TemporaryDirectory(prefix="director-bench-") as tmp:
        data_dir = Path(tmp)
        services = Services(Settings(data_dir=data_dir, embedder=embedder, database_url=None))
        result["tts"] = (
            f"espeak-ng via voice.build_tts('espeak'), mastered {services.settings.room_audio_format}, no cache"
        )
        try:
            files = [_DEMO / "products.jsonl", *sorted((_DEMO / "policies").glob("*.md"))]
            started = time.perf_counter()
            services.ingest(files, "demo")
            services.warm_up("demo")
            result["setup_seconds"] = round(time.perf_counter() - started, 1)
            for barge_in in (True, False):
                started = time.perf_counter()
                run_result = asyncio.run(_drive(services, n_questions, seed=7, barge_in=barge_in))
                run_result["run_seconds"] = round(time.perf_counter() - started, 1)
                result["barge_in" if barge_in else "wait_for_sentence_end"] = run_result
        finally:
            services.close()
    total = result["barge_in"]["question_to_answer_start_ms"]
    proc = result["barge_in"]["processing_ms"]
    result["processing_p95_within_target"] = bool(proc.get("n")) and proc["p95"] <= TARGET_P95_MS
    result["total_p95_within_target"] = bool(total.get("n")) and total["p95"] <= TARGET_P95_MS
    return result


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=2))
