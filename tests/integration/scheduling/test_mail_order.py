"""What each person's mailbox says while meetings change under them: mails in SEQUENCE
order, the last one as the meeting stands; meetings applied side by side, each in order;
and a sender that dies mid-send sends that one mail again, at once, and no other."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import icalendar
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.scheduling.app import create_app
from services.scheduling.mail.sender import Letter, Postman
from shared.events import (
    AgendaEntry,
    AgendaPublished,
    PersonUpserted,
    RegistrationCancelled,
    RegistrationCreated,
    new_id,
)
from shared.settings import HttpSettings, SchedulingSettings, SmtpSettings
from telebridge.embedded import free_port
from tests import events
from tests.events import applied
from tests.integration.api import body, publish
from tests.integration.scheduling.support import (
    Scheduling,
    calendar_part,
    telebridge,
    vevent,
)
from tests.support import OPERATOR, eventually, harness, settings_for

DAYS = [f"2030-10-0{day}" for day in range(1, 8)]


class Mailbox:
    """An SMTP server that keeps what it receives in the order it arrives; it can hold
    the `hold`-th message (from 1) after taking its data, until `release` is set."""

    def __init__(self, hold: int | None = None) -> None:
        self.received: list[bytes] = []
        self.peers: list[object] = []
        """The client's address of each message: one per connection it came over."""
        self.hold = hold
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        del server
        with self._lock:
            self.received.append(envelope.original_content or b"")
            self.peers.append(session.peer)
            held = len(self.received) == self.hold
        if held:
            self.holding.set()
            await asyncio.to_thread(self.release.wait)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            received = list(self.received)
        return [
            email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
            for raw in received
        ]


@asynccontextmanager
async def mailing_to(
    mailbox: Mailbox, database_url: str, nats_url: str, tmp_path: Path, **smtp: Any
) -> AsyncIterator[tuple[Scheduling, Controller]]:
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with scheduling_at(port, database_url, nats_url, tmp_path, **smtp) as scheduling:
            yield scheduling, controller
    finally:
        controller.stop()


@asynccontextmanager
async def scheduling_at(
    port: int, database_url: str, nats_url: str, tmp_path: Path, grace: float = 10.0, **smtp: Any
) -> AsyncIterator[Scheduling]:
    """Scheduling sending its mail to the server at `port`; stopped, it has `grace` seconds."""
    settings = settings_for(
        SchedulingSettings,
        database_url,
        nats_url,
        smtp=SmtpSettings(port=port, retry_after=0.2, **smtp),
        http=HttpSettings(port=8002, graceful_shutdown=grace),
    )
    async with harness(create_app(settings), database_url, nats_url) as running:
        running.client.headers.update(OPERATOR)
        yield Scheduling(running.client, running.js, running.database, tmp_path)


async def all_sent(scheduling: Scheduling) -> None:
    """Return once no queued mail waits to be sent."""

    async def drained() -> bool:
        waiting = await scheduling.database.fetchval(
            "SELECT count(*) FROM scheduling.outgoing_mail "
            "WHERE sent_at IS NULL AND failed_at IS NULL AND skipped_at IS NULL"
        )
        return waiting == 0

    await eventually(drained, timeout=60)


def on_day(day: str, hours: int = 11) -> dict[str, str]:
    return {"starts_at": f"{day}T{hours}:00:00+03:00", "ends_at": f"{day}T{hours + 1}:00:00+03:00"}


def agenda(meeting: dict[str, Any], version: int, agenda_id: UUID) -> AgendaPublished:
    starts = datetime.fromisoformat(meeting["starts_at"]).astimezone(UTC)
    return AgendaPublished(
        aggregate_id=agenda_id,
        aggregate_version=version,
        producer="agenda",
        meeting_id=UUID(meeting["id"]),
        items=1,
        url=f"http://127.0.0.1:8003/meetings/{meeting['id']}/agenda.html",
        entries=[AgendaEntry(starts_at=starts, title=f"Доклад, версия {version}")],
    )


