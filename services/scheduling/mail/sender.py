"""The worker that writes queued mail and hands it to the SMTP server, retrying until it is
taken.

Each mail is written when it is sent, from the meeting as it is then (see
`invitations.message_of`), so what a person receives last says how the meeting stands. A
mail with a newer one of the same object waiting behind it for the same person is not sent
at all: the newer one says everything it would, and more.

A 4xx answer, a refused connection or a timeout is retried later, waiting longer each
time; a 5xx answer (no such mailbox, message refused) or too many tries gives the mail up,
with the server's answer kept in `last_error`. A mail is marked sent in the transaction
that held it while the server took it: only a sender that dies between the server's "250"
and that commit sends a mail twice, that one mail, as soon as a sender looks again; its
Message-ID stays the same, by which mail programs recognise the repeat. A sender asked to
stop finishes the mail in hand first (`shared.workers.finished_first`), within the stop's
time: only a kill, or a stop out of time, leaves that window open.

Writing a message (the iCalendar object, then MIME with the standard library's SMTP
policy) is CPU work of ten milliseconds and more, hundreds for a workshop of many days:
it is done in processes of their own (`smtp.writers`), so that the consumers sharing this
event loop are never held up by the mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

import aiosmtplib
import structlog
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, StatusCode

from services.scheduling import invitations, store
from services.scheduling.ical import CalendarMeeting
from services.scheduling.mail import queue
from services.scheduling.mail.compose import POLICY
from services.scheduling.meetings import Context, load
from services.scheduling.store import MailRecord, QueuedMail
from services.scheduling.views import calendar_of
from shared.db import Connection, Pool, acquire
from shared.events import utc_now
from shared.metrics import MAIL_ATTEMPTS
from shared.notify import Notifier
from shared.orphans import die_with_parent
from shared.settings import SmtpSettings
from shared.timers import run_when_due
from shared.tracing import TRACER, context_of
from shared.workers import finished_first, supervise

log = structlog.get_logger(__name__)

T = TypeVar("T")

PERMANENT = 500
"""SMTP answers from 500 on are final: the server will not take the mail later either."""


@dataclass(frozen=True)
class Letter:
    """What goes to the SMTP server: the envelope and the message."""

    sender: str
    recipients: list[str]
    message: bytes


@dataclass(frozen=True)
class Sending:
    """What a sender needs: the database, the SMTP server, the service's context and the
    process that writes messages."""

    pool: Pool
    smtp: SmtpSettings
    context: Context
    writer: Executor
    taken: dict[UUID, Letter] = field(default_factory=dict)
    """Mails the server took whose sending the database has not recorded yet (it went
    away in between): recorded when it is back, never sent again by this process."""


async def deliver_due(sending: Sending) -> int:
    """Send every mail that is due now, `smtp.parallel` at a time (each to another
    person); returns how many the server took."""
    counts = await asyncio.gather(
        *(_deliver_while_due(sending) for _ in range(max(sending.smtp.parallel, 1)))
    )
    return sum(counts)


async def _deliver_while_due(sending: Sending) -> int:
    delivered = 0
    postman = Postman(sending.smtp)
    try:
        while (
            taken := await finished_first(_deliver_next(sending, postman), sending.smtp.timeout)
        ) is not None:
            delivered += taken
    finally:
        await postman.close()
    return delivered


async def _deliver_next(sending: Sending, postman: Postman) -> int | None:
    """Send the next mail due; 1 if the server took it, 0 if not, None if none is due."""
    with contextlib.ExitStack() as in_its_trace:
        async with acquire(sending.pool) as connection, connection.transaction():
            mail = await queue.lease(connection)
            if mail is None:
                return None
            in_its_trace.enter_context(_sending_span(mail))
            outcome = await _send_or_settle(connection, sending, postman, mail)
        # Counted once committed: no scrape shows an outcome the queue does not show yet.
        MAIL_ATTEMPTS.labels(outcome).inc()
        if outcome != "sent":
            return 0
        letter = sending.taken.pop(mail.id)
        log.info("mail sent", mail_id=str(mail.id), recipients=len(letter.recipients))
        return 1


async def _send_or_settle(
    connection: Connection, sending: Sending, postman: Postman, mail: QueuedMail
) -> str:
    """Send the leased mail, or record why not; the outcome, as the metrics name it."""
    letter = sending.taken.get(mail.id)
    # Taken already (not None) when the server took it before the database went away:
    # recorded now, not sent again.
    if letter is None:
        written = await _letter(connection, mail, sending)
        if isinstance(written, str):
            await store.mail_skipped(connection, mail.id, written)
            log.info("mail not sent", mail_id=str(mail.id), reason=written)
            return "skipped"
        letter = written
        try:
            await postman.send(letter)
        except (aiosmtplib.SMTPException, OSError) as error:
            trace.get_current_span().set_status(
                StatusCode.ERROR, f"{type(error).__name__}: {error}"
            )
            return await _failed(connection, sending.smtp, mail, error)
        sending.taken[mail.id] = letter
    await store.mail_sent(connection, mail.id, letter.message, letter.sender, letter.recipients)
    return "sent"


def _sending_span(mail: QueuedMail) -> contextlib.AbstractContextManager[Span]:
    """The span of one mail's sending, in the trace of the change that queued it."""
    return TRACER.start_as_current_span(
        "mail send",
        context=context_of(mail.traceparent),
        kind=SpanKind.CLIENT,
        attributes={"telebridge.mail.id": str(mail.id), "telebridge.mail.attempt": mail.attempts},
    )


