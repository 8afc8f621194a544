"""Workshops with sessions and tracks, and series with one occurrence moved or cancelled,
as their invites show them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import icalendar
import recurring_ical_events

from tests.integration.api import body, problem
from tests.integration.scheduling.support import Scheduling, path_of, telebridge

SERIES = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=4"


async def test_a_workshop_has_one_calendar_object_per_session(scheduling: Scheduling) -> None:
    lipetsk = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    workshop = body(
        await scheduling.client.post(
            "/meetings",
            json={
                "title": "Интернет-мастерская «Библиотека в сети»",
                "kind": "workshop",
                "host_organization_id": str(lipetsk),
                "sites": [
                    {"organization_id": str(lipetsk), "room": "Конференц-зал", "track": "Липецк"},
                    {"organization_id": str(vladivostok), "track": "Приморье"},
                ],
                "sessions": [
                    {
                        "starts_at": "2030-10-01T10:00:00+03:00",
                        "ends_at": "2030-10-01T12:00:00+03:00",
                        "title": "Открытие",
                    },
                    {
                        "starts_at": "2030-10-02T10:00:00+03:00",
                        "ends_at": "2030-10-02T11:30:00+03:00",
                        "title": "Квест по сайтам библиотек",
                        "track": "Приморье",
                    },
                ],
                "conference": {
                    "url": "https://telemost.yandex.ru/j/12345678901234",
                    "platform": "telemost",
                    "dial_in": "tel:+7-495-123-45-67",
                },
            },
        ),
        201,
    )
    opening, quest = workshop["sessions"]
    assert [opening["title"], quest["track"]] == ["Открытие", "Приморье"]
    assert workshop["sites"][0]["room"] == "Конференц-зал"
    invite = await scheduling.client.get(f"/meetings/{workshop['id']}/invite.ics")
    calendar = icalendar.Calendar.from_ical(invite.content)
    events = calendar.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [
        f"{opening['id']}@telebridge",
        f"{quest['id']}@telebridge",
    ]
    assert [str(e["SUMMARY"]) for e in events] == [
        "Интернет-мастерская «Библиотека в сети». Открытие",
        "Интернет-мастерская «Библиотека в сети». Квест по сайтам библиотек",
    ]
    video, phone = events[0]["CONFERENCE"]
    assert str(video) == "https://telemost.yandex.ru/j/12345678901234"
    assert video.params["FEATURE"] == ["AUDIO", "VIDEO"]
    assert (str(phone), phone.params["FEATURE"]) == ("tel:+7-495-123-45-67", "PHONE")
    one = await scheduling.client.get(path_of(quest["invite_url"]))
    assert one.status_code == 200
    [only] = icalendar.Calendar.from_ical(one.content).walk("VEVENT")
    assert only["UID"] == f"{quest['id']}@telebridge"


async def test_a_series_with_one_occurrence_moved_and_one_cancelled(scheduling: Scheduling) -> None:
    lipetsk = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    series = await scheduling.telebridge(
        lipetsk,
        vladivostok,
        starts_at="2030-10-01T11:00:00+03:00",
        ends_at="2030-10-01T12:00:00+03:00",
        recurrence=SERIES,
    )
    assert series["recurrence"] == SERIES
    occurrences = series["sessions"]
    assert [s["starts_at"][:10] for s in occurrences] == [
        "2030-10-01",
        "2030-10-15",
        "2030-10-29",
        "2030-11-12",
    ]
    second, third = occurrences[1], occurrences[2]
    current = await scheduling.client.get(f"/meetings/{series['id']}")
    moved = body(
        await scheduling.client.put(
            f"/meetings/{series['id']}/sessions/{second['id']}",
            json={"starts_at": "2030-10-16T14:00:00+03:00", "ends_at": "2030-10-16T15:00:00+03:00"},
            headers={"If-Match": current.headers["etag"]},
        )
    )
    assert moved["sequence"] == 1
    cancelled = body(
        await scheduling.client.post(f"/meetings/{series['id']}/sessions/{third['id']}/cancel")
    )
    assert cancelled["version"] > moved["version"] > series["version"]
    assert [s["status"] for s in cancelled["sessions"]] == [
        "scheduled",
        "scheduled",
        "cancelled",
        "scheduled",
    ]

    invite = await scheduling.client.get(f"/meetings/{series['id']}/invite.ics")
    calendar = icalendar.Calendar.from_ical(invite.content)
    master, override = calendar.walk("VEVENT")
    assert master["UID"] == override["UID"] == f"{series['id']}@telebridge"
    assert master["RRULE"]["FREQ"] == ["WEEKLY"]
    assert override["RECURRENCE-ID"].dt == datetime(2030, 10, 15, 8, tzinfo=UTC)
    starts = [
        occurrence["DTSTART"].dt.astimezone(UTC)
        for occurrence in recurring_ical_events.of(calendar).between(
            date(2030, 9, 1), date(2031, 1, 1)
        )
    ]
    assert starts == [
        datetime(2030, 10, 1, 8, tzinfo=UTC),
        datetime(2030, 10, 16, 11, tzinfo=UTC),
        datetime(2030, 11, 12, 8, tzinfo=UTC),
    ]


async def test_a_session_that_is_not_there_or_a_move_backwards(scheduling: Scheduling) -> None:
    lipetsk = await scheduling.moscow()
    meeting = await scheduling.telebridge(lipetsk, await scheduling.vladivostok())
    [session] = meeting["sessions"]
    missing = "00000000-0000-4000-8000-000000000000"
    problem(
        await scheduling.client.post(f"/meetings/{meeting['id']}/sessions/{missing}/cancel"),
        404,
        "not-found",
    )
    path = f"/meetings/{meeting['id']}/sessions/{session['id']}"
    bad: dict[str, Any] = {
        "starts_at": "2030-10-01T12:00:00+03:00",
        "ends_at": "2030-10-01T11:00:00+03:00",
    }
    problem(await scheduling.client.put(path, json=bad), 422, "validation", field="ends_at")


async def test_every_change_raises_the_version(scheduling: Scheduling) -> None:
    lipetsk = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(lipetsk, vladivostok)
    current = await scheduling.client.get(f"/meetings/{meeting['id']}")
    room = telebridge(
        lipetsk,
        vladivostok,
        sites=[{"organization_id": str(vladivostok), "room": "Зал краеведения"}],
    )
    changed = body(
        await scheduling.client.put(
            f"/meetings/{meeting['id']}", json=room, headers={"If-Match": current.headers["etag"]}
        )
    )
    assert changed["version"] == meeting["version"] + 1
    # Vladivostok's attendees see their room in LOCATION: the invite changed for them.
    assert changed["sequence"] == meeting["sequence"] + 1
    stale = await scheduling.client.put(
        f"/meetings/{meeting['id']}", json=room, headers={"If-Match": current.headers["etag"]}
    )
    problem(stale, 412, "version-mismatch")
