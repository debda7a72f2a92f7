"""`anchor serve` as a real process on loopback: the client address rate limits count by is the TCP peer's
unless the proxy in front is trusted (ANCHOR_TRUSTED_PROXIES); a forged X-Forwarded-For buys nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANCHOR = Path(sys.executable).with_name("anchor")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(tmp_path: Path, **env: str) -> Iterator[str]:
    port = _free_port()
    environ = {
        **os.environ,
        "ANCHOR_DATA_DIR": str(tmp_path / "var"),
        "ANCHOR_EMBEDDER": "hash",
        "ANCHOR_CHAT_BURST_IP": "5",
        "ANCHOR_CHAT_RATE_PER_MINUTE_IP": "0.01",
        "ANCHOR_CHAT_BURST_CONVERSATION": "1000",
        "ANCHOR_LOG_LEVEL": "WARNING",
        **env,
    }
    proc = subprocess.Popen(
        [str(ANCHOR), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"anchor serve did not start: {err[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _statuses(base: str, n: int) -> list[int]:
    out = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for i in range(n):
            response = client.post(
                f"/v1/merchants/demo/conversations/c-{i}/messages",
                json={"text": "你好"},
                headers={"X-Forwarded-For": f"203.0.113.{i % 250 + 1}"},
            )
            out.append(response.status_code)
    return out


def test_forged_forwarded_for_gets_the_same_429s(tmp_path: Path) -> None:
    for base in _serve(tmp_path):
        statuses = _statuses(base, 100)
        assert statuses[:5] == [200] * 5
        assert statuses[5:] == [429] * 95  # one client, whatever address it claims


def test_a_trusted_proxy_passes_the_client_address(tmp_path: Path) -> None:
    for base in _serve(tmp_path, ANCHOR_TRUSTED_PROXIES="127.0.0.1"):
        assert _statuses(base, 12) == [200] * 12  # twelve clients behind the proxy, each under its burst


def _redis_url() -> str:
    import redis

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail("Redis at 127.0.0.1:6379 is not reachable; CI is set, so this test must run")
        pytest.skip("Redis at 127.0.0.1:6379 is not reachable")
    return url


def test_the_limit_holds_across_two_api_processes(tmp_path: Path) -> None:
    shared = {
        "ANCHOR_REDIS_URL": _redis_url(),
        "ANCHOR_RATE_LIMIT_PREFIX": f"anchor-test:{os.getpid()}:{time.time_ns()}:",
    }
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    for first in _serve(first_dir, **shared):
        for second in _serve(second_dir, **shared):
            statuses: list[int] = []
            with httpx.Client(timeout=30) as client:
                for i in range(10):
                    base = first if i % 2 == 0 else second
                    response = client.post(
                        f"{base}/v1/merchants/demo/conversations/r-{i}/messages", json={"text": "你好"}
                    )
                    statuses.append(response.status_code)
            # One client, one burst of 5, whichever process answers.
            assert statuses == [200] * 5 + [429] * 5
