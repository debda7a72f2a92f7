"""The self-contained HTML report: summary, per-slice bars, routing confusion, latency, every failure.

One file, inline CSS and inline SVG, no script and no external resource, so it opens from disk, from a
CI artifact or an e-mail attachment alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from evals import svg

#: Metrics shown in the summary and per-slice tables: (key, label, kind).
SUMMARY_METRICS: tuple[tuple[str, str, str], ...] = (
    ("pass_rate", "cases passed", "rate"),
    ("recall@1", "product recall@1", "rate"),
    ("recall@3", "product recall@3", "rate"),
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
BAR_METRICS = (
    "pass_rate",
    "recall@1",
    "fact_accuracy",
    "groundedness",
    "refusal_accuracy",
    "routing_accuracy",
)

_CSS = """
body{font-family:system-ui,-apple-system,"Noto Sans CJK SC",sans-serif;margin:24px;color:#111;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f4f6}
.meta{color:#555;font-size:13px}.good{color:#15803d}.bad{color:#b91c1c;font-weight:600}
.chart{max-width:100%;height:auto;display:block;margin:8px 0}
details.failure{border:1px solid #fca5a5;border-radius:6px;margin:6px 0;padding:6px 10px;background:#fff7f7}
details.failure summary{cursor:pointer;font-size:14px}
.kv{display:grid;grid-template-columns:140px 1fr;gap:2px 12px;font-size:13px;margin-top:6px}
.kv div:nth-child(odd){color:#555}pre{white-space:pre-wrap;margin:0;font-family:inherit}
ul.reasons{margin:4px 0 4px 18px;padding:0;color:#b91c1c;font-size:13px}
"""


def _value(value: Any, kind: str = "rate") -> str:
    if value is None:
        return "–"
    if kind == "rate" and isinstance(value, float):
        return f"{value * 100:.1f}%"
    return escape(str(value))


def _summary_table(report: Mapping[str, Any]) -> str:
    groups = {"overall": report["metrics"], **report["slices"]}
    head = "".join(f"<th>{escape(name)}</th>" for name in groups)
    rows = [f"<tr><th>metric</th>{head}</tr>"]
    for key, label, kind in (("cases", "cases", "count"), *SUMMARY_METRICS):
        cells = "".join(f"<td>{_value(g.get(key), kind)}</td>" for g in groups.values())
        rows.append(f"<tr><td>{escape(label)}</td>{cells}</tr>")
    return f'<table class="summary">{"".join(rows)}</table>'


def _latency_table(latency: Mapping[str, Mapping[str, float]]) -> str:
    rows = ["<tr><th>stage</th><th>n</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>"]
    for stage, p in latency.items():
        cells = "".join(f"<td>{_value(p.get(k), 'count')}</td>" for k in ("n", "p50", "p95", "p99", "max"))
        rows.append(f"<tr><td>{escape(stage)}</td>{cells}</tr>")
    return f'<table class="latency">{"".join(rows)}</table>'


def _categories_table(categories: Mapping[str, Mapping[str, Any]]) -> str:
    rows = ["<tr><th>category</th><th>support</th><th>precision</th><th>recall</th><th>F1</th></tr>"]
    for name, m in categories.items():
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{_value(m.get('support'), 'count')}</td>"
            f"<td>{_value(m.get('precision'))}</td><td>{_value(m.get('recall'))}</td>"
            f"<td>{_value(m.get('f1'))}</td></tr>"
        )
    return f'<table class="categories">{"".join(rows)}</table>'


def _retrieval_table(dev: Mapping[str, Mapping[str, Any]] | None) -> str:
    if not dev:
        return "<p>Not run.</p>"
    rows = ["<tr><th>slice</th><th>n</th><th>recall@1</th><th>recall@5</th><th>MRR</th></tr>"]
    for name, m in dev.items():
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{m.get('n')}</td><td>{_value(m.get('recall@1'))}</td>"
            f"<td>{_value(m.get('recall@5'))}</td><td>{_value(m.get('mrr'))}</td></tr>"
        )
    return f'<table class="retrieval">{"".join(rows)}</table>'


def _failure(case: Mapping[str, Any]) -> str:
    obs = case["observed"]
    messages = case["messages"]
    question = messages[-1]
    cites = ", ".join(
        escape(c.get("sku") or f"{c.get('document')}#{c.get('heading') or ''}")
        + (f"#{escape(c['field'])}" if c.get("sku") and c.get("field") else "")
        for c in obs.get("citations", [])
    )
    reasons = "".join(f"<li>{escape(r)}</li>" for r in case["failures"])
    rows = [
        ("question", escape(question)),
        ("earlier turns", escape(" ⏎ ".join(messages[:-1])) if len(messages) > 1 else "–"),
        ("earlier answers", escape(" ⏎ ".join(case.get("earlier_answers") or [])) or "–"),
        ("answer", f"<pre>{escape(obs.get('answer') or '')}</pre>"),
        ("expected", f"<pre>{escape(json.dumps(case['expect'], ensure_ascii=False))}</pre>"),
        ("route", f"{escape(str(obs.get('route')))} / {escape(str(obs.get('category')))}"),
        ("focus", f"{escape(str(obs.get('focus_sku')))} ({escape(str(obs.get('focus_method')))})"),
        ("citations", cites or "–"),
        (
            "flags",
            escape(
                f"refused={obs.get('refused')} escalated={obs.get('escalated')} clarify={obs.get('clarify')} "
                f"confidence={obs.get('confidence')}"
            ),
        ),
        ("room", escape(json.dumps(case.get("room"), ensure_ascii=False)) if case.get("room") else "–"),
    ]
    kv = "".join(f"<div>{k}</div><div>{v}</div>" for k, v in rows)
    label = f"{case['id']} · {case['slice']}/{case['channel']} · {question[:80]}"
    return (
        f'<details class="failure" id="case-{escape(case["id"])}"><summary>{escape(label)}</summary>'
        f'<ul class="reasons">{reasons}</ul><div class="kv">{kv}</div></details>'
    )


def render_html(report: Mapping[str, Any]) -> str:
    """The report as one HTML page."""
    meta = report.get("meta", {})
    metrics = report["metrics"]
    slice_names = [k for k in report["slices"] if k.startswith(("slice:", "channel:"))]
    series = {key: [report["slices"][name].get(key) for name in slice_names] for key in BAR_METRICS}
    samples = [
        float(c["observed"]["timings_ms"].get("total") or c["observed"].get("wall_ms") or 0.0)
        for c in report["cases"]
        if c["observed"].get("timings_ms") or c["observed"].get("wall_ms")
    ]
    failures: Sequence[Mapping[str, Any]] = [c for c in report["cases"] if not c["passed"]]
    meta_line = " · ".join(
        f"{escape(str(k))}: {escape(str(v))}" for k, v in meta.items() if not isinstance(v, dict | list)
    )
    passed = metrics.get("passed", 0)
    return "".join(
        [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width, initial-scale=1'>",
            "<title>live-anchor answer evaluation</title>",
            f"<style>{_CSS}</style></head><body>",
            "<h1>live-anchor answer evaluation</h1>",
            f'<p class="meta">{meta_line}</p>',
            f'<p id="headline"><b>{passed}</b> of <b>{metrics.get("cases", 0)}</b> cases passed '
            f"({_value(metrics.get('pass_rate'))}); <span class='{'bad' if failures else 'good'}'>"
            f"{len(failures)} failing</span>.</p>",
            "<h2>Summary</h2>",
            _summary_table(report),
            "<h2>Per slice</h2>",
            svg.grouped_bars(slice_names, series, title="metrics per slice and channel"),
            "<h2>Routing confusion</h2>",
            svg.heatmap(report["confusion"], title="routing: expected (rows) vs observed (columns)"),
            "<h2>After-sales categories</h2>",
            _categories_table(report.get("categories", {})),
            "<h2>Latency</h2>",
            svg.histogram(samples, title="answer latency, total per message"),
            _latency_table(report["latency"]),
            "<h2>Retrieval dev set (search_products)</h2>",
            _retrieval_table(report.get("retrieval_dev")),
            f'<h2>Failures ({len(failures)})</h2><div id="failures">',
            "".join(_failure(c) for c in failures) or "<p>None.</p>",
            "</div></body></html>",
        ]
    )
