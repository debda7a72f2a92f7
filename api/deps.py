"""`Annotated` dependency aliases shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from api.services import InvalidMerchantError, Services, check_merchant_id
from api.settings import Settings


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.services.settings
    return settings


def get_merchant(merchant: Annotated[str, Path(description="Merchant (tenant) id")]) -> str:
    try:
        return check_merchant_id(merchant)
    except InvalidMerchantError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MerchantDep = Annotated[str, Depends(get_merchant)]
