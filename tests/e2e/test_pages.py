"""The pages as served: headers, assets, the index, both UI languages, and the SSE parser in the browser."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from api.app import create_app
from api.settings import Settings
from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import open_chat, snapshot

pytestmark = pytest.mark.e2e

PAGES = ["/", "/chat?merchant=demo", "/console", "/catalog"]


def test_pages_and_assets_are_served_with_a_strict_policy(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("text/html")
            policy = response.headers["content-security-policy"]
            assert "script-src 'self'" in policy
            assert "'unsafe-inline'" not in policy
            assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in client.get("/console").headers["content-security-policy"]
        # The widget and the room page (the OBS overlay) may be framed, by ANCHOR_EMBED_ORIGINS ("*" by default).
        assert "frame-ancestors *" in client.get("/chat").headers["content-security-policy"]

        script = client.get("/static/chat.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert client.get("/static/app.css").headers["content-type"].startswith("text/css")
        for bad in [
            "/static/..%2Fpages.py",
            "/static/__init__.py",
            "/static/missing.js",
            "/static/.hidden.js",
        ]:
            response = client.get(bad)
            assert response.status_code == 404, bad
            assert response.json()["error"]["code"] == "not_found"


def test_every_page_loads_its_modules_without_errors(live_server: LiveServer, page: Page) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    names = {
        "/": "index",
        "/chat?merchant=demo": "chat",
        "/console": "console-sign-in",
        "/catalog": "catalog-sign-in",
    }
    for width, suffix in [(1280, ""), (390, "-phone")]:
        page.set_viewport_size({"width": width, "height": 800})
        for path in PAGES:
            page.goto(live_server.url + path)
            page.wait_for_selector("body[data-ready='true']")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is wider than a {width}px screen"
            snapshot(page, names[path] + suffix)
    assert errors == []
    assert failed == []


def test_index_links_the_pages_and_the_api_docs(live_server: LiveServer, page: Page) -> None:
    page.goto(live_server.url + "/")
    for name, href in [
        ("Shopper chat", "/chat?merchant=demo"),
        ("Agent console", "/console"),
        ("Catalog", "/catalog"),
        ("API docs", "/docs"),
    ]:
        expect(page.get_by_role("link", name=name)).to_have_attribute("href", href)
    page.get_by_role("link", name="Agent console").click()
    expect(page).to_have_url(live_server.url + "/console")


def test_chinese_browsers_get_the_chinese_interface_and_can_switch(
    live_server: LiveServer, browser: Browser
) -> None:
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        open_chat(page, live_server.url)
        expect(page.locator("h1")).to_have_text("在线咨询")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.get_by_label("输入消息")).to_be_visible()
        snapshot(page, "chat-zh")
        page.locator("#lang-toggle").click()
        expect(page.locator("h1")).to_have_text("Ask us anything")
        page.reload()
        page.wait_for_selector("body[data-ready='true']")
        expect(page.locator("h1")).to_have_text("Ask us anything")
    finally:
        context.close()


def test_the_sse_parser_handles_split_chunks_and_line_endings(live_server: LiveServer, page: Page) -> None:
    page.goto(live_server.url + "/")
    events = page.evaluate(
        """async () => {
            const { SseParser } = await import("/static/sse.js");
            const parser = new SseParser();
            const chunks = [
                ": keep-alive\\n\\nevent: del", "ta\\ndata: {\\"text\\": \\"你好\\"}\\r", "\\n\\r\\n",
                "event: replace\\rdata: line one\\rdata: line two\\r\\r",
                "data: no event name\\n\\n", "event: done\\ndata: {}",
            ];
            const seen = [];
            for (const chunk of chunks) seen.push(...parser.push(chunk));
            const last = parser.finish();
            if (last) seen.push(last);
            return seen;
        }"""
    )
    assert events == [
        {"event": "delta", "data": '{"text": "你好"}'},
        {"event": "replace", "data": "line one\nline two"},
        {"event": "message", "data": "no event name"},
        {"event": "done", "data": "{}"},
    ]


def test_embedding_is_limited_to_the_configured_origins(settings: Settings) -> None:
    limited = settings.model_copy(update={"embed_origins": "https://shop.example.com"})
    with TestClient(create_app(limited, warm_up=False)) as client:
        policy = client.get("/chat").headers["content-security-policy"]
        assert "frame-ancestors https://shop.example.com" in policy
        assert "frame-ancestors 'none'" in client.get("/catalog").headers["content-security-policy"]
