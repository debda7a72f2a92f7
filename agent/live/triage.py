"""Chat triage for one live room: which viewer messages the host answers, in which order, and once.

A busy room gets hundreds of messages a second and most are not questions. `ChatTriage.offer` takes each
message in microseconds and decides:

1. drop what must never reach the host: empty text, adverts, abuse, spam (keyboard mashing, a viewer
   repeating a question already queued);
2. drop what is not a question (greetings, chit-chat, "666", emoji); "扣1" and other buying signals are
   counted (`stats()["intent_to_buy"]`) so the host can see demand;
3. rate-limit each viewer (user id, or nickname when the platform gives none);
4. merge a question into a queued near-identical one (same link number or the same product, character
   bigram Jaccard ≥ threshold, within `dedupe_window_s`): the group is answered once ("好几位问到…");
   a question just answered is not queued again within the window;
5. keep the queue bounded: when it is full the lowest-priority group goes (or the new one, if it is
   lower still).

`next_question` hands the director the best group: the product on screen first (its link number, or a
bare "多少钱" / "有XL吗" asked while it was on screen), then the most asked, then the oldest; groups
whose newest message is older than `max_age_s` are dropped as stale. Room events (enter, follow, gift,
share, like) go through `offer_event`, which returns a rate-limited welcome or thanks line.

Memory is bounded whatever the flood: at most `max_queue` groups of at most `max_group_messages`
messages kept each (the count goes on), a bounded table of recent viewers, a bounded list of recently
answered questions. All time comes from the injectable clock.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from agent.aspects import detect_aspects
from agent.live.events import RoomEvent, ViewerMessage
from agent.live.triage_acks import AckLine, Acknowledger
from agent.live.triage_text import (
    Signature,
    is_abuse,
    is_ad,
    jaccard,
    refers_to_screen,
    sanitize_nickname,
    signature,
)
from agent.live.triage_types import (
    DROP_REASONS,
    DropReason,
    QuestionGroup,
    TriageDecision,
    TriageOptions,
)
from agent.pii import redact
from agent.router import Route, RouteDecision
from agent.router import classify as route_message
from agent.router import vectors as route_vectors
from agent.routing.text import is_keyboard_mash, is_symbol_only
from agent.textnorm import normalize_message

log = logging.getLogger(__name__)

_VECTOR_BATCH = 32  # messages whose sentence vectors are computed together

__all__ = [
    "DROP_REASONS",
    "AckLine",
    "ChatTriage",
    "DropReason",
    "QuestionGroup",
    "TriageDecision",
    "TriageOptions",
]

_QUESTION_ROUTES: frozenset[str] = frozenset(
    {"product_question", "recommendation", "comparison", "after_sales", "bot_question"}
)
_SPAM_SIGNALS = frozenset({"rule:no_words"})
_RECENT_ANSWERED = 64
#: Decisions kept for the director to publish; a flood beyond this between two steps loses the oldest
#: entries (the counters in `stats()` still count every one).
_DECISION_LOG = 500
#: Viewers asking again what was just answered, waiting to be shown that answer (the oldest go first).
_REPEATS = 200


@dataclass(slots=True, eq=False)
class _Group:
    gid: int
    text: str
    sig: Signature
    sku_hint: str | None
    after_sales: bool
    route: Route
    first_at: float
    last_at: float
    messages: list[ViewerMessage]
    viewers: set[str]
    count: int = 1
    #: What the question asks about ("price", "size", …; empty for a general question): questions about
    #: the same product and the same aspects are one group however they are worded.
    aspects: tuple[str, ...] = ()
    #: A viewer paid for this question (a super chat): it is answered before the others.
    paid: bool = False


class ChatTriage:
    """The triage of one room's chat. Not thread-safe: one room, one event loop.

    Args:
        room_id: The room.
        options: Limits and the acknowledgement policy.
        clock: Monotonic seconds (injectable for tests).
        classify: The router (`agent.router.classify`) or a stand-in with its signature.
        link_map: Link number → sku of the room's products (`RoomPlan.link_map()`).
    """

    def __init__(
        self,
        room_id: str,
        *,
        options: TriageOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        classify: Callable[..., RouteDecision] | None = None,
        link_map: Mapping[int, str] | None = None,
    ) -> None:
        self.room_id = room_id
        self.options = options or TriageOptions()
        self.current_sku: str | None = None
        self.link_map: dict[int, str] = dict(link_map or {})
        self._clock = clock
        self._classify = classify or route_message
        # Sentence vectors computed in one batch by `offer_many` (only with the default router).
        self._vectors_for: Callable[[list[str]], list[Any]] | None = (
            route_vectors if classify is None else None
        )
        self._primed: dict[str, Any] = {}
        self._groups: dict[int, _Group] = {}
        self._by_link: dict[int | None, dict[int, _Group]] = {}  # the same groups, by link asked
        self._next_gid = 0
        # Groups answered lately: (when, signature, product, token, value-free aspects asked).
        self._answered: deque[tuple[float, Signature, str | None, int, tuple[str, ...]]] = deque(
            maxlen=_RECENT_ANSWERED
        )
        # What was answered to a group (by its token), and viewers asking it again meanwhile.
        self._answer_texts: OrderedDict[int, str] = OrderedDict()
        self._repeats: deque[tuple[ViewerMessage, str, float]] = deque(maxlen=_REPEATS)
        self._viewers: OrderedDict[str, deque[float]] = OrderedDict()
        self._intent_seconds: deque[list[int]] = deque(maxlen=61)
        self.acks = Acknowledger(
            self.options.ack, clock=clock, language=self.options.language, ttl_s=self.options.ack_ttl_s
        )
        self._offered = 0
        self._queued = 0
        self._merged = 0
        self._dropped: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self._evicted = {"stale": 0, "queue_full": 0, "after_sales_overflow": 0}
        self._answered_groups = 0
        self._answered_messages = 0
        self._intent_to_buy = 0
        # Decisions not yet read by the director (`drain_decisions`): what was dropped or evicted, and why.
        self._decisions: deque[dict[str, Any]] = deque(maxlen=_DECISION_LOG)

    # ----------------------------------------------------------------------------- chat messages

    def offer_many(self, msgs: Sequence[ViewerMessage]) -> list[TriageDecision]:
        """Triage several messages that arrived together (a platform packet, a busy second): the same decisions
        as `offer` one by one, with the router's sentence vectors computed in one batch."""
        if self._vectors_for is not None and len(msgs) > 1:
            limit = self.options.max_text_chars
            texts = []
            for msg in msgs:
                text = normalize_message(msg.text[: limit * 4])[:limit]
                if text and text not in self._primed and not is_symbol_only(text):
                    texts.append(text)
            texts = list(dict.fromkeys(texts))
            try:
                for start in range(0, len(texts), _VECTOR_BATCH):  # padding to the longest text stays cheap
                    chunk = texts[start : start + _VECTOR_BATCH]
                    self._primed.update(zip(chunk, self._vectors_for(chunk), strict=True))
            except Exception:  # the batch is an optimisation: one at a time still works
                log.exception("room %s: batch vectors failed", self.room_id)
        try:
            return [self.offer(msg) for msg in msgs]
        finally:
            self._primed.clear()

    def offer(self, msg: ViewerMessage) -> TriageDecision:
        """Triage one chat message. Never raises on odd input; every message gets a decision."""
        self._offered += 1
        now = self._clock()
        limit = self.options.max_text_chars
        raw = msg.text[: limit * 4] if len(msg.text) > limit * 4 else msg.text
        if not raw.strip():
            return self._drop("empty")
        text = normalize_message(raw)[:limit]
        if not text:
            return self._drop("not_question")  # only emoji or stickers
        if is_ad(text, normalized=True):
            return self._drop("ad")
        if is_abuse(text, normalized=True):
            return self._drop("abuse")
        if is_keyboard_mash(text):
            return self._drop("spam")
        vector = self._primed.pop(text, None)
        decision = (
            self._classify(text, lang=None)
            if vector is None
            else self._classify(text, lang=None, vector=vector)
        )
        signals = decision.signals
        if _SPAM_SIGNALS.intersection(signals):
            return self._drop("spam", decision.route)
        if decision.unsure:
            return self._drop("unsure", decision.route)  # a public room answers nothing rather than guess
        if decision.route not in _QUESTION_ROUTES:
            if "intent_to_buy" in signals:
                self._count_intent(now)
            return self._drop("not_question", decision.route)

        nickname = sanitize_nickname(msg.nickname)
        viewer = f"u:{msg.user_id}" if msg.user_id else f"n:{nickname}"
        after_sales = decision.route == "after_sales"
        # After-sales is never rate-limited, merged away as spam or dropped for age: each one is handled.
        if not after_sales and not msg.paid and not self._rate_allows(viewer, now):
            return self._drop("rate_limited", decision.route)

        sig = signature(text)
        sku_hint = self._sku_for(text, sig)
        asked = _specific_aspects(text)
        if not after_sales:
            token = self._recently_answered(sig, sku_hint, now, asked)
            if token is not None:
                text_given = self._answer_texts.get(token)
                if text_given is not None:  # shown the answer just given (`take_repeats`)
                    self._repeats.append((_for_display(msg, nickname), text_given, now))
                return self._drop("recently_answered", decision.route)

        group = self._find_similar(sig, sku_hint, after_sales, viewer, now, asked)
        if group is not None:
            if viewer in group.viewers and not after_sales:
                return self._drop("spam", decision.route)  # the same viewer asking the same again
            group.count += 1
            group.last_at = now
            group.paid = group.paid or msg.paid
            if group.sku_hint is None:
                group.sku_hint = sku_hint
            if len(group.messages) < self.options.max_group_messages:
                group.messages.append(_for_display(msg, nickname))
                group.viewers.add(viewer)
            self._merged += 1
            self._rate_record(viewer, now)
            return TriageDecision("merged", "duplicate_merged", decision.route, group.count)

        new = _Group(
            gid=self._next_gid,
            text=text,
            sig=sig,
            sku_hint=sku_hint,
            after_sales=after_sales,
            route=decision.route,
            first_at=now,
            last_at=now,
            messages=[_for_display(msg, nickname)],
            viewers={viewer},
            aspects=asked,
            paid=msg.paid,
        )
        self._next_gid += 1
        self._drop_stale(now)
        evictable = [g for g in self._groups.values() if not g.after_sales]
        if len(self._groups) >= self.options.max_queue and evictable:
            victim = min(evictable, key=self._keep_key)
            if not after_sales and self._keep_key(new) <= self._keep_key(victim):
                return self._drop("queue_full", decision.route)
            self._remove(victim)
            self._evict(victim, "queue_full")
        if after_sales:
            waiting = [g for g in self._groups.values() if g.after_sales]
            if len(waiting) >= self.options.max_after_sales:
                oldest = min(waiting, key=lambda g: g.first_at)
                self._remove(oldest)
                self._evict(oldest, "after_sales_overflow")
        self._groups[new.gid] = new
        self._by_link.setdefault(new.sig.link, {})[new.gid] = new
        self._queued += 1
        self._rate_record(viewer, now)
        return TriageDecision("queued", None, decision.route, 1)

    def pending_after_sales(self) -> bool:
        return any(g.after_sales for g in self._groups.values())

    def take_after_sales(self) -> list[QuestionGroup]:
        """Every after-sales group waiting, oldest first (the director hands them all off at once)."""
        now = self._clock()
        groups = sorted((g for g in self._groups.values() if g.after_sales), key=lambda g: g.first_at)
        taken: list[QuestionGroup] = []
        for group in groups:
            self._remove(group)
            self._answered_groups += 1
            self._answered_messages += group.count
            taken.append(self._question(group, now))
        return taken

    def _question(self, best: _Group, now: float) -> QuestionGroup:
        return QuestionGroup(
            text=best.text,
            public_text=_public_text(best.text),
            messages=tuple(best.messages),
            count=best.count,
            sku_hint=best.sku_hint,
            link=best.sig.link,
            after_sales=best.after_sales,
            route=best.route,
            waited_s=max(0.0, now - best.first_at),
            token=best.gid,
        )

    def take_waiting(self, older_than_s: float, limit: int) -> list[QuestionGroup]:
        """Take up to ``limit`` question groups (not after-sales) waiting ``older_than_s`` or longer, best
        first: the director answers them on screen when the host's airtime cannot reach them in time."""
        now = self._clock()
        self._drop_stale(now)
        waiting = [g for g in self._groups.values() if not g.after_sales and now - g.first_at >= older_than_s]
        taken: list[QuestionGroup] = []
        for group in sorted(waiting, key=self._serve_key, reverse=True)[: max(0, limit)]:
            self._remove(group)
            self._answered.append((now, group.sig, group.sku_hint, group.gid, group.aspects))
            self._answered_groups += 1
            self._answered_messages += group.count
            taken.append(self._question(group, now))
        return taken

    def record_answer(self, token: int, text: str) -> None:
        """What the host answered to the group ``token``: a viewer asking the same again within the
        dedupe window is shown it (`take_repeats`) instead of being queued."""
        self._answer_texts[token] = text
        self._answer_texts.move_to_end(token)
        while len(self._answer_texts) > _RECENT_ANSWERED:
            self._answer_texts.popitem(last=False)

    def take_repeats(self) -> list[tuple[ViewerMessage, str, float]]:
        """Viewers who asked what was just answered: (their message, the answer given, seconds waited)."""
        now = self._clock()
        out = [(msg, text, max(0.0, now - at)) for msg, text, at in self._repeats]
        self._repeats.clear()
        return out

    def drain_decisions(self) -> list[dict[str, Any]]:
        """The drops and evictions since the last call, oldest first (what the operator is shown).

        A drop carries its reason and route only, never the text (abuse and adverts are not repeated);
        a question group evicted as stale or for room carries its public text and askers.
        """
        out = list(self._decisions)
        self._decisions.clear()
        return out

    def next_question(self) -> QuestionGroup | None:
        """Take the group to answer next, or None when nothing (fresh) is waiting."""
        now = self._clock()
        self._drop_stale(now)
        if not self._groups:
            return None
        best = max(self._groups.values(), key=self._serve_key)
        self._remove(best)
        self._answered.append((now, best.sig, best.sku_hint, best.gid, best.aspects))
        self._answered_groups += 1
        self._answered_messages += best.count
        return self._question(best, now)

    def __len__(self) -> int:
        return len(self._groups)

    def clear(self) -> int:
        """Forget every waiting question (e.g. when the room stops); returns how many groups went."""
        dropped = len(self._groups)
        self._groups.clear()
        self._by_link.clear()
        return dropped

    # ----------------------------------------------------------------------------- room events

    def offer_event(self, event: RoomEvent) -> AckLine | None:
        """Count a room event; return a welcome or thanks line when the ack policy allows one now."""
        return self.acks.offer(event)

    def next_ack(self) -> AckLine | None:
        """A batched acknowledgement that has become due, if any (poll between sentences)."""
        return self.acks.next_line()

    # ----------------------------------------------------------------------------- statistics

    def stats(self) -> dict[str, Any]:
        """Counters. `offered == accepted + dropped_total`; `accepted == queued + merged`;
        accepted messages are in the queue, answered or evicted (`evicted` by stale / queue_full)."""
        dropped_total = sum(self._dropped.values())
        now = self._clock()
        return {
            "offered": self._offered,
            "accepted": self._queued + self._merged,
            "queued": self._queued,
            "merged": self._merged,
            "dropped": dict(self._dropped),
            "dropped_total": dropped_total,
            "evicted": dict(self._evicted),
            "answered": self._answered_groups,
            "answered_messages": self._answered_messages,
            "queue": len(self._groups),
            "queue_messages": sum(g.count for g in self._groups.values()),
            "intent_to_buy": self._intent_to_buy,
            "intent_to_buy_last_minute": sum(c for s, c in self._intent_seconds if now - s < 60),
            "tracked_viewers": len(self._viewers),
            "events": dict(self.acks.counts),
            "acks": self.acks.lines,
        }

    # ----------------------------------------------------------------------------- internals

    def _drop(self, reason: DropReason, route: Route | None = None) -> TriageDecision:
        self._dropped[reason] += 1
        self._decisions.append({"decision": "dropped", "reason": reason, "route": route})
        return TriageDecision("dropped", reason, route)

    def _sku_for(self, text: str, sig: Signature) -> str | None:
        if sig.link is not None:
            return self.link_map.get(sig.link)
        if refers_to_screen(text, sig):
            return self.current_sku
        return None

    def _on_screen(self, group: _Group) -> bool:
        return self.current_sku is not None and group.sku_hint == self.current_sku

    def _serve_key(self, group: _Group) -> tuple[bool, bool, bool, int, float, int]:
        # After-sales first (oldest first), then paid questions (oldest first), then the product on screen,
        # the most askers, the freshest: in a busy room a fresh question answered beats an old one answered late.
        if group.after_sales:
            return True, True, True, 0, -group.first_at, -group.gid
        if group.paid:
            return False, True, True, 0, -group.first_at, -group.gid
        return False, False, self._on_screen(group), group.count, group.last_at, -group.gid

    def _keep_key(self, group: _Group) -> tuple[bool, bool, int, float]:
        # The group evicted from a full queue: unpaid, off screen, fewest askers, then the oldest.
        return group.paid, self._on_screen(group), group.count, group.last_at

    def _find_similar(
        self,
        sig: Signature,
        sku_hint: str | None,
        after_sales: bool,
        viewer: str,
        now: float,
        asked: tuple[str, ...] = (),
    ) -> _Group | None:
        window = self.options.dedupe_window_s
        threshold = self.options.dedupe_threshold
        best: _Group | None = None
        best_score = 0.0
        for group in self._by_link.get(sig.link, {}).values():
            if group.after_sales != after_sales or now - group.last_at > window:
                continue
            if after_sales and viewer not in group.viewers:
                continue  # each viewer's after-sales issue is their own
            if not _same_target(group.sig.link, group.sku_hint, sig.link, sku_hint):
                continue
            if after_sales:
                return group  # the same viewer's issue, told again
            score = jaccard(group.sig.grams, sig.grams)
            if asked and asked == group.aspects and (sig.link is not None or sku_hint is not None):
                score = max(score, 1.0)  # "2号多少钱" and "二号什么价": the same product, the same aspect
            if score >= threshold and score > best_score:
                best, best_score = group, score
        return best

    def _recently_answered(
        self, sig: Signature, sku_hint: str | None, now: float, asked: tuple[str, ...] = ()
    ) -> int | None:
        """The token of a group answered within the dedupe window that this question repeats, or None."""
        window = self.options.dedupe_window_s
        threshold = self.options.dedupe_threshold
        for at, answered, answered_sku, token, aspects in reversed(self._answered):
            if now - at > window:
                break
            if not _same_target(answered.link, answered_sku, sig.link, sku_hint):
                continue
            # The same words, or the same value-free aspect of the same product ("2号多少钱", "二号什么价").
            same_aspect = bool(asked) and asked == aspects and (sig.link is not None or sku_hint is not None)
            if same_aspect or jaccard(answered.grams, sig.grams) >= threshold:
                return token
        return None

    def _drop_stale(self, now: float) -> None:
        max_age = self.options.max_age_s
        stale = [gid for gid, g in self._groups.items() if now - g.last_at > max_age and not g.after_sales]
        for gid in stale:
            group = self._groups[gid]
            self._remove(group)
            self._evict(group, "stale")

    def _evict(self, group: _Group, reason: str) -> None:
        self._evicted[reason] += group.count
        self._decisions.append(
            {
                "decision": "evicted",
                "reason": reason,
                "route": group.route,
                "text": _public_text(group.text),
                "askers": group.count,
                "waited_s": round(max(0.0, self._clock() - group.first_at), 1),
            }
        )

    def _remove(self, group: _Group) -> None:
        del self._groups[group.gid]
        bucket = self._by_link[group.sig.link]
        del bucket[group.gid]
        if not bucket:
            del self._by_link[group.sig.link]

    def _rate_allows(self, viewer: str, now: float) -> bool:
        hits = self._viewers.get(viewer)
        if hits is None:
            return True
        window = self.options.viewer_window_s
        while hits and now - hits[0] >= window:
            hits.popleft()
        return len(hits) < self.options.viewer_max_questions

    def _rate_record(self, viewer: str, now: float) -> None:
        hits = self._viewers.get(viewer)
        if hits is None:
            hits = deque(maxlen=self.options.viewer_max_questions)
            self._viewers[viewer] = hits
        else:
            self._viewers.move_to_end(viewer)
        hits.append(now)
        # The least recently active viewers sit at the front: forget the expired ones and any excess.
        window = self.options.viewer_window_s
        while self._viewers:
            oldest_key, oldest = next(iter(self._viewers.items()))
            expired = not oldest or now - oldest[-1] >= window
            if not expired and len(self._viewers) <= self.options.max_tracked_viewers:
                break
            del self._viewers[oldest_key]

    def _count_intent(self, now: float) -> None:
        self._intent_to_buy += 1
        second = int(now)
        if self._intent_seconds and self._intent_seconds[-1][0] == second:
            self._intent_seconds[-1][1] += 1
        else:
            self._intent_seconds.append([second, 1])


