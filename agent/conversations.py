"""Conversations and their messages: the bot's memory of a chat, and the log a person reads.

A conversation belongs to one merchant and one channel ("chat" for the shop's private customer-service
chat, "live" for a viewer in a live room). Its *memory* is what the answer pipeline may use: the product
in focus, the language and the recent turns. Memory lasts while the conversation is active: after
``ttl_seconds`` without activity the focus is forgotten and the next message starts a fresh window (the
messages stay in the log; they are history, not memory).

The conversation's ``state`` is "human" while a person owns it through a ticket (see `agent.tickets`);
the bot stays silent then.

The module-level functions taking a `Session` are the in-transaction building blocks that
`agent.tickets` composes into its own transactions; everything else goes through `ConversationStore`.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast, get_args

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent.db import ID_CHARS, ConversationRow, MessageRow, utcnow

Channel = Literal["chat", "live"]
ConversationState = Literal["bot", "human"]
Role = Literal["customer", "bot", "agent", "system"]

CHANNELS: tuple[str, ...] = get_args(Channel)
CONVERSATION_STATES: tuple[str, ...] = get_args(ConversationState)
ROLES: tuple[str, ...] = get_args(Role)

#: Longest message text the store keeps; the API enforces tighter, user-facing limits.
MAX_STORED_TEXT_CHARS = 100_000
#: Longest focus sku and language tag.
MAX_SKU_CHARS = 128
MAX_LANGUAGE_CHARS = 35

_CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

Clock = Callable[[], datetime]


class ConversationError(ValueError):
    """A conversation request that cannot be served as given (bad id, role, channel …)."""


class ConversationNotFoundError(LookupError):
    """No conversation with this id for this merchant."""

    def __init__(self, merchant: str, conversation_id: str) -> None:
        super().__init__(f"conversation {conversation_id!r} not found for merchant {merchant!r}")
        self.merchant = merchant
        self.conversation_id = conversation_id


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    merchant_id: str
    channel: Channel
    focus_sku: str | None
    language: str
    state: ConversationState
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    conversation_id: str
    merchant_id: str
    role: Role
    text: str
    created_at: datetime
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Memory:
    """What the answer pipeline may remember of a conversation right now.

    Attributes:
        focus_sku: the product in focus, or None once the conversation went idle past the TTL.
        turns: the most recent messages of the current memory window, oldest first.
        language: the conversation's language tag ("" when not known yet).
        state: "human" while a person owns the conversation (the bot must stay silent).
        expired: True when the conversation has been idle longer than the TTL.
    """

    conversation_id: str
    focus_sku: str | None
    turns: tuple[StoredMessage, ...]
    language: str
    state: ConversationState
    expired: bool


# -- validation ------------------------------------------------------------------------------------
def check_conversation_id(conversation_id: str) -> str:
    """Return `conversation_id` if valid, else raise `ConversationError` saying what is allowed."""
    if not isinstance(conversation_id, str) or not _CONVERSATION_ID.match(conversation_id):
        raise ConversationError(
            f"conversation id {conversation_id!r} is not valid: "
            "use 1-64 letters, digits, '_', '.', ':' or '-'"
        )
    return conversation_id


def check_merchant(merchant: str) -> str:
    if not isinstance(merchant, str) or not merchant or len(merchant) > ID_CHARS:
        raise ConversationError(f"merchant id {merchant!r} is not valid: use 1-{ID_CHARS} characters")
    return merchant


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ConversationError(f"{what} {value!r} is not valid: use one of {', '.join(allowed)}")
    return value


def _check_text(text: str) -> str:
    if not isinstance(text, str):
        raise ConversationError(f"message text must be a string, not {type(text).__name__}")
    if len(text) > MAX_STORED_TEXT_CHARS:
        raise ConversationError(
            f"message text has {len(text)} characters; the store keeps at most {MAX_STORED_TEXT_CHARS}"
        )
    return text


# -- row conversion --------------------------------------------------------------------------------
def to_conversation(row: ConversationRow) -> Conversation:
    return Conversation(
        id=row.id,
        merchant_id=row.merchant_id,
        channel=cast(Channel, row.channel),
        focus_sku=row.focus_sku,
        language=row.language,
        state=cast(ConversationState, row.state),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_activity_at=row.last_activity_at,
    )


def to_message(row: MessageRow) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        conversation_id=row.conversation_id,
        merchant_id=row.merchant_id,
        role=cast(Role, row.role),
        text=row.text,
        created_at=row.created_at,
        meta=dict(row.meta or {}),
    )


# -- in-transaction building blocks ----------------------------------------------------------------
def load_conversation(
    session: Session, merchant: str, conversation_id: str, *, for_update: bool = False
) -> ConversationRow:
    """The merchant's conversation row, or `ConversationNotFoundError`."""
    stmt = select(ConversationRow).where(
        ConversationRow.merchant_id == merchant, ConversationRow.id == conversation_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise ConversationNotFoundError(merchant, conversation_id)
    return row


def touch(row: ConversationRow, now: datetime, ttl: timedelta) -> None:
    """Record activity at `now`; after an idle gap longer than `ttl` a fresh memory window starts."""
    if now - row.last_activity_at > ttl:
        row.memory_since = now
        row.focus_sku = None
    row.last_activity_at = max(row.last_activity_at, now)
    row.updated_at = now


def add_message(
    session: Session,
    row: ConversationRow,
    role: str,
    text: str,
    meta: Mapping[str, Any] | None,
    now: datetime,
    ttl: timedelta,
) -> StoredMessage:
    """Append a message to the conversation `row` (already loaded in `session`) and flush it."""
    _check_choice(role, ROLES, "message role")
    _check_text(text)
    touch(row, now, ttl)
    message = MessageRow(
        merchant_id=row.merchant_id,
        conversation_id=row.id,
        role=role,
        text=text,
        meta=dict(meta or {}),
        created_at=now,
    )
    session.add(message)
    session.flush()
    return to_message(message)


def set_conversation_state(row: ConversationRow, state: str, now: datetime) -> None:
    _check_choice(state, CONVERSATION_STATES, "conversation state")
    if row.state != state:
        row.state = state
        row.updated_at = now


class ConversationStore:
    """Conversations, messages and memory for every merchant, on one SQLAlchemy engine.

    Args:
        engine: the shared engine; call `agent.db.create_schema(engine)` once before use.
        ttl_seconds: idle time after which the focus product and recent turns are forgotten.
        max_turns: how many recent messages `memory` returns at most.
        now: the clock (tests inject a controllable one); must return aware datetimes.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        ttl_seconds: float = 1800,
        max_turns: int = 20,
        now: Clock = utcnow,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, not {ttl_seconds}")
        if max_turns < 0:
            raise ValueError(f"max_turns must be zero or more, not {max_turns}")
        self.engine = engine
        self.ttl = timedelta(seconds=ttl_seconds)
        self.max_turns = max_turns
        self.now = now

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- conversations -----------------------------------------------------------------------------
    def get_or_create(self, merchant: str, conversation_id: str, channel: Channel = "chat") -> Conversation:
        """The conversation, created on first use. An existing conversation keeps its original channel."""
        check_merchant(merchant)
        check_conversation_id(conversation_id)
        _check_choice(channel, CHANNELS, "channel")
        existing = self.get(merchant, conversation_id)
        if existing is not None:
            return existing
        now = self.now()
        row = ConversationRow(
            merchant_id=merchant,
            id=conversation_id,
            channel=channel,
            focus_sku=None,
            language="",
            state="bot",
            created_at=now,
            updated_at=now,
            last_activity_at=now,
            memory_since=now,
        )
        try:
            with self.session() as session, session.begin():
                session.add(row)
        except IntegrityError:
            # Created concurrently by another request: use theirs.
            raced = self.get(merchant, conversation_id)
            if raced is None:
                raise
            return raced
        return to_conversation(row)

    def get(self, merchant: str, conversation_id: str) -> Conversation | None:
        """The merchant's conversation with this id, or None (another merchant's is never returned)."""
        with self.session() as session:
            row = session.get(ConversationRow, (merchant, conversation_id))
            return None if row is None else to_conversation(row)

    def list(
        self,
        merchant: str,
        *,
        state: ConversationState | None = None,
        channel: Channel | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> builtins.list[Conversation]:
        """The merchant's conversations, most recently active first."""
        stmt = select(ConversationRow).where(ConversationRow.merchant_id == merchant)
        if state is not None:
            stmt = stmt.where(ConversationRow.state == _check_choice(state, CONVERSATION_STATES, "state"))
        if channel is not None:
            stmt = stmt.where(ConversationRow.channel == _check_choice(channel, CHANNELS, "channel"))
        stmt = (
            stmt.order_by(ConversationRow.last_activity_at.desc(), ConversationRow.id)
            .limit(max(0, limit))
            .offset(max(0, offset))
        )
        with self.session() as session:
            return [to_conversation(row) for row in session.scalars(stmt)]

    # -- messages ----------------------------------------------------------------------------------
    def append(
        self,
        merchant: str,
        conversation_id: str,
        role: Role,
        text: str,
        meta: Mapping[str, Any] | None = None,
    ) -> StoredMessage:
        """Store one message and count it as activity (an idle conversation starts a fresh memory)."""
        with self.session() as session, session.begin():
            row = load_conversation(session, merchant, conversation_id)
            return add_message(session, row, role, text, meta, self.now(), self.ttl)

    def recent(self, merchant: str, conversation_id: str, limit: int = 20) -> builtins.list[StoredMessage]:
        """The last `limit` messages of the whole log, oldest first."""
        with self.session() as session:
            load_conversation(session, merchant, conversation_id)
            rows = session.scalars(
                select(MessageRow)
                .where(MessageRow.merchant_id == merchant, MessageRow.conversation_id == conversation_id)
                .order_by(MessageRow.id.desc())
                .limit(max(0, limit))
            ).all()
            return [to_message(row) for row in reversed(rows)]

    def messages_since(
        self, merchant: str, conversation_id: str, after_id: int = 0, limit: int = 200
    ) -> builtins.list[StoredMessage]:
        """Messages with an id above `after_id`, oldest first (for pollers and server-sent events)."""
        with self.session() as session:
            load_conversation(session, merchant, conversation_id)
            rows = session.scalars(
                select(MessageRow)
                .where(
                    MessageRow.merchant_id == merchant,
                    MessageRow.conversation_id == conversation_id,
                    MessageRow.id > after_id,
                )
                .order_by(MessageRow.id)
                .limit(max(0, limit))
            )
            return [to_message(row) for row in rows]

    # -- memory ------------------------------------------------------------------------------------
    def memory(self, merchant: str, conversation_id: str) -> Memory:
        """Focus, language and recent turns of the current memory window (empty once idle past the TTL)."""
        now = self.now()
        with self.session() as session:
            row = load_conversation(session, merchant, conversation_id)
            expired = now - row.last_activity_at > self.ttl
            turns: tuple[StoredMessage, ...] = ()
            if not expired and self.max_turns:
                rows = session.scalars(
                    select(MessageRow)
                    .where(
                        MessageRow.merchant_id == merchant,
                        MessageRow.conversation_id == conversation_id,
                        MessageRow.created_at >= row.memory_since,
                    )
                    .order_by(MessageRow.id.desc())
                    .limit(self.max_turns)
                ).all()
                turns = tuple(to_message(m) for m in reversed(rows))
            return Memory(
                conversation_id=row.id,
                focus_sku=None if expired else row.focus_sku,
                turns=turns,
                language=row.language,
                state=cast(ConversationState, row.state),
                expired=expired,
            )

    def set_focus(self, merchant: str, conversation_id: str, sku: str | None) -> Conversation:
        """Put `sku` in focus (None clears it); counts as activity."""
        if sku is not None and (not sku or len(sku) > MAX_SKU_CHARS):
            raise ConversationError(f"focus sku {sku!r} is not valid: use 1-{MAX_SKU_CHARS} characters")
        with self.session() as session, session.begin():
            row = load_conversation(session, merchant, conversation_id)
            touch(row, self.now(), self.ttl)
            row.focus_sku = sku
            return to_conversation(row)

    def set_language(self, merchant: str, conversation_id: str, language: str) -> Conversation:
        """Record the conversation's language tag (e.g. "zh-CN", "en")."""
        if len(language) > MAX_LANGUAGE_CHARS:
            raise ConversationError(
                f"language tag {language!r} is too long: at most {MAX_LANGUAGE_CHARS} characters"
            )
        with self.session() as session, session.begin():
            row = load_conversation(session, merchant, conversation_id)
            row.language = language
            row.updated_at = self.now()
            return to_conversation(row)

    def set_state(self, merchant: str, conversation_id: str, state: ConversationState) -> Conversation:
        """Set who answers: "bot" or "human". Tickets do this themselves; use it for manual overrides."""
        with self.session() as session, session.begin():
            row = load_conversation(session, merchant, conversation_id)
            set_conversation_state(row, state, self.now())
            return to_conversation(row)
