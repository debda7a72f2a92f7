"""The agent's tables: conversations, their messages, and the after-sales tickets handed to people.

They live on the same engine as the catalog but in their own metadata (`AgentBase.metadata`), so the
catalog and the agent create and evolve their schemas independently; `create_schema` is idempotent.
Table names are the contract: ``conversations``, ``messages``, ``tickets``, ``ticket_events``.

Every row carries ``merchant_id`` and every query filters by it. Conversations are keyed by
``(merchant_id, id)`` so two merchants may use the same client-supplied conversation id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Surrogate keys: 64-bit on PostgreSQL, SQLite's rowid alias on SQLite.
_RowId = BigInteger().with_variant(Integer(), "sqlite")

#: Longest merchant, conversation and ticket id the tables hold.
ID_CHARS = 64


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite drops the offset, so values are stored as UTC and read back with ``tzinfo=UTC``; comparisons
    in SQL then work on both backends.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamp {value.isoformat()} has no timezone; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AgentBase(DeclarativeBase):
    """Declarative base of the agent's tables (its own metadata, separate from the catalog's)."""

    type_annotation_map = {  # noqa: RUF012  SQLAlchemy reads this class attribute.
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: UTCDateTime,
    }


class ConversationRow(AgentBase):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_merchant_activity", "merchant_id", "last_activity_at"),)

    merchant_id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    focus_sku: Mapped[str | None] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(35), default="")
    state: Mapped[str] = mapped_column(String(8), default="bot")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    #: Start of the current memory window: messages before it are history, not memory.
    memory_since: Mapped[datetime]


class MessageRow(AgentBase):
    __tablename__ = "messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["merchant_id", "conversation_id"],
            ["conversations.merchant_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        Index("ix_messages_merchant_conversation_id", "merchant_id", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(_RowId, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(ID_CHARS))
    conversation_id: Mapped[str] = mapped_column(String(ID_CHARS))
    role: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class TicketRow(AgentBase):
    __tablename__ = "tickets"
    __table_args__ = (
        ForeignKeyConstraint(
            ["merchant_id", "conversation_id"],
            ["conversations.merchant_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        Index("ix_tickets_merchant_state", "merchant_id", "state", "created_at"),
        Index("ix_tickets_merchant_conversation", "merchant_id", "conversation_id", "created_at"),
        # At most one unresolved ticket per conversation: concurrent hand-offs cannot open two.
        Index(
            "uq_tickets_one_unresolved_per_conversation",
            "merchant_id",
            "conversation_id",
            unique=True,
            sqlite_where=text("state <> 'resolved'"),
            postgresql_where=text("state <> 'resolved'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_CHARS), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(ID_CHARS))
    conversation_id: Mapped[str] = mapped_column(String(ID_CHARS))
    channel: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str | None] = mapped_column(String(128))
    order_ids: Mapped[list[Any]]
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Optimistic lock: a concurrent change to the same ticket makes the later write fail and retry.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  SQLAlchemy reads this class attribute.


class TicketEventRow(AgentBase):
    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_merchant_ticket_id", "merchant_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(_RowId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(ID_CHARS), ForeignKey("tickets.id", ondelete="CASCADE"))
    merchant_id: Mapped[str] = mapped_column(String(ID_CHARS))
    kind: Mapped[str] = mapped_column(String(20))
    author: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_schema(engine: Engine) -> None:
    """Create the agent's tables that do not exist yet (idempotent)."""
    import agent.understanding.corrections  # noqa: F401  registers the intent_corrections table

    AgentBase.metadata.create_all(engine)
