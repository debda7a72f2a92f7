"""Saved room plans over HTTP: what the room builder page (``/rooms``) and ``anchor room plans`` use.

Under ``/v1/merchants/{merchant}/plans`` (reading and previewing: staff key; changing and starting:
merchant or admin key):

- ``GET /plans``: the latest version of each plan, with its room's status when it has run.
- ``POST /plans``: save a new plan (JSON, the `RoomPlan` fields) as version 1 (409 when the id is taken).
- ``POST /plans/import``: save YAML (or JSON) text as a new plan or the next version of an existing one.
- ``POST /plans/preview``: the preview of an unsaved plan (JSON body).
- ``GET /plans/{room_id}`` (``?version=N``), ``PUT`` (a new version; ``?base_version=N`` refuses with 409
  when someone saved since), ``DELETE`` (every version), ``GET /plans/{room_id}/versions``.
- ``GET /plans/{room_id}.yaml`` (``?version=N``): the plan as a YAML file.
- ``POST /plans/{room_id}/preview`` (``?version=N``): the saved plan's preview.
- ``POST /plans/{room_id}/start`` (``?version=N``): start the room through the same path as
  ``POST /v1/merchants/{m}/rooms``; stop it with the room's ``stop`` command.

Every plan is validated with `RoomPlan` and checked against the catalog (`RoomPlan.validate_against`);
a 422 lists every problem, and ``error.problems`` names each one's field (``items.2.sku``,
``items.0.pinned_lines.hook.1``, ``title`` …; "" when it belongs to no single field). The preview
(`api.plan_preview`) is the room's own script with per-line seconds and findings.
"""

from __future__ import annotations

import re
import weakref
from typing import Annotated, Any, Final

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from agent.live.plan import PlanError, RoomPlan
from agent.live.script import ScriptBuilder
from agent.plan_store import (
    PlanExistsError,
    PlanNotFoundError,
    PlanStore,
    SavedPlan,
    VersionConflictError,
)
from api.auth import OwnerKey, StaffKey
from api.deps import MerchantDep, ServicesDep
from api.plan_preview import Durations, build_script, preview
from api.routes import rooms
from api.routes.chat import read_body, read_json_body, request_body_schema
from api.services import Services

router = APIRouter(prefix="/v1/merchants/{merchant}/plans", tags=["room plans"])

MAX_PLAN_BYTES: Final = rooms.MAX_PLAN_BYTES
YAML_TYPES: Final = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")

_FIELD = re.compile(r"^([A-Za-z_]\w*(?:\.[\w\[\]-]+)*)( \(link \d+\))?: (.*)$", re.DOTALL)
_PINNED = re.compile(r"pinned line (\d+) of segment '(\w+)'")
_FILLER = re.compile(r"^filler (\d+) ")
_TWICE = re.compile(r"\(items\.\d+ and (items\.\d+)\)")

VersionQuery = Annotated[
    int | None, Query(ge=1, le=1_000_000, description="A saved version (default: latest)")
]
DurationsQuery = Annotated[
    Durations,
    Query(
        description="estimate: the builder's pace at the plan's rate (instant); voice: spoken and measured"
    ),
]
LoopQuery = Annotated[
    int, Query(ge=0, le=1000, description="Which loop of the script (each is worded differently)")
]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such merchant or plan (or version)"},
    422: {"description": "Every problem in the plan, each naming its field (error.problems)"},
}


# -- plans and their problems ------------------------------------------------------------------------
class PlanInvalid(Exception):
    """A plan that cannot be saved or started; `problems` as the builder's `PlanError` words them."""

    def __init__(self, problems: list[str], source: str = "plan") -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.source = source

    def response(self) -> JSONResponse:
        fields = problem_fields(self.problems, self.source)
        message = "the plan cannot be used: " + "; ".join(
            f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in fields
        )
        return JSONResponse(
            status_code=422, content={"error": {"code": "invalid", "message": message, "problems": fields}}
        )