async def _letter(connection: Connection, mail: QueuedMail, sending: Sending) -> Letter | str:
    """The letter a queued mail stands for, or why none is sent."""
    context = sending.context
    if mail.message is not None:  # queued, written, by an earlier version of the service
        return Letter(mail.sender or context.organizer_email, mail.recipients or [], mail.message)
    record = mail.record()
    assert record is not None, "a queued mail is a record or a message"
    if await store.mail_superseded(connection, record):
        return "a newer mail of the same calendar object waits for the person"
    row = await store.meeting(connection, record.meeting_id)
    attendee = await store.attendee(connection, record.meeting_id, record.person_id)
    if row is None or attendee is None:
        return "the meeting or the person is gone"
    calendar = calendar_of(await load(connection, row), context)
    first = not await store.object_mailed(connection, record.person_id, record.uid)
    message = await asyncio.get_running_loop().run_in_executor(
        sending.writer,
        write,
        calendar,
        invitations.Recipient.of(attendee, calendar.timezone),
        record,
        first,
        utc_now(),
    )
    if message is None:
        return "the calendar object is over or gone"
    return Letter(calendar.organizer_email, [attendee.email], message)


def write(
    calendar: CalendarMeeting,
    recipient: invitations.Recipient,
    record: MailRecord,
    first_of_object: bool,
    stamp: datetime,
) -> bytes | None:
    """The message's bytes (see `invitations.message_of`); run in the writer process."""
    message = invitations.message_of(
        calendar, recipient, record, first_of_object=first_of_object, stamp=stamp
    )
    return None if message is None else message.as_bytes(policy=POLICY)


class Postman:
    """One connection to the SMTP server, kept while mails are due: a connection per mail
    (with its EHLO, TLS handshake and login) costs more than the mail.

    A connection the server may have closed meanwhile (idle for `IDLE_CHECK` seconds) is
    tried with NOOP before a mail goes on it, so that a mail is never handed to a closed
    connection and then taken for refused. Any failure closes the connection: the next
    mail starts on a new one."""

    IDLE_CHECK = 2.0

    def __init__(self, smtp: SmtpSettings) -> None:
        self._settings = smtp
        self._client: aiosmtplib.SMTP | None = None
        self._used = 0.0

    async def send(self, letter: Letter) -> None:
        client = await self._connected()
        try:
            await client.sendmail(letter.sender, letter.recipients, letter.message)
        except BaseException:
            self._drop()
            raise
        self._used = time.monotonic()

    async def close(self) -> None:
        """QUIT, as a client that is done says."""
        if self._client is not None and self._client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await self._client.quit()
        self._drop()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            if time.monotonic() - self._used < self.IDLE_CHECK:
                return self._client
            try:
                await self._client.noop()
            except (aiosmtplib.SMTPException, OSError):
                self._drop()
            else:
                return self._client
        smtp = self._settings
        client = aiosmtplib.SMTP(
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username or None,
            password=smtp.password or None,
            start_tls=smtp.start_tls,
            use_tls=smtp.use_tls,
            timeout=smtp.timeout,
        )
        await client.connect()
        self._client = client
        return client


async def _failed(
    connection: Connection, smtp: SmtpSettings, mail: QueuedMail, error: Exception
) -> str:
    reason = f"{type(error).__name__}: {error}"
    if _permanent(error) or mail.attempts >= smtp.max_attempts:
        await store.mail_failed(connection, mail.id, reason)
        log.warning("mail given up", mail_id=str(mail.id), attempts=mail.attempts, error=reason)
        return "failed"
    await queue.retry_later(connection, mail, reason, timedelta(seconds=smtp.retry_after))
    log.warning("mail to be retried", mail_id=str(mail.id), error=reason)
    return "retry"


def _permanent(error: Exception) -> bool:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(refused.code >= PERMANENT for refused in error.recipients)
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= PERMANENT


def _imported() -> None:
    """Nothing: calling it in the writer process imports this module and its own there."""


async def run_sender(
    pool: Pool,
    notifier: Notifier,
    channel: str,
    *,
    smtp: SmtpSettings,
    max_sleep: float,
    context: Context,
) -> None:
    writer = ProcessPoolExecutor(
        max_workers=max(smtp.writers, 1),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with_parent,  # a killed service leaves no writer behind
    )
    # Started now, not when the first mail is due: a process takes seconds to import.
    for _ in range(max(smtp.writers, 1)):
        writer.submit(_imported)
    sending = Sending(pool=pool, smtp=smtp, context=context, writer=writer)

    async def fire() -> None:
        await deliver_due(sending)

    async def seconds_until_due() -> float | None:
        async with acquire(pool) as connection:
            return await queue.seconds_until_due(connection)

    try:
        # Supervised here, not only by the service: a restart after the database went away
        # must keep `sending.taken` (and the writer processes, seconds to start).
        await supervise(
            "mail-sender",
            lambda: run_when_due(fire, seconds_until_due, notifier, channel, max_sleep),
        )
    finally:
        writer.shutdown(wait=False, cancel_futures=True)
