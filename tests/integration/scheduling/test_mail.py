"""Invites reach a real SMTP server: once, retried while the server says "later", given up
when it says "never", and never sent twice by two replicas."""

from __future__ import annotations

import asyncio
import email
import email.policy
import mailbox
import threading
import time
from email.header import decode_header, make_header
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
from opentelemetry.trace import StatusCode

from tests.integration.scheduling.support import (
    MoodyServer,
    Scheduling,
    calendar_part,
    scheduling_mailing_to,
    sign_up,
)
from tests.support import eventually
from tests.tracing import named, recorded_spans, trace_id


def delivered(maildir: Path) -> list[bytes]:
    if not maildir.exists():
        return []
    return [message.as_bytes() for message in mailbox.Maildir(maildir, create=False)]


async def delivered_once(maildir: Path, count: int) -> list[bytes]:
    async def arrived() -> list[bytes] | None:
        found = await asyncio.to_thread(delivered, maildir)
        return found if len(found) >= count else None

    return await eventually(arrived)


def display_name(raw: bytes, header: str) -> str:
    """The name as RFC 2047 reads it: whitespace between encoded words is not text.

    Python 3.11's modern header parser puts a space where folding split a name between
    two encoded words, so the classic decoder reads the header instead.
    """
    name, _ = parseaddr(email.message_from_bytes(raw)[header])
    return str(make_header(decode_header(name)))


def host_of(meeting: dict[str, Any]) -> UUID:
    return UUID(meeting["host_organization_id"])


async def queue_state(scheduling: Scheduling) -> list[dict[str, Any]]:
    rows = await scheduling.database.fetch(
        "SELECT attempts, sent_at, failed_at, last_error FROM scheduling.outgoing_mail"
    )
    return [dict(row) for row in rows]


async def test_an_invite_arrives_once_with_its_names_and_calendar_intact(
    scheduling: Scheduling,
) -> None:
    lipetsk = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(lipetsk, vladivostok)
    await sign_up(scheduling, meeting["id"], vladivostok, "Ольга Петровна Ли-Соколова")
    [raw] = await delivered_once(scheduling.maildir, 1)
    received = email.message_from_bytes(raw, policy=email.policy.default)
    assert display_name(raw, "To") == "Ольга Петровна Ли-Соколова"
    assert received["Subject"] == f"Приглашение: {meeting['title']}"
    assert received["Delivered-To"] == received["To"].addresses[0].addr_spec
    method, calendar = calendar_part(received)
    assert method == "REQUEST"
    assert str(calendar.walk("VEVENT")[0]["UID"]) == f"{meeting['id']}@telebridge"
    await asyncio.sleep(0.5)
    assert len(await asyncio.to_thread(delivered, scheduling.maildir)) == 1
    [state] = await queue_state(scheduling)
    assert state["sent_at"] is not None
    assert state["attempts"] == 1


async def test_a_letter_greets_people_as_they_are_greeted(scheduling: Scheduling) -> None:
    """Lists name a person «Алехина И. Л.»; a Russian letter greets her by name and
    patronymic, an English one by name and surname."""
    lipetsk = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(lipetsk, vladivostok)
    await sign_up(
        scheduling,
        meeting["id"],
        lipetsk,
        "Алехина И. Л.",
        surname="Алехина",
        given_name="Ирина",
        patronymic="Леонидовна",
    )
    await sign_up(
        scheduling,
        meeting["id"],
        vladivostok,
        "Schmidt A.",
        "en",
        surname="Schmidt",
        given_name="Anna",
    )
    texts = {}
    for raw in await delivered_once(scheduling.maildir, 2):
        received = email.message_from_bytes(raw, policy=email.policy.default)
        body = received.get_body(preferencelist=("plain",))
        assert body is not None
        texts[display_name(raw, "To")] = body.get_content()
    assert texts["Алехина И. Л."].startswith("Здравствуйте, Ирина Леонидовна!")
    assert texts["Schmidt A."].startswith("Dear Anna Schmidt,")