def problem_fields(problems: list[str], source: str = "plan") -> list[dict[str, str]]:
    """Each problem as ``{"field", "message"}``: the dotted field it names ("" when none)."""
    out: list[dict[str, str]] = []
    for problem in problems:
        text = problem.removeprefix(f"{source}: ")
        match = _FIELD.match(text)
        field, message = (match.group(1), match.group(3)) if match else ("", text)
        if match and match.group(2) and "sku" in message:  # the catalog check: "items.0 (link 1): sku …"
            field += ".sku"
        if found := _PINNED.search(message):
            field = f"{field}.pinned_lines.{found.group(2)}.{found.group(1)}"
        elif field == "fillers" and (found := _FILLER.match(message)):
            field = f"fillers.{found.group(1)}"
        elif not field and (found := _TWICE.search(message)):
            field = f"{found.group(1)}.link"
        out.append({"field": field, "message": message})
    return out


def _plan_of(data: Any, merchant: str, *, source: str = "plan", room_id: str | None = None) -> RoomPlan:
    """A `RoomPlan` from JSON data; the merchant defaults to the path's and must match it (and the room id
    the path's, when one is given)."""
    if not isinstance(data, dict):
        raise PlanInvalid([f"{source}: a plan is a mapping with room_id, items and optional fields"], source)
    data.setdefault("merchant", merchant)
    if room_id is not None:
        data.setdefault("room_id", room_id)
    mismatch = []
    if data["merchant"] != merchant:
        mismatch.append(
            f"{source}: merchant: is {data['merchant']!r} but the path names merchant {merchant!r}"
        )
    if room_id is not None and data["room_id"] != room_id:
        mismatch.append(
            f"{source}: room_id: is {data['room_id']!r} but the path names plan {room_id!r} "
            "(save under a new id with POST, then delete the old one)"
        )
    if mismatch:
        raise PlanInvalid(mismatch, source)
    try:
        return RoomPlan.from_data(data, source=source)
    except PlanError as exc:
        raise PlanInvalid(exc.problems, source) from exc


async def _checked(plan: RoomPlan, services: Services, source: str = "plan") -> RoomPlan:
    """The plan when every sku is in the catalog and its host layer set is usable."""
    problems = await run_in_threadpool(plan.validate_against, services.store, services.hosts)
    if problems:
        raise PlanInvalid([f"{source}: {p}" for p in problems], source)
    return plan


