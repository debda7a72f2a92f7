"""Database fixtures for the agent's conversation and ticket tests, on SQLite and on PostgreSQL.

`agent_engine_factory` builds engines with `sqlalchemy.create_engine` on one database per test: a SQLite
file in tmp_path (WAL, foreign keys) or a uniquely named PostgreSQL schema (``search_path`` in the URL),
dropped afterwards. Calling the factory again opens the same database anew, which is how the tests
simulate a server restart. Without a reachable PostgreSQL the PostgreSQL cases skip, or fail under CI.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url

from agent.db import create_schema

EngineFactory = Callable[[], Engine]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 10000")
    finally:
        cursor.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def agent_engine_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EngineFactory]:
    """Opens engines on this test's own database; every engine is disposed after the test."""
    engines: list[Engine] = []
    schema: str | None = None
    admin: Engine | None = None
    if request.param == "sqlite":
        url = make_url(f"sqlite:///{tmp_path / 'agent.db'}")
    else:
        base: URL = request.getfixturevalue("pg_admin_url")
        schema = f"agent_t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})

    def open_engine() -> Engine:
        engine = create_engine(url)
        if url.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        engines.append(engine)
        return engine

    try:
        yield open_engine
    finally:
        for engine in engines:
            engine.dispose()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture
def agent_db_engine(agent_engine_factory: EngineFactory) -> Engine:
    """An engine on a fresh database with the agent's tables created."""
    engine = agent_engine_factory()
    create_schema(engine)
    return engine


class AgentClock:
    """A controllable clock for TTL tests: `advance` moves time without sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def agent_clock() -> AgentClock:
    return AgentClock()
