"""API keys: issued and revoked by admins, replicated to every service as events.

The secret is returned once, when the key is issued; the registry keeps its SHA-256. The
first admin key comes from `TELEBRIDGE_REGISTRY_ADMIN_KEY` on start, or from
`telebridge keys create-admin`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from services.registry.schemas import ApiKey, IssuedKey, KeyCreate
from shared.bus.outbox import add_event
from shared.db import Connection, StartupError, acquire, as_struct, as_structs
from shared.errors import invalid, not_found
from shared.events import ApiKeyEvent, ApiKeyIssued, ApiKeyRevoked, KeyRole, new_id, utc_now
from shared.http.auth import (
    KEY_SECURITY,
    SCOPES,
    NewKey,
    admin_guard,
    generate_key,
    prefix_of,
    sha256_of,
)
from shared.http.params import Transaction
from shared.service import Runtime
from shared.settings import RegistrySettings

_INSERT: Final = """
INSERT INTO api_keys (id, name, prefix, secret_sha256, role, organization_id, scopes, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (prefix) DO NOTHING
RETURNING *
"""
_REVOKE: Final = """
UPDATE api_keys SET revoked_at = now(), version = version + 1
WHERE id = $1 AND revoked_at IS NULL
RETURNING *
"""
_BY_ID: Final = "SELECT * FROM api_keys WHERE id = $1"
_LIST: Final = "SELECT * FROM api_keys ORDER BY id"
_ORGANIZATION_EXISTS: Final = "SELECT true FROM organizations WHERE id = $1"


class KeyController(Controller):
    path = "/keys"
    tags = ["keys"]
    guards = [admin_guard]
    security = KEY_SECURITY

    @post(
        "/",
        summary="Issue an API key",
        description="Admin only. The answer holds the secret: it is not shown again.",
    )
    async def issue_key(self, connection: Transaction, data: JSONBody[KeyCreate]) -> IssuedKey:
        await _check(connection, data)
        new = generate_key()
        key = await issue(
            connection,
            new,
            name=data.name,
            role=data.role,
            organization_id=data.organization_id,
            scopes=data.scopes if data.scopes is not None else list(SCOPES),
            expires_at=data.expires_at,
        )
        assert key is not None  # a fresh prefix
        return IssuedKey(**msgspec.structs.asdict(key), secret=new.secret)

    @get("/", summary="Every key, without secrets")
    async def list_keys(self, connection: Transaction) -> list[ApiKey]:
        return as_structs(await connection.fetch(_LIST), ApiKey)

    @get("/{key_id:uuid}", summary="One key, without its secret")
    async def get_key(self, connection: Transaction, key_id: FromPath[UUID]) -> ApiKey:
        row = await connection.fetchrow(_BY_ID, key_id)
        if row is None:
            raise not_found("key", key_id)
        return as_struct(row, ApiKey)

    @post(
        "/{key_id:uuid}/revoke",
        summary="Revoke a key",
        status_code=200,
        description="Every service refuses the key as soon as it hears of this, within a "
        "second. Revoking a revoked key changes nothing.",
    )
    async def revoke_key(self, connection: Transaction, key_id: FromPath[UUID]) -> ApiKey:
        row = await connection.fetchrow(_REVOKE, key_id)
        if row is not None:
            await add_event(connection, _event(ApiKeyRevoked, row))
        else:
            row = await connection.fetchrow(_BY_ID, key_id)
            if row is None:
                raise not_found("key", key_id)
        return as_struct(row, ApiKey)


async def issue(
    connection: Connection,
    new: NewKey,
    *,
    name: str,
    role: KeyRole,
    organization_id: UUID | None,
    scopes: list[str],
    expires_at: datetime | None,
) -> ApiKey | None:
    """Store a key and announce it; None if a key with its prefix exists already."""
    row = await connection.fetchrow(
        _INSERT,
        new_id(),
        name,
        new.prefix,
        new.secret_sha256,
        role,
        organization_id,
        scopes,
        expires_at,
    )
    if row is None:
        return None
    await add_event(connection, _event(ApiKeyIssued, row))
    return as_struct(row, ApiKey)


async def register_admin_key(runtime: Runtime) -> None:
    """On start: make `TELEBRIDGE_REGISTRY_ADMIN_KEY` an admin key, unless it is known."""
    settings = runtime.settings
    assert isinstance(settings, RegistrySettings)
    if not settings.admin_key:
        return
    prefix = prefix_of(settings.admin_key)
    if prefix is None:
        raise StartupError(
            "TELEBRIDGE_REGISTRY_ADMIN_KEY is not a Telebridge key: make one with "
            "`telebridge keys create-admin --print-only`"
        )
    new = NewKey(
        prefix=prefix, secret=settings.admin_key, secret_sha256=sha256_of(settings.admin_key)
    )
    async with acquire(runtime.pool) as connection, connection.transaction():
        await issue(
            connection,
            new,
            name="admin key from TELEBRIDGE_REGISTRY_ADMIN_KEY",
            role="admin",
            organization_id=None,
            scopes=list(SCOPES),
            expires_at=None,
        )


async def _check(connection: Connection, data: KeyCreate) -> None:
    if data.role == "partner":
        if data.organization_id is None:
            raise invalid("organization_id", "a partner key acts for one organization: name it")
        if not await connection.fetchval(_ORGANIZATION_EXISTS, data.organization_id):
            raise invalid("organization_id", f"no organization {data.organization_id}")
    elif data.organization_id is not None:
        raise invalid("organization_id", f"{data.role} keys act for no one organization")
    unknown = sorted(set(data.scopes or ()) - set(SCOPES))
    if unknown:
        raise invalid("scopes", f"unknown scopes {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if data.expires_at is not None and data.expires_at <= utc_now():
        raise invalid("expires_at", "the key would be expired already")


def _event(event_type: type[ApiKeyEvent], row: Any) -> ApiKeyEvent:
    return event_type(
        aggregate_id=row["id"],
        aggregate_version=row["version"],
        prefix=row["prefix"],
        secret_sha256=row["secret_sha256"],
        role=row["role"],
        organization_id=row["organization_id"],
        scopes=row["scopes"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )
