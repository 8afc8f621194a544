"""API keys: issued and revoked by admins, replicated to every service as events.

The secret is returned once, when the key is issued; the registry keeps its SHA-256. The
first admin key comes from `TELEBRIDGE_REGISTRY_ADMIN_KEY` on start, or from
`telebridge keys create-admin`.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from services.registry import store
from services.registry.schemas import ApiKey, IssuedKey, KeyCreate
from services.registry.store import StoredKey
from shared.access import Caller
from shared.bus.outbox import add_event
from shared.db import Connection, StartupError, acquire
from shared.errors import Conflict, invalid, not_found
from shared.events import ApiKeyEvent, ApiKeyIssued, ApiKeyRevoked, KeyRole, new_id, utc_now
from shared.keys import SCOPES, NewKey, generate_key, prefix_of, sha256_of
from shared.service import Runtime
from shared.settings import RegistrySettings


async def create(connection: Connection, data: KeyCreate) -> IssuedKey:
    """A new key as asked for, with its secret."""
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
    stored = await store.insert_key(
        connection,
        new_id(),
        name=name,
        prefix=new.prefix,
        secret_sha256=new.secret_sha256,
        role=role,
        organization_id=organization_id,
        scopes=scopes,
        expires_at=expires_at,
    )
    if stored is None:
        return None
    await add_event(connection, _event(ApiKeyIssued, stored))
    return _shown(stored)


async def revoke(connection: Connection, caller: Caller, key_id: UUID) -> ApiKey:
    """The key, revoked: now, or before if it was already. Never the caller's own: an admin
    who revoked the key it calls with could lock everyone out (the first admin key is the
    only one at the start)."""
    if caller.key_id == key_id:
        raise Conflict(
            "own-key",
            "this is the key the request was sent with: revoke it with another admin key",
        )
    revoked = await store.revoke_key(connection, key_id)
    if revoked is not None:
        await add_event(connection, _event(ApiKeyRevoked, revoked))
        return _shown(revoked)
    key = await store.key(connection, key_id)
    if key is None:
        raise not_found("key", key_id)
    return key


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
        if not await store.organizations_exist(connection, [data.organization_id]):
            raise invalid("organization_id", f"no organization {data.organization_id}")
    elif data.organization_id is not None:
        raise invalid("organization_id", f"{data.role} keys act for no one organization")
    unknown = sorted(set(data.scopes or ()) - set(SCOPES))
    if unknown:
        raise invalid("scopes", f"unknown scopes {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    if data.expires_at is not None and data.expires_at <= utc_now():
        raise invalid("expires_at", "the key would be expired already")


def _shown(key: StoredKey) -> ApiKey:
    """The key without the hash of its secret."""
    return msgspec.convert(key, ApiKey, from_attributes=True)


def _event(event_type: type[ApiKeyEvent], key: StoredKey) -> ApiKeyEvent:
    return event_type(
        aggregate_id=key.id,
        aggregate_version=key.version,
        prefix=key.prefix,
        secret_sha256=key.secret_sha256,
        role=key.role,
        organization_id=key.organization_id,
        scopes=key.scopes,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )
