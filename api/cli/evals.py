"""`anchor eval`: run answer-quality datasets, compare reports, gate on a baseline, list knowledge gaps."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from api.cli.app import app
from api.cli.catalog import fail, open_services, progress_bar
from api.services import InvalidMerchantError, Services, check_merchant_id
from api.settings import Settings
from evals.compare import Delta, baseline_from, compare, gate
from evals.dataset import DatasetError, check_skus, load_cases
from evals.gaps import knowledge_gaps
from evals.generated_report import close_eval_tickets, generated_section, is_generated, print_generated
from evals.reference import Reference, demo_catalog_files
from evals.report import cell, default_out_dir, load_report, print_report, write_report
from evals.runner import (
    Backend,
    EvalRun,
    HttpBackend,
    InProcessBackend,
    build_report,
    prepare_services,
    retrieval_dev,
    run_cases,
)

console = Console()
err_console = Console(stderr=True)

eval_app = typer.Typer(
    help="Evaluate answer quality: run datasets, compare reports, find knowledge gaps.", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")


DEFAULT_DATASETS = Path(__file__).resolve().parents[2] / "evals" / "datasets"


def _datasets(paths: list[Path]) -> list[Path]:
    if paths:
        return paths
    return sorted(DEFAULT_DATASETS.glob("answers_*.jsonl"))


def _print_regressions(regressions: list[Delta]) -> None:
    err_console.print(f"[bold red]gate failed:[/] {len(regressions)} metric(s) regressed beyond tolerance")
    for d in regressions:
        err_console.print(f"  {d.name}: {d.base} → {d.new} ({d.limit})")


@eval_app.command("run")
def run_command(
    datasets: Annotated[
        list[Path] | None,
        typer.Argument(help="Dataset JSONL files (default: evals/datasets/answers_*.jsonl)"),
    ] = None,
    writer: Annotated[str, typer.Option(help="Answer writer: default | llm")] = "default",
    url: Annotated[
        str | None, typer.Option(help="Evaluate a running server at this base URL instead of in-process")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="ANCHOR_EVAL_API_KEY", help="API key for --url (Bearer)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Report directory (default var/evals/<timestamp>)")] = None,
    merchant: Annotated[
        str | None,
        typer.Option(
            "--merchant",
            "-m",
            help="Merchant the cases talk to (default 'eval'; with --live ANCHOR_DEFAULT_MERCHANT)",
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Score against the merchant's live catalog in the configured data dir (ANCHOR_DATA_DIR) "
            "instead of ingesting --catalog into a temporary one (e.g. a set from `anchor eval generate`)",
        ),
    ] = False,
    embedder: Annotated[
        str | None, typer.Option(help="Embedder spec for the in-process run, e.g. 'hash' for a quick run")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Data directory for the in-process run (default: a fresh temporary one)"),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Run only the first N cases")] = None,
    catalog: Annotated[
        list[Path] | None,
        typer.Option(
            "--catalog",
            help="Catalog files the cases are about (repeat the option; default: the demo catalog)",
        ),
    ] = None,
    gate_file: Annotated[
        Path | None,
        typer.Option("--gate", help="Baseline JSON: exit 1 on a regression beyond its tolerances"),
    ] = None,
    write_baseline: Annotated[
        Path | None, typer.Option(help="Also write this run as a baseline file here")
    ] = None,
    no_retrieval: Annotated[
        bool, typer.Option("--no-retrieval-dev", help="Skip the retrieval dev set")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the metrics as JSON instead of tables")
    ] = False,
) -> None:
    """Run answer-quality cases through the production pipeline and write report.json and report.html."""
    if writer not in ("default", "llm"):
        raise fail(f"--writer {writer!r}: use 'default' or 'llm'", 2)
    if live and url:
        raise fail("--live answers in-process from the configured data dir; leave out --url", 2)
    if live and catalog:
        raise fail("--live reads the merchant's catalog from the data dir; leave out --catalog", 2)
    merchant = merchant or (Settings().default_merchant if live else "eval")
    try:
        check_merchant_id(merchant)
        loaded = load_cases(_datasets(list(datasets or [])))
    except InvalidMerchantError as exc:
        raise fail(str(exc), 2) from exc
    except DatasetError as exc:
        raise fail(str(exc), 2) from exc
    if not loaded:
        raise fail("no cases to run: the datasets are empty", 2)
    baseline = None
    if gate_file is not None:
        try:
            baseline = load_report(gate_file)
        except ValueError as exc:
            raise fail(str(exc), 2) from exc
    cases = [lc.case for lc in loaded][: limit if limit else None]
    catalog_files = list(catalog or []) or demo_catalog_files()
    for path in catalog_files:
        if not path.is_file():
            raise fail(f"--catalog {path}: no such file", 2)
    with tempfile.TemporaryDirectory(prefix="anchor-eval-") as tmp:
        settings_args: dict[str, Any] = {"data_dir": data_dir or Path(tmp)}
        if live:  # the configured data dir (ANCHOR_DATA_DIR), unless --data-dir names another
            settings_args = {"data_dir": data_dir} if data_dir else {}
        if embedder:
            settings_args["embedder"] = embedder
        if writer != "default":
            settings_args["writer"] = writer
        settings = Settings(**settings_args)
        services: Services | None = None
        backend: Backend
        if url:
            ref = Reference.from_files(catalog_files)
            backend = HttpBackend(url, merchant, api_key=api_key)
        elif live:
            services = Services(settings)
            ref = Reference.from_store(services.store, merchant)
            if not ref.products:
                services.close()
                raise fail(
                    f"merchant {merchant!r} has no products in {settings.data_dir}: "
                    f"import a catalog first: anchor ingest FILE --merchant {merchant}",
                    2,
                )
            try:
                _ = services.pipeline
            except ValueError as exc:
                raise fail(str(exc), 2) from exc
            backend = InProcessBackend(services, merchant)
        else:
            services = Services(settings)
            try:
                with progress_bar() as bar:
                    ref = prepare_services(services, merchant, catalog_files, progress=bar)
            except (RuntimeError, ValueError) as exc:
                raise fail(str(exc)) from exc
            try:
                _ = services.pipeline
            except ValueError as exc:
                raise fail(str(exc), 2) from exc
            backend = InProcessBackend(services, merchant)
        problems = check_skus(loaded, ref.known_skus())
        if problems:
            raise fail(str(DatasetError(problems)), 2)
        outcomes = asyncio.run(_run_with_bar(cases, backend, ref))
        # A question taken for after-sales opened a ticket in the merchant's real queue: resolve it.
        closed = close_eval_tickets(services.tickets, merchant, outcomes) if live and services else []
        # The retrieval dev set is about the demo catalog.
        demo = (catalog is None or not catalog) and not live
        dev = None if services is None or no_retrieval or not demo else retrieval_dev(services, merchant)
        meta: dict[str, Any] = {
            "mode": "http" if url else "in-process (live data)" if live else "in-process",
            "url": url or "",
            "embedder": settings.embedder if not url else "(server)",
            "writer": writer,
            "merchant": merchant,
            "datasets": ", ".join(p.name for p in _datasets(list(datasets or []))),
            "catalog": f"live store of {merchant} in {settings.data_dir}"
            if live
            else ", ".join(p.name for p in catalog_files),
        }
        if live:
            meta["tickets_closed"] = closed
        report = build_report(EvalRun(outcomes, meta=meta, retrieval_dev=dev))
        if is_generated(cases):
            report["generated"] = generated_section(outcomes)
        if services is not None:
            services.close()
    json_path, html_path = write_report(report, out or default_out_dir())
    if as_json:
        keys = ("meta", "metrics", "slices", "latency", "retrieval_dev", "generated")
        console.print_json(json.dumps({k: report[k] for k in keys if k in report}))
    else:
        print_report(report, console)
        print_generated(report, console)
        console.print(f"report: {html_path}  (JSON: {json_path})")
    if write_baseline is not None:
        write_baseline.parent.mkdir(parents=True, exist_ok=True)
        write_baseline.write_text(
            json.dumps(baseline_from(report), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        console.print(f"baseline written: {write_baseline}")
    if baseline is not None:
        regressions = gate(baseline, report)
        if regressions:
            _print_regressions(regressions)
            raise typer.Exit(1)
        console.print("[green]gate passed[/]")


async def _run_with_bar(cases: list[Any], backend: Backend, ref: Reference) -> list[Any]:
    with Progress(
        TextColumn("[bold]cases"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    ) as progress:
        task = progress.add_task("cases", total=len(cases))
        try:
            return await run_cases(
                cases, backend, ref, progress=lambda done, _total: progress.update(task, completed=done)
            )
        finally:
            await backend.aclose()


@eval_app.command("compare")
def compare_command(
    base: Annotated[Path, typer.Argument(help="The earlier report (or baseline) JSON")],
    new: Annotated[Path, typer.Argument(help="The later report JSON")],
    gate_flag: Annotated[
        bool, typer.Option("--gate", help="Exit 1 when a metric regressed beyond BASE's tolerances")
    ] = False,
    show_all: Annotated[bool, typer.Option("--all", help="Show unchanged metrics too")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Show the metric deltas between two reports."""
    try:
        a, b = load_report(base), load_report(new)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    deltas = compare(a, b)
    shown = [
        d
        for d in deltas
        if show_all or d.regression or (d.change not in (None, 0.0)) or (d.base is None) != (d.new is None)
    ]
    if as_json:
        console.print_json(json.dumps([d.to_dict() for d in shown]))
    else:
        table = Table(title=f"{base.name} → {new.name}", title_justify="left")
        for header in ("metric", "base", "new", "change", "limit"):
            table.add_column(header, justify="left" if header in ("metric", "limit") else "right")
        for d in shown:
            kind = "rate" if d.kind == "rate" else "count"
            change = (
                "–"
                if d.change is None
                else (f"{d.change * 100:+.1f}" if d.kind == "rate" else f"{d.change:+g}")
            )
            table.add_row(
                d.name,
                cell(d.base, kind),
                cell(d.new, kind),
                change,
                d.limit,
                style="bold red" if d.regression else None,
            )
        console.print(table)
        console.print(f"{len(shown)} changed of {len(deltas)} metrics; rates in %")
    regressions = [d for d in deltas if d.regression]
    if gate_flag and regressions:
        _print_regressions(regressions)
        raise typer.Exit(1)


