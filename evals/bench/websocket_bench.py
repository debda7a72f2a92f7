"""Room fan-out to WebSocket viewers: one API process, many viewers, event delivery latency.

Target (product issue): 500 concurrent WebSocket viewers on one process with event delivery
p95 ≤ 100 ms.

Setup: one real API server (`uvicorn api.app:create_app --factory`, a subprocess, SQLite in a temporary
data directory, Redis as the room bus) and N viewers connected from this process with asyncio and the
`websockets` client. This process publishes a synthetic `say` stream into the room's Redis channel
through the product's own `RedisBus`, one event every `interval_s`, each with a clip of
`audio_seconds` (24 kHz mono, base64 in the JSON, as real utterances carry), once in MP3 (64 kbit/s,
what rooms send) and once in WAV. The server subscribes once
(`RoomFeed`), serialises each event once and sends it to every viewer.

Measured per event and viewer: delivery latency = the viewer's receive time − the event's `ts` (set
when this process publishes it; both processes read the same clock), so it includes Redis, the
server's fan-out and the WebSocket write. Also: events missed (sent but never received), connect time,
and the server's CPU seconds. Viewers read frames as bytes and parse only the head of each frame, so
the client's own cost stays small; the machine is still shared by server and clients, which makes the
figures conservative. The clients do not offer permessage-deflate (compressing 500 copies of base64
audio costs the server far more CPU than it saves on a LAN; see `compression` in the result).

Without Redis at 127.0.0.1:6379 the benchmark reports itself skipped.

Run: ``python -m evals.bench.websocket_bench [--quick]``.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

from evals.bench.common import machine_info, percentiles

REDIS_URL = "redis://127.0.0.1:6379/0"
_HEAD = re.compile(rb'"seq":(\d+),"kind":"[a-z]+","ts":([0-9.]+)')
_STARTUP_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wav(seconds: float, rate: int = 24_000) -> bytes:
    """A quiet tone: the size of a real utterance of that length."""
    frames = int(seconds * rate)
    samples = bytearray()
    for i in range(frames):
        value = int(3000 * math.sin(2 * math.pi * 220 * i / rate))
        samples += value.to_bytes(2, "little", signed=True)
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(bytes(samples))
    return out.getvalue()


def _prepare(data_dir: Path, room_id: str) -> None:
    """The room's row in the shared store (stopped: the server must not run a director for it)."""
    from agent.live.events import Position
    from agent.live.state import RoomStateStore
    from knowledge.store import create_engine_for

    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(f"sqlite:///{(data_dir / 'anchor.db').resolve()}")
    plan = {"room_id": room_id, "merchant": "bench", "items": [{"link": 1, "sku": "BENCH-1"}]}
    RoomStateStore(engine).save(
        room_id, merchant="bench", plan=plan, status="stopped", position=Position(), counters={}
    )
    engine.dispose()


class _Viewer:
    __slots__ = ("latencies_ms", "seqs")

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.seqs: set[int] = set()


async def _view(url: str, viewer: _Viewer, ready: asyncio.Event, done: asyncio.Event) -> None:
    import websockets

    async with websockets.connect(url, max_size=None, compression=None, open_timeout=60) as ws:
        await ws.recv()  # hello
        ready.set()
        while not done.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(decode=False), 0.5)
            except TimeoutError:
                continue
            received = time.time()
            match = _HEAD.search(raw[:200])
            if match is None:
                continue
            viewer.seqs.add(int(match.group(1)))
            viewer.latencies_ms.append((received - float(match.group(2))) * 1000.0)


