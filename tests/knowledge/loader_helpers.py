"""Small helpers for the loader tests."""

from __future__ import annotations

from pathlib import Path

from knowledge.models import Problem


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def places(problems: list[Problem]) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.column) for p in problems]
