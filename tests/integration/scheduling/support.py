"""What the scheduling tests share: the service in-process, organizations and people
published as the registry would, meetings, invites and events."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import icalendar
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

from services.scheduling.app import create_app
from shared.events import (
    SCHEDULING,
    RegistrationCreated,
    TimeRange,
    WorkingHours,
)
from shared.settings import SchedulingSettings, SmtpSettings
from telebridge.embedded import free_port
from telebridge.mailsink import mail_sink
from tests import events
from tests.integration.api import Published, body, partner_key, publish, published
from tests.support import OPERATOR, eventually, harness, settings_for

_LONG_DAY = [TimeRange(start=time(7, 0), end=time(23, 0))]
LONG_DAYS = WorkingHours(
    mon=_LONG_DAY,
    tue=_LONG_DAY,
    wed=_LONG_DAY,
    thu=_LONG_DAY,
    fri=_LONG_DAY,
    sat=_LONG_DAY,
    sun=_LONG_DAY,
)

STARTS = datetime(2030, 10, 1, 8, 0, tzinfo=UTC)
"""Far enough ahead that the meeting clock leaves the meetings alone."""
MOSCOW_TIME = "2030-10-01T11:00:00+03:00"
MOSCOW_END = "2030-10-01T13:00:00+03:00"
TITLE = "Телемост «От сердца к сердцу»"
NEXT_DAY = {"starts_at": "2030-10-02T11:00:00+03:00", "ends_at": "2030-10-02T13:00:00+03:00"}
"""The times of a second meeting of the same sites, which may not overlap the first."""


@dataclass
class Scheduling:
    client: AsyncTestClient[Any]
    js: JetStreamContext
    database: asyncpg.Connection
    maildir: Path
    """Where the SMTP server the service sends to keeps what it receives."""

    async def organization(self, name: str, region: str, timezone: str, **details: Any) -> UUID:
        """An organization the registry published; returns once scheduling knows it.

        Unless told otherwise it works every day from 07:00 to 23:00, so that meetings of
        tests that are not about working hours fit.
        """
        event = events.organization(
            name, region, timezone, **{"working_hours": LONG_DAYS} | details
        )
        await publish(self.js, event)

        async def known() -> bool:
            found = await self.database.fetchval(
                "SELECT count(*) FROM scheduling.organizations WHERE id = $1", event.aggregate_id
            )
            return bool(found)

        await eventually(known)
        return event.aggregate_id

    async def moscow(self) -> UUID:
        return await self.organization(
            "Межпоселенческая центральная библиотека Георгиевского округа",
            "Ставропольский край",
            "Europe/Moscow",
        )

    async def vladivostok(self) -> UUID:
        return await self.organization(
            "Приморская краевая публичная библиотека им. А. М. Горького",
            "Приморский край",
            "Asia/Vladivostok",
        )

    async def partner_key(self, organization_id: UUID) -> dict[str, str]:
        """Headers with a partner key of the organization, once scheduling accepts it."""
        return await partner_key(self.js, self.client, organization_id, "/meetings")

    async def telebridge(self, host: UUID, *others: UUID, **changes: Any) -> dict[str, Any]:
        meeting: dict[str, Any] = body(
            await self.client.post("/meetings", json=telebridge(host, *others, **changes)), 201
        )
        return meeting

    async def invite(self, meeting_id: str) -> tuple[bytes, icalendar.Calendar]:
        response = await self.client.get(f"/meetings/{meeting_id}/invite.ics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].split(";")[0] == "text/calendar"
        assert "charset=utf-8" in response.headers["content-type"].replace(" ", "").lower()
        assert response.headers["content-disposition"] == (
            f'attachment; filename="meeting-{meeting_id}.ics"'
        )
        return response.content, icalendar.Calendar.from_ical(response.content)

    async def events_of(self, meeting_id: str, count: int) -> list[Published]:
        """The meeting's events in the SCHEDULING stream, once `count` have been relayed."""

        async def relayed() -> list[Published] | None:
            found = [
                m
                for m in await published(self.js, SCHEDULING)
                if m.event["aggregate_id"] == meeting_id
            ]
            return found if len(found) >= count else None

        return await eventually(relayed)


