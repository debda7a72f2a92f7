"""The room builder page (/rooms) in Chromium: sign in with a merchant key, pick three products from the
catalog, reorder them (drag and drop, and the keyboard's move buttons), type a pinned line the compliance
check rejects, see the finding with its rule and rewrite, accept the rewrite, save, start the room (espeak-ng
speech), see it running, open the room page, and stop it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from api.settings import Settings
from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import sign_in, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BAD_LINE = "全网最低价，效果最好"
REWRITE = "优惠价，效果很好"
PICKS = ["ZH-AP-001", "ZH-BE-002", "ZH-FD-003"]


@pytest.fixture
def settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The shared e2e settings, speaking with espeak-ng (offline) in the rooms."""
    monkeypatch.setenv("ANCHOR_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ANCHOR_EMBEDDER", "hash")
    monkeypatch.delenv("ANCHOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("ANCHOR_REDIS_URL", raising=False)
    return Settings(data_dir=data_dir, embedder="hash", room_tts_engine="espeak")


@pytest.fixture
def builder(live_server: LiveServer, page: Page) -> Page:
    page.goto(f"{live_server.url}/rooms")
    page.wait_for_selector("body[data-ready='true']")
    sign_in(page, live_server.key("merchant", "demo", name="shop owner"), "demo")
    expect(page.locator("#workspace")).to_be_visible()
    return page


def skus(page: Page) -> list[str]:
    found: list[str] = page.locator("#items > li").evaluate_all("nodes => nodes.map(n => n.dataset.sku)")
    return found


def test_build_a_room_accept_a_rewrite_save_start_and_open_it(
    live_server: LiveServer, builder: Page, page_errors: list[str]
) -> None:
    page = builder
    page.get_by_label("Room id").fill("e2e-room")
    page.get_by_label("Title", exact=True).fill("E2E 专场")

    search = page.get_by_placeholder("Search the catalog by sku, title or brand")
    for sku in PICKS:
        search.fill(sku)
        result = page.locator(f"#catalog-results li[data-sku='{sku}']")
        expect(result).to_have_count(1)
        result.get_by_role("button").click()
        expect(result.get_by_role("button")).to_have_text("Added")
    assert skus(page) == PICKS
    expect(page.locator("#items .link-label")).to_have_text(["Link 1", "Link 2", "Link 3"])

    # Drag the third product onto the first: it becomes link 1.
    items = page.locator("#items > li")
    items.nth(2).locator(".item-head").drag_to(items.nth(0))
    assert skus(page) == [PICKS[2], PICKS[0], PICKS[1]]
    # The keyboard's way: move the (new) first product down one place.
    first_title = items.nth(0).locator(".item-title").inner_text()
    page.get_by_role("button", name=f"Move {first_title} down").click()
    order = [PICKS[0], PICKS[2], PICKS[1]]
    assert skus(page) == order
    expect(page.locator("#items .link-label")).to_have_text(["Link 1", "Link 2", "Link 3"])
    expect(
        page.locator("#items > li").nth(1).get_by_role("button", name=f"Move {first_title} down")
    ).to_be_focused()

    # A pinned line the compliance check rejects: the finding with its rule, span and rewrite.
    first = page.locator("#items > li").nth(0)
    first.get_by_role("button", name="Add pinned line").click()
    page.get_by_label("Pinned line 1 of link 1", exact=True).fill(BAD_LINE)
    preview = page.locator(f".preview-item[data-link='1'][data-sku='{order[0]}']")
    rejected = preview.locator(".checked-line[data-rejected='true']")
    expect(rejected).to_have_count(1, timeout=15_000)
    expect(rejected.locator(".finding .rule").first).to_have_text("absolute.superlative")
    expect(rejected.locator("mark").first).to_have_text("全网最低价")
    expect(rejected.locator(".rewrite-text")).to_have_text(REWRITE)
    expect(first.locator(".pinned-row")).to_have_attribute("data-rejected", "true")
    for link in (1, 2, 3):
        expect(page.locator(f".preview-item[data-link='{link}'] .seconds")).to_contain_text(" s")
    snapshot(page, "rooms-finding")

    rejected.get_by_role("button", name="Accept rewrite").click()
    expect(page.get_by_label("Pinned line 1 of link 1", exact=True)).to_have_value(REWRITE)
    expect(preview.locator(".checked-line")).to_have_count(0, timeout=15_000)
    expect(preview.locator(".line[data-pinned='true'] .line-text").first).to_have_text(REWRITE)
    expect(page.locator("#preview-summary")).to_contain_text("0 rejected lines")

    page.get_by_role("button", name="Save").click()
    expect(page.locator("#rooms-status")).to_have_text("Saved plan e2e-room: version 1.")
    expect(page.locator("#plan-list li[data-room='e2e-room']")).to_be_visible()
    saved = live_server.services
    from api.routes.room_plans import plan_store

    stored = plan_store(saved).get("demo", "e2e-room")
    assert [item.sku for item in stored.plan.items] == order
    assert [item.link for item in stored.plan.items] == [1, 2, 3]
    assert stored.plan.items[0].pinned_lines == {"hook": [REWRITE]}

    page.get_by_role("button", name="Start").click()
    panel = page.locator("#status-panel")
    expect(panel.locator("[data-figure='status']")).to_have_text("running", timeout=15_000)
    expect(panel.locator("[data-figure='position']")).to_contain_text("Link ")
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()
    expect(page.locator("#room-obs")).to_have_text(f"{live_server.url}/room/e2e-room?transparent=1")
    snapshot(page, "rooms-running")

    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Open the room page").click()
    room_page = opened.value
    room_page.wait_for_load_state()
    assert room_page.url == f"{live_server.url}/room/e2e-room"
    room_page.wait_for_selector("body[data-ready='true']")
    room_page.close()

    page.get_by_role("button", name="Stop").click()
    expect(panel.locator("[data-figure='status']")).to_have_text("stopped", timeout=20_000)
    expect(page.get_by_role("button", name="Start")).to_be_enabled()
    assert page_errors == []


def test_export_and_import_yaml_problems_next_to_their_fields_and_an_agent_key(
    live_server: LiveServer, builder: Page, page_errors: list[str], tmp_path: Path
) -> None:
    page = builder
    headers = {"Authorization": f"Bearer {live_server.key('merchant', 'demo')}"}
    plan = {
        "room_id": "yaml-room",
        "title": "导出",
        "items": [{"link": 1, "sku": PICKS[1]}, {"link": 2, "sku": PICKS[2]}],
    }
    created = httpx.post(f"{live_server.url}/v1/merchants/demo/plans", json=plan, headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    page.get_by_role("button", name="New plan").click()
    page.locator("#plan-list li[data-room='yaml-room'] button").click()
    expect(page.get_by_label("Room id")).to_have_value("yaml-room")
    expect(page.locator("#items .link-label")).to_have_text(["Link 1", "Link 2"])
    with page.expect_download() as download:
        page.get_by_role("button", name="Export YAML").click()
    assert download.value.suggested_filename == "yaml-room.yaml"
    exported = tmp_path / "exported.yaml"
    download.value.save_as(exported)
    text = exported.read_text(encoding="utf-8")
    assert "room_id: yaml-room" in text
    edited = tmp_path / "edited.yaml"
    edited.write_text(text.replace("title: 导出", "title: 再导入"), encoding="utf-8")
    page.get_by_label("Import YAML").set_input_files(edited)
    expect(page.locator("#rooms-status")).to_have_text("Imported plan yaml-room: version 2.")
    expect(page.get_by_label("Title", exact=True)).to_have_value("再导入")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace(PICKS[1], "NOPE-1"), encoding="utf-8")
    page.get_by_label("Import YAML").set_input_files(broken)
    expect(page.locator("#import-status")).to_contain_text("items.0.sku: sku 'NOPE-1' is not in")
    page.locator("#lang-toggle").click()
    expect(page.locator("#items .link-label")).to_have_text(["1号链接", "2号链接"])
    expect(page.get_by_role("button", name="保存")).to_be_visible()
    page.locator("#lang-toggle").click()

    # Problems the API finds are shown next to the field they name.
    page.get_by_role("button", name="New plan").click()
    page.get_by_label("Room id").fill("bad id!")
    search = page.get_by_placeholder("Search the catalog by sku, title or brand")
    search.fill(PICKS[0])
    page.locator(f"#catalog-results li[data-sku='{PICKS[0]}']").get_by_role("button").click()
    page.locator("#add-filler").click()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field[data-field='room_id'] .field-error")).to_contain_text("room id 'bad id!'")
    expect(page.locator("#fillers .field-error")).to_contain_text("filler 0 is blank")
    expect(page.get_by_label("Room id")).to_have_attribute("aria-invalid", "true")
    assert page_errors == []

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server.key("agent", "demo"), "demo")
    expect(page.locator("#rooms-status")).to_contain_text("needs a merchant or admin key")
    expect(page.locator("#workspace")).to_be_hidden()
