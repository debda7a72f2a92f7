"""What the bot understood of shoppers' messages, and people correcting it.

Staff (agent, merchant, admin keys of the merchant) see the latest messages with the intent the router
chose, and store corrections; `anchor router train --merchant M` adds them to the training data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from agent.understanding.corrections import MAX_CORRECTION_CHARS, CorrectionError, CorrectionStore
from agent.understanding.intents import DEFINITIONS, INTENTS, Intent, route_of
from api.auth import StaffKey
from api.deps import MerchantDep, ServicesDep

router = APIRouter(prefix="/v1/merchants/{merchant}/intents", tags=["intents"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or an unknown API key"},
    403: {"description": "The key may not act for this merchant"},
}


class IntentOut(BaseModel):
    intent: str
    route: str
    definition: str


class IntentList(BaseModel):
    intents: list[IntentOut]
    model: str = Field(description="Version of the intent model answering this merchant's messages")


class RoutedMessageOut(BaseModel):
    message_id: int
    conversation_id: str
    text: str
    intent: str | None = Field(description="What the router decided (None when the bot did not reply)")
    route: str | None
    confidence: float | None
    created_at: datetime
    corrected: str | None = Field(description="The intent a person gave this message, if any")


class RoutedMessageList(BaseModel):
    messages: list[RoutedMessageOut]


class CorrectionIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_CORRECTION_CHARS, description="The shopper's message")
    intent: Intent = Field(description="What the message really meant")
    previous: str | None = Field(default=None, max_length=32, description="What the router had decided")
    conversation_id: str | None = Field(default=None, max_length=64)


class CorrectionOut(BaseModel):
    id: int
    text: str
    intent: str
    previous: str | None
    conversation_id: str | None
    author: str
    created_at: datetime


class CorrectionList(BaseModel):
    corrections: list[CorrectionOut]


def _store(services: Any) -> CorrectionStore:
    _ = services.conversations  # the agent's tables exist
    return CorrectionStore(services.engine)


@router.get("", summary="The intents the router knows", response_model=IntentList, responses=_ERRORS)
def list_intents(merchant: MerchantDep, principal: StaffKey, services: ServicesDep) -> IntentList:
    return IntentList(
        intents=[IntentOut(intent=i, route=route_of(i), definition=DEFINITIONS[i]) for i in INTENTS],
        model=services.router_for(merchant).version,
    )


@router.get(
    "/messages",
    summary="The latest shopper messages with the intent the router chose",
    response_model=RoutedMessageList,
    responses=_ERRORS,
)
def recent_messages(
    merchant: MerchantDep,
    principal: StaffKey,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RoutedMessageList:
    rows = _store(services).recent_messages(merchant, limit=limit)
    return RoutedMessageList(messages=[RoutedMessageOut(**r.to_dict()) for r in rows])


@router.get(
    "/corrections",
    summary="People's corrections, newest first",
    response_model=CorrectionList,
    responses=_ERRORS,
)
def list_corrections(
    merchant: MerchantDep,
    principal: StaffKey,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> CorrectionList:
    rows = _store(services).list(merchant, limit=limit)
    return CorrectionList(corrections=[CorrectionOut(**c.to_dict()) for c in rows])


@router.post(
    "/corrections",
    status_code=201,
    summary="Say what a message really meant (training data for `anchor router train --merchant`)",
    response_model=CorrectionOut,
    responses={**_ERRORS, 422: {"description": "Unknown intent or empty text"}},
)
def add_correction(
    merchant: MerchantDep, body: CorrectionIn, principal: StaffKey, services: ServicesDep
) -> CorrectionOut:
    try:
        stored = _store(services).add(
            merchant,
            body.text,
            body.intent,
            author=principal.name,
            previous=body.previous,
            conversation_id=body.conversation_id,
        )
    except CorrectionError as exc:
        raise HTTPException(422, str(exc)) from exc
    return CorrectionOut(**stored.to_dict())
