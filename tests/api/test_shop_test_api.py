"""'Test my shop' over HTTP: start a run, follow it to its report, one run at a time, no catalog, other keys,
a restart, and a shutdown in the middle of a run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import api.routes.shop_test as shop_test
from api.app import create_app
from api.settings import Settings
from evals.generate import run_generated

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "demo"
N = 12
SEED = 3


def small_catalog(tmp_path: Path) -> list[Path]:
    """Six demo products (Chinese and English, with variants) and the demo policies: quick to import."""
    lines = (SAMPLES / "products.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "products.jsonl"
    path.write_text("".join(lines[:3] + lines[-3:]), encoding="utf-8")
    return [path, *sorted((SAMPLES / "policies").glob("*.md"))]


@contextmanager
def serving(settings: Settings, catalog: list[Path] | None = None) -> Iterator[TestClient]:
    """The app on `settings`; with `catalog`, imported for shop1 first."""
    with TestClient(create_app(settings)) as test_client:
        if catalog:
            report = services(test_client).ingest(catalog, "shop1")
            assert report.applied, report.errors
        yield test_client


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    with serving(settings, small_catalog(tmp_path)) as test_client:
        yield test_client


def services(client: TestClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def key(client: TestClient, role: str, merchant: str | None) -> dict[str, str]:
    created = services(client).keys.create(role, merchant, f"{role} {merchant}")
    return {"Authorization": f"Bearer {created.secret}"}


def wait_until_finished(client: TestClient, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """Poll a run until it is done or failed; the progress seen on the way is checked as it goes."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["status"] in ("queued", "running", "done", "failed")
        assert 0 <= body["done"] <= body["total"]
        if body["status"] in ("done", "failed"):
            return body
        assert body["report"] is None
        time.sleep(0.1)
    raise AssertionError(f"{path} did not finish")


def test_a_run_reports_what_run_generated_gives(client: TestClient, settings: Settings) -> None:
    owner = key(client, "merchant", "shop1")
    started = client.post("/v1/merchants/shop1/shop-tests", json={"n": N, "seed": SEED}, headers=owner)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["status"] in ("queued", "running")
    assert job["id"].startswith("st-")
    assert started.headers["location"] == f"/v1/merchants/shop1/shop-tests/{job['id']}"

    body = wait_until_finished(client, started.headers["location"], owner)
    assert body["status"] == "done", body["error"]
    assert body["done"] == body["total"] == N
    assert body["seconds"] is not None
    assert body["seconds"] > 0
    report = body["report"]
    assert "cases" not in report  # the per-case list stays in report.json
    generated = report["generated"]

    expected = run_generated(services(client), "shop1", N, seed=SEED)["generated"]
    assert body["pass_rate"] == generated["overall"]["pass_rate"] == expected["overall"]["pass_rate"]
    assert generated["families"] == expected["families"]  # pass rate per family × language
    assert [f["id"] for f in generated["worst_failures"]] == [f["id"] for f in expected["worst_failures"]]
    for failure in generated["worst_failures"]:  # every failure comes with its evidence
        assert failure["question"]
        assert failure["failures"]
        assert isinstance(failure["citations"], list)
        assert isinstance(failure["facts"], list)
    assert generated["gaps"] == expected["gaps"]

    # No ticket of the run stays in the agent queue.
    left = [t for t in services(client).tickets.list("shop1") if t.state != "resolved"]
    assert left == []

    listed = client.get("/v1/merchants/shop1/shop-tests", headers=owner).json()
    assert listed["items"][0]["id"] == job["id"]
    assert listed["items"][0]["pass_rate"] == body["pass_rate"]
    assert "report" not in listed["items"][0]

    # An agent of the shop may read the results, not start a run.
    agent = key(client, "agent", "shop1")
    assert client.get(started.headers["location"], headers=agent).status_code == 200
    assert client.post("/v1/merchants/shop1/shop-tests", json={"n": 1}, headers=agent).status_code == 403

    folder = settings.data_dir / "evals" / "shop-tests" / "shop1" / job["id"]
    assert json.loads((folder / "job.json").read_text(encoding="utf-8"))["status"] == "done"
    assert len(json.loads((folder / "report.json").read_text(encoding="utf-8"))["cases"]) == N
    assert (folder / "report.html").is_file()


