"""The room plan (排品): which products a live room presents, in which order, and how.

A plan is written by the merchant in YAML or JSON (or sent to the API as JSON) and validated here with
messages that name the place of the problem ("room.yaml: items.2.link: link 3 is used twice (items.0 and
items.2)"). `validate_against` then checks the plan against the merchant's catalog.

Example (YAML)::

    room_id: demo-room
    merchant: demo
    language: zh
    items:
      - link: 1
        sku: ZH-AP-001
        pinned_lines:
          call_to_action: ["喜欢的宝宝拍1号链接，记得选好颜色和尺码。"]
      - {link: 2, sku: ZH-BE-001, segments: [hook, intro, price_offer, call_to_action]}
    fillers: ["欢迎新进来的宝宝，点点关注不迷路。"]
    interrupt: at_pause        # or sentence_end: answers wait for the sentence on air to finish
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from knowledge.models import Product

SegmentKind = Literal["hook", "intro", "selling_points", "specs", "price_offer", "call_to_action"]

#: Every segment kind, in the order a product is presented when a plan item does not say otherwise.
SEGMENT_KINDS: tuple[SegmentKind, ...] = get_args(SegmentKind)

_ROOM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MAX_MERCHANT_ID = 64


class PlanError(ValueError):
    """A plan that cannot be used; `problems` lists every problem found, each naming its place."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class ProductLookup(Protocol):
    """What plan validation and script building need from the catalog (`knowledge.store.CatalogStore`)."""

    def get_product(self, merchant: str, sku: str) -> Product | None: ...


class AckPolicy(BaseModel):
    """How the host acknowledges room events: welcomes, thanks, and how often at most."""

    model_config = ConfigDict(extra="forbid")

    welcome: bool = True
    thanks: bool = True
    min_interval_s: float = Field(default=20.0, ge=0)
    max_per_minute: int = Field(default=3, ge=0)


class AirtimePolicy(BaseModel):
    """How much of the room's airtime the selling keeps however busy the chat is."""

    model_config = ConfigDict(extra="forbid")

    #: The script's least share of spoken time over any `window_s` (answers beyond it wait).
    script_share: float = Field(default=0.4, ge=0.0, le=0.95)
    window_s: float = Field(default=120.0, gt=10.0, le=3600.0)
    #: At most this many answers in a row before a script sentence (0: no limit but the share).
    max_answers_in_row: int = Field(default=3, ge=0, le=50)
    #: Spoken answers in a live room keep to this many sentences (the card and bubble show the rest).
    answer_sentences: int = Field(default=1, ge=1, le=10)
    #: An answer identical to one spoken this recently is shown (bubble) without being spoken again.
    repeat_quiet_s: float = Field(default=60.0, ge=0.0, le=3600.0)
    #: A question group that has waited this many seconds for the host's voice is answered on screen
    #: (the bubble carries the whole answer) instead of waiting longer; 0 keeps every answer for the voice.
    screen_after_s: float = Field(default=2.5, ge=0.0, le=600.0)


_HOST_SET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class HostConfig(BaseModel):
    """The host figure on the room page and in the programme."""

    model_config = ConfigDict(extra="forbid")

    #: Show the host figure at all.
    show: bool = True
    #: A layer set imported with `anchor host import NAME FOLDER` (None: our default host).
    layers: str | None = None
    scale: float = Field(default=1.0, ge=0.3, le=2.0)
    position: Literal["right", "left"] = "right"

    @field_validator("layers")
    @classmethod
    def _layers_named(cls, value: str | None) -> str | None:
        if value is not None and not _HOST_SET.match(value):
            raise ValueError(
                f"host layer set {value!r} must be the name it was imported under (letters, digits, '_', '-'); "
                "import a folder of layers with `anchor host import NAME FOLDER`"
            )
        return value


Platform = Literal["bilibili", "tiktok"]
PLATFORMS: tuple[str, ...] = ("bilibili", "tiktok")
_SECRET_KEYS = frozenset(
    {"cookie", "cookies", "sessdata", "session_id", "sessionid", "token", "api_key", "key"}
)


