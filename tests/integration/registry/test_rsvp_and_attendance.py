"""RSVP by partner or signed link, check-ins and headcounts, and the statistics over NATS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import nats

from services.registry import links
from services.registry.attendance import STATISTICS_SUBJECT
from shared.events import MeetingSession, new_id
from tests.integration.api import body, problem
from tests.integration.registry.support import (
    VLADIVOSTOK,
    Registry,
    ended,
    scheduled,
    started,
)
from tests.support import eventually


async def registered(registry: Registry) -> dict[str, Any]:
    organization = await registry.organization()
    partner = await registry.partner_key(organization)
    meeting = scheduled(organization["id"])
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
    swapped = links.sign(b"not the registry's secret", "rsvp", other["id"], _tomorrow())
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


async def test_an_expired_link_is_a_410(registry: Registry) -> None:
    setup = await registered(registry)
    secret = await registry.link_secret()
    expired = links.sign(
        secret, "rsvp", setup["registration"]["id"], datetime.now(UTC) - timedelta(seconds=1)
    )
    response = await registry.client.post(
        f"/rsvp/{expired}", json={"rsvp": "accepted"}, headers={"Authorization": ""}
    )
    problem(response, 410, "link-expired")
    valid = links.sign(secret, "rsvp", setup["registration"]["id"], _tomorrow())
    assert body(await registry.client.get(f"/rsvp/{valid}"))["rsvp"] == "needs-action"


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


def _tomorrow() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)


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
