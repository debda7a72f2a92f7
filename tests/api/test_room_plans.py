"""Saved room plans over HTTP (the room builder's API): create, versions, YAML export and import, problems
naming their field, the catalog check, the preview with compliance findings and rewrites, starting and
stopping a saved plan, and other merchants' keys. Also the store on SQLite and PostgreSQL, and the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL
from typer.testing import CliRunner

from agent.live.plan import RoomPlan
from agent.plan_store import PlanExistsError, PlanNotFoundError, PlanStore, VersionConflictError
from api.app import create_app
from api.routes.room_plans import problem_fields
from api.settings import Settings
from knowledge.db import create_engine_for

pytestmark = [pytest.mark.integration]

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"
SKUS = {"ZH-AP-001", "ZH-BE-002", "ZH-FD-003"}
BAD_LINE = "全网最低价，效果最好"
BASE = "/v1/merchants/demo/plans"


def plan(room_id: str = "p1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "room_id": room_id,
        "title": "秋冬专场",
        "items": [
            {"link": 1, "sku": "ZH-AP-001", "segments": ["hook", "intro"]},
            {"link": 2, "sku": "ZH-BE-002", "segments": ["hook", "price_offer"]},
        ],
        "fillers": ["欢迎新进来的宝宝。"],
    }
    body.update(extra)
    return body


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    lines = [
        line
        for line in (SAMPLES / "products.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line)["sku"] in SKUS
    ]
    path = tmp_path / "products.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Api:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        keys = client.app.state.services.keys  # type: ignore[attr-defined]
        self.owner = {"Authorization": f"Bearer {keys.create('merchant', 'demo', name='owner').secret}"}
        self.agent = {"X-API-Key": keys.create("agent", "demo").secret}
        self.stranger = {"Authorization": f"Bearer {keys.create('merchant', 'other').secret}"}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(BASE, json=body, headers=self.owner)
        assert response.status_code == 201, response.text
        out: dict[str, Any] = response.json()
        return out


@pytest.fixture
def api(data_dir: Path, catalog: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.delenv("ANCHOR_REDIS_URL", raising=False)
    settings = Settings(data_dir=data_dir, embedder="hash", room_tts_engine="espeak")
    with TestClient(create_app(settings)) as client:
        report = client.app.state.services.ingest([catalog], "demo")  # type: ignore[attr-defined]
        assert report.applied, report.errors
        yield Api(client)


def problems_of(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {p["field"]: p["message"] for p in response.json()["error"]["problems"]}


def test_a_plan_is_created_then_each_save_is_a_new_version(api: Api) -> None:
    created = api.create(plan())
    assert created["version"] == 1
    assert created["plan"]["merchant"] == "demo"
    assert created["saved_by"] == "owner"
    assert created["page"] == "/room/p1"
    assert created["obs"] == "/room/p1?transparent=1"
    again = api.client.post(BASE, json=plan(), headers=api.owner)
    assert again.status_code == 409

    changed = plan(title="第二版")
    saved = api.client.put(f"{BASE}/p1", json=changed, headers=api.owner)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2
    stale = api.client.put(f"{BASE}/p1?base_version=1", json=plan(title="第三版"), headers=api.owner)
    assert stale.status_code == 409
    assert "version 2" in stale.json()["error"]["message"]
    fresh = api.client.put(f"{BASE}/p1?base_version=2", json=plan(title="第三版"), headers=api.owner)
    assert fresh.json()["version"] == 3

    assert api.client.get(f"{BASE}/p1", headers=api.agent).json()["plan"]["title"] == "第三版"
    first = api.client.get(f"{BASE}/p1?version=1", headers=api.agent).json()
    assert (first["version"], first["plan"]["title"]) == (1, "秋冬专场")
    versions = api.client.get(f"{BASE}/p1/versions", headers=api.agent).json()["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    listed = api.client.get(BASE, headers=api.agent).json()["plans"]
    assert [(p["room_id"], p["version"], p["items"]) for p in listed] == [("p1", 3, 2)]
    assert api.client.get(f"{BASE}/p1?version=9", headers=api.agent).status_code == 404
    missing = api.client.put(f"{BASE}/p2", json=plan("p2"), headers=api.owner)
    assert missing.status_code == 404
    renamed = api.client.put(f"{BASE}/p1", json=plan("p9"), headers=api.owner)
    assert "room_id" in problems_of(renamed)

    assert api.client.delete(f"{BASE}/p1", headers=api.agent).status_code == 403
    assert api.client.delete(f"{BASE}/p1", headers=api.owner).json() == {"deleted": "p1", "versions": 3}
    assert api.client.get(f"{BASE}/p1", headers=api.agent).status_code == 404


def test_export_and_import_round_trip(api: Api) -> None:
    body = plan(
        items=[
            {"link": 3, "sku": "ZH-FD-003", "pinned_lines": {"hook": ["芒果干来了！"]}},
            {"link": 1, "sku": "ZH-AP-001", "segments": ["hook", "call_to_action"]},
        ],
        interrupt="sentence_end",
        speech_rate=1.2,
    )
    original = api.create(body)["plan"]
    exported = api.client.get(f"{BASE}/p1.yaml", headers=api.agent)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/yaml")
    assert 'filename="p1.yaml"' in exported.headers["content-disposition"]
    text = exported.text
    assert text.startswith("# live-anchor room plan p1, version 1")
    assert "芒果干来了！" in text  # readable, not escaped

    assert api.client.delete(f"{BASE}/p1", headers=api.owner).status_code == 200
    imported = api.client.post(
        f"{BASE}/import", content=text.encode(), headers={**api.owner, "Content-Type": "application/yaml"}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["created"] is True
    assert imported.json()["plan"] == original
    assert RoomPlan.model_validate(yaml.safe_load(text)) == RoomPlan.model_validate(original)

    edited = text.replace("秋冬专场", "导入第二版")
    again = api.client.post(f"{BASE}/import", content=edited.encode(), headers=api.owner)
    assert (again.json()["version"], again.json()["created"]) == (2, False)
    assert again.json()["plan"]["title"] == "导入第二版"

    broken = api.client.post(f"{BASE}/import", content=b"room_id: [unclosed", headers=api.owner)
    assert "invalid YAML" in broken.json()["error"]["message"]
    foreign = api.client.post(
        f"{BASE}/import",
        content=text.replace("merchant: demo", "merchant: other").encode(),
        headers=api.owner,
    )
    assert "merchant" in problems_of(foreign)


def test_a_bad_plan_is_refused_with_each_problem_naming_its_field(api: Api) -> None:
    bad = plan(
        "bad room",
        items=[
            {"link": 1, "sku": "ZH-AP-001", "segments": ["dance"]},
            {"link": 2, "sku": "ZH-BE-002", "pinned_lines": {"hook": ["好", "  "]}},
        ],
        fillers=["ok", " "],
        speech_rate=9,
    )
    fields = problems_of(api.client.post(BASE, json=bad, headers=api.owner))
    assert set(fields) == {
        "room_id",
        "speech_rate",
        "items.0.segments.0",
        "items.1.pinned_lines.hook.1",
        "fillers.1",
    }
    assert "dance" in fields["items.0.segments.0"]
    twice = plan(items=[{"link": 1, "sku": "ZH-AP-001"}, {"link": 1, "sku": "ZH-BE-002"}])
    assert "items.1.link" in problems_of(api.client.post(BASE, json=twice, headers=api.owner))
    assert api.client.post(BASE, content=b"[]", headers=api.owner).status_code == 422
    assert api.client.get(BASE, headers=api.agent).json()["plans"] == []


def test_an_unknown_sku_is_refused_naming_the_item(api: Api) -> None:
    body = plan(items=[{"link": 1, "sku": "ZH-AP-001"}, {"link": 2, "sku": "NOPE-404"}])
    response = api.client.post(BASE, json=body, headers=api.owner)
    fields = problems_of(response)
    assert list(fields) == ["items.1.sku"]
    assert "NOPE-404" in fields["items.1.sku"]
    assert "items.1.sku" in response.json()["error"]["message"]


def test_the_preview_shows_a_rejected_pinned_line_with_its_rule_span_and_rewrite(api: Api) -> None:
    body = plan(
        items=[
            {
                "link": 1,
                "sku": "ZH-AP-001",
                "segments": ["hook", "intro"],
                "pinned_lines": {"hook": [BAD_LINE]},
            },
            {"link": 2, "sku": "ZH-BE-002", "segments": ["hook", "price_offer"]},
        ],
        speech_rate=1.0,
    )
    response = api.client.post(
        f"{BASE}/preview", json={k: v for k, v in body.items() if k != "room_id"}, headers=api.agent
    )
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["durations"]["method"] == "estimate"
    assert "characters a second" in out["durations"]["basis"]
    first, second = out["items"]
    assert (first["link"], second["link"]) == (1, 2)
    [pinned] = first["pinned"]
    assert (pinned["segment"], pinned["index"], pinned["line"], pinned["rejected"]) == (
        "hook",
        0,
        BAD_LINE,
        True,
    )
    lowest = pinned["findings"][0]
    assert (lowest["rule"], lowest["word"], lowest["start"], lowest["end"]) == (
        "absolute.superlative",
        "全网最低价",
        0,
        5,
    )
    assert lowest["suggestion"] == "优惠价"
    assert lowest["article"]
    assert pinned["rewrite"] == "优惠价，效果很好"
    assert out["rejected_lines"] == 1
    # The rejected line is never spoken: the hook is the generated one.
    spoken = [line["text"] for segment in first["segments"] for line in segment["lines"]]
    assert BAD_LINE not in spoken
    assert spoken
    for item in (first, second):
        seconds = [line["seconds"] for segment in item["segments"] for line in segment["lines"]]
        assert all(s > 0 for s in seconds)
        assert item["seconds"] == pytest.approx(sum(seconds), abs=0.3)
    assert out["seconds"] == pytest.approx(first["seconds"] + second["seconds"], abs=0.1)

    # Accepting the rewrite: the line passes and is spoken as the pinned hook.
    body["items"][0]["pinned_lines"]["hook"] = [pinned["rewrite"]]
    api.create(body)
    saved = api.client.post(f"{BASE}/p1/preview", headers=api.agent).json()
    assert saved["version"] == 1
    assert saved["rejected_lines"] == 0
    hook = saved["items"][0]["segments"][0]
    assert (hook["kind"], hook["pinned"]) == ("hook", 1)
    assert hook["lines"][0]["pinned"] is True

    # A faster host says the same lines in less time; a number the catalog does not hold is grounding.
    fast = api.client.post(f"{BASE}/preview", json={**body, "speech_rate": 2.0}, headers=api.agent).json()
    assert fast["items"][1]["seconds"] < saved["items"][1]["seconds"]
    body["fillers"] = ["今天下单立减888元。"]
    filler = api.client.post(f"{BASE}/preview", json=body, headers=api.agent).json()["fillers"][0]
    assert filler["rejected"] is True
    assert [(f["rule"], f["start"], f["end"]) for f in filler["findings"]] == [("grounding.number", 6, 9)]
    assert filler["rewrite"] is None


def test_the_preview_can_measure_lines_with_the_offline_voice(api: Api) -> None:
    body = plan(items=[{"link": 1, "sku": "ZH-FD-003", "segments": ["hook"]}])
    out = api.client.post(f"{BASE}/preview?durations=voice", json=body, headers=api.agent).json()
    assert out["durations"]["method"] == "voice"
    lines = out["items"][0]["segments"][0]["lines"]
    assert lines
    assert all(0.3 < line["seconds"] < 15 for line in lines)


def test_a_saved_plan_starts_and_stops_through_the_rooms_api(api: Api) -> None:
    api.create(plan("live-1"))
    assert api.client.post(f"{BASE}/live-1/start", headers=api.agent).status_code == 403
    started = api.client.post(f"{BASE}/live-1/start", headers=api.owner)
    assert started.status_code == 201, started.text
    body = started.json()
    assert (body["room_id"], body["plan_version"], body["page"]) == ("live-1", 1, "/room/live-1")
    assert body["obs"] == "/room/live-1?transparent=1"
    assert body["status"] in ("running", "paused")
    assert api.client.post(f"{BASE}/live-1/start", headers=api.owner).status_code == 409
    room = api.client.get("/v1/merchants/demo/rooms/live-1", headers=api.agent).json()
    assert room["title"] == "秋冬专场"
    listed = api.client.get(BASE, headers=api.agent).json()["plans"]
    assert listed[0]["room_status"] in ("running", "paused")

    stopped = api.client.post(
        "/v1/merchants/demo/rooms/live-1/commands", json={"kind": "stop"}, headers=api.owner
    )
    assert stopped.status_code == 202
    deadline = time.monotonic() + 10
    while api.client.get("/v1/merchants/demo/rooms/live-1", headers=api.agent).json()["status"] != "stopped":
        assert time.monotonic() < deadline, "the room did not stop"
        time.sleep(0.1)
    assert api.client.post(f"{BASE}/nope/start", headers=api.owner).status_code == 404


def test_other_merchants_keys_neither_see_nor_change_a_plan(api: Api) -> None:
    api.create(plan())
    for method, path in (
        ("get", BASE),
        ("get", f"{BASE}/p1"),
        ("get", f"{BASE}/p1.yaml"),
        ("get", f"{BASE}/p1/versions"),
        ("post", f"{BASE}/p1/preview"),
        ("post", f"{BASE}/p1/start"),
        ("delete", f"{BASE}/p1"),
    ):
        assert api.client.request(method, path, headers=api.stranger).status_code == 403, path
    assert api.client.put(f"{BASE}/p1", json=plan(), headers=api.stranger).status_code == 403
    assert api.client.get(f"{BASE}/p1").status_code == 401
    # Under its own merchant the stranger finds nothing of demo's.
    assert api.client.get("/v1/merchants/other/plans/p1", headers=api.stranger).status_code == 404
    assert api.client.get("/v1/merchants/other/plans", headers=api.stranger).json()["plans"] == []


def test_problem_fields_name_the_catalog_and_host_fields() -> None:
    assert problem_fields(["plan: items.3 (link 4): sku 'X' is not in merchant 'demo''s catalog"]) == [
        {"field": "items.3.sku", "message": "sku 'X' is not in merchant 'demo''s catalog"}
    ]
    assert problem_fields(["plan: host.layers: no layer set 'x'"])[0]["field"] == "host.layers"
    assert problem_fields(["import: line 2, column 3: invalid YAML: x"], "import")[0]["field"] == ""


# -- the store on both databases, and the CLI -----------------------------------------------------------
def room_plan(room_id: str = "p1", merchant: str = "demo") -> RoomPlan:
    return RoomPlan.model_validate({**plan(room_id), "merchant": merchant})


def _exercise(store: PlanStore) -> None:
    first = room_plan()
    assert store.create(first, saved_by="a").version == 1
    with pytest.raises(PlanExistsError):
        store.create(first)
    second = store.save(first.model_copy(update={"title": "二"}), saved_by="b")
    assert second.version == 2
    with pytest.raises(VersionConflictError):
        store.save(first, base_version=1)
    with pytest.raises(PlanNotFoundError):
        store.save(room_plan("p2"))
    assert store.save(room_plan("p2"), create=True).version == 1
    other = room_plan(merchant="other")
    assert store.create(other).version == 1  # the same room id, another merchant: its own plan
    assert [(s.room_id, s.version) for s in store.list("demo")] == [("p1", 2), ("p2", 1)]
    assert store.get("demo", "p1", 1).plan == first
    assert store.get("demo", "p1").plan.title == "二"
    assert [v.version for v in store.versions("demo", "p1")] == [2, 1]
    assert store.delete("demo", "p1") == 2
    assert store.delete("demo", "p1") == 0
    with pytest.raises(PlanNotFoundError):
        store.get("demo", "p1")
    assert [s.room_id for s in store.list("other")] == ["p1"]


def test_the_store_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'plans.db'}")
    try:
        _exercise(PlanStore(engine))
    finally:
        engine.dispose()


def test_the_store_on_postgresql(pg_schema_url: URL) -> None:
    engine = create_engine_for(pg_schema_url)
    try:
        _exercise(PlanStore(engine))
    finally:
        engine.dispose()


def test_the_cli_lists_exports_and_imports_saved_plans(
    settings: Settings, catalog: Path, tmp_path: Path
) -> None:
    from api.cli import app as cli
    from api.services import Services

    services = Services(settings)
    try:
        assert services.ingest([catalog], "demo").applied
    finally:
        services.close()
    runner = CliRunner()
    source = tmp_path / "room.yaml"
    source.write_text(
        yaml.safe_dump({**plan("cli-1"), "merchant": "demo"}, allow_unicode=True), encoding="utf-8"
    )
    imported = runner.invoke(cli, ["room", "plans", "import", str(source)])
    assert imported.exit_code == 0, imported.output
    assert "cli-1" in imported.output
    listed = runner.invoke(cli, ["room", "plans", "list", "--json"])
    assert [p["room_id"] for p in json.loads(listed.output)["plans"]] == ["cli-1"]
    out = tmp_path / "out.yaml"
    exported = runner.invoke(cli, ["room", "plans", "export", "cli-1", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    assert RoomPlan.load(out).title == "秋冬专场"
    bad = tmp_path / "bad.yaml"
    bad.write_text("room_id: cli-2\nmerchant: demo\nitems:\n  - {link: 1, sku: NOPE}\n", encoding="utf-8")
    refused = runner.invoke(cli, ["room", "plans", "import", str(bad)])
    assert refused.exit_code == 2
    assert "items.0" in refused.output
