"""Prometheus metrics: answers, their latency per stage, HTTP requests; served at `GET /metrics`.

Each app owns a `CollectorRegistry` (on `app.state.metrics`), so several apps in one process (tests)
never collide. `install_metrics(app)` creates it, counts every HTTP request by route template and
status (an ASGI middleware, so streamed responses count too) and adds the `/metrics` route.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.pipeline import AnswerResult

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class AnchorMetrics:
    """The app's collectors, registered on its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.answers = Counter(
            "anchor_answers",
            "Answered shopper messages by route and channel",
            ["route", "channel"],
            registry=r,
        )
        self.refused = Counter(
            "anchor_answers_refused", "Answers that honestly declined (no evidence)", ["channel"], registry=r
        )
        self.escalated = Counter(
            "anchor_answers_escalated", "Messages handed to a person (ticket)", ["channel"], registry=r
        )
        self.silent = Counter(
            "anchor_answers_silent",
            "Messages not answered because a person owns the conversation",
            registry=r,
        )
        self.writers = Counter("anchor_answers_by_writer", "Answers by writer", ["writer"], registry=r)
        self.latency = Histogram(
            "anchor_answer_latency_seconds",
            "Wall time to answer one message",
            ["channel"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.stage_latency = Histogram(
            "anchor_answer_stage_latency_seconds",
            "Time per pipeline stage (from the answer's timings)",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.rate_limited = Counter(
            "anchor_rate_limited", "Chat requests refused by a rate limit", ["scope"], registry=r
        )
        self.http_requests = Counter(
            "anchor_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "anchor_http_request_duration_seconds",
            "HTTP request duration until the response finished",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

    def observe_answer(self, result: AnswerResult, channel: str, seconds: float) -> None:
        """Count one answer and record its latency and per-stage timings."""
        self.answers.labels(route=result.route, channel=channel).inc()
        if result.refused:
            self.refused.labels(channel=channel).inc()
        if result.escalated:
            self.escalated.labels(channel=channel).inc()
        if result.silent:
            self.silent.inc()
        self.writers.labels(writer=result.writer).inc()
        self.latency.labels(channel=channel).observe(max(0.0, seconds))
        for stage, ms in result.timings_ms.items():
            if stage != "total":
                self.stage_latency.labels(stage=stage).observe(max(0.0, ms) / 1000.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def metrics_of(app: Any) -> AnchorMetrics:
    """The app's metrics (created by `install_metrics`)."""
    metrics: AnchorMetrics = app.state.metrics
    return metrics


class HTTPMetricsMiddleware:
    """Counts requests by route template ("/v1/merchants/{merchant}/…", never raw paths) and status."""

    def __init__(self, app: ASGIApp, metrics: AnchorMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            self.metrics.http_requests.labels(method=method, route=template, status=str(status)).inc()
            self.metrics.http_latency.labels(method=method, route=template).observe(
                time.perf_counter() - start
            )


router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    include_in_schema=True,
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Metrics"}},
)
def metrics_endpoint(request: Request) -> Response:
    return Response(content=metrics_of(request.app).render(), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI) -> AnchorMetrics:
    """Give `app` its registry, the request-counting middleware and the `/metrics` route."""
    metrics = AnchorMetrics()
    app.state.metrics = metrics
    app.add_middleware(HTTPMetricsMiddleware, metrics=metrics)
    app.include_router(router)
    return metrics
