"""Answer-quality datasets: the case schema, loading with clear errors, and checks against a catalog.

A dataset is JSONL, one case per line. A case is a conversation (one message in ``text``, or several in
``turns`` of which the last is evaluated) on a channel, in a language, with what must hold about the
answer in ``expect``. docs/evals.md documents every field. Facts name a sku and a kind ("price",
"stock_state" …), never a literal answer: the checker reads the expected value from the store, so the
expectation follows the catalog when it changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.router import AfterSalesCategory, Route

Lang = Literal["zh", "en"]
Slice = Literal["zh", "en", "cross"]
ChannelName = Literal["chat", "live"]
#: The router's routes, plus "clarify" (the bot asks whether a message is about a product or an order).
RouteName = Route | Literal["clarify"]
CategoryName = AfterSalesCategory
FactKind = Literal[
    "price",
    "list_price",
    "stock_state",
    "variant_available",
    "variant_sold_out",
    "attribute",
    "option_values",
]

_CASE_ID = r"^[A-Za-z0-9_.:-]{1,48}$"


class RoomSpec(BaseModel):
    """A live room's link numbers and the product on screen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    link_map: dict[int, str] = Field(default_factory=dict)
    current_sku: str | None = None

    @field_validator("link_map")
    @classmethod
    def _positive_links(cls, value: dict[int, str]) -> dict[int, str]:
        for number in value:
            if number < 1:
                raise ValueError(f"link number {number} must be 1 or more")
        return value


class FactSpec(BaseModel):
    """One fact the answer must state correctly, checked against the store.

    `field` names the attribute for kind "attribute" and the option ("颜色", "size") for kind
    "option_values" (the answer names every value of that option); `value` names an option value ("XL",
    "黑色") for the variant kinds when `sku` is the parent product.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FactKind
    sku: str = Field(min_length=1)
    field: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _needs(self) -> FactSpec:
        if self.kind == "attribute" and not self.field:
            raise ValueError("a fact of kind 'attribute' needs 'field' (the attribute's name)")
        if self.kind == "option_values" and not self.field:
            raise ValueError("a fact of kind 'option_values' needs 'field' (the option's name, e.g. 颜色)")
        return self


class Expect(BaseModel):
    """What must hold about the evaluated answer. Every key is optional; absent keys are not checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    route: RouteName | None = None
    product: str | None = None
    facts: list[FactSpec] = Field(default_factory=list)
    refuse: bool | None = None
    escalate: bool | None = None
    category: CategoryName | None = None
    clarify: bool | None = None
    must_not_contain: list[str] = Field(default_factory=list)
    must_contain_any: list[str] = Field(default_factory=list)


class Case(BaseModel):
    """One evaluation case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_CASE_ID)
    lang: Lang
    slice: Slice
    channel: ChannelName = "chat"
    text: str | None = None
    turns: list[str] | None = None
    room: RoomSpec | None = None
    focus_sku: str | None = None
    user_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    notes: str = ""
    expect: Expect

    @model_validator(mode="after")
    def _one_conversation(self) -> Case:
        if (self.text is None) == (self.turns is None):
            raise ValueError("give exactly one of 'text' (one message) or 'turns' (a list of messages)")
        if self.turns is not None and not self.turns:
            raise ValueError("'turns' must hold at least one message")
        if any(not t.strip() for t in self.messages):
            raise ValueError("messages must not be empty")
        return self

    @property
    def messages(self) -> list[str]:
        """The user messages in order; the last one is evaluated."""
        return list(self.turns) if self.turns is not None else [self.text or ""]

    @property
    def question(self) -> str:
        return self.messages[-1]

    def skus(self) -> list[str]:
        """Every sku the case names (product, facts, room, focus)."""
        found: list[str] = []
        if self.expect.product:
            found.append(self.expect.product)
        found += [f.sku for f in self.expect.facts]
        if self.room is not None:
            found += list(self.room.link_map.values())
            if self.room.current_sku:
                found.append(self.room.current_sku)
        if self.focus_sku:
            found.append(self.focus_sku)
        return found


@dataclass(frozen=True, slots=True)
class DatasetProblem:
    """A problem in a dataset file, precise enough to fix: file, line, field and what is wrong."""

    file: str
    line: int
    message: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}"
        if self.field:
            where += f", {self.field}"
        return f"{where}: {self.message}"


class DatasetError(ValueError):
    """A dataset that cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: Sequence[DatasetProblem]) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:20])
        more = f"\n  … and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} problem(s) in the dataset:\n{shown}{more}")


@dataclass(frozen=True, slots=True)
class LoadedCase:
    """A case with the file and line it came from."""

    case: Case
    file: str
    line: int


def _problems_of(error: ValidationError, file: str, line: int) -> list[DatasetProblem]:
    out: list[DatasetProblem] = []
    for err in error.errors():
        where = ".".join(str(p) for p in err.get("loc", ()))
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            message = "unknown field (see docs/evals.md for the case schema)"
        out.append(DatasetProblem(file, line, message, where or None))
    return out


def parse_lines(lines: Iterable[str], file: str) -> tuple[list[LoadedCase], list[DatasetProblem]]:
    """Parse JSONL text into cases; problems are collected, never raised."""
    cases: list[LoadedCase] = []
    problems: list[DatasetProblem] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("//"):
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(DatasetProblem(file, number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(data, dict):
            problems.append(DatasetProblem(file, number, "each line must be a JSON object"))
            continue
        try:
            cases.append(LoadedCase(Case.model_validate(data), file, number))
        except ValidationError as exc:
            problems.extend(_problems_of(exc, file, number))
    return cases, problems


def load_cases(paths: Sequence[Path]) -> list[LoadedCase]:
    """Load and validate dataset files; raise `DatasetError` listing every problem (duplicate ids too)."""
    cases: list[LoadedCase] = []
    problems: list[DatasetProblem] = []
    for path in paths:
        if not path.is_file():
            problems.append(DatasetProblem(str(path), 0, "file not found"))
            continue
        with path.open(encoding="utf-8") as fh:
            found, bad = parse_lines(fh, str(path))
        cases += found
        problems += bad
    seen: dict[str, LoadedCase] = {}
    for loaded in cases:
        first = seen.get(loaded.case.id)
        if first is not None:
            problems.append(
                DatasetProblem(
                    loaded.file,
                    loaded.line,
                    f"duplicate case id {loaded.case.id!r} (first at {first.file} line {first.line})",
                    "id",
                )
            )
        else:
            seen[loaded.case.id] = loaded
    if problems:
        raise DatasetError(problems)
    return cases


def check_skus(cases: Sequence[LoadedCase], known_skus: set[str]) -> list[DatasetProblem]:
    """Problems for every sku a case names that the catalog does not hold (product or variant sku)."""
    problems: list[DatasetProblem] = []
    for loaded in cases:
        for sku in loaded.case.skus():
            if sku not in known_skus:
                problems.append(
                    DatasetProblem(loaded.file, loaded.line, f"sku {sku!r} is not in the catalog", "sku")
                )
    return problems
