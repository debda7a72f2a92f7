"""The catalog page's "Test my shop" in headless Chromium: start a run, watch its progress, read the report."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import sign_in, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: A run's first answers load the packaged compliance words; leave room for that.
RUN_TIMEOUT_MS = 120_000


def test_test_my_shop_shows_progress_then_the_report(
    live_server: LiveServer, page: Page, page_errors: list[str]
) -> None:
    key = live_server.key("merchant", "demo", name="demo owner")
    page.goto(f"{live_server.url}/catalog")
    page.wait_for_selector("body[data-ready='true']")
    sign_in(page, key, "demo")
    expect(page.locator("#shop-test-report")).to_be_hidden()  # no run yet

    page.get_by_label("Number of questions").fill("8")
    page.get_by_role("button", name="Test my shop").click()

    progress = page.locator("#shop-test-progress")
    expect(progress).to_be_visible()
    expect(page.locator("#shop-test-run[data-status='running']")).to_be_attached(timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#shop-test-state")).to_contain_text(re.compile(r"\d+ of 8 questions"))
    expect(page.get_by_role("button", name="Test my shop")).to_be_disabled()

    report = page.locator("#shop-test-report")
    expect(report).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#shop-test-run[data-status='done']")).to_be_attached()
    expect(progress).to_have_attribute("value", "8")
    expect(page.locator("#shop-test-state")).to_contain_text("Done: 8 questions")

    listed = page.request.get(
        f"{live_server.url}/v1/merchants/demo/shop-tests", headers={"Authorization": f"Bearer {key}"}
    ).json()["items"]
    job = page.request.get(
        f"{live_server.url}/v1/merchants/demo/shop-tests/{listed[0]['id']}",
        headers={"Authorization": f"Bearer {key}"},
    ).json()
    generated = job["report"]["generated"]
    expect(page.locator("#shop-test-rate")).to_have_text(f"{job['pass_rate'] * 100:.1f}%")
    expect(page.locator("#shop-test-rate-detail")).to_contain_text(
        f"({generated['overall']['passed']} of {generated['overall']['cases']})"
    )

    rows = page.locator("#shop-test-families tbody tr")
    expect(rows).to_have_count(1 + len(generated["families"]))  # all questions, then each family
    expect(rows.first.locator("th")).to_have_text("All questions")
    expect(rows.first.locator("td").nth(1)).to_have_text(f"{job['pass_rate'] * 100:.1f}%")

    failures = page.locator("#shop-test-failures > li")
    expect(failures).to_have_count(len(generated["worst_failures"]))
    if generated["worst_failures"]:
        first = generated["worst_failures"][0]
        expect(failures.first.locator(".question")).to_have_text(first["question"])
        expect(failures.first.locator(".evidence")).to_contain_text(first["failures"][0])
    expect(page.locator("#shop-test-gaps tbody tr")).to_have_count(len(generated["gaps"]))
    snapshot(page, "catalog-shop-test")

    # The last run is shown again after a reload, in Chinese too.
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#shop-test-report")).to_be_visible()
    page.get_by_role("button", name="Switch the interface to Chinese").click()
    expect(page.get_by_role("button", name="测试我的店铺")).to_be_visible()
    expect(rows.first.locator("th")).to_have_text("全部问题")
    assert page_errors == []
