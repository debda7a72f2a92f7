"""Navigation over a script by `Position`, and the small conversions the director makes on its way.

A position names the next sentence to say. `settle` moves a position onto the first sentence at or after
it (plan items whose product is unknown have no segments; a segment may be empty), `advance` to the
sentence after it. Past the last sentence the position is "past the last item" (``item ==
len(items)``), which is how a finished, non-looping show is persisted.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from agent.db import ID_CHARS
from agent.evidence import stock_state
from agent.live.events import AudioRef, Cue, Position
from agent.live.ports import ScriptItemLike, ScriptLike
from agent.live.templates import spoken_name
from agent.writers.default import money
from knowledge.images import ImageStore, is_image_url
from knowledge.models import Product
from voice import Clip

_SAFE_ID = re.compile(r"[A-Za-z0-9_.:-]+")


def conversation_id(room_id: str, user: str) -> str:
    """The pipeline conversation of one viewer in one room, within the conversation id limit."""
    cid = f"live:{room_id}:{user}"
    if len(cid) <= ID_CHARS and _SAFE_ID.fullmatch(cid):
        return cid
    # Nicknames are anything a platform allows (Chinese, emoji, spaces): a stable digest instead.
    return f"live:{hashlib.sha256(cid.encode()).hexdigest()[: ID_CHARS - 5]}"


def to_audio(clip: Clip) -> AudioRef:
    return AudioRef(
        data=clip.audio,
        format=clip.format,
        sample_rate=clip.sample_rate,
        duration=clip.duration,
        cues=tuple(Cue(c.start, c.end, c.text) for c in clip.cues),
        engine=clip.engine,
        mouth=clip.mouth,
    )


def sentence_at(script: ScriptLike, pos: Position) -> str | None:
    items = script.items
    if not 0 <= pos.item < len(items):
        return None
    segments = items[pos.item].segments
    if not 0 <= pos.segment < len(segments):
        return None
    sentences = segments[pos.segment].sentences
    return sentences[pos.sentence] if 0 <= pos.sentence < len(sentences) else None


def settle(script: ScriptLike, pos: Position) -> Position:
    """The first position at or after ``pos`` that holds a sentence; past the last item when none does."""
    items = script.items
    item, segment, sentence = pos.item, pos.segment, pos.sentence
    while 0 <= item < len(items):
        segments = items[item].segments
        while segment < len(segments):
            if sentence < len(segments[segment].sentences):
                return Position(pos.loop, item, segment, sentence)
            segment, sentence = segment + 1, 0
        item, segment, sentence = item + 1, 0, 0
    return Position(pos.loop, len(items), 0, 0)


def advance(script: ScriptLike, pos: Position) -> Position:
    """The position after the sentence at ``pos`` (past the last item at the end of the script)."""
    return settle(script, Position(pos.loop, pos.item, pos.segment, pos.sentence + 1))


def product_card(item: ScriptItemLike, product: Product | None, language: str) -> dict[str, Any]:
    """The ``product`` event's data: link, sku, title, price and list price as money, image, stock state."""
    data: dict[str, Any] = {"sku": item.sku, "link": item.link, "language": language}
    if product is not None:
        data.update(
            title=product.title,
            name=spoken_name(product, "en" if language == "en" else "zh"),
            price=money(product.price, product.currency) if product.price is not None else None,
            currency=product.currency,
            list_price=money(product.list_price, product.currency)
            if product.list_price is not None
            else None,
            image=product.images[0] if product.images else None,
            # A URL image as the room page loads it: from this server's copy made at import.
            image_url=f"/v1/images/{ImageStore.key(product.images[0])}"
            if product.images and is_image_url(product.images[0])
            else None,
            stock_state=stock_state(product.total_stock()),
        )
    return data
