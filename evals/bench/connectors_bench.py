"""A platform connector under a busy room's chat: Bilibili danmaku at 200 events/s into one room's triage.

Target (issue 17): 200 events/s through a connector into triage with ≤ 5 ms p99 added per event and flat memory
over 5 minutes.

A loopback Bilibili server runs in its own process (`python -m evals.fakes.bilibili_live`) and sends a busy room's
mix — 80% danmaku (the lines of samples/demo/chat.jsonl), gifts, likes, entries, a super chat now and then, the
viewer count — as brotli packets every 50 ms (as the platform batches them), a malformed packet every 100 batches.
This process runs the real client (`BilibiliSessions`: HTTP handshake, WBI signature, WebSocket, heartbeats)
inside `ResilientConnector`, and offers every item to a `ChatTriage` (events to its acknowledger); a director
stand-in takes a question every 1.25 s.

Two phases of the same flood: ``connector_only`` (the consumer only takes the items: what the connector adds) and
``into_triage`` (the items offered to the triage as the room manager does: read as fast as they come, whatever
arrived while the triage worked on the last batch triaged together, `ChatTriage.offer_many`). Reports per phase, with the machine:
- per danmaku, the milliseconds from the server sending its packet (a microsecond stamp the fake puts in the
  platform's message id) to the consumer being done with it: p50/p95/p99. In ``connector_only`` that is everything
  the connector adds (transport on loopback, brotli, packet and command decoding, deduplication, the watchdog); in
  ``into_triage`` the triage's own work on the items before it in the same packet is added;
- the triage's time per item (``triage_ms_per_item``: a batch's time divided by its items) and the batch sizes;
- events/s received, malformed frames counted, duplicates, reconnects;
- this process's CPU seconds per 1,000 events;
- resident memory sampled every 5 s: first and last minute's medians and the least-squares slope (MiB/min) after the
  first minute (when the deduplication window of 4,096 ids has filled).

Run: ``anchor bench --only connectors`` (5 minutes; ``--quick``: 30 s; ``ANCHOR_BENCH_CONNECTOR_SECONDS`` sets it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

from agent.live.events import RoomEvent, ViewerMessage
from agent.live.platforms.bilibili import BilibiliEndpoints, BilibiliSessions
from agent.live.resilient import ResilientConnector
from agent.live.triage import ChatTriage
from evals.bench.common import machine_info, peak_rss_mib, percentiles
from evals.bench.triage_bench import _sample_lines

RATE = 200.0
_ANSWER_EVERY_S = 1.25
_SAMPLE_EVERY_S = 5.0


def _rss_mib() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def _slope(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 3:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else None


async def _consume(port: int, room: int, seconds: float, *, into_triage: bool) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    sessions = BilibiliSessions(room, "bench", endpoints=BilibiliEndpoints(base, base, secure=False))
    connector = ResilientConnector("bilibili", str(room), sessions, stale_after_s=10.0)
    triage = ChatTriage("bench", link_map={1: "SKU-1", 2: "SKU-2", 3: "SKU-3"})
    # Compact arrays (8 bytes a sample): the bench's own samples must not show as the connector's memory.
    latency_ms = array("d")
    offer_ms = array("d")
    batch_sizes: list[int] = []
    memory: list[tuple[float, float]] = []
    kinds = {"messages": 0, "events": 0, "accepted": 0, "acks": 0, "answered": 0}
    # Models and vocabularies load on first use: a room loads them when it starts, before any chat.
    triage.offer(ViewerMessage("bench", "warm", "2号多少钱"))
    triage.clear()
    started = time.perf_counter()
    cpu_started = time.process_time()
    last_answer = last_sample = started
    stream = connector.batches()

    def handle(batch: list[ViewerMessage | RoomEvent]) -> None:
        nonlocal last_answer, last_sample
        before = time.perf_counter()
        if into_triage:
            messages = [i for i in batch if isinstance(i, ViewerMessage)]
            for decision in triage.offer_many(messages):
                kinds["accepted"] += int(decision.accepted)
            kinds["messages"] += len(messages)
            for event in batch:
                if isinstance(event, RoomEvent):
                    kinds["events"] += 1
                    kinds["acks"] += int(triage.offer_event(event) is not None)
        now = time.perf_counter()
        if into_triage:
            per_item = (now - before) * 1000.0 / max(1, len(batch))
            offer_ms.extend([per_item] * len(batch))
            batch_sizes.append(len(batch))
        done_us = time.time() * 1e6
        for item in batch:
            stamp = (item.message_id or "").rpartition("-")[2] if isinstance(item, ViewerMessage) else ""
            if stamp.isdigit():
                latency_ms.append((done_us - int(stamp)) / 1000.0)
        if into_triage and now - last_answer >= _ANSWER_EVERY_S:
            last_answer = now
            kinds["answered"] += int(triage.next_question() is not None)
        if now - last_sample >= _SAMPLE_EVERY_S:
            last_sample = now
            memory.append((now - started, _rss_mib()))

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds + 3.0):  # the server sends for `seconds`, then waits 5 s
            async for batch in stream:
                handle(batch)
                await asyncio.sleep(0)
    connector.stop()
    with contextlib.suppress(Exception):
        await stream.aclose()  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    status = connector.status
    received = status.received
    first = [m for t, m in memory if t <= 60.0]
    last = [m for t, m in memory if t >= memory[-1][0] - 60.0] if memory else []
    slope = _slope([(t / 60.0, m) for t, m in memory if t >= 60.0])
    return {
        "received": received,
        "events_per_s": round(received / max(elapsed, 1e-9), 1),
        "by_kind": kinds,
        "malformed": status.malformed,
        "duplicates": status.duplicates,
        "reconnects": status.reconnects,
        "viewers_last": status.viewers,
        "latency_ms_sent_to_done": percentiles(list(latency_ms)),
        "triage_ms_per_item": percentiles(list(offer_ms)) if into_triage else None,
        "batch_size": percentiles([float(n) for n in batch_sizes]) if batch_sizes else None,
        "cpu_s_per_1000_events": round(cpu / max(received, 1) * 1000, 3),
        "cpu_share_of_one_core": round(cpu / max(elapsed, 1e-9), 3),
        "memory_mib": {
            "first_minute_median": round(statistics.median(first), 1) if first else None,
            "last_minute_median": round(statistics.median(last), 1) if last else None,
            "slope_mib_per_min_after_60s": round(slope, 3) if slope is not None else None,
            "samples": [[round(t, 1), round(m, 1)] for t, m in memory],
        },
    }


def _phase(seconds: float, texts: Path, *, into_triage: bool) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "evals.fakes.bilibili_live",
        "--rate",
        str(RATE),
        "--seconds",
        str(seconds),
        "--texts",
        str(texts),
        "--stamp",
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        words = server.stdout.readline().split()
        if len(words) < 4 or words[0] != "PORT":
            raise RuntimeError(f"the loopback Bilibili server did not start: {' '.join(words)!r}")
        result = asyncio.run(_consume(int(words[1]), int(words[3]), seconds, into_triage=into_triage))
        tail = server.stdout.readline().split()
        sent = int(tail[1]) if len(tail) >= 2 and tail[0] == "SENT" else None
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=10)
    return {
        "sent": sent,
        "items_not_delivered": None if sent is None else sent - result["received"],
        **result,
    }


def run(*, quick: bool = False) -> dict[str, Any]:
    seconds = float(os.environ.get("ANCHOR_BENCH_CONNECTOR_SECONDS") or (30 if quick else 300))
    lines = _sample_lines() or ["2号多少钱", "主播好"]
    with tempfile.TemporaryDirectory() as tmp:
        texts = Path(tmp) / "texts.txt"
        texts.write_text("\n".join(line.replace("\n", " ") for line in lines), encoding="utf-8")
        # What the connector adds: the consumer only takes the items; then the same flood into a room's triage.
        connector_only = _phase(seconds, texts, into_triage=False)
        into_triage = _phase(seconds, texts, into_triage=True)
    server_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "target": {"events_per_s": RATE, "p99_ms_added": 5.0, "memory": "flat over 5 minutes"},
        "seconds_per_phase": seconds,
        "connector_only": connector_only,
        "into_triage": into_triage,
        "server_processes_cpu_s": round(server_usage.ru_utime + server_usage.ru_stime, 2),
        "peak_rss_mib": peak_rss_mib(),
        "machine": machine_info(),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=2))
