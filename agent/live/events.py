"""Typed values that flow through a live room.

Inputs: `ViewerMessage` (chat, 弹幕) and `RoomEvent` (enter, like, follow, gift, share) from connectors,
and `Command` from the operator. Outputs: `OutputEvent`s the director publishes on the room's bus
(`say`, `answer`, `product`, `ack`, `state`), serialised with `to_dict()` for WebSocket clients and
Redis. All are small frozen dataclasses, as frames are in a real-time pipeline.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from voice.mouth import MOUTH_FPS

RoomEventKind = Literal["enter", "like", "follow", "gift", "share"]
CommandKind = Literal["pause", "resume", "skip_to", "say_now", "stop"]


@dataclass(frozen=True, slots=True)
class ViewerMessage:
    """One chat message from a viewer. `user_id` is the platform's id when it gives one; `paid` marks a
    paid message (Bilibili's super chat, 醒目留言), answered before other questions."""

    room_id: str
    nickname: str
    text: str
    user_id: str | None = None
    ts: float = field(default_factory=time.time)
    message_id: str | None = None
    paid: bool = False


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """A non-chat room event from the platform."""

    room_id: str
    kind: RoomEventKind
    nickname: str
    user_id: str | None = None
    detail: str = ""  # e.g. the gift's name
    count: int = 1
    ts: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class Command:
    """An operator command. `argument`: the product link number for skip_to, the text for say_now."""

    room_id: str
    kind: CommandKind
    argument: str | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """Where the director is in the show: loop count, plan item, segment, sentence (all 0-based).

    `sentence` is the next sentence to say. Positions compare in show order within one loop.
    """

    loop: int = 0
    item: int = 0
    segment: int = 0
    sentence: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"loop": self.loop, "item": self.item, "segment": self.segment, "sentence": self.sentence}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Position:
        return cls(int(data["loop"]), int(data["item"]), int(data["segment"]), int(data["sentence"]))


@dataclass(frozen=True, slots=True)
class Cue:
    """A subtitle cue relative to the start of its clip (seconds)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class AudioRef:
    """Audio for one utterance: inline bytes (base64 in JSON) with format and duration."""

    data: bytes
    format: str  # "wav" | "mp3" | "opus"
    sample_rate: int
    duration: float
    cues: tuple[Cue, ...] = ()
    engine: str = ""
    #: The host's mouth level per frame at `voice.mouth.MOUTH_FPS` ("0" closed … "4" open); "" unknown.
    mouth: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "format": self.format,
            "sample_rate": self.sample_rate,
            "duration": round(self.duration, 3),
            "engine": self.engine,
            "cues": [{"start": round(c.start, 3), "end": round(c.end, 3), "text": c.text} for c in self.cues],
            "data_b64": base64.b64encode(self.data).decode("ascii"),
        }
        if self.mouth:
            out["mouth"] = {"fps": MOUTH_FPS, "levels": self.mouth}
        return out


OutputKind = Literal["say", "answer", "product", "ack", "state", "cut", "decision", "comments", "source"]


@dataclass(frozen=True, slots=True)
class OutputEvent:
    """What the room publishes. `seq` increases by one per event in a room (clients detect gaps).

    - say: a script sentence (`text`, `audio`, `position`, `segment_kind`, `sku`; `resumed_at` when it is
      the rest of a sentence that was cut: seconds into the sentence's audio where this part starts), or
      a filler line (`origin` "filler")
    - answer: an answer to viewers (`text`, `audio`, `questions` [{nickname, text}], `sku`, `grouped` count)
    - product: the product card (`sku`, `title`, `price`, `currency`, `list_price`, `link`, `image`, `stock_state`)
    - ack: a short acknowledgement ("欢迎xx进入直播间") (`text`, `audio`)
    - state: director state (`status` running|paused|stopped, `position`, `queue` length, counters)
    - cut: the script sentence published as event ``of`` (a seq) stops ``at`` seconds into its clip, so an
      answer or an operator line can start there (`of`, `at`, `reason` answer|operator, `position` of the
      cut sentence, whose rest is said after the interruption). No audio.
    """

    room_id: str
    seq: int
    kind: OutputKind
    data: dict[str, Any]
    audio: AudioRef | None = None
    ts: float = field(default_factory=time.time)

    def to_dict(self, *, with_audio: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "room_id": self.room_id,
            "seq": self.seq,
            "kind": self.kind,
            "ts": round(self.ts, 3),
            **self.data,
        }
        if self.audio is not None:
            out["audio"] = (
                self.audio.to_dict()
                if with_audio
                else {k: v for k, v in self.audio.to_dict().items() if k != "data_b64"}
            )
        return out
