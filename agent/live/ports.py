"""What the director needs from its collaborators, as protocols.

The real ones are `agent.live.plan.RoomPlan`, `agent.live.script.ScriptBuilder` / `Script`,
`agent.live.triage.ChatTriage`, `agent.pipeline.AnswerPipeline`, `voice.FallbackTTS`, a
`agent.live.bus.RoomBus` and `knowledge.store.CatalogStore`; anything with the same shape works.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, Protocol

from agent.conversations import Channel
from agent.focus import RoomContext
from agent.live.events import OutputEvent
from knowledge.models import Product
from voice import Clip, Prosody

Sleep = Callable[[float], Awaitable[None]]
#: Waits until the event is set (True, the event is cleared) or the seconds pass (False).
WaitWoken = Callable[[asyncio.Event, float], Awaitable[bool]]


class AirtimeLike(Protocol):
    """`agent.live.plan.AirtimePolicy` as the director reads it."""

    @property
    def script_share(self) -> float: ...
    @property
    def window_s(self) -> float: ...
    @property
    def max_answers_in_row(self) -> int: ...
    @property
    def answer_sentences(self) -> int: ...
    @property
    def repeat_quiet_s(self) -> float: ...
    @property
    def screen_after_s(self) -> float: ...


class PlanLike(Protocol):
    """`agent.live.plan.RoomPlan` as the director reads it."""

    @property
    def room_id(self) -> str: ...
    @property
    def merchant(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def voice(self) -> str | None: ...
    @property
    def loop(self) -> bool: ...
    @property
    def interrupt(self) -> str: ...
    @property
    def airtime(self) -> AirtimeLike: ...
    def link_map(self) -> dict[int, str]: ...
    def model_dump(self, *, mode: Literal["json", "python"] | str = ...) -> dict[str, Any]: ...


class SegmentLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def sentences(self) -> Sequence[str]: ...


class ScriptItemLike(Protocol):
    @property
    def link(self) -> int: ...
    @property
    def sku(self) -> str: ...
    @property
    def segments(self) -> Sequence[SegmentLike]: ...


class ScriptLike(Protocol):
    @property
    def items(self) -> Sequence[ScriptItemLike]: ...
    @property
    def fillers(self) -> Sequence[str]: ...  # idle lines, already compliance-checked


class ScriptBuilderLike(Protocol):
    def build(self, plan: Any, *, loop_index: int = 0) -> ScriptLike: ...


class QuestionGroupLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def messages(self) -> Sequence[Any]: ...  # ViewerMessage
    @property
    def count(self) -> int: ...  # how many viewers asked (>= len(messages))
    @property
    def sku_hint(self) -> str | None: ...
    @property
    def waited_s(self) -> float: ...  # seconds since the group's first message when it was taken
    @property
    def token(self) -> int: ...  # names the group to `TriageLike.record_answer`


class AckLineLike(Protocol):
    @property
    def text(self) -> str: ...


class TriageLike(Protocol):
    current_sku: str | None

    def next_question(self) -> QuestionGroupLike | None: ...
    def pending_after_sales(self) -> bool: ...
    def take_after_sales(self) -> Sequence[QuestionGroupLike]: ...
    def take_waiting(self, older_than_s: float, limit: int) -> Sequence[QuestionGroupLike]: ...
    def drain_decisions(self) -> list[dict[str, Any]]: ...
    def record_answer(self, token: int, text: str) -> None: ...
    def take_repeats(self) -> Sequence[tuple[Any, str, float]]: ...  # (ViewerMessage, answer, waited s)
    def next_ack(self) -> AckLineLike | None: ...
    def stats(self) -> Mapping[str, Any]: ...
    def __len__(self) -> int: ...  # question groups waiting


class AnswerLike(Protocol):
    @property
    def answer(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def route(self) -> str: ...
    @property
    def silent(self) -> bool: ...
    @property
    def escalated(self) -> bool: ...
    @property
    def focus_sku(self) -> str | None: ...
    @property
    def ticket_id(self) -> str | None: ...


class PipelineLike(Protocol):
    async def answer(
        self,
        merchant: str,
        conversation_id: str,
        text: str,
        *,
        channel: Channel = ...,
        room: RoomContext | None = ...,
        user_id: str | None = ...,
        focus_sku: str | None = ...,
    ) -> AnswerLike: ...


class SpeechLike(Protocol):
    async def synthesize(
        self, text: str, voice: str | None = None, prosody: Prosody | None = None
    ) -> Clip: ...


class BusLike(Protocol):
    async def publish(self, event: OutputEvent) -> None: ...


class CatalogLike(Protocol):
    def get_product(self, merchant: str, sku: str) -> Product | None: ...
