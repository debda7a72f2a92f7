"""The writer interface: evidence in, a draft answer out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from agent.aspects import AspectSet
from agent.evidence import Citation, Evidence
from knowledge.models import Product


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """Everything a writer may use. Writers see only this: never the store, never the open web."""

    question: str
    language: str  # "zh" | "en": the language to answer in
    route: str
    aspects: AspectSet
    evidence: Evidence
    channel: str = "chat"  # "chat" (private consultation) | "live" (public room)
    #: Products to ask the shopper to choose between (a clarifying question).
    candidates: tuple[Product, ...] = ()
    #: Recent turns of the conversation, oldest first: (role, text).
    history: tuple[tuple[str, str], ...] = ()
    #: The question asks the bot to confirm a claim it may not make ("全网最低价吗", "is it the best").
    claim_question: bool = False
    #: The product's link number in the live room (1号链接 …), when the answer is for a room that shows it.
    link: int | None = None
    #: "2号是防晒吗": the product kind asked about and whether this product is of it (see `KindAnswer`).
    kind: KindAnswer | None = None


@dataclass(frozen=True, slots=True)
class KindAnswer:
    """A question whether the product is of a kind the merchant sells ("是防晒吗"): the kind, and whether
    the product's title or category says it is (False: they name another kind and nothing in the
    listing mentions this one)."""

    kind: str
    matches: bool


@dataclass(slots=True)
class Draft:
    """A writer's answer before the guard."""

    text: str
    citations: list[Citation] = field(default_factory=list)
    confidence: float = 0.0
    refused: bool = False
    clarify: bool = False
    writer: str = "default"


class Writer(ABC):
    """Template method: `write` is the public entry; providers implement `_write`."""

    name: str = "writer"

    async def write(self, request: WriteRequest) -> Draft:
        draft = await self._write(request)
        draft.writer = self.name
        return draft

    async def stream(self, request: WriteRequest) -> AsyncIterator[str]:
        """Text pieces as they are produced; the default yields the whole draft at once."""
        draft = await self.write(request)
        yield draft.text

    @abstractmethod
    async def _write(self, request: WriteRequest) -> Draft: ...
