"""agenda.ics and agenda.xml across publications, as a calendar that imported or subscribed
to the agenda sees them: UIDs that stay with their items, a SEQUENCE that rises with each
published change of an item, a DTSTAMP that is the publication (stored, never in the
future), and frab person ids that stand for one person each in every meeting."""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime
from typing import Any
from uuid import UUID

from icalendar import Calendar

from shared.events import utc_now
from tests.events import applied, signed_up
from tests.frab_schedule import check_schedule, person_ids
from tests.integration.agenda.support import (
    ITEMS,
    MOSCOW,
    Agenda,
    known,
    moscow_with_vladivostok,
)
from tests.integration.api import body, problem, publish

OPENING, TOUR, CLOSING = "opening", "tour", "closing"


def by_item(calendar: bytes) -> dict[str, tuple[str, int]]:
    """Each event's UID and SEQUENCE, by which item it is (its key, or what it is)."""
    found = {}
    for event in Calendar.from_ical(calendar).walk("VEVENT"):
        title = str(event["SUMMARY"])
        which = OPENING if "Открытие" in title else TOUR if "экскурсия" in title else CLOSING
        found[which] = (str(event["UID"]), int(event.get("SEQUENCE", 0)))
    return found


def stamps(calendar: bytes) -> set[datetime]:
    """The events' DTSTAMPs, each of which must be in UTC, as RFC 5545 has it."""
    events = Calendar.from_ical(calendar).walk("VEVENT")
    assert all(event["DTSTAMP"].to_ical().endswith(b"Z") for event in events)
    return {event["DTSTAMP"].dt for event in events}


async def published_at(agenda: Agenda, meeting_id: UUID) -> datetime:
    """When the published version was published, to the second (as ICS gives times)."""
    at: datetime = await agenda.database.fetchval(
        "SELECT published_at FROM agenda.agendas WHERE meeting_id = $1", meeting_id
    )
    return at.replace(microsecond=0)


def edited(**changes: dict[str, Any] | None) -> list[dict[str, Any]]:
    """ITEMS with some items changed (by what they are) or left out (None)."""
    which = {OPENING: 1, TOUR: 2, CLOSING: 0}
    items = deepcopy(ITEMS)
    for name, change in changes.items():
        if change is not None:
            items[which[name]] |= change
    return [
        item
        for name, item in zip([CLOSING, OPENING, TOUR], items, strict=True)
        if changes.get(name, {}) is not None
    ]


async def test_calendars_see_each_published_change_of_an_item_and_only_that(
    agenda: Agenda,
) -> None:
    meeting_id = await known(agenda)
    path = f"/meetings/{meeting_id}/agenda"
    ics = f"/meetings/{meeting_id}/agenda.ics"

    body(await agenda.put(meeting_id, ITEMS))
    first = (await agenda.client.get(ics)).content
    assert (await agenda.client.get(ics)).content == first  # the same publication, the same bytes
    v1 = by_item(first)
    assert {sequence for _, sequence in v1.values()} == {0}
    [stamp] = stamps(first)
    assert stamp == await published_at(agenda, meeting_id)
    assert stamp <= utc_now()

    # Version 2: the opening renamed (its key follows it), the tour 15 minutes later.
    renamed = {"title": "Открытие телемоста «От сердца к сердцу»"}
    later = {"at": "2030-10-01T18:30"}
    v2_items = edited(opening=renamed, tour=later)
    body(await agenda.put(meeting_id, v2_items, headers={"If-Match": '"1"'}))
    second = (await agenda.client.get(ics)).content
    v2 = by_item(second)
    assert {name: uid for name, (uid, _) in v2.items()} == {n: u for n, (u, _) in v1.items()}
    assert {name: sequence for name, (_, sequence) in v2.items()} == {
        OPENING: 1,
        TOUR: 1,
        CLOSING: 0,
    }
    [stamp2] = stamps(second)
    assert stamp2 == await published_at(agenda, meeting_id)
    assert stamp <= stamp2 <= utc_now()

    # Withdrawn, then published without the tour, then with it back where it was first.
    assert (await agenda.client.post(f"{path}/unpublish")).status_code == 204
    problem(await agenda.client.get(ics), 404, "no-agenda")
    body(
        await agenda.put(
            meeting_id, edited(opening=renamed, tour=None), headers={"If-Match": '"2"'}
        )
    )
    assert set(by_item((await agenda.client.get(ics)).content)) == {OPENING, CLOSING}
    body(await agenda.put(meeting_id, edited(opening=renamed), headers={"If-Match": '"3"'}))
    v4 = by_item((await agenda.client.get(ics)).content)
    assert v4[TOUR] == (v1[TOUR][0], 2)  # its UID back; moved again since calendars saw it
    assert v4[OPENING] == v2[OPENING]

    # Version 1 published again: the opening's old title is a change too.
    body(await agenda.client.post(f"{path}/versions/1/publish"))
    again = by_item((await agenda.client.get(ics)).content)
    assert again == {OPENING: (v1[OPENING][0], 2), TOUR: v4[TOUR], CLOSING: v1[CLOSING]}


