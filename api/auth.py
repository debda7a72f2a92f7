"""API keys and who may do what: the key store, the `Principal` of a request and the role dependencies.

A key is ``ak_`` followed by 43 random URL-safe characters. Only an HMAC-SHA256 digest of it, keyed with
the deployment's pepper (``Settings.secret_key``), is stored, with a short display prefix so people can
tell keys apart. Looking a key up by its digest needs no secret comparison in Python at all, and a
database leak alone does not let anyone recompute a key's digest. Changing the pepper invalidates every
key. Keys are never logged.

Roles: ``admin`` acts for every merchant; ``merchant`` for its own merchant (catalog, tickets,
conversations); ``agent`` for its own merchant's tickets and conversations. Routes declare what they need
with the aliases below (`AdminKey`, `OwnerKey`, `StaffKey`) or ``require_role(*roles)``; a route whose
path has a ``{merchant}`` parameter is also checked against the key's merchant.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast, get_args

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Column, Engine, Index, MetaData, String, Table, or_, select, update
from sqlalchemy.engine import Row

from agent.db import UTCDateTime, utcnow
from api.settings import Settings

if TYPE_CHECKING:
    from api.services import Services

Role = Literal["admin", "merchant", "agent"]
ROLES: tuple[str, ...] = get_args(Role)

KEY_SCHEME = "ak_"
#: Characters of the key shown in listings: the scheme and 8 random characters.
DISPLAY_PREFIX_CHARS = len(KEY_SCHEME) + 8
MAX_NAME_CHARS = 128
#: Longest string taken for a key at all; anything longer is refused before hashing.
MAX_KEY_CHARS = 256
PLACEHOLDER_SECRET = "change-me"
MIN_PRODUCTION_SECRET_CHARS = 32
#: `last_used_at` is written at most this often per key, not on every request.
DEFAULT_TOUCH_INTERVAL_SECONDS = 60.0

key_metadata = MetaData()

api_keys = Table(
    "api_keys",
    key_metadata,
    Column("id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("role", String(16), nullable=False),
    Column("merchant_id", String(64), nullable=True),
    Column("name", String(MAX_NAME_CHARS), nullable=False, default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Index("ix_api_keys_prefix", "prefix"),
    Index("ix_api_keys_merchant", "merchant_id"),
)


def create_key_schema(engine: Engine) -> None:
    """Create the ``api_keys`` table if it does not exist yet (idempotent)."""
    key_metadata.create_all(engine)


def hash_key(secret: str, pepper: str) -> str:
    """The stored digest of a key: HMAC-SHA256 keyed with the deployment's pepper, hex encoded."""
    return hmac.new(pepper.encode("utf-8"), secret.encode("utf-8"), hashlib.sha256).hexdigest()


class ApiKeyError(ValueError):
    """A key request with invalid input (unknown role, a merchant key without a merchant …)."""


class ApiKeyNotFoundError(LookupError):
    """No key with this id or prefix."""


