"""After a fault: wait until the system is quiet, then check every accepted request's
effect in every service, counting what is lost and what is doubled."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC

import asyncpg
import httpx
import icalendar
import nats

from shared.events import DEADLETTER, STREAMS
from shared.settings import SmtpSettings
from tests.faults.mailbox import Mailbox, ReceivedInvite
from tests.faults.traffic import Ledger
from tests.support import OPERATOR

SCHEMAS = ("registry", "scheduling", "agenda")
# A mail queued as a record names its person; its recipients are written when it is sent.
_ADDRESSED_TO = (
    "coalesce(m.recipients, ARRAY(SELECT p.email FROM scheduling.people p"
    " WHERE p.id = m.person_id)) && $1::text[]"
)


@dataclass
class Backlog:
    """What the system still has to do; quiet when every figure is 0."""

    figures: dict[str, int] = field(default_factory=dict)

    @property
    def quiet(self) -> bool:
        return not any(self.figures.values())

    def __str__(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in self.figures.items() if count)


async def backlog(database_url: str, nats_url: str, mail_to: list[str] | None = None) -> Backlog:
    """Unsent events, unsent mail (to `mail_to` only, if given), undelivered messages."""
    figures: dict[str, int] = {}
    connection = await asyncpg.connect(database_url)
    try:
        for schema in SCHEMAS:
            figures[f"{schema} outbox unsent"] = await connection.fetchval(
                f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL"
            )
        figures["mail unsent"] = await connection.fetchval(
            "SELECT count(*) FROM scheduling.outgoing_mail m"
            " WHERE sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL"
            f" AND ($1::text[] IS NULL OR {_ADDRESSED_TO})",
            mail_to,
        )
        # Summaries wait for a quiet moment after the events that ask for them.
        figures["summaries requested"] = await connection.fetchval(
            "SELECT count(*) FROM agenda.summary_requests"
        )
    finally:
        await connection.close()
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        for stream in STREAMS:
            if stream is DEADLETTER:
                continue
            for consumer in await js.consumers_info(stream.name):
                name = f"{consumer.name} pending"
                figures[name] = consumer.num_pending + consumer.num_ack_pending
    finally:
        await client.close()
    return Backlog(figures)


async def wait_until_quiet(
    database_url: str, nats_url: str, timeout: float, mail_to: list[str] | None = None
) -> Backlog:
    """Poll until nothing is left to do, twice in a row; the last backlog seen otherwise."""
    deadline = time.monotonic() + timeout
    quiet_once = False
    last = Backlog()
    while time.monotonic() < deadline:
        try:
            last = await backlog(database_url, nats_url, mail_to)
        except (OSError, asyncpg.PostgresError, nats.errors.Error, TimeoutError) as error:
            last = Backlog({f"unreachable: {type(error).__name__}": 1})
        if last.quiet and quiet_once:
            return last
        quiet_once = last.quiet
        await asyncio.sleep(0.3)
    return last


@dataclass
class Tally:
    """Effects checked, and each one lost or doubled, with what was seen."""

    checked: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    """Mails the server took just before the sender was killed, sent again (the same
    Message-ID) after its restart: the one repeat the design allows (see
    services/scheduling/mail/sender.py), at most one per sender working at that moment."""

    def expect(self, condition: bool, problem: str) -> None:
        self.checked += 1
        if not condition:
            self.lost.append(problem)

    def once(self, count: int, what: str) -> None:
        """Exactly one: none is lost, more is doubled."""
        self.checked += 1
        if count == 0:
            self.lost.append(f"{what}: missing")
        elif count > 1:
            self.doubled.append(f"{what}: {count} times")

    def none(self, count: int, what: str) -> None:
        """Nothing (its cancellation is the effect): anything left means it was lost."""
        self.checked += 1
        if count:
            self.lost.append(f"{what}: still there {count} times")


async def check_effects(
    ledger: Ledger,
    urls: dict[str, str],
    database_url: str,
    nats_url: str,
    mailbox: Mailbox,
    *,
    sender_killed_at: float | None = None,
) -> Tally:
    """Every accepted request's effects. `sender_killed_at` (`time.monotonic()`) is when
    the mail sender was killed, if it was: a mail in its hands then may come twice."""
    tally = Tally()
    async with httpx.AsyncClient(timeout=30, headers=OPERATOR) as client:
        invites = {
            meeting_id: await _invite(client, urls["scheduling"], meeting_id)
            for meeting_id in ledger.meetings
        }
        feeds = {
            person: await _feed_uids(client, url) for person, url in sorted(ledger.feeds.items())
        }
        published_agendas = {
            meeting_id: await client.get(f"{urls['agenda']}/meetings/{meeting_id}/agenda")
            for meeting_id, meeting in ledger.meetings.items()
            if meeting.agenda_titles
        }
    rows = await _registration_rows(database_url)
    mails = _mails_by_pair(mailbox.invites())

    for meeting_id, meeting in ledger.meetings.items():
        event = invites[meeting_id]
        tally.expect(
            event.decoded("dtstart").astimezone(UTC) == meeting.starts_at,
            f"invite of {meeting_id} starts {event.decoded('dtstart')}, moved to "
            f"{meeting.starts_at}",
        )
        description = str(event.get("description", ""))
        for title in meeting.agenda_titles:
            tally.expect(title in description, f"invite of {meeting_id} lacks «{title}»")
        if meeting.agenda_titles:
            published = published_agendas[meeting_id]
            titles = [item["title"] for item in published.json().get("written", [])]
            tally.expect(
                published.status_code == 200 and titles == meeting.agenda_titles,
                f"published agenda of {meeting_id} is {titles}, not {meeting.agenda_titles}",
            )

    for (person, meeting_id), registration in sorted(ledger.registrations.items()):
        email = ledger.people[person]
        event = invites[meeting_id]
        uid = str(event["uid"])
        what = f"{email} in {meeting_id}"
        partstats = [
            str(attendee.params.get("PARTSTAT", ""))
            for attendee in _attendees(event)
            if str(attendee).lower() == f"mailto:{email}"
        ]
        registered = registration.status == "registered"
        for schema in SCHEMAS:
            statuses = rows.get((schema, person, meeting_id), [])
            tally.once(len(statuses), f"{schema} registration of {what}")
            tally.expect(
                statuses[-1:] == [registration.status],
                f"{schema} has {what} {statuses}, not {registration.status}",
            )
        if registered:
            tally.once(len(partstats), f"attendee {what}")
            tally.expect(
                partstats[:1] == [registration.rsvp.upper()],
                f"attendee {what} answered {partstats}, not {registration.rsvp}",
            )
            tally.once(feeds[person][uid], f"{what}'s feed entry")
        else:
            tally.none(len(partstats), f"cancelled attendee {what}")
            tally.none(feeds[person][uid], f"cancelled {what}'s feed entry")
        mails_to = _resent_at_the_kill(tally, mails.get((email, uid), []), sender_killed_at, what)
        _check_mails(tally, mails_to, registered, event, what)

    if len(tally.resent) > MAIL_SENDERS:
        tally.doubled += [f"{what} (more than {MAIL_SENDERS} in flight)" for what in tally.resent]
    counts = await _leftovers(database_url, nats_url, sorted(ledger.people.values()))
    for what, count in counts.items():
        tally.none(count, what)
    return tally


MAIL_SENDERS = SmtpSettings().parallel
"""Mails being sent at once, so at most as many in the server's hands when a sender dies."""
IN_FLIGHT = 1.0
"""Seconds before the kill a mail that came again may have been taken: a mail is marked
sent milliseconds after the server's answer, so this is generous."""


