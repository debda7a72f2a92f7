"""A live room end to end: viewer question to the start of its spoken answer.

One room (`RoomManager` + `Director`) runs the demo catalog's script with the real offline speech chain
(espeak-ng, mastered to MP3, no clip cache so every line is synthesised) and the real answer pipeline
(`Services`: the multilingual USE embedder, or the hash embedder with ``quick``). Viewer questions
arrive at random times while the script plays. The director answers between sentences, so a question
waits for the sentence in progress to end, then for the pipeline and TTS:

    latency = wait (for the utterance in progress to end, then for answers queued before it)
              + processing (pipeline + TTS)

Playing a clip is modelled by sleeping its duration divided by ``SPEED_UP`` to keep the run short. The
wait component is scaled back: time spent inside playback sleeps counts ``SPEED_UP`` times, everything
else (synthesis of the next sentence, persisting, other answers' processing) counts as measured. The
start of an answer is the instant its event is published (the page starts playing its audio then).
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
from agent.live.events import OutputEvent, ViewerMessage
from agent.live.manager import RoomFactory, RoomManager
from agent.live.plan import RoomPlan
from agent.live.state import RoomStateStore
from agent.live.triage import TriageDecision
from api.services import Services
from api.settings import Settings
from evals.bench.common import machine_info, percentiles
from voice import build_tts

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
    at: float  # perf_counter when offered
    accepted: bool


class _TimedBus(InProcessBus):
    """The in-process bus, noting when each event was published."""

    def __init__(self) -> None:
        super().__init__(max_queue=10_000)
        self.log: list[tuple[float, OutputEvent]] = []

    async def publish(self, event: OutputEvent) -> None:
        self.log.append((time.perf_counter(), event))
        await super().publish(event)


class _ScaledPlayback:
    """Sleeps a clip's duration / SPEED_UP and remembers each playback interval (real seconds)."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []

    async def sleep(self, seconds: float) -> None:
        start = time.perf_counter()
        await asyncio.sleep(seconds / SPEED_UP)
        self.intervals.append((start, time.perf_counter()))

    def remaining(self, at: float) -> float:
        """Show seconds left of the clip playing at real instant ``at`` (0 between clips)."""
        for a, b in self.intervals:
            if a <= at < b:
                return (b - at) * SPEED_UP
        return 0.0

    def unscaled(self, start: float, end: float) -> float:
        """Seconds of show time in the real interval [start, end]: playback counts SPEED_UP times."""
        inside = sum(max(0.0, min(end, b) - max(start, a)) for a, b in self.intervals)
        return (end - start - inside) + inside * SPEED_UP


