"""Partner keys: issued once, acting for one organization only, revoked everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from shared.events import new_id
from tests.events import started
from tests.integration.api import body, problem, publish
from tests.integration.registry.support import (
    LIPETSK,
    VLADIVOSTOK,
    Registry,
    hosted_by,
    person_fields,
)
from tests.support import ADMIN, OPERATOR, bearer, json_of

SECRET = "secret"


async def two_partners(registry: Registry) -> dict[str, Any]:
    """Partners A (Lipetsk) and B (Vladivostok), each with a person signed up for one meeting,
    and B's meeting under way with a check-in and a headcount."""
    a = await registry.organization(LIPETSK)
    b = await registry.organization({**VLADIVOSTOK, "public": False})
    a_key = await registry.partner_key(a)
    b_key = await registry.partner_key(b)
    b_person = await registry.person(b, "Анна Ким", "kim@pkpb.example", headers=b_key)
    meeting = hosted_by(b["id"])
    await registry.meeting_known(meeting)
    path = f"/meetings/{meeting.aggregate_id}"
    b_registration = body(
        await registry.client.post(
            f"{path}/registrations", json={"person_id": b_person["id"]}, headers=b_key
        ),
        201,
    )
    await registry.meeting_known(started(meeting))
    return {
        "a": a,
        "b": b,
        "a_key": a_key,
        "b_key": b_key,
        "b_person": b_person,
        "b_registration": b_registration,
        "meeting": meeting,
        "path": path,
    }


async def test_an_issued_key_shows_its_secret_once_and_is_stored_as_a_hash(
    registry: Registry,
) -> None:
    organization = await registry.organization()
    issued = body(
        await registry.client.post(
            "/keys",
            json={"name": "Сайт ЛОДБ", "organization_id": organization["id"]},
            headers=ADMIN,
        ),
        201,
    )
    assert issued["secret"].startswith(f"tb_{issued['prefix']}_")
    assert issued["role"] == "partner"
    assert "registry:write" in issued["scopes"]
    listed = body(await registry.client.get(f"/keys/{issued['id']}", headers=ADMIN))
    assert "secret" not in listed
    assert listed["last_used_at"] is None

    partner = bearer(issued["secret"])
    body(await registry.client.get("/people", headers=partner))
    used = body(await registry.client.get(f"/keys/{issued['id']}", headers=ADMIN))
    assert used["last_used_at"] is not None

    message = await registry.event_of(issued["id"])
    assert message.subject == "registry.apikey.issued"
    assert issued["secret"] not in str(message.event)
    assert message.event["secret_sha256"]
    assert message.event["organization_id"] == organization["id"]


async def test_only_an_admin_issues_keys(registry: Registry) -> None:
    organization = await registry.organization()
    partner = await registry.partner_key(organization)
    request = {"name": "ещё ключ", "organization_id": organization["id"]}
    problem(await registry.client.post("/keys", json=request, headers=partner), 403, "forbidden")
    problem(await registry.client.post("/keys", json=request, headers=OPERATOR), 403, "forbidden")
    problem(await registry.client.get("/keys", headers=partner), 403, "forbidden")
    no_key = await registry.client.post("/keys", json=request, headers={"Authorization": ""})
    problem(no_key, 401, "unauthenticated")
    assert no_key.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_key_is_checked_for_its_role_organization_and_scopes(registry: Registry) -> None:
    organization = await registry.organization()
    cases = [
        ({"name": "k", "role": "partner"}, "organization_id"),
        ({"name": "k", "role": "operator", "organization_id": organization["id"]}, None),
        ({"name": "k", "organization_id": organization["id"], "scopes": ["all"]}, "scopes"),
    ]
    for request, field in cases:
        response = await registry.client.post("/keys", json=request, headers=ADMIN)
        problem(response, 422, "validation", field=field)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    expired = {"name": "k", "organization_id": organization["id"], "expires_at": past}
    problem(await registry.client.post("/keys", json=expired, headers=ADMIN), 422, "validation")


async def test_a_revoked_or_expired_or_forged_key_is_refused(registry: Registry) -> None:
    organization = await registry.organization()
    issued = body(
        await registry.client.post(
            "/keys",
            json={
                "name": "на минуту",
                "organization_id": organization["id"],
                "expires_at": (datetime.now(UTC) + timedelta(seconds=2)).isoformat(),
            },
            headers=ADMIN,
        ),
        201,
    )
    key = bearer(issued["secret"])
    body(await registry.client.get("/people", headers=key))
    forged = bearer(issued["secret"][:-2] + "xx")
    problem(await registry.client.get("/people", headers=forged), 401, "unauthenticated")

    revoked = body(await registry.client.post(f"/keys/{issued['id']}/revoke", headers=ADMIN))
    assert revoked["revoked_at"] is not None
    again = body(await registry.client.post(f"/keys/{issued['id']}/revoke", headers=ADMIN))
    assert again == revoked
    document = problem(await registry.client.get("/people", headers=key), 401, "unauthenticated")
    assert "revoked" in document["detail"]

    short = await registry.partner_key(organization)
    body(await registry.client.get("/people", headers=short))


