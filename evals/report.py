"""Writing and showing a report: `report.json`, `report.html` and Rich tables for the terminal."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evals.html import render_html

#: Rows of the terminal table: (metric key, label, kind).
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cases", "cases", "count"),
    ("pass_rate", "cases passed", "rate"),
    ("recall@1", "product recall@1", "rate"),
    ("mrr", "product MRR", "rate"),
    ("fact_accuracy", "fact accuracy", "rate"),
    ("groundedness", "groundedness", "rate"),
    ("refusal_accuracy", "refusal accuracy", "rate"),
    ("routing_accuracy", "routing accuracy", "rate"),
    ("escalation_precision", "escalation precision", "rate"),
    ("escalation_recall", "escalation recall", "rate"),
    ("category_accuracy", "after-sales category", "rate"),
    ("compliance_violations", "compliance violations", "count"),
    ("pii_leaks", "PII leaks (live)", "count"),
)


def default_out_dir(root: Path = Path("var/evals")) -> Path:
    return root / datetime.now().strftime("%Y%m%d-%H%M%S")


def write_report(report: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write `report.json` and `report.html` into `out_dir` (created); return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "report.json"
    html_path = out_dir / "report.html"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path


def load_report(path: Path) -> dict[str, Any]:
    """Read a report or baseline JSON file; `ValueError` with the file name when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise ValueError(f"{path}: not an evaluation report (no 'metrics' object)")
    return data


def cell(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "rate":
        return f"{float(value) * 100:.1f}"
    return str(value)


def metrics_table(report: Mapping[str, Any], *, title: str = "Answer quality (rates in %)") -> Table:
    """Metrics as rows, groups (overall, each language slice, each channel) as columns."""
    groups: dict[str, Mapping[str, Any]] = {"overall": report["metrics"]}
    groups.update({k: v for k, v in report.get("slices", {}).items() if k.startswith(("slice:", "channel:"))})
    table = Table(title=title, title_justify="left")
    table.add_column("metric", no_wrap=True)
    for name in groups:
        table.add_column(name.split(":", 1)[-1], justify="right", no_wrap=True)
    for key, header, kind in TABLE_COLUMNS:
        table.add_row(header, *(cell(m.get(key), kind) for m in groups.values()))
    return table


def latency_table(report: Mapping[str, Any]) -> Table:
    table = Table(title="Latency per stage (ms)", title_justify="left")
    for header in ("stage", "n", "p50", "p95", "p99"):
        table.add_column(header, justify="left" if header == "stage" else "right")
    for stage, p in report.get("latency", {}).items():
        table.add_row(stage, *(cell(p.get(k), "count") for k in ("n", "p50", "p95", "p99")))
    return table


def retrieval_table(report: Mapping[str, Any]) -> Table | None:
    dev = report.get("retrieval_dev")
    if not dev:
        return None
    table = Table(title="Retrieval dev set: search_products (rates in %)", title_justify="left")
    for header in ("slice", "n", "R@1", "R@5", "MRR"):
        table.add_column(header, justify="left" if header == "slice" else "right")
    for name, m in dev.items():
        table.add_row(
            name, str(m.get("n")), *(cell(m.get(k), "rate") for k in ("recall@1", "recall@5", "mrr"))
        )
    return table


def print_report(report: Mapping[str, Any], console: Console) -> None:
    console.print(metrics_table(report))
    console.print(latency_table(report))
    dev = retrieval_table(report)
    if dev is not None:
        console.print(dev)
