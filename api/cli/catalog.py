"""Catalog commands: `ingest`, `products`, `search`, `index`, `serve` and `demo`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli.app import app
from api.cli.serving import browse_host, run_server, when_answered
from api.services import InvalidMerchantError, Services, check_merchant_id
from api.settings import Settings
from knowledge.importer import ImportReport
from knowledge.models import ProgressFn

console = Console()
err_console = Console(stderr=True)

products_app = typer.Typer(help="Browse the catalog.", no_args_is_help=True)
index_app = typer.Typer(help="Manage the retrieval index.", no_args_is_help=True)
app.add_typer(products_app, name="products")
app.add_typer(index_app, name="index")

MerchantOpt = Annotated[
    str | None, typer.Option("--merchant", "-m", help="Merchant id (default: ANCHOR_DEFAULT_MERCHANT)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")]

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO_ROOT / "samples" / "demo"


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error a person can act on (unwrapped, so file names and line numbers stay whole) and
    return the exit to raise."""
    err_console.print("[bold red]error:[/] ", end="")
    err_console.print(message, soft_wrap=True, markup=False, highlight=False)
    return typer.Exit(code)


def open_services(merchant: str | None) -> tuple[Services, str]:
    settings = Settings()
    chosen = merchant or settings.default_merchant
    try:
        check_merchant_id(chosen)
    except InvalidMerchantError as exc:
        raise fail(str(exc), 2) from exc
    return Services(settings), chosen


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[ProgressFn | None]:
    """A Rich progress bar fed by (stage, done, total) callbacks; one task per stage."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("[bold]{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=max(total, 1))
            progress.update(tasks[stage], completed=done, total=max(total, 1))

        yield update


def print_report(report: ImportReport) -> None:
    table = Table(title=f"Import into merchant '{report.merchant}'", show_lines=False)
    table.add_column("", style="bold")
    table.add_column("products", justify="right")
    table.add_column("documents", justify="right")
    table.add_row("added", str(len(report.added)), str(len(report.documents_added)))
    table.add_row("updated", str(len(report.updated)), str(len(report.documents_updated)))
    table.add_row("unchanged", str(len(report.unchanged)), str(len(report.documents_unchanged)))
    table.add_row("removed", str(len(report.removed)), str(len(report.documents_removed)))
    table.add_row("errors", f"[red]{len(report.errors)}[/]" if report.errors else "0", "")
    table.add_row("warnings", str(len(report.warnings)), "")
    console.print(table)
    for problem in report.errors:
        console.print(f"[red]error[/]   {problem}")
    for problem in report.warnings:
        console.print(f"[yellow]warning[/] {problem}")
    if report.index_stats is not None:
        s = report.index_stats
        console.print(
            f"index: {s.passages} passages, {s.embedded} embedded, {s.reused} reused ({s.seconds:.1f}s)"
        )
    if report.applied:
        console.print(f"[green]applied[/] (catalog version {report.version}, {report.seconds:.1f}s)")
    else:
        console.print(
            "[red]nothing applied[/]: fix the errors above, or re-run with --skip-invalid "
            "to apply the valid rows"
        )


@app.command()
def ingest(
    files: Annotated[
        list[Path], typer.Argument(help="Catalog files: CSV, XLSX, JSON, JSONL, Shopify CSV, MD")
    ],
    merchant: MerchantOpt = None,
    replace: Annotated[bool, typer.Option(help="Remove products absent from these files")] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Apply the valid rows and report the rest")
    ] = False,
    rebuild_index: Annotated[
        bool, typer.Option("--rebuild-index", help="Re-sync the index even if nothing changed")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import catalog and policy files (atomic: any error means nothing is applied)."""
    services, merchant_id = open_services(merchant)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise fail(f"no such file: {', '.join(missing)}", 2)
    with progress_bar(enabled=not as_json) as progress:
        report = services.ingest(
            files,
            merchant_id,
            replace=replace,
            skip_invalid=skip_invalid,
            force_index=rebuild_index,
            progress=progress,
        )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_report(report)
    if report.errors or not report.applied:
        raise typer.Exit(1)


def _product_rows(
    services: Services, merchant: str, limit: int, offset: int, search: str | None
) -> list[Any]:
    return services.store.list_products(merchant, offset=offset, limit=limit, search=search)


