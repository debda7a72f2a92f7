"""`anchor check`: run the compliance check over a line or a script file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent.compliance import CompiledBase, Finding, WordBase, WordBaseError, check, compile_base, enforce
from agent.compliance.wordbase import packaged_base
from api.cli.app import app


def _read_lines(text: str | None, file: Path | None) -> list[tuple[int, str]]:
    """The (line number, text) pairs to check; raises `typer.BadParameter` on unusable input."""
    if text is not None and file is not None:
        raise typer.BadParameter("give either TEXT or --file, not both")
    if file is not None:
        if not file.is_file():
            raise typer.BadParameter(f"{file}: no such file", param_hint="--file")
        try:
            content = file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise typer.BadParameter(
                f"{file}: not UTF-8 text (byte {exc.start}); save the script as UTF-8", param_hint="--file"
            ) from exc
        lines = [(number, line) for number, line in enumerate(content.splitlines(), start=1) if line.strip()]
        if not lines:
            raise typer.BadParameter(f"{file}: the file has no text to check", param_hint="--file")
        return lines
    if text is None or not text.strip():
        raise typer.BadParameter("nothing to check: give TEXT or --file F", param_hint="TEXT")
    return [(1, text)]


def _finding_dict(line: int, finding: Finding) -> dict[str, Any]:
    return {"line": line, **finding.to_dict()}


def _words(files: list[Path] | None) -> CompiledBase | None:
    """The packaged word base extended with the merchant's files (None: the packaged one)."""
    if not files:
        return None
    for path in files:
        if not path.is_file():
            raise typer.BadParameter(f"{path}: no such file", param_hint="--words")
    try:
        return compile_base(packaged_base().extended(WordBase.load(files)))
    except WordBaseError as exc:
        raise typer.BadParameter(str(exc), param_hint="--words") from exc


@app.command("check")
def check_command(
    text: Annotated[str | None, typer.Argument(help="The line to check (or use --file).")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="A script file, one line per line (UTF-8).")
    ] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", "-a", help="A claim the catalog states as fact (e.g. 医用级); repeatable."),
    ] = None,
    words: Annotated[
        list[Path] | None,
        typer.Option(
            "--words", "-w", help="A words file of your own (terms to forbid or allow); repeatable."
        ),
    ] = None,
    words_only: Annotated[
        bool,
        typer.Option("--words-only", help="Skip the claim classifier (faster: words and patterns only)."),
    ] = False,
    fix: Annotated[bool, typer.Option("--fix", help="Also print the compliant (rewritten) text.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")] = False,
) -> None:
    """Check script lines or answers against the advertising-law and honest-claims rules.

    Exit code 0 when clean (or only "review" findings, which are for a person to judge), 1 when anything
    must change, 2 for unusable input.

    Examples: anchor check "全网最低价，效果最好！"  ·  anchor check --file script.txt --fix --json
    ·  anchor check --file script.txt --words my_words.yaml
    """
    allowed = tuple(allow or ())
    base = _words(words)
    lines = _read_lines(text, file)
    rows: list[dict[str, Any]] = []
    fixed: list[dict[str, Any]] = []
    claims = None if words_only else _claims_reader()
    with _progress(len(lines) if claims is not None else 0) as advance:
        for number, line in lines:
            report = check(line, allowed=allowed, words=base)
            found = list(report.findings)
            if claims is not None:
                found += claims(line, found)
                found.sort(key=lambda f: f.start)
            rows.extend(_finding_dict(number, f) for f in found)
            advance()
            if fix:
                enforced = enforce(line, allowed=allowed, words=base)
                dropped = [f for f in found if f.source.startswith("claims:") and f.action != "review"]
                text_out, removed = enforced.text, list(enforced.dropped_sentences)
                for finding in dropped:  # a claim the classifier is sure of goes like a word rule's
                    if finding.word in text_out:
                        text_out = text_out.replace(finding.word, "").strip()
                        removed.append(finding.word)
                fixed.append({"line": number, "text": text_out, "dropped_sentences": removed})
    must_change = [r for r in rows if r["action"] != "review"]
    if as_json:
        payload: dict[str, Any] = {
            "ok": not must_change,
            "lines_checked": len(lines),
            "review": len(rows) - len(must_change),
            "findings": rows,
        }
        if fix:
            payload["fixed"] = fixed
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        _print_table(rows, fixed if fix else None, len(lines))
    raise typer.Exit(1 if must_change else 0)


def _claims_reader() -> Callable[[str, list[Finding]], list[Finding]] | None:
    """The claim classifier over the default embedder, or None (with a note) when its model is missing."""
    from agent.compliance.claims import ClaimModelError, claim_reader
    from agent.textnorm import detect_language
    from knowledge.embedders import UseEmbedder

    embedder = UseEmbedder()
    try:
        read = claim_reader(embedder.embed, embedder.name)
    except ClaimModelError as exc:
        Console(stderr=True).print(f"[yellow]claim classifier unavailable[/]: {exc}")
        return None
    return lambda line, found: read(line, detect_language(line), found)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr for long scripts (the claim classifier embeds every sentence)."""
    if total < 200:
        yield lambda: None
        return
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("checking", total=total)
        yield lambda: bar.advance(task)


def _print_table(rows: list[dict[str, Any]], fixed: list[dict[str, Any]] | None, checked: int) -> None:
    console = Console()
    if rows:
        table = Table(title=f"{len(rows)} finding(s) in {checked} line(s)")
        for column in ("line", "category", "word", "span", "do"):
            table.add_column(column, no_wrap=True)
        table.add_column("rule broken", overflow="fold")
        for row in rows:
            if row["action"] == "review":
                todo = "(review)"
            elif row["suggestion"] is None:
                todo = "(drop sentence)"
            else:
                todo = f"→ {row['suggestion']!r}"
            table.add_row(
                str(row["line"]),
                row["category"],
                row["word"],
                f"{row['start']}-{row['end']}",
                todo,
                row["article"],
            )
        console.print(table)
    else:
        console.print(f"[green]clean[/green]: {checked} line(s), no findings")
    if fixed is not None:
        for item in fixed:
            prefix = f"{item['line']}: " if checked > 1 else ""
            console.print(f"{prefix}{item['text']}", markup=False, highlight=False)


__all__ = ["check_command"]
