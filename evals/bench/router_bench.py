"""Routing cost and training time (`anchor bench --only router`).

- routing: `IntentRouter.classify` given the message's sentence vector (what the pipeline does: the vector
  is computed once and shared with retrieval), over the dev messages, each timed alone; the embedding itself
  is timed separately for reference;
- training: `anchor router train`'s work (embedding, noisy copies, fitting, calibration) on the packaged data.
Target (issue 11): routing adds ≤ 3 ms p95 beyond the shared embedding; training under a minute.
"""

from __future__ import annotations

import time
from typing import Any

from agent.router import default_router
from agent.textnorm import normalize_message
from agent.understanding.train import data_files, load_examples, train
from evals.bench.common import percentiles


def run(*, quick: bool = False) -> dict[str, Any]:
    router = default_router()
    train_files, dev_files = data_files()
    examples = load_examples(dev_files or train_files)
    texts = [normalize_message(e.text) or e.text for e in examples][: 200 if quick else None]
    router.classify("warm up")
    embed_ms: list[float] = []
    route_ms: list[float] = []
    for text in texts:
        started = time.perf_counter()
        vector = router.embedder.embed([text + " "])[0]  # a fresh text: the embedder's cache must not help
        embed_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        router.classify(text, vector=vector)
        route_ms.append((time.perf_counter() - started) * 1000)
    result: dict[str, Any] = {
        "messages": len(texts),
        "model": router.version,
        "route_ms": percentiles(route_ms),
        "embed_ms": percentiles(embed_ms),
    }
    if not quick:
        started = time.perf_counter()
        trained = train(router.embedder.embed, embedder=router.embedder.name)
        result["train_seconds"] = round(time.perf_counter() - started, 1)
        result["train_messages"] = trained.model.meta.get("examples")
        result["train_noisy_copies"] = trained.model.meta.get("noisy_copies")
    return result
