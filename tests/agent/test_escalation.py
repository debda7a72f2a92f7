"""Priority, category and order ids of after-sales hand-offs."""

from __future__ import annotations

import pytest

from agent.escalation import PRIORITIES, assess
from agent.router import classify

pytestmark = pytest.mark.unit


def _assess(text: str):
    return assess(text, classify(text))


@pytest.mark.parametrize(
    ("text", "priority", "reason"),
    [
        ("再不给我处理我就打12315投诉你们", "urgent", "legal_threat"),
        ("我要找律师起诉你们 假货", "urgent", "legal_threat"),
        ("不退钱我就去消协", "urgent", "legal_threat"),
        ("This is a SCAM. I'm filing a chargeback", "urgent", "legal_threat"),
        ("I'll be reporting you to the BBB", "urgent", "legal_threat"),
        ("赶紧给我退款 今天必须处理", "high", "urgency"),
        ("please cancel my order asap", "high", "urgency"),
        ("给我退钱！！！垃圾东西", "high", "anger"),
        ("terrible quality, fell apart after one wash. refund now", "high", "anger"),
        ("WHERE IS MY PACKAGE I ORDERED IT WEEKS AGO", "high", "anger"),
        ("第三次问了 我的退款到底什么时候到账", "high", "repeated_contact"),
        ("This is the third time I'm asking, where is my refund", "high", "repeated_contact"),
        ("我买的面膜过敏了 脸都红了 要退款", "high", "harm"),
        ("帮我开个发票", "low", "invoice_request"),
    ],
)
def test_priority_levels(text: str, priority: str, reason: str) -> None:
    escalation = _assess(text)
    assert escalation.priority == priority, escalation
    assert reason in escalation.reasons


@pytest.mark.parametrize(
    "text",
    ["我要退货", "收到的碗有一个裂了", "where is my order", "I need to change my delivery address"],
)
def test_plain_requests_are_normal(text: str) -> None:
    escalation = _assess(text)
    assert escalation.priority == "normal"
    assert escalation.reasons == ()


def test_invoice_reporting_a_delay_is_normal_not_low() -> None:
    assert _assess("上个月买的还没给我发票").priority == "normal"
    assert _assess("please send the receipt for order 330019").priority == "low"


def test_escalation_carries_category_and_order_ids() -> None:
    escalation = _assess("订单号 230918445201937766 麻烦帮我退款，我电话13812345678")
    assert escalation.category == "refund"
    assert escalation.order_ids == ("230918445201937766",)


def test_message_off_the_after_sales_route_has_no_category() -> None:
    escalation = _assess("3号链接多少钱")
    assert escalation.category is None
    assert escalation.priority == "normal"
    assert escalation.order_ids == ()


def test_priority_vocabulary() -> None:
    assert PRIORITIES == ("low", "normal", "high", "urgent")
