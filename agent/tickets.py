"""After-sales hand-off: tickets a person claims, answers and resolves, and the bot stays silent meanwhile.

Lifecycle: ``open → claimed → waiting_customer → resolved``. While a ticket is unresolved its conversation
is in state "human": the bot does not answer; the customer's messages are relayed to the ticket
(`TicketService.relay_customer_message`) and a person's replies are appended to the conversation as
"agent" messages, so the customer sees them. A customer message after resolution reopens the ticket when
``reopen_on_message`` is set (optionally only within ``reopen_window_seconds``).

Every change is one database transaction and leaves a `TicketEvent`; the events are the transcript and
everything since. The ticket keeps order ids and the transcript privately: nothing here is meant for a
public channel. All look-ups are merchant-scoped: another merchant's ticket id is simply "not found".

Integration contract for the answer pipeline: call `relay_customer_message` for every incoming customer
message first. If it returns a ticket, the message is stored (in the conversation and on the ticket) and
the bot must stay silent; if it returns None, the bot handles the message as usual.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar, cast, get_args

from sqlalchemy import Engine, case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from agent.conversations import (
    ROLES,
    ConversationStore,
    add_message,
    load_conversation,
    set_conversation_state,
)
from agent.db import ConversationRow, TicketEventRow, TicketRow
from agent.understanding.intents import AfterSalesCategory

# The after-sales categories the router assigns are the ticket categories.
TicketCategory = AfterSalesCategory
TicketPriority = Literal["low", "normal", "high", "urgent"]
TicketState = Literal["open", "claimed", "waiting_customer", "resolved"]
TicketEventKind = Literal["customer_message", "agent_reply", "state_change", "note"]

CATEGORIES: tuple[str, ...] = get_args(TicketCategory)
PRIORITIES: tuple[str, ...] = get_args(TicketPriority)
STATES: tuple[str, ...] = get_args(TicketState)
EVENT_KINDS: tuple[str, ...] = get_args(TicketEventKind)

#: Sort rank of each priority: urgent tickets come first.
PRIORITY_RANK: dict[str, int] = {"urgent": 0, "high": 1, "normal": 2, "low": 3}

MAX_ORDER_IDS = 20
MAX_ORDER_ID_CHARS = 64
MAX_SUMMARY_CHARS = 4_000
MAX_AGENT_CHARS = 128

#: Crockford base32: no I, L, O, U, so ids read aloud or typed by hand are unambiguous.
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Attempts of one change when a concurrent writer got there first (optimistic lock or unique index).
_ATTEMPTS = 4

_T = TypeVar("_T")


class TicketError(ValueError):
    """A ticket request with invalid input (unknown category, empty agent name …)."""


class TicketNotFoundError(LookupError):
    """No ticket with this id for this merchant."""

    def __init__(self, merchant: str, ticket_id: str) -> None:
        super().__init__(f"ticket {ticket_id!r} not found for merchant {merchant!r}")
        self.merchant = merchant
        self.ticket_id = ticket_id


class TicketStateError(Exception):
    """The action is not allowed in the ticket's current state (or for this agent)."""

    def __init__(self, ticket_id: str, state: str, action: str, reason: str, allowed: Sequence[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"ticket {ticket_id} is {state}: cannot {action} ({reason}); allowed now: {allowed_text}"
        )
        self.ticket_id = ticket_id
        self.state = state
        self.action = action
        self.allowed = tuple(allowed)


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    merchant_id: str
    conversation_id: str
    channel: str
    category: TicketCategory
    priority: TicketPriority
    state: TicketState
    owner: str | None
    order_ids: tuple[str, ...]
    summary: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    reopen_count: int


@dataclass(frozen=True, slots=True)
class TicketEvent:
    id: int
    ticket_id: str
    merchant_id: str
    kind: TicketEventKind
    author: str
    text: str
    created_at: datetime


def new_ticket_id() -> str:
    """A short readable id: ``T-`` and 8 Crockford base32 characters (40 random bits)."""
    bits = secrets.randbits(40)
    return "T-" + "".join(_ID_ALPHABET[(bits >> shift) & 31] for shift in range(35, -1, -5))


def _to_ticket(row: TicketRow) -> Ticket:
    return Ticket(
        id=row.id,
        merchant_id=row.merchant_id,
        conversation_id=row.conversation_id,
        channel=row.channel,
        category=cast(TicketCategory, row.category),
        priority=cast(TicketPriority, row.priority),
        state=cast(TicketState, row.state),
        owner=row.owner,
        order_ids=tuple(str(o) for o in row.order_ids or ()),
        summary=row.summary,
        created_at=row.created_at,
        updated_at=row.updated_at,
        resolved_at=row.resolved_at,
        reopen_count=row.reopen_count,
    )


def _to_event(row: TicketEventRow) -> TicketEvent:
    return TicketEvent(
        id=row.id,
        ticket_id=row.ticket_id,
        merchant_id=row.merchant_id,
        kind=cast(TicketEventKind, row.kind),
        author=row.author,
        text=row.text,
        created_at=row.created_at,
    )


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise TicketError(f"{what} {value!r} is not valid: use one of {', '.join(allowed)}")
    return value


def _check_agent(agent: str) -> str:
    if not isinstance(agent, str) or not agent.strip() or len(agent) > MAX_AGENT_CHARS:
        raise TicketError(f"agent {agent!r} is not valid: use 1-{MAX_AGENT_CHARS} characters")
    return agent.strip()


def _clean_order_ids(order_ids: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in order_ids:
        order_id = str(raw).strip()
        if not order_id or len(order_id) > MAX_ORDER_ID_CHARS:
            raise TicketError(f"order id {raw!r} is not valid: use 1-{MAX_ORDER_ID_CHARS} characters")
        if order_id not in cleaned:
            cleaned.append(order_id)
    if len(cleaned) > MAX_ORDER_IDS:
        raise TicketError(f"{len(cleaned)} order ids given; a ticket keeps at most {MAX_ORDER_IDS}")
    return cleaned


def _allowed_actions(row: TicketRow, reopen_on_message: bool) -> list[str]:
    if row.state == "open":
        return ["claim", "reply", "resolve", "note"]
    if row.state in ("claimed", "waiting_customer"):
        return [f"reply (by {row.owner})", f"resolve (by {row.owner})", "claim with take_over", "note"]
    reopen = ["a new customer message reopens it"] if reopen_on_message else []
    return ["note", *reopen]


class TicketService:
    """Tickets for every merchant, sharing the engine and transactions of a `ConversationStore`.

    Args:
        engine: the shared engine (must be the conversations' engine).
        conversations: the store whose conversations the tickets belong to.
        reopen_on_message: a customer message after resolution reopens the ticket.
        reopen_window_seconds: only reopen within this time after resolution (None: always).
        now: the clock; defaults to the conversation store's.
    """

    def __init__(
        self,
        engine: Engine,
        conversations: ConversationStore,
        *,
        reopen_on_message: bool = True,
        reopen_window_seconds: float | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        if engine is not conversations.engine:
            raise ValueError("TicketService must use the same engine as its ConversationStore")
        self.conversations = conversations
        self.reopen_on_message = reopen_on_message
        self.reopen_window = (
            None if reopen_window_seconds is None else timedelta(seconds=reopen_window_seconds)
        )
        self.now = now or conversations.now

    # -- transactions ------------------------------------------------------------------------------
    def _run(self, work: Callable[[Session, datetime], _T]) -> _T:
        """Run `work` in one transaction, again if a concurrent writer changed the same rows first."""
        for attempt in range(_ATTEMPTS):
            try:
                with self.conversations.session() as session, session.begin():
                    return work(session, self.now())
            except (StaleDataError, IntegrityError):
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _load(session: Session, merchant: str, ticket_id: str) -> TicketRow:
        row = session.scalars(
            select(TicketRow).where(TicketRow.merchant_id == merchant, TicketRow.id == ticket_id)
        ).one_or_none()
        if row is None:
            raise TicketNotFoundError(merchant, ticket_id)
        return row

    @staticmethod
    def _unresolved(session: Session, merchant: str, conversation_id: str) -> TicketRow | None:
        return session.scalars(
            select(TicketRow).where(
                TicketRow.merchant_id == merchant,
                TicketRow.conversation_id == conversation_id,
                TicketRow.state != "resolved",
            )
        ).first()

    @staticmethod
    def _event(session: Session, row: TicketRow, kind: str, author: str, text: str, now: datetime) -> None:
        session.add(
            TicketEventRow(
                ticket_id=row.id,
                merchant_id=row.merchant_id,
                kind=kind,
                author=author,
                text=text,
                created_at=now,
            )
        )

    def _transition(self, session: Session, row: TicketRow, state: str, author: str, now: datetime) -> None:
        if row.state != state:
            self._event(session, row, "state_change", author, f"{row.state} → {state}", now)
            row.state = state
        row.updated_at = now

    def _refuse(self, row: TicketRow, action: str, reason: str) -> TicketStateError:
        return TicketStateError(
            row.id, row.state, action, reason, _allowed_actions(row, self.reopen_on_message)
        )

    def _check_owner(self, row: TicketRow, agent: str, action: str) -> None:
        if row.state == "resolved":
            raise self._refuse(row, action, "it is already resolved")
        if row.owner is not None and row.owner != agent and row.state != "open":
            raise self._refuse(row, action, f"it is claimed by {row.owner}, not {agent}")

    # -- hand-off ----------------------------------------------------------------------------------
    def open(
        self,
        merchant: str,
        conversation_id: str,
        *,
        category: TicketCategory,
        priority: TicketPriority = "normal",
        order_ids: Iterable[str] = (),
        summary: str = "",
        transcript: Sequence[tuple[str, str]] = (),
    ) -> Ticket:
        """Hand the conversation to a person; the conversation goes silent for the bot ("human").

        Idempotent per conversation: while it has an unresolved ticket, the request is merged into that
        ticket (new order ids added, priority raised, a note, transcript lines it does not hold yet).

        Args:
            transcript: the conversation so far as ``(role, text)`` pairs, role one of
                customer/bot/agent/system.
        """
        _check_choice(category, CATEGORIES, "ticket category")
        _check_choice(priority, PRIORITIES, "ticket priority")
        orders = _clean_order_ids(order_ids)
        if len(summary) > MAX_SUMMARY_CHARS:
            raise TicketError(f"summary has {len(summary)} characters; at most {MAX_SUMMARY_CHARS}")
        for role, _text in transcript:
            if role not in ROLES:
                raise TicketError(f"transcript role {role!r} is not valid: use one of {', '.join(ROLES)}")

        def work(session: Session, now: datetime) -> Ticket:
            conversation = load_conversation(session, merchant, conversation_id, for_update=True)
            row = self._unresolved(session, merchant, conversation_id)
            if row is None:
                row = self._create(session, conversation, category, priority, orders, summary, now)
                held: set[tuple[str, str, str]] = set()
            else:
                self._merge(session, row, category, priority, orders, summary, now)
                held = {
                    (e.kind, e.author, e.text)
                    for e in session.scalars(select(TicketEventRow).where(TicketEventRow.ticket_id == row.id))
                }
            for role, text in transcript:
                kind = {"customer": "customer_message", "agent": "agent_reply"}.get(role, "note")
                if (kind, role, text) not in held:
                    self._event(session, row, kind, role, text, now)
                    held.add((kind, role, text))
            set_conversation_state(conversation, "human", now)
            session.flush()
            return _to_ticket(row)

        return self._run(work)

    def _create(
        self,
        session: Session,
        conversation: ConversationRow,
        category: str,
        priority: str,
        orders: list[str],
        summary: str,
        now: datetime,
    ) -> TicketRow:
        row = TicketRow(
            id=new_ticket_id(),
            merchant_id=conversation.merchant_id,
            conversation_id=conversation.id,
            channel=conversation.channel,
            category=category,
            priority=priority,
            state="open",
            owner=None,
            order_ids=orders,
            summary=summary,
            created_at=now,
            updated_at=now,
            resolved_at=None,
            reopen_count=0,
        )
        session.add(row)
        session.flush()
        self._event(session, row, "state_change", "bot", f"new → open: {category}, {priority} priority", now)
        return row

    def _merge(
        self,
        session: Session,
        row: TicketRow,
        category: str,
        priority: str,
        orders: list[str],
        summary: str,
        now: datetime,
    ) -> None:
        merged = list(row.order_ids or [])
        merged += [o for o in orders if o not in merged]
        row.order_ids = merged[:MAX_ORDER_IDS]
        if PRIORITY_RANK[priority] < PRIORITY_RANK[row.priority]:
            row.priority = priority
        row.updated_at = now
        self._event(
            session, row, "note", "bot", f"hand-off requested again ({category}): {summary}".strip(), now
        )

    def raise_priority(self, merchant: str, ticket_id: str, reason: str) -> Ticket:
        """Move a ticket up one priority (low → normal → high → urgent), with a note saying why."""

        def work(session: Session, now: datetime) -> Ticket:
            row = self._load(session, merchant, ticket_id)
            rank = PRIORITY_RANK[row.priority]
            if rank > PRIORITY_RANK["urgent"]:
                row.priority = next(p for p, r in PRIORITY_RANK.items() if r == rank - 1)
                row.updated_at = now
                self._event(session, row, "note", "bot", f"{reason}: priority {row.priority}", now)
            session.flush()
            return _to_ticket(row)

        return self._run(work)

    def relay_customer_message(self, merchant: str, conversation_id: str, text: str) -> Ticket | None:
        """Route a customer's message to the conversation's ticket, or return None for the bot to answer.

        On the active ticket: the message is recorded on the ticket and in the conversation; a ticket
        waiting for the customer goes back to its owner (claimed) or the queue (open). With no active
        ticket, the latest resolved one is reopened when `reopen_on_message` allows it; otherwise nothing
        is stored, the conversation belongs to the bot again and None is returned.
        """

        def work(session: Session, now: datetime) -> Ticket | None:
            conversation = load_conversation(session, merchant, conversation_id, for_update=True)
            row = self._unresolved(session, merchant, conversation_id)
            if row is None:
                row = self._reopenable(session, merchant, conversation_id, now)
                if row is None:
                    set_conversation_state(conversation, "bot", now)
                    return None
                self._transition(session, row, "open", "customer", now)
                row.owner = None
                row.resolved_at = None
                row.reopen_count += 1
            elif row.state == "waiting_customer":
                self._transition(session, row, "claimed" if row.owner else "open", "customer", now)
            self._event(session, row, "customer_message", "customer", text, now)
            row.updated_at = now
            add_message(
                session, conversation, "customer", text, {"ticket_id": row.id}, now, self.conversations.ttl
            )
            set_conversation_state(conversation, "human", now)
            session.flush()
            return _to_ticket(row)

        return self._run(work)

    def _reopenable(
        self, session: Session, merchant: str, conversation_id: str, now: datetime
    ) -> TicketRow | None:
        if not self.reopen_on_message:
            return None
        latest = session.scalars(
            select(TicketRow)
            .where(TicketRow.merchant_id == merchant, TicketRow.conversation_id == conversation_id)
            .order_by(TicketRow.created_at.desc(), TicketRow.id.desc())
            .limit(1)
        ).first()
        if latest is None or latest.state != "resolved":
            return None
        window, resolved_at = self.reopen_window, latest.resolved_at
        if window is not None and resolved_at is not None and now - resolved_at > window:
            return None
        return latest

    # -- reading -----------------------------------------------------------------------------------
    def active_for_conversation(self, merchant: str, conversation_id: str) -> Ticket | None:
        """The conversation's unresolved ticket, if any."""
        with self.conversations.session() as session:
            row = self._unresolved(session, merchant, conversation_id)
            return None if row is None else _to_ticket(row)

    def get(self, merchant: str, ticket_id: str) -> Ticket:
        """The merchant's ticket, or `TicketNotFoundError`."""
        with self.conversations.session() as session:
            return _to_ticket(self._load(session, merchant, ticket_id))

    def list(
        self,
        merchant: str,
        *,
        state: TicketState | Sequence[TicketState] | None = None,
        category: TicketCategory | None = None,
        priority: TicketPriority | None = None,
        owner: str | None = None,
        conversation_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Ticket]:
        """The merchant's tickets, most urgent first, then oldest first."""
        stmt = select(TicketRow).where(TicketRow.merchant_id == merchant)
        if state is not None:
            states = [state] if isinstance(state, str) else builtins.list(state)
            for s in states:
                _check_choice(s, STATES, "ticket state")
            stmt = stmt.where(TicketRow.state.in_(states))
        if category is not None:
            stmt = stmt.where(TicketRow.category == _check_choice(category, CATEGORIES, "ticket category"))
        if priority is not None:
            stmt = stmt.where(TicketRow.priority == _check_choice(priority, PRIORITIES, "ticket priority"))
        if owner is not None:
            stmt = stmt.where(TicketRow.owner == owner)
        if conversation_id is not None:
            stmt = stmt.where(TicketRow.conversation_id == conversation_id)
        rank = case(PRIORITY_RANK, value=TicketRow.priority, else_=len(PRIORITY_RANK))
        stmt = (
            stmt.order_by(rank, TicketRow.created_at, TicketRow.id)
            .limit(max(0, limit))
            .offset(max(0, offset))
        )
        with self.conversations.session() as session:
            return [_to_ticket(row) for row in session.scalars(stmt)]

    def events(self, merchant: str, ticket_id: str) -> builtins.list[TicketEvent]:
        """Everything that happened on the ticket, oldest first (transcript included)."""
        with self.conversations.session() as session:
            self._load(session, merchant, ticket_id)
            rows = session.scalars(
                select(TicketEventRow)
                .where(TicketEventRow.merchant_id == merchant, TicketEventRow.ticket_id == ticket_id)
                .order_by(TicketEventRow.id)
            )
            return [_to_event(row) for row in rows]

    # -- a person's actions ------------------------------------------------------------------------
    def claim(self, merchant: str, ticket_id: str, agent: str, *, take_over: bool = False) -> Ticket:
        """Take an open ticket (idempotent for its owner); `take_over` reassigns someone else's."""
        agent = _check_agent(agent)

        def work(session: Session, now: datetime) -> Ticket:
            row = self._load(session, merchant, ticket_id)
            if row.state == "resolved":
                raise self._refuse(row, "claim", "it is already resolved")
            if row.owner == agent and row.state != "open":
                return _to_ticket(row)
            if row.owner is not None and row.state != "open" and not take_over:
                raise self._refuse(row, "claim", f"it is claimed by {row.owner}")
            if row.owner is not None and row.owner != agent:
                self._event(session, row, "note", agent, f"took over from {row.owner}", now)
            row.owner = agent
            if row.state == "open":
                self._transition(session, row, "claimed", agent, now)
            row.updated_at = now
            session.flush()
            return _to_ticket(row)

        return self._run(work)

    def reply(
        self, merchant: str, ticket_id: str, agent: str, text: str, *, wait_for_customer: bool = True
    ) -> Ticket:
        """Send a person's reply to the customer (an "agent" message in the conversation).

        An open ticket is claimed by the replying agent. Afterwards the ticket waits for the customer,
        or stays claimed with ``wait_for_customer=False``.
        """
        agent = _check_agent(agent)
        if not text.strip():
            raise TicketError("reply text is empty")

        def work(session: Session, now: datetime) -> Ticket:
            row = self._load(session, merchant, ticket_id)
            self._check_owner(row, agent, "reply")
            conversation = load_conversation(session, merchant, row.conversation_id, for_update=True)
            if row.state == "open":
                row.owner = agent
                self._transition(session, row, "claimed", agent, now)
            self._event(session, row, "agent_reply", agent, text, now)
            add_message(
                session,
                conversation,
                "agent",
                text,
                {"ticket_id": row.id, "agent": agent},
                now,
                self.conversations.ttl,
            )
            self._transition(session, row, "waiting_customer" if wait_for_customer else "claimed", agent, now)
            session.flush()
            return _to_ticket(row)

        return self._run(work)

    def resolve(self, merchant: str, ticket_id: str, agent: str, note: str | None = None) -> Ticket:
        """Close the ticket; the conversation goes back to the bot."""
        agent = _check_agent(agent)

        def work(session: Session, now: datetime) -> Ticket:
            row = self._load(session, merchant, ticket_id)
            self._check_owner(row, agent, "resolve")
            conversation = load_conversation(session, merchant, row.conversation_id, for_update=True)
            if note:
                self._event(session, row, "note", agent, note, now)
            if row.owner is None:
                row.owner = agent
            self._transition(session, row, "resolved", agent, now)
            row.resolved_at = now
            set_conversation_state(conversation, "bot", now)
            session.flush()
            return _to_ticket(row)

        return self._run(work)

    def note(self, merchant: str, ticket_id: str, agent: str, text: str) -> TicketEvent:
        """An internal note on the ticket (never shown to the customer)."""
        agent = _check_agent(agent)
        if not text.strip():
            raise TicketError("note text is empty")

        def work(session: Session, now: datetime) -> TicketEvent:
            row = self._load(session, merchant, ticket_id)
            event = TicketEventRow(
                ticket_id=row.id, merchant_id=merchant, kind="note", author=agent, text=text, created_at=now
            )
            session.add(event)
            session.flush()
            return _to_event(event)

        return self._run(work)