def _server_cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def _drive(
    base_ws: str,
    room_id: str,
    viewers: int,
    events: int,
    interval_s: float,
    audio_s: float,
    pid: int,
    audio_format: str = "wav",
) -> dict[str, Any]:
    from agent.live.bus import RedisBus
    from agent.live.events import AudioRef, Cue, OutputEvent
    from voice.audio import encode
    from voice.wav import parse_wav

    done = asyncio.Event()
    states = [_Viewer() for _ in range(viewers)]
    readies = [asyncio.Event() for _ in range(viewers)]
    gate = asyncio.Semaphore(64)
    url = f"{base_ws}/v1/rooms/{room_id}/ws"

    async def one(i: int) -> None:
        async with gate:
            task = asyncio.create_task(_view(url, states[i], readies[i], done))
            await readies[i].wait()
        await task

    connect_started = time.perf_counter()
    tasks = [asyncio.create_task(one(i)) for i in range(viewers)]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 300)
    connect_s = time.perf_counter() - connect_started

    # MP3 as rooms send it (64 kbit/s, encoded by the speech layer), or WAV (``room_audio_format=wav``).
    clip = _wav(audio_s)
    if audio_format == "mp3":
        clip = await encode(parse_wav(clip), "mp3")
    audio = AudioRef(clip, audio_format, 24_000, audio_s, (Cue(0.0, audio_s, "bench"),), "bench")
    bus = RedisBus(REDIS_URL)
    cpu_before = _server_cpu_s(pid)
    await asyncio.sleep(0.5)
    for seq in range(1, events + 1):
        event = OutputEvent(room_id, seq, "say", {"text": f"第{seq}句", "sku": "BENCH-1"}, audio)
        await bus.publish(event)
        await asyncio.sleep(interval_s)
    await asyncio.sleep(2.0)
    cpu_after = _server_cpu_s(pid)
    done.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await bus.close()

    latencies = [ms for v in states for ms in v.latencies_ms]
    missed = sum(events - len(v.seqs) for v in states)
    return {
        "audio_format": audio_format,
        "viewers": viewers,
        "events": events,
        "interval_s": interval_s,
        "audio_seconds": audio_s,
        "frame_bytes": len(json.dumps(event.to_dict())),
        "connect_all_s": round(connect_s, 2),
        "delivery_ms": percentiles(latencies),
        "deliveries": len(latencies),
        "missed": missed,
        "missed_ratio": round(missed / max(1, viewers * events), 5),
        "server_cpu_s": None if cpu_before is None or cpu_after is None else round(cpu_after - cpu_before, 2),
        "compression": "off (clients do not offer permessage-deflate)",
    }


def run(*, quick: bool = False) -> dict[str, Any]:
    """100 viewers × 20 events (quick) or 500 viewers × 60 events, one event every 0.5 s, once with
    2-second WAV clips (128 kB frames) and once with the same clips in MP3 as rooms send them (22 kB)."""
    result: dict[str, Any] = {"name": "websocket", "machine": machine_info(), "target": "p95 <= 100 ms @ 500"}
    if not _redis_reachable():
        result["skipped"] = "Redis is not reachable at 127.0.0.1:6379"
        return result
    viewers, events = (100, 20) if quick else (500, 60)
    room_id = f"bench-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="anchor-ws-bench-") as tmp:
        data_dir = Path(tmp) / "var"
        _prepare(data_dir, room_id)
        port = _free_port()
        env = {
            **os.environ,
            "ANCHOR_DATA_DIR": str(data_dir),
            "ANCHOR_EMBEDDER": "hash",
            "ANCHOR_REDIS_URL": REDIS_URL,
            "ANCHOR_LOG_LEVEL": "WARNING",
        }
        env.pop("ANCHOR_DATABASE_URL", None)
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port),
                 "--log-level", "warning", "--no-access-log"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                _wait_ready(port, server)
                base = f"ws://127.0.0.1:{port}"
                for audio_format in ("wav", "mp3"):
                    result[audio_format] = asyncio.run(
                        _drive(base, room_id, viewers, events, 0.5, 2.0, server.pid, audio_format)
                    )
            finally:
                server.terminate()
                try:
                    server.wait(15)
                except subprocess.TimeoutExpired:
                    server.kill()
    for audio_format in ("wav", "mp3"):
        scenario = result[audio_format]
        p95 = scenario["delivery_ms"].get("p95")
        scenario["meets_target"] = bool(
            viewers >= 500 and p95 is not None and p95 <= 100.0 and scenario["missed"] == 0
        )
    return result


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + _STARTUP_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not start on port {port} within {_STARTUP_S:.0f} s")


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=2))