def _resent_at_the_kill(
    tally: Tally, mails: list[ReceivedInvite], killed_at: float | None, what: str
) -> list[ReceivedInvite]:
    """The mails but the second copy of one the server took as its sender was being
    killed (counted in `tally.resent`); any other repeat stays, to be found doubled."""
    if killed_at is None:
        return mails
    copies: dict[str, list[ReceivedInvite]] = {}
    for mail in mails:
        copies.setdefault(mail.message_id, []).append(mail)
    repeats: set[int] = set()
    for message_id, [*taken] in copies.items():
        if len(taken) == 2 and (
            killed_at - IN_FLIGHT <= taken[0].received_at <= killed_at < taken[1].received_at
        ):
            tally.resent.append(f"mail {message_id} to {what}")
            repeats.add(id(taken[1]))
    return [mail for mail in mails if id(mail) not in repeats]


def _check_mails(
    tally: Tally,
    mails: list[ReceivedInvite],
    registered: bool,
    event: icalendar.Event,
    what: str,
) -> None:
    """The last mail says what the meeting is now; no mail came twice."""
    for message_id, count in Counter(mail.message_id for mail in mails).items():
        if count > 1:
            tally.doubled.append(f"mail {message_id} to {what}: {count} times")
    for (method, sequence), count in Counter((m.method, m.sequence) for m in mails).items():
        if count > 1:
            tally.doubled.append(f"{method} SEQUENCE {sequence} to {what}: {count} times")
    tally.checked += 1
    if not mails:
        tally.lost.append(f"no mail to {what}")
        return
    last = mails[-1]
    seen = [f"{m.method} {m.sequence}" for m in mails]
    if not registered:
        tally.expect(last.method == "CANCEL", f"last mail to cancelled {what} is {seen}")
        return
    sequence = int(event.get("sequence", 0))
    starts_at = event.decoded("dtstart").astimezone(UTC).isoformat()
    tally.expect(
        last.method == "REQUEST" and last.sequence == sequence and last.starts_at == starts_at,
        f"last mail to {what} is {last.method} SEQUENCE {last.sequence} at {last.starts_at}"
        f" (all: {seen}); the meeting is at SEQUENCE {sequence}, {starts_at}",
    )
    tally.expect(
        last.description == str(event.get("description", "")),
        f"last mail to {what} describes an older meeting (SEQUENCE {last.sequence})",
    )


