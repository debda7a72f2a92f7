"""Compliance check cost (`anchor bench --only compliance`).

- script: `anchor check --file`'s work on a 10,000-line script (the demo catalog's selling points and
  descriptions as host lines, with violations mixed in): the word base alone, and (`claims_lines`) the claim
  classifier over the first lines, which embeds each sentence;
- answer guard: `agent.guard.guard` on answers built from the demo catalog's lines, each timed alone
  (`guard_ms`: grounding and compliance; `guard_compliance_ms`: the compliance part, `enforce`).
Targets (issue 14): 10,000 lines in ≤ 1 s; the per-answer guard ≤ 1 ms p95.
"""

from __future__ import annotations

import random
import time
from typing import Any

from agent.compliance import check, enforce
from agent.compliance.claims import claim_findings
from agent.evidence import Evidence
from agent.guard import catalog_claims, guard
from evals.bench.common import percentiles
from evals.reference import Reference, demo_catalog_files

_SPICE = (
    "全网最低价，",
    "效果最好！",
    "家人们扣1，",
    "the best ",
    "guaranteed results, ",
    "",
    "",
    "",
    "",
    "",
)


def _lines(n: int) -> list[str]:
    ref = Reference.from_files(demo_catalog_files())
    base: list[str] = []
    for product in ref.products.values():
        base.extend(product.selling_points)
        base.extend(s for s in product.description.replace("！", "。").split("。") if s.strip())
    rng = random.Random(14)
    return [f"{rng.choice(_SPICE)}{rng.choice(base)}" for _ in range(n)]


def run(*, quick: bool = False) -> dict[str, Any]:
    n = 2_000 if quick else 10_000
    lines = _lines(n)
    check("预热 warm up")
    started = time.perf_counter()
    findings = sum(len(check(line).findings) for line in lines)
    words_seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "script_lines": n,
        "script_words_seconds": round(words_seconds, 3),
        "script_findings": findings,
    }
    from knowledge.embedders import UseEmbedder

    embedder = UseEmbedder()
    claims_lines = lines[: 200 if quick else 1_000]
    claim_findings("预热", embedder.embed, language="zh")
    started = time.perf_counter()
    for line in claims_lines:
        claim_findings(line, embedder.embed, language="zh", word_findings=check(line).findings)
    result["claims_lines"] = len(claims_lines)
    result["claims_seconds"] = round(time.perf_counter() - started, 3)

    ref = Reference.from_files(demo_catalog_files())
    guard_ms: list[float] = []
    compliance_ms: list[float] = []
    for product in list(ref.products.values()):
        evidence = Evidence(product=product)
        for line in [*product.selling_points, *product.attributes.values()][:8]:
            text = (
                f"根据商品信息：{line}。" if product.locale == "zh" else f"From the product details: {line}."
            )
            started = time.perf_counter()
            guard(text, evidence, language=product.locale or "zh")
            guard_ms.append((time.perf_counter() - started) * 1000)
            allowed = catalog_claims(evidence)
            started = time.perf_counter()
            enforce(text, allowed=allowed)
            compliance_ms.append((time.perf_counter() - started) * 1000)
    result["guard_ms"] = percentiles(guard_ms)
    result["guard_compliance_ms"] = percentiles(compliance_ms)
    return result
