"""``GET /v1/me``: who an API key belongs to, so the pages sign in with the key alone.

A merchant or agent key names its merchant (with the merchant's display name); an admin key says it is
admin and lists the merchants it may choose from. No key, or an unknown or revoked one: 401.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, authenticate_request
from api.deps import ServicesDep
from api.schemas import MeOut, MerchantOut

router = APIRouter(prefix="/v1", tags=["auth"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key."},
}


@router.get("/me", summary="Who this API key belongs to", response_model=MeOut, responses=_ERRORS)
async def me(principal: Annotated[Principal, Depends(authenticate_request)], services: ServicesDep) -> MeOut:
    store = services.store
    if principal.role == "admin":
        names = await run_in_threadpool(store.merchant_names)
        merchant = None
        merchants = [MerchantOut(id=m, name=name) for m, name in names.items()]
    else:
        own = principal.merchant or ""
        name = await run_in_threadpool(store.merchant_name, own)
        merchant = MerchantOut(id=own, name=name or own)
        merchants = [merchant]
    return MeOut(
        key_id=principal.key_id,
        name=principal.name,
        role=principal.role,
        admin=principal.role == "admin",
        merchant=merchant,
        merchants=merchants,
    )
