"""People teaching the router: a correction says what a message really meant ("this was a refund, not a
product question"). Corrections are stored per merchant, listed by `anchor router corrections`, and added
to the training data by `anchor router train --merchant M` — new data, never a new rule.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from agent.db import ID_CHARS, AgentBase, MessageRow, utcnow
from agent.understanding.intents import INTENTS, Intent, is_intent

#: Longest message a correction keeps (the chat limit is lower).
MAX_CORRECTION_CHARS = 4000


class IntentCorrectionRow(AgentBase):
    __tablename__ = "intent_corrections"
    __table_args__ = (Index("ix_intent_corrections_merchant_text", "merchant_id", "text_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(ID_CHARS))
    #: The first 255 characters of the text: one correction per message text and merchant (the latest wins).
    text_key: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    intent: Mapped[str] = mapped_column(String(32))
    previous: Mapped[str | None] = mapped_column(String(32))
    conversation_id: Mapped[str | None] = mapped_column(String(ID_CHARS))
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class CorrectionError(ValueError):
    """A correction that cannot be stored; the message says why."""


@dataclass(frozen=True, slots=True)
class Correction:
    id: int
    merchant: str
    text: str
    intent: Intent
    previous: str | None
    conversation_id: str | None
    author: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "merchant": self.merchant,
            "text": self.text,
            "intent": self.intent,
            "previous": self.previous,
            "conversation_id": self.conversation_id,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class RoutedMessage:
    """A shopper's message with what the bot decided about it (from the bot's reply)."""

    message_id: int
    conversation_id: str
    text: str
    intent: str | None
    route: str | None
    confidence: float | None
    created_at: datetime
    corrected: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "text": self.text,
            "intent": self.intent,
            "route": self.route,
            "confidence": self.confidence,
            "created_at": self.created_at.isoformat(),
            "corrected": self.corrected,
        }


def _to_correction(row: IntentCorrectionRow) -> Correction:
    return Correction(
        id=row.id,
        merchant=row.merchant_id,
        text=row.text,
        intent=row.intent,  # type: ignore[arg-type]
        previous=row.previous,
        conversation_id=row.conversation_id,
        author=row.author,
        created_at=row.created_at,
    )


class CorrectionStore:
    """Corrections of one database (all merchants; every call names one)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        merchant: str,
        text: str,
        intent: str,
        *,
        author: str,
        previous: str | None = None,
        conversation_id: str | None = None,
    ) -> Correction:
        """Store (or replace) the correction of one message text.

        Raises:
            CorrectionError: an unknown intent, or an empty or over-long text.
        """
        clean = text.strip()
        if not clean:
            raise CorrectionError("the corrected message is empty")
        if len(clean) > MAX_CORRECTION_CHARS:
            raise CorrectionError(
                f"the corrected message is {len(clean)} characters; at most {MAX_CORRECTION_CHARS}"
            )
        if not is_intent(intent):
            raise CorrectionError(f"intent {intent!r} is not one of: {', '.join(INTENTS)}")
        if previous is not None and not is_intent(previous):
            previous = None
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            row = session.scalars(
                select(IntentCorrectionRow).where(
                    IntentCorrectionRow.merchant_id == merchant, IntentCorrectionRow.text_key == clean[:255]
                )
            ).first()
            if row is None:
                row = IntentCorrectionRow(merchant_id=merchant, text_key=clean[:255])
                session.add(row)
            row.text = clean
            row.intent = intent
            row.previous = previous
            row.conversation_id = conversation_id
            row.author = author[:128]
            row.created_at = now
            session.flush()
            return _to_correction(row)

    def list(self, merchant: str, *, limit: int = 1000) -> list[Correction]:
        """The merchant's corrections, newest first."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(IntentCorrectionRow)
                .where(IntentCorrectionRow.merchant_id == merchant)
                .order_by(IntentCorrectionRow.created_at.desc(), IntentCorrectionRow.id.desc())
                .limit(max(0, limit))
            ).all()
            return [_to_correction(r) for r in rows]

    def recent_messages(self, merchant: str, *, limit: int = 50) -> builtins.list[RoutedMessage]:
        """The merchant's latest shopper messages with the bot's decision and any correction, newest first."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(MessageRow)
                .where(MessageRow.merchant_id == merchant)
                .order_by(MessageRow.id.desc())
                .limit(max(0, limit) * 3)
            ).all()
            corrected = {
                r.text_key: r.intent
                for r in session.scalars(
                    select(IntentCorrectionRow).where(IntentCorrectionRow.merchant_id == merchant)
                ).all()
            }
        return pair_decisions(list(reversed(rows)), corrected)[::-1][:limit]


def pair_decisions(rows: Sequence[MessageRow], corrected: dict[str, str]) -> list[RoutedMessage]:
    """Each customer message (oldest first) with the decision its conversation's next bot message carries."""
    out: list[RoutedMessage] = []
    for i, row in enumerate(rows):
        if row.role != "customer":
            continue
        reply = next(
            (
                r
                for r in rows[i + 1 :]
                if r.conversation_id == row.conversation_id and r.role in ("bot", "customer")
            ),
            None,
        )
        meta = reply.meta if reply is not None and reply.role == "bot" else {}
        confidence = meta.get("confidence")
        out.append(
            RoutedMessage(
                message_id=row.id,
                conversation_id=row.conversation_id,
                text=row.text,
                intent=meta.get("intent"),
                route=meta.get("route"),
                confidence=float(confidence) if isinstance(confidence, int | float) else None,
                created_at=row.created_at,
                corrected=corrected.get(row.text.strip()[:255]),
            )
        )
    return out
