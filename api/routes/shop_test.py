"""Test my shop: generate questions from a merchant's own catalog, answer them and report, in the background.

``POST /v1/merchants/{m}/shop-tests`` starts a job (`evals.generate.run_generated` in a worker thread, so the
server keeps answering while it runs); ``GET …/shop-tests/{id}`` follows it (status, questions done of the
total, and the report when done); ``GET …/shop-tests`` lists the last few. One job runs at a time per
merchant (a second start is a 409 naming the running one) and, on this process, one at a time in all (the
others wait as ``queued``). Jobs live in memory (`ShopTests` on ``app.state``, the last ten per merchant);
a finished job is also written to ``<data dir>/evals/shop-tests/<merchant>/<id>/`` (``job.json``, and the
full ``report.json`` and ``report.html`` of `evals.report.write_report`), so it is listed and readable after a
restart.

The run's conversations are the harness's own (``ev-…``, left out of the knowledge gaps of real
conversations), and a ticket a question opened in the merchant's queue is resolved with a note when the run
ends (`evals.generated_report.close_eval_tickets`); a run stopped part-way (the server shutting down)
resolves the ``ev-…`` tickets still open.

The report served by the API is the run's report without its per-case list (that is in ``report.json``);
each of the worst failures carries its evidence: the failed checks, the facts the answer missed and the
sources the bot cited.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.auth import OwnerKey, StaffKey
from api.deps import MerchantDep, ServicesDep
from api.services import Services
from evals.gaps import EVAL_CONVERSATION_PREFIX
from evals.generate import GenerationError, run_generated
from evals.generated_report import EVAL_AGENT
from evals.report import write_report

log = logging.getLogger("anchor.api.shop_test")

router = APIRouter(prefix="/v1/merchants/{merchant}/shop-tests", tags=["shop test"])

#: Most questions one job may ask.
MAX_QUESTIONS = 1000
#: Jobs kept in memory per merchant (the newest); finished ones are also on disk.
KEEP_IN_MEMORY = 10
#: Finished jobs kept on disk per merchant (the newest); older ones are removed.
KEEP_ON_DISK = 50
#: Jobs running at once on this process (all merchants); the others wait as ``queued``.
MAX_RUNNING = 1
#: How long shutting down waits for a running job to stop after its current question.
STOP_SECONDS = 15.0

Status = Literal["queued", "running", "done", "failed"]
_ID = re.compile(r"st-\d{8}-\d{6}-[0-9a-f]{6}")

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key."},
    403: {"description": "The key is for another merchant or lacks the role."},
}


# -- payloads ------------------------------------------------------------------------------------------
class ShopTestIn(BaseModel):
    """What to ask: how many questions, and the seed that picks them (the same seed, the same questions)."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(default=200, ge=1, le=MAX_QUESTIONS, description="How many questions to ask")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="The same seed gives the same questions")


class ShopTestSummary(BaseModel):
    """A job without its report."""

    id: str
    merchant: str
    status: Status
    n: int = Field(description="Questions asked for")
    seed: int
    done: int = Field(description="Questions answered and scored so far")
    total: int = Field(description="Questions in the run (fewer than n when the catalog offers fewer)")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float | None = Field(default=None, description="How long the run took")
    pass_rate: float | None = Field(default=None, description="Share of questions passed, when done")
    error: str | None = None


class ShopTestOut(ShopTestSummary):
    """A job and, when done, its report (`evals.runner.build_report` with a ``generated`` section, without
    the per-case list; each worst failure has ``citations`` and the missed ``facts`` as evidence)."""

    report: dict[str, Any] | None = None


class ShopTestList(BaseModel):
    merchant: str
    items: list[ShopTestSummary]


class _ConflictError(BaseModel):
    code: Literal["conflict"]
    message: str
    id: str = Field(description="The job already running or queued for this merchant")
    status: Status


class ShopTestConflict(BaseModel):
    error: _ConflictError


# -- jobs ----------------------------------------------------------------------------------------------
class _StoppedError(Exception):
    """Raised in the worker thread to stop a run after its current question."""


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


