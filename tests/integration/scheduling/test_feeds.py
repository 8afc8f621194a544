"""Subscription feeds as calendar programs poll them: behind a token, cached with ETag and
Last-Modified, revocable and rotatable."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import icalendar

from services.scheduling.calendar_entries import RENDERING
from shared.events import PersonUpserted, RegistrationCreated, new_id
from tests.integration.api import body, problem, publish
from tests.integration.scheduling.support import (
    NEXT_DAY,
    Scheduling,
    path_of,
    scheduling_service,
    telebridge,
    vevent,
)
from tests.support import eventually


async def feed_of(
    scheduling: Scheduling, headers: dict[str, str] | None = None, **data: Any
) -> Any:
    return body(await scheduling.client.post("/feeds", json=data, headers=headers), 201)


async def test_an_organization_feed_is_cached_until_a_meeting_changes(
    scheduling: Scheduling,
) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    partner = await scheduling.partner_key(moscow)
    meeting = await scheduling.telebridge(moscow, vladivostok)
    feed = await feed_of(scheduling, partner, kind="organization", organization_id=str(moscow))
    token = feed["url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert len(token) >= 43  # 256 random bits, URL-safe base64
    assert feed["webcal_url"] == "webcal://" + feed["url"].split("://", 1)[1]

    first = await scheduling.client.get(path_of(feed["url"]))
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(first.content)
    assert str(calendar["X-WR-CALNAME"]).startswith("Телемосты: ")
    assert calendar["NAME"] == calendar["X-WR-CALNAME"]
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in first.content
    assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in first.content
    [event] = calendar.walk("VEVENT")
    assert event["UID"] == f"{meeting['id']}@telebridge"
    assert calendar["METHOD"] == "PUBLISH"
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    unchanged = await scheduling.client.get(path_of(feed["url"]), headers={"If-None-Match": etag})
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert unchanged.headers["etag"] == etag
    since = await scheduling.client.get(
        path_of(feed["url"]), headers={"If-Modified-Since": modified}
    )
    assert since.status_code == 304

    current = await scheduling.client.get(f"/meetings/{meeting['id']}")
    renamed = telebridge(moscow, vladivostok, title="Телемост «Читаем вместе»")
    body(
        await scheduling.client.put(
            f"/meetings/{meeting['id']}",
            json=renamed,
            headers=partner | {"If-Match": current.headers["etag"]},
        )
    )
    changed = await scheduling.client.get(path_of(feed["url"]), headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    [event] = icalendar.Calendar.from_ical(changed.content).walk("VEVENT")
    assert event["SUMMARY"] == "Телемост «Читаем вместе»"
    assert event["SEQUENCE"] == 1


async def test_a_rotated_or_revoked_feed_address_is_gone(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    partner = await scheduling.partner_key(moscow)
    feed = await feed_of(scheduling, partner, kind="organization", organization_id=str(moscow))
    rotated = body(
        await scheduling.client.post(f"/feeds/{feed['id']}/rotate", headers=partner), 201
    )
    assert rotated["url"] != feed["url"]
    problem(await scheduling.client.get(path_of(feed["url"])), 410, "feed-revoked")
    assert (await scheduling.client.get(path_of(rotated["url"]))).status_code == 200

    revoked = body(await scheduling.client.post(f"/feeds/{rotated['id']}/revoke", headers=partner))
    assert revoked["revoked_at"] is not None
    problem(await scheduling.client.get(path_of(rotated["url"])), 410, "feed-revoked")
    problem(await scheduling.client.get("/calendars/no-such-token.ics"), 404, "not-found")
    listed = body(await scheduling.client.get("/feeds", headers=partner))
    assert listed["items"] == []
    with_revoked = body(await scheduling.client.get("/feeds?revoked=true", headers=partner))
    assert {f["id"] for f in with_revoked["items"]} == {feed["id"], rotated["id"]}


async def test_partners_make_feeds_of_their_own_only(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    partner = await scheduling.partner_key(moscow)
    problem(
        await scheduling.client.post(
            "/feeds",
            json={"kind": "organization", "organization_id": str(vladivostok)},
            headers=partner,
        ),
        403,
        "other-organization",
    )
    problem(
        await scheduling.client.post("/feeds", json={"kind": "public"}, headers=partner),
        403,
        "forbidden",
    )
    theirs = await feed_of(scheduling, kind="organization", organization_id=str(vladivostok))
    problem(
        await scheduling.client.get(f"/feeds/{theirs['id']}", headers=partner), 404, "not-found"
    )
    problem(
        await scheduling.client.post("/feeds", json={"kind": "organization"}),
        422,
        "validation",
        field="organization_id",
    )


async def test_the_public_feed_holds_public_meetings_only(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    open_one = await scheduling.telebridge(moscow, vladivostok, public=True)
    await scheduling.telebridge(
        moscow, vladivostok, title="Рабочая встреча", public=False, **NEXT_DAY
    )
    feed = await feed_of(scheduling, kind="public")
    calendar = icalendar.Calendar.from_ical(
        (await scheduling.client.get(path_of(feed["url"]))).content
    )
    assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == [f"{open_one['id']}@telebridge"]
    assert str(calendar["X-WR-CALNAME"]) == "Телемосты: открытые встречи"


async def test_a_person_feed_follows_their_registrations(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(moscow, vladivostok)
    await scheduling.telebridge(moscow, vladivostok, title="Другая встреча", **NEXT_DAY)
    person = PersonUpserted(
        aggregate_id=new_id(),
        aggregate_version=1,
        producer="registry",
        organization_id=vladivostok,
        name="Анна Сергеевна Ким",
        email="anna.kim@example.org",
        language="en",
    )
    await publish(scheduling.js, person)
    feed = await eventually(
        lambda: _person_feed(scheduling, person.aggregate_id),
    )
    assert feed["kind"] == "person"
    empty = await scheduling.client.get(path_of(feed["url"]))
    assert icalendar.Calendar.from_ical(empty.content).walk("VEVENT") == []
    assert str(icalendar.Calendar.from_ical(empty.content)["NAME"]) == (
        "Telebridge: Анна Сергеевна Ким"
    )
    await publish(
        scheduling.js,
        RegistrationCreated(
            aggregate_id=new_id(),
            aggregate_version=1,
            producer="registry",
            meeting_id=UUID(meeting["id"]),
            person_id=person.aggregate_id,
            organization_id=vladivostok,
        ),
    )

    async def listed() -> list[str] | None:
        response = await scheduling.client.get(
            path_of(feed["url"]), headers={"If-None-Match": empty.headers["etag"]}
        )
        if response.status_code == 304:
            return None
        return [
            str(e["UID"]) for e in icalendar.Calendar.from_ical(response.content).walk("VEVENT")
        ]

    assert await eventually(listed) == [f"{meeting['id']}@telebridge"]


async def _person_feed(scheduling: Scheduling, person_id: UUID) -> Any:
    response = await scheduling.client.post(
        "/feeds", json={"kind": "person", "person_id": str(person_id)}
    )
    return response.json() if response.status_code == 201 else None


async def test_entries_an_earlier_rendering_wrote_are_rendered_anew_at_start(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """Feeds are assembled from entries kept as text: those the code before wrote (a JSON
    link, the kind named twice) say what the code now writes once the service restarts."""
    async with scheduling_service(database_url, nats_url, tmp_path) as scheduling:
        moscow, vladivostok = await scheduling.moscow(), await scheduling.vladivostok()
        meeting = await scheduling.telebridge(moscow, vladivostok)
        feed = await feed_of(scheduling, kind="organization", organization_id=str(moscow))
        current = await scheduling.client.get(path_of(feed["url"]))
        kept = "SELECT body, rendering FROM scheduling.calendar_entries WHERE meeting_id = $1"
        [(body_now, rendering)] = await scheduling.database.fetch(kept, UUID(meeting["id"]))
        assert rendering == RENDERING
        await scheduling.database.execute(
            "UPDATE scheduling.calendar_entries SET body = $2, rendering = $3, "
            "updated_at = now() WHERE meeting_id = $1",
            UUID(meeting["id"]),
            body_now.replace("DESCRIPTION:", "DESCRIPTION:Телемост: "),
            RENDERING - 1,
        )

        async def served_stale() -> Any:
            response = await scheduling.client.get(path_of(feed["url"]))
            return response if "DESCRIPTION:Телемост: ".encode() in response.content else None

        stale = await eventually(served_stale)

    async with scheduling_service(database_url, nats_url, tmp_path) as scheduling:
        again = await scheduling.client.get(path_of(feed["url"]))
        [(body_again, rendering)] = await scheduling.database.fetch(kept, UUID(meeting["id"]))
    assert rendering == RENDERING
    assert again.headers["etag"] != stale.headers["etag"]
    assert (
        vevent(icalendar.Calendar.from_ical(again.content))["DESCRIPTION"]
        == vevent(icalendar.Calendar.from_ical(current.content))["DESCRIPTION"]
    )
    assert body_again.replace(stamp_of(body_again), "") == body_now.replace(stamp_of(body_now), "")


def stamp_of(body: str) -> str:
    [line] = [line for line in body.split("\r\n") if line.startswith("DTSTAMP:")]
    return line
