"""Small helpers shared by the browser tests."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, expect

#: Set ANCHOR_E2E_SCREENSHOTS=/some/dir to keep a screenshot of each page the tests visit.
SCREENSHOT_ENV = "ANCHOR_E2E_SCREENSHOTS"


def snapshot(page: Page, name: str) -> Path | None:
    """Save a full-page screenshot as `<dir>/<name>.png` when ANCHOR_E2E_SCREENSHOTS names a folder."""
    folder = os.environ.get(SCREENSHOT_ENV)
    if not folder:
        return None
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def open_chat(page: Page, base_url: str, merchant: str = "demo") -> None:
    page.goto(f"{base_url}/chat?merchant={merchant}")
    page.wait_for_selector("body[data-ready='true']")


def ask(page: Page, text: str) -> None:
    """Type `text` in the chat box and press Enter."""
    box = page.get_by_label("Your message")
    box.fill(text)
    box.press("Enter")


def sign_in(page: Page, key: str, merchant: str | None = None) -> None:
    """Sign in to the console or the catalog page with the key alone (the page asks `GET /v1/me` whose it is).

    `merchant`, when given: for an admin key, the merchant to choose in the header's select; for any other
    key, the merchant the page must then be working for (the key's own). Leave it out for a key that is
    expected to be refused.
    """
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    if merchant is None:
        return
    signed_in = page.locator("body[data-role]")  # set once the page knows whose key it is
    expect(signed_in).to_be_attached()
    if signed_in.get_attribute("data-role") == "admin":
        page.get_by_label("Merchant").select_option(merchant)
    expect(page.locator(f"body[data-merchant='{merchant}']")).to_be_attached()
