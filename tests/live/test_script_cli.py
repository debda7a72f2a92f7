"""`anchor script` through Typer's runner, on the demo plan and the ingested sample catalog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.services import Services
from api.settings import Settings

pytestmark = pytest.mark.integration

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"
DEMO_PLAN = SAMPLES / "room.yaml"


@pytest.fixture
def catalog(settings: Settings) -> Settings:
    services = Services(settings)
    try:
        assert services.ingest([SAMPLES / "products.jsonl"], "demo").applied
    finally:
        services.close()
    return settings


def test_demo_plan_prints_every_sentence_and_exits_clean(catalog: Settings) -> None:
    result = runner.invoke(app, ["script", "--room", str(DEMO_PLAN)])
    assert result.exit_code == 0, result.output
    assert "demo-room" in result.output
    for link in range(1, 9):
        assert f"link {link} ·" in result.output
    assert "sold out" in result.output
    assert "(pinned)" in result.output
    assert "fillers" in result.output
    assert "8 products" in result.output
    assert "0 rejected lines, 0 problems" in result.output


def test_json_output_and_loops(catalog: Settings) -> None:
    first = runner.invoke(app, ["script", "--room", str(DEMO_PLAN), "--json"])
    second = runner.invoke(app, ["script", "--room", str(DEMO_PLAN), "--json", "--loop", "1"])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    body = json.loads(first.stdout)
    assert body["plan"]["room_id"] == "demo-room"
    assert body["plan"]["language"] == "zh"
    script = body["script"]
    assert script["loop"] == 0
    assert [item["link"] for item in script["items"]] == list(range(1, 9))
    assert script["findings"] == []
    assert script["problems"] == []
    assert all(item["segments"] for item in script["items"])
    pinned = [seg for item in script["items"] for seg in item["segments"] if seg["pinned"]]
    assert pinned
    later = json.loads(second.stdout)["script"]
    assert later["loop"] == 1
    assert later["items"] != script["items"]


def test_rejected_pinned_line_is_reported_with_rule_and_word(catalog: Settings, tmp_path: Path) -> None:
    plan = tmp_path / "room.yaml"
    plan.write_text(
        "room_id: r2\nmerchant: demo\nitems:\n"
        "  - link: 1\n    sku: ZH-AP-004\n    pinned_lines:\n"
        "      price_offer: ['全网最低价，只要99元！']\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["script", "--room", str(plan), "--json"])
    assert result.exit_code == 1, result.output
    findings = json.loads(result.stdout)["script"]["findings"]
    assert {(f["segment"], f["rule"], f["word"]) for f in findings} >= {
        ("price_offer", "absolute.superlative", "全网最低价"),
        ("price_offer", "grounding.number", "99"),
    }
    table = runner.invoke(app, ["script", "--room", str(plan)])
    assert table.exit_code == 1
    assert "rejected lines" in table.output
    assert "grounding.number" in table.output


def test_unknown_sku_and_unusable_plan(catalog: Settings, tmp_path: Path) -> None:
    plan = tmp_path / "room.json"
    plan.write_text(
        json.dumps({"room_id": "r3", "merchant": "demo", "items": [{"link": 1, "sku": "NOT-A-SKU"}]}),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["script", "--room", str(plan)])
    assert result.exit_code == 1
    assert "NOT-A-SKU" in result.output
    assert "is not in merchant 'demo'" in result.output

    broken = tmp_path / "broken.yaml"
    broken.write_text("room_id: r4\nmerchant: demo\nitems:\n  - {link: 1, sku: A}\n  - {link: 1, sku: B}\n")
    result = runner.invoke(app, ["script", "--room", str(broken)])
    assert result.exit_code == 2
    assert "link 1 is used twice" in result.output
    assert "Traceback" not in result.output


def test_review_speaks_each_product_within_its_budget_without_repeats(catalog: Settings) -> None:
    result = runner.invoke(app, ["script", "--room", str(DEMO_PLAN), "--review", "--json"])
    assert result.exit_code == 0, result.output
    review = json.loads(result.output)["review"]
    assert [row["link"] for row in review] == list(range(1, 9))
    for row in review:
        assert 0 < row["seconds"] <= 45.0, row
        assert row["repeated_lines"] == []
        assert row["repeated_openings"] == []
    sold_out = next(row for row in review if row["sku"] == "ZH-AP-005")
    assert sold_out["lines"] == 1
    slow = DEMO_PLAN.read_text(encoding="utf-8").replace("loop: true", "loop: true\nspeech_rate: 0.6")
    plan = catalog.data_dir / "slow.yaml"
    plan.write_text(slow, encoding="utf-8")
    result = runner.invoke(app, ["script", "--room", str(plan), "--review"])
    assert result.exit_code == 1, result.output  # at 0.6× the longest products run over 45 s
    assert "budget 45 s" in result.output