@eval_app.command("gaps")
def gaps_command(
    merchant: Annotated[
        str | None, typer.Option("--merchant", "-m", help="Merchant id (default: ANCHOR_DEFAULT_MERCHANT)")
    ] = None,
    since: Annotated[float, typer.Option(help="Only questions from the last this-many days")] = 30,
    limit: Annotated[int, typer.Option(help="Show at most this many groups")] = 20,
    threshold: Annotated[
        float | None, typer.Option(help="Similarity to join a group (cosine; Jaccard for the hash embedder)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """The most frequent questions the bot refused or answered with low confidence: what to add to the catalog."""
    services, chosen = open_services(merchant)
    try:
        clusters = knowledge_gaps(services, chosen, since_days=since, limit=limit, threshold=threshold)
    finally:
        services.close()
    if as_json:
        console.print_json(json.dumps([c.to_dict() for c in clusters], ensure_ascii=False))
        return
    if not clusters:
        console.print(f"No unanswered questions for merchant '{chosen}' in the last {since:g} days.")
        return
    table = Table(
        title=f"Knowledge gaps for '{chosen}' (last {since:g} days)", title_justify="left", show_lines=True
    )
    for header in ("#", "asked", "question", "examples", "why"):
        table.add_column(header, justify="right" if header in ("#", "asked") else "left")
    for i, c in enumerate(clusters, start=1):
        why = ", ".join(f"{k} {v}" for k, v in c.reasons.items())
        table.add_row(str(i), str(c.count), c.label, "\n".join(c.examples), why)
    console.print(table)


@eval_app.command("intents")
def intents_command(
    datasets: Annotated[list[Path], typer.Argument(help="Labelled message sets (JSONL: text, intent, lang)")],
    merchant: Annotated[
        str | None, typer.Option("--merchant", "-m", help="Use this merchant's own model when it has one")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the full report (JSON) here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    misses: Annotated[int, typer.Option(help="Print up to N misclassified messages")] = 0,
) -> None:
    """Score the intent router: accuracy, after-sales recall/precision per language, hand-off recall,
    pre-sale false escalation, and the confusion matrix."""
    from agent.understanding.model import ModelArtefactError
    from agent.understanding.train import TrainingDataError, load_examples
    from evals.intents import report, score

    try:
        examples = load_examples(datasets)
    except TrainingDataError as exc:
        raise fail(str(exc), 2) from exc
    settings = Settings()
    services = Services(settings)
    try:
        router = services.router_for(merchant) if merchant else services.router
    except (ModelArtefactError, InvalidMerchantError) as exc:
        raise fail(str(exc)) from exc
    result = report(score(router, examples))
    result["model"] = router.version
    result["datasets"] = [str(p) for p in datasets]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print_intent_report(result, misses)


@eval_app.command("aspects")
def aspects_command(
    datasets: Annotated[
        list[Path] | None,
        typer.Argument(help="Answer datasets (default: the dev sets of the three dev catalogs)"),
    ] = None,
    catalog: Annotated[
        list[Path] | None, typer.Option("--catalog", help="Catalog files (default: the demo catalog)")
    ] = None,
    train: Annotated[
        bool,
        typer.Option("--train", help="Fit the line model on the dev catalogs and report each one held out"),
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Where --train writes the model (default: the packaged one)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    misses: Annotated[int, typer.Option(help="Print up to N cases the matcher got wrong")] = 0,
) -> None:
    """Score aspect matching alone: is the chosen line the one holding the expected attribute, and is
    nothing chosen when the listing does not state what is asked? (`--train`: only on dev sets.)"""
    from agent.writers.matching import PACKAGED_MODEL, AspectMatcher
    from evals.aspects_dev import aspect_cases, score_cases
    from evals.aspects_dev import train as train_model
    from knowledge.embedders import UseEmbedder
    from knowledge.line_vectors import LineVectors

    groups: list[tuple[str, list[Path], list[Path]]]
    if datasets:
        groups = [("given", list(datasets), list(catalog or []) or demo_catalog_files())]
    else:  # the dev sets: the demo catalog's, and the two catalogs that were blind once and are dev now
        groups = [("demo", [*_datasets([]), DEFAULT_DATASETS / "aspects_dev.jsonl"], demo_catalog_files())]
        for name in ("catalog2", "catalog3"):
            folder = DEFAULT_DATASETS / f"answers_dev_{name}"
            groups.append((name, [folder / "questions.jsonl"], [folder / "catalog.jsonl"]))
    if train and datasets:
        raise fail("--train uses the dev catalogs only; leave out the datasets", 2)
    embedder = UseEmbedder()
    matcher = AspectMatcher(LineVectors(embedder.embed, embedder.name))
    case_groups = []
    for name, files, catalog_files in groups:
        try:
            loaded = load_cases(files)
        except DatasetError as exc:
            raise fail(str(exc), 2) from exc
        ref = Reference.from_files(catalog_files)
        case_groups.append((name, aspect_cases([lc.case for lc in loaded], ref), ref))
    if not any(cases for _name, cases, _ref in case_groups):
        raise fail("no aspect cases: they need an attribute fact or refuse: true with a product", 2)
    result: dict[str, Any] = {"model": matcher.model.to_dict(), "groups": []}
    if train:
        model, report = train_model(case_groups, matcher, embedder.embed)
        target = out or PACKAGED_MODEL
        model.save(target)
        matcher.model = model
        result["trained"] = {"path": str(target), "model": model.to_dict(), "groups": report}
    for name, cases, ref in case_groups:
        result["groups"].append({"set": name, **score_cases(cases, ref, matcher, embedder.embed)})
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    table = Table(title="Aspect matching (rates in %)")
    for column in ("set", "n", "right", "wrong", "unsure", "refused", "not stated ok", "unstated answered"):
        table.add_column(column, justify="right" if column != "set" else "left")
    rows = [(g["set"], g) for g in result["groups"]]
    if train:
        rows += [
            (f"{g['set']} held out", g["held_out"]) for g in result["trained"]["groups"] if "held_out" in g
        ]
    for name, m in rows:
        keys = ("right", "wrong", "unsure", "refused", "honest_absence", "unstated_answered")
        table.add_row(name, str(m["answerable"] + m["unstated"]), *(f"{100 * m[k]:.1f}" for k in keys))
    console.print(table)
    if train:
        console.print(f"model written to {result['trained']['path']}")
    for miss in [miss for g in result["groups"] for miss in g["misses"]][:misses]:
        console.print(f"  {miss['id']}: {miss['question']!r} → {miss['got']!r} (want {miss['want']})")


def _short_codes(names: list[str]) -> dict[str, str]:
    """Two- or three-letter codes for column heads ("refund_return_exchange" → "rre"), unique."""
    codes: dict[str, str] = {}
    for name in names:
        parts = [p for p in name.split("_") if p]
        code = "".join(p[0] for p in parts) if len(parts) > 1 else name[:3]
        base, n = code, 2
        while code in codes.values():
            code = f"{base}{n}"
            n += 1
        codes[name] = code
    return codes


_INTENT_COLUMNS = (
    ("n", "n", "count"),
    ("intent_accuracy", "intent acc %", "rate"),
    ("route_accuracy", "route acc %", "rate"),
    ("after_sales_recall", "after-sales R %", "rate"),
    ("after_sales_precision", "after-sales P %", "rate"),
    ("handoff_recall", "hand-off R %", "rate"),
    ("presale_false_escalation", "pre-sale false esc. %", "rate"),
    ("asked", "asked %", "rate"),
)


def print_intent_report(result: dict[str, Any], misses: int = 0) -> None:
    """Terminal tables of an intent report."""
    table = Table(title=f"intent router {result.get('model', '')}")
    table.add_column("slice")
    for _key, label, _kind in _INTENT_COLUMNS:
        table.add_column(label, justify="right")
    rows = [("all", result["overall"]), *result["languages"].items()]
    for name, summary in rows:
        table.add_row(name, *(cell(summary.get(key), kind) for key, _label, kind in _INTENT_COLUMNS))
    console.print(table)
    confusion: dict[str, dict[str, int]] = result["confusion"]
    names = list(dict.fromkeys([*confusion, *sorted({d for row in confusion.values() for d in row})]))
    codes = _short_codes(names)
    decided = [n for n in names if any(n in row for row in confusion.values())]
    matrix = Table(
        title="confusion: expected (rows) → decided (columns); the diagonal is right",
        show_lines=False,
        padding=(0, 0),
    )
    matrix.add_column("", no_wrap=True)
    for d in decided:
        matrix.add_column(codes[d], justify="right", min_width=3)
    for expected, row in confusion.items():
        cells = []
        for d in decided:
            count = row.get(d)
            text = "" if not count else str(count)
            cells.append(f"[bold]{text}[/]" if d == expected and text else text)
        matrix.add_row(codes[expected], *cells)
    console.print(matrix)
    console.print("  " + "  ".join(f"{codes[n]}={n}" for n in names), highlight=False)
    for miss in result["misses"][:misses]:
        console.print(
            f"  {miss['expected']} → {'asked' if miss['asked'] else miss['decided']}: {miss['text'][:100]}",
            markup=False,
            highlight=False,
        )
