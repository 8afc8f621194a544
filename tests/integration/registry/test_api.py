"""The registry's REST API as a partner site sees it: organizations, people, sign-up.

Scheduling does not run here: the meetings people sign up for reach the registry as
scheduling's events, which the tests publish themselves.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import nats
import pytest

from services.registry.app import create_app
from shared.events import (
    REGISTRY,
    new_id,
)
from shared.settings import RegistrySettings
from telebridge.embedded import EmbeddedNats
from tests.events import cancelled, ended
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
from tests.integration.registry.support import (
    LIPETSK,
    VLADIVOSTOK,
    Registry,
    hosted_by,
    person_fields,
)
from tests.support import (
    OPERATOR,
    eventually,
    json_of,
    serving,
    settings_for,
)

# --- organizations --------------------------------------------------------------------


async def test_an_organization_is_created_and_read_back_with_its_cyrillic_name(
    registry: Registry,
) -> None:
    created = await registry.organization(VLADIVOSTOK)
    assert {k: created[k] for k in VLADIVOSTOK} == VLADIVOSTOK
    assert created["version"] == 1
    UUID(created["id"])

    fetched = body(await registry.client.get(f"/organizations/{created['id']}"))
    assert fetched == created

    message = await registry.event_of(created["id"])
    assert message.subject == "registry.organization.upserted"
    assert message.headers["Nats-Msg-Id"] == message.event["event_id"]
    assert message.event["type"] == "registry.organization.upserted"
    assert message.event["aggregate_version"] == 1
    assert message.event["producer"] == "registry"
    assert message.event["name"] == VLADIVOSTOK["name"]
    assert message.event["timezone"] == "Asia/Vladivostok"


async def test_an_organization_may_give_its_name_and_town_in_english(
    registry: Registry,
) -> None:
    english = {"name_en": "Lipetsk Regional Children's Library", "city_en": "Lipetsk"}
    created = await registry.organization(VLADIVOSTOK | english)
    assert {k: created[k] for k in english} == english
    event = (await registry.event_of(created["id"])).event
    assert (event["name_en"], event["city_en"]) == (english["name_en"], "Lipetsk")
    plain = await registry.organization(VLADIVOSTOK | {"name": "Без английского"})
    assert (plain["name_en"], plain["city_en"]) == (None, None)


async def test_an_unknown_organization_is_a_404_problem(registry: Registry) -> None:
    missing = new_id()
    document = problem(await registry.client.get(f"/organizations/{missing}"), 404, "not-found")
    assert str(missing) in document["detail"]


@pytest.mark.parametrize(
    ("timezone", "hint"),
    [
        ("Europe/Luhansk", None),  # not an IANA zone: Luhansk keeps Europe/Moscow
        ("Europe/Moskow", "Europe/Moscow"),
        ("UTC+3", None),
    ],
)
async def test_a_time_zone_that_is_not_iana_is_a_422_naming_the_field(
    registry: Registry, timezone: str, hint: str | None
) -> None:
    response = await registry.client.post(
        "/organizations", json={**LIPETSK, "name": "Луганская библиотека", "timezone": timezone}
    )
    document = problem(response, 422, "validation", field="timezone")
    assert document["errors"][0]["source"] == "body"
    assert timezone in document["errors"][0]["message"]
    if hint:
        assert hint in document["errors"][0]["message"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": LIPETSK["name"], "timezone": "Europe/Moscow"}, "region"),
        ({"region": LIPETSK["region"], "timezone": "Europe/Moscow"}, "name"),
        ({**LIPETSK, "name": 42}, "name"),
        ({**LIPETSK, "timezone": ["Europe/Moscow"]}, "timezone"),
        ({**LIPETSK, "name": ""}, "name"),
        ({**LIPETSK, "region": None}, "region"),
    ],
    ids=["missing-region", "missing-name", "int-name", "list-timezone", "empty-name", "null"],
)
async def test_a_missing_or_wrongly_typed_field_is_a_422_naming_it(
    registry: Registry, payload: dict[str, Any], field: str
) -> None:
    response = await registry.client.post("/organizations", json=payload)
    problem(response, 422, "validation", field=field)


async def test_an_unknown_field_is_a_422(registry: Registry) -> None:
    response = await registry.client.post("/organizations", json={**LIPETSK, "town": "Липецк"})
    problem(response, 422, "validation", field="town")


@pytest.mark.parametrize(
    ("field", "items"),
    [
        ("contacts", [{"name": f"Контакт {number}"} for number in range(51)]),
        ("blackout_dates", [f"{2030 + number // 365}-01-01" for number in range(1001)]),
    ],
)
async def test_a_list_longer_than_its_bound_is_a_422_naming_it(
    registry: Registry, field: str, items: list[Any]
) -> None:
    response = await registry.client.post("/organizations", json={**LIPETSK, field: items})
    document = problem(response, 422, "validation", field=field)
    assert "length <=" in document["errors"][0]["message"]


async def test_a_hundred_thousand_contacts_are_a_413_and_nothing_is_written(
    registry: Registry,
) -> None:
    contacts = [{"name": f"Контакт {number}"} for number in range(100_000)]
    response = await registry.client.post("/organizations", json={**LIPETSK, "contacts": contacts})
    problem(response, 413, "body-too-large")
    assert await registry.database.fetchval("SELECT count(*) FROM registry.organizations") == 0


@pytest.mark.parametrize(
    "content",
    [b'{"name": "\xd0\x9b\xd0\xb8\xd0\xbf\xd0\xb5\xd1\x86\xd0\xba", ', b"not json", b"[1, 2"],
    ids=["truncated", "text", "unclosed"],
)
async def test_malformed_json_is_a_400(registry: Registry, content: bytes) -> None:
    response = await registry.client.post(
        "/organizations", content=content, headers={"Content-Type": "application/json"}
    )
    document = problem(response, 400, "malformed-body")
    assert "JSON" in document["detail"]


async def test_an_empty_body_is_a_400_saying_a_body_is_required(registry: Registry) -> None:
    response = await registry.client.post(
        "/organizations", content=b"", headers={"Content-Type": "application/json"}
    )
    document = problem(response, 400, "body-required")
    assert "body" in document["detail"]


async def test_organizations_are_listed_page_by_page_in_creation_order(
    registry: Registry,
) -> None:
    created = [
        await registry.organization({**LIPETSK, "name": f"Библиотека № {number}"})
        for number in range(1, 6)
    ]
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = body(await registry.client.get("/organizations", params=params))
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 10, "the cursor never ends"

    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    listed = [item for page in pages for item in page["items"]]
    assert [item["id"] for item in listed] == [item["id"] for item in created]
    assert [item["name"] for item in listed] == [f"Библиотека № {n}" for n in range(1, 6)]
    assert pages[-1]["next_cursor"] is None


async def test_a_full_last_page_says_there_is_no_next_one(registry: Registry) -> None:
    for number in range(2):
        await registry.organization({**LIPETSK, "name": f"Библиотека № {number}"})
    page = body(await registry.client.get("/organizations", params={"limit": 2}))
    assert len(page["items"]) == 2
    assert page["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["not-a-cursor!", "AAAA", "%%%", "A" * 23])
async def test_a_cursor_not_of_the_documented_form_is_a_400(
    registry: Registry, cursor: str
) -> None:
    response = await registry.client.get("/organizations", params={"cursor": cursor})
    problem(response, 400, "validation", field="cursor")


@pytest.mark.parametrize("limit", ["0", "201", "-1", "many"])
async def test_a_page_size_out_of_range_is_a_400_naming_limit(
    registry: Registry, limit: str
) -> None:
    response = await registry.client.get("/organizations", params={"limit": limit})
    document = problem(response, 400, "validation", field="limit")
    assert document["errors"][0]["source"] == "query"


async def test_an_unknown_route_is_a_404_problem(registry: Registry) -> None:
    document = problem(await registry.client.get("/organisations"), 404)
    assert "/organisations" in document["detail"]


async def test_an_unknown_path_under_the_openapi_route_is_a_404_problem_too(
    registry: Registry,
) -> None:
    """Litestar answers these with an HTML page of its own; it must not reach a client."""
    document = problem(await registry.client.get("/schema/nope"), 404)
    assert "/schema/nope" in document["detail"]


async def test_a_wrong_method_is_a_405_problem(registry: Registry) -> None:
    response = await registry.client.delete("/organizations")
    problem(response, 405, detail=False)
    assert "POST" in response.headers.get("allow", "")


# --- people ---------------------------------------------------------------------------


async def test_a_person_without_a_display_name_is_named_by_surname_and_initials(
    registry: Registry,
) -> None:
    organization = await registry.organization()
    fields = {"organization_id": organization["id"], "surname": "Алехина", "given_name": "Ирина"}
    with_patronymic = body(
        await registry.client.post(
            "/people", json=fields | {"patronymic": "Леонидовна", "email": "a@lib.example"}
        ),
        201,
    )
    without = body(
        await registry.client.post("/people", json=fields | {"email": "b@lib.example"}), 201
    )
    assert with_patronymic["display_name"] == "Алехина И. Л."
    assert without["display_name"] == "Ирина Алехина"
    assert (await registry.event_of(with_patronymic["id"])).event["name"] == "Алехина И. Л."


async def test_a_person_is_created_and_read_back(registry: Registry) -> None:
    organization = await registry.organization()
    person = await registry.person(organization, "Ирина Викторовна Пожидаева", "irina@lib.example")
    assert person["organization_id"] == organization["id"]
    assert person["display_name"] == "Ирина Викторовна Пожидаева"
    assert person["patronymic"] == "Викторовна"
    assert person["email"] == "irina@lib.example"
    assert person["version"] == 1
    assert body(await registry.client.get(f"/people/{person['id']}")) == person

    message = await registry.event_of(person["id"])
    assert message.subject == "registry.person.upserted"
    assert message.headers["Nats-Msg-Id"] == message.event["event_id"]
    assert message.event["organization_id"] == organization["id"]
    assert message.event["email"] == "irina@lib.example"


async def test_a_person_of_an_unknown_organization_is_a_422(registry: Registry) -> None:
    response = await registry.client.post(
        "/people",
        json={
            "organization_id": str(new_id()),
            **person_fields("Некто Никто", "nobody@lib.example"),
        },
    )
    problem(response, 422, "validation", field="organization_id")


@pytest.mark.parametrize(
    "email", ["irina", "irina@", "@lib.example", "irina@lib", "ирина пожидаева@lib.example"]
)
async def test_an_invalid_email_is_a_422(registry: Registry, email: str) -> None:
    organization = await registry.organization()
    response = await registry.client.post(
        "/people",
        json={"organization_id": organization["id"], **person_fields("Ирина Пожидаева", email)},
    )
    problem(response, 422, "validation", field="email")


async def test_an_email_is_unique_within_an_organization_whatever_its_case(
    registry: Registry,
) -> None:
    lipetsk = await registry.organization()
    vladivostok = await registry.organization(VLADIVOSTOK)
    await registry.person(lipetsk, "Ирина Пожидаева", "irina@lib.example")

    response = await registry.client.post(
        "/people",
        json={
            "organization_id": lipetsk["id"],
            **person_fields("И. Пожидаева", "Irina@LIB.example"),
        },
    )
    document = problem(response, 409, "duplicate-email")
    assert "Irina@LIB.example" in document["detail"]

    elsewhere = await registry.person(vladivostok, "Ирина Пожидаева", "irina@lib.example")
    assert elsewhere["organization_id"] == vladivostok["id"]


async def test_people_are_listed_by_organization(registry: Registry) -> None:
    lipetsk = await registry.organization()
    vladivostok = await registry.organization(VLADIVOSTOK)
    ours = [
        await registry.person(lipetsk, "Ирина Пожидаева", "irina@lib.example"),
        await registry.person(lipetsk, "Ольга Бунина", "olga@lib.example"),
    ]
    theirs = await registry.person(vladivostok, "Анна Ким", "kim@pkpb.example")

    page = body(await registry.client.get("/people", params={"organization_id": lipetsk["id"]}))
    assert page == {"items": ours, "next_cursor": None}
    everyone = body(await registry.client.get("/people"))
    assert [p["id"] for p in everyone["items"]] == [*(p["id"] for p in ours), theirs["id"]]
    first = body(
        await registry.client.get("/people", params={"organization_id": lipetsk["id"], "limit": 1})
    )
    assert first["items"] == ours[:1]
    rest = body(
        await registry.client.get(
            "/people",
            params={"organization_id": lipetsk["id"], "limit": 1, "cursor": first["next_cursor"]},
        )
    )
    assert rest["items"] == ours[1:]


# --- sign-up --------------------------------------------------------------------------


async def test_signing_up_for_an_unknown_meeting_is_a_404(registry: Registry) -> None:
    organization = await registry.organization()
    person = await registry.person(organization, "Ирина Пожидаева", "irina@lib.example")
    meeting_id = new_id()
    response = await registry.client.post(
        f"/meetings/{meeting_id}/registrations", json={"person_id": person["id"]}
    )
    document = problem(response, 404, "unknown-meeting")
    assert str(meeting_id) in document["detail"]
    problem(await registry.client.get(f"/meetings/{meeting_id}"), 404, "unknown-meeting")
    problem(
        await registry.client.get(f"/meetings/{meeting_id}/registrations"), 404, "unknown-meeting"
    )


async def test_a_person_signs_up_once_and_the_registration_is_published(
    registry: Registry,
) -> None:
    organization = await registry.organization()
    irina = await registry.person(organization, "Ирина Пожидаева", "irina@lib.example")
    olga = await registry.person(organization, "Ольга Бунина", "olga@lib.example")
    meeting = hosted_by(organization["id"])
    known = await registry.meeting_known(meeting)
    assert known["status"] == "scheduled"
    assert known["title"] == "Телемост «От сердца к сердцу»"
    path = f"/meetings/{meeting.aggregate_id}/registrations"

    registration = body(await registry.client.post(path, json={"person_id": irina["id"]}), 201)
    assert registration["meeting_id"] == str(meeting.aggregate_id)
    assert registration["person_id"] == irina["id"]
    assert registration["organization_id"] == organization["id"]
    assert registration["status"] == "registered"
    assert registration["version"] == 1

    again = await registry.client.post(path, json={"person_id": irina["id"]})
    problem(again, 409, "already-registered")
    stranger = await registry.client.post(path, json={"person_id": str(new_id())})
    problem(stranger, 422, "validation", field="person_id")
    second = body(await registry.client.post(path, json={"person_id": olga["id"]}), 201)

    listed = body(await registry.client.get(path))
    assert listed == {"items": [registration, second], "next_cursor": None}

    messages = await registry.events_until(await _event_id(registry, second))
    created = [m for m in messages if m.subject == "registry.registration.created"]
    assert [m.event["aggregate_id"] for m in created] == [registration["id"], second["id"]]
    first = created[0]
    assert first.headers["Nats-Msg-Id"] == first.event["event_id"]
    assert first.event["aggregate_version"] == 1
    assert first.event["meeting_id"] == str(meeting.aggregate_id)
    assert first.event["person_id"] == irina["id"]
    assert first.event["organization_id"] == organization["id"]
    assert first.event["status"] == "registered"


async def _event_id(registry: Registry, entity: dict[str, Any]) -> str:
    message = await registry.event_of(entity["id"])
    event_id: str = message.event["event_id"]
    return event_id


async def test_a_cancelled_meeting_takes_no_registrations(registry: Registry) -> None:
    organization = await registry.organization()
    person = await registry.person(organization, "Ирина Пожидаева", "irina@lib.example")
    meeting = hosted_by(organization["id"])
    await registry.meeting_known(meeting)
    known = await registry.meeting_known(cancelled(meeting))
    assert known["status"] == "cancelled"

    response = await registry.client.post(
        f"/meetings/{meeting.aggregate_id}/registrations",
        json={"person_id": person["id"]},
        headers=OPERATOR,
    )
    problem(response, 409, "meeting-cancelled")


async def test_an_ended_meeting_takes_registrations_from_the_operator_only(
    registry: Registry,
) -> None:
    organization = await registry.organization()
    person = await registry.person(organization, "Ирина Пожидаева", "irina@lib.example")
    meeting = hosted_by(organization["id"])
    await registry.meeting_known(meeting)
    known = await registry.meeting_known(ended(meeting))
    assert known["status"] == "ended"
    path = f"/meetings/{meeting.aggregate_id}/registrations"

    partner = await registry.partner_key(organization)
    problem(
        await registry.client.post(path, json={"person_id": person["id"]}, headers=partner),
        409,
        "meeting-ended",
    )
    wrong_key = {"Authorization": "Bearer not-the-operator-key"}
    problem(
        await registry.client.post(path, json={"person_id": person["id"]}, headers=wrong_key),
        401,
        "unauthenticated",
    )
    recorded = body(
        await registry.client.post(path, json={"person_id": person["id"]}, headers=OPERATOR), 201
    )
    assert recorded["person_id"] == person["id"]
    assert body(await registry.client.get(path))["items"] == [recorded]


async def test_an_older_meeting_event_does_not_reopen_a_cancelled_meeting(
    registry: Registry,
) -> None:
    organization = await registry.organization()
    meeting = hosted_by(organization["id"])
    await registry.meeting_known(cancelled(meeting))
    await publish(registry.js, meeting)  # version 1, after version 2
    marker = hosted_by(organization["id"])
    await registry.meeting_known(marker)  # the consumer has gone past the stale event
    known = body(await registry.client.get(f"/meetings/{meeting.aggregate_id}"))
    assert (known["status"], known["version"]) == ("cancelled", 2)


# --- events ---------------------------------------------------------------------------


async def test_every_successful_write_publishes_one_event_and_a_failed_one_none(
    registry: Registry,
) -> None:
    organization = await registry.organization()
    person = await registry.person(organization, "Ирина Пожидаева", "irina@lib.example")
    meeting = hosted_by(organization["id"])
    await registry.meeting_known(meeting)
    registration = body(
        await registry.client.post(
            f"/meetings/{meeting.aggregate_id}/registrations", json={"person_id": person["id"]}
        ),
        201,
    )
    # Writes that fail, each of them after the request was parsed.
    failures = [
        await registry.client.post(
            "/organizations", json={**LIPETSK, "timezone": "Europe/Luhansk"}
        ),
        await registry.client.post(
            "/people",
            json={
                "organization_id": organization["id"],
                **person_fields("Ирина Пожидаева", "IRINA@lib.example"),
            },
        ),
        await registry.client.post(
            "/people",
            json={
                "organization_id": str(new_id()),
                **person_fields("Некто Никто", "x@lib.example"),
            },
        ),
        await registry.client.post(
            f"/meetings/{meeting.aggregate_id}/registrations", json={"person_id": person["id"]}
        ),
        await registry.client.post(
            f"/meetings/{new_id()}/registrations", json={"person_id": person["id"]}
        ),
    ]
    assert [response.status_code for response in failures] == [422, 409, 422, 409, 404]
    # The relay publishes in commit order: once this one is out, anything before it is too.
    last = await registry.organization(VLADIVOSTOK)

    messages = await registry.events_until(await _event_id(registry, last))
    bootstrap, *messages = messages  # the admin key registered on start
    assert bootstrap.subject == "registry.apikey.issued"
    assert bootstrap.event["role"] == "admin"
    assert [(m.subject, m.event["aggregate_id"]) for m in messages] == [
        ("registry.organization.upserted", organization["id"]),
        ("registry.person.upserted", person["id"]),
        ("registry.registration.created", registration["id"]),
        ("registry.organization.upserted", last["id"]),
    ]
    for message in messages:
        assert message.headers["Nats-Msg-Id"] == message.event["event_id"]
        assert message.event["type"] == message.subject
    assert len({m.event["event_id"] for m in messages}) == len(messages)


# --- health and schema ----------------------------------------------------------------


async def test_live_ready_and_the_openapi_document(registry: Registry) -> None:
    await assert_live_and_ready(registry.client, "registry")
    operations = await openapi_operations(registry.client)
    assert operations == served_operations(registry.client)
    assert operations == {
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", "/metrics"),
        ("GET", "/regions"),
        ("GET", "/regions/{code}"),
        ("POST", "/organizations"),
        ("GET", "/organizations"),
        ("GET", "/organizations/{organization_id}"),
        ("PUT", "/organizations/{organization_id}"),
        ("POST", "/organizations/import"),
        ("POST", "/people"),
        ("GET", "/people"),
        ("GET", "/people/{person_id}"),
        ("PUT", "/people/{person_id}"),
        ("POST", "/keys"),
        ("GET", "/keys"),
        ("GET", "/keys/{key_id}"),
        ("POST", "/keys/{key_id}/revoke"),
        ("GET", "/meetings/{meeting_id}"),
        ("PUT", "/meetings/{meeting_id}/capacity"),
        ("POST", "/meetings/{meeting_id}/registrations"),
        ("GET", "/meetings/{meeting_id}/registrations"),
        ("GET", "/registrations/{registration_id}"),
        ("DELETE", "/registrations/{registration_id}"),
        ("PUT", "/registrations/{registration_id}/rsvp"),
        ("GET", "/registrations/{registration_id}/rsvp-link"),
        ("GET", "/rsvp/{token}"),
        ("POST", "/rsvp/{token}"),
        ("POST", "/meetings/{meeting_id}/check-ins"),
        ("PUT", "/meetings/{meeting_id}/headcounts/{organization_id}"),
        ("GET", "/meetings/{meeting_id}/attendance"),
        ("GET", "/webhooks/event-types"),
        ("POST", "/webhooks/endpoints"),
        ("GET", "/webhooks/endpoints"),
        ("GET", "/webhooks/endpoints/{endpoint_id}"),
        ("PUT", "/webhooks/endpoints/{endpoint_id}"),
        ("DELETE", "/webhooks/endpoints/{endpoint_id}"),
        ("POST", "/webhooks/endpoints/{endpoint_id}/secret/rotate"),
        ("GET", "/webhooks/endpoints/{endpoint_id}/deliveries"),
        ("POST", "/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/replay"),
        ("POST", "/webhooks/endpoints/{endpoint_id}/replay"),
    }


async def test_without_nats_the_service_stays_ready_degraded_and_catches_up_after(
    database_url: str, nats_url: str, nats_server: EmbeddedNats | None
) -> None:
    if nats_server is None:
        pytest.skip("an external NATS server is configured: it is not the test's to kill")
    app = create_app(settings_for(RegistrySettings, database_url, nats_url))
    async with serving(app) as client:
        client.headers.update(OPERATOR)
        await assert_live_and_ready(client, "registry")
        nats_server.kill()

        async def degraded() -> Any:
            response = await client.get("/health/ready")
            return response if json_of(response)["status"] == "degraded" else None

        answer = await eventually(degraded)
        # Ready still: writes succeed, their events wait in the outbox.
        assert answer.status_code == 200
        ready = json_of(answer)
        assert ready["service"] == "registry"
        assert ready["missing"] == ["nats"]
        assert ready["checks"]["postgres"] == "ok"
        assert ready["checks"]["nats"] != "ok"
        assert ready["checks"]["nats"]
        live = await client.get("/health/live")
        assert live.status_code == 200
        assert json_of(live)["status"] == "ok"
        # Writes go on; their events wait in the outbox until NATS is back.
        written = body(await client.post("/organizations", json=LIPETSK), 201)

        nats_server.start()

        async def ready_again() -> bool:
            return json_of(await client.get("/health/ready"))["status"] == "ok"

        await eventually(ready_again)
        connection = await nats.connect(nats_url)
        try:
            js = connection.jetstream()

            async def relayed() -> list[Published]:
                return await published(js, REGISTRY)

            [message] = await eventually(relayed)
        finally:
            await connection.close()
        assert message.event["aggregate_id"] == written["id"]
        assert message.headers["Nats-Msg-Id"] == message.event["event_id"]
