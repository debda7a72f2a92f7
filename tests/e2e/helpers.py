"""Small helpers shared by the browser tests."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page

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


def sign_in(page: Page, key: str, merchant: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_label("Merchant").fill(merchant)
    page.get_by_role("button", name="Sign in").click()
