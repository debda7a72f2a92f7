"""Telling a post-sale problem ("我要退货", "收到的杯子碎了") from a pre-sale policy question ("支持七天无理由
退货吗", "can I return it if it doesn't fit?"), and naming the after-sales category.

Each category has three kinds of cue (see `agent.routing.lexicons`):

- a *problem* (碎了, 还没到, charged twice) is after-sales unless the message is framed as a condition or a
  policy question ("坏了包换吗") and nothing concrete ties it to a purchase;
- an *action* (退款, 换货, 取消, return, cancel) is after-sales unless it is asked as a yes/no or
  conditional question with nothing concrete ("能退吗" vs "我买的裙子能退吗");
- a *topic* (快递, 发票, shipping, invoice) is after-sales only with a concrete cue ("我的快递", "帮我开发票").

Concrete cues: first-person possession or a past purchase (我买的, 收到了, my order, I bought), an
explicit request (帮我, 我要, please, I need), an order id. Complaints and threats (投诉, 12315, scam) are
always after-sales.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agent.routing import lexicons as lx
from agent.routing.order_ids import extract_order_ids
from agent.routing.text import PreparedText

AfterSalesCategory = Literal[
    "refund",
    "return",
    "exchange",
    "damaged",
    "delivery",
    "order_change",
    "invoice",
    "complaint",
    "payment",
    "other",
]

# Which category names the ticket when several fire: the customer's explicit request first (exchange,
# return, refund), then complaints, then the specific problem, the broad delivery subject last.
_PRECEDENCE: tuple[AfterSalesCategory, ...] = (
    "exchange",
    "return",
    "refund",
    "complaint",
    "order_change",
    "payment",
    "invoice",
    "damaged",
    "delivery",
)

_CueKind = Literal["problem", "action", "topic"]

_CUES: tuple[tuple[AfterSalesCategory, _CueKind, re.Pattern[str]], ...] = (
    ("refund", "problem", lx.REFUND_PROBLEM),
    ("refund", "action", lx.REFUND_ACTION),
    ("return", "problem", lx.RETURN_PROBLEM),
    ("return", "action", lx.RETURN_ACTION),
    ("exchange", "action", lx.EXCHANGE_ACTION),
    ("damaged", "problem", lx.DAMAGED_PROBLEM),
    ("delivery", "problem", lx.DELIVERY_PROBLEM),
    ("delivery", "topic", lx.DELIVERY_TOPIC),
    ("order_change", "problem", lx.ORDER_CHANGE_PROBLEM),
    ("order_change", "action", lx.ORDER_CHANGE_ACTION),
    ("invoice", "problem", lx.INVOICE_PROBLEM),
    ("invoice", "topic", lx.INVOICE_TOPIC),
    ("payment", "problem", lx.PAYMENT_PROBLEM),
)


@dataclass(frozen=True, slots=True)
class AfterSalesFinding:
    """What the after-sales detector concluded about one message.

    Attributes:
        is_after_sales: The message reports a post-sale problem or asks for a post-sale action.
        category: The ticket category when `is_after_sales`, else None.
        policy_question: An after-sales subject asked as a pre-sale question (route it as a product/policy
            question).
        confidence: How sure the rules are, 0–1.
        signals: Names of the cues that fired, for debugging and evals.
        order_ids: Order ids found in the message.
    """

    is_after_sales: bool
    category: AfterSalesCategory | None
    policy_question: bool
    confidence: float
    signals: tuple[str, ...]
    order_ids: tuple[str, ...]


_EXPLICIT_REFUND = re.compile(r"退款|退钱|(?<![a-z])refund")
_EXPLICIT_RETURN = re.compile(r"退货|(?<![a-z])(return|send back|sent back)")


def _choose_category(fired: set[AfterSalesCategory], text: str) -> AfterSalesCategory:
    # A bare "退"/"退回" is ambiguous; a message naming the refund and not the return of goods wants money.
    if {"refund", "return"} <= fired and "exchange" not in fired:
        return "return" if _EXPLICIT_RETURN.search(text) else "refund"
    for category in _PRECEDENCE:
        if category in fired:
            return category
    return "other"


def detect_after_sales(prepared: PreparedText) -> AfterSalesFinding:
    """Decide whether a message belongs to after-sales and, if so, which category."""
    text = prepared.text
    order_ids = extract_order_ids(prepared.raw)
    hits: dict[_CueKind, set[AfterSalesCategory]] = {"problem": set(), "action": set(), "topic": set()}
    for category, kind, pattern in _CUES:
        if pattern.search(text):
            hits[kind].add(category)
    complaint = bool(lx.COMPLAINT.search(text))
    concrete = bool(order_ids) or bool(lx.CONCRETE.search(text))
    conditional = bool(lx.CONDITIONAL.search(text))
    yes_no = bool(lx.ZH_YES_NO.search(text))

    signals: list[str] = [
        f"as_{kind}:{cat}" for kind in ("problem", "action", "topic") for cat in sorted(hits[kind])
    ]
    if complaint:
        signals.append("as_complaint")
    if order_ids:
        signals.append("order_id")
    if concrete:
        signals.append("concrete")
    if conditional:
        signals.append("conditional")
    if yes_no:
        signals.append("yes_no_question")

    counted: set[AfterSalesCategory] = set()
    confidence = 0.0
    if complaint:
        counted.add("complaint")
        confidence = 0.95
    if hits["problem"] and (concrete or not conditional):
        counted |= hits["problem"]
        confidence = max(confidence, 0.95 if concrete else 0.85)
    if hits["action"] and (concrete or not (conditional or yes_no)):
        counted |= hits["action"]
        confidence = max(confidence, 0.95 if concrete else 0.8)
    if hits["topic"] and concrete and (counted or not conditional):
        counted |= hits["topic"]
        confidence = max(confidence, 0.85)
    generic = bool(lx.GENERIC_AFTER_SALES.search(text))
    if not counted and (generic or (order_ids and not conditional)):
        signals.append("as_generic")
        return AfterSalesFinding(True, "other", False, 0.7, tuple(signals), order_ids)
    if not counted and lx.STRONG_POSSESSION.search(text):
        signals.append("as_possession")
        fired = hits["action"] | hits["problem"] | hits["topic"]
        category = _choose_category(fired, text) if fired else "other"
        return AfterSalesFinding(True, category, False, 0.6, tuple(signals), order_ids)

    if counted:
        # Categories whose cue fired but did not count on its own still refine the choice
        # ("拍错颜色了 能改成白色吗": the action 改成 decides even though the problem 拍错 also fired).
        fired = counted | hits["action"] | hits["problem"]
        category = _choose_category(fired, text)
        return AfterSalesFinding(True, category, False, confidence, tuple(signals), order_ids)

    any_cue = any(hits.values())
    if any_cue:
        signals.append("policy_question")
    return AfterSalesFinding(False, None, any_cue, 0.0, tuple(signals), order_ids)