def test_finished_runs_survive_a_restart(settings: Settings, tmp_path: Path) -> None:
    with serving(settings, small_catalog(tmp_path)) as client:
        owner = key(client, "merchant", "shop1")
        started = client.post("/v1/merchants/shop1/shop-tests", json={"n": 4}, headers=owner)
        body = wait_until_finished(client, started.headers["location"], owner)
        assert body["status"] == "done"

    with serving(settings) as again:
        owner = key(again, "merchant", "shop1")
        listed = again.get("/v1/merchants/shop1/shop-tests", headers=owner).json()["items"]
        assert [item["id"] for item in listed] == [body["id"]]
        assert listed[0]["status"] == "done"
        assert listed[0]["pass_rate"] == body["pass_rate"]
        loaded = again.get(f"/v1/merchants/shop1/shop-tests/{body['id']}", headers=owner).json()
        assert loaded["report"]["generated"] == body["report"]["generated"]
        missing = again.get("/v1/merchants/shop1/shop-tests/st-20240101-000000-abcdef", headers=owner)
        assert missing.status_code == 404
        assert again.get("/v1/merchants/shop1/shop-tests/..%2Fx", headers=owner).status_code == 404


def gated(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Make runs wait for the returned event before they start answering."""
    gate = threading.Event()
    real: Callable[..., dict[str, Any]] = run_generated

    def waiting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        assert gate.wait(60), "the test never opened the gate"
        return real(*args, **kwargs)

    monkeypatch.setattr(shop_test, "run_generated", waiting)
    return gate


def test_a_second_start_while_one_runs_is_a_409_naming_it(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = gated(monkeypatch)
    owner = key(client, "merchant", "shop1")
    first = client.post("/v1/merchants/shop1/shop-tests", json={"n": 2}, headers=owner).json()
    second = client.post("/v1/merchants/shop1/shop-tests", json={"n": 2}, headers=owner)
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "conflict"
    assert error["id"] == first["id"]
    assert error["status"] in ("queued", "running")
    assert first["id"] in error["message"]
    assert second.headers["location"].endswith(first["id"])
    running = client.get(f"/v1/merchants/shop1/shop-tests/{first['id']}", headers=owner).json()
    assert running["status"] == "running"
    assert running["report"] is None

    gate.set()
    assert (
        wait_until_finished(client, f"/v1/merchants/shop1/shop-tests/{first['id']}", owner)["status"]
        == "done"
    )
    again = client.post("/v1/merchants/shop1/shop-tests", headers=owner)  # no body: n 200, seed 0
    assert again.status_code == 202, again.text
    assert again.json()["n"] == 200  # left running: shutting the app down stops it


def test_a_merchant_without_products_is_told_to_import_a_catalog(client: TestClient) -> None:
    owner = key(client, "merchant", "empty")
    response = client.post("/v1/merchants/empty/shop-tests", json={"n": 5}, headers=owner)
    assert response.status_code == 400
    assert "import a catalog first" in response.json()["error"]["message"]
    assert client.get("/v1/merchants/empty/shop-tests", headers=owner).json() == {
        "merchant": "empty",
        "items": [],
    }


def test_another_merchants_key_and_bad_bodies_are_refused(client: TestClient) -> None:
    other = key(client, "merchant", "shop2")
    path = "/v1/merchants/shop1/shop-tests"
    assert client.post(path, json={"n": 2}, headers=other).status_code == 403
    assert client.get(path, headers=other).status_code == 403
    assert client.get(f"{path}/st-20240101-000000-abcdef", headers=other).status_code == 403
    assert client.post(path, json={"n": 2}).status_code == 401
    owner = key(client, "merchant", "shop1")
    for body in ({"n": 0}, {"n": 1001}, {"n": 5, "extra": 1}, {"seed": -1}):
        assert client.post(path, json=body, headers=owner).status_code == 422, body
    assert client.get(path, headers=owner).json()["items"] == []


def test_shutting_down_stops_a_run_after_its_current_question(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real: Callable[..., dict[str, Any]] = run_generated

    def slow(services: Any, merchant: str, n: int, progress: Any, **kwargs: Any) -> dict[str, Any]:
        def step(done: int, total: int) -> None:
            progress(done, total)
            time.sleep(0.3)

        return real(services, merchant, n, step, **kwargs)

    monkeypatch.setattr(shop_test, "run_generated", slow)
    with serving(settings, small_catalog(tmp_path)) as client:
        owner = key(client, "merchant", "shop1")
        job = client.post("/v1/merchants/shop1/shop-tests", json={"n": N}, headers=owner).json()
        path = f"/v1/merchants/shop1/shop-tests/{job['id']}"
        deadline = time.monotonic() + 60
        while client.get(path, headers=owner).json()["done"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        began = time.monotonic()
    assert time.monotonic() - began < shop_test.STOP_SECONDS
    folder = settings.data_dir / "evals" / "shop-tests" / "shop1" / job["id"]
    record = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    assert record["status"] == "failed"
    assert "stopped" in record["error"]
    assert 1 <= record["done"] < N
