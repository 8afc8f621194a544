"""Scheduling's REST API as partner sites, operators and calendar programs see it.

The registry does not run here: the organizations (and people signed up) that scheduling
learns from its events, the tests publish themselves.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import icalendar
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

from services.scheduling.app import create_app
from shared.events import (
    SCHEDULING,
    ApiKeyIssued,
    ApiKeyRevoked,
    OrganizationUpserted,
    PersonUpserted,
    RegistrationCreated,
    new_id,
)
from shared.http.auth import SCOPES, generate_key
from shared.settings import SchedulingSettings
from tests.integration.api import (
    Published,
    assert_live_and_ready,
    body,
    openapi_operations,
    problem,
    publish,
    published,
    served_operations,
)
from tests.support import OPERATOR, bearer, eventually, harness, settings_for

STARTS = datetime(2030, 10, 1, 8, 0, tzinfo=UTC)
"""Far enough ahead that the meeting clock leaves the meetings alone."""
MOSCOW_TIME = "2030-10-01T11:00:00+03:00"
MOSCOW_END = "2030-10-01T13:00:00+03:00"
TITLE = "Телемост «От сердца к сердцу»"


@dataclass
class Scheduling:
    client: AsyncTestClient[Any]
    js: JetStreamContext
    database: asyncpg.Connection

    async def organization(self, name: str, region: str, timezone: str) -> UUID:
        """An organization the registry published; returns once scheduling knows it."""
        event = OrganizationUpserted(
            aggregate_id=new_id(),
            aggregate_version=1,
            producer="registry",
            name=name,
            region=region,
            timezone=timezone,
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


@pytest.fixture
async def scheduling(database_url: str, nats_url: str) -> AsyncIterator[Scheduling]:
    app = create_app(settings_for(SchedulingSettings, database_url, nats_url))
    async with harness(app, database_url, nats_url) as running:
        yield Scheduling(running.client, running.js, running.database)


def telebridge(host: UUID, *others: UUID, **changes: Any) -> dict[str, Any]:
    return {
        "title": TITLE,
        "kind": "telebridge",
        "host_organization_id": str(host),
        "organization_ids": [str(other) for other in others],
        "starts_at": MOSCOW_TIME,
        "ends_at": MOSCOW_END,
        **changes,
    }


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def vevent(calendar: icalendar.Calendar) -> Any:
    [event] = calendar.walk("VEVENT")
    return event


# --- scheduling a meeting -------------------------------------------------------------


async def test_a_telebridge_gives_every_site_its_own_local_time(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()

    meeting = await scheduling.telebridge(moscow, vladivostok)

    assert meeting["title"] == TITLE
    assert meeting["kind"] == "telebridge"
    assert meeting["status"] == "scheduled"
    assert meeting["host_organization_id"] == str(moscow)
    assert instant(meeting["starts_at"]) == STARTS
    assert instant(meeting["starts_at"]).utcoffset() == timedelta(0)
    assert instant(meeting["ends_at"]) == STARTS + timedelta(hours=2)
    assert meeting["started_at"] is None
    assert meeting["ended_at"] is None
    assert (meeting["version"], meeting["sequence"]) == (1, 0)
    assert meeting["invite_url"].endswith(f"/meetings/{meeting['id']}/invite.ics")
    assert [
        (site["organization_id"], site["timezone"], site["starts_at_local"], site["ends_at_local"])
        for site in meeting["sites"]
    ] == [
        (str(moscow), "Europe/Moscow", "2030-10-01T11:00:00+03:00", "2030-10-01T13:00:00+03:00"),
        (
            str(vladivostok),
            "Asia/Vladivostok",
            "2030-10-01T18:00:00+10:00",
            "2030-10-01T20:00:00+10:00",
        ),
    ]
    assert (
        meeting["sites"][1]["name"] == "Приморская краевая публичная библиотека им. А. М. Горького"
    )
    assert meeting["sites"][1]["region"] == "Приморский край"

    assert body(await scheduling.client.get(f"/meetings/{meeting['id']}")) == meeting

    [message] = await scheduling.events_of(meeting["id"], 1)
    assert message.subject == "scheduling.meeting.scheduled"
    assert message.headers["Nats-Msg-Id"] == message.event["event_id"]
    assert message.event["aggregate_version"] == 1
    assert message.event["status"] == "scheduled"
    assert message.event["organization_ids"] == [str(moscow), str(vladivostok)]
    assert instant(message.event["starts_at"]) == STARTS


async def test_the_same_instant_in_another_offset_is_the_same_meeting_time(
    scheduling: Scheduling,
) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(
        vladivostok,
        moscow,
        starts_at="2030-10-01T18:00:00+10:00",
        ends_at="2030-10-01T10:00:00Z",
    )
    assert instant(meeting["starts_at"]) == STARTS
    assert [site["starts_at_local"] for site in meeting["sites"]] == [
        "2030-10-01T18:00:00+10:00",
        "2030-10-01T11:00:00+03:00",
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": "2030-10-01T10:00:00+03:00"}, "ends_at"),
        ({"ends_at": MOSCOW_TIME}, "ends_at"),
        ({"starts_at": "2030-10-01T11:00:00"}, "starts_at"),
        ({"ends_at": "2030-10-01T13:00:00"}, "ends_at"),
        ({"starts_at": "1 октября 2030, 11:00"}, "starts_at"),
        ({"kind": "webinar"}, "kind"),
        ({"ends_at": "9999-12-31T20:00:00Z"}, "ends_at"),
        ({"starts_at": "0001-01-01T00:00:00+03:00"}, "starts_at"),
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"title": "Телемост\nвторая строка"}, "title"),
        ({"title": "Телемост \x1b[31m"}, "title"),
        ({"host_organization_id": "Липецк"}, "host_organization_id"),
        ({"organization_ids": "все"}, "organization_ids"),
    ],
    ids=[
        "ends-before-start",
        "ends-at-start",
        "naive-start",
        "naive-end",
        "not-a-time",
        "unknown-kind",
        "end-in-year-9999",
        "start-in-year-1",
        "empty-title",
        "null-title",
        "newline-in-title",
        "escape-in-title",
        "host-not-uuid",
        "sites-not-a-list",
    ],
)
async def test_an_invalid_meeting_is_a_422_naming_the_field(
    scheduling: Scheduling, changes: dict[str, Any], field: str
) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    response = await scheduling.client.post(
        "/meetings", json=telebridge(moscow, vladivostok, **changes)
    )
    document = problem(response, 422, "validation", field=field)
    assert document["errors"][0]["source"] == "body"


@pytest.mark.parametrize("others", [0, 1], ids=["no-other-site", "host-listed-again"])
async def test_a_telebridge_with_the_host_alone_is_a_422(
    scheduling: Scheduling, others: int
) -> None:
    moscow = await scheduling.moscow()
    response = await scheduling.client.post(
        "/meetings", json=telebridge(moscow, *[moscow] * others)
    )
    problem(response, 422, "validation", field="organization_ids")


async def test_a_videoconference_may_have_the_host_alone(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    meeting = await scheduling.telebridge(moscow, kind="videoconference")
    assert [site["organization_id"] for site in meeting["sites"]] == [str(moscow)]


async def test_an_organization_scheduling_does_not_know_is_a_422(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    stranger = new_id()
    response = await scheduling.client.post("/meetings", json=telebridge(moscow, stranger))
    document = problem(response, 422, "unknown-organization", field="organization_ids")
    assert str(stranger) in document["detail"]
    assert len(document["errors"]) == 1

    response = await scheduling.client.post("/meetings", json=telebridge(stranger, moscow))
    problem(response, 422, "unknown-organization", field="host_organization_id")
    page = body(await scheduling.client.get("/meetings"))
    assert page == {"items": [], "next_cursor": None}


async def test_an_unknown_meeting_is_a_404(scheduling: Scheduling) -> None:
    missing = new_id()
    document = problem(await scheduling.client.get(f"/meetings/{missing}"), 404, "not-found")
    assert str(missing) in document["detail"]
    problem(await scheduling.client.get(f"/meetings/{missing}/invite.ics"), 404, "not-found")
    for action in ("end", "cancel"):
        response = await scheduling.client.post(f"/meetings/{missing}/{action}", headers=OPERATOR)
        problem(response, 404, "not-found")


async def test_meetings_are_listed_page_by_page_in_the_order_scheduled(
    scheduling: Scheduling,
) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    created = [
        await scheduling.telebridge(moscow, vladivostok, title=f"Телемост № {number}")
        for number in range(1, 4)
    ]

    first = body(await scheduling.client.get("/meetings", params={"limit": 2}))
    assert first["items"] == created[:2]
    assert first["next_cursor"]
    second = body(
        await scheduling.client.get(
            "/meetings", params={"limit": 2, "cursor": first["next_cursor"]}
        )
    )
    assert second == {"items": created[2:], "next_cursor": None}

    problem(await scheduling.client.get("/meetings", params={"cursor": "AAAA"}), 400, "bad-cursor")
    problem(
        await scheduling.client.get("/meetings", params={"limit": 0}),
        400,
        "validation",
        field="limit",
    )


# --- invites --------------------------------------------------------------------------


async def test_the_invite_is_a_calendar_every_program_reads_alike(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(moscow, vladivostok)

    raw, calendar = await scheduling.invite(meeting["id"])

    assert calendar.get_missing_tzids() == set()
    assert all(not component.errors for component in calendar.walk())
    # Nobody is signed up yet: published, since REQUEST needs an ATTENDEE (RFC 5546).
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert str(calendar["VERSION"]) == "2.0"
    event = vevent(calendar)
    assert str(event["UID"]) == f"{meeting['id']}@telebridge"
    assert int(event["SEQUENCE"]) == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == TITLE
    start = event.decoded("DTSTART")
    assert start == STARTS
    assert str(start.tzinfo) == "Europe/Moscow"
    assert event["DTSTART"].params["TZID"] == "Europe/Moscow"
    assert event.decoded("DTEND") == STARTS + timedelta(hours=2)
    assert "DTSTAMP" in event
    assert str(event["ORGANIZER"]) == "mailto:meetings@telebridge.localhost"
    assert "Георгиевского" in event["ORGANIZER"].params["CN"]
    description = str(event["DESCRIPTION"])
    assert "18:00–20:00 (Asia/Vladivostok, UTC+10)" in description
    assert "11:00–13:00 (Europe/Moscow, UTC+3)" in description
    assert {str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")} == {"Europe/Moscow"}

    # RFC 5545 §3.1: CRLF line ends, content lines folded at 75 octets, never inside a
    # UTF-8 character (the title and names are Cyrillic).
    assert raw.endswith(b"\r\n")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75, line
        line.decode("utf-8")


async def sign_up_kim(scheduling: Scheduling, meeting: dict[str, Any], organization: UUID) -> Any:
    """Anna Kim of `organization` signed up, as the registry's events tell it; her ATTENDEE."""
    person = PersonUpserted(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="registry",
        organization_id=organization,
        name="Анна Ким",
        email="kim@pkpb.example",
    )
    registration = RegistrationCreated(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="registry",
        meeting_id=UUID(meeting["id"]),
        person_id=person.aggregate_id,
        organization_id=organization,
    )
    await publish(scheduling.js, person, registration)

    async def with_attendee() -> Any:
        _, calendar = await scheduling.invite(meeting["id"])
        return vevent(calendar).get("ATTENDEE")

    return await eventually(with_attendee)