async def test_an_agenda_published_before_identities_were_kept_goes_on_with_its_uids(
    agenda: Agenda,
) -> None:
    meeting_id = await known(agenda)
    ics = f"/meetings/{meeting_id}/agenda.ics"
    body(await agenda.put(meeting_id, ITEMS))
    before = by_item((await agenda.client.get(ics)).content)
    # As migration 0004 left an agenda published before it: no identities kept.
    await agenda.database.execute(
        "DELETE FROM agenda.agenda_published_items WHERE meeting_id = $1", meeting_id
    )
    assert by_item((await agenda.client.get(ics)).content) == before

    later = {"at": "2030-10-01T18:30"}
    body(await agenda.put(meeting_id, edited(tour=later), headers={"If-Match": '"1"'}))
    after = by_item((await agenda.client.get(ics)).content)
    assert after == before | {TOUR: (before[TOUR][0], 1)}


async def test_frab_people_are_numbered_once_for_every_meeting(agenda: Agenda) -> None:
    first = await known(agenda)
    second = await known(agenda)
    person, registration = signed_up(
        moscow_with_vladivostok().aggregate_id,
        MOSCOW.aggregate_id,
        "Светлана Умеренко",
        "u@example.org",
    )
    await publish(agenda.js, person, registration)
    await applied(agenda.database, "agenda", person)
    kim = {"name": "Анна Ким", "organization": "ПКПБ", "external": True}
    guest = {"name": "Анна Ким", "organization": "Гость из Уссурийска", "external": True}
    registered = {"person_id": str(person.aggregate_id)}
    body(await agenda.put(first, edited(closing={"speakers": [registered, kim]})))
    body(await agenda.put(second, edited(tour={"speakers": [guest, kim]}, closing=None)))

    schedules = [
        check_schedule((await agenda.client.get(f"/meetings/{m}/agenda.xml")).content)
        for m in (first, second)
    ]
    ids = [person_ids(schedule) for schedule in schedules]
    assert ids[0]["Анна Ким (ПКПБ)"] == ids[1]["Анна Ким (ПКПБ)"]
    [kim_id] = ids[0]["Анна Ким (ПКПБ)"]
    [guest_id] = ids[1]["Анна Ким (Гость из Уссурийска)"]
    [registered_id] = ids[0][f"Светлана Умеренко ({MOSCOW.name})"]
    assert len({kim_id, guest_id, registered_id}) == 3
    umerenko = next(p for p in schedules[0].iter("person") if p.get("id") == registered_id)
    assert umerenko.get("guid") == str(person.aggregate_id)


async def test_an_agenda_without_items_is_a_valid_schedule(agenda: Agenda) -> None:
    meeting_id = await known(agenda)
    body(await agenda.put(meeting_id, []))
    schedule = check_schedule(
        (await agenda.client.get(f"/meetings/{meeting_id}/agenda.xml")).content
    )
    assert [day.get("date") for day in schedule.findall("day")] == ["2030-10-01"]
    calendar = Calendar.from_ical(
        (await agenda.client.get(f"/meetings/{meeting_id}/agenda.ics")).content
    )
    assert calendar.walk("VEVENT") == []