def _plan() -> RoomPlan:
    return RoomPlan.model_validate(
        {
            "room_id": "bench-room",
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


async def _drive(services: Services, data_dir: Path, n_questions: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    bus = _TimedBus()
    playback = _ScaledPlayback()
    tts = build_tts("espeak", cache_dir=None)
    factory = RoomFactory(
        catalog=services.store,
        pipeline=services.pipeline,
        tts=tts,
        bus=bus,
        state=RoomStateStore(services.engine),
        sleep=playback.sleep,
        # The triage runs on real time: its windows shrink with the playback so they mean show time.
        triage_overrides={"dedupe_window_s": 30.0 / SPEED_UP, "max_age_s": 60.0 / SPEED_UP},
    )
    manager = RoomManager(factory)
    plan = _plan()
    director = await manager.start(plan, resume=False)
    asked: list[_Asked] = []
    # Warm up: the first sentences are on air before the first question.
    while director.counters["said"] < 2:
        await asyncio.sleep(0.01)
    for i in range(n_questions):
        await asyncio.sleep(rng.uniform(8.0, 40.0) / SPEED_UP)  # 8-40 s of show time apart
        link = rng.choice(list(plan.link_map()))
        text = rng.choice(_QUESTIONS).format(link=link)
        nickname = f"观众{i:03d}"
        decision = manager.offer(plan.room_id, ViewerMessage(plan.room_id, nickname, text, user_id=f"v{i}"))
        accepted = isinstance(decision, TriageDecision) and decision.accepted
        asked.append(_Asked(nickname, text, time.perf_counter(), accepted))
    deadline = time.perf_counter() + 120.0
    while director.triage.stats()["queue"] and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    await manager.stop(plan.room_id)

    by_nickname = {a.nickname: a for a in asked}
    waits: list[float] = []
    utterance_end: list[float] = []
    queued: list[float] = []
    processing: list[float] = []
    pipeline_ms: list[float] = []
    tts_ms: list[float] = []
    totals: list[float] = []
    answered = 0
    for published, event in bus.log:
        if event.kind != "answer":
            continue
        timings = event.data.get("timings_ms", {})
        proc = float(timings.get("pipeline", 0.0)) + float(timings.get("tts", 0.0))
        picked = published - proc / 1000.0
        pipeline_ms.append(float(timings.get("pipeline", 0.0)))
        tts_ms.append(float(timings.get("tts", 0.0)))
        for question in event.data.get("questions", []):
            who = by_nickname.get(question["nickname"])
            if who is None:
                continue
            answered += 1
            wait = playback.unscaled(who.at, max(who.at, picked)) * 1000.0
            in_progress = min(wait, playback.remaining(who.at) * 1000.0)
            waits.append(wait)
            utterance_end.append(in_progress)
            queued.append(wait - in_progress)
            processing.append(proc)
            totals.append(wait + proc)
    says = [(t, e) for t, e in bus.log if e.kind == "say"]
    durations = [e.audio.duration for _, e in says if e.audio is not None]
    gaps = [
        (t1 - t0 - (e0.audio.duration / SPEED_UP if e0.audio else 0.0)) * 1000.0
        for (t0, e0), (t1, _) in itertools.pairwise(says)
    ]
    stats = director.triage.stats()
    return {
        "questions": len(asked),
        "accepted_by_triage": sum(a.accepted for a in asked),
        "answered_messages": answered,
        "merged": stats["merged"],
        "dropped": {k: v for k, v in stats["dropped"].items() if v},
        "evicted": {k: v for k, v in stats["evicted"].items() if v},
        "sentences_said": director.counters["said"],
        "sentence_audio_seconds": percentiles([d * 1000.0 for d in durations]),
        "question_to_answer_start_ms": percentiles(totals),
        "wait_ms": percentiles(waits),
        "wait_for_utterance_in_progress_ms": percentiles(utterance_end),
        "wait_behind_queued_answers_ms": percentiles(queued),
        "processing_ms": percentiles(processing),
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
        "tts": "espeak-ng via voice.build_tts('espeak'), mastered MP3, no clip cache",
        "speed_up": SPEED_UP,
        "target_p95_ms": TARGET_P95_MS,
    }
    with tempfile.TemporaryDirectory(prefix="director-bench-") as tmp:
        data_dir = Path(tmp)
        services = Services(Settings(data_dir=data_dir, embedder=embedder, database_url=None))
        try:
            files = [_DEMO / "products.jsonl", *sorted((_DEMO / "policies").glob("*.md"))]
            started = time.perf_counter()
            services.ingest(files, "demo")
            services.warm_up("demo")
            result["setup_seconds"] = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            result.update(asyncio.run(_drive(services, data_dir, n_questions, seed=7)))
            result["run_seconds"] = round(time.perf_counter() - started, 1)
        finally:
            services.close()
    total = result["question_to_answer_start_ms"]
    proc = result["processing_ms"]
    result["processing_p95_within_target"] = bool(proc.get("n")) and proc["p95"] <= TARGET_P95_MS
    result["total_p95_within_target"] = bool(total.get("n")) and total["p95"] <= TARGET_P95_MS
    return result


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=2))
