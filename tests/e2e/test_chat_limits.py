"""The chat page under a tight rate limit: the shopper sees the server's message and when to retry."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from api.settings import Settings
from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import ask, open_chat

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """One message per conversation, then about a minute's wait."""
    return settings.model_copy(
        update={"chat_burst_conversation": 1, "chat_rate_per_minute_conversation": 1.0}
    )


def test_too_many_messages_show_retry_after_and_block_sending(live_server: LiveServer, page: Page) -> None:
    open_chat(page, live_server.url)
    ask(page, "Do you ship to Shanghai?")
    expect(page.locator("#messages [data-role='bot']")).to_have_count(1)

    ask(page, "And to Beijing?")

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Too many messages")
    expect(alert).to_contain_text("too many messages from this conversation")
    seconds = re.search(r"wait (\d+) s", alert.inner_text())
    assert seconds is not None
    assert int(seconds.group(1)) >= 1
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    expect(page.locator("#messages [data-role='bot']")).to_have_count(1)
    expect(page.get_by_label("Your message")).to_have_value("And to Beijing?")
