"""Saved room plans: each merchant's plans in the database, every save a new version.

One row per version in ``room_plans`` (``merchant_id``, ``room_id``, ``version``) on the application's
SQLAlchemy engine (SQLite or PostgreSQL), in its own `MetaData` like the other components' tables;
`create_plan_schema` is idempotent. The plan is stored as the JSON of a validated `RoomPlan`
(``model_dump(mode="json")``), so what is read back validates again. Versions count from 1 per room id;
a save never changes an older version, and deleting a plan removes all its versions. Every query filters
by merchant: another merchant's plan is simply "not found".
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from agent.db import UTCDateTime, utcnow
from agent.live.plan import RoomPlan

#: Longest merchant and room id the table holds (the ids' own rules allow 64).
ID_CHARS = 64
#: Longest saved-by name (an API key's name).
AUTHOR_CHARS = 128
#: Attempts of one save when a concurrent save took the same version number first.
_ATTEMPTS = 4

plan_metadata = MetaData()

room_plans = Table(
    "room_plans",
    plan_metadata,
    Column("merchant_id", String(ID_CHARS), primary_key=True),
    Column("room_id", String(ID_CHARS), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("title", String(500), nullable=False, default=""),
    Column("plan_json", Text, nullable=False),
    Column("saved_by", String(AUTHOR_CHARS), nullable=False, default=""),
    Column("created_at", UTCDateTime(), nullable=False),
)


def create_plan_schema(engine: Engine) -> None:
    """Create the ``room_plans`` table if it does not exist yet (idempotent)."""
    plan_metadata.create_all(engine)


class PlanNotFoundError(LookupError):
    """No saved plan (or no such version) with this room id for this merchant."""

    def __init__(self, merchant: str, room_id: str, version: int | None = None) -> None:
        what = f"plan {room_id!r}" if version is None else f"version {version} of plan {room_id!r}"
        super().__init__(f"merchant {merchant!r} has no {what}")
        self.merchant = merchant
        self.room_id = room_id
        self.version = version


class PlanExistsError(ValueError):
    """A plan with this room id is already saved for this merchant (create it once, then save versions)."""

    def __init__(self, merchant: str, room_id: str, version: int) -> None:
        super().__init__(
            f"merchant {merchant!r} already has a plan {room_id!r} (version {version}): "
            "save a new version with PUT, or choose another room id"
        )
        self.version = version


class VersionConflictError(ValueError):
    """The plan changed since the version the caller edited (``base_version``)."""

    def __init__(self, room_id: str, base: int, latest: int) -> None:
        super().__init__(
            f"plan {room_id!r} is at version {latest}, not {base}: someone saved it meanwhile; "
            "reload it (GET) and apply your changes again"
        )
        self.latest = latest


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """One saved version of a plan."""

    merchant: str
    room_id: str
    version: int
    plan: RoomPlan
    saved_by: str
    created_at: datetime

    def summary(self) -> dict[str, Any]:
        return {
            "room_id": self.room_id,
            "version": self.version,
            "title": self.plan.title,
            "language": self.plan.language,
            "items": len(self.plan.items),
            "saved_by": self.saved_by,
            "saved_at": self.created_at.isoformat(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "merchant": self.merchant, "plan": self.plan.model_dump(mode="json")}

    def to_yaml(self) -> str:
        """The plan as YAML (defaults left out), under a comment saying which plan and version it is;
        `RoomPlan.parse_text` reads it back to the same plan."""
        data = self.plan.model_dump(mode="json", exclude_defaults=True)
        data = {"room_id": data.pop("room_id"), "merchant": data.pop("merchant"), **data}
        head = (
            f"# live-anchor room plan {self.room_id}, version {self.version} "
            f"({self.created_at:%Y-%m-%d %H:%M} UTC)\n"
            "# Check it: anchor script --room FILE --review; save it: anchor room plans import FILE\n"
        )
        return head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


class PlanStore:
    """Reads and writes saved plans; the table is created on first use. Every call is one transaction."""

    def __init__(self, engine: Engine, *, now: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.now = now
        self._ready = False

    def _schema(self) -> Engine:
        if not self._ready:
            create_plan_schema(self.engine)
            self._ready = True
        return self.engine

    # -- writing -----------------------------------------------------------------------------------
    def create(self, plan: RoomPlan, *, saved_by: str = "") -> SavedPlan:
        """Save `plan` as version 1 of a new plan.

        Raises:
            PlanExistsError: the merchant already has a plan with this room id.
        """
        latest = self.latest_version(plan.merchant, plan.room_id)
        if latest:
            raise PlanExistsError(plan.merchant, plan.room_id, latest)
        try:
            return self._insert(plan, 1, saved_by)
        except IntegrityError:
            raise PlanExistsError(
                plan.merchant, plan.room_id, self.latest_version(plan.merchant, plan.room_id)
            ) from None

    def save(
        self, plan: RoomPlan, *, saved_by: str = "", base_version: int | None = None, create: bool = False
    ) -> SavedPlan:
        """Save `plan` as the next version of its plan.

        Args:
            plan: the validated plan (its merchant and room id name the plan).
            saved_by: who saved it (an API key's name).
            base_version: the version the caller edited; a later one saved meanwhile is a conflict.
            create: save version 1 when the plan does not exist yet (an import), instead of raising.

        Raises:
            PlanNotFoundError: no such plan and `create` is False.
            VersionConflictError: `base_version` is not the latest version.
        """
        for _attempt in range(_ATTEMPTS):
            latest = self.latest_version(plan.merchant, plan.room_id)
            if not latest and not create:
                raise PlanNotFoundError(plan.merchant, plan.room_id)
            if base_version is not None and base_version != latest:
                raise VersionConflictError(plan.room_id, base_version, latest)
            try:
                return self._insert(plan, latest + 1, saved_by)
            except IntegrityError:
                continue  # a concurrent save took this version number: read the latest again
        raise VersionConflictError(
            plan.room_id, base_version or 0, self.latest_version(plan.merchant, plan.room_id)
        )

    def _insert(self, plan: RoomPlan, version: int, saved_by: str) -> SavedPlan:
        created = self.now()
        data = plan.model_dump(mode="json")
        with self._schema().begin() as conn:
            conn.execute(
                insert(room_plans).values(
                    merchant_id=plan.merchant,
                    room_id=plan.room_id,
                    version=version,
                    title=plan.title[:500],
                    plan_json=json.dumps(data, ensure_ascii=False),
                    saved_by=saved_by[:AUTHOR_CHARS],
                    created_at=created,
                )
            )
        return SavedPlan(plan.merchant, plan.room_id, version, plan, saved_by[:AUTHOR_CHARS], created)

    def delete(self, merchant: str, room_id: str) -> int:
        """Delete every version of the plan; how many were deleted (0: there was no such plan)."""
        with self._schema().begin() as conn:
            done = conn.execute(
                delete(room_plans).where(
                    room_plans.c.merchant_id == merchant, room_plans.c.room_id == room_id
                )
            )
        return int(done.rowcount or 0)

    # -- reading -----------------------------------------------------------------------------------
    def latest_version(self, merchant: str, room_id: str) -> int:
        """The plan's latest version number, 0 when there is no such plan."""
        stmt = select(func.max(room_plans.c.version)).where(
            room_plans.c.merchant_id == merchant, room_plans.c.room_id == room_id
        )
        with self._schema().connect() as conn:
            value = conn.execute(stmt).scalar()
        return int(value or 0)

    def get(self, merchant: str, room_id: str, version: int | None = None) -> SavedPlan:
        """The plan's latest version, or version `version`.

        Raises:
            PlanNotFoundError: no such plan or version.
        """
        stmt = select(room_plans).where(room_plans.c.merchant_id == merchant, room_plans.c.room_id == room_id)
        if version is None:
            stmt = stmt.order_by(room_plans.c.version.desc()).limit(1)
        else:
            stmt = stmt.where(room_plans.c.version == version)
        with self._schema().connect() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            raise PlanNotFoundError(merchant, room_id, version)
        return _saved(row)

    def versions(self, merchant: str, room_id: str) -> builtins.list[SavedPlan]:
        """Every version of the plan, newest first.

        Raises:
            PlanNotFoundError: no such plan.
        """
        stmt = (
            select(room_plans)
            .where(room_plans.c.merchant_id == merchant, room_plans.c.room_id == room_id)
            .order_by(room_plans.c.version.desc())
        )
        with self._schema().connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        if not rows:
            raise PlanNotFoundError(merchant, room_id)
        return [_saved(row) for row in rows]

    def list(self, merchant: str) -> builtins.list[SavedPlan]:
        """The latest version of each of the merchant's plans, by room id."""
        newest = (
            select(room_plans.c.room_id, func.max(room_plans.c.version).label("version"))
            .where(room_plans.c.merchant_id == merchant)
            .group_by(room_plans.c.room_id)
            .subquery()
        )
        stmt = (
            select(room_plans)
            .join(
                newest,
                and_(room_plans.c.room_id == newest.c.room_id, room_plans.c.version == newest.c.version),
            )
            .where(room_plans.c.merchant_id == merchant)
            .order_by(room_plans.c.room_id)
        )
        with self._schema().connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [_saved(row) for row in rows]


def _saved(row: RowMapping) -> SavedPlan:
    plan = RoomPlan.model_validate(json.loads(row["plan_json"]))
    return SavedPlan(
        merchant=row["merchant_id"],
        room_id=row["room_id"],
        version=int(row["version"]),
        plan=plan,
        saved_by=row["saved_by"] or "",
        created_at=row["created_at"],
    )


__all__ = [
    "PlanExistsError",
    "PlanNotFoundError",
    "PlanStore",
    "SavedPlan",
    "VersionConflictError",
    "create_plan_schema",
    "room_plans",
]
