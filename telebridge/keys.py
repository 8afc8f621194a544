"""The first admin key, for `telebridge keys create-admin`.

The key is issued straight into the registry's database, as `POST /keys` would issue it,
with its `registry.apikey.issued` event in the same transaction: the running registry's
outbox relay publishes it, and every service then accepts the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import asyncpg

from services.registry.app import DEFINITION
from services.registry.keys import issue
from services.registry.schemas import ApiKey
from shared.db import connect
from shared.keys import SCOPES, NewKey, generate_key
from shared.settings import RegistrySettings
from telebridge.client import ExitCode, Stop

_TABLES_EXIST: Final = (
    "SELECT to_regclass('api_keys') IS NOT NULL AND to_regclass('outbox') IS NOT NULL"
)
_ATTEMPTS: Final = 3


@dataclass(frozen=True)
class IssuedAdminKey:
    key: ApiKey
    secret: str


async def create_admin_key(settings: RegistrySettings, name: str) -> IssuedAdminKey:
    """Issue an admin key with every scope in the registry's database; the Stop says why
    not (its exit code: the database unreachable, the registry's tables not made yet, the
    database failing)."""
    where = _where(settings.database.url)
    try:
        connection = await connect(settings.database, DEFINITION.schema)
    except (OSError, asyncpg.PostgresError) as error:
        raise Stop(
            ExitCode.UNREACHABLE,
            f"cannot reach the registry's database at {where}: {error} "
            "(is TELEBRIDGE_DATABASE_URL right?)",
        ) from error
    try:
        if not await connection.fetchval(_TABLES_EXIST):
            raise Stop(
                ExitCode.CONFLICT,
                f"the registry's tables are not in {where} yet: start the registry once first "
                "(it creates them), then run this again",
            )
        for _ in range(_ATTEMPTS):
            new: NewKey = generate_key()
            async with connection.transaction():
                key = await issue(
                    connection,
                    new,
                    name=name,
                    role="admin",
                    organization_id=None,
                    scopes=list(SCOPES),
                    expires_at=None,
                )
            if key is not None:
                return IssuedAdminKey(key=key, secret=new.secret)
    except (OSError, asyncpg.PostgresError) as error:
        raise Stop(
            ExitCode.SERVER_ERROR, f"the registry's database at {where} failed: {error}"
        ) from error
    finally:
        await connection.close()
    # A prefix is 48 random bits: three collisions in a row mean something else is wrong.
    raise Stop(ExitCode.SERVER_ERROR, "every generated key prefix was taken already; try again")


def _where(url: str) -> str:
    """Host, port and database of a DSN, without the password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"
