"""Run answer-quality cases through the production pipeline, in-process or against a running server.

In-process, `prepare_services` ingests the demo catalog into merchant "eval" of a fresh data directory
and each case talks to `Services.pipeline` in its own conversation. With a URL, each message is posted
to ``POST {url}/v1/merchants/{merchant}/conversations/{id}/messages`` with body
``{"text", "channel", "room": {"link_map", "current_sku"}, "focus_sku", "user_id"}`` and the response
is read as `AnswerResult.to_dict()` (bare or under ``message``). The shopper chat API ignores ``room``,
so live-room cases that use link numbers only pass in-process.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from agent.focus import RoomContext
from api.services import Services
from evals.dataset import Case, ChannelName, RoomSpec
from evals.metrics import (
    category_metrics,
    confusion,
    latency,
    mean,
    recall_at_k,
    reciprocal_rank,
    slices,
    summarise,
)
from evals.reference import Reference, demo_catalog_files
from evals.scoring import CaseOutcome, Observed, score_case

#: Called after each case: (cases done, cases in all).
CaseProgress = Callable[[int, int], None]

RETRIEVAL_DEV = Path(__file__).resolve().parent / "datasets" / "retrieval_dev.jsonl"


class Backend(Protocol):
    """Where messages are answered."""

    async def send(
        self,
        conversation_id: str,
        text: str,
        *,
        channel: ChannelName,
        room: RoomSpec | None,
        focus_sku: str | None,
        user_id: str | None,
    ) -> Mapping[str, Any]: ...

    async def aclose(self) -> None: ...


class InProcessBackend:
    """The production pipeline of a `Services`, called directly."""

    def __init__(self, services: Services, merchant: str) -> None:
        self.services = services
        self.merchant = merchant

    async def send(
        self,
        conversation_id: str,
        text: str,
        *,
        channel: ChannelName,
        room: RoomSpec | None,
        focus_sku: str | None,
        user_id: str | None,
    ) -> Mapping[str, Any]:
        context = None
        if room is not None:
            context = RoomContext(link_map=dict(room.link_map), current_sku=room.current_sku)
        result = await self.services.pipeline.answer(
            self.merchant,
            conversation_id,
            text,
            channel=channel,
            room=context,
            user_id=user_id,
            focus_sku=focus_sku,
        )
        return result.to_dict()

    async def aclose(self) -> None:
        return None


class HttpBackendError(RuntimeError):
    """The server answered with an error or something that is not an answer."""


class HttpBackend:
    """A running `anchor serve`, over HTTP. A 429 is retried after its ``Retry-After`` (a few times)."""

    def __init__(
        self,
        base_url: str,
        merchant: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.merchant = merchant
        self.max_retries = max_retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport, headers=headers
        )

    async def send(
        self,
        conversation_id: str,
        text: str,
        *,
        channel: ChannelName,
        room: RoomSpec | None,
        focus_sku: str | None,
        user_id: str | None,
    ) -> Mapping[str, Any]:
        body: dict[str, Any] = {"text": text, "channel": channel}
        if room is not None:
            body["room"] = {
                "link_map": {str(k): v for k, v in room.link_map.items()},
                "current_sku": room.current_sku,
            }
        if focus_sku:
            body["focus_sku"] = focus_sku
        if user_id:
            body["user_id"] = user_id
        path = f"/v1/merchants/{self.merchant}/conversations/{conversation_id}/messages"
        for attempt in range(self.max_retries + 1):
            try:
                response = await self.client.post(path, json=body)
            except httpx.HTTPError as exc:
                raise HttpBackendError(f"POST {path}: {exc}") from exc
            if response.status_code != 429 or attempt == self.max_retries:
                break
            await asyncio.sleep(_retry_after(response.headers.get("Retry-After")))
        if response.status_code >= 400:
            raise HttpBackendError(f"POST {path}: HTTP {response.status_code}: {response.text[:300]}")
        return unwrap_answer(response.json(), path)

    async def aclose(self) -> None:
        await self.client.aclose()


def _retry_after(header: str | None) -> float:
    try:
        return min(60.0, max(0.1, float(header or 1)))
    except ValueError:
        return 1.0


def unwrap_answer(data: Any, where: str) -> Mapping[str, Any]:
    """The answer object of a response: bare, or under ``message`` or ``result``."""
    if isinstance(data, dict):
        for key in ("message", "result"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict) or "answer" not in data:
        raise HttpBackendError(f"{where}: the response is not an answer: {str(data)[:300]}")
    return data


def prepare_services(
    services: Services,
    merchant: str,
    files: Sequence[Path] | None = None,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> Reference:
    """Ingest the catalog `files` (default: the demo catalog) into `merchant`; return the store's view."""
    report = services.ingest(list(files or demo_catalog_files()), merchant, replace=True, progress=progress)
    if not report.applied:
        problems = "; ".join(str(p) for p in report.errors[:5])
        raise RuntimeError(f"the evaluation catalog could not be imported: {problems}")
    return Reference.from_store(services.store, merchant)


