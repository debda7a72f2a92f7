"""The shopper chat page in headless Chromium: answers, citations, errors, and markup shown as text."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import ask, open_chat, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def test_shopper_asks_by_exact_title_and_is_answered_with_a_citation(
    live_server: LiveServer, page: Page, page_errors: list[str]
) -> None:
    product = live_server.services.store.get_product("demo", "EN-EL-001")
    assert product is not None
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    open_chat(page, live_server.url)
    snapshot(page, "chat-empty")

    ask(page, f"How much is the {product.title}?")

    customer = page.locator("#messages [data-role='customer']")
    expect(customer).to_have_count(1)
    expect(customer.locator(".bubble")).to_have_text(f"How much is the {product.title}?")
    bot = page.locator("#messages [data-role='bot']")
    expect(bot).to_have_count(1)
    expect(bot.locator(".bubble")).to_contain_text(product.title)
    assert product.price is not None
    expect(bot.locator(".bubble")).to_contain_text(f"{product.price:.2f}".rstrip("0").rstrip("."))
    expect(bot.locator(".chip").first).to_contain_text(product.sku)
    expect(page.locator("#typing")).to_be_hidden()
    expect(page.get_by_label("Your message")).to_have_value("")
    snapshot(page, "chat-answered")
    # The answer came over the event stream, not the JSON fallback.
    assert len(posts) == 1
    assert posts[0].endswith("/messages/stream")
    assert page_errors == []


def test_conversation_survives_a_reload_in_the_same_tab(live_server: LiveServer, page: Page) -> None:
    open_chat(page, live_server.url)
    ask(page, "What is your return policy?")
    expect(page.locator("#messages [data-role='bot']")).to_have_count(1)
    conversation = page.evaluate("sessionStorage.getItem('anchor.chat.demo.conversation')")
    assert re.fullmatch(r"c-[0-9a-f]{24}", conversation)

    page.reload()
    page.wait_for_selector("body[data-ready='true']")

    expect(page.locator("#messages [data-role='customer'] .bubble")).to_have_text(
        ["What is your return policy?"]
    )
    expect(page.locator("#messages [data-role='bot']")).to_have_count(1)
    assert page.evaluate("sessionStorage.getItem('anchor.chat.demo.conversation')") == conversation
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("#messages [data-role='customer']")).to_have_count(0)
    assert page.evaluate("sessionStorage.getItem('anchor.chat.demo.conversation')") != conversation


def test_html_in_a_message_is_shown_as_text_and_never_runs(
    live_server: LiveServer, page: Page, page_errors: list[str]
) -> None:
    open_chat(page, live_server.url)

    ask(page, XSS)

    bubble = page.locator("#messages [data-role='customer'] .bubble")
    expect(bubble).to_have_text(XSS)
    expect(page.locator("#messages [data-role='bot']")).to_have_count(1)
    assert page.locator("#messages img, #messages script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    # The page also restores the stored conversation as text after a reload.
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#messages [data-role='customer'] .bubble")).to_have_text(XSS)
    assert page.locator("#messages img, #messages script").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page_errors == []


def test_a_message_over_the_limit_shows_the_servers_message(live_server: LiveServer, page: Page) -> None:
    limit = live_server.services.settings.max_message_chars
    open_chat(page, live_server.url)

    ask(page, "x" * (limit + 1))

    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(f"the limit is {limit}")
    expect(page.locator("#messages [data-role='customer']")).to_have_class(re.compile(r"\bfailed\b"))
    expect(page.locator("#messages [data-role='bot']")).to_have_count(0)
    expect(page.get_by_label("Your message")).to_have_value("x" * (limit + 1))


def test_an_invalid_merchant_in_the_link_is_reported(live_server: LiveServer, page: Page) -> None:
    page.goto(f"{live_server.url}/chat?merchant=../etc")
    page.wait_for_load_state("networkidle")
    expect(page.get_by_role("alert")).to_contain_text("invalid shop")
    expect(page.locator("#composer")).to_be_hidden()
