"""The diff between two versions of an agenda follows items by key, then by title."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from services.agenda.agendas.diff import FieldChange, diff
from services.agenda.schemas import Material, ScheduledItem, Speaker

SESSION = UUID(int=1)
START = datetime(2020, 6, 9, 8, 0, tzinfo=UTC)


def scheduled(title: str, minute: int, **fields: object) -> ScheduledItem:
    values: dict[str, object] = {
        "title": title,
        "kind": "talk",
        "key": None,
        "starts_at": START + timedelta(minutes=minute),
        "ends_at": START + timedelta(minutes=minute + 15),
        "timezone": "Europe/Moscow",
        "session_id": SESSION,
        "track": None,
        "speakers": [],
        "materials": [],
    } | fields
    return ScheduledItem(**values)  # type: ignore[arg-type]


WELCOME = scheduled("Приветственное слово", 0, kind="welcome", key="welcome")
WEBSITE = scheduled("Web-сайт библиотеки", 10)
FLASHMOBS = scheduled("Сетевые акции и флешмобы", 25)
DIALOGUE = scheduled("Профессиональный диалог", 45, kind="discussion")


def test_identical_versions_have_no_difference() -> None:
    items = [WELCOME, WEBSITE]
    assert diff(items, list(items)).empty


def test_a_moved_renamed_and_added_item_and_a_removed_one() -> None:
    renamed = scheduled("Приветствие российским коллегам", 0, kind="welcome", key="welcome")
    moved = scheduled(
        "Web-сайт библиотеки",
        15,
        speakers=[Speaker(name="Алехина И. Л.", external=True)],
        materials=[Material(title="Презентация", url="https://drunb.example/site.pdf")],
    )
    longevity = scheduled("«Активное долголетие» — онлайн формат", 40)
    before = [WELCOME, WEBSITE, FLASHMOBS, DIALOGUE]
    after = [renamed, moved, longevity, DIALOGUE]

    found = diff(before, after)

    assert [item.title for item in found.added] == ["«Активное долголетие» — онлайн формат"]
    assert [item.title for item in found.removed] == ["Сетевые акции и флешмобы"]
    assert [(c.before.title, c.after.title) for c in found.changed] == [
        ("Приветственное слово", "Приветствие российским коллегам"),
        ("Web-сайт библиотеки", "Web-сайт библиотеки"),
    ]
    assert found.changed[0].changes == [
        FieldChange("title", "Приветственное слово", "Приветствие российским коллегам")
    ]
    assert [change.field for change in found.changed[1].changes] == [
        "starts_at",
        "ends_at",
        "speakers",
        "materials",
    ]
    assert found.changed[1].changes[0] == FieldChange(
        "starts_at", "2020-06-09T08:10:00Z", "2020-06-09T08:15:00Z"
    )


def test_items_of_the_same_title_pair_in_order_of_time() -> None:
    morning = scheduled("Перерыв", 30, kind="break")
    afternoon = scheduled("Перерыв", 120, kind="break")
    later = scheduled("Перерыв", 130, kind="break")
    found = diff([morning, afternoon], [morning, later])
    assert found.added == found.removed == []
    [change] = found.changed
    assert (change.before, change.after) == (afternoon, later)


def test_different_keys_are_different_items_even_with_one_title() -> None:
    old = scheduled("Площадка 1", 0, key="site-1")
    new = scheduled("Площадка 1", 0, key="site-1-repeat")
    found = diff([old], [new])
    assert (found.removed, found.added, found.changed) == ([old], [new], [])