@dataclass(slots=True, eq=False)
class ShopTest:
    """One "Test my shop" run. `done`/`total` are written by the worker thread, the rest on the loop."""

    id: str
    merchant: str
    n: int
    seed: int
    status: Status = "queued"
    done: int = 0
    total: int = 0
    created_at: datetime = field(default_factory=_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    pass_rate: float | None = None
    error: str | None = None
    report: dict[str, Any] | None = field(default=None, repr=False)
    stop: threading.Event = field(default_factory=threading.Event, repr=False)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    def summary(self) -> dict[str, Any]:
        seconds = None
        if self.started_at is not None and self.finished_at is not None:
            seconds = round((self.finished_at - self.started_at).total_seconds(), 2)
        return {
            "id": self.id,
            "merchant": self.merchant,
            "status": self.status,
            "n": self.n,
            "seed": self.seed,
            "done": self.done,
            "total": self.total,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "seconds": seconds,
            "pass_rate": self.pass_rate,
            "error": self.error,
        }

    def out(self) -> dict[str, Any]:
        return {**self.summary(), "report": self.report}


def report_view(report: dict[str, Any]) -> dict[str, Any]:
    """The report as the API serves it: no per-case list; the worst failures with their evidence (the
    facts the answer missed, with what was expected, and the sources the bot cited)."""
    cases = {c.get("id"): c for c in report.get("cases") or [] if isinstance(c, dict)}
    view = {k: v for k, v in report.items() if k != "cases"}
    generated = dict(view.get("generated") or {})
    failures = []
    for failure in generated.get("worst_failures") or []:
        case = cases.get(failure.get("id"), {})
        failures.append(
            {
                **failure,
                "citations": (case.get("observed") or {}).get("citations") or [],
                "facts": [f for f in case.get("facts") or [] if not f.get("ok")],
            }
        )
    generated["worst_failures"] = failures
    view["generated"] = generated
    return view


def _pass_rate(report: dict[str, Any]) -> float | None:
    overall = (report.get("generated") or {}).get("overall") or {}
    rate = overall.get("pass_rate")
    return float(rate) if isinstance(rate, int | float) else None


def _close_left_tickets(services: Services, merchant: str) -> list[str]:
    """Resolve the open tickets of evaluation conversations (``ev-…``): those of a run that stopped before
    it could close its own."""
    closed: list[str] = []
    offset = 0
    while True:
        page = services.tickets.list(merchant, state="open", limit=200, offset=offset)
        left_open = 0
        for ticket in page:
            if not ticket.conversation_id.startswith(EVAL_CONVERSATION_PREFIX):
                left_open += 1
                continue
            try:
                services.tickets.resolve(
                    merchant,
                    ticket.id,
                    EVAL_AGENT,
                    note="opened by a 'Test my shop' question; the run stopped, resolved automatically",
                )
            except (LookupError, ValueError):  # agent.tickets.TicketError is a ValueError
                left_open += 1
                continue
            closed.append(ticket.id)
        if len(page) < 200:
            return closed
        offset += left_open  # resolved tickets leave the open list


class ShopTestConflictError(Exception):
    def __init__(self, job: ShopTest) -> None:
        super().__init__(f"a shop test is already {job.status} for merchant {job.merchant!r}: {job.id}")
        self.job = job


class ShopTests:
    """The jobs of this process (the newest `KEEP_IN_MEMORY` per merchant) and those finished on disk."""

    def __init__(self, services: Services, root: Path | None = None) -> None:
        self.services = services
        self.root = root or services.settings.data_dir / "evals" / "shop-tests"
        self._jobs: dict[str, list[ShopTest]] = {}
        self._slots: asyncio.Semaphore | None = None

    # -- in memory ------------------------------------------------------------------------------------
    def active(self, merchant: str) -> ShopTest | None:
        return next((j for j in self._jobs.get(merchant, []) if j.active), None)

    def get(self, merchant: str, job_id: str) -> ShopTest | None:
        return next((j for j in self._jobs.get(merchant, []) if j.id == job_id), None)

    def start(self, merchant: str, n: int, seed: int) -> ShopTest:
        """Queue a job and start its task (call on the event loop); `ShopTestConflictError` when the
        merchant already has one queued or running."""
        running = self.active(merchant)
        if running is not None:
            raise ShopTestConflictError(running)
        created = _now()
        job = ShopTest(
            id=f"st-{created:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}",
            merchant=merchant,
            n=n,
            seed=seed,
            total=n,
            created_at=created,
        )
        jobs = self._jobs.setdefault(merchant, [])
        jobs.append(job)
        while len(jobs) > KEEP_IN_MEMORY:
            old = next((j for j in jobs if not j.active), None)
            if old is None:
                break
            jobs.remove(old)
        job.task = asyncio.get_running_loop().create_task(self._run(job), name=f"shop-test-{job.id}")
        return job

    async def _run(self, job: ShopTest) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(MAX_RUNNING)
        async with self._slots:
            if job.stop.is_set():
                job.status, job.error, job.finished_at = "failed", "stopped before it started", _now()
                return
            job.status, job.started_at = "running", _now()
            try:
                report = await asyncio.to_thread(self._work, job)
            except GenerationError as exc:
                job.error = str(exc)
            except _StoppedError:
                job.error = "stopped: the server shut down before the run finished"
            except Exception as exc:
                log.exception("shop test %s for merchant %s failed", job.id, job.merchant)
                job.error = f"{type(exc).__name__}: {exc}"
            else:
                job.report, job.pass_rate = report, _pass_rate(report)
            job.finished_at = _now()
            job.status = "done" if job.error is None else "failed"
            try:
                await asyncio.to_thread(self._save_record, job)
            except OSError:
                log.exception("cannot write shop test %s to %s", job.id, self.root)

    def _work(self, job: ShopTest) -> dict[str, Any]:
        """The run, in a worker thread: generate, answer and score; write the full report; return its view."""

        def progress(done: int, total: int) -> None:
            if job.stop.is_set():
                raise _StoppedError
            job.done, job.total = done, total

        try:
            report = run_generated(self.services, job.merchant, job.n, progress, seed=job.seed)
        except Exception:
            _close_left_tickets(self.services, job.merchant)
            raise
        job.total = len(report.get("cases") or [])
        job.done = job.total
        try:
            write_report(report, self.folder(job.merchant) / job.id)
        except OSError:
            log.exception("cannot write the report of shop test %s", job.id)
        return report_view(report)

    async def close(self) -> None:
        """Stop every job after its current question (on shutdown) and wait for them a little."""
        tasks = []
        for jobs in self._jobs.values():
            for job in jobs:
                job.stop.set()
                if job.task is not None and not job.task.done():
                    tasks.append(job.task)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=STOP_SECONDS)
        if pending:
            log.warning("%d shop test(s) still running at shutdown", len(pending))

    # -- on disk --------------------------------------------------------------------------------------
    def folder(self, merchant: str) -> Path:
        return self.root / merchant

    def _save_record(self, job: ShopTest) -> None:
        folder = self.folder(job.merchant) / job.id
        folder.mkdir(parents=True, exist_ok=True)
        record = json.dumps(job.summary(), ensure_ascii=False, indent=2)
        temporary = folder / "job.json.tmp"
        temporary.write_text(record, encoding="utf-8")
        temporary.replace(folder / "job.json")
        kept = sorted((p for p in self.folder(job.merchant).iterdir() if _ID.fullmatch(p.name)), reverse=True)
        for old in kept[KEEP_ON_DISK:]:
            shutil.rmtree(old, ignore_errors=True)

    def load(self, merchant: str, job_id: str) -> ShopTest | None:
        """A finished job from disk, with its report's view (blocking: call in a thread)."""
        folder = self.folder(merchant) / job_id
        job = self._read_record(folder)
        if job is None:
            return None
        try:
            report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = None
        if isinstance(report, dict):
            job.report = report_view(report)
        return job

    def _read_record(self, folder: Path) -> ShopTest | None:
        try:
            data = ShopTestSummary.model_validate_json((folder / "job.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return ShopTest(
            id=data.id,
            merchant=data.merchant,
            n=data.n,
            seed=data.seed,
            status=data.status,
            done=data.done,
            total=data.total,
            created_at=data.created_at,
            started_at=data.started_at,
            finished_at=data.finished_at,
            pass_rate=data.pass_rate,
            error=data.error,
        )

    def recent(self, merchant: str, limit: int) -> list[ShopTest]:
        """The newest `limit` jobs, in memory or on disk, newest first (blocking: call in a thread)."""
        found = {j.id: j for j in list(self._jobs.get(merchant, []))}
        folder = self.folder(merchant)
        if folder.is_dir():
            names = sorted((p.name for p in folder.iterdir() if _ID.fullmatch(p.name)), reverse=True)
            for name in names[:limit]:
                if name not in found and (job := self._read_record(folder / name)) is not None:
                    found[name] = job
        return sorted(found.values(), key=lambda j: (j.created_at, j.id), reverse=True)[:limit]


async def get_shop_tests(request: Request) -> ShopTests:
    """The app's job registry, made on first use (on the event loop, so only once)."""
    registry: ShopTests | None = getattr(request.app.state, "shop_tests", None)
    if registry is None:
        registry = ShopTests(request.app.state.services)
        request.app.state.shop_tests = registry
    return registry


async def stop_shop_tests(app: FastAPI) -> None:
    """Stop the running jobs (on shutdown, before the services close)."""
    registry: ShopTests | None = getattr(app.state, "shop_tests", None)
    if registry is not None:
        await registry.close()


RegistryDep = Annotated[ShopTests, Depends(get_shop_tests)]


# -- routes --------------------------------------------------------------------------------------------
@router.post(
    "",
    summary="Start a 'Test my shop' run",
    status_code=202,
    response_model=ShopTestSummary,
    responses={
        400: {"description": "The merchant has no products: import a catalog first."},
        409: {"model": ShopTestConflict, "description": "A run is already queued or running (its id)."},
        **_ERRORS,
    },
)
async def start_shop_test(
    merchant: MerchantDep,
    principal: OwnerKey,
    services: ServicesDep,
    registry: RegistryDep,
    response: Response,
    body: Annotated[ShopTestIn | None, Body()] = None,
) -> Any:
    """Generate `n` questions from the merchant's catalog and policies, answer them with the production
    pipeline in the background and score them; follow it with ``GET …/shop-tests/{id}``."""
    wanted = body or ShopTestIn()
    if not await run_in_threadpool(services.store.count_products, merchant):
        raise HTTPException(
            400,
            f"merchant {merchant!r} has no products: import a catalog first "
            f"(upload files on the catalog page, or anchor ingest FILE --merchant {merchant})",
        )
    try:
        job = registry.start(merchant, wanted.n, wanted.seed)
    except ShopTestConflictError as exc:
        running = exc.job
        return JSONResponse(
            status_code=409,
            content={
                "error": {"code": "conflict", "message": str(exc), "id": running.id, "status": running.status}
            },
            headers={"Location": f"/v1/merchants/{merchant}/shop-tests/{running.id}"},
        )
    response.headers["Location"] = f"/v1/merchants/{merchant}/shop-tests/{job.id}"
    return job.summary()


@router.get("", summary="The last 'Test my shop' runs", response_model=ShopTestList, responses=_ERRORS)
async def list_shop_tests(
    merchant: MerchantDep,
    principal: StaffKey,
    registry: RegistryDep,
    limit: Annotated[int, Query(ge=1, le=KEEP_ON_DISK)] = KEEP_IN_MEMORY,
) -> ShopTestList:
    jobs = await run_in_threadpool(registry.recent, merchant, limit)
    return ShopTestList(merchant=merchant, items=[ShopTestSummary.model_validate(j.summary()) for j in jobs])


@router.get(
    "/{test_id}",
    summary="One 'Test my shop' run: progress, and the report when done",
    response_model=ShopTestOut,
    responses={404: {"description": "No run with this id for this merchant."}, **_ERRORS},
)
async def get_shop_test(
    merchant: MerchantDep, test_id: str, principal: StaffKey, registry: RegistryDep
) -> dict[str, Any]:
    job = registry.get(merchant, test_id)
    if job is None and _ID.fullmatch(test_id):
        job = await run_in_threadpool(registry.load, merchant, test_id)
    if job is None:
        raise HTTPException(404, f"no shop test {test_id!r} for merchant {merchant!r}")
    return job.out()
