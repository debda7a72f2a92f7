"""Two real API processes sharing Redis (event fan-out) and one SQLite data directory: a room started on
process A is watched by a viewer on process B, who receives A's events in order."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from api.services import Services
from api.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REDIS_URL = "redis://127.0.0.1:6379/0"
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"
STARTUP_SECONDS = 60.0


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def redis_url() -> str:
    if not redis_reachable():
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable at 127.0.0.1:6379 (required in CI)")
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    return REDIS_URL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """`uvicorn api.app:create_app --factory` in a subprocess, configured through the environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self._log_file, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(
            f"server on port {self.port} did not start:\n{self.log.read_text(errors='replace')[-3000:]}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log_file.close()


@pytest.fixture
def two_servers(tmp_path: Path, redis_url: str) -> Iterator[tuple[ServerProcess, ServerProcess, str]]:
    data_dir = tmp_path / "var"
    settings = Settings(data_dir=data_dir, embedder="hash")
    services = Services(settings)
    report = services.ingest([SAMPLES / "products.jsonl"], "demo")
    assert report.applied, report.errors
    key = services.keys.create("merchant", "demo").secret
    services.close()
    env = {
        **os.environ,
        "ANCHOR_DATA_DIR": str(data_dir),
        "ANCHOR_EMBEDDER": "hash",
        "ANCHOR_REDIS_URL": redis_url,
        "ANCHOR_ROOM_TTS_ENGINE": "espeak",
        "ANCHOR_LOG_LEVEL": "WARNING",
    }
    env.pop("ANCHOR_DATABASE_URL", None)
    servers = [ServerProcess(env, tmp_path / f"server-{name}.log") for name in "ab"]
    try:
        for server in servers:
            server.wait_ready()
        yield servers[0], servers[1], key
    finally:
        for server in servers:
            server.stop()


async def watch(url: str, count: int, timeout: float) -> list[dict[str, Any]]:
    """The first `count` say events a viewer at `url` receives (all messages kept in order)."""
    seen: list[dict[str, Any]] = []
    async with websockets.connect(url, max_size=None) as ws:
        deadline = time.monotonic() + timeout
        while sum(m.get("kind") == "say" for m in seen) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"only {[m.get('kind') for m in seen]} within {timeout}s"
            seen.append(json.loads(await asyncio.wait_for(ws.recv(), remaining)))
    return seen


def test_a_viewer_on_another_process_receives_the_rooms_events_in_order(
    two_servers: tuple[ServerProcess, ServerProcess, str],
) -> None:
    a, b, key = two_servers
    room_id = "fanout-" + secrets.token_hex(4)  # its own Redis channel
    plan = {
        "room_id": room_id,
        "items": [
            {"link": 1, "sku": "ZH-AP-001", "segments": ["hook", "intro"]},
            {"link": 2, "sku": "ZH-BE-002", "segments": ["hook"]},
        ],
    }
    started = httpx.post(
        f"{a.url}/v1/merchants/demo/rooms", json=plan, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert started.status_code == 201, started.text
    ws_path = f"/v1/rooms/{room_id}/ws"

    async def both() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        on_a = asyncio.create_task(watch(a.url.replace("http", "ws") + ws_path, 3, 60))
        on_b = asyncio.create_task(watch(b.url.replace("http", "ws") + ws_path, 3, 60))
        return await on_a, await on_b

    seen_a, seen_b = asyncio.run(both())
    assert seen_b[0]["kind"] == "hello"
    says_b = [m for m in seen_b if m["kind"] == "say"]
    assert all(m["room_id"] == room_id for m in says_b)
    seqs = [m["seq"] for m in seen_b if "seq" in m and m["kind"] != "hello"]
    assert seqs == sorted(seqs), seqs
    assert len(set(seqs)) == len(seqs), seqs
    positions = [tuple(m["position"][k] for k in ("loop", "item", "segment", "sentence")) for m in says_b]
    assert positions == sorted(positions)
    assert all(m["audio"]["data_b64"] for m in says_b)
    # The same events, with the same numbers and text, reached the viewer on A (where the room runs).
    by_seq_a = {m["seq"]: m for m in seen_a if m["kind"] == "say"}
    common = [m for m in says_b if m["seq"] in by_seq_a]
    assert common, "both viewers saw at least one common utterance"
    for message in common:
        assert by_seq_a[message["seq"]]["text"] == message["text"]
    # Process B runs no director of its own: the room is A's.
    listed = httpx.get(
        f"{b.url}/v1/merchants/demo/rooms/{room_id}", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert listed["local"] is False
    assert listed["status"] == "running"
    # Chat and commands sent to B are relayed to A, which runs the room.
    headers = {"Authorization": f"Bearer {key}"}
    chat = httpx.post(
        f"{b.url}/v1/rooms/{room_id}/chat", json={"nickname": "小美", "text": "1号链接多少钱"}, timeout=30
    )
    assert chat.status_code == 202, chat.text
    assert chat.json()["forwarded"] is True
    answered = wait_for_room(a.url, room_id, headers, lambda r: r["counters"].get("answered", 0) >= 1)
    assert answered["local"] is True
    assert answered["counters"]["answered"] >= 1, answered
    paused = httpx.post(
        f"{b.url}/v1/merchants/demo/rooms/{room_id}/commands",
        json={"kind": "pause"},
        headers=headers,
        timeout=30,
    )
    assert paused.status_code == 202, paused.text
    assert paused.json()["forwarded"] is True
    room = wait_for_room(a.url, room_id, headers, lambda r: r["status"] == "paused")
    assert room["status"] == "paused", room


def wait_for_room(
    base: str, room_id: str, headers: dict[str, str], done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The room as `base` shows it once `done(room)` holds (or after 60 s)."""
    deadline = time.monotonic() + 60
    room: dict[str, Any] = {}
    while time.monotonic() < deadline:
        room = httpx.get(f"{base}/v1/merchants/demo/rooms/{room_id}", headers=headers, timeout=30).json()
        if done(room):
            break
        time.sleep(0.2)
    return room
