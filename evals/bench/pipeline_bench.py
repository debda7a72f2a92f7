"""The deterministic answer pipeline at catalog scale: per-message latency, total and per stage.

A synthetic bilingual catalog (10,000 products; 2,000 with --quick) goes into a real SQLite store and
a real index with the configured embedder; then varied questions (product facts, variants, policy,
after-sales, chit-chat) run through `AnswerPipeline.answer` with the template writer, each in its own
conversation, after a warm-up. Reported: p50/p95/p99 of the whole message and of every stage.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from api.services import Services
from api.settings import Settings
from evals.bench.common import machine_info, peak_rss_mib, percentiles
from evals.bench.search_bench import synthetic_catalog, synthetic_questions

_EXTRA = [
    "包邮吗",
    "支持七天无理由退货吗",
    "你好",
    "我要退货，订单号202611220001234567",
    "how long does shipping take?",
    "主播好漂亮",
    "这个多少钱",
    "有XL吗",
]


def run(*, quick: bool = False, embedder: str = "use-multilingual") -> dict[str, Any]:
    n_products = 2_000 if quick else 10_000
    n_messages = 200 if quick else 500
    products = synthetic_catalog(n_products)
    rng = random.Random(5)
    for p in products:  # prices and stock so price/stock answers have facts to state
        p.price = p.price or Decimal(rng.randint(9, 999))
        p.stock = rng.choice([0, 2, 50, 120])
    result: dict[str, Any] = {
        "benchmark": "pipeline",
        "quick": quick,
        "machine": machine_info(),
        "products": n_products,
        "writer": "default",
    }
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), embedder=embedder, database_url=None)
        services = Services(settings)
        store = services.store
        store.ensure_merchant("bench")
        started = time.perf_counter()
        store.apply("bench", upsert_products=products, delete_skus=[], upsert_documents=[], delete_doc_ids=[])
        stats = services.index("bench").sync(products, [])
        result["setup_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        result["line_vectors"] = services.line_vectors.prime(products)  # as ingest does
        result["line_vectors_seconds"] = round(time.perf_counter() - started, 1)
        result["passages"] = stats.passages
        pipeline = services.pipeline
        questions = synthetic_questions(products, n_messages + 40)
        questions += [rng.choice(_EXTRA) for _ in range(n_messages // 10)]
        rng.shuffle(questions)

        async def drive() -> tuple[list[float], dict[str, list[float]]]:
            totals: list[float] = []
            stages: dict[str, list[float]] = {}
            for i, q in enumerate(questions):
                t0 = time.perf_counter()
                answer = await pipeline.answer("bench", f"c-{i}", q)
                elapsed = (time.perf_counter() - t0) * 1000
                if i < 40:  # warm-up
                    continue
                totals.append(elapsed)
                for stage, ms in answer.timings_ms.items():
                    if stage != "total":
                        stages.setdefault(stage, []).append(ms)
            return totals, stages

        totals, stages = asyncio.run(drive())
        result["messages"] = len(totals)
        result["latency_ms"] = percentiles(totals)
        result["stage_latency_ms"] = {k: percentiles(v) for k, v in sorted(stages.items())}
        services.close()
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def main() -> None:  # pragma: no cover - manual entry point
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), ensure_ascii=False, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