async def _read_text(request: Request, limit: int) -> str:
    raw = await read_body(request, limit, empty="send the plan as YAML (or JSON) text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"request body is not valid UTF-8 (bad byte at offset {exc.start})") from exc


_STORES: weakref.WeakKeyDictionary[Services, PlanStore] = weakref.WeakKeyDictionary()


def plan_store(services: Services) -> PlanStore:
    """The `PlanStore` on the services' engine (one per `Services`; its table is created on first use)."""
    store = _STORES.get(services)
    if store is None or store.engine is not services.engine:
        store = _STORES[services] = PlanStore(services.engine)
    return store


def _room_id(room_id: str) -> str:
    if not rooms.ROOM_ID.match(room_id):
        raise HTTPException(
            404, f"no plan named {room_id[:64]!r}: room ids are 1-64 letters, digits, '_', '-', '.'"
        )
    return room_id


async def _saved(services: Services, merchant: str, room_id: str, version: int | None = None) -> SavedPlan:
    try:
        return await run_in_threadpool(plan_store(services).get, merchant, _room_id(room_id), version)
    except PlanNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc


def _out(saved: SavedPlan) -> dict[str, Any]:
    return {**saved.to_dict(), **links(saved.room_id)}


def links(room_id: str) -> dict[str, str]:
    """The room's page and its OBS browser-source URL (paths on this server)."""
    return {"page": f"/room/{room_id}", "obs": f"/room/{room_id}?transparent=1"}


def _body_schema() -> dict[str, Any]:
    extra = request_body_schema(RoomPlan)
    schema = extra["requestBody"]["content"]["application/json"]["schema"]
    schema["required"] = [name for name in schema.get("required", []) if name != "merchant"]
    return extra


async def _preview(services: Services, plan: RoomPlan, durations: Durations, loop: int) -> dict[str, Any]:
    """The plan's preview, its script built as rooms build it (the LLM rewording when configured, the
    merchant's words, the claim classifier)."""
    claims = await run_in_threadpool(services.claim_reader)
    builder = ScriptBuilder(
        services.store,
        rewriter=services.script_rewriter(),
        words=services.merchant_words.compiled,
        claims=claims,
    )
    script = await run_in_threadpool(build_script, builder, plan, loop)
    words = await run_in_threadpool(services.merchant_words.compiled, plan.merchant)
    return await preview(plan, script, words=words, claims=claims, durations=durations)


# -- routes ------------------------------------------------------------------------------------------
@router.get("", summary="The merchant's saved plans (latest versions)", responses=_RESPONSES)
async def list_plans(merchant: MerchantDep, services: ServicesDep, _key: StaffKey) -> dict[str, Any]:
    saved = await run_in_threadpool(plan_store(services).list, merchant)
    records = await run_in_threadpool(lambda: services.rooms.factory.state.list(merchant=merchant))
    status = {r.room_id: r.status for r in records}
    return {
        "merchant": merchant,
        "plans": [{**s.summary(), "room_status": status.get(s.room_id), **links(s.room_id)} for s in saved],
    }


@router.post(
    "",
    status_code=201,
    summary="Save a new plan as version 1",
    openapi_extra=_body_schema(),
    responses={**_RESPONSES, 409: {"description": "The merchant already has a plan with this room id"}},
)
async def create_plan(request: Request, merchant: MerchantDep, services: ServicesDep, key: OwnerKey) -> Any:
    data = await read_json_body(request, MAX_PLAN_BYTES)
    try:
        plan = await _checked(_plan_of(data, merchant), services)
    except PlanInvalid as exc:
        return exc.response()
    try:
        saved = await run_in_threadpool(lambda: plan_store(services).create(plan, saved_by=key.name))
    except PlanExistsError as exc:
        raise HTTPException(409, str(exc)) from exc
    return _out(saved)


@router.post(
    "/import",
    status_code=201,
    summary="Save a plan from YAML (or JSON) text: a new plan, or the next version of an existing one",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {kind: {"schema": {"type": "string"}} for kind in YAML_TYPES[:3]},
        }
    },
    responses=_RESPONSES,
)
async def import_plan(request: Request, merchant: MerchantDep, services: ServicesDep, key: OwnerKey) -> Any:
    text = await _read_text(request, MAX_PLAN_BYTES)
    try:
        try:
            data = RoomPlan.read_data(text, source="import")
        except PlanError as exc:
            raise PlanInvalid(exc.problems, "import") from exc
        plan = await _checked(_plan_of(data, merchant, source="import"), services, "import")
    except PlanInvalid as exc:
        return exc.response()
    saved = await run_in_threadpool(lambda: plan_store(services).save(plan, saved_by=key.name, create=True))
    return {**_out(saved), "created": saved.version == 1}


@router.post(
    "/preview",
    summary="Preview an unsaved plan: script lines, seconds and compliance findings per product",
    openapi_extra=_body_schema(),
    responses=_RESPONSES,
)
async def preview_unsaved(
    request: Request,
    merchant: MerchantDep,
    services: ServicesDep,
    _key: StaffKey,
    durations: DurationsQuery = "estimate",
    loop: LoopQuery = 0,
) -> Any:
    data = await read_json_body(request, MAX_PLAN_BYTES)
    if isinstance(data, dict) and not data.get("room_id"):
        data["room_id"] = "preview"
    try:
        plan = _plan_of(data, merchant)
    except PlanInvalid as exc:
        return exc.response()
    return await _preview(services, plan, durations, loop)


@router.get(
    "/{room_id}.yaml",
    summary="Export a plan as YAML",
    response_class=Response,
    responses={
        200: {"content": {"application/yaml": {"schema": {"type": "string"}}}, "description": "The plan"},
        **_RESPONSES,
    },
)
async def export_plan(
    merchant: MerchantDep, room_id: str, services: ServicesDep, _key: StaffKey, version: VersionQuery = None
) -> Response:
    saved = await _saved(services, merchant, room_id, version)
    return Response(
        content=saved.to_yaml(),
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{saved.room_id}.yaml"'},
    )


