"""Scheduling's REST API as partner sites, operators and calendar programs see it.

The registry does not run here: the organizations (and people signed up) that scheduling
learns from its events, the tests publish themselves.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest

from shared.events import (
    ApiKeyIssued,
    ApiKeyRevoked,
    PersonUpserted,
    RegistrationCreated,
    new_id,
)
from shared.keys import SCOPES, generate_key
from tests.events import instant
from tests.integration.api import (
    assert_live_and_ready,
    body,
    openapi_operations,
    problem,
    publish,
    served_operations,
)
from tests.integration.scheduling.support import (
    MOSCOW_TIME,
    STARTS,
    TITLE,
    Scheduling,
    telebridge,
    vevent,
)
from tests.support import OPERATOR, bearer, eventually

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
        ({"sites": "все"}, "sites"),
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
    problem(response, 422, "validation", field="sites")


async def test_a_videoconference_may_have_the_host_alone(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    meeting = await scheduling.telebridge(moscow, kind="videoconference")
    assert [site["organization_id"] for site in meeting["sites"]] == [str(moscow)]


async def test_an_organization_scheduling_does_not_know_is_a_422(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    stranger = new_id()
    response = await scheduling.client.post("/meetings", json=telebridge(moscow, stranger))
    document = problem(response, 422, "unknown-organization", field="sites")
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
        await scheduling.telebridge(
            moscow,
            vladivostok,
            title=f"Телемост № {number}",
            starts_at=f"2030-10-0{number}T11:00:00+03:00",
            ends_at=f"2030-10-0{number}T13:00:00+03:00",
        )
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

    problem(
        await scheduling.client.get("/meetings", params={"cursor": "AAAA"}),
        400,
        "validation",
        field="cursor",
    )
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
    assert "18:00–20:00 (Владивосток, UTC+10)" in description
    assert "11:00–13:00 (Москва, UTC+3)" in description
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
    del scheduling.client.headers["Authorization"]

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
        ("GET", "/metrics"),
        ("POST", "/meetings"),
        ("GET", "/meetings"),
        ("GET", "/meetings/{meeting_id}"),
        ("PUT", "/meetings/{meeting_id}"),
        ("POST", "/meetings/{meeting_id}/schedule"),
        ("PUT", "/meetings/{meeting_id}/sessions/{session_id}"),
        ("POST", "/meetings/{meeting_id}/sessions/{session_id}/cancel"),
        ("GET", "/meetings/{meeting_id}/sessions/{session_id}/invite.ics"),
        ("GET", "/meetings/{meeting_id}/invite.ics"),
        ("POST", "/meetings/{meeting_id}/end"),
        ("POST", "/meetings/{meeting_id}/cancel"),
        ("POST", "/slots"),
        ("POST", "/feeds"),
        ("GET", "/feeds"),
        ("GET", "/feeds/{feed_id}"),
        ("POST", "/feeds/{feed_id}/rotate"),
        ("POST", "/feeds/{feed_id}/revoke"),
        ("GET", "/calendars/{token}"),
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
