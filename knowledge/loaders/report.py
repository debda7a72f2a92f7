"""Collecting problems while a loader reads one file."""

from __future__ import annotations

from knowledge.models import Problem


class LoaderError(Exception):
    """A loader was called wrongly (a programming error), never raised for bad file content."""


class Reporter:
    """Gathers the problems of one file, naming the file the way the merchant knows it."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def error(self, message: str, row: int | None = None, column: str | None = None) -> None:
        self.problems.append(Problem(self.file, message, row, column, "error"))

    def warning(self, message: str, row: int | None = None, column: str | None = None) -> None:
        self.problems.append(Problem(self.file, message, row, column, "warning"))

    def error_rows(self) -> set[int]:
        """Rows with at least one error."""
        return {p.row for p in self.problems if p.severity == "error" and p.row is not None}
