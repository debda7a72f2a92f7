"""`anchor eval run | compare | gaps` through the real CLI (hash embedder, tiny datasets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.settings import Settings
from tests.evals.conftest import write_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

runner = CliRunner()
ROWS = [
    {
        "id": "p1",
        "lang": "zh",
        "slice": "zh",
        "text": "暖禾加绒卫衣多少钱",
        "expect": {"product": "ZH-AP-001", "facts": [{"kind": "price", "sku": "ZH-AP-001"}]},
    },
    {
        "id": "p2",
        "lang": "en",
        "slice": "en",
        "text": "How much are the H7 headphones?",
        "expect": {"product": "EN-EL-002", "facts": [{"kind": "price", "sku": "EN-EL-002"}]},
    },
    {
        "id": "p3",
        "lang": "zh",
        "slice": "zh",
        "text": "订单230918445201937766 我要退款",
        "expect": {"escalate": True},
    },
]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    data = write_jsonl(tmp / "tiny.jsonl", ROWS)
    out = tmp / "run1"
    result = runner.invoke(
        app,
        [
            "eval",
            "run",
            str(data),
            "--embedder",
            "hash",
            "--out",
            str(out),
            "--no-retrieval-dev",
            "--write-baseline",
            str(tmp / "baseline.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "report:" in result.output
    assert "cases passed" in result.output
    return tmp


def test_run_writes_reports_and_baseline(first_run: Path) -> None:
    report = json.loads((first_run / "run1" / "report.json").read_text(encoding="utf-8"))
    assert report["metrics"]["cases"] == 3
    assert (first_run / "run1" / "report.html").stat().st_size > 1000
    baseline = json.loads((first_run / "baseline.json").read_text(encoding="utf-8"))
    assert baseline["metrics"] == report["metrics"]
    assert "tolerances" in baseline


def test_gate_passes_on_its_own_baseline_and_fails_on_a_planted_one(first_run: Path) -> None:
    data, baseline = first_run / "tiny.jsonl", first_run / "baseline.json"
    args = ["eval", "run", str(data), "--embedder", "hash", "--no-retrieval-dev", "--json"]
    own = json.loads(baseline.read_text(encoding="utf-8"))
    own["tolerances"]["latency_growth"] = 1000.0  # 3 cases on a busy 2-core machine: latency is noise here
    baseline.write_text(json.dumps(own), encoding="utf-8")
    ok = runner.invoke(app, [*args, "--out", str(first_run / "run2"), "--gate", str(baseline)])
    assert ok.exit_code == 0, ok.output
    planted = json.loads(baseline.read_text(encoding="utf-8"))
    planted["metrics"]["fact_accuracy"] = 1.5  # an impossible baseline: any real run regresses from it
    planted["tolerances"]["latency_growth"] = 1000.0
    strict = first_run / "planted.json"
    strict.write_text(json.dumps(planted), encoding="utf-8")
    bad = runner.invoke(app, [*args, "--out", str(first_run / "run3"), "--gate", str(strict)])
    assert bad.exit_code == 1
    assert "overall.fact_accuracy" in bad.output


def test_compare_shows_deltas_and_gates(first_run: Path) -> None:
    run1 = first_run / "run1" / "report.json"
    worse = json.loads(run1.read_text(encoding="utf-8"))
    worse["metrics"]["pii_leaks"] = 2
    worse_path = first_run / "worse.json"
    worse_path.write_text(json.dumps(worse), encoding="utf-8")
    shown = runner.invoke(app, ["eval", "compare", str(run1), str(worse_path)])
    assert shown.exit_code == 0
    assert "overall.pii_leaks" in shown.output
    gated = runner.invoke(app, ["eval", "compare", str(run1), str(worse_path), "--gate"])
    assert gated.exit_code == 1


def test_dataset_errors_exit_2_with_the_line(tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "lang": "zh", "slice": "zh", "expect": {}}])
    result = runner.invoke(app, ["eval", "run", str(bad), "--embedder", "hash"])
    assert result.exit_code == 2
    assert "bad.jsonl line 1" in result.output
    assert "exactly one of 'text'" in result.output
    unknown = write_jsonl(tmp_path / "sku.jsonl", [{**ROWS[0], "expect": {"product": "NOPE-9"}}])
    result = runner.invoke(
        app, ["eval", "run", str(unknown), "--embedder", "hash", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "NOPE-9" in result.output


def test_compare_rejects_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    other = tmp_path / "x.json"
    other.write_text("[1]", encoding="utf-8")
    result = runner.invoke(app, ["eval", "compare", str(other), str(other)])
    assert result.exit_code == 2
    assert "not an evaluation report" in result.output


def test_gaps_json(settings: Settings) -> None:
    from api.services import Services

    services = Services(settings)
    services.conversations.get_or_create("demo", "c1")
    services.conversations.append("demo", "c1", "customer", "有卖猫粮吗")
    services.conversations.append(
        "demo", "c1", "bot", "没有", meta={"refused": True, "route": "product_question"}
    )
    services.close()
    result = runner.invoke(app, ["eval", "gaps", "--json"])
    assert result.exit_code == 0, result.output
    clusters = json.loads(result.output)
    assert clusters[0]["label"] == "有卖猫粮吗"
    assert clusters[0]["count"] == 1
    table = runner.invoke(app, ["eval", "gaps", "--merchant", "nobody"])
    assert table.exit_code == 0
    assert "No unanswered questions" in table.output
