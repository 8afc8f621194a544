"""agenda.ics and agenda.xml as calendars and conference apps read them: an ICS whose
DTSTAMP is the publication and whose SEQUENCE and UID are the items' own, and a frab
schedule valid against the frab XSD for any agenda: the repository's examples, and agendas
made up to find the edges (no speakers, external speakers, many days, Cyrillic)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from services.agenda.agendas.identities import Identity, speaker_key
from services.agenda.agendas.items import MeetingFrame, schedule
from services.agenda.agendas.renderings import Programme, render_frab, render_ics
from services.agenda.schemas import Material, ScheduledItem, Speaker
from telebridge.agenda_file import parse_agenda_file
from tests.events import session
from tests.frab_schedule import SCHEMA_PATH, check_schedule, person_ids, requires_schema
from tests.unit.agenda.agendas.test_renderings import START, WORKSHOP, item, programme

EXAMPLES = sorted((Path(__file__).parents[4] / "examples" / "agendas").glob("*.yaml"))
HOST = ZoneInfo("Europe/Moscow")


# --- ICS ------------------------------------------------------------------------------------


def test_every_event_is_stamped_with_the_publication_in_utc() -> None:
    published_at = datetime(2020, 9, 25, 15, 0, tzinfo=ZoneInfo("Asia/Vladivostok"))
    events = Calendar.from_ical(render_ics(replace(WORKSHOP, published_at=published_at)))
    stamps = {event["DTSTAMP"].to_ical() for event in events.walk("VEVENT")}
    assert stamps == {b"20200925T050000Z"}  # written then, not when an item starts


def test_each_event_carries_its_items_uid_and_sequence() -> None:
    changed = [
        Identity(UUID(int=100 + n), number=n + 1, sequence=n) for n in range(len(WORKSHOP.items))
    ]
    events = Calendar.from_ical(render_ics(replace(WORKSHOP, identities=changed))).walk("VEVENT")
    assert [str(event["UID"]) for event in events] == [
        f"{identity.uid}@telebridge-agenda" for identity in changed
    ]
    assert [int(event["SEQUENCE"]) for event in events] == [0, 1, 2]


def test_one_publication_gives_the_same_bytes_every_time() -> None:
    assert render_ics(WORKSHOP) == render_ics(WORKSHOP)
    assert render_frab(WORKSHOP) == render_frab(WORKSHOP)


# --- frab: the rules apps depend on -----------------------------------------------------------


def test_people_are_numbered_as_people_and_registered_ones_carry_their_uuid() -> None:
    registered = Speaker(person_id=UUID(int=5), name="Ким Анна", organization="ПКПБ")
    external = Speaker(name="Умеренко Светлана Вячеславовна", organization="УКиТ", external=True)
    other = Speaker(name="Алехина И. Л.", external=True)
    items = [
        item(0, "Открытие", speakers=[registered, external]),
        item(60, "Доклад", speakers=[external, other]),
        item(120, "Обсуждение", speakers=[other, registered]),
    ]
    numbers = {speaker_key(registered): 7, speaker_key(external): 12, speaker_key(other): 13}
    schedule_ = check_schedule(render_frab(programme(items, speaker_numbers=numbers)))
    assert person_ids(schedule_) == {
        "Ким Анна (ПКПБ)": {"7"},
        "Умеренко Светлана Вячеславовна (УКиТ)": {"12"},
        "Алехина И. Л.": {"13"},
    }
    guids = {person.text: person.get("guid") for person in schedule_.iter("person")}
    assert guids["Ким Анна (ПКПБ)"] == str(UUID(int=5))
    assert guids["Алехина И. Л."] is None  # no UUID of theirs to give


def test_events_are_known_by_their_items_number_and_uid() -> None:
    events = check_schedule(render_frab(WORKSHOP)).findall("day/room/event")
    assert sorted((e.get("id"), e.get("guid")) for e in events) == sorted(
        (str(identity.number), str(identity.uid)) for identity in WORKSHOP.identities
    )


def test_an_agenda_without_items_is_the_meetings_first_day_empty() -> None:
    empty = check_schedule(render_frab(programme([])))
    [day] = empty.findall("day")
    assert (day.get("index"), day.get("date"), day.get("start")) == (
        "1",
        "2020-10-01",
        "2020-10-01T10:00:00+03:00",
    )
    assert day.findall("room") == []


def test_an_item_longer_than_the_format_can_say_lasts_as_long_as_it_can() -> None:
    week = item(0, "Квест", length=7 * 24 * 60, kind="quest-task")
    [event] = check_schedule(render_frab(programme([week]))).iter("event")
    assert event.findtext("duration") == "99:59"


@requires_schema
def test_the_frab_xsd_is_at_hand_and_refuses_what_apps_cannot_read() -> None:
    from tests.frab_schedule import schema_errors

    assert SCHEMA_PATH is not None
    assert schema_errors(render_frab(WORKSHOP)) == []
    # What agenda.xml gave before: person ids by position, which the XSD takes, and UUIDs,
    # which it does not.
    valid = render_frab(WORKSHOP)
    broken = valid.replace(b'<person id="41">', f'<person id="{UUID(int=5)}">'.encode())
    assert broken != valid
    assert schema_errors(broken)


# --- frab: every agenda the repository has, and any other -----------------------------------


def frame_for(items_start: datetime, items_end: datetime, **fields: object) -> MeetingFrame:
    """A meeting around the items: one session from the first item's day to the last's."""
    whole_span = session(
        UUID(int=1),
        items_start.replace(hour=0, minute=0),
        items_end.replace(hour=0, minute=0) + timedelta(days=1),
    )
    return MeetingFrame(timezone="Europe/Moscow", sessions=[whole_span], **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_agenda_exports_a_valid_schedule(path: Path) -> None:
    written = parse_agenda_file(path.read_text(encoding="utf-8")).agenda.items
    starts = [datetime.fromisoformat(w.at or "").replace(tzinfo=HOST) for w in written]
    items = schedule(written, frame_for(min(starts), max(starts)))
    numbers = {
        speaker_key(s): number
        for number, s in enumerate((s for i in items for s in i.speakers), start=1)
    }
    found = programme(items, meeting_id=uuid5(UUID(int=0), path.stem), speaker_numbers=numbers)
    for language in ("ru", "en"):
        check_schedule(render_frab(found, language))


# Any one-line text the API takes (no control characters), with the characters XML is
# fussy about drawn more often.
TEXT = st.text(
    st.characters(blacklist_categories=["Cc", "Cs"]) | st.sampled_from("\ufffe\uffff&<>\"'«»"),
    min_size=1,
    max_size=40,
)
TRACKS = st.sampled_from([None, "Площадка 1", "Площадка 2: «Книги»", "Track & <field>"])


@st.composite
def programmes(draw: st.DrawFn) -> Programme:
    registered = [
        Speaker(person_id=UUID(int=n), name=draw(TEXT), organization=draw(st.none() | TEXT))
        for n in range(1, 4)
    ]
    external = [
        Speaker(name=draw(st.none() | TEXT), organization=draw(TEXT), external=True)
        for _ in range(3)
    ]
    speakers = st.lists(st.sampled_from(registered + external), max_size=3)
    items: list[ScheduledItem] = []
    moment = START + timedelta(minutes=draw(st.integers(-24 * 60, 24 * 60)))
    for _ in range(draw(st.integers(0, 12))):
        moment += timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
        length = timedelta(minutes=draw(st.integers(1, 6 * 24 * 60)))
        items.append(
            ScheduledItem(
                title=draw(TEXT),
                kind=draw(st.sampled_from(["talk", "break", "quest-task", "opening"])),
                key=draw(st.none() | st.sampled_from(["opening", "Открытие", "site 1", "x"])),
                starts_at=moment,
                ends_at=moment + length,
                timezone="Europe/Moscow",
                session_id=UUID(int=1),
                track=draw(TRACKS),
                speakers=draw(speakers),
                materials=draw(
                    st.lists(
                        st.builds(Material, title=TEXT, url=st.just("https://a.example/?a=1&b=2")),
                        max_size=2,
                    )
                ),
            )
        )
        moment += length
    people = {speaker_key(s) for s in registered + external}
    return programme(
        items,
        meeting_id=UUID(int=draw(st.integers(1, 2**64))),
        title=draw(TEXT),
        timezone=draw(st.sampled_from(["Europe/Moscow", "Asia/Vladivostok", "Europe/Kaliningrad"])),
        speaker_numbers={key: number for number, key in enumerate(sorted(people, key=str), 1)},
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programmes(), st.sampled_from(["ru", "en"]))
def test_any_agenda_exports_a_valid_schedule(found: Programme, language: str) -> None:
    check_schedule(render_frab(found, language))  # type: ignore[arg-type]
