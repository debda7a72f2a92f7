"""`anchor eval generate`: a question set computed from a merchant's own catalog and policies.

The set is scored against the same live data with ``anchor eval run FILE --merchant M --live``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.cli.catalog import fail, open_services
from api.cli.evals import eval_app
from evals.generate import GenerationError, generate_cases, summarize_cases, write_cases

console = Console()


@eval_app.command("generate")
def generate_command(
    merchant: Annotated[
        str | None, typer.Option("--merchant", "-m", help="Merchant id (default: ANCHOR_DEFAULT_MERCHANT)")
    ] = None,
    n: Annotated[int, typer.Option("--n", "-n", min=1, max=20_000, help="How many questions")] = 200,
    seed: Annotated[int, typer.Option(help="The same seed gives the same questions")] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the JSONL set (default: <data dir>/evals/generated-<merchant>-s<seed>.jsonl)"
        ),
    ] = None,
    languages: Annotated[
        str, typer.Option("--languages", help="Languages to ask in, comma-separated: zh,en | zh | en")
    ] = "zh,en",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Write evaluation questions from the merchant's own catalog and policies (prices, stock, variants,
    attributes asked in other words, enumerations, policies, and what the catalog does not state), in both
    languages; expected facts are read from the store. Generated questions must never be used as training
    data: the file says so in its first line."""
    start = time.perf_counter()
    services, chosen = open_services(merchant)
    langs = [part.strip() for part in languages.split(",") if part.strip()]
    try:
        cases = generate_cases(services.store, chosen, n=n, seed=seed, languages=langs)
        version = services.store.catalog_version(chosen)
    except GenerationError as exc:
        raise fail(str(exc), 2) from exc
    finally:
        services.close()
    path = out or services.settings.data_dir / "evals" / f"generated-{chosen}-s{seed}.jsonl"
    write_cases(path, cases, chosen, seed=seed, catalog_version=version)
    seconds = time.perf_counter() - start
    summary = summarize_cases(cases)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "path": str(path),
                    "merchant": chosen,
                    "seed": seed,
                    "seconds": round(seconds, 3),
                    **summary,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    table = Table(title=f"Generated for '{chosen}' (seed {seed})", title_justify="left")
    for header in ("family", "cases", "zh", "en", "cross-lingual", "phrasings zh/en"):
        table.add_column(header, justify="left" if header == "family" else "right")
    for name, entry in summary["families"].items():
        phr = entry["phrasings"]
        table.add_row(
            name,
            str(entry["cases"]),
            str(entry["zh"]),
            str(entry["en"]),
            str(entry["cross"]),
            f"{phr.get('zh', 0)}/{phr.get('en', 0)}",
        )
    console.print(table)
    if len(cases) < n:
        console.print(f"[yellow]only {len(cases)} distinct questions[/]: the catalog offers no more")
    console.print(
        f"{len(cases)} questions written to {path} in {seconds:.2f}s (generated — never use as training data)"
    )
    console.print(f"score them: anchor eval run {path} --merchant {chosen} --live", highlight=False)
