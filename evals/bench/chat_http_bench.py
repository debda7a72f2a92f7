"""Shopper chat over HTTP: requests per second and latency of `POST …/conversations/{id}/messages`.

The real app (uvicorn on loopback, one process, the packaged USE embedder and intent model, the demo catalog)
answers a mix of product, policy and after-sales questions: first from one client at a time (latency as a
shopper sees it), then from 8 concurrent clients (throughput of one process). Rate limits are raised so
the bench measures the service, not the limiter.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.settings import Settings
from evals.bench.common import machine_info, peak_rss_mib, percentiles
from evals.reference import demo_catalog_files

QUESTIONS = [
    "X3 Pro耳机多少钱",
    "暖禾卫衣有XL吗",
    "how much is the Everkeep water bottle",
    "Everkeep bottle how much does it hold",
    "防晒乳敏感肌能用吗",
    "发什么快递",
    "What's your return policy?",
    "我的订单202405061234567还没发货",
    "can I swim with the Pulse S3?",
    "你好",
]


def run(*, quick: bool = False) -> dict[str, Any]:
    single_n = 100 if quick else 300
    concurrent_n = 200 if quick else 600
    with tempfile.TemporaryDirectory(prefix="chat-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=None,
            chat_burst_ip=10**9,
            chat_rate_per_minute_ip=10**9,
            chat_burst_conversation=10**9,
            chat_rate_per_minute_conversation=10**9,
        )
        app = create_app(settings)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 120
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.05)
        try:
            report = app.state.services.ingest(demo_catalog_files(), settings.default_merchant)
            if not report.applied:
                raise RuntimeError(f"the demo catalog did not import: {report.errors[:3]}")
            base = f"http://127.0.0.1:{port}/v1/merchants/{settings.default_merchant}/conversations"
            single = asyncio.run(_single(base, single_n))
            concurrent, seconds = asyncio.run(_concurrent(base, concurrent_n, clients=8))
        finally:
            server.should_exit = True
            thread.join(timeout=30)
            sock.close()
    return {
        "benchmark": "chat_http",
        "quick": quick,
        "machine": machine_info(),
        "one_client": {"requests": len(single), "latency_ms": percentiles(single)},
        "eight_clients": {
            "requests": len(concurrent),
            "requests_per_second": round(len(concurrent) / seconds, 1),
            "latency_ms": percentiles(concurrent),
        },
        "peak_rss_mib": peak_rss_mib(),
    }


async def _ask(client: httpx.AsyncClient, base: str, i: int) -> float:
    started = time.perf_counter()
    response = await client.post(f"{base}/bench-{i}/messages", json={"text": QUESTIONS[i % len(QUESTIONS)]})
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


async def _single(base: str, n: int) -> list[float]:
    async with httpx.AsyncClient(timeout=60) as client:
        for i in range(20):  # warm-up: models, caches, the first retriever
            await _ask(client, base, 10_000 + i)
        return [await _ask(client, base, i) for i in range(n)]


async def _concurrent(base: str, n: int, *, clients: int) -> tuple[list[float], float]:
    samples: list[float] = []
    counter = iter(range(20_000, 20_000 + n))

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            samples.append(await _ask(client, base, i))

    async with httpx.AsyncClient(timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        return samples, time.perf_counter() - started
