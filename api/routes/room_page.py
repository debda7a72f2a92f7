"""The live-room page: ``/room/{room_id}`` (``?transparent=1`` for an OBS browser source, ``?muted=1``,
``?lang=zh|en``). A static page like the others; it talks to ``/v1/rooms/{room_id}/ws`` from the browser.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from api.deps import SettingsDep
from api.routes.pages import _page
from api.routes.rooms import ROOM_ID

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/room/{room_id}")
def room_page(room_id: str, settings: SettingsDep) -> FileResponse:
    """The viewer page of one room; it may be framed (a merchant's site) like the chat widget."""
    if not ROOM_ID.match(room_id):
        raise HTTPException(404, f"room id {room_id!r} is not valid")
    return _page("room.html", frameable=True, ancestors=settings.embed_origins)