def _for_display(msg: ViewerMessage, nickname: str) -> ViewerMessage:
    """The message as kept in a group: sanitised nickname, personal data in the text redacted."""
    shown = redact(msg.text)
    if nickname == msg.nickname and shown == msg.text:
        return msg
    return replace(msg, nickname=nickname, text=shown)


def _public_text(text: str) -> str:
    """A question with personal data (order numbers, phones) replaced: safe to show or speak."""
    return redact(text, language="en" if text.isascii() else "zh")


def _same_target(link_a: int | None, sku_a: str | None, link_b: int | None, sku_b: str | None) -> bool:
    """Whether two questions may be about the same product: the same link number, or, with no link
    number on either, the same product or one of them naming none ("卫衣有XL吗" and "有XL吗")."""
    if link_a != link_b:
        return False
    return link_a is not None or sku_a is None or sku_b is None or sku_a == sku_b


#: Aspects whose questions about one product carry nothing else: "2号多少钱" and "二号什么价" ask the same
#: thing; "2号有M码吗" and "2号有L码吗" do not, nor do "什么时候发货" and "包邮吗" (both "shipping").
_VALUE_FREE = frozenset({"price", "stock"})


def _specific_aspects(text: str) -> tuple[str, ...]:
    """The value-free aspects a question asks ("price", "stock", …), or () when it asks anything else."""
    found = detect_aspects(text).aspects
    return tuple(found) if found and set(found) <= _VALUE_FREE else ()
