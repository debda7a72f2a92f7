"""Database fixtures for the knowledge tests: the same tests on SQLite and on PostgreSQL.

PostgreSQL runs at ``127.0.0.1:5432/test`` (trust auth, user ``postgres`` or the OS user). Each test gets
its own schema (selected through ``search_path`` in the URL), dropped afterwards, so parallel runs and
leftovers never collide. Without a reachable server the PostgreSQL cases skip, or fail when ``CI`` is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url

from knowledge.db import create_engine_for
from knowledge.store import CatalogStore


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> URL:
    """The database URL each DB test runs against: SQLite in tmp_path, then PostgreSQL."""
    if request.param == "sqlite":
        return make_url(f"sqlite:///{tmp_path / 'data' / 'anchor.db'}")
    return request.getfixturevalue("pg_schema_url")  # type: ignore[no-any-return]


@pytest.fixture
def engine(db_url: URL) -> Iterator[Engine]:
    engine = create_engine_for(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def store(engine: Engine) -> CatalogStore:
    """A catalog store with its schema created, on each database in turn."""
    catalog = CatalogStore(engine)
    catalog.create_schema()
    return catalog
