"""PostgreSQL access: a pool whose connections live in one service's schema."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar
from urllib.parse import urlsplit

import asyncpg
import msgspec
import structlog

from shared.backoff import Backoff
from shared.settings import DatabaseSettings

log = structlog.get_logger(__name__)

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:
    # Frameworks that read annotations at run time need one class here, not a union.
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection

_json_encoder = msgspec.json.Encoder()


def _encode_json(value: Any) -> str:
    return _json_encoder.encode(value).decode()


async def _init_connection(connection: Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, schema="pg_catalog", encoder=_encode_json, decoder=msgspec.json.decode
        )


async def _nothing_to_reset(connection: Connection) -> None:
    """A pooled connection comes back with no session state to undo: advisory locks are
    taken per transaction, and LISTEN and session-level locks have connections of their
    own (`connect`). asyncpg's default reset (RESET ALL, CLOSE ALL, UNLISTEN *, unlock
    all) would cost every request one more round trip; an unfinished transaction is still
    rolled back by the pool before this is called."""
    del connection


def connect_kwargs(schema: str) -> dict[str, Any]:
    """Connection options shared by pools and single connections of a service."""
    return {
        "server_settings": {"search_path": schema, "application_name": f"telebridge-{schema}"},
        "init": _init_connection,
    }


async def create_pool(
    settings: DatabaseSettings, schema: str, *, max_size: int | None = None
) -> Pool:
    """Open a pool for `schema`, retrying while the server is still starting."""
    options = connect_kwargs(schema)
    deadline = time.monotonic() + settings.connect_timeout
    backoff = Backoff(first=0.2, longest=2.0)
    while True:
        try:
            pool: Pool = await asyncpg.create_pool(
                settings.url,
                min_size=min(settings.pool_min_size, max_size or settings.pool_max_size),
                max_size=max_size or settings.pool_max_size,
                server_settings=options["server_settings"],
                init=options["init"],
                reset=_nothing_to_reset,
            )
        except (OSError, asyncpg.CannotConnectNowError) as error:
            delay = backoff.delay()
            if time.monotonic() + delay > deadline:
                raise StartupError(
                    f"PostgreSQL at {_where(settings.url)} did not answer within "
                    f"{settings.connect_timeout:g}s ({error}); is it running, and is "
                    "TELEBRIDGE_DATABASE_URL right?"
                ) from error
            log.warning("database not reachable yet", error=str(error), retry_in=delay)
            await asyncio.sleep(delay)
        except asyncpg.PostgresError as error:
            raise StartupError(
                f"PostgreSQL at {_where(settings.url)} refused the connection: {error}"
            ) from error
        else:
            return pool


ACQUIRE_TIMEOUT: Final = 10.0
"""Seconds a background worker waits for a free connection before it tries again."""


class PoolExhausted(asyncpg.InterfaceError):
    """No connection of the pool became free in time: the service is overloaded, not broken."""


@asynccontextmanager
async def acquire(pool: Pool, timeout: float = ACQUIRE_TIMEOUT) -> AsyncIterator[Connection]:
    """A connection of the pool, waiting at most `timeout` seconds for one to be free.

    A pool acquired without a bound hangs for good once every connection waits on
    something that itself needs a connection; this turns that into an error of the moment.
    """
    try:
        connection = await pool.acquire(timeout=timeout)
    except TimeoutError as error:
        raise PoolExhausted(f"no database connection free within {timeout:g}s") from error
    try:
        yield connection
    finally:
        await pool.release(connection)


UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    PoolExhausted,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.ObjectNotInPrerequisiteStateError,
    asyncpg.InterfaceError,
)
"""What a query raises while PostgreSQL is away, restarting or out of connections: errors
of the moment, not of the data, to be waited out rather than counted against a message.
Some of these kinds also name mistakes of the code: `database_unavailable` tells them apart.

- OSError: refused, reset, unreachable (ConnectionError is one);
- 08xxx: the connection failed or was lost in the middle of a query;
- 57P01/57P02/57P03: shut down by an administrator or a crash, or starting up;
- 53xxx: out of connections, memory or disk;
- 55000 "not currently accepting connections", and asyncpg's "connection is closed" or
  "pool is closing" on a connection or pool that went away under the query."""

_GONE_MESSAGES: Final = (
    "not currently accepting connections",
    "connection is closed",
    "pool is clos",
)
"""What 55000 and asyncpg's InterfaceError say when they mean the database went away;
otherwise they name a mistake (a state a statement does not fit, a misused connection)."""


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database is away, rather than something about the query.

    Timeouts are OSErrors too but say nothing of the database.
    """
    if not isinstance(error, UNAVAILABLE) or isinstance(error, TimeoutError):
        return False
    if isinstance(error, PoolExhausted):
        return True
    if isinstance(error, (asyncpg.ObjectNotInPrerequisiteStateError, asyncpg.InterfaceError)):
        return any(message in str(error) for message in _GONE_MESSAGES)
    return True


class StartupError(RuntimeError):
    """A service cannot start; the message says what to fix."""


def _where(url: str) -> str:
    """Host, port and database of a DSN, without the password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


async def connect(settings: DatabaseSettings, schema: str) -> Connection:
    """One connection outside the pool, for LISTEN and session-level advisory locks."""
    options = connect_kwargs(schema)
    connection: Connection = await asyncpg.connect(
        settings.url, server_settings=options["server_settings"]
    )
    await _init_connection(connection)
    return connection


T = TypeVar("T")


async def fetch_one(connection: Connection, query: str, *args: object) -> asyncpg.Record:
    """The row of a query that always returns one (an aggregate, a row known to exist)."""
    row = await connection.fetchrow(query, *args)
    if row is None:
        raise LookupError(f"no row for {query.split()[:4]}")
    return row


def as_struct(record: asyncpg.Record, struct_type: type[T]) -> T:
    """A row as the Struct whose fields it has (extra columns are ignored)."""
    return msgspec.convert(dict(record), struct_type)


def as_structs(records: list[asyncpg.Record], struct_type: type[T]) -> list[T]:
    return [as_struct(record, struct_type) for record in records]


async def fetch_struct(
    connection: Connection, struct_type: type[T], query: str, *args: object
) -> T | None:
    """The query's row as a Struct, None when there is none: how stores hand rows on."""
    row = await connection.fetchrow(query, *args)
    return None if row is None else as_struct(row, struct_type)


async def fetch_structs(
    connection: Connection, struct_type: type[T], query: str, *args: object
) -> list[T]:
    return as_structs(await connection.fetch(query, *args), struct_type)
