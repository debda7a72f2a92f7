"""After-sales tickets for the people who answer them: list, read (with the transcript), claim, reply, resolve.

Every route needs an agent, merchant or admin key for the path's merchant; the acting agent is the key's
name. Another merchant's ticket id is "not found", exactly like an id that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import BaseModel, Field

from agent.conversations import ConversationNotFoundError, StoredMessage
from agent.tickets import (
    STATES,
    Ticket,
    TicketCategory,
    TicketError,
    TicketEvent,
    TicketNotFoundError,
    TicketPriority,
    TicketState,
    TicketStateError,
)
from api.auth import StaffKey
from api.deps import MerchantDep, ServicesDep
from api.schemas import MAX_OFFSET

router = APIRouter(prefix="/v1/merchants/{merchant}/tickets", tags=["tickets"])

#: Most conversation messages returned with one ticket (the latest ones).
TRANSCRIPT_LIMIT = 500
MAX_REPLY_CHARS = 8_000
MAX_NOTE_CHARS = 4_000

_T = TypeVar("_T")

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key."},
    403: {"description": "The key is for another merchant or lacks the role."},
}
_TICKET_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    404: {"description": "No such ticket for this merchant."},
}
_ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **_TICKET_ERRORS,
    409: {"description": "Not allowed in the ticket's current state; the message says what is."},
    422: {"description": "Invalid input (empty text …)."},
}


class TicketOut(BaseModel):
    id: str = Field(description="Ticket id, e.g. 'T-7K3M9QXA'")
    merchant: str
    conversation_id: str
    channel: str = Field(description="'chat' or 'live'")
    category: TicketCategory
    priority: TicketPriority
    state: TicketState = Field(description="open → claimed → waiting_customer → resolved")
    owner: str | None = Field(description="The agent who holds the ticket")
    order_ids: list[str]
    summary: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    reopen_count: int

    @classmethod
    def of(cls, ticket: Ticket) -> TicketOut:
        return cls(
            id=ticket.id,
            merchant=ticket.merchant_id,
            conversation_id=ticket.conversation_id,
            channel=ticket.channel,
            category=ticket.category,
            priority=ticket.priority,
            state=ticket.state,
            owner=ticket.owner,
            order_ids=list(ticket.order_ids),
            summary=ticket.summary,
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            resolved_at=ticket.resolved_at,
            reopen_count=ticket.reopen_count,
        )


class TicketEventOut(BaseModel):
    id: int
    kind: str = Field(description="customer_message, agent_reply, state_change or note")
    author: str
    text: str
    created_at: datetime

    @classmethod
    def of(cls, event: TicketEvent) -> TicketEventOut:
        return cls(
            id=event.id, kind=event.kind, author=event.author, text=event.text, created_at=event.created_at
        )


class MessageOut(BaseModel):
    id: int
    role: str = Field(description="customer, bot, agent or system")
    text: str
    created_at: datetime

    @classmethod
    def of(cls, message: StoredMessage) -> MessageOut:
        return cls(id=message.id, role=message.role, text=message.text, created_at=message.created_at)


class TicketDetail(TicketOut):
    events: list[TicketEventOut] = Field(description="Everything that happened on the ticket, oldest first")
    messages: list[MessageOut] = Field(description="The conversation's latest messages, oldest first")


class TicketList(BaseModel):
    tickets: list[TicketOut] = Field(description="Most urgent first, then oldest first")
    limit: int
    offset: int


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS, description="Sent to the customer")


class ResolveIn(BaseModel):
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS, description="Internal note")


def _act(action: Callable[[], _T]) -> _T:
    """Run a ticket operation, turning its errors into HTTP errors with the service's message."""
    try:
        return action()
    except TicketNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except TicketStateError as exc:
        raise HTTPException(409, str(exc)) from exc
    except TicketError as exc:
        raise HTTPException(422, str(exc)) from exc


