"""The case schema: clear errors with file, line and field; and the shipped datasets themselves."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from evals.dataset import DatasetError, check_skus, load_cases, parse_lines
from evals.reference import Reference, demo_catalog_files
from tests.evals.conftest import write_jsonl

pytestmark = pytest.mark.unit

DATASETS = Path(__file__).resolve().parents[2] / "evals" / "datasets"
GOOD = {
    "id": "ok-1",
    "lang": "zh",
    "slice": "zh",
    "text": "3号多少钱",
    "expect": {"route": "product_question"},
}


def _errors(rows: list[dict[str, Any]], tmp_path: Path) -> list[str]:
    path = write_jsonl(tmp_path / "cases.jsonl", rows)
    with pytest.raises(DatasetError) as info:
        load_cases([path])
    return [str(p) for p in info.value.problems]


def test_valid_case_loads(tmp_path: Path) -> None:
    room = {"link_map": {"3": "ZH-AP-001"}, "current_sku": "ZH-AP-001"}
    path = write_jsonl(
        tmp_path / "ok.jsonl", [GOOD, {**GOOD, "id": "ok-2", "turns": ["a", "b"], "text": None, "room": room}]
    )
    # `text: null` with turns is the same as leaving it out
    cases = load_cases([path])
    assert [c.case.id for c in cases] == ["ok-1", "ok-2"]
    assert cases[1].case.messages == ["a", "b"]
    assert cases[1].case.question == "b"
    assert cases[1].case.room is not None
    assert cases[1].case.room.link_map == {3: "ZH-AP-001"}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"turns": ["x"]}, "exactly one of 'text'"),
        ({"text": None}, "exactly one of 'text'"),
        ({"lang": "fr"}, "lang"),
        ({"channel": "tv"}, "channel"),
        ({"id": "has space"}, "id"),
        ({"colour": "red"}, "unknown field"),
        ({"expect": {"route": "shopping"}}, "expect.route"),
        ({"expect": {"facts": [{"kind": "attribute", "sku": "A"}]}}, "needs 'field'"),
        ({"expect": {"facts": [{"kind": "weight", "sku": "A"}]}}, "expect.facts.0.kind"),
        ({"room": {"link_map": {"0": "A"}}}, "link number 0"),
    ],
)
def test_schema_errors_name_file_line_and_field(
    tmp_path: Path, change: dict[str, Any], fragment: str
) -> None:
    errors = _errors([GOOD, {**GOOD, "id": "bad-1", **change}], tmp_path)
    assert errors, "expected a problem"
    assert all("cases.jsonl line 2" in e for e in errors)
    assert any(fragment in e for e in errors), errors


def test_bad_json_and_duplicate_ids(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"id": "a"\n[1, 2]\n', encoding="utf-8")
    found, problems = parse_lines(path.read_text(encoding="utf-8").splitlines(), "mixed.jsonl")
    assert not found
    assert "line 1: not valid JSON" in str(problems[0])
    assert "line 2: each line must be a JSON object" in str(problems[1])
    errors = _errors([GOOD, GOOD], tmp_path)
    assert any("duplicate case id 'ok-1'" in e and "line 2" in e for e in errors)


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file not found"):
        load_cases([tmp_path / "nope.jsonl"])


def test_unknown_skus_are_reported(tmp_path: Path) -> None:
    row = {**GOOD, "expect": {"product": "ZH-AP-001", "facts": [{"kind": "price", "sku": "NOPE-1"}]}}
    cases = load_cases([write_jsonl(tmp_path / "s.jsonl", [row])])
    problems = check_skus(cases, {"ZH-AP-001"})
    assert [str(p) for p in problems] == [
        f"{tmp_path / 's.jsonl'} line 1, sku: sku 'NOPE-1' is not in the catalog"
    ]


def test_shipped_datasets_are_valid_and_cover_the_brief() -> None:
    paths = sorted(DATASETS.glob("answers_*.jsonl"))
    cases = load_cases(paths)
    ref = Reference.from_files(demo_catalog_files())
    assert check_skus(cases, ref.known_skus()) == []
    assert len(cases) >= 320
    slices = Counter(c.case.slice for c in cases)
    assert min(slices["zh"], slices["en"], slices["cross"]) >= 40
    assert sum(c.case.channel == "live" for c in cases) >= 50
    assert sum(c.case.turns is not None for c in cases) >= 20
    categories = {(c.case.lang, c.case.expect.category) for c in cases if c.case.expect.category}
    for category in (
        "refund",
        "return",
        "exchange",
        "damaged",
        "delivery",
        "order_change",
        "invoice",
        "complaint",
        "payment",
    ):
        assert ("zh", category) in categories, category
        assert ("en", category) in categories, category
    tags = Counter(t for c in cases for t in c.case.tags)
    for tag in ("unanswerable", "not_sold", "injection", "compliance", "pii", "link"):
        assert tags[tag] >= 5, tag
    assert sum(c.case.expect.refuse is True for c in cases) >= 25
