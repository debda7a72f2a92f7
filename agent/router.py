"""Stage 3 of the answer pipeline: which kind of message is this?

`classify(text)` puts a shopper's or viewer's message on one route — after-sales, product question,
recommendation, comparison, greeting, chit-chat or other — with an after-sales category when it is one.
It is pure rules over lexicons (`agent.routing`): deterministic, well under a millisecond, and every
decision names the cues that fired in `signals`.

The checks run in a fixed order, first match wins:

1. nothing but symbols: emoji → chit-chat, punctuation → other;
2. adverts → other;
3. after-sales (`agent.routing.after_sales`): post-sale problems and requests, not pre-sale policy questions;
4. abuse, out-of-scope questions, keyboard mashing → other;
5. size questions → product question; comparison; recommendation;
6. things said about the host and buying signals ("扣1") → chit-chat;
7. a message that is only a greeting → greeting;
8. product cues (price, stock, sizes, link numbers, shipping and returns policy) → product question;
9. plain chit-chat words; then any other question → product question; anything else → chit-chat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from agent.routing import chat_lexicons as cx
from agent.routing.after_sales import AfterSalesCategory, detect_after_sales
from agent.routing.text import PreparedText, has_emoji, is_keyboard_mash, is_symbol_only, prepare

Route = Literal[
    "after_sales", "product_question", "recommendation", "comparison", "greeting", "chitchat", "other"
]
ROUTES: tuple[Route, ...] = get_args(Route)
AFTER_SALES_CATEGORIES: tuple[AfterSalesCategory, ...] = get_args(AfterSalesCategory)

__all__ = ["AFTER_SALES_CATEGORIES", "ROUTES", "AfterSalesCategory", "Route", "RouteDecision", "classify"]


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where a message goes.

    Attributes:
        route: One of `ROUTES`.
        category: The after-sales category ("refund" … "payment", or "other" when no specific one fits)
            when `route == "after_sales"`, else None.
        confidence: How sure the rules are, 0–1; fall-through decisions are below 0.6.
        signals: Names of what fired ("as_problem:damaged", "concrete", "intent_to_buy", "lang:zh" …).
    """

    route: Route
    category: AfterSalesCategory | None
    confidence: float
    signals: tuple[str, ...]

    @property
    def is_after_sales(self) -> bool:
        """True when the message must reach a person through a ticket."""
        return self.route == "after_sales"


_ZH_QUESTION = re.compile(
    r"呢\s*$|吗|(?<![什怎这那多要])么|嘛|什么|怎么|咋|哪|几|多少|多久|为啥|为什么|谁|如何|啥|能不能|有没有|是不是|(\w)不\1"
)
_OWN_CONTACT = re.compile(r"\bmy (?:e-?mail|email address|phone|number)\b|我的(?:邮箱|电话|手机号?)", re.I)
_EN_QUESTION = re.compile(
    r"^(how|what|what'?s|whats|when|where|which|why|who|is|are|do|does|did|can|could|will|would|should|any)\b"
)


def _is_question(text: str) -> bool:
    return "?" in text or bool(_ZH_QUESTION.search(text) or _EN_QUESTION.search(text))


def _is_only_greeting(text: str) -> bool:
    if not cx.GREETING.search(text):
        return False
    rest = cx.GREETING.sub(" ", text)
    rest = cx.GREETING_FILLER.sub("", rest)
    return not rest.strip() or is_symbol_only(rest)


def _decide(
    route: Route, confidence: float, signals: list[str], category: AfterSalesCategory | None = None
) -> RouteDecision:
    return RouteDecision(route=route, category=category, confidence=confidence, signals=tuple(signals))


def _route_prepared(prepared: PreparedText) -> RouteDecision:
    text = prepared.text
    signals = [f"lang:{prepared.lang}"]

    if is_symbol_only(text):
        if has_emoji(text):
            return _decide("chitchat", 0.9, [*signals, "emoji_only"])
        return _decide("other", 0.8, [*signals, "no_words"])
    finding = detect_after_sales(prepared)
    # An e-mail or an account id inside a refund request is contact detail, not an advert.
    own_contact = bool(_OWN_CONTACT.search(text))  # "my email is …": the shopper's own, not an advert
    if cx.ADVERT.search(text) and not finding.is_after_sales and not own_contact:
        return _decide("other", 0.9, [*signals, "advert"])
    signals.extend(finding.signals)
    if finding.is_after_sales:
        return _decide("after_sales", finding.confidence, signals, finding.category)

    if cx.ABUSE.search(text):
        return _decide("other", 0.85, [*signals, "abuse"])
    if cx.OUT_OF_SCOPE.search(text):
        return _decide("other", 0.8, [*signals, "out_of_scope"])
    if is_keyboard_mash(text):
        return _decide("other", 0.75, [*signals, "gibberish"])

    if cx.SIZE_QUESTION.search(text):
        return _decide("product_question", 0.85, [*signals, "size_question"])
    if cx.COMPARISON.search(text):
        return _decide("comparison", 0.85, [*signals, "comparison"])
    if cx.RECOMMENDATION.search(text):
        return _decide("recommendation", 0.85, [*signals, "recommendation"])
    if cx.HOST_PERSONAL.search(text):
        return _decide("chitchat", 0.85, [*signals, "about_host"])
    if cx.INTENT_TO_BUY.search(text):
        return _decide("chitchat", 0.9, [*signals, "intent_to_buy"])
    if _is_only_greeting(text):
        return _decide("greeting", 0.9, [*signals, "greeting"])

    question = _is_question(text)
    if finding.policy_question:
        return _decide("product_question", 0.85, [*signals, "product_cue"])
    if cx.PRODUCT_CUE.search(text):
        return _decide("product_question", 0.85, [*signals, "product_cue"])
    if question and cx.PRODUCT_REFERENT.search(text):
        return _decide("product_question", 0.75, [*signals, "product_referent"])
    if cx.CHITCHAT.search(text):
        return _decide("chitchat", 0.8, [*signals, "chitchat"])
    if cx.GREETING.search(text):
        return _decide("greeting", 0.6, [*signals, "greeting_with_rest"])
    if question:
        return _decide("product_question", 0.55, [*signals, "question_fallback"])
    return _decide("chitchat", 0.4, [*signals, "fallback"])


def classify(text: str, *, lang: str | None = None) -> RouteDecision:
    """Route one chat message.

    Args:
        text: The message, ideally already normalised (simplified Chinese, half-width); raw text works too.
        lang: "zh" or "en" when the caller knows it; otherwise detected (any Chinese character → "zh").
            All lexicons apply whatever the language, since shoppers mix them.

    Returns:
        The route, the after-sales category when there is one, a confidence and the signals that fired.
    """
    return _route_prepared(prepare(text, lang))