async def test_a_server_that_says_later_gets_the_mail_again_later(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    server = MoodyServer(["451 4.3.0 Mailbox busy, try again later"])
    spans = recorded_spans()
    async with scheduling_mailing_to(server, database_url, nats_url, tmp_path) as scheduling:
        meeting = await scheduling.telebridge(
            await scheduling.moscow(), await scheduling.vladivostok()
        )
        await sign_up(scheduling, meeting["id"], host_of(meeting), "Пётр Ильич Чайковский")

        async def sent() -> list[dict[str, Any]] | None:
            states = await queue_state(scheduling)
            return states if states and states[0]["sent_at"] else None

        [state] = await eventually(sent)
    assert state["attempts"] == 2
    assert len(server.received) == 1
    refused, taken = named(spans.get_finished_spans(), "mail send")
    assert refused.status.status_code == StatusCode.ERROR
    assert "451" in (refused.status.description or "")
    assert taken.status.status_code == StatusCode.UNSET
    assert trace_id(refused) == trace_id(taken), "both in the trace of the sign-up"


async def test_a_server_that_says_never_is_not_asked_again(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    server = MoodyServer(["550 5.1.1 No such mailbox"] * 3)
    async with scheduling_mailing_to(server, database_url, nats_url, tmp_path) as scheduling:
        meeting = await scheduling.telebridge(
            await scheduling.moscow(), await scheduling.vladivostok()
        )
        await sign_up(scheduling, meeting["id"], host_of(meeting), "Анна Андреевна Ахматова")

        async def given_up() -> list[dict[str, Any]] | None:
            states = await queue_state(scheduling)
            return states if states and states[0]["failed_at"] else None

        [state] = await eventually(given_up)
        await asyncio.sleep(0.6)
        assert await queue_state(scheduling) == [state]
    assert state["attempts"] == 1
    assert "550" in state["last_error"]
    assert server.replies == ["550 5.1.1 No such mailbox"] * 2


async def test_two_replicas_send_each_mail_once(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    server = MoodyServer([])
    async with scheduling_mailing_to(
        server, database_url, nats_url, tmp_path, replicas=2
    ) as scheduling:
        meeting = await scheduling.telebridge(
            await scheduling.moscow(), await scheduling.vladivostok()
        )
        for number in range(20):
            await sign_up(scheduling, meeting["id"], host_of(meeting), f"Участник № {number}")

        async def all_sent() -> bool:
            states = await queue_state(scheduling)
            return len(states) == 20 and all(state["sent_at"] for state in states)

        await eventually(all_sent, timeout=60)
        await asyncio.sleep(0.5)
    recipients = [
        email.message_from_bytes(data, policy=email.policy.default)["To"]
        for data in server.received
    ]
    assert len(recipients) == 20
    assert len(set(map(str, recipients))) == 20


async def test_a_replica_stopped_while_the_server_takes_a_mail_records_it_once(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """Stopped between the server's "250" and the commit that records it, the mail would
    be sent again by the next sender: the stop waits for it."""
    server = MoodyServer([], held=True)
    replica = scheduling_mailing_to(server, database_url, nats_url, tmp_path)
    scheduling = await replica.__aenter__()
    try:
        meeting = await scheduling.telebridge(
            await scheduling.moscow(), await scheduling.vladivostok()
        )
        await sign_up(scheduling, meeting["id"], host_of(meeting), "Марина Ивановна Цветаева")
        assert await asyncio.to_thread(server.waiting.wait, 20), "no mail reached the server"
    except BaseException:
        await replica.__aexit__(None, None, None)
        raise
    # The server answers half a second into the stop, from a thread of its own: the stop
    # holds this test's event loop.
    answering = threading.Timer(0.5, server.gate.set)
    answering.start()
    stopped_at = time.monotonic()
    await replica.__aexit__(None, None, None)
    answering.join()
    assert time.monotonic() - stopped_at >= 0.5, "the stop did not wait for the mail in hand"
    database = await asyncpg.connect(database_url)
    try:
        rows = await database.fetch("SELECT attempts, sent_at FROM scheduling.outgoing_mail")
    finally:
        await database.close()
    assert [(row["attempts"], row["sent_at"] is not None) for row in rows] == [(1, True)]
    assert len(server.received) == 1