class InsecureSecretKeyError(RuntimeError):
    """Production settings with the placeholder (or a too short) ``secret_key``."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    id: str
    prefix: str
    role: Role
    merchant: str | None
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "id": self.id,
            "prefix": self.prefix,
            "role": self.role,
            "merchant": self.merchant,
            "name": self.name,
            "created_at": iso(self.created_at),
            "revoked_at": iso(self.revoked_at),
            "last_used_at": iso(self.last_used_at),
        }


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key and its secret, which exists only here: show it once, never store or log it."""

    key: ApiKey
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, role, merchant (None for admin) and name (its prefix if unnamed)."""

    key_id: str
    role: Role
    merchant: str | None
    name: str

    def can_act_for(self, merchant: str) -> bool:
        return self.role == "admin" or self.merchant == merchant


def _to_key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        prefix=row.prefix,
        role=cast(Role, row.role),
        merchant=row.merchant_id,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _check_merchant(merchant: str) -> str:
    # api.services imports this module, so its validator is imported when first needed.
    from api.services import InvalidMerchantError, check_merchant_id

    try:
        return check_merchant_id(merchant)
    except InvalidMerchantError as exc:
        raise ApiKeyError(str(exc)) from exc


class KeyStore:
    """API keys on the shared engine; the ``api_keys`` table is created on first use.

    Args:
        engine: the service's engine.
        pepper: the deployment's secret (``Settings.secret_key``); it keys every digest.
        now: the clock (aware datetimes).
        touch_interval_seconds: minimum time between two writes of a key's ``last_used_at``.
    """

    def __init__(
        self,
        engine: Engine,
        pepper: str,
        *,
        now: Callable[[], datetime] = utcnow,
        touch_interval_seconds: float = DEFAULT_TOUCH_INTERVAL_SECONDS,
    ) -> None:
        if not pepper:
            raise ValueError("the key pepper (ANCHOR_SECRET_KEY) must not be empty")
        self.engine = engine
        self._pepper = pepper
        self.now = now
        self.touch_interval = timedelta(seconds=touch_interval_seconds)
        self._ready = False
        self._lock = threading.Lock()

    def _schema(self) -> Engine:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    create_key_schema(self.engine)
                    self._ready = True
        return self.engine

    # -- managing keys -----------------------------------------------------------------------------
    def create(self, role: str, merchant: str | None = None, name: str = "") -> CreatedKey:
        """Make a key. Admin keys have no merchant; merchant and agent keys must name one."""
        if role not in ROLES:
            raise ApiKeyError(f"role {role!r} is not valid: use one of {', '.join(ROLES)}")
        if role == "admin" and merchant:
            raise ApiKeyError("an admin key acts for every merchant: do not give it a merchant")
        if role != "admin":
            if not merchant:
                raise ApiKeyError(f"a {role} key needs the merchant it acts for (--merchant)")
            merchant = _check_merchant(merchant)
        name = name.strip()
        if len(name) > MAX_NAME_CHARS:
            raise ApiKeyError(f"key name has {len(name)} characters; at most {MAX_NAME_CHARS}")
        secret = KEY_SCHEME + secrets.token_urlsafe(32)
        key = ApiKey(
            id="key_" + secrets.token_hex(6),
            prefix=secret[:DISPLAY_PREFIX_CHARS],
            role=cast(Role, role),
            merchant=merchant or None,
            name=name,
            created_at=self.now(),
            revoked_at=None,
            last_used_at=None,
        )
        with self._schema().begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key.id,
                    key_hash=hash_key(secret, self._pepper),
                    prefix=key.prefix,
                    role=key.role,
                    merchant_id=key.merchant,
                    name=key.name,
                    created_at=key.created_at,
                )
            )
        return CreatedKey(key=key, secret=secret)

    def list(self, *, merchant: str | None = None, include_revoked: bool = True) -> builtins.list[ApiKey]:
        """Keys, oldest first; only `merchant`'s when given."""
        stmt = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        if merchant is not None:
            stmt = stmt.where(api_keys.c.merchant_id == merchant)
        if not include_revoked:
            stmt = stmt.where(api_keys.c.revoked_at.is_(None))
        with self._schema().connect() as conn:
            return [_to_key(row) for row in conn.execute(stmt)]

    def find(self, key_ref: str) -> ApiKey:
        """The key with this id, display prefix, or full secret; `ApiKeyNotFoundError` otherwise."""
        key_ref = key_ref.strip()
        condition = or_(api_keys.c.id == key_ref, api_keys.c.prefix == key_ref)
        if key_ref.startswith(KEY_SCHEME) and len(key_ref) <= MAX_KEY_CHARS:
            condition = or_(condition, api_keys.c.key_hash == hash_key(key_ref, self._pepper))
        with self._schema().connect() as conn:
            rows = conn.execute(select(api_keys).where(condition)).all()
        if not rows:
            raise ApiKeyNotFoundError(f"no API key with id or prefix {key_ref!r} (see `anchor keys list`)")
        if len(rows) > 1:
            ids = ", ".join(sorted(row.id for row in rows))
            raise ApiKeyError(f"prefix {key_ref!r} matches several keys ({ids}): use the key id")
        return _to_key(rows[0])

    def revoke(self, key_ref: str) -> ApiKey:
        """Revoke a key by id, prefix or secret; revoking a revoked key changes nothing."""
        key = self.find(key_ref)
        if key.revoked:
            return key
        now = self.now()
        with self._schema().begin() as conn:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key.id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return self.find(key.id)

    # -- authenticating requests -------------------------------------------------------------------
    def authenticate(self, secret: str) -> Principal | None:
        """The principal of a presented key, or None when it is unknown or revoked.

        Records the use in ``last_used_at``, at most once per touch interval.
        """
        if not secret.startswith(KEY_SCHEME) or len(secret) > MAX_KEY_CHARS:
            return None
        digest = hash_key(secret, self._pepper)
        with self._schema().connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == digest)).first()
        if row is None or row.revoked_at is not None:
            return None
        now = self.now()
        if row.last_used_at is None or now - row.last_used_at >= self.touch_interval:
            stale = now - self.touch_interval
            with self.engine.begin() as conn:
                conn.execute(
                    update(api_keys)
                    .where(
                        api_keys.c.id == row.id,
                        or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at <= stale),
                    )
                    .values(last_used_at=now)
                )
        return Principal(
            key_id=row.id, role=cast(Role, row.role), merchant=row.merchant_id, name=row.name or row.prefix
        )


