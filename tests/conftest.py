"""Shared fixtures: an isolated data directory, settings with the hash embedder, and PostgreSQL.

PostgreSQL runs at ``127.0.0.1:5432/test`` (trust auth, user ``postgres`` or the OS user). Database tests
get their own schema (selected through ``search_path`` in the URL), dropped afterwards, so parallel runs
and leftovers never collide. Without a reachable server the PostgreSQL cases skip, or fail when ``CI``
is set.
"""

from __future__ import annotations

import getpass
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from api.settings import Settings
from knowledge.db import create_engine_for


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for an isolated data dir with the fast deterministic embedder.

    The environment is pointed at the same values so CLI commands (which build their own Settings)
    see them too.
    """
    monkeypatch.setenv("ANCHOR_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ANCHOR_EMBEDDER", "hash")
    monkeypatch.delenv("ANCHOR_DATABASE_URL", raising=False)
    return Settings(data_dir=data_dir, embedder="hash")


PG_USERS = ("postgres", getpass.getuser())
PG_URL = "postgresql+psycopg://{user}@127.0.0.1:5432/test"


def _reachable_pg_url() -> tuple[URL | None, str]:
    reasons: list[str] = []
    for user in dict.fromkeys(PG_USERS):
        url = make_url(PG_URL.format(user=user)).update_query_dict({"connect_timeout": "3"})
        engine = create_engine_for(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url, ""
        except OperationalError as exc:
            reasons.append(f"{user}: {str(exc.orig).strip().splitlines()[0]}")
        finally:
            engine.dispose()
    return None, "; ".join(reasons)


@pytest.fixture(scope="session")
def pg_admin_url() -> URL:
    """URL of the reachable PostgreSQL test database (skips, or fails under CI, when there is none)."""
    url, reason = _reachable_pg_url()
    if url is None:
        message = f"PostgreSQL at 127.0.0.1:5432/test is not reachable ({reason})"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI is set, so the PostgreSQL tests must run")
        pytest.skip(message)
    return url


@pytest.fixture
def pg_schema_url(pg_admin_url: URL) -> Iterator[URL]:
    """A URL whose connections use a fresh, uniquely named schema, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine_for(pg_admin_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_admin_url.update_query_dict({"options": f"-csearch_path={schema}"})
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
