"""Who is calling: API keys, verified locally by every service.

The registry issues keys; each is `tb_<prefix>_<secret>`. Services keep only the SHA-256
of the whole key, in an `api_keys` table (the registry's own, or the read model the others
fill from `registry.apikey.*` events), and look the prefix up on every request, so a
revoked key stops working as soon as its event is applied.

Three roles: an admin issues keys and may do anything; an operator runs meetings across
organizations; a partner acts only for its own organization. Scopes narrow a key further
(`registry:read`, `registry:write`, ...). `TELEBRIDGE_AUTH_OPERATOR_KEY`, when set, is an
operator key configured on every service rather than issued.
"""

from __future__ import annotations

import hmac
import math
import time
from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from shared.access import Caller
from shared.db import acquire, as_struct
from shared.events import KeyRole, utc_now
from shared.http.problems import Problem
from shared.keys import SCOPES, prefix_of, sha256_of
from shared.readmodels import catchup

Access = Literal["read", "write"]


_VERIFY: Final = """
SELECT id, role, organization_id, scopes, secret_sha256, expires_at, revoked_at
FROM api_keys WHERE prefix = $1
"""

_TOUCH: Final = """
UPDATE api_keys SET last_used_at = now()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
"""
_TOUCH_INTERVAL: Final = 60.0


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def caller_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller | None:
    """The verified caller, or None without a key; a bad key is a 401. Kept per request.

    Verified before the request takes its own connection (see the idempotency middleware),
    so that the two never wait for each other in a full pool.
    """
    if "caller" in connection.state:
        found: Caller | None = connection.state.caller
        return found
    token = bearer_token(connection)
    found = None if token is None else await _verify(connection, token)
    connection.state.caller = found
    return found


class ReplicatedKey(msgspec.Struct, frozen=True):
    """A key as every service keeps it: its hash, never its secret."""

    id: UUID
    role: KeyRole
    organization_id: UUID | None
    scopes: list[str]
    secret_sha256: str
    expires_at: datetime | None
    revoked_at: datetime | None


async def _verify(connection: ASGIConnection[Any, Any, Any, Any], token: str) -> Caller:
    configured: str = connection.app.state.settings.auth.operator_key
    if configured and hmac.compare_digest(token.encode(), configured.encode()):
        return Caller(key_id=None, role="operator", organization_id=None, scopes=frozenset(SCOPES))
    prefix = prefix_of(token)
    row = None
    runtime = connection.app.state.runtime
    if prefix is not None:
        timeout = runtime.settings.database.acquire_timeout

        async def lookup() -> ReplicatedKey | None:
            async with acquire(runtime.pool, timeout) as database:
                found = await database.fetchrow(_VERIFY, prefix)
                return None if found is None else as_struct(found, ReplicatedKey)

        # A key issued a moment ago may not have reached this service yet.
        row = await catchup.find("key", prefix, lookup)
    if row is None or not hmac.compare_digest(row.secret_sha256, sha256_of(token)):
        raise unauthenticated("this API key is not known")
    if row.revoked_at is not None:
        raise unauthenticated("this API key was revoked")
    if row.expires_at is not None and row.expires_at <= utc_now():
        raise unauthenticated("this API key has expired")
    await _touch(connection, row.id)
    return Caller(
        key_id=row.id,
        role=row.role,
        organization_id=row.organization_id,
        scopes=frozenset(row.scopes),
    )


_TOUCHED: Final = "telebridge.keys_touched"
"""App state key: when this process last recorded the use of each key (monotonic seconds)."""


async def _touch(connection: ASGIConnection[Any, Any, Any, Any], key_id: UUID) -> None:
    """Record that the key was used, at most once a minute: `_TOUCH` changes nothing within
    the minute, so a request in it need not ask the database (a write and a connection of
    the pool each time, on a row every request of one partner updates)."""
    state = connection.app.state
    touched: dict[UUID, float] = state.get(_TOUCHED) or {}
    state[_TOUCHED] = touched
    now = time.monotonic()
    if now - touched.get(key_id, -math.inf) < _TOUCH_INTERVAL:
        return
    runtime = state.runtime
    async with acquire(runtime.pool, runtime.settings.database.acquire_timeout) as database:
        await database.execute(_TOUCH, key_id)
    touched[key_id] = now


def unauthenticated(detail: str) -> Problem:
    return Problem(
        401, "unauthenticated", detail, headers={"WWW-Authenticate": 'Bearer realm="telebridge"'}
    )


def _scope_of(connection: ASGIConnection[Any, Any, Any, Any], access: Access) -> str:
    return f"{connection.app.state.service}:{access}"


async def require_caller(
    connection: ASGIConnection[Any, Any, Any, Any], access: Access = "write"
) -> Caller:
    """The caller, who must have sent a key with this service's scope for `access`."""
    caller = await caller_of(connection)
    if caller is None:
        raise unauthenticated("send an API key as 'Authorization: Bearer <key>'")
    scope = _scope_of(connection, access)
    if scope not in caller.scopes:
        raise Problem(403, "missing-scope", f"this key lacks the scope {scope}")
    return caller


KEYLESS: Final = "keyless"
"""Set in a handler's `opt` when it reads no API key: its URL is its key (a feed) or it
needs none (health). Such requests skip authentication, and any Authorization sent."""


def authentication_middleware(app: ASGIApp) -> ASGIApp:
    """Verify any key sent (a bad one is a 401) and, for handlers that take a `caller`,
    require one with this service's scope; before any dependency runs, so that a refusal
    never holds a connection the request's transaction took.

    A middleware, not a guard: Litestar copies the handler for every guard call, a sixth of
    what a feed poll answered from memory cost.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] == ScopeType.HTTP and handler is not None and not handler.opt.get(KEYLESS):
            connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope, receive, send)
            await caller_of(connection)
            if "caller" in handler.parsed_fn_signature.parameters:
                await require_caller(connection, _access_of(connection))
        await app(scope, receive, send)

    return middleware


def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    """The `caller` dependency: the key `authentication_middleware` verified."""
    caller: Caller = request.state.caller
    return caller


def provide_visitor(request: Request[Any, Any, Any]) -> Caller | None:
    """The `visitor` dependency of public endpoints: the caller if a key was sent, else None."""
    visitor: Caller | None = request.state.get("caller")
    return visitor


def _access_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Access:
    return "read" if connection.scope.get("method") in ("GET", "HEAD") else "write"


async def operator_guard(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    caller = await require_caller(connection, _access_of(connection))
    if not caller.is_staff:
        raise Problem(403, "forbidden", "only operator and admin keys may do this")


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    caller = await require_caller(connection, "write")
    if caller.role != "admin":
        raise Problem(403, "forbidden", "only admin keys may do this")


async def is_operator(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    caller = await caller_of(connection)
    return caller is not None and caller.is_staff
