"""Product images by URL: fetched once at import from a real HTTP server on loopback, with limits."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from agent.live.broadcast import Broadcaster, HlsSink
from agent.live.events import OutputEvent
from api.app import create_app
from api.services import Services
from api.settings import Settings
from knowledge.images import ImageStore

pytestmark = pytest.mark.integration


def png(size: tuple[int, int] = (40, 30), colour: tuple[int, int, int] = (200, 40, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


class _Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        _Handler.hits[self.path] = _Handler.hits.get(self.path, 0) + 1
        bodies = {
            "/ok.png": (200, "image/png", png()),
            "/ok.jpg": (200, "text/plain", self._jpeg()),  # a wrong content type: the bytes decide
            "/big.png": (200, "image/png", b"\x89PNG\r\n\x1a\n" + b"0" * 300_000),
            "/page.html": (200, "image/png", b"<html>not an image</html>"),
            "/broken.png": (200, "image/png", b"\x89PNG\r\n\x1a\n" + b"garbage" * 10),
            "/wide.png": (200, "image/png", png((7000, 10))),
        }
        if self.path == "/slow.png":
            time.sleep(2.0)
        status, kind, body = bodies.get(self.path, (404, "text/plain", b"missing"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (the limits)
            self.wfile.write(body)

    @staticmethod
    def _jpeg() -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (20, 20), (10, 120, 200)).save(out, format="JPEG")
        return out.getvalue()


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_images_are_fetched_once_within_limits_and_each_refusal_says_why(tmp_path: Path, server: str) -> None:
    store = ImageStore(tmp_path / "images", max_bytes=200_000, timeout_s=0.5)
    names = ["ok.png", "ok.jpg", "big.png", "page.html", "broken.png", "wide.png", "slow.png", "gone.png"]
    report = store.fetch_all([f"{server}/{n}" for n in names] + ["file:///etc/passwd"])
    assert sorted(report.fetched) == [f"{server}/ok.jpg", f"{server}/ok.png"]
    reasons = {url.rsplit("/", 1)[1]: reason for url, reason in report.failed}
    assert "more than the 200000" in reasons["big.png"]
    assert reasons["page.html"] == "not a PNG, JPEG, WebP or GIF image"
    assert reasons["broken.png"].startswith("not a readable image")
    assert "7000x10 pixels" in reasons["wide.png"]
    assert reasons["slow.png"] == "no answer within 0.5 s"
    assert reasons["gone.png"] == "HTTP 404"
    assert len(report.failed) == 6  # the file:// URL is not fetched at all
    stored = store.local(f"{server}/ok.png")
    assert stored is not None
    assert stored.read_bytes() == png()
    again = store.fetch_all([f"{server}/ok.png"])
    assert again.cached == [f"{server}/ok.png"]
    assert _Handler.hits["/ok.png"] == 1
    assert not list((tmp_path / "images").glob(".fetch-*"))  # no partial files left


def test_import_stores_the_images_the_card_and_the_page_show(
    settings: Settings, tmp_path: Path, server: str
) -> None:
    rows = [
        {"sku": "IMG-1", "title": "暖禾加绒卫衣", "brand": "暖禾", "category": "服装/卫衣", "price": 129,
         "stock": 5, "images": [f"{server}/ok.png"]},
        {"sku": "IMG-2", "title": "清研面霜", "brand": "清研", "category": "美妆/面霜", "price": 99,
         "stock": 5, "images": [f"{server}/page.html"]},
    ]  # fmt: skip
    catalog = tmp_path / "products.jsonl"
    catalog.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    services = Services(settings)
    try:
        report = services.ingest([catalog], "demo")
        assert report.applied
        (warning,) = [w for w in report.warnings if w.file == "images"]
        assert "IMG-2: image" in warning.message
        assert "not a PNG, JPEG, WebP or GIF image" in warning.message
        key = ImageStore.key(f"{server}/ok.png")
        with TestClient(create_app(settings, warm_up=False)) as client:  # another process, same data dir
            response = client.get(f"/v1/images/{key}")
            assert response.status_code == 200
            assert response.headers["content-type"] == "image/png"
            assert response.content == png()
            assert client.get(f"/v1/images/{ImageStore.key(f'{server}/page.html')}").status_code == 404
            assert client.get("/v1/images/../../etc/passwd").status_code == 404
        # The programme's card shows the stored copy, not the URL.
        caster = Broadcaster(HlsSink(tmp_path / "hls"), images=services.images)
        card = {"sku": "IMG-1", "title": "暖禾加绒卫衣", "image": f"{server}/ok.png", "link": 1}
        asyncio.run(caster.feed(OutputEvent("r", 1, "product", card)))
        caster.programme.read_audio(10)
        assert caster.programme.on_air(0.0).card["image"] == str(services.images.local(f"{server}/ok.png"))
    finally:
        services.close()
