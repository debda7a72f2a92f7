"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service health: database reachable, default merchant's index loaded")
def health(services: ServicesDep) -> dict[str, Any]:
    with services.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    merchant = services.settings.default_merchant
    return {
        "status": "ok",
        "database": services.engine.dialect.name,
        "embedder": services.settings.embedder,
        "default_merchant": merchant,
        "products": services.store.count_products(merchant),
        "index": services.index(merchant).exists(),
    }
