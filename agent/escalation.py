"""What an after-sales message needs from a person: category, priority and the order ids it names.

`assess(text, decision)` is called for messages the router put on the after-sales route; the ticket
store (`agent.tickets`) takes the result. Priority:

- ``urgent``: a legal or regulator threat (12315, 消协, 工商, 律师, 起诉, 曝光, lawyer, sue, BBB,
  chargeback, "calling my bank");
- ``high``: urgency (急, 马上, asap), anger (垃圾, 骗子, 气死, scam, "!!!", "???", words in capitals),
  repeated contact (第三次问了, still no answer), harm to the person or money wrongly taken (过敏, 鼓包,
  charged twice);
- ``low``: a plain invoice or receipt request;
- ``normal``: everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agent.router import AfterSalesCategory, RouteDecision
from agent.routing import priority_lexicons as px
from agent.routing.order_ids import extract_order_ids
from agent.routing.text import prepare

Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")

_SHOUTING_MARKS = re.compile(r"[!！]{3,}|[?？]{3,}")
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
# Capitalised abbreviations that are not shouting.
_NOT_SHOUTING = frozenset(
    {"VAT", "BBB", "USD", "RMB", "CNY", "SKU", "ASAP", "DHL", "UPS", "FTC", "XXL", "OK"}
)


@dataclass(frozen=True, slots=True)
class Escalation:
    """The hand-off facts for one after-sales message.

    Attributes:
        category: The router's after-sales category, or None when the message was not after-sales.
        priority: "low" | "normal" | "high" | "urgent".
        order_ids: Order ids named in the message (never phone numbers, prices or tracking numbers).
        reasons: Why the priority is what it is ("legal_threat", "urgency", "anger", "repeated_contact",
            "harm", "invoice_request").
    """

    category: AfterSalesCategory | None
    priority: Priority
    order_ids: tuple[str, ...]
    reasons: tuple[str, ...]


def _is_shouting(raw: str) -> bool:
    if _SHOUTING_MARKS.search(raw):
        return True
    caps = [w for w in _CAPS_WORD.findall(raw) if w not in _NOT_SHOUTING]
    return len(caps) >= 2


def assess(text: str, route_decision: RouteDecision) -> Escalation:
    """Priority, order ids and reasons for one message.

    Args:
        text: The customer's message (raw or normalised).
        route_decision: What `agent.router.classify` said about it; its category becomes the ticket's.

    Returns:
        The escalation facts. Messages off the after-sales route still get a priority (a threat is a threat)
        but no category.
    """
    prepared = prepare(text)
    folded = prepared.text
    category = route_decision.category if route_decision.route == "after_sales" else None
    reasons: list[str] = []
    if px.LEGAL_THREAT.search(folded):
        reasons.append("legal_threat")
    if px.URGENCY.search(folded):
        reasons.append("urgency")
    if px.ANGER.search(folded) or _is_shouting(prepared.raw):
        reasons.append("anger")
    if px.REPEATED_CONTACT.search(folded):
        reasons.append("repeated_contact")
    if px.HARM.search(folded):
        reasons.append("harm")

    priority: Priority
    if "legal_threat" in reasons:
        priority = "urgent"
    elif reasons:
        priority = "high"
    elif category == "invoice" and not px.INVOICE_DELAY.search(folded):
        priority = "low"
        reasons.append("invoice_request")
    else:
        priority = "normal"
    return Escalation(
        category=category,
        priority=priority,
        order_ids=extract_order_ids(prepared.raw),
        reasons=tuple(reasons),
    )