def cancelled(registration: RegistrationCreated) -> RegistrationCancelled:
    return RegistrationCancelled(
        aggregate_id=registration.aggregate_id,
        aggregate_version=registration.aggregate_version + 1,
        producer="registry",
        meeting_id=registration.meeting_id,
        person_id=registration.person_id,
        organization_id=registration.organization_id,
        status="cancelled",
    )


class Seen:
    """One mail as a calendar program reads it."""

    def __init__(self, message: EmailMessage) -> None:
        self.to = message["To"].addresses[0].addr_spec
        self.message_id = str(message["Message-ID"])
        self.method, calendar = calendar_part(message)
        [event] = calendar.walk("VEVENT")
        self.event: icalendar.Event = event
        self.uid = str(event["UID"])
        self.sequence = int(event["SEQUENCE"])


async def test_each_persons_mails_keep_sequence_order_and_the_last_says_how_it_stands(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """Three people signed up for four meetings; then, all at once, agendas are published
    again and again, registrations cancelled, meetings moved. Whatever order the changes
    take, each person's mails of an event leave in SEQUENCE order, none twice, and the last
    one says what the meeting's page says now."""
    mailbox = Mailbox()
    async with mailing_to(mailbox, database_url, nats_url, tmp_path) as (scheduling, _):
        host, guest = await scheduling.moscow(), await scheduling.vladivostok()
        meetings = [await scheduling.telebridge(host, guest, **on_day(day)) for day in DAYS[:4]]
        people = [events.person(host, f"Участница № {number}") for number in range(3)]
        registrations = {
            (person.aggregate_id, meeting["id"]): events.registration(UUID(meeting["id"]), person)
            for person in people
            for meeting in meetings
        }
        await publish(scheduling.js, *people, *registrations.values())
        await applied(scheduling.database, "scheduling", *people, *registrations.values())

        agenda_ids = {meeting["id"]: new_id() for meeting in meetings}
        changes: list[Any] = []
        for version in (1, 2, 3):
            changes += [agenda(m, version, agenda_ids[m["id"]]) for m in meetings]
            if version == 1:
                gone = [
                    registrations[people[0].aggregate_id, meetings[0]["id"]],
                    registrations[people[1].aggregate_id, meetings[1]["id"]],
                    registrations[people[2].aggregate_id, meetings[3]["id"]],
                ]
                changes += [cancelled(registration) for registration in gone]

        async def move(meeting: dict[str, Any], hours: int) -> None:
            moved = telebridge(host, guest, **on_day(meeting["starts_at"][:10], hours))
            while True:  # an agenda may change the meeting between the GET and the PUT
                current = await scheduling.client.get(f"/meetings/{meeting['id']}")
                response = await scheduling.client.put(
                    f"/meetings/{meeting['id']}",
                    json=moved,
                    headers={"If-Match": current.headers["etag"]},
                )
                if response.status_code != 412:
                    body(response)
                    return

        async def moves() -> None:
            for hours in (12, 13):
                for meeting in meetings[2:]:
                    await move(meeting, hours)

        await asyncio.gather(publish(scheduling.js, *changes), moves())
        await applied(scheduling.database, "scheduling", *changes)
        await all_sent(scheduling)

        now = {m["id"]: body(await scheduling.client.get(f"/meetings/{m['id']}")) for m in meetings}
        invites = {
            meeting_id: vevent((await scheduling.invite(meeting_id))[1]) for meeting_id in now
        }
    moved = {meeting["id"] for meeting in meetings[2:]}  # out of the agenda's item's time
    cancelled_for = {(r.person_id, str(r.meeting_id)) for r in gone}
    seen = [Seen(message) for message in mailbox.messages()]
    assert len({mail.message_id for mail in seen}) == len(seen), "a mail was sent twice"
    by_person_and_event: dict[tuple[str, str], list[Seen]] = defaultdict(list)
    for mail in seen:
        by_person_and_event[mail.to, mail.uid].append(mail)
    for person in people:
        for meeting_id, meeting in now.items():
            uid = f"{meeting['sessions'][0]['id']}@telebridge"
            mails = by_person_and_event[person.email, uid]
            assert mails, (person.name, meeting["starts_at"])
            sequences = [mail.sequence for mail in mails]
            assert sequences == sorted(sequences), (person.name, sequences)
            last = mails[-1]
            if (person.aggregate_id, meeting_id) in cancelled_for:
                assert last.method == "CANCEL"
                continue
            assert last.method == "REQUEST"
            assert last.sequence == meeting["sequence"]
            page = invites[meeting_id]
            for field in ("SUMMARY", "DESCRIPTION", "DTSTART", "DTEND", "SEQUENCE", "URL"):
                assert last.event.get(field) == page.get(field), field
            assert "Доклад, версия 3" in str(page["DESCRIPTION"]) or meeting_id in moved


async def test_a_meeting_held_up_holds_up_only_its_own_sign_ups_which_then_keep_their_order(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    mailbox = Mailbox()
    async with mailing_to(mailbox, database_url, nats_url, tmp_path) as (scheduling, _):
        host, guest = await scheduling.moscow(), await scheduling.vladivostok()
        held = await scheduling.telebridge(host, guest, **on_day(DAYS[0]))
        free = await scheduling.telebridge(host, guest, **on_day(DAYS[1]))
        people = [events.person(host, f"Участник № {number}") for number in range(5)]
        await publish(scheduling.js, *people)
        await applied(scheduling.database, "scheduling", *people)
        held_up = [events.registration(UUID(held["id"]), person) for person in people[:3]]
        others = [events.registration(UUID(free["id"]), person) for person in people[3:]]

        locker = await asyncpg.connect(database_url)
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute(
            "SELECT FROM scheduling.meetings WHERE id = $1 FOR UPDATE", UUID(held["id"])
        )
        try:
            await publish(scheduling.js, *held_up, *others)
            await applied(scheduling.database, "scheduling", *others)
            assert await _registered(scheduling, held["id"]) == []
        finally:
            await transaction.rollback()
            await locker.close()
        await applied(scheduling.database, "scheduling", *held_up)
        queued = await scheduling.database.fetch(
            "SELECT person_id FROM scheduling.outgoing_mail WHERE meeting_id = $1 "
            "ORDER BY position",
            UUID(held["id"]),
        )
    assert [row["person_id"] for row in queued] == [r.person_id for r in held_up]


async def _registered(scheduling: Scheduling, meeting_id: str) -> list[UUID]:
    rows = await scheduling.database.fetch(
        "SELECT person_id FROM scheduling.registrations WHERE meeting_id = $1", UUID(meeting_id)
    )
    return [row["person_id"] for row in rows]


async def test_a_sender_killed_mid_send_sends_that_mail_again_at_once_and_no_other(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """The SMTP server has taken the third mail when the service dies, before it could
    mark the mail sent (a stop out of time, as a kill: it cannot finish the mail in hand).
    Restarted, it sends that mail again at once, without waiting for a lease of minutes to
    run out, and every other mail once."""
    mailbox = Mailbox(hold=3)
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with scheduling_at(
            port, database_url, nats_url, tmp_path, grace=0.2, parallel=1
        ) as first:
            host, guest = await first.moscow(), await first.vladivostok()
            meeting = await first.telebridge(host, guest, **on_day(DAYS[0]))
            people: list[PersonUpserted] = []
            for number in range(6):
                person, registration = events.signed_up(
                    UUID(meeting["id"]), host, f"Гость № {number}"
                )
                people.append(person)
                await publish(first.js, person, registration)
            await asyncio.to_thread(mailbox.holding.wait, 30)
            assert mailbox.holding.is_set()
        # The service is gone; the server answers its third mail to nobody.
        mailbox.release.set()
        assert len(mailbox.received) == 3
        async with scheduling_at(port, database_url, nats_url, tmp_path) as restarted:
            await all_sent(restarted)  # well before a lease of minutes would have run out
    finally:
        controller.stop()
    recipients = [message["To"].addresses[0].addr_spec for message in mailbox.messages()]
    assert sorted(recipients) == sorted([p.email for p in people] + [recipients[2]])
    assert recipients.count(recipients[2]) == 2, "the interrupted mail is sent again"


async def test_a_mail_taken_while_the_database_went_away_is_recorded_not_sent_again(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """The SMTP server is taking the third mail when every connection to the database is
    cut, so the sender cannot mark it sent and its work is restarted. Once the database
    answers again that mail is recorded as sent, not sent a second time, and every other
    mail leaves once."""
    mailbox = Mailbox(hold=3)
    async with mailing_to(mailbox, database_url, nats_url, tmp_path, parallel=1) as (
        scheduling,
        _,
    ):
        host, guest = await scheduling.moscow(), await scheduling.vladivostok()
        meeting = await scheduling.telebridge(host, guest, **on_day(DAYS[0]))
        people: list[PersonUpserted] = []
        for number in range(6):
            person, registration = events.signed_up(UUID(meeting["id"]), host, f"Гость № {number}")
            people.append(person)
            await publish(scheduling.js, person, registration)
        await asyncio.to_thread(mailbox.holding.wait, 30)
        assert mailbox.holding.is_set()
        await scheduling.database.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        mailbox.release.set()
        await all_sent(scheduling)
        sent = await scheduling.database.fetchval(
            "SELECT count(*) FROM scheduling.outgoing_mail WHERE sent_at IS NOT NULL"
        )
    recipients = [message["To"].addresses[0].addr_spec for message in mailbox.messages()]
    assert sorted(recipients) == sorted(p.email for p in people)
    assert sent == len(people)


async def test_mails_due_together_leave_over_one_connection(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """A connection (EHLO, TLS, login) per mail costs more than the mail: the sender keeps
    one while mails are due."""
    mailbox = Mailbox(hold=1)
    async with mailing_to(mailbox, database_url, nats_url, tmp_path, parallel=1) as (
        scheduling,
        _,
    ):
        host, guest = await scheduling.moscow(), await scheduling.vladivostok()
        meeting = await scheduling.telebridge(host, guest, **on_day(DAYS[0]))
        people = []
        for number in range(6):
            person, registration = events.signed_up(UUID(meeting["id"]), host, f"Гость № {number}")
            people.append(person)
            await publish(scheduling.js, person, registration)
        await asyncio.to_thread(mailbox.holding.wait, 30)

        async def all_queued() -> bool:
            count = await scheduling.database.fetchval(
                "SELECT count(*) FROM scheduling.outgoing_mail"
            )
            return bool(count == len(people))

        await eventually(all_queued)
        mailbox.release.set()
        await all_sent(scheduling)
    assert len(mailbox.received) == len(people)
    assert len(set(mailbox.peers)) == 1


async def test_a_connection_the_server_dropped_is_replaced_and_no_mail_is_lost() -> None:
    """The server restarts between two mails (or drops an idle client): the next mail goes
    over a new connection instead of failing on the dead one."""
    mailbox = Mailbox()
    port = free_port()
    letters = [
        Letter(
            "org@telebridge.example",
            [f"guest{n}@libraries.example"],
            b"Subject: %d\r\n\r\nhi\r\n" % n,
        )
        for n in range(2)
    ]
    postman = Postman(SmtpSettings(port=port))
    postman.IDLE_CHECK = 0.0
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        await postman.send(letters[0])
        controller.stop()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        controller.start()
        await postman.send(letters[1])
        await postman.close()
    finally:
        controller.stop()
    assert [message["Subject"] for message in mailbox.messages()] == ["0", "1"]
    assert len(set(mailbox.peers)) == 2
