"""Sign-up with places: capacity per meeting and per site, the waitlist, idempotent retries."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.api import body, problem
from tests.integration.registry.support import VLADIVOSTOK, Registry, hosted_by


async def signed_up_meeting(registry: Registry, people: int) -> dict[str, Any]:
    organization = await registry.organization()
    partner = await registry.partner_key(organization)
    meeting = hosted_by(organization["id"])
    await registry.meeting_known(meeting)
    created = [
        await registry.person(organization, f"Читатель{n} Библиотечный", f"r{n}@lib.example")
        for n in range(people)
    ]
    return {
        "organization": organization,
        "partner": partner,
        "path": f"/meetings/{meeting.aggregate_id}",
        "people": created,
    }


async def test_fifty_sign_ups_at_once_for_ten_places(registry: Registry) -> None:
    setup = await signed_up_meeting(registry, 50)
    path = setup["path"]
    body(await registry.client.put(f"{path}/capacity", json={"capacity": 10}))

    responses = await asyncio.gather(
        *(
            registry.client.post(
                f"{path}/registrations", json={"person_id": person["id"]}, headers=setup["partner"]
            )
            for person in setup["people"]
        )
    )
    registrations = [body(response, 201) for response in responses]

    registered = [r for r in registrations if r["status"] == "registered"]
    waitlisted = sorted(
        (r for r in registrations if r["status"] == "waitlisted"),
        key=lambda r: r["waitlist_position"],
    )
    assert len(registered) == 10
    assert [r["waitlist_position"] for r in waitlisted] == list(range(1, 41))
    assert len({r["person_id"] for r in registrations}) == 50
    meeting = body(await registry.client.get(path))
    assert (meeting["registered"], meeting["waitlisted"]) == (10, 40)

    # The first on the waitlist takes the first freed place, and everyone moves up.
    cancelled = body(await registry.client.delete(f"/registrations/{registered[0]['id']}"))
    assert cancelled["status"] == "cancelled"
    promoted = body(await registry.client.get(f"/registrations/{waitlisted[0]['id']}"))
    assert promoted["status"] == "registered"
    assert promoted["waitlist_position"] is None
    second = body(await registry.client.get(f"/registrations/{waitlisted[1]['id']}"))
    assert second["waitlist_position"] == 1

    # More places promote the waitlist in its order.
    body(await registry.client.put(f"{path}/capacity", json={"capacity": 13}))
    for entry in waitlisted[1:4]:
        assert body(await registry.client.get(f"/registrations/{entry['id']}"))["status"] == (
            "registered"
        )
    still = body(await registry.client.get(f"/registrations/{waitlisted[4]['id']}"))
    assert still["waitlist_position"] == 1

    promotions = [
        m for m in await registry.events() if m.subject == "registry.registration.promoted"
    ]
    assert [m.event["aggregate_id"] for m in promotions] == [
        entry["id"] for entry in waitlisted[:4]
    ]


async def test_a_site_with_no_places_left_is_waitlisted_while_others_still_get_in(
    registry: Registry,
) -> None:
    setup = await signed_up_meeting(registry, 2)
    path, lipetsk = setup["path"], setup["organization"]
    vladivostok = await registry.organization(VLADIVOSTOK)
    guest = await registry.person(vladivostok, "Анна Ким", "kim@pkpb.example")
    capacity = {"capacity": 5, "sites": [{"organization_id": lipetsk["id"], "capacity": 1}]}
    body(await registry.client.put(f"{path}/capacity", json=capacity))

    first, second = [
        body(
            await registry.client.post(f"{path}/registrations", json={"person_id": person["id"]}),
            201,
        )
        for person in setup["people"]
    ]
    assert (first["status"], second["status"]) == ("registered", "waitlisted")
    other = body(
        await registry.client.post(f"{path}/registrations", json={"person_id": guest["id"]}),
        201,
    )
    assert other["status"] == "registered"
    # A place elsewhere does not go to a waitlisted person whose site is full.
    body(await registry.client.delete(f"/registrations/{other['id']}"))
    assert body(await registry.client.get(f"/registrations/{second['id']}"))["status"] == (
        "waitlisted"
    )
    body(await registry.client.delete(f"/registrations/{first['id']}"))
    assert body(await registry.client.get(f"/registrations/{second['id']}"))["status"] == (
        "registered"
    )


async def test_signing_up_again_after_cancelling_joins_the_end_of_the_queue(
    registry: Registry,
) -> None:
    setup = await signed_up_meeting(registry, 1)
    path, [person] = setup["path"], setup["people"]
    registration = body(
        await registry.client.post(f"{path}/registrations", json={"person_id": person["id"]}),
        201,
    )
    body(await registry.client.delete(f"/registrations/{registration['id']}"))
    again = body(
        await registry.client.post(f"{path}/registrations", json={"person_id": person["id"]}),
        201,
    )
    assert again["id"] == registration["id"]
    assert again["status"] == "registered"
    assert again["version"] == 3


async def test_only_staff_or_the_host_names_moderators_and_speakers(registry: Registry) -> None:
    setup = await signed_up_meeting(registry, 1)
    vladivostok = await registry.organization(VLADIVOSTOK)
    guest_key = await registry.partner_key(vladivostok)
    guest = await registry.person(vladivostok, "Анна Ким", "kim@pkpb.example", headers=guest_key)
    path = f"{setup['path']}/registrations"
    refused = await registry.client.post(
        path, json={"person_id": guest["id"], "role": "speaker"}, headers=guest_key
    )
    problem(refused, 403, "role-not-allowed")
    host = await registry.client.post(
        path,
        json={"person_id": setup["people"][0]["id"], "role": "moderator"},
        headers=setup["partner"],
    )
    assert body(host, 201)["role"] == "moderator"


async def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(
    registry: Registry,
) -> None:
    """A partner whose request timed out sends it again: one registration, one event."""
    setup = await signed_up_meeting(registry, 2)
    path = f"{setup['path']}/registrations"
    first_person, second_person = setup["people"]
    headers = {**setup["partner"], "Idempotency-Key": "signup-42"}
    request = {"person_id": first_person["id"]}

    first = await registry.client.post(path, json=request, headers=headers)
    retry = await registry.client.post(path, json=request, headers=headers)
    assert body(retry, 201) == body(first, 201)
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers

    other_body = await registry.client.post(
        path, json={"person_id": second_person["id"]}, headers=headers
    )
    problem(other_body, 422, "idempotency-key-reused")
    # The same key from another credential is another request.
    other_caller = await registry.client.post(
        path, json={"person_id": second_person["id"]}, headers={"Idempotency-Key": "signup-42"}
    )
    assert body(other_caller, 201)["person_id"] == second_person["id"]

    await registry.events_until(await registry.event_id(body(other_caller, 201)))
    created = [m for m in await registry.events() if m.subject == "registry.registration.created"]
    assert [m.event["person_id"] for m in created] == [first_person["id"], second_person["id"]]


async def test_concurrent_retries_with_one_key_make_one_change(registry: Registry) -> None:
    setup = await signed_up_meeting(registry, 1)
    path = f"{setup['path']}/registrations"
    headers = {**setup["partner"], "Idempotency-Key": "same"}
    request = {"person_id": setup["people"][0]["id"]}
    responses = await asyncio.gather(
        *(registry.client.post(path, json=request, headers=headers) for _ in range(5))
    )
    answers = [body(response, 201) for response in responses]
    assert all(answer == answers[0] for answer in answers)
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 4


async def test_a_failed_request_is_not_remembered_and_may_be_corrected(
    registry: Registry,
) -> None:
    setup = await signed_up_meeting(registry, 1)
    headers = {**setup["partner"], "Idempotency-Key": "fix-and-retry"}
    path = f"{setup['path']}/registrations"
    request = {"person_id": setup["people"][0]["id"], "role": "host"}
    problem(await registry.client.post(path, json=request, headers=headers), 422, "validation")
    corrected = await registry.client.post(path, json={**request, "role": "guest"}, headers=headers)
    assert body(corrected, 201)["role"] == "guest"


@pytest.mark.parametrize(
    "key",
    ["k" * 256, "", "   ", "ключ", "a\tb"],
    ids=["too long", "empty", "blank", "not ascii", "control character"],
)
async def test_an_idempotency_key_not_as_documented_is_a_400(registry: Registry, key: str) -> None:
    response = await registry.client.post(
        "/organizations",
        json={},
        headers=[("Idempotency-Key", key.encode())],  # type: ignore[list-item]
    )
    problem(response, 400, "bad-idempotency-key")


async def test_an_idempotency_key_of_255_printable_characters_is_taken(registry: Registry) -> None:
    organization = {"name": "Липецкая областная детская библиотека", "region": "RU-LIP"}
    headers = {"Idempotency-Key": "k " + "~" * 252 + "!"}
    first = body(
        await registry.client.post("/organizations", json=organization, headers=headers), 201
    )
    again = body(
        await registry.client.post("/organizations", json=organization, headers=headers), 201
    )
    assert again == first


@pytest.mark.parametrize(
    ("capacity", "taken"),
    [(10, True), (10.0, True), (10.5, False), ("10", False), (True, False), (-1.0, False)],
)
async def test_a_number_is_read_as_json_schema_reads_it(
    registry: Registry, capacity: object, taken: bool
) -> None:
    """An integer may be written with a zero fraction; a string or a boolean is no number."""
    setup = await signed_up_meeting(registry, 0)
    response = await registry.client.put(f"{setup['path']}/capacity", json={"capacity": capacity})
    if taken:
        assert body(response)["capacity"] == 10
    else:
        problem(response, 422, "validation", field="capacity")
