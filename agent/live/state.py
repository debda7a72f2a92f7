"""Persisted room state: the plan, the status, the position in the show and the counters.

One row per room in ``room_state`` on the application's SQLAlchemy engine (SQLite or PostgreSQL), in its
own `MetaData` so the live rooms create and evolve their table independently of the catalog and the
agent; `create_room_schema` is idempotent. The director writes the row after every utterance, so a
restarted process resumes each room from the sentence after the last one that finished playing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from agent.db import UTCDateTime
from agent.live.events import Position

RoomStatus = Literal["running", "paused", "stopped"]
ROOM_STATUSES: tuple[RoomStatus, ...] = ("running", "paused", "stopped")

#: Longest room id and merchant id the table holds.
ROOM_ID_CHARS = 64

room_metadata = MetaData()

room_state = Table(
    "room_state",
    room_metadata,
    Column("room_id", String(ROOM_ID_CHARS), primary_key=True),
    Column("merchant", String(ROOM_ID_CHARS), nullable=False, index=True),
    Column("plan_json", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("loop", Integer, nullable=False, default=0),
    Column("item", Integer, nullable=False, default=0),
    Column("segment", Integer, nullable=False, default=0),
    Column("sentence", Integer, nullable=False, default=0),
    Column("counters", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The process that runs the room (host:pid:uuid) and until when its lease holds.
    Column("owner", String(200), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    # The operator's view of the running room (queue, answers, drops, latency, airtime), JSON text.
    Column("ops_json", Text, nullable=True),
)

#: ``plan_json`` of a row created only to hold a lease, before the director first saves the room.
_CLAIM_ONLY = ""


def create_room_schema(engine: Engine) -> None:
    """Create the ``room_state`` table if it does not exist yet, and add the lease and operator-view
    columns to an older one (idempotent)."""
    room_metadata.create_all(engine)
    present = {c["name"] for c in inspect(engine).get_columns("room_state")}
    stamp = "TIMESTAMP" if engine.dialect.name == "sqlite" else "TIMESTAMP WITH TIME ZONE"
    added = (("owner", "VARCHAR(200)"), ("lease_until", stamp), ("ops_json", "TEXT"))
    missing = [(n, t) for n, t in added if n not in present]
    if missing:
        with engine.begin() as conn:
            for name, kind in missing:
                conn.execute(text(f"ALTER TABLE room_state ADD COLUMN {name} {kind} NULL"))


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """One room's persisted state.

    Attributes:
        room_id: the room.
        merchant: the merchant that owns it.
        plan: the show plan as JSON data (``RoomPlan.model_dump(mode="json")``).
        status: running, paused or stopped.
        position: the next sentence to say.
        counters: utterances said, answers given, TTS failures, the last event ``seq`` …
        updated_at: when the row was last written (UTC).
        ops: the operator's view as the director last wrote it (`Director.snapshot`), {} before.
    """

    room_id: str
    merchant: str
    plan: dict[str, Any]
    status: RoomStatus
    position: Position
    counters: dict[str, int] = field(default_factory=dict)
    updated_at: datetime | None = None
    ops: dict[str, Any] = field(default_factory=dict)


def _status(value: str) -> RoomStatus:
    if value not in ROOM_STATUSES:
        raise ValueError(f"room status {value!r} is not one of {', '.join(ROOM_STATUSES)}")
    return value


def _ops(text: object) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _plan_text(plan: Mapping[str, Any]) -> str:
    # Sorted keys so the same plan always gives the same text (the director compares plans by it).
    return json.dumps(plan, ensure_ascii=False, sort_keys=True, default=str)


class RoomStateStore:
    """Reads and writes ``room_state`` rows. Every call is one short transaction.

    Calls block for one small write; the director calls them between utterances, where a few
    milliseconds do not matter.
    """

    def __init__(self, engine: Engine, *, now: Callable[[], datetime] | None = None) -> None:
        self._engine = engine
        self._schema_ready = False
        self._now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))

    @property
    def engine(self) -> Engine:
        return self._engine

    def create_schema(self) -> None:
        create_room_schema(self._engine)
        self._schema_ready = True

    def _ready(self) -> None:
        if not self._schema_ready:
            self.create_schema()

    def load(self, room_id: str) -> RoomRecord | None:
        """The room's persisted state, or None for a room never saved."""
        self._ready()
        with self._engine.connect() as conn:
            row = conn.execute(select(room_state).where(room_state.c.room_id == room_id)).mappings().first()
        return None if row is None or row["plan_json"] == _CLAIM_ONLY else self._record(row)

    def list(self, *, status: RoomStatus | None = None, merchant: str | None = None) -> list[RoomRecord]:
        """All rooms (optionally of one status or merchant), ordered by room id."""
        self._ready()
        stmt = select(room_state).where(room_state.c.plan_json != _CLAIM_ONLY).order_by(room_state.c.room_id)
        if status is not None:
            stmt = stmt.where(room_state.c.status == status)
        if merchant is not None:
            stmt = stmt.where(room_state.c.merchant == merchant)
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [self._record(r) for r in rows]

    def save(
        self,
        room_id: str,
        *,
        merchant: str,
        plan: Mapping[str, Any],
        status: RoomStatus,
        position: Position,
        counters: Mapping[str, int],
    ) -> None:
        """Insert or replace the room's whole row."""
        self._ready()
        if len(room_id) > ROOM_ID_CHARS or not room_id:
            raise ValueError(f"room id {room_id!r} must be 1-{ROOM_ID_CHARS} characters")
        values: dict[str, Any] = {
            "merchant": merchant,
            "plan_json": _plan_text(plan),
            "status": _status(status),
            **position.to_dict(),
            "counters": dict(counters),
            "updated_at": datetime.now(UTC),
        }
        with self._engine.begin() as conn:
            done = conn.execute(update(room_state).where(room_state.c.room_id == room_id).values(**values))
            if done.rowcount == 0:
                conn.execute(insert(room_state).values(room_id=room_id, **values))

    def save_progress(
        self,
        room_id: str,
        *,
        status: RoomStatus,
        position: Position,
        counters: Mapping[str, int],
        owner: str | None = None,
        ops: Mapping[str, Any] | None = None,
    ) -> bool:
        """Write status, position and counters of a room already saved; False if there is no row.

        With ``owner`` the write is fenced by the lease: it only lands while ``owner`` is the room's
        recorded owner, so a director whose lease another process has taken over cannot move the
        position under the new owner (False then too). ``ops`` replaces the operator's view when given.
        """
        self._ready()
        fence = [room_state.c.room_id == room_id]
        if owner is not None:
            fence.append(room_state.c.owner == owner)
        with self._engine.begin() as conn:
            done = conn.execute(
                update(room_state)
                .where(*fence)
                .values(
                    status=_status(status),
                    **position.to_dict(),
                    counters=dict(counters),
                    updated_at=datetime.now(UTC),
                    **({} if ops is None else {"ops_json": json.dumps(ops, ensure_ascii=False, default=str)}),
                )
            )
        return done.rowcount > 0

    def set_status(self, room_id: str, status: RoomStatus) -> bool:
        """Change only the status; False if the room has no row."""
        self._ready()
        with self._engine.begin() as conn:
            done = conn.execute(
                update(room_state)
                .where(room_state.c.room_id == room_id)
                .values(status=_status(status), updated_at=datetime.now(UTC))
            )
        return done.rowcount > 0

    def delete(self, room_id: str) -> bool:
        """Forget a room; False if it had no row."""
        self._ready()
        with self._engine.begin() as conn:
            done = conn.execute(delete(room_state).where(room_state.c.room_id == room_id))
        return done.rowcount > 0

    # -- the lease: which process runs the room ---------------------------------------------------
    def try_acquire(self, room_id: str, owner: str, ttl_s: float) -> bool:
        """Take or extend the room's lease for ``ttl_s`` seconds; True when ``owner`` now holds it.

        One conditional UPDATE: it succeeds when the room is unowned, its lease expired, or ``owner``
        already holds it. A room never saved gets a lease-only row that `load` and `list` do not show
        until the director saves the room.
        """
        self._ready()
        now = self._now()
        until = now + timedelta(seconds=ttl_s)
        c = room_state.c
        free = or_(c.owner.is_(None), c.owner == owner, c.lease_until.is_(None), c.lease_until < now)
        with self._engine.begin() as conn:
            done = conn.execute(
                update(room_state).where(c.room_id == room_id, free).values(owner=owner, lease_until=until)
            )
            if done.rowcount > 0:
                return True
            if conn.execute(select(c.room_id).where(c.room_id == room_id)).first() is not None:
                return False
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(room_state).values(
                        room_id=room_id,
                        merchant="",
                        plan_json=_CLAIM_ONLY,
                        status="stopped",
                        counters={},
                        updated_at=now,
                        owner=owner,
                        lease_until=until,
                    )
                )
        except IntegrityError:  # another process inserted the room at the same moment
            return False
        return True

    def renew(self, room_id: str, owner: str, ttl_s: float) -> bool:
        """Extend the lease ``owner`` holds; False when it no longer holds it (another process took over)."""
        self._ready()
        until = self._now() + timedelta(seconds=ttl_s)
        with self._engine.begin() as conn:
            done = conn.execute(
                update(room_state)
                .where(room_state.c.room_id == room_id, room_state.c.owner == owner)
                .values(lease_until=until)
            )
        return done.rowcount > 0

    def release(self, room_id: str, owner: str) -> None:
        """Give up the lease if ``owner`` holds it (another holder's lease is left alone)."""
        self._ready()
        with self._engine.begin() as conn:
            conn.execute(
                update(room_state)
                .where(room_state.c.room_id == room_id, room_state.c.owner == owner)
                .values(owner=None, lease_until=None)
            )

    def lease_holder(self, room_id: str) -> str | None:
        """The process whose lease on the room has not expired, or None."""
        self._ready()
        c = room_state.c
        with self._engine.connect() as conn:
            row = conn.execute(select(c.owner, c.lease_until).where(c.room_id == room_id)).first()
        if row is None or row.owner is None or row.lease_until is None or row.lease_until < self._now():
            return None
        return str(row.owner)

    @staticmethod
    def plan_text(plan: Mapping[str, Any]) -> str:
        """The canonical text a plan is stored as (two plans are the same plan when these are equal)."""
        return _plan_text(plan)

    @staticmethod
    def _record(row: RowMapping) -> RoomRecord:
        counters = row["counters"] or {}
        return RoomRecord(
            room_id=str(row["room_id"]),
            merchant=str(row["merchant"]),
            plan=json.loads(row["plan_json"]),
            status=_status(str(row["status"])),
            position=Position(int(row["loop"]), int(row["item"]), int(row["segment"]), int(row["sentence"])),
            counters={str(k): int(v) for k, v in dict(counters).items()},
            updated_at=row["updated_at"],
            ops=_ops(row.get("ops_json")),
        )
