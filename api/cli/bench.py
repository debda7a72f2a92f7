"""`anchor bench`: run every benchmark under evals/bench and write one JSON report."""

from __future__ import annotations

import importlib
import json
import pkgutil
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

import evals.bench
from api.cli.app import app
from api.settings import Settings
from evals.bench.common import machine_info, write_result

console = Console(stderr=True)


def benchmark_names() -> list[str]:
    """Modules named `*_bench` in evals/bench, in alphabetical order."""
    return sorted(m.name for m in pkgutil.iter_modules(evals.bench.__path__) if m.name.endswith("_bench"))


@app.command()
def bench(
    quick: Annotated[bool, typer.Option("--quick", help="Smaller catalogs and fewer samples")] = False,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only these benchmarks (e.g. search, voice)")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Report path (default var/bench/…json)")] = None,
) -> None:
    """Run the benchmarks (retrieval quality, search, pipeline, voice, …) and write one JSON report."""
    names = benchmark_names()
    if only:
        wanted = {o.removesuffix("_bench") for o in only}
        unknown = wanted - {n.removesuffix("_bench") for n in names}
        if unknown:
            console.print(
                f"[red]error:[/] unknown benchmark(s): {', '.join(sorted(unknown))}; "
                f"available: {', '.join(n.removesuffix('_bench') for n in names)}"
            )
            raise typer.Exit(2)
        names = [n for n in names if n.removesuffix("_bench") in wanted]
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine_info(),
        "results": {},
        "failures": {},
    }
    summary = Table(title="benchmarks")
    summary.add_column("benchmark")
    summary.add_column("seconds", justify="right")
    summary.add_column("status")
    for i, name in enumerate(names, start=1):
        console.print(f"[bold]({i}/{len(names)}) {name}[/] …")
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"evals.bench.{name}")
            result = module.run(quick=quick)
            report["results"][name.removesuffix("_bench")] = result
            status = "[green]ok[/]"
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            report["failures"][name] = {"error": repr(exc), "traceback": traceback.format_exc()}
            status = f"[red]failed[/]: {exc}"
        summary.add_row(name, f"{time.perf_counter() - started:.1f}", status)
    target = out or Settings().data_dir / "bench" / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    write_result(report, target)
    console.print(summary)
    console.print(f"report: {target}")
    typer.echo(json.dumps({"report": str(target), "failures": list(report["failures"])}))
    if report["failures"]:
        raise typer.Exit(1)
