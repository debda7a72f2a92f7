"""Sign in with the key alone: the console and the catalog page ask `GET /v1/me` whose key it is; an admin key
chooses the merchant from the existing ones."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_console_signs_in_with_only_a_key_and_shows_the_merchants_name(
    live_server: LiveServer, page: Page, page_errors: list[str]
) -> None:
    live_server.services.store.ensure_merchant("kettles", "Kettle House 壶屋")
    key = live_server.key("agent", "kettles", name="Alice")

    page.goto(f"{live_server.url}/console")
    page.wait_for_selector("body[data-ready='true']")
    form = page.locator("#sign-in")
    expect(form.locator("input")).to_have_count(1)  # the key, and nothing else to fill
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()

    whoami = page.locator("#whoami")
    expect(whoami.locator(".whoami-merchant")).to_have_text("Kettle House 壶屋")
    expect(whoami).to_contain_text("Alice")
    expect(whoami.locator(".whoami-role")).to_have_text("agent")
    expect(page.locator("#workspace")).to_be_visible()
    expect(page.get_by_text("No tickets match.")).to_be_visible()
    expect(page.locator("#merchant-picker")).to_be_hidden()  # only an admin key chooses
    assert page.evaluate("localStorage.getItem('anchor.merchant')") == "kettles"
    snapshot(page, "console-signed-in")

    page.reload()  # the stored key is asked about again, and still good
    page.wait_for_selector("body[data-ready='true']")
    expect(whoami.locator(".whoami-merchant")).to_have_text("Kettle House 壶屋")
    expect(form).to_be_hidden()

    # A key that stops working signs the page out at its next refresh, and says why.
    live_server.services.keys.revoke(key)
    expect(page.locator("#console-status")).to_contain_text("not accepted", timeout=10_000)
    expect(form).to_be_visible()
    assert page.evaluate("localStorage.getItem('anchor.apiKey')") is None
    assert page_errors == []


def test_an_admin_key_chooses_the_merchant_from_the_existing_ones(
    live_server: LiveServer, page: Page, page_errors: list[str]
) -> None:
    live_server.services.store.ensure_merchant("kettles", "Kettle House")
    page.goto(f"{live_server.url}/catalog")
    page.wait_for_selector("body[data-ready='true']")
    page.get_by_label("API key").fill(live_server.key("admin", None, name="root"))
    page.get_by_role("button", name="Sign in").click()

    picker = page.get_by_label("Merchant")
    expect(picker).to_be_visible()
    expect(picker.locator("option")).to_have_text(["demo", "Kettle House (kettles)"])
    expect(picker).to_have_value("demo")
    expect(page.locator("#whoami .whoami-role")).to_have_text("admin")
    expect(page.locator("#products tbody tr")).to_have_count(20)  # demo's catalog

    picker.select_option("kettles")
    expect(page.locator("#products-empty")).to_be_visible()  # kettles has no products yet
    expect(page.locator("#products tbody tr")).to_have_count(0)
    snapshot(page, "catalog-admin-choice")

    page.reload()  # the choice is remembered
    page.wait_for_selector("body[data-ready='true']")
    expect(page.get_by_label("Merchant")).to_have_value("kettles")
    expect(page.locator("#products-empty")).to_be_visible()
    assert page_errors == []
