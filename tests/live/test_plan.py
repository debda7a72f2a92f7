"""RoomPlan: loading from YAML and JSON, validation messages, and checking against a real catalog."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.live.plan import SEGMENT_KINDS, AckPolicy, PlanError, RoomPlan
from knowledge.db import create_engine_for
from knowledge.models import Product
from knowledge.store import CatalogStore

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"

YAML_PLAN = """\
room_id: spring-room
merchant: shop1
title: 春季专场
language: zh
items:
  - link: 1
    sku: HOODIE-1
    pinned_lines:
      hook: ["家人们看过来！"]
  - link: 3
    sku: TEA-1
    segments: [hook, price_offer, call_to_action]
fillers: ["点点关注不迷路。"]
ack:
  min_interval_s: 30
variant_seed: 7
"""


def _plan_dict(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "room_id": "r1",
        "merchant": "shop1",
        "items": [{"link": 1, "sku": "A"}, {"link": 2, "sku": "B"}],
    }
    data.update(overrides)
    return data


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PlanError) as info:
        RoomPlan.from_data(data, source="room.yaml")
    return info.value.problems


def test_yaml_and_json_files_load_to_the_same_plan(tmp_path: Path) -> None:
    yaml_file = tmp_path / "room.yaml"
    yaml_file.write_text(YAML_PLAN, encoding="utf-8")
    from_yaml = RoomPlan.load(yaml_file)
    json_file = tmp_path / "room.json"
    json_file.write_text(json.dumps(from_yaml.model_dump(mode="json"), ensure_ascii=False), encoding="utf-8")
    from_json = RoomPlan.load(json_file)

    assert from_json == from_yaml
    assert from_yaml.room_id == "spring-room"
    assert from_yaml.link_map() == {1: "HOODIE-1", 3: "TEA-1"}
    assert from_yaml.items[0].segment_kinds() == SEGMENT_KINDS
    assert from_yaml.items[1].segment_kinds() == ("hook", "price_offer", "call_to_action")
    assert from_yaml.items[0].pinned_lines == {"hook": ["家人们看过来！"]}
    assert from_yaml.ack == AckPolicy(min_interval_s=30.0)
    assert from_yaml.ack.max_per_minute == 3
    assert from_yaml.variant_seed == 7
    assert from_yaml.loop is True
    assert from_yaml.voice is None
    assert from_yaml.item_for_link(3) is from_yaml.items[1]
    assert from_yaml.item_for_link(2) is None


def test_defaults_from_a_minimal_dict() -> None:
    plan = RoomPlan.model_validate(_plan_dict())
    assert plan.language == "zh"
    assert plan.fillers == []
    assert plan.ack.welcome
    assert plan.ack.thanks
    assert plan.ack.min_interval_s == 20.0
    assert [item.segments for item in plan.items] == [None, None]


def test_duplicate_link_numbers_are_named() -> None:
    problems = _problems(
        _plan_dict(items=[{"link": 3, "sku": "A"}, {"link": 1, "sku": "B"}, {"link": 3, "sku": "C"}])
    )
    assert problems == ["room.yaml: link 3 is used twice (items.0 and items.2)"]


def test_unknown_segment_kind_names_the_place_and_the_choices() -> None:
    problems = _problems(_plan_dict(items=[{"link": 1, "sku": "A", "segments": ["hook", "outro"]}]))
    assert len(problems) == 1
    assert problems[0].startswith("room.yaml: items.0.segments.1: unknown segment kind 'outro'")
    assert "call_to_action" in problems[0]


def test_unknown_segment_in_pinned_lines_is_reported() -> None:
    problems = _problems(_plan_dict(items=[{"link": 1, "sku": "A", "pinned_lines": {"opening": ["hi"]}}]))
    assert any(
        "items.0.pinned_lines.opening" in p and "unknown segment kind 'opening'" in p for p in problems
    )


def test_missing_sku_and_missing_items() -> None:
    assert _problems(_plan_dict(items=[{"link": 1}])) == ["room.yaml: items.0.sku: Field required"]
    problems = _problems({"room_id": "r1", "merchant": "m"})
    assert problems == ["room.yaml: items: Field required"]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"link": 0, "sku": "A"}, "items.0.link"),
        ({"link": 1, "sku": "   "}, "sku is blank"),
        ({"link": 1, "sku": "A", "segments": []}, "segments is empty"),
        ({"link": 1, "sku": "A", "segments": ["hook", "hook"]}, "segment 'hook' is listed twice"),
        (
            {"link": 1, "sku": "A", "segments": ["hook"], "pinned_lines": {"specs": ["x"]}},
            "pinned lines for segment 'specs', which this item does not present",
        ),
        (
            {"link": 1, "sku": "A", "pinned_lines": {"hook": ["  "]}},
            "pinned line 0 of segment 'hook' is blank",
        ),
    ],
)
def test_item_problems(item: dict[str, Any], expected: str) -> None:
    problems = _problems(_plan_dict(items=[item]))
    assert any(expected in p for p in problems), problems


def test_top_level_problems() -> None:
    assert _problems(_plan_dict(itmes=[])) == ["room.yaml: itmes: Extra inputs are not permitted"]
    assert any("room id 'bad room'" in p for p in _problems(_plan_dict(room_id="bad room")))
    assert any("language" in p for p in _problems(_plan_dict(language="fr")))
    assert any("fillers.0" in p or "filler 0 is blank" in p for p in _problems(_plan_dict(fillers=[" "])))
    assert any("items" in p for p in _problems(_plan_dict(items=[])))


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="no such file"):
        RoomPlan.load(tmp_path / "missing.yaml")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("room_id: r\nitems: [\n  - link: 1\n", encoding="utf-8")
    with pytest.raises(PlanError, match=r"bad\.yaml: line \d+, column \d+: invalid YAML"):
        RoomPlan.load(bad_yaml)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"room_id": "r",,}', encoding="utf-8")
    with pytest.raises(PlanError, match=r"bad\.json: line 1, column \d+: invalid JSON"):
        RoomPlan.load(bad_json)
    listing = tmp_path / "list.yaml"
    listing.write_text("- link: 1\n", encoding="utf-8")
    with pytest.raises(PlanError, match="a plan is a mapping"):
        RoomPlan.load(listing)


def test_validate_against_a_real_store(tmp_path: Path) -> None:
    store = CatalogStore(create_engine_for(f"sqlite:///{tmp_path}/x.db"))
    store.create_schema()
    store.apply(
        "shop1",
        upsert_products=[Product(sku="A", title="卫衣", price=Decimal("99"))],
        delete_skus=[],
        upsert_documents=[],
        delete_doc_ids=[],
    )
    plan = RoomPlan.model_validate(_plan_dict())
    assert plan.validate_against(store) == ["items.1 (link 2): sku 'B' is not in merchant 'shop1''s catalog"]


def test_the_demo_room_plan_matches_the_demo_catalog(tmp_path: Path) -> None:
    plan = RoomPlan.load(SAMPLES / "room.yaml")
    assert plan.language == "zh"
    assert 6 <= len(plan.items) <= 8
    assert any(item.pinned_lines for item in plan.items)
    assert plan.fillers
    store = CatalogStore(create_engine_for(f"sqlite:///{tmp_path}/x.db"))
    store.create_schema()
    lines = (SAMPLES / "products.jsonl").read_text(encoding="utf-8").splitlines()
    store.apply(
        "demo",
        upsert_products=[Product.from_dict(json.loads(line)) for line in lines if line.strip()],
        delete_skus=[],
        upsert_documents=[],
        delete_doc_ids=[],
    )
    assert plan.validate_against(store) == []
