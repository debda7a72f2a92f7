"""The live-room page: ``/room/{room_id}`` (``?transparent=1`` for an OBS browser source, ``?muted=1``,
``?lang=zh|en``). A static page like the others; it talks to ``/v1/rooms/{room_id}/ws`` from the browser.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

from agent.live.host import HostError
from agent.live.plan import HostConfig
from api.deps import ServicesDep, SettingsDep
from api.routes.pages import _page
from api.routes.rooms import ROOM_ID
from api.services import Services
from knowledge.images import MEDIA_TYPES, image_kind
from voice.mouth import MOUTH_FPS, MOUTH_LEVELS

log = logging.getLogger("anchor.api.rooms")

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/room/{room_id}")
def room_page(room_id: str, settings: SettingsDep) -> FileResponse:
    """The viewer page of one room; it may be framed (a merchant's site) like the chat widget."""
    if not ROOM_ID.match(room_id):
        raise HTTPException(404, f"room id {room_id!r} is not valid")
    return _page("room.html", frameable=True, ancestors=settings.embed_origins)


# -- the host figure's layers, for the page ----------------------------------------------------------------
def _room_host(services: Services, room_id: str) -> tuple[str, HostConfig]:
    """The room's merchant and host settings (from the running director, else its stored plan)."""
    if not ROOM_ID.match(room_id):
        raise HTTPException(404, f"room id {room_id!r} is not valid")
    director = services.rooms.get(room_id)
    if director is not None:
        host = getattr(director.plan, "host", None)
        return str(director.plan.merchant), host if isinstance(host, HostConfig) else HostConfig()
    record = services.rooms.factory.state.load(room_id)
    if record is None:
        raise HTTPException(404, f"no room {room_id!r}")
    try:
        return record.merchant, HostConfig.model_validate(record.plan.get("host") or {})
    except ValueError as exc:
        raise HTTPException(404, f"room {room_id!r} has no usable host settings") from exc


@router.get("/v1/rooms/{room_id}/host")
def room_host(room_id: str, services: ServicesDep) -> dict[str, Any]:
    """The room's host figure: whether it shows, its layers' URLs, size, scale, side and mouth frame rate."""
    merchant, config = _room_host(services, room_id)
    if not config.show:
        return {"show": False}
    try:
        layers = services.hosts.get(merchant, config.layers)
    except HostError as exc:
        log.warning("room %s: host layers unusable: %s", room_id, exc)
        return {"show": False, "error": str(exc)}
    version = config.layers or "default"
    return {
        "show": True,
        "size": list(layers.size),
        "scale": config.scale,
        "position": config.position,
        "mouths": len(layers.mouths),
        "mouth_levels": MOUTH_LEVELS,
        "fps": MOUTH_FPS,
        "layers": {name: f"/v1/rooms/{room_id}/host/{name}.png?v={version}" for name in layers.names()},
    }


@router.get("/v1/rooms/{room_id}/host/{layer}.png")
def room_host_layer(room_id: str, layer: str, services: ServicesDep) -> Response:
    merchant, config = _room_host(services, room_id)
    try:
        data = services.hosts.png(merchant, config.layers, layer)
    except (HostError, KeyError) as exc:
        raise HTTPException(404, f"room {room_id!r} has no host layer {layer!r}") from exc
    return Response(data, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})


_IMAGE_KEY = re.compile(r"^[0-9a-f]{40}$")


@router.get("/v1/images/{key}")
def product_image(key: str, services: ServicesDep) -> Response:
    """A product image downloaded at catalog import (its key is the SHA-256 of its URL), for the card."""
    path = services.images.folder / key if _IMAGE_KEY.match(key) else None
    if path is None or not path.is_file():
        raise HTTPException(404, f"no stored image {key[:40]!r}")
    data = path.read_bytes()
    kind = image_kind(data[:16])
    if kind is None:
        raise HTTPException(404, f"no stored image {key!r}")
    return Response(data, media_type=MEDIA_TYPES[kind], headers={"Cache-Control": "public, max-age=86400"})