async def test_a_key_without_the_write_scope_only_reads(registry: Registry) -> None:
    organization = await registry.organization()
    reader = await registry.partner_key(organization, scopes=["registry:read"])
    body(await registry.client.get("/people", headers=reader))
    response = await registry.client.post(
        "/people", json=person_fields("Ольга Бунина", "olga@lib.example"), headers=reader
    )
    problem(response, 403, "missing-scope")


async def test_a_partner_acts_for_its_own_organization_and_defaults_to_it(
    registry: Registry,
) -> None:
    organization = await registry.organization()
    partner = await registry.partner_key(organization)
    created = body(
        await registry.client.post(
            "/people", json=person_fields("Ольга Бунина", "olga@lib.example"), headers=partner
        ),
        201,
    )
    assert created["organization_id"] == organization["id"]
    listed = body(await registry.client.get("/people", headers=partner))
    assert [person["id"] for person in listed["items"]] == [created["id"]]


async def test_partner_a_cannot_see_or_touch_anything_of_partner_b(registry: Registry) -> None:
    """Every endpoint, with B's ids and A's key: 404 for what is B's own, 403 for B itself
    where its existence is public, and nothing changes."""
    setup = await two_partners(registry)
    a_key, b, path = setup["a_key"], setup["b"], setup["path"]
    person, registration = setup["b_person"], setup["b_registration"]
    before = await registry.events_until(await registry.event_id(registration))
    client = registry.client
    person_body = person_fields("Анна Ким", "kim@pkpb.example")
    expectations: list[tuple[Any, int, str]] = [
        (client.get(f"/people/{person['id']}", headers=a_key), 404, "not-found"),
        (
            client.put(
                f"/people/{person['id']}",
                json=person_body,
                headers={**a_key, "If-Match": '"1"'},
            ),
            404,
            "not-found",
        ),
        (
            client.get("/people", params={"organization_id": b["id"]}, headers=a_key),
            403,
            "other-organization",
        ),
        (
            client.post("/people", json={**person_body, "organization_id": b["id"]}, headers=a_key),
            403,
            "other-organization",
        ),
        (client.get(f"/organizations/{b['id']}", headers=a_key), 404, "not-found"),
        (
            client.put(
                f"/organizations/{b['id']}",
                json={**VLADIVOSTOK, "name": "захвачено"},
                headers={**a_key, "If-Match": '"1"'},
            ),
            404,
            "not-found",
        ),
        (
            client.post(f"{path}/registrations", json={"person_id": person["id"]}, headers=a_key),
            422,
            "validation",
        ),
        (client.get(f"/registrations/{registration['id']}", headers=a_key), 404, "not-found"),
        (client.delete(f"/registrations/{registration['id']}", headers=a_key), 404, "not-found"),
        (
            client.put(
                f"/registrations/{registration['id']}/rsvp",
                json={"rsvp": "declined"},
                headers=a_key,
            ),
            404,
            "not-found",
        ),
        (
            client.get(f"/registrations/{registration['id']}/rsvp-link", headers=a_key),
            404,
            "not-found",
        ),
        (
            client.post(f"{path}/check-ins", json={"person_ids": [person["id"]]}, headers=a_key),
            422,
            "validation",
        ),
        (
            client.put(f"{path}/headcounts/{b['id']}", json={"headcount": 30}, headers=a_key),
            403,
            "other-organization",
        ),
        (client.put(f"{path}/capacity", json={"capacity": 1}, headers=a_key), 403, "forbidden"),
        (client.post("/organizations", json=LIPETSK, headers=a_key), 403, "forbidden"),
        (client.post("/organizations/import", json={"rows": []}, headers=a_key), 403, "forbidden"),
    ]
    for request, status, slug in expectations:
        problem(await request, status, slug)

    # What A may see of B's meeting is A's own part of it: nothing.
    listed = body(await client.get(f"{path}/registrations", headers=a_key))
    assert listed["items"] == []
    statistics = body(await client.get(f"{path}/attendance", headers=a_key))
    assert statistics["organizations"] == []
    assert statistics["registered"] == 0
    # A public organization is A's to read, not to change.
    a_public = await registry.organization({**LIPETSK, "name": "Публичная библиотека"})
    body(await client.get(f"/organizations/{a_public['id']}", headers=a_key))
    problem(
        await client.put(
            f"/organizations/{a_public['id']}",
            json=LIPETSK,
            headers={**a_key, "If-Match": '"1"'},
        ),
        403,
        "other-organization",
    )
    # B's data is as it was, and no event was written.
    b_key = setup["b_key"]
    assert body(await client.get(f"/people/{person['id']}", headers=b_key)) == person
    assert body(await client.get(f"/registrations/{registration['id']}", headers=b_key)) == (
        registration
    )
    new_organization = await registry.organization({**LIPETSK, "name": "Маркер"})
    after = await registry.events_until(await registry.event_id(new_organization))
    assert [m.event["aggregate_id"] for m in after[len(before) :]] == [
        a_public["id"],
        new_organization["id"],
    ]


