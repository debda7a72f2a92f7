"""The FastAPI application: `create_app(settings)` wires routers, error handlers and the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from api.auth import check_secret_key
from api.metrics import install_metrics
from api.routes import (
    catalog,
    chat,
    health,
    insights,
    intents,
    me,
    openai_compat,
    pages,
    room_page,
    room_plans,
    rooms,
    shop_test,
    tickets,
)
from api.services import Services
from api.settings import Settings
from api.textguard import UnencodableTextGuard

log = logging.getLogger("anchor.api")


def _error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message, **extra}})


_COMMON: dict[str, str] = {
    "400": "The body is empty or not valid JSON",
    "401": "No valid API key",
    "403": "The key's role or merchant does not allow this",
    "404": "The merchant id is not valid, or the thing named does not exist",
    "413": "The body is too long",
    "422": "A field or parameter is invalid; the error names it",
}


def _allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route of `app` serves at this request's path."""
    methods: set[str] = set()

    def visit(routes: Sequence[BaseRoute]) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)  # an included router: its own routes
            if inner is not None:
                visit(inner.routes)
                continue
            match, _ = route.matches({**scope, "method": "GET"})
            if match != Match.NONE:
                methods.update(getattr(route, "methods", None) or ())

    visit(app.routes)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _declare_common_statuses(app: FastAPI) -> None:
    """Declare in the OpenAPI schema the statuses the shared dependencies return, so the schema is true for
    every operation: 404 under ``{merchant}`` (an invalid or unknown merchant), 401/403 where a key is
    required, 400/413/422 where a body is read."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                wanted: list[str] = []
                if "{merchant}" in path or "{room_id}" in path:
                    wanted.append("404")
                if operation.get("security"):
                    wanted += ["401", "403"]
                if method in ("post", "put", "patch"):
                    wanted += ["400", "413", "422"]
                if operation.get("parameters"):
                    wanted.append("422")
                for status in wanted:
                    operation["responses"].setdefault(status, {"description": _COMMON[status]})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, *, warm_up: bool = True) -> FastAPI:
    """Build the app. Heavy loading (database, model, index) happens in the lifespan, not here."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_secret_key(settings)
        services = Services(settings)
        app.state.services = services
        # The configured shop exists from the start (chat to any other unknown shop is a 404).
        await run_in_threadpool(services.store.ensure_merchant, settings.default_merchant)
        # A missing or unreadable intent model stops start-up here, with how to rebuild it.
        await run_in_threadpool(lambda: services.router)
        if warm_up:
            await run_in_threadpool(services.warm_up)
        await rooms.start_rooms(app)  # live rooms persisted as running resume here
        log.info("live-anchor ready (data dir %s)", settings.data_dir)
        try:
            yield
        finally:
            await rooms.stop_rooms(app)
            await shop_test.stop_shop_tests(app)  # running "Test my shop" jobs stop first
            services.close()

    app = FastAPI(
        title="live-anchor",
        version="0.1.0",
        summary="AI virtual anchor and customer-service bot for live-stream commerce.",
        lifespan=lifespan,
    )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            409: "conflict",
            413: "too_large",
            422: "invalid",
            429: "rate_limited",
        }.get(exc.status_code, "error")
        response = _error(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            # Starlette names the methods of the first route matching the path; every route there counts.
            response.headers["Allow"] = ", ".join(_allowed_methods(app, request.scope))
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['where']}: {p['message']}" for p in problems)
        return _error(422, "invalid", f"invalid request: {summary}", problems=problems)

    app.include_router(health.router)
    app.include_router(me.router)
    app.include_router(catalog.router)
    app.include_router(shop_test.router)
    app.include_router(tickets.router)
    app.include_router(intents.router)
    app.include_router(insights.router)
    app.include_router(pages.router)
    app.include_router(chat.router)
    app.include_router(openai_compat.router)
    app.include_router(rooms.router)
    app.include_router(room_plans.router)
    app.include_router(room_page.router)
    install_metrics(app)  # per-app registry, request counting, GET /metrics
    _declare_common_statuses(app)
    app.add_middleware(UnencodableTextGuard)  # a lone surrogate in a JSON body: 422, never a 500
    return app
