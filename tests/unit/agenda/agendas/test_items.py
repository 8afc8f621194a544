"""Agenda items resolved against their meeting: local times of named zones and offsets
become instants; items outside their session, overlapping on a track, at times a zone
skips or repeats, or with unknown speakers are refused, each naming its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import pytest

from services.agenda.agendas.items import (
    InvalidAgendaError,
    MeetingFrame,
    Person,
    schedule,
)
from services.agenda.schemas import ItemWrite, Speaker
from tests.events import session

DAY_ONE = session(
    UUID(int=1), datetime(2030, 10, 1, 7, tzinfo=UTC), datetime(2030, 10, 1, 15, tzinfo=UTC)
)
DAY_TWO = session(
    UUID(int=2), datetime(2030, 10, 2, 7, tzinfo=UTC), datetime(2030, 10, 2, 15, tzinfo=UTC)
)
UMERENKO = UUID(int=100)
WORKSHOP = MeetingFrame(
    timezone="Europe/Moscow",
    sessions=[DAY_ONE, DAY_TWO],
    tracks=frozenset({"Площадка 1", "Площадка 2"}),
    people={
        UMERENKO: Person("Умеренко Светлана Вячеславовна", "Управление культуры г. Георгиевска")
    },
)


def item(**fields: Any) -> ItemWrite:
    """An item as the API or a YAML file gives it, decoded the way the API decodes it."""
    data = {"title": "Открытие", "duration": "PT30M"} | fields
    return msgspec.convert(data, ItemWrite)


def problems(items: list[ItemWrite], frame: MeetingFrame = WORKSHOP) -> list[tuple[str, str]]:
    with pytest.raises(InvalidAgendaError) as raised:
        schedule(items, frame)
    return [(error.field or "", error.message) for error in raised.value.errors]


def test_local_times_of_named_zones_and_offsets_become_instants() -> None:
    scheduled = schedule(
        [
            item(title="Квест", at="2030-10-01T17:30", timezone="Asia/Vladivostok"),
            item(title="Открытие", at="2030-10-01T10:00"),
            item(title="Итоги дня", offset="PT7H", session_id=str(DAY_ONE.id)),
            item(title="Второй день", at="2030-10-02T10:00:00+03:00", kind="welcome"),
        ],
        WORKSHOP,
    )
    assert [(i.title, i.starts_at, i.timezone) for i in scheduled] == [
        ("Открытие", datetime(2030, 10, 1, 7, tzinfo=UTC), "Europe/Moscow"),
        ("Квест", datetime(2030, 10, 1, 7, 30, tzinfo=UTC), "Asia/Vladivostok"),
        ("Итоги дня", datetime(2030, 10, 1, 14, tzinfo=UTC), "Europe/Moscow"),
        ("Второй день", datetime(2030, 10, 2, 7, tzinfo=UTC), "Europe/Moscow"),
    ]
    by_title = {i.title: i for i in scheduled}
    assert by_title["Открытие"].ends_at == datetime(2030, 10, 1, 7, 30, tzinfo=UTC)
    assert by_title["Итоги дня"].session_id == DAY_ONE.id
    assert by_title["Второй день"].session_id == DAY_TWO.id
    assert by_title["Второй день"].kind == "welcome"


def test_items_come_back_in_order_of_time() -> None:
    scheduled = schedule(
        [item(title="Позже", at="2030-10-01T11:00"), item(title="Раньше", at="2030-10-01T10:00")],
        WORKSHOP,
    )
    assert [i.title for i in scheduled] == ["Раньше", "Позже"]


def test_an_item_outside_its_session_or_every_session_is_refused() -> None:
    assert problems(
        [
            item(at="2030-10-01T17:45"),  # 14:45–15:15 UTC: runs past the end of day one
            item(at="2030-10-01T20:00"),
            item(offset="PT8H", session_id=str(DAY_TWO.id)),
        ]
    ) == [
        (
            "items[0].at",
            "2030-10-01 17:45–18:15 Europe/Moscow is not inside its session "
            "(2030-10-01 10:00–18:00 Europe/Moscow)",
        ),
        (
            "items[1].at",
            "2030-10-01 20:00 Europe/Moscow is outside every session: "
            "2030-10-01 10:00–18:00 Europe/Moscow, 2030-10-02 10:00–18:00 Europe/Moscow",
        ),
        (
            "items[2].offset",
            "2030-10-02 18:00–18:30 Europe/Moscow is not inside its session "
            "(2030-10-02 10:00–18:00 Europe/Moscow)",
        ),
    ]


def test_items_may_not_overlap_on_one_track_or_with_an_item_for_every_track() -> None:
    fine = [
        item(title="Квест, площадка 1", at="2030-10-01T11:00", duration="PT1H", track="Площадка 1"),
        item(title="Квест, площадка 2", at="2030-10-01T11:00", duration="PT1H", track="Площадка 2"),
    ]
    assert len(schedule(fine, WORKSHOP)) == 2
    assert problems(
        [
            *fine,
            item(title="Мастер-класс", at="2030-10-01T11:30", track="Площадка 2"),
            item(title="Общий перерыв", at="2030-10-01T11:45", kind="break"),
        ]
    ) == [
        (
            "items[2].at",
            "overlaps items[1] «Квест, площадка 2» (2030-10-01 11:00–12:00 Europe/Moscow) "
            "on track 'Площадка 2'",
        ),
        (
            "items[3].at",
            "overlaps items[0] «Квест, площадка 1» (2030-10-01 11:00–12:00 Europe/Moscow)",
        ),
    ]


def test_an_item_ending_when_the_next_starts_does_not_overlap() -> None:
    items = [item(at="2030-10-01T10:00"), item(title="Доклад", at="2030-10-01T10:30")]
    assert [i.title for i in schedule(items, WORKSHOP)] == ["Открытие", "Доклад"]


def test_a_time_the_zone_skips_or_repeats_is_refused() -> None:
    berlin = MeetingFrame(
        timezone="Europe/Berlin",
        sessions=[
            session(
                UUID(int=3),
                datetime(2030, 3, 30, 22, tzinfo=UTC),
                datetime(2030, 10, 27, 3, tzinfo=UTC),
            )
        ],
    )
    assert problems([item(at="2030-03-31T02:30"), item(at="2030-10-27T02:30")], berlin) == [
        ("items[0].at", "2030-03-31 02:30 does not exist in Europe/Berlin: the clocks skip it"),
        (
            "items[1].at",
            "2030-10-27 02:30 happens twice in Europe/Berlin: write it with its UTC offset, "
            "2030-10-27T02:30+02:00 or 2030-10-27T02:30+01:00",
        ),
    ]
    [repeated] = schedule([item(at="2030-10-27T02:30+01:00")], berlin)
    assert repeated.starts_at == datetime(2030, 10, 27, 1, 30, tzinfo=UTC)


def test_speakers_are_registered_people_or_marked_external() -> None:
    [scheduled] = schedule(
        [
            item(
                at="2030-10-01T10:00",
                speakers=[
                    {"person_id": str(UMERENKO)},
                    {"name": "Алехина И. Л.", "organization": "ДРУНБ", "external": True},
                    {"organization": "Липецкая областная детская библиотека", "external": True},
                ],
            )
        ],
        WORKSHOP,
    )
    assert scheduled.speakers == [
        Speaker(
            person_id=UMERENKO,
            name="Умеренко Светлана Вячеславовна",
            organization="Управление культуры г. Георгиевска",
        ),
        Speaker(name="Алехина И. Л.", organization="ДРУНБ", external=True),
        Speaker(organization="Липецкая областная детская библиотека", external=True),
    ]
    unknown = UUID(int=404)
    assert problems(
        [
            item(
                at="2030-10-01T10:00",
                speakers=[
                    {"person_id": str(unknown)},
                    {"name": "Чоботова В. Г."},
                    {"external": True},
                ],
            )
        ]
    ) == [
        (
            "items[0].speakers[0].person_id",
            f"{unknown} is not a registered person; for someone from outside give `name`, "
            "`organization` and `external: true`",
        ),
        (
            "items[0].speakers[1].external",
            "Чоботова В. Г. is not registered: give their `person_id`, or mark them "
            "`external: true`",
        ),
        ("items[0].speakers[2].name", "an external speaker needs a name or an organization"),
    ]


def test_every_field_that_is_wrong_is_named_at_once() -> None:
    assert problems(
        [
            item(title="Ни то ни другое"),
            item(title="И то и другое", at="2030-10-01T10:00", offset="PT0S"),
            item(title="Без сессии", offset="PT1H"),
            item(title="Чужая сессия", offset="PT1H", session_id=str(UUID(int=9))),
            item(title="Ноль", at="2030-10-01T10:00", duration="PT0S"),
            item(title="Где-то", at="2030-10-01T10:00", timezone="Europe/Atlantis"),
            item(title="Не та площадка", at="2030-10-01T12:00", track="Площадка 9"),
            item(title="Тринадцатый месяц", at="2030-13-01T10:00"),
            item(title="Вечность", at="2030-10-01T10:00", duration="P999999999D"),
            item(title="Минус вечность", at="2030-10-01T10:00", duration="-P999999999D"),
            item(title="Через вечность", offset="P999999999D", session_id=str(DAY_ONE.id)),
            item(title="Конец времён", at="9999-12-31T23:59"),
            item(title="Начало времён", at="0001-01-01T00:00+03:00"),
            item(title="Длинный пояс", at="2030-10-01T10:00", timezone="𝔸" * 64),
            item(title="Не пояс", at="2030-10-01T10:00", timezone="localtime"),
        ]
    ) == [
        ("items[0].at", "give either `at` (a local time) or `offset` (from the session start)"),
        ("items[1].at", "give either `at` (a local time) or `offset` (from the session start)"),
        ("items[2].session_id", "the meeting has several sessions: name the item's"),
        ("items[3].session_id", f"{UUID(int=9)} is not a session of the meeting"),
        ("items[4].duration", "must be longer than zero, such as PT15M"),
        ("items[5].timezone", "'Europe/Atlantis' is not an IANA time zone such as Europe/Moscow"),
        (
            "items[6].track",
            "'Площадка 9' is not a track of the meeting: Площадка 1, Площадка 2",
        ),
        ("items[7].at", "'2030-13-01T10:00' is not a date and time such as 2020-10-01T10:00"),
        ("items[8].duration", "must be at most 366 days"),
        ("items[9].duration", "must be longer than zero, such as PT15M"),
        ("items[10].offset", "must be at most 366 days"),
        ("items[11].at", "9999-12-31T23:59:00+00:00 is not between 1900 and 2200"),
        ("items[12].at", "0001-01-01T00:00:00+00:00 is not between 1900 and 2200"),
        ("items[13].timezone", f"{'𝔸' * 64!r} is not an IANA time zone such as Europe/Moscow"),
        ("items[14].timezone", "'localtime' is not an IANA time zone such as Europe/Moscow"),
    ]


def test_a_meeting_of_one_session_needs_no_session_named() -> None:
    telebridge = MeetingFrame(timezone="Europe/Moscow", sessions=[DAY_ONE])
    [scheduled] = schedule([item(offset="PT1H10M", duration="PT20M")], telebridge)
    assert scheduled.starts_at == DAY_ONE.starts_at + timedelta(hours=1, minutes=10)
    assert scheduled.session_id == DAY_ONE.id


def test_materials_link_only_to_web_and_mail_addresses() -> None:
    links = [
        {"title": "Задания", "url": "https://lodb.example/q"},
        {"title": "Почта", "url": "mailto:lodb@example.org"},
        {"title": "Скрипт", "url": "javascript:alert(1)"},
    ]
    found = problems([item(at="2030-10-01T11:00", materials=links)])
    refused = "'javascript:alert(1)' is not an http, https or mailto address"
    assert found == [("items[0].materials[2].url", refused)]
