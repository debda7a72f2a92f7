"""Ticket hand-off: lifecycle, relaying, reopening, idempotency, isolation, ordering and restarts."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from agent.conversations import ConversationNotFoundError, ConversationStore
from agent.db import create_schema
from agent.tickets import (
    Ticket,
    TicketError,
    TicketNotFoundError,
    TicketService,
    TicketStateError,
    new_ticket_id,
)
from tests.agent.conftest import AgentClock

pytestmark = pytest.mark.integration

M = "shop-a"


@pytest.fixture
def conversations(agent_db_engine: Engine, agent_clock: AgentClock) -> ConversationStore:
    return ConversationStore(agent_db_engine, now=agent_clock)


@pytest.fixture
def tickets(agent_db_engine: Engine, conversations: ConversationStore) -> TicketService:
    return TicketService(agent_db_engine, conversations)


def _hand_off(
    conversations: ConversationStore, tickets: TicketService, cid: str = "c-1", merchant: str = M
) -> Ticket:
    conversations.get_or_create(merchant, cid)
    conversations.append(merchant, cid, "customer", "订单 202403150001 的衣服破了，我要退款")
    conversations.append(merchant, cid, "bot", "已为您转人工客服，稍后会有专人联系您。")
    return tickets.open(
        merchant,
        cid,
        category="damaged",
        priority="high",
        order_ids=["202403150001"],
        summary="damaged item, wants a refund",
        transcript=[("customer", "订单 202403150001 的衣服破了，我要退款"), ("bot", "已为您转人工客服")],
    )


def test_ticket_ids_are_short_and_readable() -> None:
    ids = {new_ticket_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"T-[0-9A-HJKMNP-TV-Z]{8}", i) for i in ids)


def test_full_lifecycle(
    conversations: ConversationStore, tickets: TicketService, agent_clock: AgentClock
) -> None:
    ticket = _hand_off(conversations, tickets)
    assert ticket.state == "open"
    assert ticket.owner is None
    assert ticket.order_ids == ("202403150001",)
    assert ticket.channel == "chat"
    assert conversations.get(M, "c-1").state == "human"  # type: ignore[union-attr]
    assert tickets.active_for_conversation(M, "c-1") == ticket

    agent_clock.advance(60)
    claimed = tickets.claim(M, ticket.id, "alice")
    assert (claimed.state, claimed.owner) == ("claimed", "alice")

    agent_clock.advance(60)
    replied = tickets.reply(M, ticket.id, "alice", "您好，请提供破损照片，我们为您处理退款。")
    assert replied.state == "waiting_customer"
    last = conversations.recent(M, "c-1", limit=1)[0]
    assert (last.role, last.text) == ("agent", "您好，请提供破损照片，我们为您处理退款。")
    assert last.meta["ticket_id"] == ticket.id

    agent_clock.advance(60)
    relayed = tickets.relay_customer_message(M, "c-1", "照片已发")
    assert relayed is not None
    assert (relayed.id, relayed.state, relayed.owner) == (ticket.id, "claimed", "alice")
    assert conversations.recent(M, "c-1", limit=1)[0].text == "照片已发"
    assert conversations.get(M, "c-1").state == "human"  # type: ignore[union-attr]

    agent_clock.advance(60)
    resolved = tickets.resolve(M, ticket.id, "alice", note="refund issued")
    assert resolved.state == "resolved"
    assert resolved.resolved_at == agent_clock()
    assert conversations.get(M, "c-1").state == "bot"  # type: ignore[union-attr]
    assert tickets.active_for_conversation(M, "c-1") is None

    agent_clock.advance(60)
    reopened = tickets.relay_customer_message(M, "c-1", "退款还没到账")
    assert reopened is not None
    assert (reopened.id, reopened.state, reopened.owner) == (ticket.id, "open", None)
    assert reopened.reopen_count == 1
    assert reopened.resolved_at is None
    assert conversations.get(M, "c-1").state == "human"  # type: ignore[union-attr]

    events = tickets.events(M, ticket.id)
    assert [(e.kind, e.author, e.text) for e in events] == [
        ("state_change", "bot", "new → open: damaged, high priority"),
        ("customer_message", "customer", "订单 202403150001 的衣服破了，我要退款"),
        ("note", "bot", "已为您转人工客服"),
        ("state_change", "alice", "open → claimed"),
        ("agent_reply", "alice", "您好，请提供破损照片，我们为您处理退款。"),
        ("state_change", "alice", "claimed → waiting_customer"),
        ("state_change", "customer", "waiting_customer → claimed"),
        ("customer_message", "customer", "照片已发"),
        ("note", "alice", "refund issued"),
        ("state_change", "alice", "claimed → resolved"),
        ("state_change", "customer", "resolved → open"),
        ("customer_message", "customer", "退款还没到账"),
    ]


def test_without_reopen_the_bot_owns_the_conversation_again(
    agent_db_engine: Engine, conversations: ConversationStore
) -> None:
    tickets = TicketService(agent_db_engine, conversations, reopen_on_message=False)
    ticket = _hand_off(conversations, tickets)
    tickets.claim(M, ticket.id, "bob")
    tickets.resolve(M, ticket.id, "bob")
    before = conversations.recent(M, "c-1", limit=100)

    assert tickets.relay_customer_message(M, "c-1", "谢谢") is None
    assert tickets.get(M, ticket.id).state == "resolved"
    assert conversations.get(M, "c-1").state == "bot"  # type: ignore[union-attr]
    assert conversations.recent(M, "c-1", limit=100) == before  # the bot stores and answers it itself


def test_reopen_window(
    agent_db_engine: Engine, conversations: ConversationStore, agent_clock: AgentClock
) -> None:
    tickets = TicketService(agent_db_engine, conversations, reopen_window_seconds=3600)
    first = _hand_off(conversations, tickets, "c-1")
    second = _hand_off(conversations, tickets, "c-2")
    tickets.resolve(M, first.id, "bob")
    tickets.resolve(M, second.id, "bob")

    agent_clock.advance(3599)
    assert tickets.relay_customer_message(M, "c-1", "又坏了") is not None
    agent_clock.advance(2)
    assert tickets.relay_customer_message(M, "c-2", "新问题") is None
    assert tickets.get(M, second.id).state == "resolved"


def test_relay_without_any_ticket_leaves_the_message_to_the_bot(
    conversations: ConversationStore, tickets: TicketService
) -> None:
    conversations.get_or_create(M, "c-1")
    assert tickets.relay_customer_message(M, "c-1", "多少钱") is None
    assert conversations.recent(M, "c-1") == []
    with pytest.raises(ConversationNotFoundError):
        tickets.relay_customer_message(M, "c-missing", "hi")


def test_open_is_idempotent_per_conversation(
    conversations: ConversationStore, tickets: TicketService
) -> None:
    first = _hand_off(conversations, tickets)
    again = tickets.open(
        M,
        "c-1",
        category="complaint",
        priority="urgent",
        order_ids=["202403150001", "202403159999"],
        summary="threatens 12315",
        transcript=[
            ("customer", "订单 202403150001 的衣服破了，我要退款"),
            ("customer", "再不处理我打12315"),
        ],
    )
    assert again.id == first.id
    assert again.priority == "urgent"
    assert again.category == "damaged"
    assert again.order_ids == ("202403150001", "202403159999")
    assert len(tickets.list(M)) == 1
    texts = [e.text for e in tickets.events(M, first.id)]
    assert texts.count("订单 202403150001 的衣服破了，我要退款") == 1
    assert "再不处理我打12315" in texts
    assert "hand-off requested again (complaint): threatens 12315" in texts

    # A lower priority never downgrades the ticket.
    assert tickets.open(M, "c-1", category="other", priority="low").priority == "urgent"


def test_a_resolved_ticket_does_not_absorb_a_new_hand_off(
    conversations: ConversationStore, tickets: TicketService
) -> None:
    first = _hand_off(conversations, tickets)
    tickets.resolve(M, first.id, "bob")
    second = tickets.open(M, "c-1", category="invoice")
    assert second.id != first.id
    assert [t.id for t in tickets.list(M, state="open")] == [second.id]


def test_invalid_transitions_name_the_state_and_the_allowed_actions(
    conversations: ConversationStore, tickets: TicketService
) -> None:
    ticket = _hand_off(conversations, tickets)
    tickets.claim(M, ticket.id, "alice")
    assert tickets.claim(M, ticket.id, "alice").owner == "alice"  # idempotent for the owner

    with pytest.raises(
        TicketStateError, match=r"is claimed: cannot claim \(it is claimed by alice\)"
    ) as info:
        tickets.claim(M, ticket.id, "bob")
    assert info.value.state == "claimed"
    assert "claim with take_over" in str(info.value)
    with pytest.raises(TicketStateError, match="claimed by alice, not bob"):
        tickets.reply(M, ticket.id, "bob", "hello")
    with pytest.raises(TicketStateError, match="claimed by alice, not bob"):
        tickets.resolve(M, ticket.id, "bob")

    taken = tickets.claim(M, ticket.id, "bob", take_over=True)
    assert (taken.state, taken.owner) == ("claimed", "bob")
    tickets.resolve(M, ticket.id, "bob")

    for action in (
        lambda: tickets.claim(M, ticket.id, "bob"),
        lambda: tickets.reply(M, ticket.id, "bob", "hi"),
        lambda: tickets.resolve(M, ticket.id, "bob"),
    ):
        with pytest.raises(TicketStateError, match=r"is resolved: .*already resolved.*allowed now: note"):
            action()


def test_bad_input_is_refused_clearly(conversations: ConversationStore, tickets: TicketService) -> None:
    conversations.get_or_create(M, "c-1")
    with pytest.raises(TicketError, match="category 'refunds' is not valid"):
        tickets.open(M, "c-1", category="refunds")  # type: ignore[arg-type]
    with pytest.raises(TicketError, match="priority 'asap'"):
        tickets.open(M, "c-1", category="refund", priority="asap")  # type: ignore[arg-type]
    with pytest.raises(TicketError, match="transcript role 'user'"):
        tickets.open(M, "c-1", category="refund", transcript=[("user", "hi")])
    with pytest.raises(ConversationNotFoundError):
        tickets.open(M, "c-nope", category="refund")
    ticket = tickets.open(M, "c-1", category="refund")
    with pytest.raises(TicketError, match="agent ''"):
        tickets.claim(M, ticket.id, "")
    with pytest.raises(TicketError, match="reply text is empty"):
        tickets.reply(M, ticket.id, "alice", "  ")
    with pytest.raises(TicketError, match="ticket state 'done'"):
        tickets.list(M, state="done")  # type: ignore[arg-type]
    with pytest.raises(TicketNotFoundError, match="T-NOPE"):
        tickets.get(M, "T-NOPE")
    assert conversations.get(M, "c-1").state == "human"  # type: ignore[union-attr]


def test_merchants_never_see_each_others_tickets(
    conversations: ConversationStore, tickets: TicketService
) -> None:
    mine = _hand_off(conversations, tickets, "c-1", merchant="shop-a")
    theirs = _hand_off(conversations, tickets, "c-1", merchant="shop-b")
    assert mine.id != theirs.id

    assert [t.id for t in tickets.list("shop-a")] == [mine.id]
    assert [t.id for t in tickets.list("shop-b")] == [theirs.id]
    for action in (
        lambda: tickets.get("shop-b", mine.id),
        lambda: tickets.events("shop-b", mine.id),
        lambda: tickets.claim("shop-b", mine.id, "eve"),
        lambda: tickets.reply("shop-b", mine.id, "eve", "hi"),
        lambda: tickets.resolve("shop-b", mine.id, "eve"),
        lambda: tickets.note("shop-b", mine.id, "eve", "peek"),
    ):
        with pytest.raises(TicketNotFoundError, match="not found for merchant 'shop-b'"):
            action()
    assert tickets.get("shop-a", mine.id).state == "open"
    assert len(tickets.events("shop-a", mine.id)) == 3

    # Resolving shop-b's ticket leaves shop-a's same-id conversation with its person.
    tickets.resolve("shop-b", theirs.id, "bob")
    assert conversations.get("shop-a", "c-1").state == "human"  # type: ignore[union-attr]
    assert conversations.get("shop-b", "c-1").state == "bot"  # type: ignore[union-attr]


def test_list_orders_by_priority_then_age_and_filters(
    conversations: ConversationStore, tickets: TicketService, agent_clock: AgentClock
) -> None:
    opened: dict[str, Ticket] = {}
    for cid, priority, category in (
        ("c-1", "low", "invoice"),
        ("c-2", "normal", "delivery"),
        ("c-3", "urgent", "complaint"),
        ("c-4", "normal", "refund"),
        ("c-5", "high", "refund"),
        ("c-6", "urgent", "payment"),
    ):
        conversations.get_or_create(M, cid)
        opened[cid] = tickets.open(M, cid, category=category, priority=priority)  # type: ignore[arg-type]
        agent_clock.advance(10)

    order = [t.conversation_id for t in tickets.list(M)]
    assert order == ["c-3", "c-6", "c-5", "c-2", "c-4", "c-1"]

    tickets.claim(M, opened["c-2"].id, "alice")
    tickets.reply(M, opened["c-4"].id, "alice", "请稍等")
    tickets.resolve(M, opened["c-1"].id, "bob")
    assert [t.conversation_id for t in tickets.list(M, owner="alice")] == ["c-2", "c-4"]
    assert [t.conversation_id for t in tickets.list(M, state="open")] == ["c-3", "c-6", "c-5"]
    assert [t.conversation_id for t in tickets.list(M, state=["claimed", "waiting_customer"])] == [
        "c-2",
        "c-4",
    ]
    assert [t.conversation_id for t in tickets.list(M, category="refund")] == ["c-5", "c-4"]
    assert [t.conversation_id for t in tickets.list(M, priority="urgent", limit=1, offset=1)] == ["c-6"]


def test_everything_survives_a_restart(
    agent_engine_factory: Callable[[], Engine], agent_clock: AgentClock
) -> None:
    engine = agent_engine_factory()
    create_schema(engine)
    conversations = ConversationStore(engine, now=agent_clock)
    tickets = TicketService(engine, conversations)
    ticket = _hand_off(conversations, tickets)
    tickets.claim(M, ticket.id, "alice")
    tickets.reply(M, ticket.id, "alice", "请提供照片")
    conversations.set_focus(M, "c-1", "SKU-7")
    events_before = tickets.events(M, ticket.id)
    messages_before = conversations.recent(M, "c-1", limit=100)
    engine.dispose()

    engine = agent_engine_factory()
    create_schema(engine)  # idempotent on an existing database
    conversations = ConversationStore(engine, now=agent_clock)
    tickets = TicketService(engine, conversations)

    restored = tickets.get(M, ticket.id)
    assert (restored.state, restored.owner, restored.order_ids) == (
        "waiting_customer",
        "alice",
        ("202403150001",),
    )
    assert tickets.events(M, ticket.id) == events_before
    assert conversations.recent(M, "c-1", limit=100) == messages_before
    conversation = conversations.get(M, "c-1")
    assert conversation is not None
    assert (conversation.state, conversation.focus_sku) == ("human", "SKU-7")
    assert conversations.memory(M, "c-1").focus_sku == "SKU-7"
    # And the lifecycle carries on where it stopped.
    assert tickets.relay_customer_message(M, "c-1", "照片在这") is not None
    assert tickets.get(M, ticket.id).state == "claimed"


def test_concurrent_claims_have_exactly_one_winner(
    conversations: ConversationStore, tickets: TicketService
) -> None:
    ticket = _hand_off(conversations, tickets)
    agents = [f"agent-{i}" for i in range(4)]
    barrier = threading.Barrier(len(agents))
    outcomes: dict[str, str] = {}

    def claim(agent: str) -> None:
        barrier.wait()
        try:
            outcomes[agent] = tickets.claim(M, ticket.id, agent).owner or ""
        except TicketStateError:
            outcomes[agent] = "refused"

    threads = [threading.Thread(target=claim, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    owner = tickets.get(M, ticket.id).owner
    assert owner in agents
    assert outcomes[owner] == owner
    assert sorted(outcomes.values()) == sorted([owner, *["refused"] * 3])
    assert [e.text for e in tickets.events(M, ticket.id)].count("open → claimed") == 1


def test_concurrent_hand_offs_open_one_ticket(
    conversations: ConversationStore, tickets: TicketService
) -> None:
    conversations.get_or_create(M, "c-1")
    barrier = threading.Barrier(3)
    ids: list[str] = []

    def hand_off(i: int) -> None:
        barrier.wait()
        ids.append(tickets.open(M, "c-1", category="refund", order_ids=[f"10000{i}"]).id)

    threads = [threading.Thread(target=hand_off, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(ids)) == 1
    assert len(tickets.list(M)) == 1
    assert sorted(tickets.get(M, ids[0]).order_ids) == ["100000", "100001", "100002"]
