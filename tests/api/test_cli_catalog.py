"""The catalog commands end to end through Typer's runner (real store, real index, hash embedder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.settings import Settings

pytestmark = pytest.mark.integration

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"


def test_ingest_sample_then_list_show_search(settings: Settings) -> None:
    files = [str(SAMPLES / "products.jsonl"), *map(str, sorted((SAMPLES / "policies").glob("*.md")))]
    result = runner.invoke(app, ["ingest", *files, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["applied"] is True
    assert len(report["added"]) >= 60

    again = runner.invoke(app, ["ingest", *files, "--json"])
    second = json.loads(again.output)
    assert second["added"] == []
    assert second["updated"] == []
    assert second["index_stats"]["embedded"] == 0  # nothing changed: nothing embedded

    listed = json.loads(runner.invoke(app, ["products", "list", "--json", "--limit", "5"]).output)
    assert len(listed) == 5
    sku = listed[0]["sku"]
    shown = json.loads(runner.invoke(app, ["products", "show", sku, "--json"]).output)
    assert shown["sku"] == sku

    out = runner.invoke(app, ["search", shown["title"], "--json", "--k", "3"])
    assert out.exit_code == 0, out.output
    hits = json.loads(out.output)["hits"]
    assert hits[0]["sku"] == sku


def test_ingest_reports_errors_and_exits_nonzero(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,title,price\nA,好商品,10\nB,,20\nC,另一个,-1\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(bad)])
    assert result.exit_code == 1
    assert "bad.csv row 3" in result.output
    assert "nothing applied" in result.output
    listed = json.loads(runner.invoke(app, ["products", "list", "--json"]).output)
    assert listed == []


def test_unknown_things_get_clear_errors(settings: Settings, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2
    assert "no such file" in result.output
    result = runner.invoke(app, ["products", "show", "NOPE"])
    assert result.exit_code == 1
    assert "NOPE" in result.output
    result = runner.invoke(app, ["search", "耳机", "--merchant", "nobody"])
    assert result.exit_code == 1
    assert "anchor ingest" in result.output
    result = runner.invoke(app, ["products", "list", "--merchant", "bad id!"])
    assert result.exit_code == 2
