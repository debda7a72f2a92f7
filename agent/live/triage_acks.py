"""Acknowledgements of room events: "欢迎小王、小李进入直播间", "谢谢小王的关注".

A host greets and thanks people, but never so often that selling is drowned. `Acknowledger` keeps the
names that arrived since the last acknowledgement and releases one line when the room's `AckPolicy`
allows it (at least `min_interval_s` since the last line, at most `max_per_minute` lines in any minute),
naming several people at once when several arrived. Thanks (follow, gift, share) go before welcomes;
likes are only counted. Names that waited longer than `ttl_s` are forgotten: welcoming someone two
minutes after they came in sounds odd.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agent.live.events import RoomEvent
from agent.live.plan import AckPolicy
from agent.live.triage_text import sanitize_nickname, speakable_nickname

__all__ = ["AckKind", "AckLine", "Acknowledger"]

AckKind = Literal["welcome", "thanks"]

_MAX_NAMES_SPOKEN = 3
_SUPPORT = ("的支持", "for the support")
_THANKED_FOR = {
    "follow": ("的关注", "for the follows"),
    "share": ("的分享", "for sharing"),
    "gift": ("的礼物", "for the gifts"),
}
_MAX_PENDING = 64


@dataclass(frozen=True, slots=True)
class AckLine:
    """One acknowledgement to speak: its kind, the text, the names it mentions and how many people."""

    kind: AckKind
    text: str
    names: tuple[str, ...]
    count: int


@dataclass(slots=True)
class _Pending:
    name: str
    kind: str  # the event kind
    detail: str
    at: float


class Acknowledger:
    """Rate-limited, batched welcome and thanks lines for one room.

    Args:
        policy: The room's acknowledgement policy.
        clock: Monotonic seconds; injectable so tests run on controlled time.
        language: "zh" or "en": the language of the lines.
        ttl_s: How long a name waits for its acknowledgement before it is dropped.
    """

    def __init__(
        self,
        policy: AckPolicy,
        *,
        clock: Callable[[], float],
        language: str = "zh",
        ttl_s: float = 30.0,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._language = language
        self._ttl_s = ttl_s
        self._welcome: deque[_Pending] = deque(maxlen=_MAX_PENDING)
        self._thanks: deque[_Pending] = deque(maxlen=_MAX_PENDING)
        self._sent: deque[float] = deque()
        self.counts: dict[str, int] = {"enter": 0, "like": 0, "follow": 0, "gift": 0, "share": 0}
        self.lines = 0

    def offer(self, event: RoomEvent) -> AckLine | None:
        """Record `event`; return a line to say now if the policy allows one, else None."""
        self.counts[event.kind] = self.counts.get(event.kind, 0) + max(1, event.count)
        now = self._clock()
        name = speakable_nickname(sanitize_nickname(event.nickname), fallback="")
        if event.kind == "enter" and self.policy.welcome:
            self._add(self._welcome, _Pending(name, event.kind, "", now))
        elif event.kind in ("follow", "gift", "share") and self.policy.thanks:
            detail = speakable_nickname(sanitize_nickname(event.detail, fallback=""), fallback="")
            self._add(self._thanks, _Pending(name, event.kind, detail, now))
        return self.next_line()

    def next_line(self) -> AckLine | None:
        """The line that is due now, if any (the director may poll this between sentences)."""
        now = self._clock()
        self._expire(now)
        if not self._thanks and not self._welcome:
            return None
        if not self._allowed(now):
            return None
        line = self._take_thanks() if self._thanks else self._take_welcome()
        self._sent.append(now)
        self.lines += 1
        return line

    @property
    def pending(self) -> int:
        """Names waiting for an acknowledgement."""
        return len(self._welcome) + len(self._thanks)

    @staticmethod
    def _add(queue: deque[_Pending], item: _Pending) -> None:
        if item.name and any(p.name == item.name and p.kind == item.kind for p in queue):
            return  # the same person entering twice is welcomed once
        queue.append(item)

    def _expire(self, now: float) -> None:
        for queue in (self._welcome, self._thanks):
            while queue and now - queue[0].at > self._ttl_s:
                queue.popleft()
        while self._sent and now - self._sent[0] >= 60.0:
            self._sent.popleft()

    def _allowed(self, now: float) -> bool:
        if self.policy.max_per_minute <= 0:
            return False
        if len(self._sent) >= self.policy.max_per_minute:
            return False
        return not self._sent or now - self._sent[-1] >= self.policy.min_interval_s

    def _names(self, items: list[_Pending]) -> tuple[tuple[str, ...], int]:
        named: list[str] = []
        for item in items:
            if item.name and item.name not in named:
                named.append(item.name)
        return tuple(named[:_MAX_NAMES_SPOKEN]), len(items)

    def _join(self, names: tuple[str, ...]) -> str:
        if self._language == "en":
            return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return "、".join(names)

    def _take_welcome(self) -> AckLine:
        items = list(self._welcome)
        self._welcome.clear()
        names, count = self._names(items)
        zh = self._language != "en"
        if not names:
            text = "欢迎新进来的朋友们！" if zh else "Welcome, everyone who just joined!"
        elif count > len(names):
            text = (
                f"欢迎{self._join(names)}等{count}位朋友进入直播间！"
                if zh
                else f"Welcome {self._join(names)} and {count - len(names)} more to the stream!"
            )
        else:
            text = (
                f"欢迎{self._join(names)}进入直播间！"
                if zh
                else f"Welcome to the stream, {self._join(names)}!"
            )
        return AckLine("welcome", text, names, count)

    def _take_thanks(self) -> AckLine:
        items = list(self._thanks)
        self._thanks.clear()
        names, count = self._names(items)
        zh = self._language != "en"
        if len(items) == 1 and names:
            item = items[0]
            if item.kind == "follow":
                text = f"谢谢{names[0]}的关注！" if zh else f"Thanks for the follow, {names[0]}!"
            elif item.kind == "share":
                text = f"谢谢{names[0]}的分享！" if zh else f"Thanks for sharing, {names[0]}!"
            elif item.detail:
                text = (
                    f"谢谢{names[0]}送的{item.detail}！"
                    if zh
                    else f"Thanks for the {item.detail}, {names[0]}!"
                )
            else:
                text = f"谢谢{names[0]}的礼物！" if zh else f"Thanks for the gift, {names[0]}!"
        else:
            # several people: what they all did ("的关注"), or "的支持" when they did different things
            kinds = {item.kind for item in items}
            what_zh, what_en = _THANKED_FOR.get(kinds.pop(), _SUPPORT) if len(kinds) == 1 else _SUPPORT
            if not names:
                text = f"谢谢大家{what_zh}！" if zh else f"Thanks, everyone, {what_en}!"
            elif count > len(names):
                text = (
                    f"谢谢{self._join(names)}等{count}位朋友{what_zh}！"
                    if zh
                    else f"Thanks {self._join(names)} and {count - len(names)} more {what_en}!"
                )
            else:
                text = (
                    f"谢谢{self._join(names)}{what_zh}！" if zh else f"Thanks {self._join(names)} {what_en}!"
                )
        return AckLine("thanks", text, names, count)
