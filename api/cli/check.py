"""`anchor check`: run the compliance check over a line or a script file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent.compliance import Finding, check, enforce
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
    return {
        "line": line,
        "rule": finding.rule,
        "word": finding.word,
        "start": finding.start,
        "end": finding.end,
        "action": finding.action,
        "suggestion": finding.suggestion,
        "severity": finding.severity,
        "reason": finding.reason,
    }


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
    fix: Annotated[bool, typer.Option("--fix", help="Also print the compliant (rewritten) text.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")] = False,
) -> None:
    """Check script lines or answers against the advertising-law and honest-claims rules.

    Exit code 0 when clean, 1 when anything was found, 2 for unusable input.

    Examples: anchor check "全网最低价，效果最好！"  ·  anchor check --file script.txt --fix --json
    """
    allowed = tuple(allow or ())
    lines = _read_lines(text, file)
    rows: list[dict[str, Any]] = []
    fixed: list[dict[str, Any]] = []
    for number, line in lines:
        report = check(line, allowed=allowed)
        rows.extend(_finding_dict(number, f) for f in report.findings)
        if fix:
            enforced = enforce(line, allowed=allowed)
            fixed.append(
                {"line": number, "text": enforced.text, "dropped_sentences": list(enforced.dropped_sentences)}
            )
    if as_json:
        payload: dict[str, Any] = {"ok": not rows, "lines_checked": len(lines), "findings": rows}
        if fix:
            payload["fixed"] = fixed
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        _print_table(rows, fixed if fix else None, len(lines))
    raise typer.Exit(1 if rows else 0)


def _print_table(rows: list[dict[str, Any]], fixed: list[dict[str, Any]] | None, checked: int) -> None:
    console = Console()
    if rows:
        table = Table(title=f"{len(rows)} finding(s) in {checked} line(s)")
        for column in ("line", "rule", "word", "span", "suggestion"):
            table.add_column(column, no_wrap=True)
        table.add_column("reason", overflow="fold")
        for row in rows:
            suggestion = "(drop sentence)" if row["suggestion"] is None else repr(row["suggestion"])
            table.add_row(
                str(row["line"]),
                row["rule"],
                row["word"],
                f"{row['start']}-{row['end']}",
                suggestion,
                row["reason"],
            )
        console.print(table)
    else:
        console.print(f"[green]clean[/green]: {checked} line(s), no findings")
    if fixed is not None:
        for item in fixed:
            prefix = f"{item['line']}: " if checked > 1 else ""
            console.print(f"{prefix}{item['text']}", markup=False, highlight=False)


__all__ = ["check_command"]
