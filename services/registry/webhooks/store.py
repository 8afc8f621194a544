"""Every SQL statement of webhooks: endpoints, secrets, the delivery queue and its log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final
from uuid import UUID

import msgspec

from services.registry.webhooks.schemas import Attempt, DeliveryState, Endpoint, EndpointFields
from shared.db import Connection, fetch_struct, fetch_structs

CHANNEL: Final = "registry.webhook_deliveries"
"""Notified when a delivery is queued or rescheduled (migration 0006)."""

_ENDPOINT_COLUMNS: Final = """
id, organization_id, url, event_types, ordered, description, enabled, disabled_reason,
disabled_at, failing_since, version, created_at, updated_at
"""


class Due(msgspec.Struct, frozen=True):
    """A delivery a sender has taken, with what it needs to send it."""

    position: int
    event_id: UUID
    body: bytes
    attempts: int
    endpoint_id: UUID
    url: str
    secrets: list[str]


class StoredDelivery(msgspec.Struct, frozen=True):
    position: int
    event_id: UUID
    event_type: str
    aggregate_id: UUID
    aggregate_version: int
    state: DeliveryState
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


class StoredAttempt(Attempt, frozen=True, kw_only=True):
    delivery: int


async def insert_endpoint(
    connection: Connection, endpoint_id: UUID, organization_id: UUID, fields: EndpointFields
) -> Endpoint:
    found = await fetch_struct(
        connection,
        Endpoint,
        f"""
        INSERT INTO webhook_endpoints
            (id, organization_id, url, event_types, ordered, description, enabled)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING {_ENDPOINT_COLUMNS}
        """,
        endpoint_id,
        organization_id,
        fields.url,
        list(fields.event_types),
        fields.ordered,
        fields.description,
        fields.enabled,
    )
    assert found is not None
    return found


async def update_endpoint(
    connection: Connection, endpoint_id: UUID, fields: EndpointFields
) -> Endpoint:
    """Changed as sent; enabling a disabled endpoint clears why it was disabled."""
    found = await fetch_struct(
        connection,
        Endpoint,
        f"""
        UPDATE webhook_endpoints SET
            url = $2, event_types = $3, ordered = $4, description = $5, enabled = $6,
            disabled_reason = CASE WHEN $6 THEN NULL ELSE disabled_reason END,
            disabled_at = CASE WHEN $6 THEN NULL ELSE disabled_at END,
            failing_since = CASE WHEN $6 AND NOT enabled THEN NULL ELSE failing_since END,
            version = version + 1, updated_at = now()
        WHERE id = $1
        RETURNING {_ENDPOINT_COLUMNS}
        """,
        endpoint_id,
        fields.url,
        list(fields.event_types),
        fields.ordered,
        fields.description,
        fields.enabled,
    )
    assert found is not None
    return found


async def endpoint(
    connection: Connection, endpoint_id: UUID, *, for_update: bool = False
) -> Endpoint | None:
    lock = " FOR UPDATE" if for_update else ""
    return await fetch_struct(
        connection,
        Endpoint,
        f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1{lock}",
        endpoint_id,
    )


async def endpoints(
    connection: Connection, *, organization_id: UUID | None, after: UUID | None, limit: int
) -> list[Endpoint]:
    """Up to `limit` endpoints after `after`, by id; of one organization unless None."""
    return await fetch_structs(
        connection,
        Endpoint,
        f"""
        SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints
        WHERE ($1::uuid IS NULL OR organization_id = $1) AND ($2::uuid IS NULL OR id > $2)
        ORDER BY id LIMIT $3
        """,
        organization_id,
        after,
        limit,
    )


async def delete_endpoint(connection: Connection, endpoint_id: UUID) -> None:
    await connection.execute("DELETE FROM webhook_endpoints WHERE id = $1", endpoint_id)


async def add_secret(
    connection: Connection, endpoint_id: UUID, secret: str, *, previous_expire_at: datetime | None
) -> None:
    """A new secret; the ones in use so far stop signing at `previous_expire_at`."""
    if previous_expire_at is not None:
        await connection.execute(
            """
            UPDATE webhook_secrets SET expires_at = $2
            WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2)
            """,
            endpoint_id,
            previous_expire_at,
        )
    await connection.execute(
        "INSERT INTO webhook_secrets (endpoint_id, secret) VALUES ($1, $2)", endpoint_id, secret
    )


async def fan_out(
    connection: Connection,
    *,
    event_id: UUID,
    event_type: str,
    aggregate_id: UUID,
    aggregate_version: int,
    body: bytes,
    organization_ids: Sequence[UUID],
) -> int:
    """Queue the event for every enabled endpoint of these organizations that wants it;
    again for an event already queued changes nothing. How many were queued."""
    status = await connection.execute(
        """
        INSERT INTO webhook_deliveries
            (endpoint_id, event_id, event_type, aggregate_id, aggregate_version, body)
        SELECT id, $1, $2, $3, $4, $5 FROM webhook_endpoints
        WHERE enabled AND $2 = ANY(event_types) AND organization_id = ANY($6::uuid[])
        ON CONFLICT (endpoint_id, event_id) DO NOTHING
        """,
        event_id,
        event_type,
        aggregate_id,
        aggregate_version,
        body,
        list(organization_ids),
    )
    return int(status.split()[-1])


_DUE: Final = """
WITH due AS (
    SELECT d.position FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id
    WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND e.enabled
      AND (d.leased_until IS NULL OR d.leased_until < now())
      AND (NOT e.ordered OR NOT EXISTS (
            SELECT FROM webhook_deliveries earlier
            WHERE earlier.endpoint_id = d.endpoint_id AND earlier.aggregate_id = d.aggregate_id
              AND earlier.state = 'pending' AND earlier.position < d.position))
    ORDER BY d.next_attempt_at, d.position
    LIMIT $1
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d SET leased_until = now() + make_interval(secs => $2)
FROM due, webhook_endpoints e
WHERE d.position = due.position AND e.id = d.endpoint_id
RETURNING d.position, d.event_id, d.body, d.attempts, d.endpoint_id, e.url,
    ARRAY(SELECT s.secret FROM webhook_secrets s
          WHERE s.endpoint_id = d.endpoint_id AND (s.expires_at IS NULL OR s.expires_at > now())
          ORDER BY s.created_at DESC) AS secrets
"""


async def take_due(connection: Connection, limit: int, lease_seconds: float) -> list[Due]:
    """Deliveries due now, taken for `lease_seconds` (other senders skip them meanwhile)."""
    return await fetch_structs(connection, Due, _DUE, limit, lease_seconds)


async def next_due(connection: Connection) -> datetime | None:
    found: datetime | None = await connection.fetchval(
        """
        SELECT min(greatest(d.next_attempt_at, coalesce(d.leased_until, d.next_attempt_at)))
        FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.state = 'pending' AND e.enabled
        """
    )
    return found


class Waiting(msgspec.Struct, frozen=True):
    """How many deliveries to enabled endpoints wait, and for how long the oldest has."""

    waiting: int
    oldest_seconds: float


async def waiting(connection: Connection) -> Waiting:
    found = await fetch_struct(
        connection,
        Waiting,
        """
        SELECT count(*) AS waiting,
               coalesce(extract(epoch FROM now() - min(d.created_at)), 0)::float8
                   AS oldest_seconds
        FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
        WHERE d.state = 'pending' AND e.enabled
        """,
    )
    assert found is not None, "an aggregate answers one row"
    return found


async def record_attempt(connection: Connection, position: int, attempt: Attempt) -> None:
    await connection.execute(
        """
        INSERT INTO webhook_attempts
            (id, delivery, attempted_at, status_code, duration_ms, response_excerpt, error)
        VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6)
        """,
        position,
        attempt.attempted_at,
        attempt.status_code,
        attempt.duration_ms,
        attempt.response_excerpt,
        attempt.error,
    )


async def delivered(connection: Connection, position: int, endpoint_id: UUID) -> None:
    await connection.execute(
        """
        UPDATE webhook_deliveries SET state = 'delivered', delivered_at = now(),
            attempts = attempts + 1, leased_until = NULL
        WHERE position = $1
        """,
        position,
    )
    await connection.execute(
        """
        UPDATE webhook_endpoints SET failing_since = NULL
        WHERE id = $1 AND failing_since IS NOT NULL
        """,
        endpoint_id,
    )


async def failed(
    connection: Connection, position: int, endpoint_id: UUID, retry_at: datetime | None
) -> datetime:
    """A failed attempt: retried at `retry_at`, or given up when None. When the endpoint has
    been failing since (its first failure after the last success)."""
    await connection.execute(
        """
        UPDATE webhook_deliveries SET attempts = attempts + 1, leased_until = NULL,
            state = CASE WHEN $2::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
            next_attempt_at = coalesce($2, next_attempt_at)
        WHERE position = $1
        """,
        position,
        retry_at,
    )
    since: datetime = await connection.fetchval(
        """
        UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now())
        WHERE id = $1 RETURNING failing_since
        """,
        endpoint_id,
    )
    return since


async def disable(connection: Connection, endpoint_id: UUID, reason: str) -> None:
    await connection.execute(
        """
        UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2,
            disabled_at = now(), version = version + 1, updated_at = now()
        WHERE id = $1 AND enabled
        """,
        endpoint_id,
        reason,
    )


async def deliveries(
    connection: Connection, endpoint_id: UUID, *, before: int, limit: int
) -> list[StoredDelivery]:
    """Up to `limit` deliveries of the endpoint, newest first, before position `before`."""
    return await fetch_structs(
        connection,
        StoredDelivery,
        """
        SELECT position, event_id, event_type, aggregate_id, aggregate_version, state,
            next_attempt_at, created_at, delivered_at
        FROM webhook_deliveries
        WHERE endpoint_id = $1 AND position < $2
        ORDER BY position DESC LIMIT $3
        """,
        endpoint_id,
        before,
        limit,
    )


async def attempts(connection: Connection, positions: Sequence[int]) -> list[StoredAttempt]:
    return await fetch_structs(
        connection,
        StoredAttempt,
        """
        SELECT delivery, attempted_at, status_code, duration_ms, response_excerpt, error
        FROM webhook_attempts WHERE delivery = ANY($1::bigint[])
        ORDER BY attempted_at
        """,
        list(positions),
    )


async def replay(
    connection: Connection, endpoint_id: UUID, *, position: int | None, since: datetime | None
) -> int:
    """Send again one delivery, or every one made since an instant, each with the whole
    schedule of retries again (the log keeps the earlier attempts); how many."""
    status = await connection.execute(
        """
        UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = now(),
            leased_until = NULL, delivered_at = NULL, attempts = 0
        WHERE endpoint_id = $1
          AND ($2::bigint IS NULL OR position = $2)
          AND ($3::timestamptz IS NULL OR created_at >= $3)
        """,
        endpoint_id,
        position,
        since,
    )
    return int(status.split()[-1])