async def _invite(client: httpx.AsyncClient, scheduling: str, meeting_id: str) -> icalendar.Event:
    response = await client.get(f"{scheduling}/meetings/{meeting_id}/invite.ics")
    assert response.status_code == 200, response.text
    [event] = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
    return event


def _attendees(event: icalendar.Event) -> list[icalendar.vCalAddress]:
    found = event.get("attendee", [])
    return found if isinstance(found, list) else [found]


async def _feed_uids(client: httpx.AsyncClient, url: str) -> Counter[str]:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    calendar = icalendar.Calendar.from_ical(response.content)
    return Counter(str(event["uid"]) for event in calendar.walk("VEVENT"))


def _mails_by_pair(invites: list[ReceivedInvite]) -> dict[tuple[str, str], list[ReceivedInvite]]:
    found: dict[tuple[str, str], list[ReceivedInvite]] = {}
    for invite in invites:
        found.setdefault((invite.recipient, invite.uid), []).append(invite)
    return found


async def _registration_rows(database_url: str) -> dict[tuple[str, str, str], list[str]]:
    rows: dict[tuple[str, str, str], list[str]] = {}
    connection = await asyncpg.connect(database_url)
    try:
        for schema in SCHEMAS:
            for row in await connection.fetch(
                f"SELECT person_id::text, meeting_id::text, status FROM {schema}.registrations"
            ):
                key = (schema, row["person_id"], row["meeting_id"])
                rows.setdefault(key, []).append(row["status"])
    finally:
        await connection.close()
    return rows


async def _leftovers(database_url: str, nats_url: str, mail_to: list[str]) -> dict[str, int]:
    """Work never done: unsent events, unsent mail and mail given up on (to `mail_to`),
    dead letters."""
    counts = dict((await backlog(database_url, nats_url, mail_to)).figures)
    connection = await asyncpg.connect(database_url)
    try:
        counts["mail given up"] = await connection.fetchval(
            "SELECT count(*) FROM scheduling.outgoing_mail m"
            f" WHERE failed_at IS NOT NULL AND {_ADDRESSED_TO}",
            mail_to,
        )
    finally:
        await connection.close()
    client = await nats.connect(nats_url)
    try:
        info = await client.jetstream().stream_info(DEADLETTER.name)
        counts["dead letters"] = info.state.messages
    finally:
        await client.close()
    return counts
