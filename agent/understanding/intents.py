"""The intents a shop's chat carries, what each means, and where each one goes.

An *intent* is what the model decides (`agent.understanding.model`). The answer pipeline works with
coarser *routes*: every intent that needs a person (refund, order status, "转人工" …) is the
``after_sales`` route and names a ticket *category*; a pre-sale policy question is answered from the
merchant's policy documents like a product question; "are you a bot?" gets its own honest reply.
"""

from __future__ import annotations

from typing import Literal, get_args

Intent = Literal[
    "handoff_request",
    "order_status",
    "order_change",
    "address_change",
    "invoice",
    "payment_problem",
    "account_problem",
    "complaint",
    "refund_return_exchange",
    "damaged_wrong_missing",
    "presale_policy",
    "product_question",
    "recommendation",
    "comparison",
    "greeting",
    "chitchat",
    "bot_question",
    "other",
]
INTENTS: tuple[Intent, ...] = get_args(Intent)

#: One line per intent: what a message of it is. The same text briefed the writers of the blind sets.
DEFINITIONS: dict[Intent, str] = {
    "handoff_request": "asks to talk to a human / real person / live agent / 人工客服, instead of the bot",
    "order_status": "about an order already placed: where is it, when will it ship, why has it not arrived",
    "order_change": "wants to cancel an order already placed, or change what is in it (not the address)",
    "address_change": "wants to change the delivery address, recipient or phone number of a placed order",
    "invoice": "asks for an invoice or receipt (发票) for a purchase, or has a problem with one",
    "payment_problem": "a problem with paying or a charge: failed, charged twice, money taken but no order",
    "account_problem": "a problem with the shopper's account: login, locked, membership, points, phone",
    "complaint": "complains about the shop, its service or staff, or threatens (bad review, regulator)",
    "refund_return_exchange": "wants a refund, a return or an exchange of something bought, or asks after one",
    "damaged_wrong_missing": "an item received is damaged, faulty, of bad quality, wrong, or has a part missing",
    "presale_policy": "before buying, asks about shipping, delivery times, payment methods, returns policy",
    "product_question": "asks about a product: price, stock, sizes, colours, material, specs, use, link",
    "recommendation": "asks the shop to suggest a product for a need",
    "comparison": "asks how two or more products or variants differ, or which is better",
    "greeting": "only a greeting or a check that someone is there",
    "chitchat": "small talk, thanks, compliments, reactions, comments on the host, buying signals (扣1)",
    "bot_question": "asks whether they are talking to a bot, an AI or a real person",
    "other": "spam, adverts, abuse, off-topic, gibberish",
}

Route = Literal[
    "after_sales",
    "product_question",
    "recommendation",
    "comparison",
    "greeting",
    "chitchat",
    "bot_question",
    "other",
]
ROUTES: tuple[Route, ...] = get_args(Route)

AfterSalesCategory = Literal[
    "handoff",
    "refund",
    "return",
    "exchange",
    "damaged",
    "delivery",
    "order_change",
    "invoice",
    "complaint",
    "payment",
    "account",
    "other",
]
AFTER_SALES_CATEGORIES: tuple[AfterSalesCategory, ...] = get_args(AfterSalesCategory)

#: Intents that need a person: a ticket in private chat, a public line (and a ticket when the platform
#: names the viewer) on a live channel.
AFTER_SALES_INTENTS: frozenset[Intent] = frozenset(
    {
        "handoff_request",
        "order_status",
        "order_change",
        "address_change",
        "invoice",
        "payment_problem",
        "account_problem",
        "complaint",
        "refund_return_exchange",
        "damaged_wrong_missing",
    }
)

_ROUTE_OF: dict[Intent, Route] = {
    **dict.fromkeys(AFTER_SALES_INTENTS, "after_sales"),
    "presale_policy": "product_question",
    "product_question": "product_question",
    "recommendation": "recommendation",
    "comparison": "comparison",
    "greeting": "greeting",
    "chitchat": "chitchat",
    "bot_question": "bot_question",
    "other": "other",
}

# refund_return_exchange names one of three ticket categories; `agent.understanding.overrides` picks it.
_CATEGORY_OF: dict[Intent, AfterSalesCategory] = {
    "handoff_request": "handoff",
    "order_status": "delivery",
    "order_change": "order_change",
    "address_change": "order_change",
    "invoice": "invoice",
    "payment_problem": "payment",
    "account_problem": "account",
    "complaint": "complaint",
    "refund_return_exchange": "refund",
    "damaged_wrong_missing": "damaged",
}


def route_of(intent: Intent) -> Route:
    """The pipeline route of an intent."""
    return _ROUTE_OF[intent]


def category_of(intent: Intent) -> AfterSalesCategory | None:
    """The ticket category of an after-sales intent (refund for refund/return/exchange), else None."""
    return _CATEGORY_OF.get(intent)


def is_intent(label: object) -> bool:
    """True when `label` is one of `INTENTS`."""
    return label in _ROUTE_OF
