"""People teach the router in the agent console: a misread message is corrected in the browser and stored."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from agent.understanding.corrections import CorrectionStore
from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import sign_in, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TEXT = "这个卫衣洗一次就起球了"


def test_an_agent_corrects_an_intent_in_the_console(
    live_server: LiveServer, page: Page, page_errors: list[str]
) -> None:
    said = live_server.run(live_server.services.pipeline.answer("demo", "shopper-1", TEXT))
    decided = said.intent
    assert decided is not None
    corrected_to = "chitchat" if decided == "damaged_wrong_missing" else "damaged_wrong_missing"

    page.goto(f"{live_server.url}/console")
    page.wait_for_selector("body[data-ready='true']")
    sign_in(page, live_server.key("agent", "demo", name="Alice"), "demo")
    row = page.locator(".routed-row", has_text=TEXT)
    expect(row).to_be_visible()
    expect(row).to_have_attribute("data-intent", decided)
    expect(row).to_contain_text(decided)
    row.get_by_label("Intent of this message").select_option(corrected_to)
    row.get_by_role("button", name="Correct").click()
    expect(page.locator("#intents-status")).to_contain_text(f"is {corrected_to}")
    expect(page.locator(".routed-row", has_text=TEXT)).to_have_attribute("data-corrected", corrected_to)
    snapshot(page, "console-correction")

    stored = CorrectionStore(live_server.services.engine).list("demo")
    assert [(c.text, c.intent, c.previous, c.author) for c in stored] == [
        (TEXT, corrected_to, decided, "Alice")
    ]
    assert page_errors == []
