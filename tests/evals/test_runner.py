"""A tiny evaluation through the real pipeline (hash embedder), in-process and over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.services import Services
from evals.dataset import Case
from evals.reference import Reference
from evals.report import write_report
from evals.runner import EvalRun, HttpBackend, InProcessBackend, build_report, retrieval_dev, run_cases

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOM = {"link_map": {"3": "ZH-EL-001", "1": "ZH-AP-001"}, "current_sku": "ZH-AP-001"}
CASES = [
    {
        "id": "price",
        "lang": "zh",
        "slice": "zh",
        "text": "暖禾加绒卫衣多少钱",
        "expect": {
            "route": "product_question",
            "product": "ZH-AP-001",
            "facts": [{"kind": "price", "sku": "ZH-AP-001"}],
        },
    },
    {
        "id": "link",
        "lang": "zh",
        "slice": "zh",
        "channel": "live",
        "text": "3号多少钱",
        "room": ROOM,
        "expect": {"product": "ZH-EL-001", "facts": [{"kind": "price", "sku": "ZH-EL-001"}]},
    },
    {
        "id": "xl",
        "lang": "zh",
        "slice": "zh",
        "channel": "live",
        "text": "有没有xl",
        "room": ROOM,
        "expect": {
            "product": "ZH-AP-001",
            "facts": [{"kind": "variant_available", "sku": "ZH-AP-001", "value": "XL"}],
        },
    },
    {
        "id": "multi",
        "lang": "en",
        "slice": "en",
        "turns": ["How much are the AirBuds 2?", "are they in stock?"],
        "expect": {"product": "EN-EL-001", "facts": [{"kind": "stock_state", "sku": "EN-EL-001"}]},
    },
    {
        "id": "refund",
        "lang": "zh",
        "slice": "zh",
        "text": "订单230918445201937766 我要退款",
        "expect": {"route": "after_sales", "escalate": True, "category": "refund"},
    },
    {
        "id": "wrong-product",
        "lang": "en",
        "slice": "en",
        "text": "How much is the H7 headphones?",
        "expect": {"product": "EN-EL-001"},
        "notes": "deliberately wrong expectation: must fail on product",
    },
    {
        "id": "wrong-price",
        "lang": "zh",
        "slice": "zh",
        "text": "X3 Pro耳机多少钱",
        "expect": {"facts": [{"kind": "price", "sku": "ZH-EL-002"}]},
        "notes": "asks the price of another product",
    },
    {
        "id": "trap",
        "lang": "zh",
        "slice": "zh",
        "text": "这是全网最低价吗？",
        "focus_sku": "ZH-AP-001",
        "expect": {"must_not_contain": ["全网最低"]},
    },
    {
        "id": "hello",
        "lang": "en",
        "slice": "en",
        "text": "hi there",
        "expect": {"route": "greeting", "escalate": False},
    },
    {
        "id": "cross",
        "lang": "zh",
        "slice": "cross",
        "text": "AirBuds 2 多少钱",
        "expect": {"product": "EN-EL-001", "facts": [{"kind": "price", "sku": "EN-EL-001"}]},
    },
]


def _cases() -> list[Case]:
    return [Case.model_validate(c) for c in CASES]


async def test_in_process_run_scores_and_reports(
    eval_services: tuple[Services, Reference], tmp_path: Path
) -> None:
    services, ref = eval_services
    seen: list[tuple[int, int]] = []
    outcomes = await run_cases(
        _cases(), InProcessBackend(services, "eval"), ref, progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1] == (len(CASES), len(CASES))
    by_id = {o.case.id: o for o in outcomes}
    assert by_id["price"].passed, by_id["price"].failures
    assert by_id["link"].observed.focus_sku == "ZH-EL-001"
    assert by_id["link"].passed
    assert len(by_id["multi"].earlier) == 1
    assert by_id["refund"].observed.escalated
    assert by_id["refund"].passed
    assert any(f.startswith("product:") for f in by_id["wrong-product"].failures)
    assert any(f.startswith("fact price ZH-EL-002") for f in by_id["wrong-price"].failures)
    assert "全网最低" not in by_id["trap"].observed.answer

    report = build_report(
        EvalRun(outcomes, meta={"embedder": "hash"}, retrieval_dev=retrieval_dev(services, "eval"))
    )
    assert report["metrics"]["cases"] == len(CASES)
    assert report["metrics"]["passed"] == sum(o.passed for o in outcomes)
    assert set(report["slices"]) >= {"slice:zh", "slice:en", "slice:cross", "channel:chat", "channel:live"}
    assert report["latency"]["total"]["n"] == len(CASES) + 1  # the multi-turn case sends two messages
    assert report["retrieval_dev"]["overall"]["n"] > 200
    json_path, html_path = write_report(report, tmp_path / "out")
    assert json.loads(json_path.read_text(encoding="utf-8"))["metrics"] == report["metrics"]
    html = html_path.read_text(encoding="utf-8")
    assert "wrong-product" in html
    assert "<svg" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


async def test_http_backend_against_the_real_app(eval_services: tuple[Services, Reference]) -> None:
    services, ref = eval_services
    app = create_app(services.settings, warm_up=False)
    async with app.router.lifespan_context(app):
        backend = HttpBackend("http://anchor.test", "eval", transport=httpx.ASGITransport(app=app))
        cases = [c for c in _cases() if c.id in ("price", "refund", "multi")]
        try:
            outcomes = await run_cases(cases, backend, ref)
        finally:
            await backend.aclose()
    assert [o.error for o in outcomes] == [None, None, None]
    assert all(o.passed for o in outcomes), [o.failures for o in outcomes]
    assert all(o.observed.wall_ms > 0 for o in outcomes)


async def test_http_errors_become_case_errors(reference: Reference) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "boom"}})

    backend = HttpBackend("http://anchor.test", "eval", transport=httpx.MockTransport(reply))
    outcomes = await run_cases(_cases()[:1], backend, reference)
    await backend.aclose()
    assert outcomes[0].error is not None
    assert "HTTP 500" in outcomes[0].error
    assert not outcomes[0].passed
