"""The intent router with the packaged model: the requests the issue reported as failing (as families, in
both languages), hard negatives, live-room noise, bad input, determinism, order ids, and floors on the dev sets.

The model is measured properly by `anchor eval intents` on blind sets (rounds 1 and 2, scored once each, are now
dev: agent/understanding/data/intents/dev/round1_*, evals/datasets/intents_dev_round2_*); nothing here comes from them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.router import AFTER_SALES_CATEGORIES, ROUTES, classify, default_router
from agent.routing.order_ids import extract_order_ids
from agent.textnorm import normalize_message
from agent.understanding.train import DATA_DIR, load_examples
from evals.intents import report, score

pytestmark = pytest.mark.unit

DATASETS = Path(__file__).resolve().parents[2] / "evals" / "datasets"


@pytest.mark.parametrize(
    "text",
    [
        "我要找人工客服",
        "转人工",
        "人工",
        "I want to talk to a real person",
        "can I speak to a human agent please",
    ],
)
def test_a_request_for_a_person_always_hands_off(text: str) -> None:
    decision = classify(normalize_message(text))
    assert decision.route == "after_sales"
    assert decision.intent == "handoff_request"
    assert decision.category == "handoff"


@pytest.mark.parametrize("text", ["你们是机器人吗", "are you a bot?", "是真人在回复吗"])
def test_are_you_a_bot_is_its_own_intent(text: str) -> None:
    decision = classify(text)
    assert decision.intent == "bot_question", decision
    assert decision.route == "bot_question"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("快递到哪了", "delivery"),
        ("怎么还没发货", "delivery"),
        ("where is my order", "delivery"),
        ("我买的套装少了一件", "damaged"),
        ("收到的杯子碎了", "damaged"),
        ("退款能退多少", "refund"),
        ("我要退货", "return"),
        ("please cancel my order", "order_change"),
        ("帮我改一下收货地址", "order_change"),
        ("my card was charged twice", "payment"),
        ("I can't log into my account", "account"),
        ("麻烦开一下发票", "invoice"),
        ("再不处理我就打12315投诉你们", "complaint"),
    ],
)
def test_everyday_after_sales(text: str, category: str) -> None:
    decision = classify(text)
    assert decision.is_after_sales, decision
    assert decision.category == category, decision


@pytest.mark.parametrize(
    "text",
    [
        "what payment methods do you accept",
        "支持七天无理由退货吗",
        "what's your return policy",
        "发什么快递 几天能到",
    ],
)
def test_pre_sale_policy_questions_are_answered_not_escalated(text: str) -> None:
    decision = classify(text)
    assert decision.intent == "presale_policy", decision
    assert decision.route == "product_question"
    assert decision.category is None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("3号链接多少钱", "product_question"),
        ("这个有XL吗", "product_question"),
        ("有没有适合送妈妈的", "recommendation"),
        ("这两款耳机有什么区别", "comparison"),
        ("你好", "greeting"),
        ("主播好美", "chitchat"),
        ("加微信领福利 vx123456", "other"),
    ],
)
def test_other_intents(text: str, intent: str) -> None:
    assert classify(text).intent == intent


@pytest.mark.parametrize("text", ["扣1", "已拍"])
def test_buying_signals_are_chitchat_with_intent_signal(text: str) -> None:
    decision = classify(text)
    assert decision.route == "chitchat"
    assert "intent_to_buy" in decision.signals


@pytest.mark.parametrize(
    ("text", "route"), [("", "other"), ("？？？", "other"), ("😍😍😍", "chitchat"), ("\x00\x01", "other")]
)
def test_nothing_to_read(text: str, route: str) -> None:
    decision = classify(text)
    assert decision.route == route
    assert decision.confidence == 1.0


def test_long_and_odd_input_still_gets_a_decision() -> None:
    assert classify("退款" * 5000).route in ROUTES
    assert classify("\u202e\u200b我要退款\ufeff").is_after_sales


def test_decision_is_deterministic_and_names_its_evidence() -> None:
    first = classify("收到的碗有一个裂了")
    assert first == classify("收到的碗有一个裂了")
    assert "lang:zh" in first.signals
    assert any(s.startswith("p:") for s in first.signals)
    assert any(s.startswith("model:intents-") for s in first.signals)
    assert len(first.top) == 3
    assert abs(sum(p for _, p in default_router().predict("收到的碗有一个裂了").probs.items()) - 1.0) < 1e-6
    assert "rule:asks_for_person" in classify("转人工").signals


def test_order_number_with_a_problem_is_after_sales() -> None:
    decision = classify("230918445201937766 还没收到")
    assert decision.is_after_sales
    assert "cue:order_id" in decision.signals


def test_route_and_category_vocabularies() -> None:
    assert set(ROUTES) == {
        "after_sales",
        "product_question",
        "recommendation",
        "comparison",
        "greeting",
        "chitchat",
        "bot_question",
        "other",
    }
    assert {"handoff", "account", "refund", "delivery"} <= set(AFTER_SALES_CATEGORIES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("订单号 230918445201937766 麻烦帮我退款", ("230918445201937766",)),
        ("My order #A7734219 came with a cracked lid", ("A7734219",)),
        ("please update the address on order #55120", ("55120",)),
        ("急！订单号 8812 0033 4567 8890 快点", ("8812003345678890",)),
        ("单号：ab12345678 退款", ("ab12345678",)),
        ("订单202403150988123456和202403150988123457都没到", ("202403150988123456", "202403150988123457")),
        ("我的手机号13812345678 帮我查下", ()),
        ("订单号 13812345678", ()),
        ("这个199元 那个¥2999 订单 200元", ()),
        ("快递单号 73100012345678 一直不动", ()),
        ("身份证 110101199003071234", ()),
        ("I ordered 2 items", ()),
        ("订单号１２３４５６７８９０１２", ("123456789012",)),
    ],
)
def test_order_id_extraction(text: str, expected: tuple[str, ...]) -> None:
    assert extract_order_ids(text) == expected


def test_dev_set_floor() -> None:
    """The dev sets (the thresholds were chosen on them, so this is a floor, not a measurement)."""
    dev_files = sorted((DATA_DIR / "dev").glob("*.jsonl"))
    result = report(score(default_router(), load_examples(dev_files)))["overall"]
    assert result["n"] >= 900
    assert result["handoff_recall"] >= 0.98
    assert result["after_sales_recall"] >= 0.95
    assert result["presale_false_escalation"] <= 0.1
    assert result["route_accuracy"] >= 0.9


def test_team_routing_sets_floor() -> None:
    """The team's older route-labelled sets (route level; some pre-sale phrasings were written into training)."""
    for name in ("routing_dev.jsonl", "routing_test.jsonl"):
        rows = [json.loads(line) for line in (DATASETS / name).read_text(encoding="utf-8").splitlines()]
        decisions = default_router().classify_many([normalize_message(r["text"]) for r in rows])
        accuracy = sum(r["route"] == d.route for r, d in zip(rows, decisions, strict=True)) / len(rows)
        after_sales = [d for r, d in zip(rows, decisions, strict=True) if r["route"] == "after_sales"]
        recall = sum(d.is_after_sales and not d.unsure for d in after_sales) / len(after_sales)
        assert accuracy >= 0.88, name
        assert recall >= 0.93, name
