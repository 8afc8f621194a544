"""The consumer side of exactly-once effects: remember what was applied, and what is stale.

`receive` runs in the transaction of the event's effect. It first advances the aggregate's
version (locking its row, so two replicas handling one aggregate take turns), then records
the event id. The effect should run only when the answer is `Delivery.NEW`. Both are kept
per consumer, so two consumers of one service may each apply the same event.
"""

from __future__ import annotations

import enum
from typing import Final

from shared.db import Connection
from shared.events import Event

_ADVANCE: Final = """
INSERT INTO aggregate_versions AS current (consumer, aggregate_type, aggregate_id, version)
VALUES ($1, $2, $3, $4)
ON CONFLICT (consumer, aggregate_type, aggregate_id) DO UPDATE SET version = EXCLUDED.version
    WHERE current.version < EXCLUDED.version
RETURNING version
"""
_RECORD: Final = """
INSERT INTO inbox (consumer, event_id, subject, aggregate_type, aggregate_id, aggregate_version,
                   applied)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (consumer, event_id) DO NOTHING
RETURNING event_id
"""


class Delivery(enum.Enum):
    NEW = "new"
    """First delivery of the newest version seen: apply it."""
    DUPLICATE = "duplicate"
    """This event id was received before: skip."""
    STALE = "stale"
    """A newer version of the aggregate was applied already: skip."""


async def receive(connection: Connection, consumer: str, event: Event) -> Delivery:
    """Record `event` as received by `consumer`; say whether its effect should run."""
    advanced = await connection.fetchval(
        _ADVANCE, consumer, event.aggregate_type, event.aggregate_id, event.aggregate_version
    )
    recorded = await connection.fetchval(
        _RECORD,
        consumer,
        event.event_id,
        event.subject,
        event.aggregate_type,
        event.aggregate_id,
        event.aggregate_version,
        advanced is not None,
    )
    if recorded is None:
        return Delivery.DUPLICATE
    return Delivery.NEW if advanced is not None else Delivery.STALE
