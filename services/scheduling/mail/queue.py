"""The queue of outgoing mail in scheduling's database.

A mail is queued in the transaction of the change that causes it, so it goes out if and
only if the change commits. A sender leases due mail (`FOR UPDATE SKIP LOCKED`, then
`next_attempt_at` moved past the lease) before it talks to the SMTP server, so two
replicas never send one mail at once; once the server has taken it, it is marked sent.
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Final
from uuid import UUID

from services.scheduling import store
from services.scheduling.mail.compose import POLICY
from services.scheduling.store import QueuedMail
from shared.backoff import doubling
from shared.db import Connection
from shared.events import new_id

LEASE: Final = timedelta(minutes=5)
"""Longer than any SMTP conversation: a sender that died mid-way is retried after it."""
LONGEST_WAIT: Final = timedelta(hours=1)


async def enqueue(connection: Connection, *, dedupe_key: str, message: EmailMessage) -> bool:
    """Queue the message unless one with this key was queued before; True if it is new."""
    recipients = [
        address.addr_spec
        for header in ("To", "Cc", "Bcc")
        if message[header] is not None
        for address in message[header].addresses
    ]
    [sender] = message["From"].addresses
    return await store.enqueue_mail(
        connection,
        new_id(),
        dedupe_key=dedupe_key,
        sender=sender.addr_spec,
        recipients=recipients,
        message=message.as_bytes(policy=POLICY),
    )


async def lease_due(connection: Connection, limit: int) -> list[QueuedMail]:
    return await store.lease_mail(connection, limit, LEASE)


async def mark_sent(connection: Connection, mail_id: UUID) -> None:
    await store.mail_sent(connection, mail_id)


async def retry_later(
    connection: Connection, mail: QueuedMail, error: str, first_wait: timedelta
) -> None:
    seconds = doubling(
        first_wait.total_seconds(), mail.attempts, longest=LONGEST_WAIT.total_seconds()
    )
    wait = timedelta(seconds=seconds)
    await store.retry_mail(connection, mail.id, wait, error)


async def give_up(connection: Connection, mail_id: UUID, error: str) -> None:
    await store.mail_failed(connection, mail_id, error)


async def seconds_until_due(connection: Connection) -> float | None:
    return await store.seconds_until_mail_due(connection)
