"""The merchant catalog page in headless Chromium: upload, validation report, skip-invalid, browse."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import sign_in, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HEADER = "sku,title,price,stock,brand"
GOOD = ["KT-1,Kettly Glass Kettle 1.7 L,19.90,5,Kettly", "KT-3,Kettly Travel Kettle 0.5 L,29.00,,Kettly"]
BAD = "KT-2,Kettly Steel Kettle,abc,3,Kettly"


def open_catalog(page: Page, live_server: LiveServer, key: str, merchant: str) -> None:
    page.goto(f"{live_server.url}/catalog")
    page.wait_for_selector("body[data-ready='true']")
    sign_in(page, key, merchant)
    expect(page.locator("#workspace")).to_be_visible()


def test_upload_reports_the_bad_row_then_skip_invalid_applies_the_rest(
    live_server: LiveServer, page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    lines = [HEADER, GOOD[0], BAD, GOOD[1]]
    csv_file = tmp_path / "kettles.csv"
    csv_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad_row = lines.index(BAD) + 1
    open_catalog(page, live_server, live_server.key("merchant", "kettles", name="shop owner"), "kettles")
    expect(page.locator("#products-empty")).to_be_visible()

    page.get_by_label("Catalog or policy files").set_input_files(csv_file)
    page.get_by_role("button", name="Import").click()

    report = page.locator("#report")
    expect(report.locator("#report-outcome")).to_have_text("Nothing was applied")
    error_row = report.locator("#report-errors tbody tr")
    expect(error_row).to_have_count(1)
    expect(error_row.locator("td")).to_have_text(
        ["kettles.csv", str(bad_row), "price", "price 'abc' is not a number"]
    )
    expect(report.locator("#report-rejected")).to_contain_text("1")
    expect(page.locator("#products tbody tr")).to_have_count(0)
    assert live_server.services.store.count_products("kettles") == 0
    snapshot(page, "catalog-rejected")

    page.get_by_label("Skip invalid rows").check()
    page.get_by_role("button", name="Import").click()

    expect(report.locator("#report-outcome")).to_have_text("Applied")
    counts = report.locator("#report-counts tbody tr").first.locator("td")
    expect(counts).to_have_text(["2", "0", "0", "0"])
    expect(report.locator("#report-errors tbody tr")).to_have_count(1)
    listed = page.locator("#products tbody tr")
    expect(listed).to_have_count(2)
    expect(listed.locator("td.mono")).to_have_text(["KT-1", "KT-3"])
    expect(listed.locator("td.stock")).to_have_text(
        ["5", "unknown"]
    )  # no stock column value: unknown, not "—"
    assert live_server.services.store.get_product("kettles", "KT-2") is None

    page.get_by_role("button", name="Kettly Glass Kettle 1.7 L").click()
    detail = page.locator("#product")
    expect(detail.locator("h3")).to_have_text("Kettly Glass Kettle 1.7 L")
    expect(detail).to_contain_text("19.90")
    snapshot(page, "catalog-applied")
    assert page_errors == []


def test_browse_searches_pages_and_shows_variants_and_attributes(live_server: LiveServer, page: Page) -> None:
    store = live_server.services.store
    product = store.get_product("demo", "ZH-AP-001")
    assert product is not None
    assert product.variants
    open_catalog(page, live_server, live_server.key("agent", "demo", name="Alice"), "demo")

    rows = page.locator("#products tbody tr")
    total = store.count_products("demo")
    expect(rows).to_have_count(min(total, 20))
    expect(page.locator("#page-info")).to_contain_text(f"of {total}")
    if total > 20:
        page.get_by_role("button", name="Next").click()
        expect(rows).to_have_count(min(total - 20, 20))
        expect(page.locator("#page-info")).to_contain_text("21–")

    page.get_by_placeholder("Search by sku, title or brand").fill(product.sku)
    expect(rows.locator("td.mono")).to_have_text([product.sku])
    # Stock from the variants: the total and how many are sold out (not "—" for a product with variants).
    stock = product.stock_summary()
    assert stock.total is not None
    assert stock.sold_out > 0
    stock_text = f"{stock.total} · {stock.sold_out} of {stock.variants} sold out"
    expect(rows.locator("td.stock")).to_have_text([stock_text])
    rows.get_by_role("button").click()

    detail = page.locator("#product")
    expect(detail.locator("h3")).to_have_text(product.title)
    expect(detail.locator("dd[data-stock]")).to_have_text(stock_text)
    expect(detail.locator("table.variants tbody tr")).to_have_count(len(product.variants))
    first = product.variants[0]
    expect(detail.locator("table.variants tbody tr").first).to_contain_text(first.sku)
    for name, value in list(product.attributes.items())[:3]:
        expect(detail).to_contain_text(name)
        expect(detail).to_contain_text(value)
    snapshot(page, "catalog-browse")

    page.locator("#lang-toggle").click()  # the same line in Chinese
    zh = f"{stock.total} · {stock.variants} 个规格中 {stock.sold_out} 个售罄"
    expect(rows.locator("td.stock")).to_have_text([zh])
    expect(detail.locator("dd[data-stock]")).to_have_text(zh)


def test_an_agent_key_cannot_import_and_the_page_says_why(
    live_server: LiveServer, page: Page, tmp_path: Path
) -> None:
    csv_file = tmp_path / "more.csv"
    csv_file.write_text(f"{HEADER}\n{GOOD[0]}\n", encoding="utf-8")
    open_catalog(page, live_server, live_server.key("agent", "demo", name="Alice"), "demo")

    page.get_by_label("Catalog or policy files").set_input_files(csv_file)
    page.get_by_role("button", name="Import").click()

    alert = page.locator("#catalog-status")
    expect(alert).to_contain_text("may not do that")
    assert alert.get_attribute("data-status") == "403"
    assert live_server.services.store.get_product("demo", "KT-1") is None
