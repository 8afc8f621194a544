"""The queue of outgoing mail in scheduling's database.

A mail is queued in the transaction of the change that causes it, so it goes out if and
only if the change commits. A sender leases due mail (`FOR UPDATE SKIP LOCKED`, then
`next_attempt_at` moved past the lease) before it talks to the SMTP server, so two
replicas never send one mail at once; once the server has taken it, it is marked sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Final
from uuid import UUID

from services.scheduling.mail.compose import POLICY
from shared.backoff import doubling
from shared.db import Connection
from shared.events import new_id

LEASE: Final = timedelta(minutes=5)
"""Longer than any SMTP conversation: a sender that died mid-way is retried after it."""
LONGEST_WAIT: Final = timedelta(hours=1)

_ENQUEUE: Final = """
INSERT INTO outgoing_mail (id, dedupe_key, sender, recipients, message)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""
_LEASE: Final = """
UPDATE outgoing_mail SET attempts = attempts + 1, next_attempt_at = now() + $2::interval
WHERE id IN (SELECT id FROM outgoing_mail
             WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
             ORDER BY next_attempt_at, queued_at LIMIT $1
             FOR UPDATE SKIP LOCKED)
RETURNING id, sender, recipients, message, attempts
"""
_SENT: Final = "UPDATE outgoing_mail SET sent_at = now(), last_error = NULL WHERE id = $1"
_RETRY: Final = """
UPDATE outgoing_mail SET next_attempt_at = now() + $2::interval, last_error = $3 WHERE id = $1
"""
_FAILED: Final = "UPDATE outgoing_mail SET failed_at = now(), last_error = $2 WHERE id = $1"
_NEXT_DUE: Final = """
SELECT extract(epoch FROM min(next_attempt_at) - now())::float8
FROM outgoing_mail WHERE sent_at IS NULL AND failed_at IS NULL
"""


async def enqueue(connection: Connection, *, dedupe_key: str, message: EmailMessage) -> bool:
    """Queue the message unless one with this key was queued before; True if it is new."""
    recipients = [
        address.addr_spec
        for header in ("To", "Cc", "Bcc")
        if message[header] is not None
        for address in message[header].addresses
    ]
    [sender] = message["From"].addresses
    data = message.as_bytes(policy=POLICY)
    row = await connection.fetchrow(
        _ENQUEUE, new_id(), dedupe_key, sender.addr_spec, recipients, data
    )
    return row is not None


@dataclass(frozen=True)
class QueuedMail:
    id: UUID
    sender: str
    recipients: list[str]
    message: bytes
    attempts: int
    """Including the one about to be made."""


async def lease_due(connection: Connection, limit: int) -> list[QueuedMail]:
    rows = await connection.fetch(_LEASE, limit, LEASE)
    return [
        QueuedMail(
            id=row["id"],
            sender=row["sender"],
            recipients=list(row["recipients"]),
            message=bytes(row["message"]),
            attempts=row["attempts"],
        )
        for row in rows
    ]


async def mark_sent(connection: Connection, mail_id: UUID) -> None:
    await connection.execute(_SENT, mail_id)


async def retry_later(
    connection: Connection, mail: QueuedMail, error: str, first_wait: timedelta
) -> None:
    seconds = doubling(
        first_wait.total_seconds(), mail.attempts, longest=LONGEST_WAIT.total_seconds()
    )
    wait = timedelta(seconds=seconds)
    await connection.execute(_RETRY, mail.id, wait, error)


async def give_up(connection: Connection, mail_id: UUID, error: str) -> None:
    await connection.execute(_FAILED, mail_id, error)


async def seconds_until_due(connection: Connection) -> float | None:
    seconds: float | None = await connection.fetchval(_NEXT_DUE)
    return seconds