def check_secret_key(settings: Settings) -> None:
    """Refuse production settings whose ``secret_key`` is the placeholder or too short to be a secret."""
    if settings.environment != "production":
        return
    value = settings.secret_key.get_secret_value()
    if value == PLACEHOLDER_SECRET or len(value) < MIN_PRODUCTION_SECRET_CHARS:
        problem = "is the placeholder 'change-me'" if value == PLACEHOLDER_SECRET else "is too short"
        raise InsecureSecretKeyError(
            f"ANCHOR_SECRET_KEY {problem}: in production set it to a random value of at least "
            f"{MIN_PRODUCTION_SECRET_CHARS} characters, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`. "
            "API keys are hashed with it, so keep it stable."
        )


# -- FastAPI dependencies ----------------------------------------------------------------------------
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer ak_...`")
_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key: `X-API-Key: ak_...`")


def optional_principal(request: Request) -> Principal | None:
    """The principal of a request's key (``Authorization: Bearer`` or ``X-API-Key``) when it has a valid one,
    else None: for routes open to anonymous callers that let staff do more."""
    auth = request.headers.get("authorization", "")
    presented = (
        auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
    )
    if not presented.strip():
        return None
    services: Services = request.app.state.services
    return services.keys.authenticate(presented.strip())


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def authenticate_request(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_key_header)],
) -> Principal:
    """The request's principal from ``Authorization: Bearer`` or ``X-API-Key``; 401 without a valid key."""
    presented = bearer.credentials if bearer is not None and bearer.scheme.lower() == "bearer" else header_key
    if not presented or not presented.strip():
        raise _unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    services: Services = request.app.state.services
    principal = services.keys.authenticate(presented.strip())
    if principal is None:
        raise _unauthorized("API key is not valid: it is unknown or has been revoked")
    return principal


def role_checker(*roles: Role) -> Callable[[Request, Principal], Principal]:
    """A dependency that admits keys with one of `roles` acting for the path's ``{merchant}``."""
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise ValueError(f"roles must be some of {', '.join(ROLES)}, not {roles!r}")
    allowed = tuple(roles)

    def check(request: Request, principal: Annotated[Principal, Depends(authenticate_request)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(
                403, f"a {principal.role} key cannot do this: it needs a key with role {' or '.join(allowed)}"
            )
        merchant = request.path_params.get("merchant")
        if isinstance(merchant, str) and not principal.can_act_for(merchant):
            raise HTTPException(
                403, f"this key acts for merchant {principal.merchant!r}, not for merchant {merchant!r}"
            )
        return principal

    return check


def require_role(*roles: Role) -> Any:
    """``Annotated[Principal, Depends(...)]`` admitting `roles` (admin keys pass the merchant check).

    Typed ``Any`` because a call is not a type for mypy; typed code uses the aliases below or
    ``Annotated[Principal, Depends(role_checker(...))]``.
    """
    return Annotated[Principal, Depends(role_checker(*roles))]


#: Admin keys only.
AdminKey = Annotated[Principal, Depends(role_checker("admin"))]
#: Whoever owns the merchant's data: its merchant keys, and admins (catalog import/delete).
OwnerKey = Annotated[Principal, Depends(role_checker("merchant", "admin"))]
#: Everyone working for the merchant: agents, merchant keys and admins (reading, tickets).
StaffKey = Annotated[Principal, Depends(role_checker("agent", "merchant", "admin"))]
