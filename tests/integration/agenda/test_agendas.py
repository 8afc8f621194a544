"""Agendas as operators write them: versions kept, drafts until published, If-Match
against lost updates, a diff between any two versions, unpublishing, and every problem of
the items named by its field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import msgspec
import pytest

from services.agenda.app import create_app
from shared.bus.outbox import EVENT_LIMIT, HEADER_ROOM
from shared.events import new_id
from shared.settings import AgendaSettings, NatsSettings
from tests.events import STARTS, applied, instant, signed_up
from tests.integration.agenda.support import (
    ITEMS,
    MOSCOW,
    VLADIVOSTOK,
    Agenda,
    known,
    moscow_with_vladivostok,
)
from tests.integration.api import body, partner_key, problem, publish
from tests.support import OPERATOR, harness, settings_for


async def test_a_draft_is_kept_unpublished_until_it_is_published(agenda: Agenda) -> None:
    meeting_id = await known(agenda)
    path = f"/meetings/{meeting_id}/agenda"

    response = await agenda.put(meeting_id, ITEMS, publish=False)
    draft = body(response)
    assert response.headers["etag"] == '"1"'
    assert (draft["version"], draft["published"], draft["latest"]) == (1, False, True)
    assert [item["title"] for item in draft["items"]] == [
        "Открытие телемоста",
        "Виртуальная экскурсия по Владивостоку",
        "Подведение итогов",
    ]
    assert [instant(item["starts_at"]) for item in draft["items"]] == [
        STARTS,
        STARTS + timedelta(minutes=15),
        STARTS + timedelta(minutes=90),
    ]
    assert [item["timezone"] for item in draft["items"]] == [
        "Europe/Moscow",
        "Asia/Vladivostok",
        "Europe/Moscow",
    ]
    assert draft["items"][0]["speakers"] == [
        {"name": "Анна Ким", "organization": "ПКПБ", "external": True}
    ]
    # As written, for the next edit: in the order given, local times left local.
    assert [(w["title"], w["at"], w["timezone"]) for w in draft["written"]] == [
        (item["title"], item["at"], item.get("timezone")) for item in ITEMS
    ]
    problem(await agenda.client.get(path), 404, "no-agenda")
    assert (await agenda.client.get(f"{path}/versions/latest")).headers["etag"] == '"1"'

    published = body(await agenda.client.post(f"{path}/versions/1/publish"))
    assert published["published"] is True
    assert body(await agenda.client.get(path)) == published
    [event] = await agenda.events("agenda.agenda.published", 1)
    assert (event.event["version"], event.event["items"]) == (1, 3)
    assert event.event["meeting_id"] == str(meeting_id)
    # Invites and mails link it for people: the page, not the JSON.
    page = await agenda.client.get(urlsplit(event.event["url"]).path)
    assert page.status_code == 200, event.event["url"]
    assert page.headers["content-type"].startswith("text/html")
    assert event.event["entries"][0] == {
        "starts_at": "2030-10-01T08:00:00Z",
        "ends_at": "2030-10-01T08:15:00Z",
        "title": "Открытие телемоста",
        "speakers": ["Анна Ким (ПКПБ)"],
        "track": None,
    }


async def test_every_version_is_kept_and_a_stale_one_is_refused(agenda: Agenda) -> None:
    meeting_id = await known(agenda)
    path = f"/meetings/{meeting_id}/agenda"
    first = await agenda.put(meeting_id, ITEMS)
    assert body(first)["version"] == 1

    problem(await agenda.put(meeting_id, ITEMS[:2]), 428, "if-match-required")
    stale = problem(
        await agenda.put(meeting_id, ITEMS[:2], headers={"If-Match": '"0"'}),
        412,
        "version-mismatch",
    )
    assert stale["current_version"] == 1
    renamed = [{**ITEMS[1], "title": "Открытие телемоста «От сердца к сердцу»"}, ITEMS[2]]
    second = body(await agenda.put(meeting_id, renamed, headers={"If-Match": '"1"'}))
    assert (second["version"], second["published"]) == (2, True)
    assert body(await agenda.client.get(path))["version"] == 2

    versions = body(await agenda.client.get(f"{path}/versions"))
    assert [(v["version"], v["published"], v["latest"]) for v in versions] == [
        (2, True, True),
        (1, False, False),
    ]
    assert len(body(await agenda.client.get(f"{path}/versions/1"))["items"]) == 3
    problem(await agenda.client.get(f"{path}/versions/3"), 404, "no-such-version")

    changes = body(await agenda.client.get(f"{path}/diff", params={"from": 1, "to": 2}))
    assert [item["title"] for item in changes["removed"]] == ["Подведение итогов"]
    assert changes["added"] == []
    [renaming] = changes["changed"]
    assert renaming["changes"] == [
        {
            "field": "title",
            "before": "Открытие телемоста",
            "after": "Открытие телемоста «От сердца к сердцу»",
        }
    ]

    messages = await agenda.events("agenda.agenda.published", 2)
    assert [(m.event["aggregate_version"], m.event["version"]) for m in messages] == [
        (1, 1),
        (2, 2),
    ]
    assert messages[0].event["aggregate_id"] == messages[1].event["aggregate_id"]


async def test_an_unpublished_agenda_keeps_its_versions_and_may_be_published_again(
    agenda: Agenda,
) -> None:
    meeting_id = await known(agenda)
    path = f"/meetings/{meeting_id}/agenda"
    body(await agenda.put(meeting_id, ITEMS))

    assert (await agenda.client.post(f"{path}/unpublish")).status_code == 204
    problem(await agenda.client.get(path), 404, "no-agenda")
    problem(await agenda.client.post(f"{path}/unpublish"), 409, "not-published")
    [withdrawn] = await agenda.events("agenda.agenda.unpublished", 1)
    assert withdrawn.event["meeting_id"] == str(meeting_id)
    assert withdrawn.event["aggregate_version"] == 2

    body(await agenda.client.post(f"{path}/versions/1/publish"))
    assert body(await agenda.client.get(path))["version"] == 1
    messages = await agenda.events("agenda.agenda.published", 2)
    assert [m.event["aggregate_version"] for m in messages] == [1, 3]


async def test_every_problem_of_the_items_is_named_and_nothing_is_kept(agenda: Agenda) -> None:
    meeting_id = await known(agenda)
    person, registration = signed_up(
        moscow_with_vladivostok().aggregate_id,
        MOSCOW.aggregate_id,
        "Светлана Умеренко",
        "u@example.org",
    )
    await publish(agenda.js, person, registration)
    response = await agenda.put(
        meeting_id,
        [
            {"at": "2030-10-01T10:59", "duration": "PT10M", "title": "Слишком рано"},
            {"at": "2030-10-01T11:00", "duration": "PT30M", "title": "Открытие"},
            {"at": "2030-10-01T11:20", "duration": "PT10M", "title": "Наложение"},
            {
                "offset": "PT1H",
                "duration": "PT10M",
                "title": "Доклад",
                "speakers": [{"person_id": str(new_id())}, {"name": "Гость"}],
            },
        ],
    )
    document = problem(response, 422, "validation")
    assert [error["field"] for error in document["errors"]] == [
        "items[0].at",
        "items[2].at",
        "items[3].speakers[0].person_id",
        "items[3].speakers[1].external",
    ]
    assert "overlaps items[1] «Открытие»" in document["errors"][1]["message"]
    problem(
        await agenda.client.get(f"/meetings/{meeting_id}/agenda/versions/latest"), 404, "no-agenda"
    )


async def test_a_registered_speaker_is_named_with_their_organization(agenda: Agenda) -> None:
    meeting_id = await known(agenda)
    person, registration = signed_up(
        moscow_with_vladivostok().aggregate_id,
        MOSCOW.aggregate_id,
        "Светлана Умеренко",
        "u@example.org",
    )
    await publish(agenda.js, person, registration)
    await applied(agenda.database, "agenda", person)
    item = {
        "offset": "PT0S",
        "duration": "PT10M",
        "title": "Открытие",
        "speakers": [{"person_id": str(person.aggregate_id)}],
    }
    [scheduled_item] = body(await agenda.put(meeting_id, [item]))["items"]
    assert scheduled_item["speakers"] == [
        {
            "person_id": str(person.aggregate_id),
            "name": "Светлана Умеренко",
            "organization": MOSCOW.name,
        }
    ]
    assert instant(scheduled_item["starts_at"]) == STARTS


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"at": "2030-10-01T11:00", "duration": "PT10M"}, "items[0].title"),
        ({"at": "2030-10-01T11:00", "duration": "PT10M", "title": ""}, "items[0].title"),
        ({"at": "2030-10-01T11:00", "title": "Открытие"}, "items[0].duration"),
        ({"at": "11:00", "duration": "PT10M", "title": "Открытие"}, "items[0].at"),
        ({"at": "2030-10-01T11:00", "duration": "PT10M", "title": "О", "room": 1}, "items[0].room"),
        (
            {"at": "2030-10-01T11:00", "duration": "PT10M", "title": "О", "kind": "x"},
            "items[0].kind",
        ),
    ],
    ids=[
        "missing-title",
        "empty-title",
        "missing-duration",
        "time-without-date",
        "unknown-field",
        "unknown-kind",
    ],
)
async def test_an_item_of_the_wrong_shape_is_a_422_naming_it(
    agenda: Agenda, item: dict[str, Any], field: str
) -> None:
    meeting_id = await known(agenda)
    problem(await agenda.put(meeting_id, [item]), 422, "validation", field=field)


async def test_only_the_host_or_an_operator_writes_the_agenda(agenda: Agenda) -> None:
    meeting_id = await known(agenda)
    path = f"/meetings/{meeting_id}/agenda"
    del agenda.client.headers["Authorization"]
    problem(await agenda.put(meeting_id, ITEMS), 401, "unauthenticated")

    host = await host_key(agenda, MOSCOW.aggregate_id)
    guest = await host_key(agenda, VLADIVOSTOK.aggregate_id)
    problem(await agenda.put(meeting_id, ITEMS, headers=guest), 403, "not-the-host")
    problem(await agenda.client.get(f"{path}/versions", headers=guest), 403, "not-the-host")
    assert body(await agenda.put(meeting_id, ITEMS, headers=host))["version"] == 1
    # Anyone reads the published agenda.
    assert body(await agenda.client.get(path))["version"] == 1


async def host_key(agenda: Agenda, organization_id: UUID) -> dict[str, str]:
    probe = f"/meetings/{new_id()}/agenda/versions"
    return await partner_key(agenda.js, agenda.client, organization_id, probe)


async def test_an_unknown_meeting_is_a_404(agenda: Agenda) -> None:
    missing = new_id()
    document = problem(await agenda.put(missing, ITEMS), 404, "unknown-meeting")
    assert str(missing) in document["detail"]
    for path in ("agenda", "summary", "summary.md"):
        problem(await agenda.client.get(f"/meetings/{missing}/{path}"), 404, "unknown-meeting")


async def test_a_dry_run_answers_as_if_written_and_writes_nothing(agenda: Agenda) -> None:
    meeting_id = await known(agenda)
    path = f"/meetings/{meeting_id}/agenda"
    response = await agenda.client.put(
        path, json={"items": ITEMS, "publish": True}, params={"dry_run": "true"}
    )
    preview = body(response)
    assert (preview["version"], preview["published"]) == (1, True)
    assert len(preview["items"]) == 3
    assert "etag" not in response.headers
    problem(await agenda.client.get(f"{path}/versions/latest"), 404, "no-agenda")
    problem(await agenda.client.get(path), 404, "no-agenda")


async def test_an_agenda_whose_event_would_not_fit_a_message_is_a_413_and_nothing_is_kept(
    database_url: str, nats_url: str
) -> None:
    settings = settings_for(AgendaSettings, database_url, nats_url)
    small_bus = msgspec.structs.replace(settings.nats, max_payload=64 * 1024)
    app = create_app(msgspec.structs.replace(settings, nats=small_bus))
    try:
        async with harness(app, database_url, nats_url) as running:
            running.client.headers.update(OPERATOR)
            agenda = Agenda(running.client, running.js, running.database)
            meeting_id = await known(agenda)
            first = await agenda.put(meeting_id, ITEMS)
            body(first)
            outboxed = await agenda.database.fetchval("SELECT count(*) FROM agenda.outbox")
            speaker = {"name": "Я" * 300, "organization": "Б" * 500, "external": True}
            crowded = {**ITEMS[0], "speakers": [speaker] * 50}  # 50 lines of 1.6 kB each

            response = await agenda.put(
                meeting_id, [crowded], headers={"If-Match": first.headers["etag"]}
            )
            document = problem(response, 413, "event-too-large")
            assert str(64 * 1024 - HEADER_ROOM) in document["detail"]
            latest = await agenda.client.get(f"/meetings/{meeting_id}/agenda/versions/latest")
            assert body(latest)["version"] == 1
            assert await agenda.database.fetchval("SELECT count(*) FROM agenda.outbox") == outboxed
    finally:
        EVENT_LIMIT.fit_to(NatsSettings().max_payload)  # one limit per process: restore it
