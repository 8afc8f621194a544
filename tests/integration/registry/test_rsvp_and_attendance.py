"""RSVP by partner or signed link, check-ins and headcounts, and the statistics over NATS."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import nats
import pytest

from services.registry import links
from services.registry.micro import STATISTICS_SUBJECT
from shared.events import MeetingEnded, MeetingSession, new_id
from tests.events import ended, later, started
from tests.integration.api import body, problem
from tests.integration.registry.support import VLADIVOSTOK, Registry, hosted_by
from tests.support import eventually

ANONYMOUS = {"Authorization": ""}


async def registered(registry: Registry, **meeting_changes: Any) -> dict[str, Any]:
    """A person registered by their partner site for a meeting (`scheduled`'s, with
    `meeting_changes`)."""
    organization = await registry.organization()
    partner = await registry.partner_key(organization)
    meeting = msgspec.structs.replace(hosted_by(organization["id"]), **meeting_changes)
    await registry.meeting_known(meeting)
    person = await registry.person(organization, "Ирина Пожидаева", "irina@lib.example")
    registration = body(
        await registry.client.post(
            f"/meetings/{meeting.aggregate_id}/registrations",
            json={"person_id": person["id"]},
            headers=partner,
        ),
        201,
    )
    return {
        "organization": organization,
        "partner": partner,
        "meeting": meeting,
        "person": person,
        "registration": registration,
    }


async def test_a_partner_answers_for_its_person_and_the_answer_is_published(
    registry: Registry,
) -> None:
    setup = await registered(registry)
    registration, partner = setup["registration"], setup["partner"]
    path = f"/registrations/{registration['id']}/rsvp"
    answered = body(await registry.client.put(path, json={"rsvp": "accepted"}, headers=partner))
    assert answered["rsvp"] == "accepted"
    assert answered["version"] == 2
    same = body(await registry.client.put(path, json={"rsvp": "accepted"}, headers=partner))
    assert same == answered
    invalid = await registry.client.put(path, json={"rsvp": "maybe"}, headers=partner)
    problem(invalid, 422, "validation", field="rsvp")

    async def rsvp_event() -> Any:
        found = [m for m in await registry.events() if m.subject == "registry.rsvp.changed"]
        return found or None

    [message] = await eventually(rsvp_event)
    assert message.event["aggregate_id"] == registration["id"]
    assert message.event["aggregate_version"] == 2
    assert message.event["rsvp"] == "accepted"
    assert message.event["status"] == "registered"


async def test_a_person_answers_through_a_signed_link_without_a_key(registry: Registry) -> None:
    setup = await registered(registry)
    registration = setup["registration"]
    link = body(
        await registry.client.get(
            f"/registrations/{registration['id']}/rsvp-link", headers=setup["partner"]
        )
    )
    path = link["url"].removeprefix(str(registry.client.base_url))
    assert path == f"/rsvp/{link['token']}"
    anonymous = {"Authorization": ""}

    invitation = body(await registry.client.get(path, headers=anonymous))
    assert invitation["registration_id"] == registration["id"]
    assert invitation["meeting_title"] == setup["meeting"].title
    assert invitation["display_name"] == "Ирина Пожидаева"
    assert invitation["rsvp"] == "needs-action"
    answered = body(await registry.client.post(path, json={"rsvp": "tentative"}, headers=anonymous))
    assert answered["rsvp"] == "tentative"
    current = body(
        await registry.client.get(f"/registrations/{registration['id']}", headers=setup["partner"])
    )
    assert current["rsvp"] == "tentative"


async def test_a_tampered_link_is_refused_and_changes_nothing(registry: Registry) -> None:
    setup = await registered(registry)
    other = await registered_elsewhere(registry, setup)
    token = body(
        await registry.client.get(
            f"/registrations/{setup['registration']['id']}/rsvp-link", headers=setup["partner"]
        )
    )["token"]
    claims, signature = token.split(".")
    swapped = links.sign(b"not the registry's secret", "rsvp", other["id"])
    forgeries = [
        f"{claims}.{signature[:-2]}AA",
        f"{swapped.split('.')[0]}.{signature}",
        swapped,
        "garbage",
        f"{claims}.",
    ]
    for forged in forgeries:
        response = await registry.client.post(
            f"/rsvp/{forged}", json={"rsvp": "declined"}, headers={"Authorization": ""}
        )
        problem(response, 404, "invalid-link")
    for registration in (setup["registration"], other):
        current = body(await registry.client.get(f"/registrations/{registration['id']}"))
        assert current["rsvp"] == "needs-action"


@pytest.mark.parametrize(
    "away",
    [timedelta(days=1), timedelta(days=60), timedelta(days=365)],
    ids=["a day", "60 days", "a year"],
)
async def test_a_link_works_until_its_meeting_has_ended_however_far_away(
    registry: Registry, away: timedelta
) -> None:
    ends = datetime.now(UTC).replace(microsecond=0) + away
    setup = await registered(registry, starts_at=ends - timedelta(hours=2), ends_at=ends)
    registration = setup["registration"]
    link = await rsvp_link(registry, setup)
    assert datetime.fromisoformat(link["expires_at"]) == ends
    # One made as links were until now, at least 30 days ago: its 30 days are over, and
    # its meeting is still to come.
    old = made_before(
        await registry.link_secret(), registration["id"], datetime.now(UTC) - timedelta(seconds=1)
    )
    for token in (link["token"], old):
        invitation = body(await registry.client.get(f"/rsvp/{token}", headers=ANONYMOUS))
        assert datetime.fromisoformat(invitation["expires_at"]) == ends
        answered = await registry.client.post(
            f"/rsvp/{token}", json={"rsvp": "accepted"}, headers=ANONYMOUS
        )
        assert body(answered)["rsvp"] == "accepted"

    # An operator ends the meeting early: the links end with it.
    now = datetime.now(UTC)
    await registry.meeting_known(
        later(setup["meeting"], MeetingEnded, status="ended", started_at=now, ended_at=now)
    )
    for token in (link["token"], old):
        problem(await registry.client.get(f"/rsvp/{token}", headers=ANONYMOUS), 410, "link-expired")
        declined = await registry.client.post(
            f"/rsvp/{token}", json={"rsvp": "declined"}, headers=ANONYMOUS
        )
        problem(declined, 410, "link-expired")
    current = body(await registry.client.get(f"/registrations/{registration['id']}"))
    assert current["rsvp"] == "accepted"


async def test_a_link_stops_working_when_its_meeting_ends(registry: Registry) -> None:
    """Checked just after the end, before scheduling has said the meeting ended."""
    ends = datetime.now(UTC) + timedelta(seconds=2)
    setup = await registered(registry, starts_at=ends - timedelta(hours=1), ends_at=ends)
    token = (await rsvp_link(registry, setup))["token"]
    assert body(await registry.client.get(f"/rsvp/{token}", headers=ANONYMOUS))

    await asyncio.sleep((ends - datetime.now(UTC)).total_seconds() + 0.2)

    problem(await registry.client.get(f"/rsvp/{token}", headers=ANONYMOUS), 410, "link-expired")


async def test_a_link_to_a_series_works_until_its_last_occurrence_has_ended(
    registry: Registry,
) -> None:
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    occurrences = [
        MeetingSession(
            id=new_id(),
            starts_at=first + timedelta(weeks=week),
            ends_at=first + timedelta(weeks=week, hours=1),
            recurrence_id=first + timedelta(weeks=week),
        )
        for week in range(10)
    ]
    setup = await registered(
        registry,
        status="live",
        starts_at=first,
        ends_at=occurrences[-1].ends_at,
        recurrence="FREQ=WEEKLY;COUNT=10",
        sessions=occurrences,
    )
    link = await rsvp_link(registry, setup)
    assert datetime.fromisoformat(link["expires_at"]) == occurrences[-1].ends_at
    invitation = body(await registry.client.get(f"/rsvp/{link['token']}", headers=ANONYMOUS))
    assert datetime.fromisoformat(invitation["expires_at"]) == occurrences[-1].ends_at


async def rsvp_link(registry: Registry, setup: dict[str, Any]) -> dict[str, Any]:
    link: dict[str, Any] = body(
        await registry.client.get(
            f"/registrations/{setup['registration']['id']}/rsvp-link", headers=setup["partner"]
        )
    )
    return link


def made_before(secret: bytes, registration_id: str, stops: datetime) -> str:
    """A link as the registry made them until they lived as long as their meeting: signed
    the same way, its claims ending with when it was to stop (30 days after it was made)."""
    claims = msgspec.json.encode(["rsvp", registration_id, int(stops.timestamp())])
    signature = hmac.new(secret, claims, hashlib.sha256).digest()
    return ".".join(
        base64.urlsafe_b64encode(part).decode().rstrip("=") for part in (claims, signature)
    )


async def registered_elsewhere(registry: Registry, setup: dict[str, Any]) -> dict[str, Any]:
    vladivostok = await registry.organization(VLADIVOSTOK)
    person = await registry.person(vladivostok, "Анна Ким", "kim@pkpb.example")
    registration: dict[str, Any] = body(
        await registry.client.post(
            f"/meetings/{setup['meeting'].aggregate_id}/registrations",
            json={"person_id": person["id"]},
        ),
        201,
    )
    return registration


# --- attendance -----------------------------------------------------------------------


async def test_check_ins_and_headcounts_make_the_statistics(
    registry: Registry, nats_url: str
) -> None:
    setup = await registered(registry)
    meeting, partner, person = setup["meeting"], setup["partner"], setup["person"]
    lipetsk = setup["organization"]
    path = f"/meetings/{meeting.aggregate_id}"
    problem(
        await registry.client.post(
            f"{path}/check-ins", json={"person_ids": [person["id"]]}, headers=partner
        ),
        409,
        "meeting-scheduled",
    )
    day_one = MeetingSession(
        id=new_id(), starts_at=meeting.starts_at, ends_at=meeting.starts_at + timedelta(hours=2)
    )
    day_two = MeetingSession(
        id=new_id(), starts_at=day_one.starts_at + timedelta(days=1), ends_at=meeting.ends_at
    )
    vladivostok = await registry.organization(VLADIVOSTOK)
    # Vladivostok watches in a room of its own: a site of the meeting.
    await registry.meeting_known(
        msgspec.structs.replace(
            started(meeting),
            sessions=[day_one, day_two],
            organization_ids=[*meeting.organization_ids, UUID(vladivostok["id"])],
        )
    )
    problem(
        await registry.client.post(
            f"{path}/check-ins", json={"person_ids": [person["id"]]}, headers=partner
        ),
        422,
        "validation",
        field="session_id",
    )
    checked = body(
        await registry.client.post(
            f"{path}/check-ins",
            json={"person_ids": [person["id"], person["id"]], "session_id": str(day_one.id)},
            headers=partner,
        )
    )
    assert [(c["person_id"], c["attended"]) for c in checked] == [(person["id"], True)]

    room = await registry.partner_key(vladivostok)
    for session, count in ((day_one, 30), (day_two, 24)):
        counted = body(
            await registry.client.put(
                f"{path}/headcounts/{vladivostok['id']}",
                json={"headcount": count, "session_id": str(session.id)},
                headers=room,
            )
        )
        assert counted["headcount"] == count

    statistics = body(await registry.client.get(f"{path}/attendance"))
    assert (statistics["registered"], statistics["attended"], statistics["headcount"]) == (
        1,
        1,
        30,
    )
    by_region = {region["region"]: region for region in statistics["regions"]}
    assert by_region["RU-LIP"]["attended"] == 1
    assert by_region["RU-PRI"]["headcount"] == 30
    assert by_region["RU-PRI"]["region_name"] == "Приморский край"
    own = body(await registry.client.get(f"{path}/attendance", headers=room))
    assert [site["organization_id"] for site in own["organizations"]] == [vladivostok["id"]]

    client = await nats.connect(nats_url)
    try:
        reply = await client.request(
            STATISTICS_SUBJECT, str(meeting.aggregate_id).encode(), timeout=5
        )
        assert msgspec.json.decode(reply.data) == statistics
        unknown = await client.request(STATISTICS_SUBJECT, str(new_id()).encode(), timeout=5)
        assert unknown.headers is not None
        assert unknown.headers["Nats-Service-Error-Code"] == "404"
    finally:
        await client.close()

    await registry.meeting_known(
        msgspec.structs.replace(ended(meeting), sessions=[day_one, day_two], aggregate_version=3)
    )
    taken_back = body(
        await registry.client.post(
            f"{path}/check-ins",
            json={"person_ids": [person["id"]], "session_id": str(day_one.id), "attended": False},
        )
    )
    assert taken_back[0]["attended"] is False
    assert lipetsk["id"] == taken_back[0]["organization_id"]