@asynccontextmanager
async def scheduling_service(
    database_url: str, nats_url: str, tmp_path: Path
) -> AsyncIterator[Scheduling]:
    """Sending its mail to the SMTP server of `telebridge dev`, on a port of its own."""
    port = free_port()
    smtp = SmtpSettings(port=port, retry_after=0.2)
    app = create_app(settings_for(SchedulingSettings, database_url, nats_url, smtp=smtp))
    with mail_sink(tmp_path / "mail", port):
        async with harness(app, database_url, nats_url) as running:
            running.client.headers.update(OPERATOR)
            yield Scheduling(running.client, running.js, running.database, tmp_path / "mail")


def telebridge(host: UUID, *others: UUID, **changes: Any) -> dict[str, Any]:
    return {
        "title": TITLE,
        "kind": "telebridge",
        "host_organization_id": str(host),
        "sites": [{"organization_id": str(other)} for other in others],
        "starts_at": MOSCOW_TIME,
        "ends_at": MOSCOW_END,
        **changes,
    }


def path_of(url: str) -> str:
    """The path of a URL the service gave, to request it from the test client."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def vevent(calendar: icalendar.Calendar) -> Any:
    [event] = calendar.walk("VEVENT")
    return event


# --- mail -------------------------------------------------------------------------------


async def mails(scheduling: Scheduling) -> list[EmailMessage]:
    """The mails sent so far, in the order they left."""
    rows = await scheduling.database.fetch(
        "SELECT message FROM scheduling.outgoing_mail WHERE sent_at IS NOT NULL "
        "ORDER BY sent_at, position"
    )
    return [
        email.message_from_bytes(row["message"], policy=email.policy.default)  # type: ignore[misc]
        for row in rows
    ]


async def queued(scheduling: Scheduling) -> int:
    """How many mails were queued, sent or not."""
    count: int = await scheduling.database.fetchval("SELECT count(*) FROM scheduling.outgoing_mail")
    return count


async def mails_once(scheduling: Scheduling, count: int) -> list[EmailMessage]:
    async def queued() -> list[EmailMessage] | None:
        found = await mails(scheduling)
        return found if len(found) >= count else None

    # Mails are written one person at a time when sent: a workshop's take a while.
    return await eventually(queued, timeout=60)


def calendar_part(message: EmailMessage) -> tuple[str, icalendar.Calendar]:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return str(part.get_param("method")), icalendar.Calendar.from_ical(
        part.get_payload(decode=True)
    )


async def sign_up(
    scheduling: Scheduling,
    meeting_id: str,
    organization: UUID,
    name: str,
    language: str = "ru",
    **name_parts: str,
) -> RegistrationCreated:
    """`name` is the display name; `name_parts` may give surname, given_name, patronymic."""
    person, registration = events.signed_up(
        UUID(meeting_id), organization, name, language=language, **name_parts
    )
    await publish(scheduling.js, person, registration)
    return registration


class MoodyServer:
    """An SMTP server that answers the first messages with the given replies, then keeps
    what it receives. `held`, it answers nothing until its gate is opened."""

    def __init__(self, replies: list[str], *, held: bool = False) -> None:
        self.replies = replies
        self.received: list[bytes] = []
        self.gate = threading.Event()
        if not held:
            self.gate.set()
        self.waiting = threading.Event()
        """Set once a message has come and waits at the gate for its answer."""

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        del server, session
        self.waiting.set()
        await asyncio.to_thread(self.gate.wait, 20)
        if self.replies:
            return self.replies.pop(0)
        self.received.append(envelope.original_content or b"")
        return "250 OK"


@asynccontextmanager
async def scheduling_mailing_to(
    handler: MoodyServer, database_url: str, nats_url: str, tmp_path: Path, replicas: int = 1
) -> AsyncIterator[Scheduling]:
    """Scheduling (`replicas` of it, one database) sending its mail to `handler`."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    smtp = SmtpSettings(port=port, retry_after=0.1, max_attempts=5)
    settings = settings_for(SchedulingSettings, database_url, nats_url, smtp=smtp)
    try:
        async with harness(create_app(settings), database_url, nats_url) as running:
            running.client.headers.update(OPERATOR)
            scheduling = Scheduling(running.client, running.js, running.database, tmp_path)
            if replicas == 1:
                yield scheduling
            else:
                async with harness(create_app(settings), database_url, nats_url):
                    yield scheduling
    finally:
        handler.gate.set()
        controller.stop()
