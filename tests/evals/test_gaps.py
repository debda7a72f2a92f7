"""Knowledge gaps from the real conversation store (SQLite), grouped by similarity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.services import Services
from api.settings import Settings
from evals.gaps import GapQuestion, cluster_questions, gap_reason, knowledge_gaps
from knowledge.embedders import HashEmbedder

pytestmark = pytest.mark.integration


def _talk(services: Services, conversation: str, question: str, meta: dict[str, Any]) -> None:
    store = services.conversations
    store.get_or_create("shop", conversation)
    store.append("shop", conversation, "customer", question)
    store.append("shop", conversation, "bot", "reply", meta=meta)


def test_gap_reason() -> None:
    assert gap_reason({"refused": True, "route": "product_question"}, 0.5) == "refused"
    assert (
        gap_reason({"route": "product_question", "citations": [], "confidence": 0.3}, 0.5) == "low_confidence"
    )
    assert gap_reason({"route": "product_question", "citations": []}, 0.5) == "no_citation"
    assert gap_reason({"route": "product_question", "citations": [{"sku": "A"}]}, 0.5) is None
    assert gap_reason({"route": "greeting", "citations": []}, 0.5) is None


def test_knowledge_gaps_groups_refused_questions(settings: Settings) -> None:
    services = Services(settings)
    refused = {"refused": True, "route": "product_question", "citations": []}
    answered = {"refused": False, "route": "product_question", "citations": [{"sku": "A", "field": "price"}]}
    _talk(services, "c1", "耳机支持无线充电吗", refused)
    _talk(services, "c2", "耳机支持无线充电吗？", refused)
    _talk(services, "c3", "这个耳机支持无线充电吗", refused)
    _talk(services, "c4", "有卖猫粮吗", refused)
    _talk(services, "c5", "卫衣多少钱", answered)
    _talk(services, "ev-run-1", "有卖猫粮吗", refused)  # the harness's own conversations are ignored
    try:
        clusters = knowledge_gaps(services, "shop", since_days=30)
    finally:
        services.close()
    assert [c.count for c in clusters] == [3, 1]
    top = clusters[0]
    assert top.label == "耳机支持无线充电吗"
    assert top.reasons == {"refused": 3}
    assert top.conversations == 3
    assert "这个耳机支持无线充电吗" in top.examples
    assert clusters[1].label == "有卖猫粮吗"
    assert knowledge_gaps(Services(settings), "other-shop") == []


def test_since_limits_the_window(settings: Settings) -> None:
    services = Services(settings)
    _talk(services, "c1", "有卖猫粮吗", {"refused": True})
    try:
        later = datetime.now(UTC) + timedelta(days=10)
        assert knowledge_gaps(services, "shop", since_days=5, now=later) == []
        assert len(knowledge_gaps(services, "shop", since_days=30, now=later)) == 1
    finally:
        services.close()


def test_cluster_with_an_embedder() -> None:
    now = datetime.now(UTC)
    questions = [
        GapQuestion(t, f"c{i}", now, "refused") for i, t in enumerate(["猫粮", "猫粮", "dog food", "猫粮"])
    ]
    clusters = cluster_questions(questions, embedder=HashEmbedder(), threshold=0.99)
    assert [(c.label, c.count) for c in clusters] == [("猫粮", 3), ("dog food", 1)]
