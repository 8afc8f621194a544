"""Who is mailed which invite, and when.

A person signed up gets a REQUEST for each calendar object of the meeting their site takes
part in; a change attendees would see sends the changed objects again with the raised
SEQUENCE; a cancelled meeting or session a CANCEL, and a cancelled occurrence of a series
a CANCEL naming its RECURRENCE-ID. Each message names only its recipient as ATTENDEE: a
hundred participants from twenty regions do not see each other's addresses.

Mails are queued in the transaction of the change that causes them, under a key made of
the recipient, the object, the method, the SEQUENCE and the cause, so that no redelivered
event or retried request queues one twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

import asyncpg

from services.scheduling import store
from services.scheduling.ical import (
    Attendee,
    CalendarMeeting,
    CalendarObject,
    CalendarSession,
    calendar_objects,
    render_invite,
    render_occurrence_cancel,
)
from services.scheduling.mail.compose import InviteMail, MailKind, compose
from services.scheduling.mail.queue import enqueue
from shared.db import Connection
from shared.events import utc_now
from shared.names import salutation


@dataclass(frozen=True)
class Recipient:
    person_id: UUID
    attendee: Attendee
    language: str
    timezone: str
    greeting_name: str
    """How the letter greets the person (see `shared.names.salutation`)."""

    @classmethod
    def of(cls, row: asyncpg.Record, fallback_zone: str) -> Recipient:
        language = row["language"] if row["language"] in ("ru", "en") else "ru"
        greeting_name = row["name"]
        if row["given_name"] and row["surname"]:
            greeting_name = salutation(
                row["surname"], row["given_name"], row["patronymic"], language
            )
        return cls(
            person_id=row["id"],
            attendee=Attendee(
                name=row["name"],
                email=row["email"],
                rsvp=row["rsvp"],
                role=row["role"],
                organization_id=row["organization_id"],
            ),
            language=language,
            timezone=row["timezone"] or fallback_zone,
            greeting_name=greeting_name,
        )


async def recipients(connection: Connection, meeting: CalendarMeeting) -> list[Recipient]:
    return [
        Recipient.of(row, meeting.timezone)
        for row in await store.attendees(connection, meeting.meeting_id)
    ]


async def send_all(
    connection: Connection,
    meeting: CalendarMeeting,
    kind: MailKind,
    *,
    cause: str,
    only: set[str] | None = None,
    to: Sequence[Recipient] | None = None,
) -> int:
    """Queue each recipient's invite for every calendar object that is not over yet (or
    `only` these UIDs); returns how many mails were queued."""
    stamp = utc_now()
    queued = 0
    if kind == "cancellation":
        # Cancelled for these recipients: every object reaches them as a CANCEL.
        meeting = replace(meeting, status="cancelled")
    for recipient in await recipients(connection, meeting) if to is None else to:
        site = next(
            (s for s in meeting.sites if s.organization_id == recipient.attendee.organization_id),
            None,
        )
        for found in calendar_objects(meeting, stamp, site=site):
            if (only is not None and found.uid not in only) or found.ends_at <= stamp:
                continue
            calendar = render_invite(meeting, [recipient.attendee], stamp, uid=found.uid, site=site)
            queued += await _queue(
                connection,
                meeting,
                recipient,
                kind="cancellation" if found.cancelled else kind,
                found=found,
                calendar=calendar,
                cause=cause,
            )
    return queued


async def send_occurrence_cancels(
    connection: Connection,
    meeting: CalendarMeeting,
    occurrences: Sequence[CalendarSession],
    *,
    cause: str,
) -> int:
    stamp = utc_now()
    queued = 0
    for recipient in await recipients(connection, meeting):
        for occurrence in occurrences:
            if occurrence.ends_at <= stamp:
                continue
            calendar = render_occurrence_cancel(meeting, occurrence, [recipient.attendee], stamp)
            [found] = calendar_objects(meeting, stamp)
            queued += await _queue(
                connection,
                meeting,
                recipient,
                kind="cancellation",
                found=CalendarObject(
                    uid=found.uid,
                    events=[],
                    starts_at=occurrence.starts_at,
                    ends_at=occurrence.ends_at,
                    cancelled=True,
                ),
                calendar=calendar,
                cause=f"{cause}:{occurrence.recurrence_id or occurrence.starts_at:%Y%m%dT%H%M%SZ}",
            )
    return queued


def changed_uids(before: CalendarMeeting, after: CalendarMeeting) -> set[str]:
    """The calendar objects an attendee would see differently (DTSTAMP and SEQUENCE aside)."""
    old = {found.uid: found.to_ical() for found in _comparable(before)}
    new = {found.uid: found.to_ical() for found in _comparable(after)}
    return {uid for uid, text in new.items() if old.get(uid) != text}


def _comparable(meeting: CalendarMeeting) -> list[CalendarObject]:
    return calendar_objects(replace(meeting, sequence=0), _COMPARISON_STAMP)


_COMPARISON_STAMP = datetime(2000, 1, 1, tzinfo=UTC)


def newly_cancelled_occurrences(
    before: CalendarMeeting, after: CalendarMeeting
) -> list[CalendarSession]:
    if after.recurrence is None or before.recurrence is None:
        return []
    was_cancelled = {s.id for s in before.sessions if s.status == "cancelled"}
    return [s for s in after.sessions if s.status == "cancelled" and s.id not in was_cancelled]


async def _queue(
    connection: Connection,
    meeting: CalendarMeeting,
    recipient: Recipient,
    *,
    kind: MailKind,
    found: CalendarObject,
    calendar: bytes,
    cause: str,
) -> int:
    method: Literal["REQUEST", "CANCEL"] = "CANCEL" if kind == "cancellation" else "REQUEST"
    key = f"{found.uid}:{recipient.person_id}:{method}:{meeting.sequence}:{cause}"
    message = compose(
        InviteMail(
            kind=kind,
            method=method,
            title=meeting.title,
            starts_at=found.starts_at,
            ends_at=found.ends_at,
            recipient_name=recipient.attendee.name,
            greeting_name=recipient.greeting_name,
            recipient_email=recipient.attendee.email,
            language=recipient.language,
            timezone=recipient.timezone,
            organizer_email=meeting.organizer_email,
            organizer_name=meeting.sites[0].name if meeting.sites else "Telebridge",
            conference_url=meeting.conference.url if meeting.conference else None,
            dial_in=meeting.conference.dial_in if meeting.conference else None,
            url=meeting.agenda_url,
            sites=[(site.name, site.timezone) for site in meeting.sites],
            calendar=calendar,
            message_id=_message_id(key, meeting.organizer_email),
        )
    )
    return 1 if await enqueue(connection, dedupe_key=key, message=message) else 0


def _message_id(key: str, organizer_email: str) -> str:
    domain = organizer_email.rpartition("@")[2] or "telebridge.localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"
