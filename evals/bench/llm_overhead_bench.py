"""LLM writer overhead: what the pipeline adds on top of the model's own time to first token.

A loopback OpenAI-compatible server (evals.fakes.openai_server) answers every request with the same
grounded reply after a fixed first-token delay. For each round, in alternation:

- the model alone: the raw ``openai.AsyncOpenAI`` client sends the very prompt the writer would send
  and times the first token, the first complete sentence and the last token;
- the pipeline: ``AnswerPipeline.answer_stream`` with the LLM writer (ChatOpenAI over the same server),
  timing the first released (guarded) delta and the final ``done`` event.

Added overhead = pipeline − model, paired per round. Target: ≤ 20 ms p50 on time to first delta.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import openai
from openai.types.chat import ChatCompletionMessageParam

from agent.pipeline import AnswerPipeline, PreparedAnswer
from agent.streaming import SentenceBuffer
from agent.writers.llm import LLMWriter
from agent.writers.prompt import build_messages
from api.services import Services
from api.settings import Settings
from evals.bench.common import machine_info, percentiles
from evals.fakes import FakeOpenAIServer, Reply

MERCHANT = "bench"
SKU = "HD-001"
QUESTION = "这件卫衣多少钱？"
REPLY = "这款暖禾加绒连帽卫衣现在¥399，原价¥499。M码还有10件，喜欢可以拍。"
FIRST_TOKEN_DELAY = 0.2
TOKEN_DELAY = 0.002
CATALOG: list[dict[str, Any]] = [
    {
        "sku": SKU,
        "title": "暖禾 加绒连帽卫衣",
        "brand": "暖禾",
        "category": "服装/卫衣",
        "price": "399.00",
        "list_price": "499.00",
        "variants": [
            {"sku": f"{SKU}-M", "options": {"尺码": "M"}, "price": "399.00", "stock": 10},
            {"sku": f"{SKU}-L", "options": {"尺码": "L"}, "price": "399.00", "stock": 5},
        ],
        "attributes": {"面料": "棉80% 聚酯纤维20%"},
        "selling_points": ["内里加绒，秋冬单穿也暖和"],
    },
    {
        "sku": "CUP-002",
        "title": "清泉 不锈钢保温杯",
        "brand": "清泉",
        "price": "89.00",
        "stock": 50,
        "selling_points": ["12小时保温"],
    },
]


def run(*, quick: bool = False) -> dict[str, Any]:
    """Rounds of model-alone vs pipeline against a server with a fixed first-token delay."""
    rounds = 10 if quick else 40
    with tempfile.TemporaryDirectory(prefix="llm-bench-") as tmp:
        root = Path(tmp)
        catalog = root / "products.jsonl"
        catalog.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in CATALOG), encoding="utf-8")
        services = Services(Settings(data_dir=root / "var", embedder="hash"))
        try:
            services.ingest([catalog], MERCHANT)
            with FakeOpenAIServer(
                [Reply(REPLY)], first_token_delay=FIRST_TOKEN_DELAY, token_delay=TOKEN_DELAY
            ) as server:
                samples, stages = asyncio.run(_measure(services, server, rounds))
        finally:
            services.close()
    model_first = samples["model_first_token"]
    paired = {
        "first_delta_over_model_first_sentence": _diff(
            samples["pipeline_first_delta"], samples["model_first_sentence"]
        ),
        "first_delta_over_model_first_token": _diff(samples["pipeline_first_delta"], model_first),
        "done_over_model_last_token": _diff(samples["pipeline_done"], samples["model_last_token"]),
    }
    return {
        "name": "llm_overhead",
        "quick": quick,
        "rounds": rounds,
        "server": {"first_token_delay_ms": FIRST_TOKEN_DELAY * 1000, "token_delay_ms": TOKEN_DELAY * 1000},
        "machine": machine_info(),
        "model_alone_ms": {k: percentiles(v) for k, v in samples.items() if k.startswith("model_")},
        "pipeline_ms": {k: percentiles(v) for k, v in samples.items() if k.startswith("pipeline_")},
        "added_overhead_ms": {k: percentiles(v) for k, v in paired.items()},
        "pipeline_stage_ms_p50": {k: percentiles(v)["p50"] for k, v in sorted(stages.items())},
        "target": "added overhead to the first delta <= 20 ms (p50)",
        "target_met": percentiles(paired["first_delta_over_model_first_sentence"])["p50"] <= 20.0,
    }


def _diff(a: list[float], b: list[float]) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=True)]


async def _measure(
    services: Services, server: FakeOpenAIServer, rounds: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    writer = LLMWriter.from_settings(base_url=server.base_url, model="bench-model", api_key="sk-bench")
    pipeline = AnswerPipeline(
        store=services.store,
        retrievers=services.retriever,
        conversations=services.conversations,
        tickets=services.tickets,
        writer=writer,
    )
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-bench", max_retries=0)
    prepared = await pipeline.prepare(MERCHANT, "bench-prompt", QUESTION, focus_sku=SKU)
    messages = _wire_messages(prepared)
    samples: dict[str, list[float]] = {
        "model_first_token": [],
        "model_first_sentence": [],
        "model_last_token": [],
        "pipeline_first_delta": [],
        "pipeline_done": [],
    }
    stages: dict[str, list[float]] = {}
    try:
        for i in range(rounds + 2):  # two warm-up rounds open connections and load code paths
            first, sentence, last = await _model_alone(client, messages)
            first_delta, done, timings = await _pipeline_stream(pipeline)
            if i < 2:
                continue
            samples["model_first_token"].append(first)
            samples["model_first_sentence"].append(sentence)
            samples["model_last_token"].append(last)
            samples["pipeline_first_delta"].append(first_delta)
            samples["pipeline_done"].append(done)
            for stage, ms in timings.items():
                stages.setdefault(stage, []).append(ms)
    finally:
        await client.close()
    return samples, stages


def _wire_messages(prepared: PreparedAnswer) -> list[ChatCompletionMessageParam]:
    """The writer's prompt in OpenAI's wire form (what ChatOpenAI sends)."""
    if prepared.request is None:
        raise RuntimeError("the benchmark question did not reach the writer; check the catalog")
    wire: list[ChatCompletionMessageParam] = []
    for message in build_messages(prepared.request):
        if message.type == "system":
            wire.append({"role": "system", "content": str(message.content)})
        else:
            wire.append({"role": "user", "content": str(message.content)})
    return wire


async def _model_alone(
    client: openai.AsyncOpenAI, messages: list[ChatCompletionMessageParam]
) -> tuple[float, float, float]:
    start = time.perf_counter()
    first = sentence = 0.0
    buffer = SentenceBuffer()
    stream = await client.chat.completions.create(
        model="bench-model",
        messages=messages,
        stream=True,
        temperature=0.2,
        max_completion_tokens=300,
    )
    async for chunk in stream:
        text = chunk.choices[0].delta.content if chunk.choices else None
        if not text:
            continue
        now = (time.perf_counter() - start) * 1000
        first = first or now
        if not sentence and buffer.feed(text):
            sentence = now
    last = (time.perf_counter() - start) * 1000
    return first, sentence or last, last


async def _pipeline_stream(pipeline: AnswerPipeline) -> tuple[float, float, dict[str, float]]:
    start = time.perf_counter()
    first = 0.0
    writer = ""
    timings: dict[str, float] = {}
    async for event in pipeline.answer_stream(
        MERCHANT, f"b-{uuid.uuid4().hex[:10]}", QUESTION, focus_sku=SKU
    ):
        if event.kind == "delta" and not first:
            first = (time.perf_counter() - start) * 1000
        if event.kind == "done" and event.result is not None:
            writer = event.result.writer
            timings = event.result.timings_ms
    done = (time.perf_counter() - start) * 1000
    if writer != "llm":
        raise RuntimeError(
            f"the pipeline answered with the {writer!r} writer; the benchmark needs the LLM one"
        )
    return first, done, timings


if __name__ == "__main__":
    print(json.dumps(run(quick=True), ensure_ascii=False, indent=2))
