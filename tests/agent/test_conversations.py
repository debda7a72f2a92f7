"""Conversation store: ids, tenant isolation, message log, memory with a TTL (controlled clock)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from agent.conversations import (
    ConversationError,
    ConversationNotFoundError,
    ConversationStore,
)
from tests.agent.conftest import AgentClock

pytestmark = pytest.mark.integration

TTL = 1800


@pytest.fixture
def store(agent_db_engine: Engine, agent_clock: AgentClock) -> ConversationStore:
    return ConversationStore(agent_db_engine, ttl_seconds=TTL, max_turns=4, now=agent_clock)


def test_get_or_create_is_idempotent_and_keeps_the_first_channel(store: ConversationStore) -> None:
    created = store.get_or_create("shop-a", "c-abc", channel="live")
    again = store.get_or_create("shop-a", "c-abc", channel="chat")
    assert created == again
    assert again.channel == "live"
    assert again.state == "bot"
    assert again.focus_sku is None
    assert store.get("shop-a", "c-abc") == created
    assert store.get("shop-a", "c-other") is None


@pytest.mark.parametrize("bad", ["", "x" * 65, "has space", "中文", "a/b", "a;drop"])
def test_invalid_conversation_ids_are_refused_with_the_rule(store: ConversationStore, bad: str) -> None:
    with pytest.raises(ConversationError, match="letters, digits"):
        store.get_or_create("shop-a", bad)


def test_accepts_client_ids_with_punctuation(store: ConversationStore) -> None:
    conversation = store.get_or_create("shop-a", "room-7:viewer_42.x")
    assert conversation.id == "room-7:viewer_42.x"


def test_unknown_channel_and_role_are_refused(store: ConversationStore) -> None:
    with pytest.raises(ConversationError, match="channel 'sms'"):
        store.get_or_create("shop-a", "c1", channel="sms")  # type: ignore[arg-type]
    store.get_or_create("shop-a", "c1")
    with pytest.raises(ConversationError, match="role 'robot'"):
        store.append("shop-a", "c1", "robot", "hi")  # type: ignore[arg-type]
    with pytest.raises(ConversationError, match="at most"):
        store.append("shop-a", "c1", "customer", "x" * 100_001)


def test_same_conversation_id_in_two_merchants_stays_apart(store: ConversationStore) -> None:
    store.get_or_create("shop-a", "c-1")
    store.get_or_create("shop-b", "c-1", channel="live")
    store.append("shop-a", "c-1", "customer", "A 的问题")
    store.append("shop-b", "c-1", "customer", "B's question")
    store.set_focus("shop-a", "c-1", "SKU-A")

    assert [m.text for m in store.recent("shop-a", "c-1")] == ["A 的问题"]
    assert [m.text for m in store.recent("shop-b", "c-1")] == ["B's question"]
    assert store.memory("shop-b", "c-1").focus_sku is None
    assert store.get("shop-b", "c-1").channel == "live"  # type: ignore[union-attr]
    assert [c.id for c in store.list("shop-a")] == ["c-1"]
    assert store.get("shop-c", "c-1") is None
    with pytest.raises(ConversationNotFoundError, match="shop-c"):
        store.append("shop-c", "c-1", "customer", "intruder")
    with pytest.raises(ConversationNotFoundError):
        store.messages_since("shop-c", "c-1", 0)


def test_messages_keep_order_meta_and_support_polling(store: ConversationStore) -> None:
    store.get_or_create("shop-a", "c-1")
    first = store.append("shop-a", "c-1", "customer", "3号链接多少钱")
    second = store.append(
        "shop-a", "c-1", "bot", "3号链接 ¥199", meta={"route": "product", "citations": ["SKU-3:price"]}
    )
    third = store.append("shop-a", "c-1", "customer", "有XL吗")

    assert first.id < second.id < third.id
    assert second.meta == {"route": "product", "citations": ["SKU-3:price"]}
    assert [m.id for m in store.messages_since("shop-a", "c-1", first.id)] == [second.id, third.id]
    assert store.messages_since("shop-a", "c-1", third.id) == []
    assert [m.text for m in store.recent("shop-a", "c-1", limit=2)] == ["3号链接 ¥199", "有XL吗"]
    assert [m.role for m in store.recent("shop-a", "c-1")] == ["customer", "bot", "customer"]


def test_memory_keeps_focus_and_recent_turns_while_active(
    store: ConversationStore, agent_clock: AgentClock
) -> None:
    store.get_or_create("shop-a", "c-1")
    store.set_language("shop-a", "c-1", "zh-CN")
    for i in range(6):
        store.append("shop-a", "c-1", "customer" if i % 2 == 0 else "bot", f"turn {i}")
        agent_clock.advance(TTL - 1)  # always just inside the TTL
    store.set_focus("shop-a", "c-1", "SKU-3")

    memory = store.memory("shop-a", "c-1")
    assert memory.focus_sku == "SKU-3"
    assert memory.language == "zh-CN"
    assert not memory.expired
    # max_turns=4: the last four turns, oldest first.
    assert [t.text for t in memory.turns] == ["turn 2", "turn 3", "turn 4", "turn 5"]


def test_memory_expires_after_the_ttl_and_a_new_message_starts_afresh(
    store: ConversationStore, agent_clock: AgentClock
) -> None:
    store.get_or_create("shop-a", "c-1")
    store.append("shop-a", "c-1", "customer", "这个多少钱")
    store.set_focus("shop-a", "c-1", "SKU-3")

    agent_clock.advance(TTL)
    assert store.memory("shop-a", "c-1").focus_sku == "SKU-3"  # exactly the TTL: still remembered

    agent_clock.advance(1)
    stale = store.memory("shop-a", "c-1")
    assert stale.expired
    assert stale.focus_sku is None
    assert stale.turns == ()

    # The returning customer's message opens a fresh window whether memory is read before or after it.
    store.append("shop-a", "c-1", "customer", "还在吗")
    fresh = store.memory("shop-a", "c-1")
    assert not fresh.expired
    assert fresh.focus_sku is None
    assert [t.text for t in fresh.turns] == ["还在吗"]
    # The log itself keeps everything.
    assert [m.text for m in store.recent("shop-a", "c-1")] == ["这个多少钱", "还在吗"]


def test_set_focus_after_idle_does_not_revive_old_turns(
    store: ConversationStore, agent_clock: AgentClock
) -> None:
    store.get_or_create("shop-a", "c-1")
    store.append("shop-a", "c-1", "customer", "old question")
    agent_clock.advance(TTL + 60)
    store.set_focus("shop-a", "c-1", "SKU-9")
    memory = store.memory("shop-a", "c-1")
    assert memory.focus_sku == "SKU-9"
    assert memory.turns == ()


def test_list_filters_and_orders_by_recent_activity(
    store: ConversationStore, agent_clock: AgentClock
) -> None:
    for cid, channel in (("c-1", "chat"), ("c-2", "live"), ("c-3", "chat")):
        store.get_or_create("shop-a", cid, channel=channel)  # type: ignore[arg-type]
        agent_clock.advance(5)
    store.append("shop-a", "c-1", "customer", "bump")
    store.set_state("shop-a", "c-3", "human")

    assert [c.id for c in store.list("shop-a")] == ["c-1", "c-3", "c-2"]
    assert [c.id for c in store.list("shop-a", channel="chat")] == ["c-1", "c-3"]
    assert [c.id for c in store.list("shop-a", state="human")] == ["c-3"]
    assert [c.id for c in store.list("shop-a", limit=1, offset=1)] == ["c-3"]
    assert store.list("shop-b") == []
    with pytest.raises(ConversationError, match="state 'robot'"):
        store.set_state("shop-a", "c-1", "robot")  # type: ignore[arg-type]


def test_timestamps_are_utc_aware(store: ConversationStore, agent_clock: AgentClock) -> None:
    store.get_or_create("shop-a", "c-1")
    message = store.append("shop-a", "c-1", "customer", "hi")
    assert message.created_at == agent_clock()
    assert message.created_at.utcoffset() is not None
    assert store.get("shop-a", "c-1").last_activity_at == agent_clock()  # type: ignore[union-attr]
