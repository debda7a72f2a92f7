"""After-sales hand-off across two browsers: the shopper asks for a refund, an agent answers in the console."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import ask, open_chat, sign_in, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ORDER_ID = "2024061512345678"


def open_console(page: Page, live_server: LiveServer, key: str) -> None:
    page.goto(f"{live_server.url}/console")
    page.wait_for_selector("body[data-ready='true']")
    sign_in(page, key, "demo")
    expect(page.locator("#workspace")).to_be_visible()


def test_refund_reaches_the_console_and_the_agents_reply_reaches_the_shopper(
    live_server: LiveServer, page: Page, agent_page: Page, page_errors: list[str]
) -> None:
    open_console(agent_page, live_server, live_server.key("agent", "demo", name="Alice"))
    expect(agent_page.get_by_text("No tickets match.")).to_be_visible()

    open_chat(page, live_server.url)
    ask(page, f"I want a refund for order {ORDER_ID}, the earbuds stopped working")
    notice = page.locator("#messages [data-role='notice']")
    expect(notice).to_contain_text("customer service")
    ticket_id = re.search(r"T-[0-9A-Z]{8}", notice.inner_text())
    assert ticket_id is not None, notice.inner_text()
    expect(page.locator("#chat-mode")).to_be_visible()
    snapshot(page, "chat-handoff")

    # The console's auto-refresh brings the new ticket in without a reload.
    row = agent_page.locator(f"[data-ticket='{ticket_id.group(0)}']")
    expect(row).to_be_visible(timeout=8_000)
    expect(row).to_contain_text("refund")
    row.click()
    detail = agent_page.locator("#detail")
    expect(detail.locator("#ticket-id")).to_have_text(ticket_id.group(0))
    expect(detail.locator("#ticket-meta")).to_contain_text(ORDER_ID)
    expect(detail.locator("#transcript [data-role='customer']").first).to_contain_text("refund")

    agent_page.get_by_role("button", name="Claim").click()
    expect(detail.locator("#ticket-state")).to_have_text("claimed")
    expect(detail.locator("#ticket-meta")).to_contain_text("Alice")

    reply = "Hi, this is Alice. I have started your refund; you will get an e-mail within a day."
    agent_page.get_by_label("Reply to the customer").fill(reply)
    agent_page.get_by_role("button", name="Send reply").click()
    expect(agent_page.locator("#action-status")).to_have_text("Reply sent.")
    expect(detail.locator("#transcript [data-role='agent'] .bubble")).to_have_text([reply])
    snapshot(agent_page, "console-replied")

    # The shopper's page polls every 2 s and shows the person's reply.
    agent_message = page.locator("#messages [data-role='agent'] .bubble")
    expect(agent_message).to_have_text([reply], timeout=8_000)

    # While a person owns the conversation the bot stays silent; the agent sees the follow-up.
    ask(page, "Thank you! Do I need to send the earbuds back?")
    expect(page.locator("#messages [data-role='notice']").last).to_have_text("Sent to customer service.")
    assert page.locator("#messages [data-role='bot']").count() == 1
    expect(detail.locator("#transcript [data-role='customer']").last).to_contain_text(
        "send the earbuds back", timeout=8_000
    )
    snapshot(page, "chat-agent-reply")

    agent_page.get_by_role("button", name="Resolve").click()
    expect(detail.locator("#ticket-state")).to_have_text("resolved")
    expect(agent_page.get_by_role("button", name="Resolve")).to_be_disabled()
    assert live_server.services.tickets.get("demo", ticket_id.group(0)).state == "resolved"
    assert page_errors == []


def test_console_explains_401_keeps_shops_apart_and_explains_409(
    live_server: LiveServer, page: Page, agent_page: Page
) -> None:
    open_chat(page, live_server.url)
    ask(page, f"Please refund order {ORDER_ID}, the parcel never arrived")
    expect(page.locator("#messages [data-role='notice']")).to_be_visible()
    ticket = live_server.services.tickets.list("demo")[0]

    agent_page.goto(f"{live_server.url}/console")
    sign_in(agent_page, "ak_not-a-real-key")
    alert = agent_page.locator("#console-status")
    expect(alert).to_contain_text("not accepted")
    expect(agent_page.locator("#sign-in")).to_be_visible()
    assert agent_page.evaluate("localStorage.getItem('anchor.apiKey')") is None

    # The key says which shop it works for: another shop's agent signs in to that shop, without demo's ticket.
    sign_in(agent_page, live_server.key("agent", "other-shop", name="Eve"), "other-shop")
    expect(agent_page.locator("#whoami")).to_contain_text("other-shop")
    expect(agent_page.get_by_text("No tickets match.")).to_be_visible()
    expect(agent_page.locator(f"[data-ticket='{ticket.id}']")).to_have_count(0)
    expect(alert).to_be_hidden()
    agent_page.get_by_role("button", name="Sign out").click()
    expect(agent_page.locator("#sign-in")).to_be_visible()

    sign_in(agent_page, live_server.key("agent", "demo", name="Alice"), "demo")
    agent_page.locator(f"[data-ticket='{ticket.id}']").click()
    live_server.services.tickets.claim("demo", ticket.id, "Bob")
    agent_page.get_by_role("button", name="Claim").click()
    status = agent_page.locator("#action-status")
    expect(status).to_contain_text("claimed by Bob")
    assert status.get_attribute("data-status") == "409"
