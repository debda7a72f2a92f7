"""`RoomStateStore` on real SQLite and PostgreSQL: round trips, upserts, listing, restarts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from agent.live.events import Position
from agent.live.state import RoomStateStore, create_room_schema
from knowledge.store import create_engine_for

pytestmark = pytest.mark.unit

PG_URLS = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg://root@127.0.0.1:5432/test",
)

PLAN = {"room_id": "r1", "merchant": "demo", "items": [{"link": 1, "sku": "ZH-AP-001"}], "loop": True}


def _pg_url() -> str | None:
    for url in PG_URLS:
        engine = create_engine(make_url(url).update_query_dict({"connect_timeout": "3"}))
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url
        except OperationalError:
            continue
        finally:
            engine.dispose()
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def open_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Engine]]:
    """Opens engines on this test's own database (calling it again simulates a process restart)."""
    engines: list[Engine] = []
    schema: str | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rooms.db'}"
    else:
        base = _pg_url()
        if base is None:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL at 127.0.0.1:5432/test is not reachable; CI is set")
            pytest.skip("PostgreSQL at 127.0.0.1:5432/test is not reachable")
        schema = f"rooms_t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )

    def factory() -> Engine:
        engine = create_engine_for(url)
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.dispose()
    if schema is not None and base is not None:
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_save_and_load_round_trip_across_a_restart(open_engine: Callable[[], Engine]) -> None:
    store = RoomStateStore(open_engine())
    assert store.load("r1") is None
    store.save(
        "r1",
        merchant="demo",
        plan=PLAN,
        status="running",
        position=Position(2, 1, 3, 4),
        counters={"said": 17, "seq": 40},
    )
    reopened = RoomStateStore(open_engine())
    record = reopened.load("r1")
    assert record is not None
    assert record.merchant == "demo"
    assert record.plan == PLAN
    assert record.status == "running"
    assert record.position == Position(2, 1, 3, 4)
    assert record.counters == {"said": 17, "seq": 40}
    assert record.updated_at is not None
    assert record.updated_at.tzinfo is not None


def test_progress_updates_the_row_and_saving_again_replaces_it(open_engine: Callable[[], Engine]) -> None:
    store = RoomStateStore(open_engine())
    assert not store.save_progress("nope", status="paused", position=Position(), counters={})
    store.save("r1", merchant="demo", plan=PLAN, status="running", position=Position(), counters={})
    assert store.save_progress("r1", status="paused", position=Position(0, 0, 1, 2), counters={"said": 3})
    record = store.load("r1")
    assert record is not None
    assert (record.status, record.position, record.counters) == ("paused", Position(0, 0, 1, 2), {"said": 3})
    other = {**PLAN, "loop": False}
    store.save("r1", merchant="demo", plan=other, status="stopped", position=Position(1), counters={})
    record = store.load("r1")
    assert record is not None
    assert record.plan == other
    assert record.status == "stopped"
    assert len(store.list()) == 1


def test_list_filters_by_status_and_merchant(open_engine: Callable[[], Engine]) -> None:
    store = RoomStateStore(open_engine())
    store.save("b", merchant="m1", plan=PLAN, status="running", position=Position(), counters={})
    store.save("a", merchant="m2", plan=PLAN, status="paused", position=Position(), counters={})
    store.save("c", merchant="m1", plan=PLAN, status="stopped", position=Position(), counters={})
    assert [r.room_id for r in store.list()] == ["a", "b", "c"]
    assert [r.room_id for r in store.list(status="running")] == ["b"]
    assert [r.room_id for r in store.list(merchant="m1")] == ["b", "c"]
    assert store.set_status("c", "running")
    assert [r.room_id for r in store.list(status="running")] == ["b", "c"]
    assert store.delete("b")
    assert not store.delete("b")
    assert store.load("b") is None


def test_bad_values_are_refused_with_a_message(tmp_path: Path) -> None:
    store = RoomStateStore(create_engine_for(f"sqlite:///{tmp_path / 'rooms.db'}"))
    with pytest.raises(ValueError, match="room status 'live'"):
        store.save("r1", merchant="demo", plan=PLAN, status="live", position=Position(), counters={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="room id"):
        store.save("x" * 65, merchant="demo", plan=PLAN, status="running", position=Position(), counters={})


def test_plan_text_is_canonical_and_schema_creation_idempotent(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'rooms.db'}")
    create_room_schema(engine)
    create_room_schema(engine)
    reordered = dict(reversed(list(PLAN.items())))
    assert RoomStateStore.plan_text(PLAN) == RoomStateStore.plan_text(reordered)
    assert RoomStateStore.plan_text(PLAN) != RoomStateStore.plan_text({**PLAN, "loop": False})