@dataclass(slots=True)
class EvalRun:
    """The scored cases of one run and how it was made."""

    outcomes: list[CaseOutcome]
    meta: dict[str, Any] = field(default_factory=dict)
    retrieval_dev: dict[str, Any] | None = None


def _conversation_id(run_tag: str, case_id: str) -> str:
    return f"ev-{run_tag}-{case_id}"[:64]


async def run_cases(
    cases: Sequence[Case],
    backend: Backend,
    ref: Reference,
    *,
    progress: CaseProgress | None = None,
    run_tag: str | None = None,
) -> list[CaseOutcome]:
    """Send every case's messages in its own conversation and score the last answer."""
    tag = run_tag or uuid.uuid4().hex[:8]
    outcomes: list[CaseOutcome] = []
    for done, case in enumerate(cases, start=1):
        conversation = _conversation_id(tag, case.id)
        observed: list[Observed] = []
        error: str | None = None
        for text in case.messages:
            start = time.perf_counter()
            try:
                data = await backend.send(
                    conversation,
                    text,
                    channel=case.channel,
                    room=case.room,
                    focus_sku=case.focus_sku,
                    user_id=case.user_id,
                )
            except Exception as exc:  # one broken case must not stop the run; it is reported
                error = f"{type(exc).__name__}: {exc}"
                break
            observed.append(Observed.from_dict(data, wall_ms=(time.perf_counter() - start) * 1000))
        if error is not None or not observed:
            outcome = CaseOutcome(case=case, observed=Observed(), error=error or "no answer")
            outcome.failures.append(f"error: {outcome.error}")
        else:
            outcome = score_case(case, observed[-1], ref, earlier=observed[:-1])
        outcomes.append(outcome)
        if progress is not None:
            progress(done, len(cases))
    return outcomes


def retrieval_dev(services: Services, merchant: str, path: Path = RETRIEVAL_DEV) -> dict[str, Any] | None:
    """Product recall@1/@5 and MRR of `search_products` on the retrieval dev set, overall and per slice."""
    retriever = services.retriever(merchant)
    if retriever is None or not path.is_file():
        return None
    groups: dict[str, list[tuple[float, float, float]]] = {}
    with path.open(encoding="utf-8") as fh:
        questions = [json.loads(line) for line in fh if line.strip()]
    for q in questions:
        ranked: list[str | None] = [h.sku for h in retriever.search_products(q["question"], k=5)]
        expected = list(q.get("expected_skus") or [])
        scores = max(
            (
                (recall_at_k(ranked, e, 1), recall_at_k(ranked, e, 5), reciprocal_rank(ranked, e))
                for e in expected
            ),
            default=(0.0, 0.0, 0.0),
        )
        for group in ("overall", f"slice:{q.get('slice', '?')}"):
            groups.setdefault(group, []).append(scores)
    return {
        name: {
            "n": len(rows),
            "recall@1": mean([r[0] for r in rows]),
            "recall@5": mean([r[1] for r in rows]),
            "mrr": mean([r[2] for r in rows]),
        }
        for name, rows in sorted(groups.items())
    }


def build_report(run: EvalRun) -> dict[str, Any]:
    """The JSON report: run facts, metrics overall and per slice, routing confusion, latency, cases."""
    outcomes = run.outcomes
    return {
        "meta": {"created": datetime.now(UTC).isoformat(timespec="seconds"), **run.meta},
        "metrics": summarise(outcomes),
        "slices": slices(outcomes),
        "categories": category_metrics(outcomes),
        "confusion": confusion(outcomes),
        "latency": latency(outcomes),
        "retrieval_dev": run.retrieval_dev,
        "cases": [o.to_dict() for o in outcomes],
    }