async def test_a_private_meeting_answers_others_as_one_that_does_not_exist(
    registry: Registry,
) -> None:
    """B's private meeting, to A's key and to no key, reads exactly as an unknown id: the
    meeting itself, signing A's person up, its registrations, check-ins, headcounts and
    statistics; B's own key sees it."""
    setup = await two_partners(registry)
    a, a_key, b_key = setup["a"], setup["a_key"], setup["b_key"]
    private = msgspec.structs.replace(hosted_by(setup["b"]["id"]), public=False)
    await publish(registry.js, private)
    await registry.meeting_known(msgspec.structs.replace(started(private), public=False))
    body(await registry.client.get(f"/meetings/{private.aggregate_id}", headers=b_key))
    a_person = await registry.person(a, "Ольга Арутинова", "olga@lodb.example", headers=a_key)
    unknown = new_id()

    def requests(meeting_id: object) -> list[tuple[str, str, dict[str, Any] | None]]:
        path = f"/meetings/{meeting_id}"
        return [
            ("GET", path, None),
            ("POST", f"{path}/registrations", {"person_id": a_person["id"]}),
            ("GET", f"{path}/registrations", None),
            ("POST", f"{path}/check-ins", {"person_ids": [a_person["id"]]}),
            ("PUT", f"{path}/headcounts/{a['id']}", {"headcount": 999}),
            ("GET", f"{path}/attendance", None),
        ]

    for headers in (a_key, {"Authorization": ""}):
        for (method, path, json), (_, unknown_path, _) in zip(
            requests(private.aggregate_id), requests(unknown), strict=True
        ):
            seen = await registry.client.request(method, path, json=json, headers=headers)
            absent = await registry.client.request(method, unknown_path, json=json, headers=headers)
            assert seen.status_code == absent.status_code, (method, path, seen.text)
            if seen.status_code != 401:
                document = json_of(seen)
                expected = json_of(absent)
                assert document["type"] == expected["type"], (path, document)
                assert document["detail"] == expected["detail"].replace(
                    str(unknown), str(private.aggregate_id)
                )
    listed = body(
        await registry.client.get(f"/meetings/{private.aggregate_id}/registrations", headers=b_key)
    )
    assert listed["items"] == []


async def test_only_a_site_of_a_meeting_records_its_headcount(registry: Registry) -> None:
    """A public meeting is seen by everyone, but an organization that is not one of its
    sites adds no headcount to it, for its own room or any other."""
    setup = await two_partners(registry)
    a, a_key, path = setup["a"], setup["a_key"], setup["path"]
    problem(
        await registry.client.put(
            f"{path}/headcounts/{a['id']}", json={"headcount": 999}, headers=a_key
        ),
        404,
        "not-found",
    )
    statistics = body(await registry.client.get(f"{path}/attendance"))
    assert statistics["headcount"] == 0


async def test_check_ins_open_at_the_start_time_before_the_clock_is_heard(
    registry: Registry,
) -> None:
    """A meeting whose start has come is open for check-ins even while the registry has not
    yet heard scheduling's `started` event."""
    a = await registry.organization(LIPETSK)
    a_key = await registry.partner_key(a)
    person = await registry.person(a, "Ольга Арутинова", "olga@lodb.example", headers=a_key)
    starts = datetime.now(UTC) - timedelta(minutes=1)
    meeting = msgspec.structs.replace(
        hosted_by(a["id"]), starts_at=starts, ends_at=starts + timedelta(hours=1)
    )
    await registry.meeting_known(meeting)
    checked = body(
        await registry.client.post(
            f"/meetings/{meeting.aggregate_id}/check-ins",
            json={"person_ids": [person["id"]]},
            headers=a_key,
        )
    )
    assert [entry["attended"] for entry in checked] == [True]


async def test_an_admin_cannot_revoke_the_key_it_calls_with(registry: Registry) -> None:
    second = body(
        await registry.client.post(
            "/keys", json={"name": "второй администратор", "role": "admin"}, headers=ADMIN
        ),
        201,
    )
    own = problem(
        await registry.client.post(
            f"/keys/{second['id']}/revoke", headers=bearer(second["secret"])
        ),
        409,
        "own-key",
    )
    assert "another admin key" in own["detail"]
    body(await registry.client.get("/keys", headers=bearer(second["secret"])))

    revoked = body(await registry.client.post(f"/keys/{second['id']}/revoke", headers=ADMIN))
    assert revoked["revoked_at"] is not None
