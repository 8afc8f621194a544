"""Who is mailed which invite, and when.

A person signed up gets a REQUEST for each calendar object of the meeting their site takes
part in; a change attendees would see sends the changed objects again with the raised
SEQUENCE; a cancelled meeting or session a CANCEL, and a cancelled occurrence of a series
a CANCEL naming its RECURRENCE-ID. Each message names only its recipient as ATTENDEE: a
hundred participants from twenty regions do not see each other's addresses.

Mails are queued in the transaction of the change that causes them, under the meeting's
lock, as records (person, object, method, SEQUENCE) keyed by the recipient, the object, the
method, the SEQUENCE and the cause, so that no redelivered event or retried request queues
one twice. The sender writes each message when it sends it (`message_of`), from the
meeting as it is then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Literal
from uuid import UUID

from services.scheduling import store
from services.scheduling.ical import (
    Attendee,
    CalendarMeeting,
    CalendarObject,
    CalendarSession,
    CalendarSite,
    ObjectSpan,
    calendar_objects,
    object_spans,
    render_invite,
    render_occurrence_cancel,
    uid_of,
)
from services.scheduling.mail.compose import InviteMail, MailKind, compose
from shared.db import Connection
from shared.events import new_id, utc_now
from shared.names import salutation
from shared.tracing import current_traceparent


@dataclass(frozen=True)
class Recipient:
    person_id: UUID
    attendee: Attendee
    language: str
    timezone: str
    greeting_name: str
    """How the letter greets the person (see `shared.names.salutation`)."""

    @classmethod
    def of(cls, row: store.Attendee, fallback_zone: str) -> Recipient:
        language = row.language if row.language in ("ru", "en") else "ru"
        greeting_name = row.name
        if row.given_name and row.surname:
            greeting_name = salutation(row.surname, row.given_name, row.patronymic, language)
        return cls(
            person_id=row.id,
            attendee=Attendee(
                name=row.name,
                email=row.email,
                rsvp=row.rsvp,
                role=row.role,
                organization_id=row.organization_id,
            ),
            language=language,
            timezone=row.timezone or fallback_zone,
            greeting_name=greeting_name,
        )


async def send_all(
    connection: Connection,
    meeting: CalendarMeeting,
    kind: MailKind,
    *,
    cause: str,
    only: set[str] | None = None,
    to: Sequence[store.Attendee] | None = None,
) -> int:
    """Queue, for each person signed up (or those `to`), a mail of every calendar object of
    theirs that is not over yet (or `only` these UIDs); returns how many were queued.

    What is queued is a record of the mail; the sender writes the message when it sends it.
    """
    now = utc_now()
    if kind == "cancellation":
        # Cancelled for these recipients: every object reaches them as a CANCEL.
        meeting = replace(meeting, status="cancelled")
    attendees = await store.attendees(connection, meeting.meeting_id) if to is None else to
    records = [
        _record(
            meeting,
            attendee.id,
            span.uid,
            kind="cancellation" if span.cancelled else kind,
            cause=cause,
        )
        for attendee in attendees
        for span in object_spans(meeting, _site_of(meeting, attendee.organization_id))
        if (only is None or span.uid in only) and span.ends_at > now
    ]
    return await store.queue_mail(connection, records)


async def send_occurrence_cancels(
    connection: Connection,
    meeting: CalendarMeeting,
    occurrences: Sequence[CalendarSession],
    *,
    cause: str,
) -> int:
    now = utc_now()
    records = [
        _record(
            meeting,
            attendee.id,
            uid_of(meeting.meeting_id),
            kind="cancellation",
            cause=f"{cause}:{occurrence.recurrence_id or occurrence.starts_at:%Y%m%dT%H%M%SZ}",
            session_id=occurrence.id,
        )
        for attendee in await store.attendees(connection, meeting.meeting_id)
        for occurrence in occurrences
        if occurrence.ends_at > now
    ]
    return await store.queue_mail(connection, records)


def _record(
    meeting: CalendarMeeting,
    person_id: UUID,
    uid: str,
    *,
    kind: MailKind,
    cause: str,
    session_id: UUID | None = None,
) -> store.MailRecord:
    method: Literal["REQUEST", "CANCEL"] = "CANCEL" if kind == "cancellation" else "REQUEST"
    return store.MailRecord(
        id=new_id(),
        dedupe_key=f"{uid}:{person_id}:{method}:{meeting.sequence}:{cause}",
        person_id=person_id,
        meeting_id=meeting.meeting_id,
        uid=uid,
        method=method,
        kind=kind,
        sequence=meeting.sequence,
        session_id=session_id,
        traceparent=current_traceparent(),
    )


def _site_of(meeting: CalendarMeeting, organization_id: UUID | None) -> CalendarSite | None:
    return next((s for s in meeting.sites if s.organization_id == organization_id), None)


def message_of(
    meeting: CalendarMeeting,
    recipient: Recipient,
    mail: store.MailRecord,
    *,
    first_of_object: bool,
    stamp: datetime,
) -> EmailMessage | None:
    """The message a queued mail stands for, written from the meeting as it is at `stamp`
    (its SEQUENCE included); None if the object is over or gone by then.

    An update to someone who has had no mail of the object yet is worded as an invitation.
    """
    site = _site_of(meeting, recipient.attendee.organization_id)
    if mail.session_id is not None:
        occurrence = next((s for s in meeting.sessions if s.id == mail.session_id), None)
        if occurrence is None or occurrence.ends_at <= stamp:
            return None
        calendar = render_occurrence_cancel(meeting, occurrence, [recipient.attendee], stamp)
        span = ObjectSpan(
            uid=mail.uid,
            starts_at=occurrence.starts_at,
            ends_at=occurrence.ends_at,
            cancelled=True,
        )
    else:
        if mail.method == "CANCEL":
            meeting = replace(meeting, status="cancelled")
        found = [s for s in object_spans(meeting, site) if s.uid == mail.uid]
        if not found or found[0].ends_at <= stamp:
            return None
        [span] = found
        calendar = render_invite(meeting, [recipient.attendee], stamp, uid=mail.uid, site=site)
    kind: MailKind = mail.kind
    if span.cancelled:
        kind = "cancellation"
    elif kind == "update" and first_of_object:
        kind = "invitation"
    return compose(
        InviteMail(
            kind=kind,
            method="CANCEL" if kind == "cancellation" else "REQUEST",
            title=meeting.title,
            starts_at=span.starts_at,
            ends_at=span.ends_at,
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
            message_id=_message_id(mail.dedupe_key, meeting.organizer_email),
        )
    )


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


def _message_id(key: str, organizer_email: str) -> str:
    domain = organizer_email.rpartition("@")[2] or "telebridge.localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"
