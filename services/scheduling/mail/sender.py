"""The worker that hands queued mail to the SMTP server, retrying until it is taken.

A 4xx answer, a refused connection or a timeout is retried later, waiting longer each
time; a 5xx answer (no such mailbox, message refused) or too many tries gives the mail up,
with the server's answer kept in `last_error`. A mail is marked sent as soon as the server
has taken it. Only a sender that dies between the server's "250" and that mark leaves a
mail to be sent again once its lease ends; its Message-ID stays the same, by which mail
programs recognise the repeat.
"""

from __future__ import annotations

from datetime import timedelta

import aiosmtplib
import structlog

from services.scheduling.mail import queue
from services.scheduling.store import QueuedMail
from shared.db import Pool, acquire
from shared.notify import Notifier
from shared.settings import SmtpSettings
from shared.timers import run_when_due

log = structlog.get_logger(__name__)

BATCH = 20
PERMANENT = 500
"""SMTP answers from 500 on are final: the server will not take the mail later either."""


async def deliver_due(pool: Pool, smtp: SmtpSettings) -> int:
    """Send every mail that is due now; returns how many the server took."""
    delivered = 0
    while True:
        async with acquire(pool) as connection:
            leased = await queue.lease_due(connection, BATCH)
        for mail in leased:
            delivered += await _deliver(pool, smtp, mail)
        if len(leased) < BATCH:
            return delivered


async def _deliver(pool: Pool, smtp: SmtpSettings, mail: QueuedMail) -> int:
    try:
        await aiosmtplib.send(
            mail.message,
            sender=mail.sender,
            recipients=mail.recipients,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username or None,
            password=smtp.password or None,
            start_tls=smtp.start_tls,
            use_tls=smtp.use_tls,
            timeout=smtp.timeout,
        )
    except (aiosmtplib.SMTPException, OSError) as error:
        reason = f"{type(error).__name__}: {error}"
        async with acquire(pool) as connection:
            if _permanent(error) or mail.attempts >= smtp.max_attempts:
                await queue.give_up(connection, mail.id, reason)
                log.warning(
                    "mail given up", mail_id=str(mail.id), attempts=mail.attempts, error=reason
                )
            else:
                await queue.retry_later(
                    connection, mail, reason, timedelta(seconds=smtp.retry_after)
                )
                log.warning("mail to be retried", mail_id=str(mail.id), error=reason)
        return 0
    async with acquire(pool) as connection:
        await queue.mark_sent(connection, mail.id)
    log.info("mail sent", mail_id=str(mail.id), recipients=len(mail.recipients))
    return 1


def _permanent(error: Exception) -> bool:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code >= PERMANENT for refused in error.recipients)
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= PERMANENT


async def run_sender(
    pool: Pool, notifier: Notifier, channel: str, smtp: SmtpSettings, max_sleep: float
) -> None:
    async def fire() -> None:
        await deliver_due(pool, smtp)

    async def seconds_until_due() -> float | None:
        async with acquire(pool) as connection:
            return await queue.seconds_until_due(connection)

    await run_when_due(fire, seconds_until_due, notifier, channel, max_sleep)
