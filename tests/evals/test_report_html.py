"""The HTML report renders in headless Chromium: self-contained, charts drawn, every failure listed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from api.services import Services
from evals.dataset import Case
from evals.reference import Reference
from evals.report import write_report
from evals.runner import EvalRun, InProcessBackend, build_report, run_cases

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
ROOM = {"link_map": {"3": "ZH-EL-001"}, "current_sku": "ZH-AP-001"}
CASES: list[dict[str, Any]] = [
    {
        "id": "ok-price",
        "lang": "zh",
        "slice": "zh",
        "text": "暖禾加绒卫衣多少钱",
        "expect": {"route": "product_question", "facts": [{"kind": "price", "sku": "ZH-AP-001"}]},
    },
    {
        "id": "ok-link",
        "lang": "zh",
        "slice": "zh",
        "channel": "live",
        "text": "3号多少钱",
        "room": ROOM,
        "expect": {"route": "product_question", "product": "ZH-EL-001"},
    },
    {"id": "bad-route", "lang": "en", "slice": "en", "text": "hi there", "expect": {"route": "comparison"}},
    {
        "id": "bad-<script>",
        "lang": "zh",
        "slice": "cross",
        "text": "<script>alert(1)</script> H7耳机多少钱",
        "expect": {"product": "ZH-AP-001"},
    },
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def report_file(
    eval_services: tuple[Services, Reference], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    services, ref = eval_services
    cases = [Case.model_validate({**c, "id": c["id"].replace("<script>", "script")}) for c in CASES]
    # Playwright's sync API owns this thread's event loop; run the pipeline on a thread of its own.
    with ThreadPoolExecutor(1) as pool:
        outcomes = pool.submit(
            asyncio.run, run_cases(cases, InProcessBackend(services, "eval"), ref)
        ).result()
    report = build_report(EvalRun(outcomes, meta={"embedder": "hash", "note": "<b>not bold</b>"}))
    _, html_path = write_report(report, tmp_path_factory.mktemp("html"))
    return html_path, report


def test_report_renders_offline_with_charts_and_failures(
    browser: Browser, report_file: tuple[Path, dict[str, Any]]
) -> None:
    html_path, report = report_file
    failing = [c for c in report["cases"] if not c["passed"]]
    assert {c["id"] for c in failing} >= {"bad-route", "bad-script"}
    page = browser.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(html_path.as_uri())

    assert page.title() == "live-anchor answer evaluation"
    headline = page.locator("#headline").inner_text()
    assert f"{report['metrics']['passed']} of {report['metrics']['cases']} cases passed" in headline
    assert page.locator("details.failure").count() == len(failing)
    assert page.locator("svg.bars rect.bar").count() > 0
    assert page.locator("svg.heatmap rect.cell").count() >= len(report["confusion"])
    assert page.locator("svg.histogram rect.bin").count() > 0
    assert page.locator("table.latency tr").count() == len(report["latency"]) + 1
    # nothing from the dataset or the answers is interpreted as markup
    assert page.locator("script").count() == 0
    assert page.locator("p.meta b").count() == 0

    failure = page.locator("details#case-bad-route")
    failure.locator("summary").click()
    body = failure.inner_text()
    assert "route: expected comparison" in body
    assert report["cases"][2]["observed"]["answer"][:20] in body
    box = page.locator("svg.bars").bounding_box()
    assert box is not None
    assert box["width"] > 100
    assert box["height"] > 50
    assert [u for u in requests if not u.startswith("file://")] == []
    assert errors == []
    page.close()
