"""Partners' webhook endpoints: made, changed, rotated, removed, and their deliveries read
and sent again. Who may see an endpoint is decided in `access`."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from services.registry import store as registry
from services.registry.webhooks import store
from services.registry.webhooks.addresses import Network, literal_refusal
from services.registry.webhooks.schemas import (
    Attempt,
    Delivery,
    Endpoint,
    EndpointCreate,
    EndpointFields,
    EndpointWithSecret,
    RotatedSecret,
)
from shared.access import Caller, require_own_organization
from shared.db import Connection
from shared.errors import invalid
from shared.events import new_id, utc_now
from shared.webhooks import new_secret


def _check_url(url: str, allowed: list[Network]) -> None:
    if (reason := literal_refusal(url, allowed)) is not None:
        raise invalid("url", f"webhooks are not sent there: {reason}")


async def create(
    connection: Connection, caller: Caller, data: EndpointCreate, allowed: list[Network]
) -> EndpointWithSecret:
    organization_id = data.organization_id or caller.organization_id
    if organization_id is None:
        raise invalid("organization_id", "a staff key must name the organization")
    require_own_organization(caller, organization_id)
    if await registry.organization(connection, organization_id) is None:
        raise invalid("organization_id", f"no organization {organization_id}")
    _check_url(data.url, allowed)
    endpoint = await store.insert_endpoint(connection, new_id(), organization_id, data)
    secret = new_secret()
    await store.add_secret(connection, endpoint.id, secret, previous_expire_at=None)
    return msgspec.convert(
        {**msgspec.structs.asdict(endpoint), "secret": secret}, EndpointWithSecret
    )


async def update(
    connection: Connection, endpoint_id: UUID, data: EndpointFields, allowed: list[Network]
) -> Endpoint:
    _check_url(data.url, allowed)
    return await store.update_endpoint(connection, endpoint_id, data)


async def rotate_secret(
    connection: Connection, endpoint_id: UUID, overlap_seconds: int
) -> RotatedSecret:
    """A new secret; the old one signs too for `overlap_seconds`."""
    expires = utc_now() + timedelta(seconds=overlap_seconds)
    secret = new_secret()
    await store.add_secret(connection, endpoint_id, secret, previous_expire_at=expires)
    return RotatedSecret(secret=secret, previous_expires_at=expires)


async def deliveries(
    connection: Connection, endpoint_id: UUID, *, before: int, limit: int
) -> list[Delivery]:
    """The endpoint's deliveries, newest first, each with every attempt."""
    found = await store.deliveries(connection, endpoint_id, before=before, limit=limit)
    attempts = await store.attempts(connection, [delivery.position for delivery in found])
    return [
        Delivery(
            id=delivery.position,
            webhook_id=delivery.event_id,
            event_type=delivery.event_type,
            aggregate_id=delivery.aggregate_id,
            aggregate_version=delivery.aggregate_version,
            state=delivery.state,
            attempts=[
                Attempt(
                    attempted_at=attempt.attempted_at,
                    status_code=attempt.status_code,
                    duration_ms=attempt.duration_ms,
                    response_excerpt=attempt.response_excerpt,
                    error=attempt.error,
                )
                for attempt in attempts
                if attempt.delivery == delivery.position
            ],
            next_attempt_at=delivery.next_attempt_at if delivery.state == "pending" else None,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
        )
        for delivery in found
    ]


async def replay(
    connection: Connection, endpoint_id: UUID, *, delivery: int | None, since: datetime | None
) -> int:
    return await store.replay(connection, endpoint_id, position=delivery, since=since)
