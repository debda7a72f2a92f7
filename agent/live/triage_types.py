"""The values chat triage hands out: options, the decision on one message, a group of questions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from agent.live.events import ViewerMessage
from agent.live.plan import AckPolicy
from agent.router import Route

__all__ = ["DROP_REASONS", "DropReason", "Outcome", "QuestionGroup", "TriageDecision", "TriageOptions"]

DropReason = Literal[
    "empty",
    "spam",
    "ad",
    "abuse",
    "not_question",
    "unsure",
    "rate_limited",
    "queue_full",
    "recently_answered",
]
DROP_REASONS: tuple[DropReason, ...] = (
    "empty",
    "spam",
    "ad",
    "abuse",
    "not_question",
    "unsure",
    "rate_limited",
    "queue_full",
    "recently_answered",
)
Outcome = Literal["queued", "merged", "dropped"]


@dataclass(frozen=True)
class TriageOptions:
    """How a room's chat is triaged. Defaults suit a busy Chinese room.

    Attributes:
        max_queue: Question groups kept waiting at most.
        max_age_s: A group whose newest message is older than this is stale and dropped.
        dedupe_window_s: Questions this close in time (to a group's newest message) may merge.
        dedupe_threshold: Character-bigram Jaccard similarity at which two questions are the same.
        viewer_max_questions: Questions one viewer may put in the queue per `viewer_window_s`.
        viewer_window_s: The per-viewer rate-limit window.
        max_group_messages: Messages kept per group (the count keeps going beyond it).
        max_text_chars: Longer messages are cut to this before they are read.
        max_tracked_viewers: Viewers remembered for rate limiting at most.
        language: "zh" or "en": the language of acknowledgement lines.
        ack: The room's acknowledgement policy (`RoomPlan.ack`).
        ack_ttl_s: How long a name waits for its welcome or thanks before it is dropped.
    """

    max_queue: int = 50
    #: After-sales groups waiting at most (the director hands them all off at each turn; beyond this the
    #: oldest is counted as `evicted.after_sales_overflow`, which only a stalled room reaches).
    max_after_sales: int = 100
    max_age_s: float = 60.0
    dedupe_window_s: float = 30.0
    dedupe_threshold: float = 0.6
    viewer_max_questions: int = 3
    viewer_window_s: float = 30.0
    max_group_messages: int = 20
    max_text_chars: int = 300
    max_tracked_viewers: int = 5000
    language: str = "zh"
    ack: AckPolicy = field(default_factory=AckPolicy)
    ack_ttl_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {self.max_queue}")
        if not 0.0 < self.dedupe_threshold <= 1.0:
            raise ValueError(f"dedupe_threshold must be in (0, 1], got {self.dedupe_threshold}")
        if self.viewer_max_questions < 1:
            raise ValueError(f"viewer_max_questions must be at least 1, got {self.viewer_max_questions}")
        if self.max_group_messages < 1:
            raise ValueError(f"max_group_messages must be at least 1, got {self.max_group_messages}")

    @classmethod
    def for_plan(cls, plan: Any, **overrides: Any) -> TriageOptions:
        """Options for a `RoomPlan`: its language and acknowledgement policy, plus `overrides`."""
        values: dict[str, Any] = {"language": plan.language, "ack": plan.ack}
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TriageDecision:
    """What happened to one offered message.

    `outcome` is "queued" (a new question group), "merged" (joined a queued near-identical question;
    `reason` is then "duplicate_merged") or "dropped" (`reason` says why, one of `DROP_REASONS`).
    """

    outcome: Outcome
    reason: str | None = None
    route: Route | None = None
    group_size: int = 0

    @property
    def accepted(self) -> bool:
        """True when the message waits in the queue to be answered (alone or in a group)."""
        return self.outcome != "dropped"


@dataclass(frozen=True, slots=True)
class QuestionGroup:
    """Near-identical questions answered once.

    Attributes:
        text: The first question, normalised, personal data intact (the pipeline needs an order id
            to open a ticket; it never reads personal data out on a live channel).
        public_text: `text` with personal data replaced ("[订单号]", "[手机号]"): safe to show or speak.
        messages: The first `max_group_messages` messages, nicknames sanitised and personal data in
            the text redacted, so they can be shown on the room page.
        count: How many viewers asked (≥ len(messages)).
        sku_hint: The product asked about: the link's sku, or the product on screen for a bare
            question; None when the question names no link and is not about the screen.
        link: The link number asked about, if any.
        after_sales: An after-sales message: one viewer's, never merged with other viewers'.
        route: The router's route of the first question.
        waited_s: Seconds since the first question arrived.
        token: Names the group to `ChatTriage.record_answer`, so a viewer asking it again soon after
            is shown the answer given.
    """

    text: str
    public_text: str
    messages: tuple[ViewerMessage, ...]
    count: int
    sku_hint: str | None
    link: int | None
    after_sales: bool
    route: Route
    waited_s: float
    token: int = -1

    @property
    def grouped(self) -> bool:
        """True when more than one viewer asked ("好几位问到…")."""
        return self.count > 1

    @property
    def user_id(self) -> str | None:
        """The first asker's platform user id (an after-sales ticket needs it)."""
        return self.messages[0].user_id

    def nicknames(self) -> list[str]:
        """The askers' display nicknames, first asker first, without repeats."""
        return list(dict.fromkeys(m.nickname for m in self.messages))