@router.get("/{room_id}", summary="A saved plan (latest or ?version=N)", responses=_RESPONSES)
async def get_plan(
    merchant: MerchantDep, room_id: str, services: ServicesDep, _key: StaffKey, version: VersionQuery = None
) -> dict[str, Any]:
    return _out(await _saved(services, merchant, room_id, version))


@router.put(
    "/{room_id}",
    summary="Save the plan's next version",
    openapi_extra=_body_schema(),
    responses={**_RESPONSES, 409: {"description": "base_version is not the latest version"}},
)
async def update_plan(
    request: Request,
    merchant: MerchantDep,
    room_id: str,
    services: ServicesDep,
    key: OwnerKey,
    base_version: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="The version edited; 409 when a later one exists")
    ] = None,
) -> Any:
    _room_id(room_id)
    data = await read_json_body(request, MAX_PLAN_BYTES)
    try:
        plan = await _checked(_plan_of(data, merchant, room_id=room_id), services)
    except PlanInvalid as exc:
        return exc.response()
    store = plan_store(services)
    try:
        saved = await run_in_threadpool(
            lambda: store.save(plan, saved_by=key.name, base_version=base_version)
        )
    except PlanNotFoundError as exc:
        raise HTTPException(404, f"{exc}: create it first with POST /v1/merchants/{merchant}/plans") from exc
    except VersionConflictError as exc:
        raise HTTPException(409, str(exc)) from exc
    return _out(saved)


@router.delete("/{room_id}", summary="Delete a plan (every version)", responses=_RESPONSES)
async def delete_plan(
    merchant: MerchantDep, room_id: str, services: ServicesDep, _key: OwnerKey
) -> dict[str, Any]:
    deleted = await run_in_threadpool(plan_store(services).delete, merchant, _room_id(room_id))
    if not deleted:
        raise HTTPException(404, f"merchant {merchant!r} has no plan {room_id!r}")
    return {"deleted": room_id, "versions": deleted}


@router.get("/{room_id}/versions", summary="Every version of a plan, newest first", responses=_RESPONSES)
async def plan_versions(
    merchant: MerchantDep, room_id: str, services: ServicesDep, _key: StaffKey
) -> dict[str, Any]:
    try:
        versions = await run_in_threadpool(plan_store(services).versions, merchant, _room_id(room_id))
    except PlanNotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"room_id": room_id, "versions": [v.summary() for v in versions]}


@router.post(
    "/{room_id}/preview",
    summary="Preview a saved plan: script lines, seconds and compliance findings per product",
    responses=_RESPONSES,
)
async def preview_saved(
    merchant: MerchantDep,
    room_id: str,
    services: ServicesDep,
    _key: StaffKey,
    version: VersionQuery = None,
    durations: DurationsQuery = "estimate",
    loop: LoopQuery = 0,
) -> dict[str, Any]:
    saved = await _saved(services, merchant, room_id, version)
    return {**await _preview(services, saved.plan, durations, loop), "version": saved.version}


@router.post(
    "/{room_id}/start",
    status_code=201,
    summary="Start the room of a saved plan (stop it with the room's 'stop' command)",
    responses={
        **_RESPONSES,
        409: {"description": "The room already runs, or its id belongs to another merchant's room"},
    },
)
async def start_saved(
    request: Request,
    merchant: MerchantDep,
    room_id: str,
    services: ServicesDep,
    _key: OwnerKey,
    version: VersionQuery = None,
) -> Any:
    saved = await _saved(services, merchant, room_id, version)
    try:
        plan = await _checked(saved.plan, services)
    except PlanInvalid as exc:
        return exc.response()
    summary = await rooms.start_plan(request.app, services, plan)
    return {**summary, **links(room_id), "plan_version": saved.version}


__all__ = ["PlanInvalid", "links", "plan_store", "problem_fields", "router"]