def _states(values: list[str] | None) -> list[TicketState] | None:
    """Repeated and comma-separated ``state`` values, checked against the known states."""
    if not values:
        return None
    states = [s.strip() for value in values for s in value.split(",") if s.strip()]
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise HTTPException(422, f"ticket state {unknown[0]!r} is not valid: use one of {', '.join(STATES)}")
    return cast(list[TicketState], states) or None


@router.get("", summary="List the merchant's tickets", response_model=TicketList, responses=_ERRORS)
def list_tickets(
    merchant: MerchantDep,
    principal: StaffKey,
    services: ServicesDep,
    state: Annotated[
        list[str] | None,
        Query(description="open, claimed, waiting_customer, resolved; repeat or comma-separate"),
    ] = None,
    category: Annotated[TicketCategory | None, Query()] = None,
    priority: Annotated[TicketPriority | None, Query()] = None,
    owner: Annotated[str | None, Query(max_length=128, description="Only tickets this agent holds")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> TicketList:
    states = _states(state)
    tickets = _act(
        lambda: services.tickets.list(
            merchant,
            state=states,
            category=category,
            priority=priority,
            owner=owner,
            limit=limit,
            offset=offset,
        )
    )
    return TicketList(tickets=[TicketOut.of(t) for t in tickets], limit=limit, offset=offset)


@router.get(
    "/{ticket_id}",
    summary="One ticket with its events and the conversation's messages",
    response_model=TicketDetail,
    responses=_TICKET_ERRORS,
)
def get_ticket(
    merchant: MerchantDep, ticket_id: str, principal: StaffKey, services: ServicesDep
) -> TicketDetail:
    ticket = _act(lambda: services.tickets.get(merchant, ticket_id))
    events = _act(lambda: services.tickets.events(merchant, ticket_id))
    try:
        messages = services.conversations.recent(merchant, ticket.conversation_id, limit=TRANSCRIPT_LIMIT)
    except ConversationNotFoundError:
        messages = []
    return TicketDetail(
        **TicketOut.of(ticket).model_dump(),
        events=[TicketEventOut.of(e) for e in events],
        messages=[MessageOut.of(m) for m in messages],
    )


@router.post(
    "/{ticket_id}/claim",
    summary="Take the ticket (the key's name becomes its owner)",
    response_model=TicketOut,
    responses=_ACTION_ERRORS,
)
def claim_ticket(
    merchant: MerchantDep,
    ticket_id: str,
    principal: StaffKey,
    services: ServicesDep,
    take_over: Annotated[
        bool, Query(description="Reassign a ticket someone else holds (merchant and admin keys only)")
    ] = False,
) -> TicketOut:
    if take_over and principal.role == "agent":
        raise HTTPException(403, "an agent key cannot take over a ticket: ask a merchant or admin")
    ticket = _act(lambda: services.tickets.claim(merchant, ticket_id, principal.name, take_over=take_over))
    return TicketOut.of(ticket)


@router.post(
    "/{ticket_id}/reply",
    summary="Reply to the customer (appears in the conversation; the ticket then waits for the customer)",
    response_model=TicketOut,
    responses=_ACTION_ERRORS,
)
def reply_ticket(
    merchant: MerchantDep, ticket_id: str, body: ReplyIn, principal: StaffKey, services: ServicesDep
) -> TicketOut:
    ticket = _act(lambda: services.tickets.reply(merchant, ticket_id, principal.name, body.text))
    return TicketOut.of(ticket)


@router.post(
    "/{ticket_id}/resolve",
    summary="Close the ticket; the conversation goes back to the bot",
    response_model=TicketOut,
    responses=_ACTION_ERRORS,
)
def resolve_ticket(
    merchant: MerchantDep,
    ticket_id: str,
    principal: StaffKey,
    services: ServicesDep,
    body: Annotated[ResolveIn | None, Body()] = None,
) -> TicketOut:
    note = (body.note or "").strip() or None if body is not None else None
    ticket = _act(lambda: services.tickets.resolve(merchant, ticket_id, principal.name, note))
    return TicketOut.of(ticket)