async def test_the_invite_lists_everyone_signed_up(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(moscow, vladivostok)
    attendee = await sign_up_kim(scheduling, meeting, vladivostok)
    _, calendar = await scheduling.invite(meeting["id"])
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(attendee) == "mailto:kim@pkpb.example"
    assert attendee.params["CN"] == "Анна Ким"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["RSVP"] == "TRUE"


# --- operators: end now, cancel -------------------------------------------------------


async def test_ending_a_meeting_takes_the_operator_key(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(moscow, vladivostok)
    path = f"/meetings/{meeting['id']}/end"

    response = await scheduling.client.post(path)
    problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
    response = await scheduling.client.post(path, headers={"Authorization": "Basic b3A6b3A="})
    problem(response, 401, "unauthenticated")
    response = await scheduling.client.post(path, headers={"Authorization": "Bearer wrong-key"})
    problem(response, 401, "unauthenticated")
    response = await scheduling.client.post(f"/meetings/{meeting['id']}/cancel")
    problem(response, 401, "unauthenticated")
    assert body(await scheduling.client.get(f"/meetings/{meeting['id']}"))["status"] == "scheduled"

    before = datetime.now(UTC)
    ended = body(await scheduling.client.post(path, headers=OPERATOR))
    assert ended["status"] == "ended"
    assert ended["version"] == 3
    assert before - timedelta(seconds=1) <= instant(ended["ended_at"]) <= datetime.now(UTC)
    assert instant(ended["started_at"]) <= instant(ended["ended_at"])
    assert body(await scheduling.client.get(f"/meetings/{meeting['id']}")) == ended

    problem(await scheduling.client.post(path, headers=OPERATOR), 409, "meeting-not-running")
    problem(
        await scheduling.client.post(f"/meetings/{meeting['id']}/cancel", headers=OPERATOR),
        409,
        "meeting-not-cancellable",
    )

    messages = await scheduling.events_of(meeting["id"], 3)
    assert [(m.subject, m.event["aggregate_version"], m.event["status"]) for m in messages] == [
        ("scheduling.meeting.scheduled", 1, "scheduled"),
        ("scheduling.meeting.started", 2, "live"),
        ("scheduling.meeting.ended", 3, "ended"),
    ]
    assert all(m.headers["Nats-Msg-Id"] == m.event["event_id"] for m in messages)
    assert instant(messages[-1].event["ended_at"]) == instant(ended["ended_at"])


async def test_a_cancelled_meeting_sends_a_cancelling_invite(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(moscow, vladivostok)
    await sign_up_kim(scheduling, meeting, vladivostok)
    _, before = await scheduling.invite(meeting["id"])

    cancelled = body(
        await scheduling.client.post(f"/meetings/{meeting['id']}/cancel", headers=OPERATOR)
    )
    assert cancelled["status"] == "cancelled"
    assert cancelled["version"] == 2
    assert cancelled["sequence"] > meeting["sequence"]

    _, after = await scheduling.invite(meeting["id"])
    assert str(after["METHOD"]) == "CANCEL"
    event = vevent(after)
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == str(vevent(before)["UID"])
    assert int(event["SEQUENCE"]) > int(vevent(before)["SEQUENCE"])
    assert int(event["SEQUENCE"]) == cancelled["sequence"]
    assert after.get_missing_tzids() == set()

    again = await scheduling.client.post(f"/meetings/{meeting['id']}/cancel", headers=OPERATOR)
    problem(again, 409, "meeting-not-cancellable")
    end = await scheduling.client.post(f"/meetings/{meeting['id']}/end", headers=OPERATOR)
    problem(end, 409, "meeting-not-running")

    messages = await scheduling.events_of(meeting["id"], 2)
    assert [(m.subject, m.event["aggregate_version"]) for m in messages] == [
        ("scheduling.meeting.scheduled", 1),
        ("scheduling.meeting.cancelled", 2),
    ]
    assert messages[-1].event["status"] == "cancelled"


# --- health and schema ----------------------------------------------------------------


async def test_live_ready_and_the_openapi_document(scheduling: Scheduling) -> None:
    await assert_live_and_ready(scheduling.client, "scheduling")
    operations = await openapi_operations(scheduling.client)
    assert operations == served_operations(scheduling.client)
    assert operations == {
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("POST", "/meetings"),
        ("GET", "/meetings"),
        ("GET", "/meetings/{meeting_id}"),
        ("GET", "/meetings/{meeting_id}/invite.ics"),
        ("POST", "/meetings/{meeting_id}/end"),
        ("POST", "/meetings/{meeting_id}/cancel"),
    }


async def test_keys_issued_and_revoked_by_the_registry_are_verified_here(
    scheduling: Scheduling,
) -> None:
    """Scheduling knows keys only from the registry's events: an operator key works once
    its issue arrives and stops within a second of its revocation; a partner key is no
    operator's."""
    moscow = await scheduling.moscow()
    meeting = await scheduling.telebridge(moscow, await scheduling.vladivostok())
    operator, partner = generate_key(), generate_key()
    issued = [
        ApiKeyIssued(
            aggregate_id=new_id(),
            aggregate_version=1,
            producer="registry",
            prefix=key.prefix,
            secret_sha256=key.secret_sha256,
            role=role,
            organization_id=organization,
            scopes=list(SCOPES),
        )
        for key, role, organization in [
            (operator, "operator", None),
            (partner, "partner", moscow),
        ]
    ]
    await publish(scheduling.js, *issued)
    path = f"/meetings/{meeting['id']}/end"

    async def accepted(key: str) -> bool:
        response = await scheduling.client.get(f"/meetings/{meeting['id']}", headers=bearer(key))
        return response.status_code == 200

    await eventually(lambda: accepted(partner.secret))
    await eventually(lambda: accepted(operator.secret))
    problem(await scheduling.client.post(path, headers=bearer(partner.secret)), 403, "forbidden")

    state = msgspec.structs.asdict(issued[0])
    for envelope in ("event_id", "occurred_at", "aggregate_version"):
        del state[envelope]
    revocation = ApiKeyRevoked(**state | {"revoked_at": datetime.now(UTC)}, aggregate_version=2)
    await publish(scheduling.js, revocation)
    revoked_at = time.monotonic()

    async def refused() -> bool:
        return not await accepted(operator.secret)

    await eventually(refused)
    assert time.monotonic() - revoked_at < 1.0
    document = problem(
        await scheduling.client.post(path, headers=bearer(operator.secret)), 401, "unauthenticated"
    )
    assert "revoked" in document["detail"]
    assert body(await scheduling.client.get(f"/meetings/{meeting['id']}"))["status"] == "scheduled"
