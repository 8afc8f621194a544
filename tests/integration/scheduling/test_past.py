"""Times that have passed: refused unless an operator records a past meeting, and never
offered by slot search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.calendars import public_holidays
from tests.events import instant
from tests.integration.api import body, problem
from tests.integration.scheduling.support import Scheduling, telebridge
from tests.support import eventually


def _times(starts: datetime, hours: int = 1) -> dict[str, str]:
    return {
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=hours)).isoformat(),
    }


def _soon() -> datetime:
    """Three days ahead at 06:00 UTC: working hours in Moscow and in Vladivostok alike, at
    whatever time of day the test runs."""
    day = (datetime.now(UTC) + timedelta(days=3)).replace(hour=6, minute=0, second=0, microsecond=0)
    while day.date() in public_holidays("RU", None, None, day.year):
        day += timedelta(days=1)  # the New Year holidays block every Russian site
    return day


async def test_a_meeting_in_the_past_is_a_422_naming_the_field(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    now = datetime.now(UTC)
    for starts in (now - timedelta(days=3650), now - timedelta(minutes=1)):
        for draft in (False, True):
            request = telebridge(moscow, vladivostok, **_times(starts), force=True, draft=draft)
            response = await scheduling.client.post("/meetings", json=request)
            problem(response, 422, "in-the-past", field="starts_at")
    sessions = [_times(_soon()), _times(now - timedelta(hours=2))]
    request = telebridge(moscow, vladivostok, force=True, sessions=sessions)
    del request["starts_at"], request["ends_at"]
    response = await scheduling.client.post("/meetings", json=request)
    problem(response, 422, "in-the-past", field="sessions[1].starts_at")
    # A series whose first occurrence has passed, though later ones have not.
    series = telebridge(
        moscow,
        vladivostok,
        **_times(now - timedelta(days=7)),
        recurrence="FREQ=WEEKLY;COUNT=4",
        force=True,
    )
    problem(await scheduling.client.post("/meetings", json=series), 422, "in-the-past")


async def test_only_operators_record_a_past_meeting_and_it_ends_at_once(
    scheduling: Scheduling,
) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    past = telebridge(
        moscow,
        vladivostok,
        **_times(datetime(2023, 8, 25, 8, tzinfo=UTC), hours=2),
        force=True,
        record_past=True,
    )
    partner = await scheduling.partner_key(moscow)
    without_force = past | {"force": False}
    response = await scheduling.client.post("/meetings", json=without_force, headers=partner)
    problem(response, 403, "forbidden")
    meeting = body(await scheduling.client.post("/meetings", json=past), 201)

    async def ended() -> Any:
        found = body(await scheduling.client.get(f"/meetings/{meeting['id']}"))
        return found if found["status"] == "ended" else None

    found = await eventually(ended)
    assert instant(found["ended_at"]) == datetime(2023, 8, 25, 10, tzinfo=UTC)


async def test_a_session_is_not_moved_into_the_past(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    meeting = await scheduling.telebridge(moscow, vladivostok, **_times(_soon()))
    [session] = meeting["sessions"]
    path = f"/meetings/{meeting['id']}/sessions/{session['id']}"
    moved = _times(datetime.now(UTC) - timedelta(days=1))
    response = await scheduling.client.put(path, json=moved, headers={"If-Match": '"1"'})
    problem(response, 422, "in-the-past", field="starts_at")
    update = telebridge(moscow, vladivostok, **moved)
    response = await scheduling.client.put(
        f"/meetings/{meeting['id']}", json=update, headers={"If-Match": '"1"'}
    )
    problem(response, 422, "in-the-past", field="starts_at")


async def test_a_draft_whose_time_has_passed_is_not_scheduled(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    draft = await scheduling.telebridge(moscow, vladivostok, **_times(_soon()), draft=True)
    # Time passes for the draft: its session now lies a day in the past.
    await scheduling.database.execute(
        "UPDATE scheduling.meeting_sessions SET starts_at = starts_at - interval '5 days', "
        "ends_at = ends_at - interval '5 days' WHERE meeting_id = $1",
        draft["id"],
    )
    path = f"/meetings/{draft['id']}/schedule"
    response = await scheduling.client.post(path, json={"force": True})
    problem(response, 422, "in-the-past", field="sessions[0].starts_at")
    body(await scheduling.client.post(path, json={"force": True, "record_past": True}))


async def test_slot_search_offers_only_slots_after_now(scheduling: Scheduling) -> None:
    moscow = await scheduling.moscow()
    vladivostok = await scheduling.vladivostok()
    now = datetime.now(UTC)
    search = {
        "organization_ids": [str(moscow), str(vladivostok)],
        "duration_minutes": 30,
        "granularity_minutes": 15,
        "limit": 50,
    }
    spanning = search | {
        "window_start": (now - timedelta(days=2)).isoformat(),
        "window_end": (now + timedelta(days=2)).isoformat(),
    }
    found = body(await scheduling.client.post("/slots", json=spanning))
    assert found["candidates"]
    assert all(instant(c["starts_at"]) > now for c in found["candidates"])
    past = search | {
        "window_start": (now - timedelta(days=9)).isoformat(),
        "window_end": (now - timedelta(days=2)).isoformat(),
    }
    response = await scheduling.client.post("/slots", json=past)
    problem(response, 422, "in-the-past", field="window_end")
