"""Shared fixtures: an isolated data directory and settings that use the hash embedder."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings


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
