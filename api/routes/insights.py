"""Merchant insights: the knowledge gaps — what shoppers asked that the catalog could not answer.

``GET /v1/merchants/{merchant}/insights/gaps`` reads the merchant's real conversation log (never the
evaluation harness's conversations) and returns the most frequent questions the bot refused, answered
with low confidence or answered without a citation, grouped by similarity, with counts and examples:
what to add to the catalog. Needs a merchant key for the path's merchant, or an admin key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import OwnerKey
from api.deps import MerchantDep, ServicesDep
from evals.gaps import GapCluster, knowledge_gaps

router = APIRouter(prefix="/v1/merchants/{merchant}/insights", tags=["insights"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key."},
    403: {"description": "The key is for another merchant or lacks the role (merchant or admin)."},
    422: {"description": "Invalid query parameters."},
}


class GapClusterOut(BaseModel):
    representative: str = Field(description="The most asked wording of the question")
    count: int = Field(description="Times questions of this group were asked")
    examples: list[str] = Field(description="Up to three distinct wordings")
    reasons: dict[str, int] = Field(
        description="Why they went unanswered: refused, low_confidence, no_citation"
    )
    conversations: int = Field(description="Distinct conversations that asked")
    last_asked: datetime | None

    @classmethod
    def of(cls, cluster: GapCluster) -> GapClusterOut:
        return cls(
            representative=cluster.label,
            count=cluster.count,
            examples=list(cluster.examples),
            reasons=dict(cluster.reasons),
            conversations=cluster.conversations,
            last_asked=cluster.last_asked,
        )


class GapsOut(BaseModel):
    merchant: str
    since_days: float
    min_confidence: float
    clusters: list[GapClusterOut] = Field(description="Most frequent first")


@router.get("/gaps", responses=_ERRORS)
async def gaps(
    merchant: MerchantDep,
    _: OwnerKey,
    services: ServicesDep,
    since_days: Annotated[float, Query(gt=0, le=3650, description="Only questions of the last N days")] = 30,
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many groups")] = 20,
    min_confidence: Annotated[
        float, Query(ge=0, le=1, description="Answers recorded below this confidence count as gaps")
    ] = 0.5,
) -> GapsOut:
    """The most frequent unanswered questions, grouped by similarity, with counts and examples."""
    clusters = await run_in_threadpool(
        knowledge_gaps, services, merchant, since_days=since_days, min_confidence=min_confidence, limit=limit
    )
    return GapsOut(
        merchant=merchant,
        since_days=since_days,
        min_confidence=min_confidence,
        clusters=[GapClusterOut.of(c) for c in clusters],
    )
