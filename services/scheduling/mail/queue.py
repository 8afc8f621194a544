"""The queue of outgoing mail in scheduling's database.

A mail is queued in the transaction of the change that causes it, so it goes out if and
only if the change commits; what is queued is a record (`store.MailRecord`), and the
sender writes the message when it sends it. A sender holds the mail it sends locked
(`FOR UPDATE SKIP LOCKED`) in a transaction that lasts while it talks to the SMTP server
and ends with the mail marked sent: two replicas never send one mail at once, and a sender
that dies lets go of it at once, so it is sent again as soon as a sender looks.

Each person's mails leave one at a time, in the order they were queued (the order of the
meeting's changes: they are queued under its lock); a mail waiting to be retried holds
back the person's later ones.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from prometheus_client.core import Metric

from services.scheduling import store
from services.scheduling.store import QueuedMail
from shared.backoff import doubling
from shared.db import Connection
from shared.metrics import queue_readings

LONGEST_WAIT: Final = timedelta(hours=1)


async def lease(connection: Connection) -> QueuedMail | None:
    """The next mail to send, held until the caller's transaction ends."""
    return await store.lease_mail(connection)


async def retry_later(
    connection: Connection, mail: QueuedMail, error: str, first_wait: timedelta
) -> None:
    seconds = doubling(
        first_wait.total_seconds(), mail.attempts, longest=LONGEST_WAIT.total_seconds()
    )
    await store.retry_mail(connection, mail.id, timedelta(seconds=seconds), error)


async def seconds_until_due(connection: Connection) -> float | None:
    return await store.seconds_until_mail_due(connection)


async def readings(connection: Connection) -> list[Metric]:
    """The queue, for `/metrics` (`shared.metrics.Probe`)."""
    found = await store.mail_waiting(connection)
    return queue_readings("mail", "Mails", "mail", found.waiting, found.oldest_seconds)