class SourceConfig(BaseModel):
    """Where a room's chat comes from when it is streamed on a platform: ``{platform: bilibili, room: 123456}``
    (the number in live.bilibili.com/123456) or ``{platform: tiktok, room: "@handle"}``. Credentials are never
    part of a plan: they come from settings (docs/connectors.md)."""

    model_config = ConfigDict(extra="forbid")

    platform: Platform
    room: str = Field(min_length=1, max_length=64)

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        if isinstance(data, dict):
            secret = sorted(k for k in data if str(k).lower() in _SECRET_KEYS)
            if secret:
                raise ValueError(
                    f"{', '.join(secret)}: credentials do not belong in a plan; set them in the server's settings "
                    "(ANCHOR_BILIBILI_SESSDATA, ANCHOR_TIKTOK_SIGN_API_KEY …, see docs/connectors.md)"
                )
            if isinstance(data.get("room"), int) and not isinstance(data.get("room"), bool):
                data = {**data, "room": str(data["room"])}
        return data

    @model_validator(mode="after")
    def _room_fits_platform(self) -> SourceConfig:
        room = self.room.strip()
        if self.platform == "bilibili" and (not room.isdigit() or int(room) <= 0):
            raise ValueError(f"a Bilibili room is the number in live.bilibili.com/NUMBER, got {self.room!r}")
        if self.platform == "tiktok" and not re.fullmatch(r"@?[A-Za-z0-9_.]{2,24}", room):
            raise ValueError(f"a TikTok room is the account's @handle, got {self.room!r}")
        self.room = room
        return self

    @classmethod
    def parse(cls, text: str) -> SourceConfig:
        """``bilibili:123456`` or ``tiktok:@handle`` (the CLI's --source).

        Raises:
            ValueError: the text names no known platform or an unusable room.
        """
        platform, _, room = text.partition(":")
        platform = platform.strip().lower()
        if platform not in PLATFORMS or not room.strip():
            raise ValueError(
                f"--source {text!r}: use PLATFORM:ROOM with a platform of {', '.join(PLATFORMS)}"
            )
        try:
            return cls.model_validate({"platform": platform, "room": room.strip()})
        except ValidationError as exc:
            raise ValueError(
                f"--source {text!r}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}"
            ) from None

    def label(self) -> str:
        return f"{self.platform}:{self.room}"


class HostSets(Protocol):
    """Where named host layer sets are checked (`agent.live.host.HostLibrary`)."""

    def problems(self, merchant: str, name: str) -> list[str]: ...


class PlanItem(BaseModel):
    """One product in the room: its link number, sku, segments and the merchant's pinned lines.

    `segments` None means all six kinds in the standard order. Pinned lines replace the generated lines
    of their segment once they pass the compliance and grounding checks (see `agent.live.script`).
    """

    model_config = ConfigDict(extra="forbid")

    link: int = Field(ge=1, le=999)
    sku: str = Field(min_length=1, max_length=200)
    segments: list[SegmentKind] | None = None
    pinned_lines: dict[SegmentKind, list[str]] = Field(default_factory=dict)

    @field_validator("sku")
    @classmethod
    def _sku_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("sku is blank")
        return value.strip()

    @field_validator("segments")
    @classmethod
    def _segments_unique(cls, value: list[SegmentKind] | None) -> list[SegmentKind] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("segments is empty; leave it out to use all six segments")
        seen: set[str] = set()
        for kind in value:
            if kind in seen:
                raise ValueError(f"segment {kind!r} is listed twice")
            seen.add(kind)
        return value

    @model_validator(mode="after")
    def _pinned_fit_segments(self) -> PlanItem:
        kinds = self.segment_kinds()
        for kind, lines in self.pinned_lines.items():
            if kind not in kinds:
                raise ValueError(
                    f"pinned lines for segment {kind!r}, which this item does not present "
                    f"(segments: {', '.join(kinds)})"
                )
            for number, line in enumerate(lines):
                if not line.strip():
                    raise ValueError(f"pinned line {number} of segment {kind!r} is blank")
        return self

    def segment_kinds(self) -> tuple[SegmentKind, ...]:
        """The segments presented for this item, in order."""
        return SEGMENT_KINDS if self.segments is None else tuple(self.segments)