@products_app.command("list")
def products_list(
    merchant: MerchantOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Filter by sku, title or brand")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the merchant's products."""
    services, merchant_id = open_services(merchant)
    items = _product_rows(services, merchant_id, limit, offset, search)
    if as_json:
        rows = [{**p.to_dict(), "stock_summary": p.stock_summary().to_dict()} for p in items]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    total = services.store.count_products(merchant_id)
    table = Table(title=f"{merchant_id}: {len(items)} of {total} products")
    for col in ("sku", "title", "brand", "price", "stock", "variants"):
        table.add_column(col, justify="right" if col in ("price", "variants") else "left")
    for p in items:
        price = "" if p.price is None else f"{p.price} {p.currency}"
        table.add_row(p.sku, p.title, p.brand, price, p.stock_summary().text(), str(len(p.variants)))
    console.print(table)


@products_app.command("show")
def products_show(sku: str, merchant: MerchantOpt = None, as_json: JsonOpt = False) -> None:
    """Show one product with its variants and attributes."""
    services, merchant_id = open_services(merchant)
    product = services.store.get_product(merchant_id, sku)
    if product is None:
        raise fail(f"no product with sku {sku!r} for merchant {merchant_id!r} (see `anchor products list`)")
    summary = product.stock_summary()
    if as_json:
        data = {**product.to_dict(), "stock_summary": summary.to_dict()}
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{product.sku}: {product.title}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    data = product.to_dict()
    for key in ("brand", "category", "price", "list_price", "currency", "locale", "url"):
        if data[key] not in (None, ""):
            table.add_row(key, str(data[key]))
    table.add_row("stock", summary.text())
    for key, value in product.attributes.items():
        table.add_row(f"· {key}", value)
    for point in product.selling_points:
        table.add_row("selling point", point)
    if product.description:
        table.add_row("description", product.description)
    console.print(table)
    if product.variants:
        vt = Table(title="variants")
        for col in ("sku", "options", "price", "stock"):
            vt.add_column(col)
        for v in product.variants:
            stock = "unknown" if v.stock is None else str(v.stock)
            vt.add_row(v.sku, v.label(), "" if v.price is None else str(v.price), stock)
        console.print(vt)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What a shopper would ask")],
    merchant: MerchantOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=50)] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Search the merchant's catalog and policies (hybrid dense + lexical retrieval)."""
    services, merchant_id = open_services(merchant)
    retriever = services.retriever(merchant_id)
    if retriever is None:
        raise fail(
            f"merchant {merchant_id!r} has no index yet: run `anchor ingest FILE --merchant {merchant_id}`"
        )
    hits = retriever.search(query, k=k)
    rows = [
        {
            "rank": i + 1,
            "score": round(h.score, 4),
            "method": h.method,
            "sku": h.passage.source.sku,
            "document": h.passage.source.doc_id,
            "field": h.passage.source.field,
            "heading": h.passage.source.heading,
            "text": h.passage.text,
        }
        for i, h in enumerate(hits)
    ]
    if as_json:
        typer.echo(json.dumps({"query": query, "merchant": merchant_id, "hits": rows}, ensure_ascii=False))
        return
    table = Table(title=f"{query!r} in {merchant_id}")
    for col in ("#", "score", "method", "source", "passage"):
        table.add_column(col, overflow="fold")
    for row in rows:
        source = f"{row['sku']}#{row['field']}" if row["sku"] else f"{row['document']}#{row['heading']}"
        text = str(row["text"])
        table.add_row(
            str(row["rank"]),
            f"{row['score']:.3f}",
            str(row["method"]),
            source,
            text if len(text) < 160 else text[:157] + "…",
        )
    console.print(table)


@index_app.command("rebuild")
def index_rebuild(merchant: MerchantOpt = None) -> None:
    """Rebuild the merchant's index from the store (e.g. after changing ANCHOR_EMBEDDER)."""
    services, merchant_id = open_services(merchant)
    with progress_bar() as progress:
        stats = services.rebuild_index(merchant_id, progress)
    console.print(f"[green]rebuilt[/] {stats}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default ANCHOR_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default ANCHOR_PORT)")] = None,
) -> None:
    """Run the HTTP service (uvicorn). Logs are readable on a terminal and JSON lines otherwise
    (ANCHOR_LOG_FORMAT=auto|json|text); ANCHOR_LOG_ACCESS=all logs every request."""
    settings = Settings()
    _serve(settings, host or settings.host, port or settings.port)


def _serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    key: str | None = None,
    room_id: str | None = None,
) -> None:
    from agent.understanding.model import IntentModel, ModelArtefactError

    try:
        IntentModel.load(settings.intent_model)
    except ModelArtefactError as exc:
        raise fail(str(exc)) from exc

    # The demo's room is started by a request as soon as the server listens: the box waits for its answer.
    wait_for = None
    if room_id is not None:
        wait_for = when_answered("POST", f"/v1/merchants/{settings.default_merchant}/rooms")
    if not run_server(settings, host, port, console=console, key=key, room_id=room_id, wait_for=wait_for):
        raise typer.Exit(3)


def sample_files() -> Sequence[Path]:
    if not SAMPLE_DIR.is_dir():
        raise fail(f"the sample catalog is missing: expected {SAMPLE_DIR}")
    # chat.jsonl beside the catalog is the demo room's recorded viewer chat, not catalog data.
    catalog = sorted(p for p in SAMPLE_DIR.glob("*.jsonl") if p.name != "chat.jsonl")
    files = catalog + sorted((SAMPLE_DIR / "policies").glob("*.md"))
    if not files:
        raise fail(f"no sample files in {SAMPLE_DIR}")
    return files


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Only ingest the sample catalog")] = False,
) -> None:
    """Ingest the sample catalog, make an API key, serve the product and start the demo live room."""
    services, merchant_id = open_services(None)
    with progress_bar() as progress:
        report = services.ingest(sample_files(), merchant_id, replace=True, progress=progress)
    print_report(report)
    if not report.applied:
        raise typer.Exit(1)
    key = services.keys.create("merchant", merchant_id, name="demo").secret
    services.close()
    if no_serve:
        console.print(f"API key for /console and /catalog (shown once): [bold]{key}[/]", highlight=False)
        return
    from agent.live.plan import PlanError
    from api.cli.room import start_demo_room

    try:
        room_id = start_demo_room(
            f"http://{browse_host(host)}:{port}",
            key,
            SAMPLE_DIR / "room.yaml",
            SAMPLE_DIR / "chat.jsonl",
            merchant=merchant_id,
        )
    except PlanError as exc:
        raise fail(f"the demo room plan is not usable: {exc}") from exc
    # The addresses and the key come last, in a box, once the server listens and the room is on air.
    _serve(Settings(), host, port, key=key, room_id=room_id)
