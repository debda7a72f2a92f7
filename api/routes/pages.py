"""The web pages: `/` (index), `/chat` (shopper widget), `/console` (agent console), `/catalog`
(merchant catalog), `/rooms` (room builder) and their assets under `/static/`.

Pages are static files; everything dynamic happens in the browser against the JSON API. Each response
carries a strict Content-Security-Policy (scripts and styles only from this origin, no inline code) as a
second line of defence behind the pages' rule of inserting user text with `textContent` only.
"""

from __future__ import annotations

import re
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from api.deps import SettingsDep
from api.web import PAGES_DIR, STATIC_DIR

router = APIRouter(tags=["pages"], include_in_schema=False)

_ASSET_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(js|css)$")
_MEDIA_TYPES: Final = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}
_CSP_BASE: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)


def _headers(*, frameable: bool, ancestors: str = "*") -> dict[str, str]:
    """Security headers for a page. Only the shopper widget and the room page (the OBS overlay) may be
    framed, and only by `ancestors` (``ANCHOR_EMBED_ORIGINS``: "*" by default, or the merchant's own sites);
    every other page by nobody."""
    csp = f"{_CSP_BASE}; frame-ancestors {ancestors if frameable else chr(39) + 'none' + chr(39)}"
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    if not frameable:
        headers["X-Frame-Options"] = "DENY"
    return headers


def _page(name: str, *, frameable: bool = False, ancestors: str = "*") -> FileResponse:
    return FileResponse(
        PAGES_DIR / name,
        media_type="text/html; charset=utf-8",
        headers=_headers(frameable=frameable, ancestors=ancestors),
    )


@router.get("/")
def index_page() -> FileResponse:
    return _page("index.html")


@router.get("/chat")
def chat_page(settings: SettingsDep) -> FileResponse:
    """The shopper chat widget (``?merchant=<id>``); embeddable in a merchant's own site."""
    return _page("chat.html", frameable=True, ancestors=settings.embed_origins)


@router.get("/console")
def console_page() -> FileResponse:
    return _page("console.html")


@router.get("/catalog")
def catalog_page() -> FileResponse:
    return _page("catalog.html")


@router.get("/rooms")
def rooms_page() -> FileResponse:
    """The room builder: saved plans, the editor with its live preview, start and stop."""
    return _page("rooms.html")


@router.get("/static/{name}")
def static_asset(name: str) -> FileResponse:
    """One asset from the flat static folder; names are checked, so no path can leave it."""
    match = _ASSET_NAME.match(name)
    path = STATIC_DIR / name
    if match is None or not path.is_file():
        raise HTTPException(404, f"no static asset named {name!r}")
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES[match.group(1)],
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )
