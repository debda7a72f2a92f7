"""Catalog: upload files (same importer and report as `anchor ingest`), list, get, delete, search."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Query, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.auth import OwnerKey, StaffKey
from api.deps import MerchantDep, ServicesDep
from api.schemas import MAX_OFFSET, ImportReportOut, ProductOut, ProductPage, SearchHitOut, SearchOut
from api.services import WORDS_SUFFIXES
from knowledge.loaders import SUPPORTED_SUFFIXES

router = APIRouter(prefix="/v1/merchants/{merchant}", tags=["catalog"])

#: Import and delete need a merchant or admin key; reading also admits agent keys (api/auth.py).
_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key."},
    403: {"description": "The key is for another merchant or lacks the role."},
}

_CHUNK = 1024 * 1024


async def _save_upload(upload: UploadFile, folder: Path, index: int, max_bytes: int) -> Path:
    name = Path(upload.filename or f"upload-{index}").name or f"upload-{index}"
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES and suffix not in WORDS_SUFFIXES:
        raise HTTPException(
            415,
            f"{name}: unsupported file type {suffix or '(none)'}; "
            f"upload one of {', '.join(sorted(SUPPORTED_SUFFIXES + WORDS_SUFFIXES))} "
            "(.yaml: your compliance words)",
        )
    target = folder / f"{index:03d}{suffix}"
    written = 0
    with target.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise HTTPException(
                    413, f"{name}: file is larger than the limit of {max_bytes} bytes (ANCHOR_MAX_FILE_BYTES)"
                )
            out.write(chunk)
    return target


@router.post(
    "/catalog/import",
    summary="Import catalog or policy files",
    response_model=ImportReportOut,
    responses={
        415: {
            "description": "A file of a type the importer does not read (the error names the types it reads)."
        },
        422: {"description": "Validation errors; nothing was applied (see `errors`)."},
        **_AUTH_ERRORS,
    },
)
async def import_catalog(
    merchant: MerchantDep,
    principal: OwnerKey,
    services: ServicesDep,
    files: Annotated[list[UploadFile], File(description="CSV, XLSX, JSON, JSONL, Shopify CSV or Markdown")],
    replace: Annotated[bool, Query(description="Remove products absent from these files")] = False,
    skip_invalid: Annotated[bool, Query(description="Apply valid rows and report the rest")] = False,
) -> JSONResponse:
    if not files:
        raise HTTPException(422, "no files uploaded: send one or more files in the 'files' field")
    with tempfile.TemporaryDirectory(prefix="anchor-upload-") as tmp:
        folder = Path(tmp)
        paths = [
            await _save_upload(f, folder, i, services.settings.max_file_bytes) for i, f in enumerate(files)
        ]
        names = [Path(f.filename or p.name).name for f, p in zip(files, paths, strict=True)]
        report = await run_in_threadpool(
            lambda: services.ingest(
                paths, merchant, replace=replace, skip_invalid=skip_invalid, display_names=names
            )
        )
    body = report.to_dict()
    return JSONResponse(status_code=200 if report.applied else 422, content=body)


@router.get("/products", summary="List products", response_model=ProductPage, responses=_AUTH_ERRORS)
def list_products(
    merchant: MerchantDep,
    principal: StaffKey,
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    q: Annotated[str | None, Query(max_length=200, description="Filter by sku, title or brand")] = None,
) -> ProductPage:
    store = services.store
    items = store.list_products(merchant, offset=offset, limit=limit, search=q)
    return ProductPage(
        merchant=merchant,
        total=store.count_products(merchant),
        offset=offset,
        limit=limit,
        items=[ProductOut.of(p) for p in items],
    )


@router.get("/products/{sku}", summary="Get one product", response_model=ProductOut, responses=_AUTH_ERRORS)
def get_product(merchant: MerchantDep, sku: str, principal: StaffKey, services: ServicesDep) -> ProductOut:
    product = services.store.get_product(merchant, sku)
    if product is None:
        raise HTTPException(404, f"no product with sku {sku!r} for merchant {merchant!r}")
    return ProductOut.of(product)


@router.delete("/products/{sku}", summary="Delete one product (and re-index)", responses=_AUTH_ERRORS)
def delete_product(
    merchant: MerchantDep, sku: str, principal: OwnerKey, services: ServicesDep
) -> dict[str, Any]:
    if not services.store.delete_product(merchant, sku):
        raise HTTPException(404, f"no product with sku {sku!r} for merchant {merchant!r}")
    stats = services.rebuild_index(merchant)
    return {"deleted": sku, "merchant": merchant, "index": getattr(stats, "passages", None)}


@router.get(
    "/search",
    summary="Hybrid search over the merchant's passages",
    response_model=SearchOut,
    responses=_AUTH_ERRORS,
)
def search(
    merchant: MerchantDep,
    principal: StaffKey,
    services: ServicesDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    k: Annotated[int, Query(ge=1, le=50)] = 5,
) -> SearchOut:
    retriever = services.retriever(merchant)
    if retriever is None:
        raise HTTPException(404, f"merchant {merchant!r} has no indexed catalog yet: import a catalog first")
    hits = retriever.search(q, k=k)
    return SearchOut(
        merchant=merchant,
        query=q,
        hits=[
            SearchHitOut(
                rank=i + 1,
                score=round(h.score, 4),
                method=h.method,
                sku=h.passage.source.sku,
                document=h.passage.source.doc_id,
                field=h.passage.source.field,
                heading=h.passage.source.heading,
                passage_id=h.passage.passage_id,
                text=h.passage.text,
            )
            for i, h in enumerate(hits)
        ],
    )