class RoomPlan(BaseModel):
    """A live room's plan: the merchant, language, voice, the products in order, fillers and acks."""

    model_config = ConfigDict(extra="forbid")

    room_id: str
    merchant: str
    title: str = ""
    language: Literal["zh", "en"] = "zh"
    voice: str | None = None
    #: The host's speaking rate against the engine's default (espeak-ng Mandarin: 5.4 characters a second).
    speech_rate: float = Field(default=1.0, ge=0.5, le=2.0)
    loop: bool = True
    items: list[PlanItem] = Field(min_length=1)
    fillers: list[str] = Field(default_factory=list)
    ack: AckPolicy = Field(default_factory=AckPolicy)
    variant_seed: int = 0
    #: Where a ready answer may interrupt a script sentence: "at_pause" (the next pause in its audio;
    #: the sentence is said again, whole, after the answer) or "sentence_end" (it always finishes).
    interrupt: Literal["at_pause", "sentence_end"] = "at_pause"
    airtime: AirtimePolicy = Field(default_factory=AirtimePolicy)
    host: HostConfig = Field(default_factory=HostConfig)
    #: The platform the room's chat is read from (None: our own room page and API only).
    source: SourceConfig | None = None

    @field_validator("room_id")
    @classmethod
    def _room_id_usable(cls, value: str) -> str:
        if not _ROOM_ID.match(value):
            raise ValueError(
                f"room id {value!r} must be 1 to 64 letters, digits, '_', '-' or '.', starting with a "
                "letter or digit"
            )
        return value

    @field_validator("merchant")
    @classmethod
    def _merchant_usable(cls, value: str) -> str:
        if not value.strip() or len(value) > _MAX_MERCHANT_ID:
            raise ValueError(f"merchant id must be 1 to {_MAX_MERCHANT_ID} characters, got {value!r}")
        return value

    @field_validator("fillers")
    @classmethod
    def _fillers_not_blank(cls, value: list[str]) -> list[str]:
        for number, line in enumerate(value):
            if not line.strip():
                raise ValueError(f"filler {number} is blank")
        return value

    @model_validator(mode="after")
    def _links_unique(self) -> RoomPlan:
        first_use: dict[int, int] = {}
        problems: list[str] = []
        for index, item in enumerate(self.items):
            if item.link in first_use:
                problems.append(
                    f"link {item.link} is used twice (items.{first_use[item.link]} and items.{index})"
                )
            else:
                first_use[item.link] = index
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> RoomPlan:
        """Read a plan from a `.yaml`/`.yml` or `.json` file.

        Raises:
            PlanError: the file is missing, not parseable, or not a valid plan; each problem names the
                file and the field.
        """
        file = Path(path)
        try:
            raw = file.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise PlanError([f"{file}: no such file"]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PlanError([f"{file}: cannot be read as UTF-8 text ({exc})"]) from None
        return cls.parse_text(raw, source=str(file), json_only=file.suffix.lower() == ".json")

    @classmethod
    def parse_text(cls, text: str, *, source: str = "plan", json_only: bool = False) -> RoomPlan:
        """Parse plan text (JSON, or YAML which also reads JSON) and validate it."""
        data = cls.read_data(text, source=source, json_only=json_only)
        if not isinstance(data, dict):
            raise PlanError([f"{source}: a plan is a mapping with room_id, merchant and items"])
        return cls.from_data(data, source=source)

    @staticmethod
    def read_data(text: str, *, source: str = "plan", json_only: bool = False) -> Any:
        """Plan text (JSON, or YAML which also reads JSON) as data, not yet validated.

        Raises:
            PlanError: the text is not JSON/YAML; the problem names the line and column.
        """
        try:
            data = json.loads(text) if json_only else yaml.safe_load(text)
        except json.JSONDecodeError as exc:
            raise PlanError(
                [f"{source}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}"]
            ) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
            raise PlanError(
                [f"{source}: {where}invalid YAML: {getattr(exc, 'problem', None) or exc}"]
            ) from None
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any], *, source: str = "plan") -> RoomPlan:
        """`model_validate` with the errors turned into a `PlanError` of readable problems."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise PlanError([_problem(source, err) for err in exc.errors()]) from None

    # -- queries ---------------------------------------------------------------------------------
    def link_map(self) -> dict[int, str]:
        """Link number → sku, as viewers refer to products ("3号链接")."""
        return {item.link: item.sku for item in self.items}

    def item_for_link(self, link: int) -> PlanItem | None:
        return next((item for item in self.items if item.link == link), None)

    def validate_against(self, store: ProductLookup, hosts: HostSets | None = None) -> list[str]:
        """Problems between this plan and the merchant's catalog (unknown skus) and, given ``hosts``, its
        host layer set (missing or unusable); empty when usable."""
        problems: list[str] = []
        if hosts is not None and self.host.layers is not None:
            problems += [f"host.layers: {p}" for p in hosts.problems(self.merchant, self.host.layers)]
        for index, item in enumerate(self.items):
            if store.get_product(self.merchant, item.sku) is None:
                problems.append(
                    f"items.{index} (link {item.link}): sku {item.sku!r} is not in merchant "
                    f"{self.merchant!r}'s catalog"
                )
        return problems


def _problem(source: str, error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "literal_error" and ("segments" in location or "pinned_lines" in location):
        message = f"unknown segment kind {error.get('input')!r}; use one of {', '.join(SEGMENT_KINDS)}"
    return f"{source}: {location}: {message}" if location else f"{source}: {message}"


__all__ = [
    "SEGMENT_KINDS",
    "AckPolicy",
    "AirtimePolicy",
    "HostConfig",
    "HostSets",
    "PlanError",
    "PlanItem",
    "ProductLookup",
    "RoomPlan",
    "SegmentKind",
]
